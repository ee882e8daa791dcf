namespace Depot.Client;

/// <summary>How an <see cref="UploadQueue"/> runs: parallelism, queue-level retries, leases, watching for new items.
/// Read when the queue is opened; later changes have no effect.</summary>
public sealed class UploadQueueOptions
{
    /// <summary>Items uploaded at the same time by one <see cref="UploadQueue.RunAsync"/>. Each item may itself send
    /// several chunks at once (<see cref="DepotClientOptions.ParallelChunks"/>). Default 2; at least 1.</summary>
    public int Parallelism { get; set; } = 2;

    /// <summary>Upload attempts per item before a transient failure (network, timeout, 429, 503) makes it
    /// <see cref="QueuedUploadState.Failed"/>, the first attempt included. Each attempt is a whole
    /// <see cref="DepotClient.UploadAsync(string, DepotPath, UploadOptions?, IProgress{TransferProgress}?, CancellationToken)"/>
    /// call, which already retries single requests as <see cref="DepotClientOptions.Retry"/> says. A later
    /// <see cref="UploadQueue.RunAsync"/> gives items that failed this way a fresh set of attempts. Default 5; at least 1.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>The delay before an item's second attempt; each further one doubles it, up to
    /// <see cref="MaxRetryDelay"/>, and each is shortened by a random part of up to half (jitter) so that items that
    /// failed together do not retry together. A server's <c>Retry-After</c> is honoured when longer (up to
    /// <see cref="MaxRetryDelay"/>). Default 2 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest delay between two attempts of an item. In <see cref="Watch"/> mode it is also how long an
    /// item that used up its attempts on transient failures stays <see cref="QueuedUploadState.Failed"/> before it
    /// gets a fresh set. Default 5 min.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a runner's claim on an item lasts without renewal. A runner renews it every third of this
    /// while it uploads; when the runner's process dies, another runner may take the item over once the lease has
    /// run out (at once, if the dead process ran on the same machine). Longer survives longer pauses of a live process
    /// (debugger, suspended laptop) without a second runner starting the same item; shorter recovers sooner from a
    /// crash on another machine. Default 1 min; at least 100 ms.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Keep <see cref="UploadQueue.RunAsync"/> running after the queue is empty, looking for new items every
    /// <see cref="PollInterval"/>, until its token is cancelled (<c>depot queue run --watch</c>). A watching run
    /// returns its result when cancelled instead of throwing. Default false.</summary>
    public bool Watch { get; set; }

    /// <summary>How often a <see cref="Watch"/>ing run looks for new or newly retryable items (items enqueued through
    /// the same <see cref="UploadQueue"/> instance are noticed at once). Default 5 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>How <see cref="UploadQueue.EnqueueAsync"/> records an item.</summary>
public sealed class EnqueueOptions
{
    /// <summary>Copy the file's bytes into the queue (<c>{queue}.blobs/</c>) now, flushed to disk before the item is
    /// recorded, and upload that copy: later changes to the source, or its deletion, do not matter. Costs one full
    /// local copy (time and disk) per item until it is uploaded. False (default) records only the path, and the file
    /// is read as it is when the item is uploaded.</summary>
    public bool Snapshot { get; set; }

    /// <summary>How the upload is stored. Only <see cref="UploadOptions.ContentType"/>,
    /// <see cref="UploadOptions.Metadata"/>, <see cref="UploadOptions.Overwrite"/> and
    /// <see cref="UploadOptions.Appendable"/> are kept with the item; queued uploads always verify their SHA-256 and
    /// choose a resumable session by size. <see cref="UploadOptions.Encryption"/>, <see cref="UploadOptions.IfMatch"/>,
    /// <see cref="UploadOptions.TimeToLive"/> and <see cref="UploadOptions.Expires"/> cannot be queued (the queue never
    /// stores keys, and the others mean something only at the time they are given). Null: the defaults.</summary>
    public UploadOptions? Upload { get; set; }
}

/// <summary>Which items <see cref="UploadQueue.ClearAsync"/> removes.</summary>
public enum QueueClearMode
{
    /// <summary>Items uploaded successfully.</summary>
    Done,

    /// <summary>Items that failed for good (or used up their attempts).</summary>
    Failed,

    /// <summary>Every item except those a live runner is uploading now.</summary>
    All,
}
