namespace Depot.Client;

/// <summary>Where an item of an <see cref="UploadQueue"/> stands.</summary>
/// <remarks>Enqueued items are <see cref="Pending"/>. A runner claims one (<see cref="Uploading"/>, under a lease);
/// it ends <see cref="Done"/>, or <see cref="Failed"/> for a permanent failure or when its attempts are used up, or
/// goes back to <see cref="Pending"/> after a transient failure (with a retry delay) or a cancelled run. An item left
/// <see cref="Uploading"/> by a runner that died becomes claimable again when its lease runs out.</remarks>
public enum QueuedUploadState
{
    /// <summary>Waiting to be uploaded (possibly until <see cref="QueuedUpload.NextAttempt"/>).</summary>
    Pending,

    /// <summary>Claimed by a runner (<see cref="QueuedUpload.Owner"/>) that is uploading it now.</summary>
    Uploading,

    /// <summary>Uploaded and verified; <see cref="QueuedUpload.Sha256"/> and <see cref="QueuedUpload.RemotePath"/> are set.</summary>
    Done,

    /// <summary>Not uploaded; <see cref="QueuedUpload.LastError"/> says why. Runs do not pick it up again unless the
    /// error was transient (see <see cref="UploadQueueOptions.MaxAttempts"/>) or it is requeued.</summary>
    Failed,
}

/// <summary>Why the last attempt of an item failed.</summary>
/// <param name="Code">A stable code: the server's or the client's (<see cref="DepotException.Code"/>,
/// <see cref="ClientErrorCodes"/>) or the queue's own (<see cref="UploadQueueErrorCodes"/>).</param>
/// <param name="Message">What happened and what to do next, for people.</param>
/// <param name="IsTransient">True when repeating the upload later may succeed (network, timeout, 429, 503).</param>
public sealed record QueuedUploadError(string Code, string Message, bool IsTransient);

/// <summary>Error codes the queue itself records in <see cref="QueuedUploadError.Code"/>.</summary>
public static class UploadQueueErrorCodes
{
    /// <summary>The file recorded by path (not a snapshot) no longer exists.</summary>
    public const string SourceMissing = "source_missing";

    /// <summary>The snapshot copy kept in the queue's blob folder is gone (deleted by hand).</summary>
    public const string SnapshotMissing = "snapshot_missing";

    /// <summary>The local file could not be read (permissions, I/O error).</summary>
    public const string LocalIo = "local_io";

    /// <summary>In a run's result only: this runner's lease ran out while it uploaded (the process stalled) and another
    /// runner took the item over.</summary>
    public const string LeaseLost = "lease_lost";

    /// <summary>Anything else the upload threw; the message names the exception.</summary>
    public const string Unexpected = "unexpected";
}

/// <summary>One item of an <see cref="UploadQueue"/>, as <see cref="UploadQueue.ListAsync"/> read it (a snapshot: it
/// does not change as the item moves on).</summary>
public sealed record QueuedUpload
{
    /// <summary>The item's number: unique in its queue, increasing in enqueue order, never reused.</summary>
    public long Id { get; init; }

    /// <summary>The full path of the local file as enqueued. For a <see cref="Snapshot"/> item, where the bytes came
    /// from (they are uploaded from the queue's copy).</summary>
    public required string LocalPath { get; init; }

    /// <summary>Where the file goes.</summary>
    public DepotPath Destination { get; init; }

    /// <summary>True when the bytes were copied into the queue at enqueue time.</summary>
    public bool Snapshot { get; init; }

    /// <summary>Bytes of the file at enqueue time (of the copy, for a snapshot).</summary>
    public long Size { get; init; }

    /// <summary>Items recorded by path: the file's modification time at enqueue time, to tell whether it changed
    /// since (it is uploaded as it is then). Null for snapshots.</summary>
    public DateTimeOffset? SourceModified { get; init; }

    /// <summary>Where the item stands.</summary>
    public QueuedUploadState State { get; init; }

    /// <summary>Bytes the server acknowledged in the current or last attempt; written while uploading, at most twice a
    /// second, so it may lag a little behind.</summary>
    public long BytesUploaded { get; init; }

