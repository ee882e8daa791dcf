// client-bench: times one DepotClient call per process, for bench/run-client.sh.
//
//   client-bench upload FILE KEY [--single]  UploadAsync with default options (a file of at least ResumableThreshold
//                                             goes through an upload session); --single: Resumable = false (the
//                                             file's SHA-256 first, then one streamed PUT carrying it)
//   client-bench download KEY FILE           DownloadAsync to a file (verified, fsync'd, renamed into place)
//   upload, download: --no-verify            Verify = false (no SHA-256 on the client; an upload session still
//                                             hashes what it reads, if the SDK ignores Verify there)
//   client-bench sync DIR REMOTE             SyncAsync(DIR, REMOTE, SyncDirection.Upload) with default options
//   any verb, --repeat N                     N more calls in the same process; the last line is then their median
//                                             (a warm client: JIT done, connections pooled)
//
// Environment: DEPOT_URL (http://127.0.0.1:8080), DEPOT_KEY (API key), DEPOT_STATE_DIR (the client's
// resumable-upload state; "none" for no state; default: the client's own default).
// The last line printed is the elapsed seconds of the timed call (Stopwatch, client already constructed; the first
// call of the process unless --repeat); lines before it describe each call. Exit code 1 on a failure, 2 on a usage error.
using System.Diagnostics;
using System.Globalization;
using Depot.Client;

var usage = "usage: client-bench upload FILE KEY [--single] [--no-verify] | download KEY FILE [--no-verify] | sync DIR REMOTE   [--repeat N]";
if (args.Length < 3)
{
    Console.Error.WriteLine(usage);
    return 2;
}

var url = Environment.GetEnvironmentVariable("DEPOT_URL") is { Length: > 0 } u ? u : "http://127.0.0.1:8080";
var options = DepotClientOptions.For(url, Environment.GetEnvironmentVariable("DEPOT_KEY"));
if (Environment.GetEnvironmentVariable("DEPOT_STATE_DIR") is { Length: > 0 } state)
{
    options.StateDirectory = state == "none" ? null : state;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

await using var client = new DepotClient(options);
var positional = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || args[i - 1] != "--repeat")).ToArray();
var single = args.Contains("--single");
var noVerify = args.Contains("--no-verify");
var repeatAt = Array.IndexOf(args, "--repeat");
var repeat = repeatAt >= 0 && repeatAt + 1 < args.Length && int.TryParse(args[repeatAt + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var r) && r >= 1 ? r : 0;
if ((repeatAt >= 0 && repeat == 0) || positional.Length != 3 || (single && positional[0] != "upload")
    || (noVerify && positional[0] == "sync") || args.Length != 3 + (single ? 1 : 0) + (noVerify ? 1 : 0) + (repeatAt >= 0 ? 2 : 0))
{
    Console.Error.WriteLine(usage);
    return 2;
}

try
{
    Func<int, Task<string>> call = positional[0] switch
    {
        "upload" => async _ =>
        {
            var stored = await client.UploadAsync(positional[1], positional[2], new UploadOptions { Resumable = single ? false : null, Verify = !noVerify }, null, cancel.Token);
            return FormattableString.Invariant($"uploaded {stored.Path}: {stored.Size} bytes, sha256 {stored.Sha256}");
        },
        "download" => async _ =>
        {
            var fetched = await client.DownloadAsync(positional[1], positional[2], new DownloadOptions { Verify = !noVerify }, null, cancel.Token);
            return FormattableString.Invariant($"downloaded {fetched.Path}: {fetched.Size} bytes, sha256 {fetched.Sha256}");
        },
        "sync" => _ => SyncOnceAsync(client, positional[1], positional[2], cancel.Token),
        _ => throw new ArgumentException(usage),
    };

    var times = new List<double>();
    for (var i = 0; i <= repeat; i++)
    {
        var watch = Stopwatch.StartNew();
        var what = await call(i);
        watch.Stop();
        times.Add(watch.Elapsed.TotalSeconds);
        Console.WriteLine(FormattableString.Invariant($"call {i + 1}: {watch.Elapsed.TotalSeconds:0.000000} s: {what}"));
    }

    // The first call of a fresh process (JIT, connection set-up included), or the median of the repeated ones.
    var warm = times.Skip(repeat == 0 ? 0 : 1).Order().ToList();
    var median = warm.Count % 2 == 1 ? warm[warm.Count / 2] : (warm[(warm.Count / 2) - 1] + warm[warm.Count / 2]) / 2;
    Console.WriteLine(median.ToString("0.000000", CultureInfo.InvariantCulture));
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
catch (Exception e) when (e is DepotException or IOException or UnauthorizedAccessException or OperationCanceledException or SyncFailedException)
{
    Console.Error.WriteLine($"client-bench {positional[0]}: {e.GetType().Name}: {e.Message}");
    return 1;
}

#if NO_SYNC
static Task<string> SyncOnceAsync(DepotClient client, string localDirectory, string remoteDirectory, CancellationToken cancellationToken)
{
    _ = client;
    _ = cancellationToken;
    throw new ArgumentException($"client-bench sync {localDirectory} {remoteDirectory}: built without the sync verb (ClientBenchNoSync=true)");
}
#else
static async Task<string> SyncOnceAsync(DepotClient client, string localDirectory, string remoteDirectory, CancellationToken cancellationToken)
{
    var result = await client.SyncAsync(localDirectory, remoteDirectory, SyncDirection.Upload, new SyncOptions(), cancellationToken: cancellationToken);
    var summary = FormattableString.Invariant(
        $"sent {result.Sent} ({result.BytesSent} bytes), skipped {result.Skipped}, deleted {result.Deleted}, directories created {result.DirectoriesCreated}, failures {result.Failures.Count}, actions {result.Actions.Count}");
    return result.Succeeded ? summary : throw new SyncFailedException($"{summary}; the first failure: {result.Failures[0]}");
}
#endif

/// <summary>A sync that finished with failed paths.</summary>
internal sealed class SyncFailedException(string message) : Exception(message);
