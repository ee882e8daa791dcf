using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Depot.Core.Errors;
using Depot.Core.Hashing;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Storage;

namespace Depot.Core.Engine;

/// <summary>
/// The storage engine: every object operation, on any pair of blob and metadata stores.
/// </summary>
/// <remarks>
/// Writes stream through a SHA-256 (and MD5 when asked) into a staged blob, are verified, made durable, then
/// published under a per-key lock that also re-checks preconditions, and only then recorded in the metadata store.
/// Reads compare the metadata's blob version with the blob's current one and describe the object again (hash it)
/// when they differ, so a checksum or ETag is never stale, whether the file was changed behind Depot's back or a
/// crash fell between publish and record. Thread-safe.
/// </remarks>
public sealed partial class ObjectEngine
{
    private const int CopyBufferSize = 1 << 20;
    // Below this size a chunk is written inline; above it the write overlaps with hashing the next chunk.
    private const int InlineWriteThreshold = 256 << 10;
    private readonly IBlobStore _blobs;
    private readonly IMetadataStore _metadata;
    private readonly BucketRegistry _buckets;
    private readonly TimeProvider _time;
    private readonly KeyedLock _locks = new();
    private readonly RecordCache _records = new(capacity: 16_384, maxValueBytes: 64L << 20);
    // Changes of appender objects running, by lock key: the committed record and the file it belongs to. Readers serve
    // the committed version of a file growing under an append (DescribeOpenedAsync); directory moves and deletes wait
    // for none and refuse instead (AppendRunningBelow).
    private readonly ConcurrentDictionary<string, (ObjectRecord Record, string? Identity)> _appending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _treeGates = new(StringComparer.Ordinal);
    private const string UnsettledPrefix = "unsettled:";
    private static readonly TimeSpan UnsettledWindow = TimeSpan.FromSeconds(2);

    public ObjectEngine(IBlobStore blobs, IMetadataStore metadata, BucketRegistry buckets, TimeProvider? time = null)
    {
        _blobs = blobs;
        _metadata = metadata;
        _buckets = buckets;
        _time = time ?? TimeProvider.System;
    }

    public BucketRegistry Buckets => _buckets;

    /// <summary>Checks the bucket exists and the key fits its length limit.</summary>
    public Outcome CheckTarget(string bucket, ObjectKey key, bool forWrite)
    {
        var options = _buckets.Find(bucket);
        if (options is null)
        {
            return DepotError.NotFound($"There is no bucket named '{bucket}'.");
        }

        if (key.ByteLength > options.MaxKeyLength)
        {
            return DepotError.TooLarge($"The key is {key.ByteLength} bytes; bucket '{bucket}' allows at most {options.MaxKeyLength}.");
        }

        if (forWrite && options.ReadOnly)
        {
            return new DepotError(ErrorCodes.Forbidden, $"Bucket '{bucket}' is read-only.");
        }

        return Outcome.Success;
    }

    /// <summary>Stores a stream at a key: streamed, hashed, verified, fsync'd, published atomically, recorded.</summary>
    /// <returns>The new object's record, or <c>too_large</c>, <c>checksum_mismatch</c>, <c>precondition_failed</c>,
    /// <c>already_exists</c>, <c>conflict</c> (a directory is in the way), <c>insufficient_storage</c>.</returns>
    public async Task<Result<ObjectRecord>> PutAsync(string bucket, ObjectKey key, Stream body, PutOptions options, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, key, forWrite: true);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        var limits = _buckets.Find(bucket)!;
        if (options.ExpectedLength > limits.MaxObjectSize)
        {
            return DepotError.TooLarge($"The body is {options.ExpectedLength} bytes; bucket '{bucket}' allows at most {limits.MaxObjectSize}.");
        }

        if (options.Metadata is { } metadata && MetadataRules.Validate(metadata, limits) is { IsSuccess: false } badMetadata)
        {
            return badMetadata.Error!;
        }

        // Fail fast before any byte moves; checked again under the lock at publish time.
        var early = await CheckPreconditionAsync(bucket, key, options.Precondition, lockHeld: false, cancellationToken);
        if (!early.IsSuccess)
        {
            return early.Error!;
        }

        if (options.ExpectedLength is { } declared && _blobs is IStorageSpace space && space.GetSpace(bucket) is { } free && free.FreeBytes < declared)
        {
            return DepotError.InsufficientStorage($"Bucket '{bucket}' has less than {declared} bytes free.");
        }

