using System.Security.Cryptography;
using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Directories;

/// <summary>Builds local trees, describes trees for comparison, and counts the requests the server saw.</summary>
internal static class TreeKit
{
    /// <summary>A fixed, whole-second-free time for files, so tests do not depend on the clock.</summary>
    public static readonly DateTime BaseTime = new(2024, 5, 17, 10, 20, 30, 123, DateTimeKind.Utc);

    /// <summary>Creates <paramref name="root"/> with the given files (relative path → content) and empty directories
    /// (paths ending with '/'); each file's last-write time is <see cref="BaseTime"/> plus its index in minutes.</summary>
    public static string Create(string root, params (string Path, string? Content)[] entries)
    {
        Directory.CreateDirectory(root);
        var index = 0;
        foreach (var (path, content) in entries)
        {
            var full = Path.Combine(root, path.TrimEnd('/'));
            if (content is null)
            {
                Directory.CreateDirectory(full);
                continue;
            }

            Write(full, content, BaseTime.AddMinutes(index++).AddTicks(4567));
        }

        return root;
    }

    public static void Write(string path, string content, DateTime lastWriteUtc)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        File.SetLastWriteTimeUtc(path, lastWriteUtc);
    }

    /// <summary>Every entry below <paramref name="root"/>: "dir/" for directories, "file = sha256" for files.</summary>
    public static List<string> DescribeLocal(string root) =>
        Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/') + (Directory.Exists(p) ? "/" : " = " + ClientTestContext.Sha256Of(p)))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>The same description of a remote directory, from one recursive listing.</summary>
    public static async Task<List<string>> DescribeRemoteAsync(DepotClient client, DepotPath directory)
    {
        var prefix = directory.Key.Length == 0 ? "" : directory.Key + "/";
        var result = new List<string>();
        await foreach (var entry in client.ListAsync(directory, new ListOptions { Recursive = true }, TestContext.Current.CancellationToken))
        {
            var relative = entry.Path.Key[prefix.Length..];
            result.Add(entry.IsFile ? relative + " = " + (entry.Sha256 ?? Convert.ToHexStringLower(SHA256.HashData(
                await client.DownloadBytesAsync(entry.Path, cancellationToken: TestContext.Current.CancellationToken)))) : relative + "/");
        }

        return result.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Requests the server has answered so far (its access log: one entry per request).</summary>
    public static List<string> Requests(ClientTestContext context) =>
        context.Server.Logs.Where(l => l.EventId.Id == 1 && l.Category.EndsWith("DepotMiddleware", StringComparison.Ordinal)).Select(l => l.Message).ToList();

    /// <summary>The requests answered while <paramref name="action"/> ran.</summary>
    public static async Task<(T Result, List<string> Requests)> CountRequestsAsync<T>(ClientTestContext context, Func<Task<T>> action)
    {
        var before = Requests(context).Count;
        var result = await action();
        // The access log is written when the answer is complete; give the last line a moment.
        await Task.Delay(100, TestContext.Current.CancellationToken);
        return (result, Requests(context).Skip(before).ToList());
    }

    public static string Paths(IEnumerable<SyncAction> actions, SyncActionKind kind) =>
        string.Join(",", actions.Where(a => a.Kind == kind).Select(a => a.RelativePath));
}

/// <summary>An <see cref="IProgress{T}"/> that records reports synchronously (no SynchronizationContext hop).</summary>
internal sealed class RecordingProgress(Action<TransferProgress>? onReport = null) : IProgress<TransferProgress>
{
    private readonly List<TransferProgress> _reports = [];

    public List<TransferProgress> Reports
    {
        get
        {
            lock (_reports)
            {
                return [.. _reports];
            }
        }
    }

    public void Report(TransferProgress value)
    {
        lock (_reports)
        {
            _reports.Add(value);
        }

        onReport?.Invoke(value);
    }
}
