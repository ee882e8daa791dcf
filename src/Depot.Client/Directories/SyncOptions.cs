namespace Depot.Client;

/// <summary>Which side of a sync is the source; the other is made like it.</summary>
public enum SyncDirection
{
    /// <summary>Local → remote: the remote directory is made like the local one.</summary>
    Upload,

    /// <summary>Remote → local: the local directory is made like the remote one.</summary>
    Download,
}

/// <summary>How a sync decides that a file is unchanged.</summary>
public enum SyncCompare
{
    /// <summary>Equal size and equal modification time at whole milliseconds (default). Costs nothing but the one
    /// listing: the remote side's time is the <c>mtime</c> metadata that uploads record
    /// (<see cref="SyncOptions.ModifiedTimeMetadata"/>), or for downloads, when a file has none, its modification time
    /// on the server.</summary>
    SizeAndTime,

    /// <summary>Equal size and equal SHA-256. Reads every local file whose size matches (in parallel); a remote file
    /// whose checksum the server does not know yet counts as changed. Catches changes that keep size and time.</summary>
    Checksum,
}

/// <summary>Options of <see cref="DepotClient.SyncAsync"/>.</summary>
public sealed class SyncOptions
{
    /// <summary>The user metadata name under which uploads record the local file's last-write time: <c>mtime</c>,
    /// value RFC 3339 UTC with seven fractional digits (<c>2026-11-21T14:58:29.7782063Z</c>).</summary>
    public const string ModifiedTimeMetadata = "mtime";

    /// <summary>How unchanged files are recognised. Default <see cref="SyncCompare.SizeAndTime"/>.</summary>
    public SyncCompare Compare { get; set; } = SyncCompare.SizeAndTime;

    /// <summary>Also remove destination files and directories the source does not have (default false). Only inside
    /// the synced directory, only entries the globs select, and only after every send succeeded: when a transfer
    /// failed, no deletion is made (each is reported as a failure) so that a failed rename never loses the old copy.</summary>
    public bool Delete { get; set; }

    /// <summary>Compute and report the plan without changing anything on either side (default false). The result's
    /// actions and counts then say what would be done.</summary>
    public bool DryRun { get; set; }

    /// <summary>Globs of what to sync (see <see cref="DirectoryTransferOptions.Include"/>); applied to both sides, so
    /// destination entries they do not select are never deleted.</summary>
    public IList<string> Include { get; } = new List<string>();

    /// <summary>Globs of what to leave out on both sides (see <see cref="DirectoryTransferOptions.Exclude"/>).</summary>
    public IList<string> Exclude { get; } = new List<string>();

    /// <summary>Files sent at the same time, and local files hashed at the same time for
    /// <see cref="SyncCompare.Checksum"/> (1–64). Default 4.</summary>
    public int Parallelism { get; set; } = 4;

    /// <summary>Uploads: how each file is stored (see <see cref="DirectoryTransferOptions.Upload"/>). Encryption is
    /// refused: the server sees ciphertext, so sizes and checksums could never match.</summary>
    public UploadOptions? Upload { get; set; }

    /// <summary>Downloads: how each file is fetched (see <see cref="DirectoryTransferOptions.Download"/>).
    /// <see cref="DownloadOptions.PreserveModifiedTime"/> is always on (the comparison needs it); decryption is
    /// refused as for uploads.</summary>
    public DownloadOptions? Download { get; set; }
}
