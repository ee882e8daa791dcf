using Depot.Client.Queue;

namespace Depot.Client;

/// <summary>
/// A durable queue of uploads, kept in a SQLite file (IndexedCP's client-side buffer): enqueue files while offline or
/// in a hurry, and let <see cref="RunAsync"/> upload them when it can, across restarts and crashes, retrying what
/// failed for a passing reason. See <c>docs/client-queue.md</c>.
/// </summary>
/// <remarks>
/// <para>Items are <see cref="QueuedUploadState.Pending"/> until a runner claims one (atomically, under a lease it
/// renews while uploading), then <see cref="QueuedUploadState.Done"/> or <see cref="QueuedUploadState.Failed"/>. An
/// item whose runner died is claimed again when its lease runs out, or at once by a runner on the same machine that
/// sees the old process is gone.</para>
/// <para>Thread-safe, and safe for several instances and processes on the same file at once (on a local disk: SQLite
/// locking does not work over network file systems): each item is uploaded by one runner at a time, and concurrent
/// runs split the work. Uploads go through the given <see cref="DepotClient"/>, which stays the caller's to dispose
/// (after the queue).</para>
/// </remarks>
public sealed partial class UploadQueue : IAsyncDisposable
{
    private readonly QueueDatabase _database;
    private readonly SnapshotStore _snapshots;
    private readonly DepotClient _client;
    private readonly Settings _settings;
    private readonly TimeProvider _time;
    private readonly string _owner = QueueOwner.Create();
    private readonly CancellationTokenSource _disposing = new();
    private readonly HashSet<Task> _runs = [];
    private TaskCompletionSource _enqueued = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    private UploadQueue(string path, QueueDatabase database, DepotClient client, Settings settings)
    {
        DatabasePath = path;
        _database = database;
        _snapshots = new SnapshotStore(path + ".blobs");
        _client = client;
        _settings = settings;
        _time = client.Options.TimeProvider;
    }

    /// <summary>The full path of the queue's SQLite file.</summary>
    public string DatabasePath { get; }

    /// <summary>The folder holding snapshot copies: <see cref="DatabasePath"/> plus <c>.blobs</c>. Created when the
    /// first snapshot is enqueued.</summary>
    public string SnapshotDirectory => _snapshots.Directory;

    /// <summary>Opens the queue in the SQLite file at <paramref name="path"/>, creating it (and its folder) if needed,
    /// and upgrading the file's schema if an older client wrote it.</summary>
    /// <param name="path">The queue's file (e.g. <c>~/.local/share/depot/uploads.queue</c>). Snapshot copies go to a
    /// sibling folder <c>{path}.blobs/</c>. Several processes may open the same file.</param>
    /// <param name="client">Uploads go through it, with its servers, key and retry options; its
    /// <see cref="DepotClientOptions.TimeProvider"/> times leases and retry delays. Not disposed with the queue.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (e.g. <see cref="UploadQueueOptions.Parallelism"/> below 1).</exception>
    /// <exception cref="InvalidDataException">The file is a SQLite database of something else.</exception>
    /// <exception cref="NotSupportedException">The file was written by a newer Depot.Client (a higher schema version).</exception>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">The file cannot be opened or is not a database.</exception>
    public static async Task<UploadQueue> OpenAsync(string path, DepotClient client, UploadQueueOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(client);
        var settings = Settings.From(options ?? new UploadQueueOptions());
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var database = await QueueDatabase.OpenAsync(full, cancellationToken).ConfigureAwait(false);
        var queue = new UploadQueue(full, database, client, settings);
        try
        {
            // Copies whose item was never recorded (a crash between copying and recording) are removed after a grace period.
            queue._snapshots.Sweep(await database.ReferencedBlobsAsync(cancellationToken).ConfigureAwait(false), DateTimeOffset.UtcNow);
        }
        catch
        {
            await queue.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return queue;
    }

    /// <summary>Adds a file to the queue, <see cref="QueuedUploadState.Pending"/>, and returns it as recorded. When this
    /// returns the item is on disk (committed and flushed, with its snapshot copy if any) and survives a crash.</summary>
    /// <param name="localPath">The file to upload (relative paths are resolved against the current directory).</param>
    /// <param name="destination">Where it goes: a key in a bucket (not a bucket root).</param>
    /// <param name="options">Whether to snapshot the file now, and how to store it (see <see cref="EnqueueOptions.Upload"/>
    /// for which upload options can be queued).</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is a bucket root, or the upload options
    /// include one that cannot be queued (<see cref="UploadOptions.Encryption"/>, <see cref="UploadOptions.IfMatch"/>,
    /// <see cref="UploadOptions.TimeToLive"/>, <see cref="UploadOptions.Expires"/>).</exception>
    /// <exception cref="IOException">The snapshot could not be copied (e.g. disk full); nothing was recorded.</exception>
    /// <exception cref="ObjectDisposedException">The queue was disposed.</exception>
    public async Task<QueuedUpload> EnqueueAsync(string localPath, DepotPath destination, EnqueueOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrEmpty(localPath);
        if (destination.Bucket is null || destination.IsRoot)
        {
            var given = destination.Bucket is null ? "no path" : $"'{destination}'";
            throw new ArgumentException($"A queued upload needs a key after the bucket (e.g. 'default/file.txt'), not {given}.", nameof(destination));
        }

        var upload = options?.Upload ?? new UploadOptions();
        RejectUnqueueable(upload);
        var full = Path.GetFullPath(localPath);
        var info = new FileInfo(full);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"Cannot enqueue '{localPath}': no such file.", full);
        }

