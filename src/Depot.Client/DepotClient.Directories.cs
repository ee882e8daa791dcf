using Depot.Client.Directories;

namespace Depot.Client;

public sealed partial class DepotClient
{
    /// <summary>Uploads a local directory tree to <paramref name="remoteDirectory"/>: every file through
    /// <see cref="UploadAsync(string, DepotPath, UploadOptions?, IProgress{TransferProgress}?, CancellationToken)"/>
    /// (verified; large files through resumable sessions), <see cref="DirectoryTransferOptions.Parallelism"/> at a
    /// time, and the empty directories created.</summary>
    /// <remarks>
    /// <para>Symbolic links are never followed: they are listed under <see cref="DirectoryTransferResult.Skipped"/>.
    /// Each file is stored with its last-write time as <c>mtime</c> metadata (see
    /// <see cref="SyncOptions.ModifiedTimeMetadata"/>), so a later <see cref="SyncAsync"/> finds it unchanged.</para>
    /// <para>A file that fails does not stop the others: it is listed under <see cref="DirectoryTransferResult.Failed"/>.
    /// The call throws only when the whole operation cannot go on (see the exceptions) or, with
    /// <see cref="ConflictMode.Fail"/>, at the first existing file. Costs one request per file below
    /// <see cref="DepotClientOptions.ResumableThreshold"/> (larger ones go through an upload session: one request to
    /// open it, one per chunk, one to complete it), one per empty directory, and — for <see cref="ConflictMode.Skip"/>
    /// and <see cref="ConflictMode.Fail"/> only — one recursive listing per 10,000 remote entries.</para>
    /// <para>Progress is reported per file, each report carrying the whole operation's counts in
    /// <see cref="TransferProgress.Overall"/>.</para>
    /// </remarks>
    /// <exception cref="DirectoryNotFoundException">No such local directory.</exception>
    /// <exception cref="AlreadyExistsException"><see cref="ConflictMode.Fail"/> and a file exists at the destination.</exception>
    /// <exception cref="ArgumentException">A glob is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="DirectoryTransferOptions.Parallelism"/> is not 1–64.</exception>
    /// <exception cref="DepotUnavailableException">The server cannot be reached (after retries); files not started were not attempted.</exception>
    /// <exception cref="UnauthorizedException">The key was refused.</exception>
    /// <exception cref="InsufficientStorageException">The server's disk is full.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; run again to
    /// continue (with <see cref="ConflictMode.Skip"/>, or better with <see cref="SyncAsync"/>).</exception>
    public Task<DirectoryTransferResult> UploadDirectoryAsync(string localDirectory, DepotPath remoteDirectory, DirectoryTransferOptions? options = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(localDirectory);
        return DirectoryTransfer.UploadAsync(this, localDirectory, remoteDirectory, options ?? new DirectoryTransferOptions(), progress, cancellationToken);
    }

    /// <summary>Downloads a remote directory tree into <paramref name="localDirectory"/> (created if missing): one
    /// recursive listing, then every file through
    /// <see cref="DownloadAsync(DepotPath, string, DownloadOptions?, IProgress{TransferProgress}?, CancellationToken)"/>
    /// (verified, written to a temporary file and renamed into place), <see cref="DirectoryTransferOptions.Parallelism"/>
    /// at a time; every remote directory is created locally, empty ones included.</summary>
    /// <remarks>
    /// <para>Nothing is ever written outside <paramref name="localDirectory"/>: a remote name that could escape it (or
    /// that the local file system cannot hold: <c>..</c>, absolute, a drive letter, a backslash, a control character) is
    /// listed under <see cref="DirectoryTransferResult.Failed"/> as an unsafe name, and local symbolic links on the way
    /// are not followed (the file fails instead).</para>
    /// <para>Local files get the remote <c>mtime</c> metadata as their last-write time when there is one, else the
    /// server's modification time (unless <see cref="DownloadOptions.PreserveModifiedTime"/> is off).</para>
    /// <para>Failures of single files, exceptions and progress behave as for <see cref="UploadDirectoryAsync"/>.</para>
    /// </remarks>
    /// <exception cref="NotFoundException">No such remote directory (or bucket).</exception>
    /// <exception cref="ConflictException">The remote path is a file.</exception>
    /// <exception cref="DepotException"><see cref="ConflictMode.Fail"/> and a local file exists (code
    /// <see cref="ClientErrorCodes.LocalExists"/>); nothing was downloaded.</exception>
    /// <exception cref="IOException">The local directory cannot be created.</exception>
    public Task<DirectoryTransferResult> DownloadDirectoryAsync(DepotPath remoteDirectory, string localDirectory, DirectoryTransferOptions? options = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(localDirectory);
        return DirectoryTransfer.DownloadAsync(this, remoteDirectory, localDirectory, options ?? new DirectoryTransferOptions(), progress, cancellationToken);
    }

    /// <summary>Makes the destination directory like the source one — the remote one like the local one
    /// (<see cref="SyncDirection.Upload"/>) or the other way round — sending only new and changed files, and with
    /// <see cref="SyncOptions.Delete"/> removing what the source does not have. docs/client-sync.md has the rules.</summary>
    /// <remarks>
    /// <para><b>Cost.</b> One recursive listing of the remote directory (one request per 10,000 entries) and one scan of
    /// the local one; then one transfer per changed file and one request per remote deletion or empty new remote
    /// directory. An unchanged tree costs the listing alone: never a request per file.</para>
    /// <para><b>Comparison.</b> <see cref="SyncCompare.SizeAndTime"/>: equal size and equal modification time at whole
    /// milliseconds, the remote time being the <c>mtime</c> metadata uploads record (for downloads, when absent, the
    /// server's time); downloads give the local file that time. <see cref="SyncCompare.Checksum"/>: equal size and
    /// equal SHA-256 (local files are read). The destination is made equal to the source whichever is newer.</para>
    /// <para><b>Order and safety.</b> Directories are created first, files are sent next, deletions come last and only
    /// when every transfer succeeded; nothing outside the synced directory is deleted or written, symbolic links are
    /// never followed, and remote names that could escape the local directory fail as unsafe names. A rename is a send
    /// of the new name plus (with Delete) a deletion of the old one.</para>
    /// <para><b>Interruption.</b> Cancelled or failed half-way, a sync is simply run again: what was transferred
    /// compares equal and is skipped, and a large upload resumes through its upload session (see
    /// <see cref="DepotClientOptions.StateDirectory"/>).</para>
    /// <para>Single-file failures, progress and whole-operation exceptions behave as for
    /// <see cref="UploadDirectoryAsync"/>.</para>
    /// </remarks>
    /// <returns>The plan (<see cref="SyncResult.Actions"/>, also for a <see cref="SyncOptions.DryRun"/>, which changes
    /// nothing), the counts, and the failures.</returns>
    /// <exception cref="DirectoryNotFoundException">Upload: no such local directory.</exception>
    /// <exception cref="NotFoundException">Download: no such remote directory (or bucket).</exception>
    /// <exception cref="ConflictException">The remote path is a file.</exception>
    /// <exception cref="ArgumentException">Encryption was asked for, or a glob is empty.</exception>
    /// <exception cref="DepotUnavailableException">The server cannot be reached (after retries).</exception>
    /// <exception cref="OperationCanceledException">Cancelled; run it again to finish.</exception>
    public Task<SyncResult> SyncAsync(string localDirectory, DepotPath remoteDirectory, SyncDirection direction, SyncOptions? options = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(localDirectory);
        return SyncRun.RunAsync(this, localDirectory, remoteDirectory, direction, options ?? new SyncOptions(), progress, cancellationToken);
    }
}