        await using var writer = await _blobs.BeginWriteAsync(bucket, cancellationToken);
        byte[] sha256;
        byte[]? md5;
        // Appender objects keep a resumable hash state so that later appends hash only their own bytes.
        var appenderHash = options.Appendable ? AppenderHash.Start() : null;
        try
        {
            var received = await CopyHashedAsync(body, writer, options.ExpectedMd5 is not null, limits.MaxObjectSize, options.ExpectedLength, appenderHash, cancellationToken);
            if (!received.TryGetValue(out var hashes, out var copyError))
            {
                return copyError;
            }

            (sha256, md5) = hashes;
            if (options.ExpectedLength is { } expected && writer.Length != expected)
            {
                return DepotError.InvalidRequest($"The body had {writer.Length} bytes but {expected} were declared.");
            }

            if (options.ExpectedSha256 is { } wantSha && !CryptographicOperations.FixedTimeEquals(wantSha, sha256))
            {
                return DepotError.ChecksumMismatch($"The body's SHA-256 is {Convert.ToHexStringLower(sha256)}, not the {Convert.ToHexStringLower(wantSha)} that was declared; nothing was stored.");
            }

            if (options.ExpectedMd5 is { } wantMd5 && !CryptographicOperations.FixedTimeEquals(wantMd5, md5!))
            {
                return DepotError.ChecksumMismatch($"The body's MD5 is {Convert.ToBase64String(md5!)}, not the {Convert.ToBase64String(wantMd5)} that was declared; nothing was stored.");
            }

            await writer.FlushDurableAsync(cancellationToken);
        }
        catch (StorageFullException)
        {
            return DepotError.InsufficientStorage($"The device that holds bucket '{bucket}' is full; nothing was stored.");
        }

