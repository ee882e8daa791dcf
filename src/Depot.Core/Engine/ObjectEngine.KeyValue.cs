using Depot.Core.Errors;
using Depot.Core.Ids;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Storage;

namespace Depot.Core.Engine;

/// <summary>Key-value and FastDFS operations that are compositions of the object operations: server-assigned ids,
/// slave files, get-and-delete, metadata changes and the reclaiming of expired entries.</summary>
public sealed partial class ObjectEngine
{
    /// <summary>Stores a slave file of <paramref name="master"/> at its derived key (see <see cref="FileIds.SlaveKey"/>).</summary>
    /// <returns>The slave's record; <c>invalid_path</c> (prefix), <c>not_found</c> (master), <c>conflict</c> (the master is a
    /// slave), <c>already_exists</c> (unless <paramref name="overwrite"/>).</returns>
    public async Task<Result<ObjectRecord>> PutSlaveAsync(string bucket, ObjectKey master, string prefix, string? extension, bool overwrite, Stream body, PutOptions options, CancellationToken cancellationToken)
    {
        if (!FileIds.SlaveKey(master, prefix, extension).TryGetValue(out var slave, out var error))
        {
            return error;
        }

        var check = CheckTarget(bucket, master, forWrite: false);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        // Fail fast before any byte moves; PutAsync checks again under the master's lock when it publishes.
        var masterRecord = await GetAsync(bucket, master, cancellationToken);
        if (!masterRecord.TryGetValue(out var found, out var masterError))
        {
            return masterError.Code == ErrorCodes.NotFound ? DepotError.NotFound($"There is no master file '{master}' in bucket '{bucket}'.") : masterError;
        }

        if (found.Master is not null)
        {
            return DepotError.Conflict($"'{master}' is itself a slave file; a slave cannot have slaves.");
        }

        return await PutAsync(bucket, slave, body, options with
        {
            Master = master,
            Precondition = overwrite ? null : new WritePrecondition.MustNotExist(),
        }, cancellationToken);
    }

