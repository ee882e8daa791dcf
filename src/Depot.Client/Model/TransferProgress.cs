namespace Depot.Client;

/// <summary>
/// Progress of one transfer, reported through <see cref="IProgress{T}"/>: a few times a second while bytes move,
/// and once more when the file is done (<see cref="IsCompleted"/>). Directory transfers and syncs report per file,
/// with the whole operation's counts in <see cref="Overall"/>.
/// </summary>
/// <remarks>Reports come from the transfer's own threads; <see cref="Progress{T}"/> marshals them to a UI context.
/// Bytes count what was acknowledged by the other side (uploads) or written locally (downloads), so a chunk that is
/// sent again after a failure is not counted twice.</remarks>
public sealed record TransferProgress
{
    /// <summary>The file: the local path for uploads and downloads to a path, else the remote path.</summary>
    public required string Name { get; init; }

    /// <summary>Bytes of this file transferred so far.</summary>
    public long BytesTransferred { get; init; }

    /// <summary>The file's size, when known.</summary>
    public long? TotalBytes { get; init; }

    /// <summary>Average rate of this file since it started, bytes per second.</summary>
    public double BytesPerSecond { get; init; }

    /// <summary>Time since this file's transfer started.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>True in the last report of a file (it is in place and verified).</summary>
    public bool IsCompleted { get; init; }

    /// <summary>Directory transfers and syncs: the whole operation so far; null for single-file transfers.</summary>
    public OverallProgress? Overall { get; init; }

    /// <summary>Estimated time to finish this file, when the size and a rate are known.</summary>
    public TimeSpan? Remaining => TotalBytes is { } total && BytesPerSecond > 0
        ? TimeSpan.FromSeconds(Math.Max(0, total - BytesTransferred) / BytesPerSecond)
        : null;
}

/// <summary>The counts of a directory transfer or sync, carried on every <see cref="TransferProgress"/> it reports.</summary>
public sealed record OverallProgress
{
    /// <summary>Files finished (sent, received or skipped).</summary>
    public int FilesDone { get; init; }

    /// <summary>Files the operation will handle, once known.</summary>
    public int FilesTotal { get; init; }

    /// <summary>Bytes moved by the whole operation.</summary>
    public long BytesTransferred { get; init; }

    /// <summary>Bytes the operation will move.</summary>
    public long TotalBytes { get; init; }
}