        var item = new QueuedUpload
        {
            LocalPath = full,
            Destination = destination,
            Snapshot = options?.Snapshot ?? false,
            Size = info.Length,
            SourceModified = new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero),
            ContentType = upload.ContentType,
            Metadata = upload.Metadata,
            Overwrite = upload.Overwrite,
            Appendable = upload.Appendable,
            Enqueued = _time.GetUtcNow(),
        };
        if (item.Snapshot)
        {
            var (blob, size) = await _snapshots.CopyAsync(full, cancellationToken).ConfigureAwait(false);
            item = item with { Blob = blob, Size = size, SourceModified = null };
        }

        QueuedUpload recorded;
        try
        {
            // Not cancellable: once the copy is made, recording it is quick, and a half-cancelled insert could leave
            // a recorded item whose copy was just deleted.
            recorded = await _database.InsertAsync(item, CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            _snapshots.Delete(item.Blob);
            throw;
        }

        Interlocked.Exchange(ref _enqueued, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        return recorded;
    }

    /// <summary>Every item, in enqueue order, as it is now (including other processes' changes).</summary>
    /// <exception cref="ObjectDisposedException">The queue was disposed.</exception>
    public async Task<IReadOnlyList<QueuedUpload>> ListAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return await _database.ListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One item as it is now, or null when there is no such item (never was, or removed).</summary>
    /// <exception cref="ObjectDisposedException">The queue was disposed.</exception>
    public Task<QueuedUpload?> GetAsync(long id, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _database.GetAsync(id, cancellationToken);
    }

    /// <summary>Removes an item, whatever its state, and deletes its snapshot copy. Nothing on the server changes.</summary>
    /// <returns>True when it was removed; false when there is no such item.</returns>
    /// <exception cref="InvalidOperationException">A live runner (its lease has not run out, its process is not known
    /// to be dead) is uploading the item now; the item is left alone.</exception>
    /// <exception cref="ObjectDisposedException">The queue was disposed.</exception>
    public async Task<bool> RemoveAsync(long id, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await ReleaseDeadOwnersAsync(cancellationToken).ConfigureAwait(false);
        var (item, held) = await _database.RemoveAsync(id, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (item is null)
        {
            return false;
        }

        if (held)
        {
            throw new InvalidOperationException(
                $"Queue item {id} ({item.LocalPath} -> {item.Destination}) is being uploaded by runner {item.Owner}, whose lease runs until {item.LeaseExpires:O}. " +
                "Stop that run (or wait for the upload to end), then remove the item.");
        }

        _snapshots.Delete(item.Blob);
        return true;
    }

    /// <summary>Removes the items <paramref name="mode"/> selects, with their snapshot copies. Items a live runner is
    /// uploading are never removed, not even by <see cref="QueueClearMode.All"/>.</summary>
    /// <returns>How many items were removed.</returns>
    /// <exception cref="ObjectDisposedException">The queue was disposed.</exception>
    public async Task<int> ClearAsync(QueueClearMode mode = QueueClearMode.Done, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        if (mode == QueueClearMode.All)
        {
            await ReleaseDeadOwnersAsync(cancellationToken).ConfigureAwait(false);
        }

        var blobs = await _database.ClearAsync(mode, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        foreach (var blob in blobs)
        {
            _snapshots.Delete(blob);
        }

        return blobs.Count;
    }

    /// <summary>Makes <see cref="QueuedUploadState.Failed"/> items, and pending ones waiting out a retry delay, due now
    /// with a fresh set of attempts: after the cause of a permanent failure was fixed (the file put back, the key given
    /// the right scope), or to skip a long delay.</summary>
    /// <param name="id">One item, or null for all of them.</param>
    /// <returns>How many items were requeued (0 when <paramref name="id"/> names no such item, or one that is neither
    /// failed nor waiting).</returns>
    /// <exception cref="ObjectDisposedException">The queue was disposed.</exception>
    public async Task<int> RequeueAsync(long? id = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var requeued = await _database.RequeueAsync(id, cancellationToken).ConfigureAwait(false);
        if (requeued > 0)
        {
            Interlocked.Exchange(ref _enqueued, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }

        return requeued;
    }

    /// <summary>Stops the runs of this instance (their items go back to pending, as if cancelled), waits for them, and
    /// closes the database. Do not call it from a progress callback of a run (it would wait for itself).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        Task[] runs;
        lock (_runs)
        {
            runs = [.. _runs];
        }

        foreach (var run in runs)
        {
            try
            {
                await run.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The run's caller sees its outcome; disposing only waits for it to stop.
            }
        }

        _database.ClosePool();
        _disposing.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>Puts back to pending the items of runners on this machine whose process has ended.</summary>
    private async Task ReleaseDeadOwnersAsync(CancellationToken cancellationToken)
    {
        foreach (var owner in await _database.LeaseHoldersAsync(_owner, cancellationToken).ConfigureAwait(false))
        {
            if (QueueOwner.IsDead(owner))
            {
                await _database.ReleaseOwnerAsync(owner, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static void RejectUnqueueable(UploadOptions upload)
    {
        var refused = upload switch
        {
            { Encryption: not null } => "Encryption (the queue never stores keys: encrypt the file before enqueuing it, or upload it directly)",
            { IfMatch: not null } => "IfMatch (an ETag read now may be stale when the item is uploaded)",
            { TimeToLive: not null } => "TimeToLive",
            { Expires: not null } => "Expires",
            _ => null,
        };
        if (refused is not null)
        {
            throw new ArgumentException($"Queued uploads cannot use UploadOptions.{refused}.", nameof(upload));
        }
    }

    /// <summary>The options, validated and frozen at open.</summary>
    private sealed record Settings(int Parallelism, int MaxAttempts, TimeSpan RetryDelay, TimeSpan MaxRetryDelay, TimeSpan LeaseDuration,
        bool Watch, TimeSpan PollInterval)
    {
        public static Settings From(UploadQueueOptions options)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(options.Parallelism, 1, nameof(options.Parallelism));
            ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAttempts, 1, nameof(options.MaxAttempts));
            ArgumentOutOfRangeException.ThrowIfLessThan(options.RetryDelay, TimeSpan.Zero, nameof(options.RetryDelay));
            ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxRetryDelay, options.RetryDelay, nameof(options.MaxRetryDelay));
            ArgumentOutOfRangeException.ThrowIfLessThan(options.LeaseDuration, TimeSpan.FromMilliseconds(100), nameof(options.LeaseDuration));
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.PollInterval, TimeSpan.Zero, nameof(options.PollInterval));
            return new Settings(options.Parallelism, options.MaxAttempts, options.RetryDelay, options.MaxRetryDelay, options.LeaseDuration,
                options.Watch, options.PollInterval);
        }
    }
}