        return await CommitAsync(bucket, key, writer.PublishAsync, sha256, appenderHash?.Export(), options, cancellationToken);
    }

    /// <summary>Publishes staged, verified, durable bytes at a key and records them: under the key's lock (and the
    /// master's, for a slave), re-checking the precondition first. Shared by plain uploads and upload sessions.</summary>
    /// <param name="publish">Makes the staged bytes the file at the key (atomic rename); null when a directory is in the way.</param>
    internal async Task<Result<ObjectRecord>> CommitAsync(string bucket, ObjectKey key, Func<ObjectKey, CancellationToken, ValueTask<BlobStat?>> publish, byte[] sha256, byte[]? hashState, PutOptions options, CancellationToken cancellationToken)
    {
        // A slave is published under its master's lock too, so the master cannot be deleted in between.
        string[] lockKeys = options.Master is { } master ? [LockKey(bucket, key), LockKey(bucket, master)] : [LockKey(bucket, key)];
        using (await _locks.AcquireAllAsync(lockKeys, cancellationToken))
        {
            var late = await CheckPreconditionAsync(bucket, key, options.Precondition, lockHeld: true, cancellationToken);
            if (!late.IsSuccess)
            {
                return late.Error!;
            }

            if (options.Master is { } masterKey)
            {
                var masterRecord = await DescribeAsync(bucket, masterKey, lockHeld: true, cancellationToken);
                if (masterRecord is null || masterRecord.IsExpiredAt(_time.GetUtcNow()))
                {
                    return DepotError.NotFound($"There is no master file '{masterKey}' in bucket '{bucket}'.");
                }

                if (masterRecord.Master is not null)
                {
                    return DepotError.Conflict($"'{masterKey}' is itself a slave file; a slave cannot have slaves.");
                }

                // Replacing a master by a slave would chain slaves (and orphan them when the new master is deleted).
                if ((await _metadata.GetSlaveKeysAsync(bucket, key.Value, cancellationToken)).Count > 0)
                {
                    return DepotError.Conflict($"'{key}' has slave files of its own; a slave cannot have slaves.");
                }
            }

            // Only a replaced file has a previous record worth keeping (created time, content type, metadata).
            var replaced = await _blobs.StatAsync(bucket, key, cancellationToken) is { IsDirectory: false } file ? file : null;
            var previous = replaced is null ? null : await GetRecordAsync(bucket, key.Value, cancellationToken);
            if (previous is not null && previous.BlobVersion != replaced!.Version)
            {
                // The cache may hold an older record than the store; the store has the latest word on metadata.
                previous = await _metadata.GetAsync(bucket, key.Value, cancellationToken);
            }

            if (previous is not null && previous.IsExpiredAt(_time.GetUtcNow()))
            {
                (previous, replaced) = (null, null); // an expired entry is gone: nothing of it carries over
            }
            // From here the write goes through even if the client goes away: it has been accepted.
            var stat = await publish(key, CancellationToken.None);
            if (stat is null)
            {
                return DepotError.Conflict($"'{key}' is a directory or lies below a file; nothing was stored.");
            }

            var record = new ObjectRecord(
                bucket,
                key.Value,
                stat.Size,
                sha256,
                options.ContentType ?? previous?.ContentType,
                previous?.CreatedUtc ?? replaced?.ModifiedUtc ?? _time.GetUtcNow(),
                stat.ModifiedUtc,
                stat.Version,
                options.Metadata ?? previous?.Metadata ?? EmptyMetadata)
            {
                Appendable = options.Appendable,
                HashState = options.Appendable ? hashState : null,
                ExpiresUtc = options.ExpiresUtc,
                Master = options.Master?.Value,
            };
            await _metadata.PutAsync(record, CancellationToken.None);
            _records.Set(record);
            return record with { Created = replaced is null };
        }
    }

    /// <summary>The current record of a file, described again first if its bytes changed since it was recorded.</summary>
    /// <returns>The record; <c>not_found</c> (also for directories: see <see cref="StatAsync"/>).</returns>
    public async Task<Result<ObjectRecord>> GetAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, key, forWrite: false);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        var described = await DescribeAsync(bucket, key, cancellationToken);
        return described is { } record && !record.IsExpiredAt(_time.GetUtcNow()) ? record : DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.");
    }

    /// <summary>A file's record, or a directory.</summary>
    public async Task<Result<StatResult>> StatAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, key, forWrite: false);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        var stat = await _blobs.StatAsync(bucket, key, cancellationToken);
        if (stat is null)
        {
            return DepotError.NotFound($"There is nothing at '{key}' in bucket '{bucket}'.");
        }

        if (stat.IsDirectory)
        {
            return new StatResult(bucket, key.Value, true, null, stat.ModifiedUtc);
        }

        var record = await DescribeAsync(bucket, key, cancellationToken);
        return record is null || record.IsExpiredAt(_time.GetUtcNow())
            ? DepotError.NotFound($"There is nothing at '{key}' in bucket '{bucket}'.")
            : new StatResult(bucket, key.Value, false, record, record.ModifiedUtc);
    }

    /// <summary>Opens the object's bytes together with the record that describes exactly those bytes.</summary>
    /// <remarks>The record is checked against the opened file (fstat), and the file is hashed again when it changed
    /// since it was recorded, so the ETag and checksum sent with the bytes are theirs.</remarks>
    public async Task<Result<(ObjectRecord Record, Stream Content)>> OpenReadAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, key, forWrite: false);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        // A small object read recently: its cached bytes are served when the file is still exactly that version.
        if (_blobs is IBlobVersionProbe probe && _records.TryGetValue(bucket, key.Value) is var (cachedRecord, cachedValue)
            && probe.ProbeVersion(bucket, key) == cachedRecord.BlobVersion)
        {
            return cachedRecord.IsExpiredAt(_time.GetUtcNow())
                ? DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.")
                : (cachedRecord, new MemoryStream(cachedValue, writable: false));
        }

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var read = await _blobs.OpenReadAsync(bucket, key, cancellationToken);
            if (read is null)
            {
                return DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.");
            }

            ObjectRecord? record;
            try
            {
                record = await DescribeOpenedAsync(bucket, key, read, lockHeld: false, cancellationToken);
            }
            catch
            {
                await read.Content.DisposeAsync();
                throw;
            }

            if (record is not null && record.IsExpiredAt(_time.GetUtcNow()))
            {
                await read.Content.DisposeAsync();
                return DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.");
            }

            // Only a settled record: one described moments ago is "unsettled" in the cache and must be hashed again.
            if (record is not null && record.Size <= RecordCache.MaxValueSize && record.Size == read.Stat.Size
                && record.BlobVersion == read.Stat.Version && _records.TryGet(bucket, key.Value) is { } settled
                && ReferenceEquals(settled, record))
            {
                // Small and settled: keep its bytes with its record, so the next read of it does not open the file.
                await using (read.Content)
                {
                    var value = new byte[record.Size];
                    read.Content.Seek(0, SeekOrigin.Begin);
                    await read.Content.ReadExactlyAsync(value, cancellationToken);
                    if (read.Restat().Version == record.BlobVersion)
                    {
                        _records.SetValue(record, value);
                    }

                    return (record, new MemoryStream(value, writable: false));
                }
            }

            if (record is not null)
            {
                read.Content.Seek(0, SeekOrigin.Begin);
                // During an in-place append the file is longer than the version being served: serve exactly that version.
                var content = record.Size < read.Stat.Size ? new BoundedReadStream(read.Content, record.Size) : read.Content;
                return (record, content);
            }

            await read.Content.DisposeAsync();
        }

        return DepotError.Conflict($"'{key}' is changing too fast to be read consistently; try again.");
    }

    /// <summary>Deletes a file (not a directory), optionally only if its ETag matches. A master's slaves go first.</summary>
    public async Task<Outcome> DeleteAsync(string bucket, ObjectKey key, WritePrecondition? precondition, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, key, forWrite: true);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        return await DeleteWithSlavesAsync(bucket, key, precondition, onlyIfExpired: false, cancellationToken);
    }

    /// <param name="onlyIfExpired">Reclaiming: delete only if the object is (still) expired; otherwise <c>conflict</c>.</param>
    /// <param name="lockTimeout">How long to wait for the locks before giving up with <c>conflict</c> (the sweeper does not
    /// wait behind a long append); null waits as long as it takes.</param>
    private async Task<Outcome> DeleteWithSlavesAsync(string bucket, ObjectKey key, WritePrecondition? precondition, bool onlyIfExpired, CancellationToken cancellationToken, TimeSpan? lockTimeout = null)
    {
        // Lock the file with its slaves (in the lock order); a slave that appeared meanwhile means another round.
        var slaves = await _metadata.GetSlaveKeysAsync(bucket, key.Value, cancellationToken);
        while (true)
        {
            IDisposable held;
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                if (lockTimeout is { } timeout)
                {
                    wait.CancelAfter(timeout);
                }

                try
                {
                    held = await _locks.AcquireAllAsync([LockKey(bucket, key.Value), .. slaves.Select(s => LockKey(bucket, s))], wait.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return DepotError.Conflict($"'{key}' is busy; try again.");
                }
            }

            using (held)
            {
                var now = await _metadata.GetSlaveKeysAsync(bucket, key.Value, cancellationToken);
                if (!now.SequenceEqual(slaves, StringComparer.Ordinal))
                {
                    slaves = now;
                    continue;
                }

                var stat = await _blobs.StatAsync(bucket, key, cancellationToken);
                if (stat is null)
                {
                    return DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.");
                }

                if (stat.IsDirectory)
                {
                    return DepotError.Conflict($"'{key}' is a directory; delete it with recursive=true (or as a directory path ending in '/').");
                }

                var pre = await CheckPreconditionAsync(bucket, key, precondition, lockHeld: true, cancellationToken);
                if (!pre.IsSuccess)
                {
                    return pre.Error!;
                }

                var expired = (await DescribeAsync(bucket, key, lockHeld: true, cancellationToken))?.IsExpiredAt(_time.GetUtcNow()) == true;
                if (onlyIfExpired && !expired)
                {
                    return DepotError.Conflict($"'{key}' was replaced before it could be reclaimed.");
                }

                // Slaves first: a crash part-way leaves a master with fewer slaves, never slaves without their master.
                foreach (var slave in slaves)
                {
                    await RemoveAsync(bucket, ObjectKey.Parse(slave).Value!);
                }

                await RemoveAsync(bucket, key);
                // An expired entry was already invisible: deleting it reclaims it, but to the caller it was not there.
                return expired && !onlyIfExpired ? DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.") : Outcome.Success;
            }
        }
    }

    /// <summary>Removes a file and its record; the caller holds the key's lock.</summary>
    private async Task RemoveAsync(string bucket, ObjectKey key)
    {
        await _blobs.DeleteFileAsync(bucket, key, CancellationToken.None);
        await _metadata.DeleteAsync(bucket, key.Value, CancellationToken.None);
        _records.Remove(bucket, key.Value);
    }

    /// <summary>Deletes a directory; refuses a non-empty one unless <paramref name="recursive"/>.</summary>
    public async Task<Outcome> DeleteDirectoryAsync(string bucket, ObjectKey key, bool recursive, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, key, forWrite: true);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        using var gate = await TreeGateAsync(bucket, cancellationToken);
        if (AppendRunningBelow(bucket, key))
        {
            return DepotError.Conflict($"An append is running inside '{key}'; try again when it is done.");
        }

        switch (await _blobs.DeleteDirectoryAsync(bucket, key, recursive, cancellationToken))
        {
            case DirectoryDeleteResult.NotFound:
                return DepotError.NotFound($"There is no directory '{key}' in bucket '{bucket}'.");
            case DirectoryDeleteResult.NotADirectory:
                return DepotError.Conflict($"'{key}' is a file, not a directory.");
            case DirectoryDeleteResult.ChangedDuringDelete:
                return DepotError.Conflict($"Something was written into '{key}' while it was being deleted; try again.");
            case DirectoryDeleteResult.NotEmpty:
                return DepotError.Conflict($"The directory '{key}' is not empty; add recursive=true to delete it with its contents.");
        }

        await _metadata.DeleteTreeAsync(bucket, key.Value, CancellationToken.None);
        _records.Clear();
        return Outcome.Success;
    }

    /// <summary>Creates a directory and its parents. Succeeds when it already exists.</summary>
    public async Task<Result<StatResult>> CreateDirectoryAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, key, forWrite: true);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        if (!await _blobs.CreateDirectoryAsync(bucket, key, cancellationToken))
        {
            return DepotError.Conflict($"A file is in the way of directory '{key}'.");
        }

        return await StatAsync(bucket, key, cancellationToken);
    }

    /// <summary>Renames a file or directory inside a bucket, atomically.</summary>
    public async Task<Result<StatResult>> MoveAsync(string bucket, ObjectKey from, ObjectKey to, bool overwrite, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, from, forWrite: true);
        if (check.IsSuccess)
        {
            check = CheckTarget(bucket, to, forWrite: true);
        }

        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        if (from == to && await StatAsync(bucket, from, cancellationToken) is { IsSuccess: true, Value.IsDirectory: false } same)
        {
            return same; // a file onto itself: nothing to do (and nothing to lose)
        }

        using (await _locks.AcquireAllAsync([LockKey(bucket, from), LockKey(bucket, to)], cancellationToken))
        {
            // An append in place holds its file open by inode: moving the directory under it would leave its record,
            // and a crash's undo note, behind at the old key. The gate makes the check and the rename one step.
            using var gate = await TreeGateAsync(bucket, cancellationToken);
            if (AppendRunningBelow(bucket, from) || AppendRunningBelow(bucket, to))
            {
                return DepotError.Conflict($"An append is running inside '{from}' or '{to}'; try again when it is done.");
            }

            var sourceStat = await _blobs.StatAsync(bucket, from, cancellationToken);
            var sourceRecord = sourceStat is { IsDirectory: false } ? await _metadata.GetAsync(bucket, from.Value, cancellationToken) : null;
            var now = _time.GetUtcNow();
            if (sourceRecord is not null && sourceRecord.IsExpiredAt(now))
            {
                // An expired entry is gone already: moving it must not replace (or be) a visible object.
                return DepotError.NotFound($"There is nothing at '{from}' in bucket '{bucket}'.");
            }

            // A file replaced by a move would hand its slaves to whatever arrives (or make a slave its own master's slave).
            if (overwrite && sourceStat is { IsDirectory: false } && (await _metadata.GetSlaveKeysAsync(bucket, to.Value, cancellationToken)).Count > 0)
            {
                return DepotError.Conflict($"'{to}' has slave files; delete it (with its slaves) before moving another file over it.");
            }

            // An expired file at the destination is gone already too: like a create-only put, the move may take its place.
            var replaceExpired = !overwrite && sourceStat is { IsDirectory: false }
                && await _blobs.StatAsync(bucket, to, cancellationToken) is { IsDirectory: false }
                && (await _metadata.GetAsync(bucket, to.Value, cancellationToken))?.IsExpiredAt(now) == true;
            switch (await _blobs.MoveAsync(bucket, from, to, overwrite || replaceExpired, cancellationToken))
            {
                case MoveResult.SourceNotFound:
                    return DepotError.NotFound($"There is nothing at '{from}' in bucket '{bucket}'.");
                case MoveResult.DestinationExists:
                    return DepotError.AlreadyExists($"'{to}' already exists; add overwrite=true to replace a file.");
                case MoveResult.DestinationParentIsFile:
                    return DepotError.Conflict($"A file is in the way of '{to}'.");
                case MoveResult.IntoItself:
                    return DepotError.Conflict($"Cannot move '{from}' into itself.");
            }

            await _metadata.MoveTreeAsync(bucket, from.Value, to.Value, CancellationToken.None);
            _records.Clear();

            // rename(2) changes the moved inode's ctime, hence a moved file's version; its bytes did not change, so its
            // record follows under the lock rather than being hashed again on the next read.
            // Only a record that described exactly the source's bytes is carried over; anything else is hashed again.
            if (sourceRecord is not null && sourceRecord.BlobVersion == sourceStat!.Version
                && await _blobs.StatAsync(bucket, to, CancellationToken.None) is { IsDirectory: false } moved)
            {
                await _metadata.PutAsync(sourceRecord with { Key = to.Value, BlobVersion = moved.Version }, CancellationToken.None);
            }
        }

        return await StatAsync(bucket, to, cancellationToken);
    }

    /// <summary>Copies a file (within or across buckets). The copy is written and verified like any upload.</summary>
    public async Task<Result<ObjectRecord>> CopyAsync(string sourceBucket, ObjectKey source, string bucket, ObjectKey destination, bool overwrite, CancellationToken cancellationToken)
    {
        var opened = await OpenReadAsync(sourceBucket, source, cancellationToken);
        if (!opened.TryGetValue(out var read, out var error))
        {
            if (error.Code == ErrorCodes.NotFound && await _blobs.StatAsync(sourceBucket, source, cancellationToken) is { IsDirectory: true })
            {
                return DepotError.Conflict($"'{source}' is a directory; copy copies files (copy each file, or move the directory).");
            }

            return error;
        }

        await using (read.Content)
        {
            var copied = await PutAsync(bucket, destination, read.Content, new PutOptions
            {
                ContentType = read.Record.ContentType,
                ExpectedLength = read.Record.Size,
                ExpectedSha256 = read.Record.Sha256,
                Metadata = read.Record.Metadata,
                Precondition = overwrite ? null : new WritePrecondition.MustNotExist(),
            }, cancellationToken);
            return copied;
        }
    }

    /// <summary>One page of a directory listing, with checksums where they are known and current and the files' user
    /// metadata, all from one batched record lookup per page.</summary>
    public async Task<Result<ListPage>> ListAsync(string bucket, ObjectKey directory, ListOptions options, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, directory, forWrite: false);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        if (!ListCursor.Decode(options.Cursor).IsSuccess)
        {
            return ListCursor.Decode(options.Cursor).Error!;
        }

        var page = await _blobs.ListAsync(bucket, directory, options, cancellationToken);
        if (page is null)
        {
            var stat = await _blobs.StatAsync(bucket, directory, cancellationToken);
            return stat is { IsDirectory: false }
                ? DepotError.Conflict($"'{directory}' is a file, not a directory.")
                : DepotError.NotFound($"There is no directory '{directory}' in bucket '{bucket}'.");
        }

        var fileKeys = page.Entries.Where(e => !e.Stat.IsDirectory).Select(e => e.Key.Value).ToList();
        var records = fileKeys.Count == 0
            ? new Dictionary<string, ObjectRecord>()
            : await _metadata.GetManyAsync(bucket, fileKeys, cancellationToken);
        var now = _time.GetUtcNow();
        // Expired entries are invisible at once (a page may then be shorter than the limit; the cursor still continues).
        var entries = page.Entries
            .Where(e => e.Stat.IsDirectory || !records.TryGetValue(e.Key.Value, out var r) || !r.IsExpiredAt(now))
            .Select(e =>
            {
                if (e.Stat.IsDirectory || !records.TryGetValue(e.Key.Value, out var r))
                {
                    return new ListEntry(e.Key.Value, e.Key.Name, e.Stat.IsDirectory, e.Stat.Size, e.Stat.ModifiedUtc, null);
                }

                // The checksum only while it describes the bytes on disk; the metadata is the object's either way (a file
                // changed behind Depot's back keeps it when described again), so a listing shows what ?stat would.
                var sha = r.BlobVersion == e.Stat.Version ? r.Sha256Hex : null;
                return new ListEntry(e.Key.Value, e.Key.Name, false, e.Stat.Size, e.Stat.ModifiedUtc, sha, r.Metadata.Count == 0 ? null : r.Metadata);
            }).ToList();
        return new ListPage(entries, page.NextCursor);
    }

    /// <summary>Describes files that have no current record yet (a startup scan of a served directory).</summary>
    /// <returns>How many files were described.</returns>
    public async Task<int> DescribeAllAsync(string bucket, CancellationToken cancellationToken)
    {
        var described = 0;
        string? cursor = null;
        do
        {
            var page = await _blobs.ListAsync(bucket, ObjectKey.Root, new ListOptions(Recursive: true, Limit: 1000, Cursor: cursor), cancellationToken);
            if (page is null)
            {
                return described;
            }

            var files = page.Entries.Where(e => !e.Stat.IsDirectory).ToList();
            var records = await _metadata.GetManyAsync(bucket, files.Select(f => f.Key.Value).ToList(), cancellationToken);
            foreach (var file in files)
            {
                if (!records.TryGetValue(file.Key.Value, out var r) || r.BlobVersion != file.Stat.Version)
                {
                    if (await DescribeAsync(bucket, file.Key, cancellationToken) is not null)
                    {
                        described++;
                    }
                }
            }

            cursor = page.NextCursor;
        }
        while (cursor is not null);

        return described;
    }

    /// <summary>The current record of the file at a key (described first if needed), or null if there is no file.</summary>
    private async Task<ObjectRecord?> DescribeAsync(string bucket, ObjectKey key, CancellationToken cancellationToken) =>
        await DescribeAsync(bucket, key, lockHeld: false, cancellationToken);

    private async Task<ObjectRecord?> DescribeAsync(string bucket, ObjectKey key, bool lockHeld, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var read = await _blobs.OpenReadAsync(bucket, key, cancellationToken);
            if (read is null)
            {
                return null;
            }

            await using (read.Content)
            {
                if (await DescribeOpenedAsync(bucket, key, read, lockHeld, cancellationToken) is { } record)
                {
                    return record;
                }
            }
        }

        return null;
    }

    /// <summary>The record of exactly the opened bytes: the stored one when its version matches, otherwise the bytes are
    /// hashed now (one describer per key at a time) and recorded. Null when they changed while being hashed.</summary>
    private async Task<ObjectRecord?> DescribeOpenedAsync(string bucket, ObjectKey key, BlobRead read, bool lockHeld, CancellationToken cancellationToken)
    {
        var record = await GetRecordAsync(bucket, key.Value, cancellationToken);
        if (record is not null && record.BlobVersion == read.Stat.Version)
        {
            return record;
        }

        // An append in place is running: the committed version is the file's first bytes, unchanged by the append.
        if (_appending.TryGetValue(LockKey(bucket, key), out var committed) && committed.Identity == read.Stat.Identity
            && committed.Identity is not null && read.Stat.Size >= committed.Record.Size)
        {
            return committed.Record;
        }

        // The key lock is not reentrant: callers that already hold it (conditional writes) describe under their lock.
        using (lockHeld ? null : await _locks.AcquireAsync(LockKey(bucket, key), cancellationToken))
        {
            record = await _metadata.GetAsync(bucket, key.Value, cancellationToken);
            if (record is not null && record.BlobVersion == read.Stat.Version)
            {
                _records.Set(record);
                return record;
            }

            if (read.Restat().Version != read.Stat.Version)
            {
                return null; // changed since it was opened (an append that finished while we waited): open again
            }

            read.Content.Seek(0, SeekOrigin.Begin);
            var sha = await ContentHasher.Sha256OfAsync(read.Content, cancellationToken);
            if (read.Restat().Version != read.Stat.Version)
            {
                return null; // modified in place while we read it
            }

            // Bytes changed from outside very recently may change again within the filesystem's timestamp granularity
            // without their version changing (git's "racily clean" problem): such a record is marked unsettled, never
            // matches a version, and the file is hashed again on its next read until it has been quiet for a while.
            var settled = _time.GetUtcNow() - read.Stat.ModifiedUtc >= UnsettledWindow;
            var version = settled ? read.Stat.Version : UnsettledPrefix + read.Stat.Version;
            // A file Depot did not write has existed at least since its modification time.
            // Like its content type and metadata, whether the key is an appender object survives any change (also a
            // rewrite that crashed between publishing and recording). Expiry and a slave link belong to the very file:
            // they survive a change made in place behind Depot's back, not a file put in its place (which must not expire,
            // or be deleted with a master). The appender's hash state never survives: it is rebuilt on the next append.
            var sameFile = record is not null && (_blobs is not IBlobVersionProbe probe
                || probe.IsSameFile(record.BlobVersion.StartsWith(UnsettledPrefix, StringComparison.Ordinal) ? record.BlobVersion[UnsettledPrefix.Length..] : record.BlobVersion, read.Stat));
            var fresh = new ObjectRecord(bucket, key.Value, read.Stat.Size, sha, record?.ContentType, record?.CreatedUtc ?? read.Stat.ModifiedUtc, read.Stat.ModifiedUtc, version, record?.Metadata ?? EmptyMetadata)
            {
                Appendable = record?.Appendable ?? false,
                ExpiresUtc = sameFile ? record!.ExpiresUtc : null,
                Master = sameFile ? record!.Master : null,
            };
            // Record it only if these bytes are still the ones at the key: a reader that opened a version just before
            // an overwrite must not put the old version's record over the new one.
            if ((await _blobs.StatAsync(bucket, key, cancellationToken))?.Version == read.Stat.Version)
            {
                await _metadata.PutAsync(fresh, CancellationToken.None);
                _records.Set(fresh);
            }

            return fresh with { BlobVersion = read.Stat.Version };
        }
    }

    private async Task<ObjectRecord?> GetRecordAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        if (_records.TryGet(bucket, key) is { } cached)
        {
            return cached;
        }

        var record = await _metadata.GetAsync(bucket, key, cancellationToken);
        if (record is not null)
        {
            // Only fill a gap: a writer may have cached a newer record since the store was read (a metadata change keeps
            // the blob version, so a version check would not tell them apart).
            _records.TryAdd(record);
        }

        return record;
    }

    /// <param name="lockHeld">True when the caller holds the key's lock (describing must then not take it again).</param>
    internal async Task<Outcome> CheckPreconditionAsync(string bucket, ObjectKey key, WritePrecondition? precondition, bool lockHeld, CancellationToken cancellationToken)
    {
        switch (precondition)
        {
            case null:
                return Outcome.Success;
            case WritePrecondition.MustNotExist:
                var existing = await _blobs.StatAsync(bucket, key, cancellationToken);
                if (existing is null || (!existing.IsDirectory && (await DescribeAsync(bucket, key, lockHeld, cancellationToken))?.IsExpiredAt(_time.GetUtcNow()) == true))
                {
                    return Outcome.Success; // absent, or an expired entry (invisible already)
                }

                return DepotError.AlreadyExists($"'{key}' already exists in bucket '{bucket}'.");
        }

        var current = await DescribeAsync(bucket, key, lockHeld, cancellationToken);
        if (current is not null && current.IsExpiredAt(_time.GetUtcNow()))
        {
            current = null;
        }

        switch (precondition)
        {
            case WritePrecondition.MustExist when current is null:
                return DepotError.PreconditionFailed($"'{key}' does not exist (If-Match: *).");
            case WritePrecondition.ETagMatches m when current is null || !m.ETags.Any(t => string.Equals(t, current.ETag, StringComparison.Ordinal)):
                return new DepotError(ErrorCodes.PreconditionFailed, current is null
                    ? $"'{key}' does not exist, so its ETag cannot match."
                    : $"The current ETag of '{key}' is {current.ETag}, not the one given.")
                {
                    Extensions = current is null ? null : new Dictionary<string, object?> { ["etag"] = current.ETag },
                };
            case WritePrecondition.ETagDiffers d when current is not null && d.ETags.Any(t => WeakEquals(t, current.ETag)):
                return new DepotError(ErrorCodes.PreconditionFailed, $"The current ETag of '{key}' is one of those given.")
                {
                    Extensions = new Dictionary<string, object?> { ["etag"] = current.ETag },
                };
            default:
                return Outcome.Success;
        }
    }

    /// <summary>If-None-Match compares weakly (RFC 9110 §13.1.2); If-Match strongly (§13.1.1).</summary>
    private static bool WeakEquals(string given, string current) =>
        string.Equals(given.StartsWith("W/", StringComparison.Ordinal) ? given[2..] : given, current, StringComparison.Ordinal);

    /// <summary>Reads the body in large blocks, hashing each block while the previous one is being written.</summary>
    private static async Task<Result<(byte[] Sha256, byte[]? Md5)>> CopyHashedAsync(Stream body, IBlobWriter writer, bool withMd5, long maxBytes, long? declaredLength, AppenderHash? appenderHash, CancellationToken cancellationToken)
    {
        using var hasher = new ContentHasher(withMd5);
        // Small declared bodies get small buffers: renting 2 MiB per 4 KiB upload exhausts the shared pool under
        // concurrency and turns every upload into large-object allocations.
        var size = declaredLength is { } declared && declared < CopyBufferSize ? (int)Math.Max(declared + 1, 4096) : CopyBufferSize;
        var buffers = new[] { ArrayPool<byte>.Shared.Rent(size), ArrayPool<byte>.Shared.Rent(size) };
        var pending = Task.CompletedTask;
        var current = 0;
        long total = 0;
        try
        {
            while (true)
            {
                var buffer = buffers[current];
                var n = await body.ReadAtLeastAsync(buffer.AsMemory(0, size), size, throwOnEndOfStream: false, cancellationToken);
                if (n == 0)
                {
                    break;
                }

                total += n;
                if (total > maxBytes)
                {
                    await pending;
                    return DepotError.TooLarge($"The body is larger than the bucket's limit of {maxBytes} bytes; nothing was stored.");
                }

                hasher.Append(buffer.AsSpan(0, n));
                appenderHash?.Append(buffer.AsSpan(0, n));
                await pending;
                if (n < InlineWriteThreshold)
                {
                    await writer.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                    pending = Task.CompletedTask;
                }
                else
                {
                    var chunk = buffer.AsMemory(0, n);
                    pending = Task.Run(async () => await writer.WriteAsync(chunk, cancellationToken), cancellationToken);
                }

                current ^= 1;
                if (n < size)
                {
                    break; // ReadAtLeast returned short: the body ended
                }
            }

            await pending;
            var sha256 = hasher.FinishSha256();
            if (appenderHash is not null && !sha256.AsSpan().SequenceEqual(appenderHash.Digest()))
            {
                throw new InvalidOperationException("The resumable SHA-256 disagrees with the platform's; refusing to record it.");
            }

            return (sha256, hasher.FinishMd5());
        }
        finally
        {
            try
            {
                await pending;
            }
            catch (Exception) when (!pending.IsCompletedSuccessfully)
            {
                // Already surfaced above or irrelevant once we are failing; the buffers must not be returned in use.
            }

            ArrayPool<byte>.Shared.Return(buffers[0]);
            ArrayPool<byte>.Shared.Return(buffers[1]);
        }
    }

    /// <summary>The bucket's tree gate: held briefly by a change of an appender object while it registers itself, and
    /// by a directory move or delete while it checks for such changes and renames or deletes — so one never slips
    /// between the other's check and act. Innermost: never held while waiting for a key lock.</summary>
    private async Task<IDisposable> TreeGateAsync(string bucket, CancellationToken cancellationToken)
    {
        var gate = _treeGates.GetOrAdd(bucket, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        return new GateRelease(gate);
    }

    private sealed class GateRelease(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }

    /// <summary>Registers a running change of an appender object (see <see cref="_appending"/>), if the file it opened is
    /// still the one at its key: a directory moved away meanwhile makes it a conflict.</summary>
    private async Task<bool> RegisterChangeAsync(string bucket, ObjectKey key, ObjectRecord committed, string? identity, CancellationToken cancellationToken)
    {
        using (await TreeGateAsync(bucket, cancellationToken))
        {
            var now = await _blobs.StatAsync(bucket, key, cancellationToken);
            if (now is null || now.IsDirectory || (identity is not null && now.Identity is not null && now.Identity != identity))
            {
                return false;
            }

            _appending[LockKey(bucket, key)] = (committed, identity);
            return true;
        }
    }

    /// <summary>True while an in-place append runs on a file strictly below the directory <paramref name="directory"/>.</summary>
    private bool AppendRunningBelow(string bucket, ObjectKey directory)
    {
        if (_appending.IsEmpty)
        {
            return false;
        }

        var prefix = directory.IsRoot ? bucket + "\n" : LockKey(bucket, directory) + "/";
        return _appending.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal));
    }

    private static string LockKey(string bucket, ObjectKey key) => LockKey(bucket, key.Value);

    private static string LockKey(string bucket, string key) => bucket + "\n" + key;

    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata = new Dictionary<string, string>();
}
