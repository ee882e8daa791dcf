using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Depot.Client.Tests.Infrastructure;
using Depot.Protocol;

namespace Depot.Client.Tests.Resilience;

/// <summary>Shared pieces of the resilience tests: clients through a <see cref="FaultProxy"/>, what the server logged
/// and holds, hashes.</summary>
internal static partial class ResilienceKit
{
    public const int KiB = 1024;
    public const int MiB = 1024 * 1024;

    /// <summary>Per-test limit. Nothing is timed: a transfer that hangs instead of recovering fails here.</summary>
    public const int TestTimeout = 180_000;

    /// <summary>A client that talks to the server through <paramref name="proxy"/>: uploads of at least
    /// <paramref name="threshold"/> bytes go through sessions of <paramref name="chunkSize"/> chunks, retries wait
    /// little, and only the stall watch or a generous answer timeout ends a silent attempt.</summary>
    public static DepotClient ProxyClient(this ClientTestContext context, FaultProxy proxy, long threshold = MiB, int chunkSize = MiB,
        Action<DepotClientOptions>? configure = null) =>
        context.CreateClient(url: proxy.Url, configure: o =>
        {
            o.ResumableThreshold = threshold;
            o.ChunkSize = chunkSize;
            o.Timeout = TimeSpan.FromMinutes(2);
            o.StallTimeout = TimeSpan.FromSeconds(30);
            o.Retry.MaxAttempts = 6;
            o.Retry.InitialDelay = TimeSpan.FromMilliseconds(20);
            o.Retry.MaxDelay = TimeSpan.FromMilliseconds(200);
            configure?.Invoke(o);
        });

    public static string Sha256Of(string path) => ClientTestContext.Sha256Of(path);

    /// <summary>The SHA-256 of an object as the server holds it on disk (default bucket): the stored bytes themselves,
    /// not what the server says about them.</summary>
    public static string StoredSha256(this ClientTestContext context, string key) =>
        Sha256Of(Path.Combine(context.Server.DataDirectory, key.Replace('/', Path.DirectorySeparatorChar)));

    public static long StoredLength(this ClientTestContext context, string key) =>
        new FileInfo(Path.Combine(context.Server.DataDirectory, key.Replace('/', Path.DirectorySeparatorChar))).Length;

    /// <summary>Access-log lines (method, path without query, status) of the requests the server has answered.</summary>
    public static IReadOnlyList<(string Method, string Path, int Status)> AccessLog(this ClientTestContext context) =>
        [.. context.Server.Logs.Where(l => l.EventId.Id == 1)
            .Select(l => AccessLine().Match(l.Message))
            .Where(m => m.Success)
            .Select(m => (m.Groups[1].Value, m.Groups[2].Value, int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)))];

    /// <summary>The ids of the upload sessions the server was sent chunks for (from the access log).</summary>
    public static IReadOnlyList<string> SessionIds(this ClientTestContext context) =>
        [.. context.AccessLog()
            .Where(l => l.Method == "PUT" && l.Path.StartsWith("/v1/_uploads/", StringComparison.Ordinal))
            .Select(l => l.Path["/v1/_uploads/".Length..].Split('/')[0])
            .Distinct()];

    /// <summary>Waits until the access log holds the successful completion of a session (its line is written after
    /// the answer may have reached the client), so that counts taken afterwards are final.</summary>
    public static async Task WaitForCompletionLogAsync(this ClientTestContext context, string sessionId)
    {
        var logged = await context.Server.WaitForLogsAsync(
            _ => context.AccessLog().Any(l => l.Method == "POST" && l.Path == $"/v1/_uploads/{sessionId}/complete" && l.Status == 200),
            TimeSpan.FromSeconds(30));
        Assert.True(logged, $"The completion of upload {sessionId} was never logged.");
    }

    /// <summary>The session as the server describes it (asked directly, not through the proxy).</summary>
    public static async Task<UploadSessionDto> GetSessionAsync(this ClientTestContext context, string sessionId, CancellationToken cancellationToken)
    {
        using var response = await context.Server.Client.GetAsync($"/v1/_uploads/{sessionId}", cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"GET /v1/_uploads/{sessionId} answered {(int)response.StatusCode}.");
        return (await response.Content.ReadFromJsonAsync(DepotJson.Default.UploadSessionDto, cancellationToken))!;
    }

    /// <summary>Checks that the server's accounting of a completed session shows every byte exactly once.</summary>
    public static async Task AssertSessionAccountingAsync(this ClientTestContext context, string sessionId, long length, int chunkSize,
        long faults, CancellationToken cancellationToken)
    {
        await context.WaitForCompletionLogAsync(sessionId);
        var session = await context.GetSessionAsync(sessionId, cancellationToken);
        Assert.Equal("completed", session.State);
        Assert.Equal(length, session.Length);
        Assert.Equal(length, session.BytesReceived);
        var range = Assert.Single(session.Received);
        Assert.Equal([0L, length], range);

        // Every chunk was acknowledged at least once; a chunk is sent again only after a failed attempt, so there are
        // at most as many extra acknowledgements as injected faults.
        var chunks = (int)((length + chunkSize - 1) / chunkSize);
        var acknowledged = context.AccessLog().Count(l => l.Method == "PUT" && l.Path == $"/v1/_uploads/{sessionId}" && l.Status == 200);
        Assert.InRange(acknowledged, chunks, chunks + faults);
    }

    /// <summary>A progress sink that runs on the reporting thread (no hop through a synchronization context).</summary>
    public sealed class SynchronousProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }

    /// <summary>Writes a line to the test's output (shown with its result).</summary>
    public static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    public static string Sha256Of(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    [GeneratedRegex(@"^(\S+) (\S+) -> (\d+) ")]
    private static partial Regex AccessLine();
}