    /// <summary>Get-and-delete: removes the object and hands over exactly the bytes that were removed.</summary>
    /// <returns>The removed record and its bytes (the caller disposes the stream); <c>not_found</c>; <c>conflict</c> for a
    /// directory or a master with slaves.</returns>
    public async Task<Result<(ObjectRecord Record, Stream Content)>> TakeAsync(string bucket, ObjectKey key, WritePrecondition? precondition, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, key, forWrite: true);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        using (await _locks.AcquireAsync(LockKey(bucket, key), cancellationToken))
        {
            var stat = await _blobs.StatAsync(bucket, key, cancellationToken);
            if (stat is { IsDirectory: true })
            {
                return DepotError.Conflict($"'{key}' is a directory.");
            }

            var read = stat is null ? null : await _blobs.OpenReadAsync(bucket, key, cancellationToken);
            if (read is null)
            {
                return DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.");
            }

            var handedOver = false;
            try
            {
                var record = await DescribeOpenedAsync(bucket, key, read, lockHeld: true, cancellationToken);
                if (record is null || record.IsExpiredAt(_time.GetUtcNow()))
                {
                    return DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.");
                }

                var pre = await CheckPreconditionAsync(bucket, key, precondition, lockHeld: true, cancellationToken);
                if (!pre.IsSuccess)
                {
                    return pre.Error!;
                }

                if ((await _metadata.GetSlaveKeysAsync(bucket, key.Value, cancellationToken)).Count > 0)
                {
                    return DepotError.Conflict($"'{key}' has slave files; delete it instead (that deletes its slaves too).");
                }

                // The open handle keeps the bytes readable after the name is gone.
                await RemoveAsync(bucket, key);
                read.Content.Seek(0, SeekOrigin.Begin);
                handedOver = true;
                return (record, record.Size < read.Stat.Size ? new BoundedReadStream(read.Content, record.Size) : read.Content);
            }
            finally
            {
                if (!handedOver)
                {
                    await read.Content.DisposeAsync();
                }
            }
        }
    }

    /// <summary>Changes an object's user metadata (its bytes, ETag and checksum stay as they are).</summary>
    /// <param name="change">Computes the new metadata from the current one; its errors are returned as they are.</param>
    public async Task<Result<ObjectRecord>> UpdateMetadataAsync(string bucket, ObjectKey key, Func<IReadOnlyDictionary<string, string>, Result<IReadOnlyDictionary<string, string>>> change, WritePrecondition? precondition, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, key, forWrite: true);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        using (await _locks.AcquireAsync(LockKey(bucket, key), cancellationToken))
        {
            var stat = await _blobs.StatAsync(bucket, key, cancellationToken);
            if (stat is { IsDirectory: true })
            {
                return DepotError.Conflict($"'{key}' is a directory; only objects have metadata.");
            }

            var record = stat is null ? null : await DescribeAsync(bucket, key, lockHeld: true, cancellationToken);
            if (record is null || record.IsExpiredAt(_time.GetUtcNow()))
            {
                return DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.");
            }

            var pre = await CheckPreconditionAsync(bucket, key, precondition, lockHeld: true, cancellationToken);
            if (!pre.IsSuccess)
            {
                return pre.Error!;
            }

            if (!change(record.Metadata).TryGetValue(out var metadata, out var changeError))
            {
                return changeError;
            }

            var valid = MetadataRules.Validate(metadata, _buckets.Find(bucket)!);
            if (!valid.IsSuccess)
            {
                return valid.Error!;
            }

            // A record described moments ago is stored "unsettled" (hashed again on its next read); keep it so.
            var stored = await _metadata.GetAsync(bucket, key.Value, cancellationToken);
            var version = stored is not null && stored.BlobVersion == UnsettledPrefix + record.BlobVersion ? stored.BlobVersion : record.BlobVersion;
            var updated = record with { Metadata = metadata, BlobVersion = version };
            await _metadata.PutAsync(updated, CancellationToken.None);
            _records.Set(updated);
            return updated;
        }
    }

    /// <summary>The keys of the slave files of <paramref name="master"/> (deleting the master deletes them too).</summary>
    public Task<IReadOnlyList<string>> GetSlaveKeysAsync(string bucket, ObjectKey master, CancellationToken cancellationToken) =>
        _metadata.GetSlaveKeysAsync(bucket, master.Value, cancellationToken);

    /// <summary>How many objects a bucket holds and their total size (as recorded; expired ones count until reclaimed).</summary>
    public Task<BucketUsage> GetUsageAsync(string bucket, CancellationToken cancellationToken) =>
        _metadata.GetUsageAsync(bucket, cancellationToken);

    /// <summary>Deletes up to <paramref name="limit"/> expired objects per bucket (they were invisible already). Read-only
    /// buckets are left alone: their expired entries stay invisible.</summary>
    /// <returns>How many objects were deleted.</returns>
    public async Task<int> ReclaimExpiredAsync(int limit, CancellationToken cancellationToken)
    {
        var reclaimed = 0;
        foreach (var (bucket, options) in _buckets.Buckets)
        {
            if (options.ReadOnly)
            {
                continue;
            }

            foreach (var record in await _metadata.GetExpiredAsync(bucket, _time.GetUtcNow(), limit, cancellationToken))
            {
                if (!ObjectKey.Parse(record.Key).TryGetValue(out var key, out _))
                {
                    await ForgetAsync(record); // not a key this version accepts: nothing to serve, nothing to keep
                    continue;
                }

                // Skip a key that is busy (an append streaming into it): the next round takes it.
                var deleted = await DeleteWithSlavesAsync(bucket, key, precondition: null, onlyIfExpired: true, cancellationToken, lockTimeout: TimeSpan.FromMilliseconds(100));
                if (deleted.IsSuccess)
                {
                    reclaimed++;
                }
                else if (deleted.Error!.Code == ErrorCodes.NotFound || await _blobs.StatAsync(bucket, key, cancellationToken) is { IsDirectory: true })
                {
                    // The file is gone (deleted or replaced by a directory behind Depot's back): only its record is left.
                    // Removing it also keeps such rows from filling every later batch.
                    await ForgetAsync(record);
                }
            }
        }

        return reclaimed;
    }

    private async Task ForgetAsync(ObjectRecord record)
    {
        await _metadata.DeleteAsync(record.Bucket, record.Key, CancellationToken.None);
        _records.Remove(record.Bucket, record.Key);
    }
}
