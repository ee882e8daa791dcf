using System.CommandLine;
using System.Diagnostics;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Queue;

/// <summary><c>depot queue run [--watch]</c>: uploads what the queue holds, retrying passing failures; several runs
/// (processes) may share a queue and split it.</summary>
internal static class QueueRunCommand
{
    public static Command Create()
    {
        var watch = new Option<bool>("--watch") { Description = "Keep running and upload new items as they are queued, until Ctrl+C or SIGTERM (then exit 0)." };
        var parallel = new Option<int>("--parallel") { Description = "Items uploaded at the same time (default 2).", HelpName = "N", DefaultValueFactory = _ => 2 };
        var maxAttempts = new Option<int>("--max-attempts") { Description = "Attempts per item before a network or server failure fails it (default 5).", HelpName = "N", DefaultValueFactory = _ => 5 };
        var poll = new Option<string?>("--poll") { Description = "With --watch: how often to look for items queued by other processes, e.g. 5s (default), 1m.", HelpName = "DURATION" };
        var command = new Command("run", "Upload the queued files; exit when none is left (or keep watching with --watch).")
        {
            watch, parallel, maxAttempts, poll,
        };
        CliAction.Set(command, async context =>
        {
            var options = new UploadQueueOptions
            {
                Watch = context.Value(watch),
                Parallelism = RequirePositive(context.Value(parallel), "--parallel"),
                MaxAttempts = RequirePositive(context.Value(maxAttempts), "--max-attempts"),
            };
            if (context.Value(poll) is { } pollText)
            {
                options.PollInterval = Units.RequireDuration(pollText, "--poll");
            }

            await using var open = await QueueCommand.OpenAsync(context, uploads: true, options);
            var clock = Stopwatch.StartNew();
            var result = await TransferView.RunAsync(context.Output, "uploaded", multiple: true,
                progress => open.Queue.RunAsync(progress, context.Cancellation));
            clock.Stop();

            var name = CliAction.CommandName(command);
            var items = result.Items.Select(i => new QueueRunItemJson(
                i.Id, QueueItemJson.StateName(i.State), i.LocalPath, i.Destination.ToString(), i.Attempts, i.Object?.Size, i.Object?.Sha256,
                QueueErrorJson.From(i.State == QueuedUploadState.Done ? null : i.Error))).ToList();
            if (!context.Output.Json)
            {
                foreach (var item in items.Where(i => i.State == "failed"))
                {
                    context.Output.Error.WriteLine(CliOutput.Sanitize($"{name}: {item.LocalPath} (#{item.Id}): {item.Error?.Code}: {item.Error?.Message}"));
                }
            }

            var bytes = items.Sum(i => i.Size ?? 0);
            var seconds = clock.Elapsed.TotalSeconds;
            var unfinished = items.Count(i => i.State is not "done" and not "failed");
            context.Output.Info($"uploaded {(result.Succeeded == 1 ? "1 file" : $"{result.Succeeded} files")} ({Units.FormatSize(bytes)}) in {Units.FormatDuration(clock.Elapsed)} " +
                $"({Units.FormatRate(seconds > 0 ? bytes / seconds : 0)}), {result.Failed} failed" +
                (unfinished > 0 ? $", {unfinished} left pending" : ""));
            context.Output.WriteJson(new QueueRunJson(result.Succeeded, result.Failed, bytes, (long)clock.Elapsed.TotalMilliseconds, items));

            // A watching run ends only when told to; what failed meanwhile is recorded on the items (queue list).
            return result.Failed > 0 && !options.Watch ? ExitCodes.Partial : ExitCodes.Ok;
        });
        return command;
    }

    private static int RequirePositive(int value, string option) =>
        value >= 1 ? value : throw CliException.Usage($"{option} takes a number of at least 1 (got {value}).");

    private sealed record QueueRunJson(int Succeeded, int Failed, long Bytes, long ElapsedMs, IReadOnlyList<QueueRunItemJson> Items);

    private sealed record QueueRunItemJson(long Id, string State, string LocalPath, string Destination, int Attempts, long? Size, string? Sha256, QueueErrorJson? Error);
}
