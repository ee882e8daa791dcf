using System.CommandLine;
using Depot.Cli.Configuration;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Queue;

/// <summary><c>depot queue add|list|run|rm|clear</c>: the durable upload queue (the SDK's <see cref="UploadQueue"/>),
/// a local SQLite file that records what to upload where, so that uploads survive outages, crashes and restarts.</summary>
internal static class QueueCommand
{
    /// <summary>The queue file every subcommand works on.</summary>
    public static readonly Option<string?> QueueFile = new("--queue")
    {
        Description = "The queue database (default: queue.db in $DEPOT_STATE_DIR, else in the client state directory, ~/.local/share/depot).",
        Recursive = true,
        HelpName = "FILE",
    };

    public static Command Create()
    {
        var command = new Command("queue", "Queue files for upload and upload them when the server can be reached (survives restarts).")
        {
            QueueFile,
            QueueAddCommand.Create(),
            QueueListCommand.Create(),
            QueueRunCommand.Create(),
            QueueRemoveCommand.CreateRemove(),
            QueueRemoveCommand.CreateClear(),
            QueueRemoveCommand.CreateRetry(),
        };
        command.WithGlobalOptions();
        return command;
    }

    /// <summary>The queue file of this invocation: --queue, else queue.db in the state directory.</summary>
    public static string PathOf(CliContext context) =>
        context.Parse.GetValue(QueueFile) is { Length: > 0 } path
            ? path
            : Path.Combine(Environment.GetEnvironmentVariable("DEPOT_STATE_DIR") is { Length: > 0 } state ? state : DepotClientOptions.DefaultStateDirectory, "queue.db");

    /// <summary>Opens the queue. Only <c>run</c> uploads; the other subcommands touch nothing but the local file, so
    /// they get a client that is never used (the queue wants one) and work without a server, key or valid profile.</summary>
    public static async Task<OpenQueue> OpenAsync(CliContext context, bool uploads, UploadQueueOptions? options = null)
    {
        var path = PathOf(context);
        DepotClient? unused = null;
        var client = uploads ? context.Client : unused = new DepotClient(new DepotClientOptions { Servers = { new Uri(ConnectionSettings.DefaultUrl) }, StateDirectory = null });
        try
        {
            return new OpenQueue(await UploadQueue.OpenAsync(path, client, options, context.Cancellation), unused);
        }
        catch
        {
            unused?.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="work"/> for each item. A failing item is reported (<c>depot queue CMD: ITEM:
    /// message</c>) and the others go on; exit 9 then. With one item its error propagates, for its own exit code.</summary>
    public static async Task<int> ForEachAsync<T>(CliContext context, Command command, IReadOnlyList<T> items, Func<T, string> subject, Func<T, Task> work)
    {
        var failed = 0;
        foreach (var item in items)
        {
            context.Subject = subject(item);
            try
            {
                await work(item);
            }
            catch (Exception e) when (items.Count > 1 && e is not OperationCanceledException)
            {
                CliAction.Report(command, context, e);
                failed++;
            }
        }

        context.Subject = null;
        return failed == 0 ? ExitCodes.Ok : ExitCodes.Partial;
    }
}

/// <summary>An open queue, with the placeholder client it may own.</summary>
internal sealed class OpenQueue(UploadQueue queue, DepotClient? ownedClient) : IAsyncDisposable
{
    public UploadQueue Queue { get; } = queue;

    public async ValueTask DisposeAsync()
    {
        await Queue.DisposeAsync();
        if (ownedClient is not null)
        {
            await ownedClient.DisposeAsync();
        }
    }
}

/// <summary>A queue item as <c>--json</c> prints it.</summary>
internal sealed record QueueItemJson(
    long Id,
    string State,
    string LocalPath,
    string Destination,
    bool Snapshot,
    long Size,
    long BytesUploaded,
    double Progress,
    int Attempts,
    QueueErrorJson? LastError,
    DateTimeOffset Enqueued,
    DateTimeOffset? Completed,
    DateTimeOffset? NextAttempt,
    string? Owner,
    string? Sha256,
    string? RemotePath,
    string? ContentType,
    bool Overwrite,
    IReadOnlyDictionary<string, string>? Metadata)
{
    public static QueueItemJson From(QueuedUpload item) => new(
        item.Id, StateName(item.State), item.LocalPath, item.Destination.ToString(), item.Snapshot, item.Size, item.BytesUploaded,
        Math.Round(ProgressOf(item), 1), item.Attempts, QueueErrorJson.From(item.LastError), item.Enqueued, item.Completed, item.NextAttempt,
        item.Owner, item.Sha256, item.RemotePath?.ToString(), item.ContentType, item.Overwrite, item.Metadata is { Count: > 0 } ? item.Metadata : null);

    /// <summary>Percent uploaded: 100 once done; bytes acknowledged so far otherwise.</summary>
    public static double ProgressOf(QueuedUpload item) =>
        item.State == QueuedUploadState.Done ? 100 : item.Size > 0 ? Math.Min(100, item.BytesUploaded * 100.0 / item.Size) : 0;

    public static string StateName(QueuedUploadState state) => state switch
    {
        QueuedUploadState.Pending => "pending",
        QueuedUploadState.Uploading => "uploading",
        QueuedUploadState.Done => "done",
        _ => "failed",
    };
}

internal sealed record QueueErrorJson(string Code, string Message, bool Transient)
{
    public static QueueErrorJson? From(QueuedUploadError? error) => error is null ? null : new(error.Code, Describe(error.Message), error.IsTransient);

    /// <summary>The SDK's advice in the CLI's words.</summary>
    public static string Describe(string message) => ErrorReport.Describe(new InvalidOperationException(message))
        .Replace("requeue the item", "run 'depot queue retry ID'", StringComparison.Ordinal)
        .Replace("enqueue with Snapshot = true", "queue with --snapshot", StringComparison.Ordinal);
}
