using System.Globalization;
using Depot.Client;

// depot-client-testhost URL KEY STATE_DIR LOCAL_FILE REMOTE_PATH CHUNK_SIZE
// Uploads LOCAL_FILE through an upload session and prints "progress N" after every acknowledged change, then
// "done SHA256". Exit code 0 on success, 1 on failure (the message on stderr).
if (args.Length != 6)
{
    await Console.Error.WriteLineAsync("usage: depot-client-testhost URL KEY STATE_DIR LOCAL_FILE REMOTE_PATH CHUNK_SIZE");
    return 2;
}

var options = DepotClientOptions.For(args[0], args[1]);
options.StateDirectory = args[2];
options.ChunkSize = int.Parse(args[5], CultureInfo.InvariantCulture);
options.ParallelChunks = 1;
options.ResumableThreshold = 0;
await using var client = new DepotClient(options);
try
{
    var progress = new SynchronousProgress(p => Console.Out.WriteLine($"progress {p.BytesTransferred.ToString(CultureInfo.InvariantCulture)}"));
    var result = await client.UploadAsync(args[3], args[4], new UploadOptions { Resumable = true }, progress);
    Console.Out.WriteLine($"done {result.Sha256}");
    return 0;
}
catch (DepotException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 1;
}

/// <summary>Reports on the reporting thread (no synchronization context hop), so lines come out in order.</summary>
internal sealed class SynchronousProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
{
    public void Report(TransferProgress value) => report(value);
}