    /// <summary>Attempts started in the current series: a runner that crashed counts, a cancelled run does not.
    /// Reset to 0 when a failed item is given a fresh set of attempts (<see cref="UploadQueueOptions.MaxAttempts"/>).</summary>
    public int Attempts { get; init; }

    /// <summary>Why the last attempt failed; null when none has failed (or it then succeeded).</summary>
    public QueuedUploadError? LastError { get; init; }

    /// <summary>When it was enqueued (by the client's <see cref="DepotClientOptions.TimeProvider"/>).</summary>
    public DateTimeOffset Enqueued { get; init; }

    /// <summary>When it became <see cref="QueuedUploadState.Done"/> or <see cref="QueuedUploadState.Failed"/>.</summary>
    public DateTimeOffset? Completed { get; init; }

    /// <summary>Pending items waiting out a retry delay: the earliest time a runner will try again.</summary>
    public DateTimeOffset? NextAttempt { get; init; }

    /// <summary>Uploading items: the runner holding the lease (<c>host/pid/process-start/instance</c>).</summary>
    public string? Owner { get; init; }

    /// <summary>Uploading items: when the runner's lease runs out unless renewed.</summary>
    public DateTimeOffset? LeaseExpires { get; init; }

    /// <summary>Done items: the SHA-256 of the stored bytes, lower-case hex, as the server computed it.</summary>
    public string? Sha256 { get; init; }

    /// <summary>Done items: where the object was stored (the <see cref="Destination"/>).</summary>
    public DepotPath? RemotePath { get; init; }

    /// <summary>The content type to store (<see cref="UploadOptions.ContentType"/>); null lets the server decide.</summary>
    public string? ContentType { get; init; }

    /// <summary>The user metadata to store (<see cref="UploadOptions.Metadata"/>); null for none.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Replace an object already at the destination (<see cref="UploadOptions.Overwrite"/>).</summary>
    public bool Overwrite { get; init; }

    /// <summary>Store an appender object (<see cref="UploadOptions.Appendable"/>).</summary>
    public bool Appendable { get; init; }

    /// <summary>The snapshot's file name in the blob folder, while it exists.</summary>
    internal string? Blob { get; init; }
}

/// <summary>What one <see cref="UploadQueue.RunAsync"/> did with one item it worked on.</summary>
public sealed record QueuedUploadResult
{
    /// <summary>The item.</summary>
    public long Id { get; init; }

    /// <summary>The item's local path (as enqueued).</summary>
    public required string LocalPath { get; init; }

    /// <summary>Where it was to go.</summary>
    public DepotPath Destination { get; init; }

    /// <summary><see cref="QueuedUploadState.Done"/>, <see cref="QueuedUploadState.Failed"/>, or
    /// <see cref="QueuedUploadState.Pending"/> when the run stopped while the item waited for another attempt (or was
    /// cancelled), or <see cref="QueuedUploadState.Uploading"/> when another runner took it over
    /// (<see cref="UploadQueueErrorCodes.LeaseLost"/>).</summary>
    public QueuedUploadState State { get; init; }

    /// <summary>Attempts the item has had in its current series.</summary>
    public int Attempts { get; init; }

    /// <summary>Done: the stored object.</summary>
    public DepotObject? Object { get; init; }

    /// <summary>Failed or pending: the last failure.</summary>
    public QueuedUploadError? Error { get; init; }
}

/// <summary>What one <see cref="UploadQueue.RunAsync"/> did.</summary>
public sealed record UploadQueueRunResult
{
    /// <summary>The items this run worked on, in the order it first claimed them, each with its final outcome in this
    /// run. Items another runner uploaded are not here.</summary>
    public required IReadOnlyList<QueuedUploadResult> Items { get; init; }

    /// <summary>Items this run uploaded.</summary>
    public int Succeeded { get; init; }

    /// <summary>Items this run left <see cref="QueuedUploadState.Failed"/>.</summary>
    public int Failed { get; init; }
}
