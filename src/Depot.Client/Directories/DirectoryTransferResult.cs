namespace Depot.Client;

/// <summary>One file or directory of a directory transfer.</summary>
/// <param name="RelativePath">The <c>/</c>-separated path below the transferred directory.</param>
/// <param name="LocalPath">The full local path (for an unsafe remote name: null).</param>
/// <param name="RemotePath">The remote path.</param>
/// <param name="Size">Bytes of the file (0 for a directory, a symbolic link, or a file that failed before its size was known).</param>
/// <param name="Reason">Why it was skipped (<c>exists</c>, <c>symbolic link (not followed)</c>); null for transferred files.</param>
public sealed record DirectoryTransferEntry(string RelativePath, string? LocalPath, DepotPath RemotePath, long Size, string? Reason = null);

/// <summary>A file or directory of a directory transfer or sync that failed.</summary>
/// <param name="RelativePath">The <c>/</c>-separated path below the directory.</param>
/// <param name="Error">What went wrong: a <see cref="DepotException"/> from the server or the client, an
/// <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> from the local file system, or an
/// <see cref="InvalidOperationException"/> for a name or entry the operation refused to handle (its message says
/// why, e.g. <c>unsafe name</c>).</param>
public sealed record DirectoryTransferFailure(string RelativePath, Exception Error);

/// <summary>What <see cref="DepotClient.UploadDirectoryAsync"/> or <see cref="DepotClient.DownloadDirectoryAsync"/> did.</summary>
/// <remarks>Lists are in path order. A file is in exactly one of <see cref="Transferred"/>, <see cref="Skipped"/> and
/// <see cref="Failed"/>.</remarks>
public sealed record DirectoryTransferResult
{
    /// <summary>Files transferred, verified and in place.</summary>
    public required IReadOnlyList<DirectoryTransferEntry> Transferred { get; init; }

    /// <summary>Files left alone: existing ones under <see cref="ConflictMode.Skip"/>, and symbolic links (never followed).</summary>
    public required IReadOnlyList<DirectoryTransferEntry> Skipped { get; init; }

    /// <summary>Files and directories that failed; the others were transferred all the same.</summary>
    public required IReadOnlyList<DirectoryTransferFailure> Failed { get; init; }

    /// <summary>Directories made sure of at the destination (created, or already there) because they would otherwise be
    /// missing there: empty ones, or all of them for downloads.</summary>
    public required IReadOnlyList<DirectoryTransferEntry> Directories { get; init; }

    /// <summary>Bytes of the files in <see cref="Transferred"/> (file sizes: a resumed or retried part counts once).</summary>
    public long BytesTransferred { get; init; }

    /// <summary>Time the whole operation took, the listing and scan included.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>True when nothing failed.</summary>
    public bool Succeeded => Failed.Count == 0;
}
