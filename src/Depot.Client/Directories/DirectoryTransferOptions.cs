namespace Depot.Client;

/// <summary>What a directory transfer does with a file that already exists at the destination.</summary>
public enum ConflictMode
{
    /// <summary>Replace it (default).</summary>
    Overwrite,

    /// <summary>Leave it as it is and list the file under <see cref="DirectoryTransferResult.Skipped"/>.</summary>
    Skip,

    /// <summary>Stop: the operation throws (<see cref="AlreadyExistsException"/> for uploads, a
    /// <see cref="DepotException"/> with code <see cref="ClientErrorCodes.LocalExists"/> for downloads). Existing
    /// files are looked for before anything is transferred, so when one is found up front nothing is transferred; one
    /// that appears during the transfer stops it there (transfers already running finish, no new one starts).</summary>
    Fail,
}

/// <summary>Options of <see cref="DepotClient.UploadDirectoryAsync"/> and <see cref="DepotClient.DownloadDirectoryAsync"/>.</summary>
public sealed class DirectoryTransferOptions
{
    /// <summary>Globs of what to transfer, matched against the <c>/</c>-separated path relative to the directory
    /// (docs/client-sync.md): <c>*</c> within a segment, <c>**</c> across segments, <c>?</c>, <c>[abc]</c>; a glob
    /// without <c>/</c> matches the name at any depth, a trailing <c>/</c> matches directories only. Empty (default):
    /// everything. Directories that match no include glob are still searched for files that do.</summary>
    public IList<string> Include { get; } = new List<string>();

    /// <summary>Globs of what to leave out (same syntax as <see cref="Include"/>); they win over includes. An excluded
    /// directory is not descended into.</summary>
    public IList<string> Exclude { get; } = new List<string>();

    /// <summary>Files transferred at the same time (1–64). Default 4. Each large upload also sends
    /// <see cref="DepotClientOptions.ParallelChunks"/> chunks at once, so keep the product below
    /// <see cref="DepotClientOptions.MaxConnectionsPerServer"/>.</summary>
    public int Parallelism { get; set; } = 4;

    /// <summary>What to do when a destination file exists. Default <see cref="ConflictMode.Overwrite"/>.</summary>
    public ConflictMode Conflict { get; set; } = ConflictMode.Overwrite;

    /// <summary>Uploads: how each file is stored (content type, metadata, verification, encryption, resumable). Null
    /// uses the defaults. <see cref="UploadOptions.Overwrite"/> and <see cref="UploadOptions.IfMatch"/> are decided by
    /// <see cref="Conflict"/>; the metadata given here is stored with every file, together with <c>mtime</c>
    /// (<see cref="SyncOptions.ModifiedTimeMetadata"/>), which replaces a user-given <c>mtime</c>.</summary>
    public UploadOptions? Upload { get; set; }

    /// <summary>Downloads: how each file is fetched (verification, decryption, modification time). Null uses the
    /// defaults. <see cref="DownloadOptions.Overwrite"/> is decided by <see cref="Conflict"/>; offsets and lengths are
    /// ignored (whole files). With <see cref="DownloadOptions.PreserveModifiedTime"/> (default) each local file gets the
    /// remote file's <c>mtime</c> metadata when it has one, else its modification time on the server.</summary>
    public DownloadOptions? Download { get; set; }
}
