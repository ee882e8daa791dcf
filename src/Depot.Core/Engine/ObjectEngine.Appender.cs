using System.Buffers;
using Depot.Core.Errors;
using Depot.Core.Hashing;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Storage;

namespace Depot.Core.Engine;

/// <summary>Appender objects: append, modify at an offset, truncate (FastDFS appender files).</summary>
/// <remarks>
/// Every change runs under the object's lock, so concurrent changes are serialized and none loses bytes.
/// <para>Append writes in place when the blob store can (<see cref="IBlobAppender"/>): a durable note of the committed
/// size goes first, then the new bytes, fsync, then the new record and the note's removal in one metadata transaction.
/// A crash in between is undone at the next start (<see cref="RecoverAppendsAsync"/>) by cutting the file back, so the
/// state is the one before the append. Readers meanwhile get the committed version: the file's first bytes, which an
/// append never touches.</para>
/// <para>Modify and truncate rewrite the object through a staged write and publish it atomically, like an upload: a crash
/// leaves the old version. They cost a copy of the object; append costs only its own bytes.</para>
/// <para>The SHA-256 stays exact after every change without re-reading the object: the record keeps a resumable hash
/// state with checkpoints (<see cref="AppenderHash"/>), so an append hashes its own bytes and a modify or truncate
/// hashes from the last checkpoint before the change.</para>
/// </remarks>
public sealed partial class ObjectEngine
{
    private const int ChangeBufferSize = 1 << 20;

    /// <summary>Appends a streamed body to an appender object.</summary>
    /// <returns>The new record; <c>not_found</c>, <c>conflict</c> (not an appender object), <c>precondition_failed</c>,
    /// <c>too_large</c>, <c>insufficient_storage</c>, <c>invalid_request</c> (body shorter or longer than declared).</returns>
    public Task<Result<ObjectRecord>> AppendAsync(string bucket, ObjectKey key, Stream body, ChangeOptions options, CancellationToken cancellationToken) =>
        ChangeAppenderAsync(bucket, key, options, extraBytes: options.ExpectedLength ?? 0, (record, limits) => _blobs is IBlobAppender appender
            ? AppendInPlaceAsync(appender, bucket, key, record, body, options.ExpectedLength, limits, cancellationToken)
            : RewriteAsync(bucket, key, record, new Rewrite(record.Size, body, options.ExpectedLength, Extend: true, null), limits, cancellationToken),
            cancellationToken);

    /// <summary>Writes a streamed body at <paramref name="offset"/> (≤ size) of an appender object. Past the current end only
    /// when <paramref name="extend"/>; otherwise <c>range_not_satisfiable</c> and nothing changes.</summary>
    public Task<Result<ObjectRecord>> ModifyAsync(string bucket, ObjectKey key, long offset, bool extend, Stream body, ChangeOptions options, CancellationToken cancellationToken) =>
        ChangeAppenderAsync(bucket, key, options, extraBytes: 0, async (record, limits) =>
        {
            if (offset < 0 || offset > record.Size)
            {
                return DepotError.RangeNotSatisfiable($"The offset {offset} is outside '{key}', which has {record.Size} bytes; modify writes at 0 to {record.Size}.");
            }

            if (options.ExpectedLength is { } declared && !extend && offset + declared > record.Size)
            {
                return DepotError.RangeNotSatisfiable($"Writing {declared} bytes at {offset} would pass the end of '{key}' ({record.Size} bytes); add extend=true to grow it.");
            }

            if (options.ExpectedLength is { } more && offset + more > limits.MaxObjectSize)
            {
                return DepotError.TooLarge($"'{key}' would have {offset + more} bytes; bucket '{bucket}' allows at most {limits.MaxObjectSize}.");
            }

            return await RewriteAsync(bucket, key, record, new Rewrite(offset, body, options.ExpectedLength, extend, null), limits, cancellationToken);
        }, cancellationToken);

    /// <summary>Cuts an appender object to <paramref name="size"/> bytes (≤ its size; larger is <c>range_not_satisfiable</c>).</summary>
    public Task<Result<ObjectRecord>> TruncateAsync(string bucket, ObjectKey key, long size, ChangeOptions options, CancellationToken cancellationToken) =>
        ChangeAppenderAsync(bucket, key, options, extraBytes: 0, async (record, limits) =>
        {
            if (size < 0 || size > record.Size)
            {
                return DepotError.RangeNotSatisfiable($"Cannot truncate '{key}' ({record.Size} bytes) to {size} bytes: truncate only shrinks.");
            }

            return size == record.Size
                ? record
                : await RewriteAsync(bucket, key, record, new Rewrite(size, null, null, Extend: false, TruncateTo: size), limits, cancellationToken);
        }, cancellationToken);

    /// <summary>Runs one change of an appender object under its lock, after the checks every change shares.</summary>
    private async Task<Result<ObjectRecord>> ChangeAppenderAsync(string bucket, ObjectKey key, ChangeOptions options, long extraBytes, Func<ObjectRecord, BucketOptions, Task<Result<ObjectRecord>>> change, CancellationToken cancellationToken)
    {
        var check = CheckTarget(bucket, key, forWrite: true);
        if (!check.IsSuccess)
        {
            return check.Error!;
        }

        var limits = _buckets.Find(bucket)!;
        using (await _locks.AcquireAsync(LockKey(bucket, key), cancellationToken))
        {
            var current = await CurrentAppenderAsync(bucket, key, options, limits, extraBytes, cancellationToken);
            return current.TryGetValue(out var record, out var error) ? await change(record, limits) : error;
        }
    }

    /// <summary>Undoes in-place appends that a crash interrupted: each file is cut back to its committed size. Run once
    /// at start, before serving.</summary>
    /// <returns>How many appends were undone.</returns>
    public async Task<int> RecoverAppendsAsync(CancellationToken cancellationToken)
    {
        var undone = 0;
        foreach (var pending in await _metadata.GetPendingAppendsAsync(cancellationToken))
        {
            if (await UndoAppendAsync(pending, cancellationToken))
            {
                undone++;
            }
        }

        return undone;
    }

    /// <summary>Cuts the file an interrupted append grew back to its committed size — only if the file at the key is the
    /// very file the append wrote to — then records it at its new version and clears the note.</summary>
    /// <returns>True when bytes were cut.</returns>
    private async Task<bool> UndoAppendAsync(PendingAppend pending, CancellationToken cancellationToken)
    {
        var cut = false;
        ObjectRecord? restored = null;
        if (_buckets.Find(pending.Bucket) is not null && ObjectKey.Parse(pending.Key).TryGetValue(out var key, out _)
            && _blobs is IBlobAppender appender && await appender.OpenForAppendAsync(pending.Bucket, key, cancellationToken) is { } handle)
        {
            await using (handle)
            {
                var now = handle.Stat();
                // Another file at the key (replaced since) is none of this note's business: never cut it.
                if (pending.Identity is null || now.Identity is null || now.Identity == pending.Identity)
                {
                    if (now.Size > pending.RestoreSize)
                    {
                        handle.SetLength(pending.RestoreSize);
                        cut = true;
                    }

                    var stat = handle.FlushDurable();
                    // The first RestoreSize bytes were never touched: the committed record describes them, at a new version.
                    if (await _metadata.GetAsync(pending.Bucket, pending.Key, cancellationToken) is { } record && record.Size == stat.Size)
                    {
                        restored = record with { BlobVersion = stat.Version, ModifiedUtc = stat.ModifiedUtc };
                    }
                }
            }
        }

        await _metadata.CompleteAppendAsync(pending.Bucket, pending.Key, restored, cancellationToken);
        _records.Remove(pending.Bucket, pending.Key);
        return cut;
    }

    /// <summary>The current record of an appender object, under its lock, with the change's precondition checked.</summary>
    private async Task<Result<ObjectRecord>> CurrentAppenderAsync(string bucket, ObjectKey key, ChangeOptions options, BucketOptions limits, long extraBytes, CancellationToken cancellationToken)
    {
        var stat = await _blobs.StatAsync(bucket, key, cancellationToken);
        if (stat is { IsDirectory: true })
        {
            return DepotError.Conflict($"'{key}' is a directory, not an appender object.");
        }

        var record = stat is null ? null : await DescribeAsync(bucket, key, lockHeld: true, cancellationToken);
        if (record is null || record.IsExpiredAt(_time.GetUtcNow()))
        {
            return DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.");
        }

        if (!record.Appendable)
        {
            return DepotError.Conflict($"'{key}' is an ordinary object; only appender objects (created with ?appendable) can be appended to, modified or truncated.");
        }

        var pre = await CheckPreconditionAsync(bucket, key, options.Precondition, lockHeld: true, cancellationToken);
        if (!pre.IsSuccess)
        {
            return pre.Error!;
        }

        if (record.Size + extraBytes > limits.MaxObjectSize)
        {
            return DepotError.TooLarge($"'{key}' would have {record.Size + extraBytes} bytes; bucket '{bucket}' allows at most {limits.MaxObjectSize}.");
        }

        return record;
    }

    private async Task<Result<ObjectRecord>> AppendInPlaceAsync(IBlobAppender appender, string bucket, ObjectKey key, ObjectRecord record, Stream body, long? declared, BucketOptions limits, CancellationToken cancellationToken)
    {
        var handle = await appender.OpenForAppendAsync(bucket, key, cancellationToken);
        if (handle is null)
        {
            return DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.");
        }

        await using (handle)
        {
            var before = handle.Stat();
            if (before.Version != record.BlobVersion)
            {
                return DepotError.Conflict($"'{key}' changed while the append was starting; try again.");
            }

            var hash = await HashUpToAsync(bucket, key, record, record.Size, cancellationToken);
            var lockKey = LockKey(bucket, key);
            if (!await RegisterChangeAsync(bucket, key, record, before.Identity, cancellationToken))
            {
                return DepotError.Conflict($"'{key}' was moved or deleted while the append was starting; try again.");
            }

            try
            {
                var note = new PendingAppend(bucket, key.Value, record.Size, before.Identity);
                try
                {
                    await _metadata.BeginAppendAsync(note, CancellationToken.None);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A note is left from an append whose undo failed: the file may hold its bytes. Recover it first.
                    if ((await _metadata.GetPendingAppendsAsync(CancellationToken.None)).FirstOrDefault(p => p.Bucket == bucket && p.Key == key.Value) is not { } stale)
                    {
                        throw;
                    }

                    await UndoAppendAsync(stale, CancellationToken.None);
                    return DepotError.Conflict($"An earlier append to '{key}' had not been undone; it is now. Try again.");
                }

                CrashPoints.Hit("append.begun");
                Result<long> copied;
                try
                {
                    copied = await CopyInPlaceAsync(body, handle, record.Size, hash, limits.MaxObjectSize, cancellationToken);
                    if (copied.IsSuccess && declared is { } expected && copied.Value != expected)
                    {
                        copied = DepotError.InvalidRequest($"The body had {copied.Value} bytes but {expected} were declared; nothing was appended.");
                    }
                }
                catch (StorageFullException)
                {
                    copied = DepotError.InsufficientStorage($"The device that holds bucket '{bucket}' is full; nothing was appended.");
                }
                catch
                {
                    await RollBackAppendAsync(handle, record); // the client went away, or the disk failed
                    throw;
                }

                if (!copied.IsSuccess)
                {
                    await RollBackAppendAsync(handle, record);
                    return copied.Error!;
                }

                CrashPoints.Hit("append.written");
                BlobStat stat;
                try
                {
                    stat = handle.FlushDurable();
                }
                catch
                {
                    await RollBackAppendAsync(handle, record);
                    throw;
                }

                CrashPoints.Hit("append.flushed");
                if (stat.Size != hash.Length)
                {
                    throw new InvalidOperationException($"'{key}' has {stat.Size} bytes after the append, not the {hash.Length} that were hashed.");
                }

                var updated = record with
                {
                    Size = stat.Size,
                    Sha256 = hash.Digest(),
                    ModifiedUtc = stat.ModifiedUtc,
                    BlobVersion = stat.Version,
                    HashState = hash.Export(),
                };
                try
                {
                    await _metadata.CompleteAppendAsync(bucket, key.Value, updated, CancellationToken.None);
                }
                catch
                {
                    // Not committed, so not acknowledged: take the bytes back (the note stays if even that fails).
                    await RollBackAppendAsync(handle, record);
                    throw;
                }

                _records.Set(updated);
                CrashPoints.Hit("append.committed");
                return updated;
            }
            finally
            {
                _appending.TryRemove(lockKey, out _);
            }
        }
    }

    /// <summary>Cuts the file back to the committed size and clears the pending note. If that fails the note stays, and
    /// the next start finishes the job.</summary>
    private async Task RollBackAppendAsync(IBlobAppendHandle handle, ObjectRecord record)
    {
        handle.SetLength(record.Size);
        var stat = handle.FlushDurable();
        var restored = record with { BlobVersion = stat.Version, ModifiedUtc = stat.ModifiedUtc };
        await _metadata.CompleteAppendAsync(record.Bucket, record.Key, restored, CancellationToken.None);
        _records.Set(restored);
    }

    /// <summary>Copies the body into the file from <paramref name="offset"/>, hashing it; the new size is bounded.</summary>
    /// <returns>The number of bytes written, or <c>too_large</c>.</returns>
    private static Task<Result<long>> CopyInPlaceAsync(Stream body, IBlobAppendHandle handle, long offset, AppenderHash hash, long maxSize, CancellationToken cancellationToken) =>
        CopyBodyAsync(body, hash, offset, maxSize,
            (at, bytes) => handle.WriteAtAsync(at, bytes, cancellationToken),
            () => DepotError.TooLarge($"The object would pass the bucket's limit of {maxSize} bytes; nothing was appended."),
            cancellationToken);

    /// <summary>A resumable hash of the object's first <paramref name="position"/> bytes: from the record's state when it
    /// has one, otherwise by reading the bytes (an appender object written behind Depot's back, or an old record).</summary>
    private async Task<AppenderHash> HashUpToAsync(string bucket, ObjectKey key, ObjectRecord record, long position, CancellationToken cancellationToken)
    {
        var hash = ResumeOrStart(record, position);
        if (hash.Length < position)
        {
            var read = await _blobs.OpenReadAsync(bucket, key, cancellationToken)
                ?? throw new InvalidOperationException($"'{key}' disappeared under its lock.");
            await using (read.Content)
            {
                await FeedAsync(read.Content, hash.Length, position, hash, null, cancellationToken);
            }
        }

        return hash;
    }

    /// <summary>The record's hash state resumed at the last checkpoint at or before <paramref name="offset"/> (its
    /// <c>Length</c> tells where hashing must go on), or a fresh hash when there is no usable state.</summary>
    private static AppenderHash ResumeOrStart(ObjectRecord record, long offset)
    {
        if (record.HashState is { } state)
        {
            try
            {
                return AppenderHash.ResumeAt(state, offset);
            }
            catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException)
            {
                // unreadable, or not these bytes: rebuilt from the bytes
            }
        }

        return AppenderHash.Start();
    }

    /// <summary>What a rewrite does: keep the old bytes before <see cref="Offset"/>, write <see cref="Body"/> there (if any),
    /// then keep the old bytes after it — or stop at <see cref="TruncateTo"/>.</summary>
    private sealed record Rewrite(long Offset, Stream? Body, long? DeclaredLength, bool Extend, long? TruncateTo);

    /// <summary>Builds the changed object in a staged blob, hashing from the last checkpoint before the change, and publishes
    /// it atomically. The caller holds the key's lock.</summary>
    private async Task<Result<ObjectRecord>> RewriteAsync(string bucket, ObjectKey key, ObjectRecord record, Rewrite change, BucketOptions limits, CancellationToken cancellationToken)
    {
        var read = await _blobs.OpenReadAsync(bucket, key, cancellationToken);
        if (read is null)
        {
            return DepotError.NotFound($"There is no object '{key}' in bucket '{bucket}'.");
        }

        await using (read.Content)
        {
            if (read.Stat.Version != record.BlobVersion)
            {
                return DepotError.Conflict($"'{key}' changed while it was being rewritten; try again.");
            }

            if (!await RegisterChangeAsync(bucket, key, record, read.Stat.Identity, cancellationToken))
            {
                return DepotError.Conflict($"'{key}' was moved or deleted while the change was starting; try again.");
            }

            try
            {
                return await RewriteRegisteredAsync(bucket, key, record, change, limits, read, cancellationToken);
            }
            finally
            {
                _appending.TryRemove(LockKey(bucket, key), out _);
            }
        }
    }

    /// <summary>The rewrite itself, once registered as a running change of the object.</summary>
    private async Task<Result<ObjectRecord>> RewriteRegisteredAsync(string bucket, ObjectKey key, ObjectRecord record, Rewrite change, BucketOptions limits, BlobRead read, CancellationToken cancellationToken)
    {
        var hash = ResumeOrStart(record, change.Offset);

        await using var writer = await _blobs.BeginWriteAsync(bucket, cancellationToken);
        try
        {
            // Bytes before the last checkpoint are copied; from there to the change they are hashed as well.
            var checkpoint = hash.Length;
            await FeedAsync(read.Content, 0, checkpoint, null, writer, cancellationToken);
            await FeedAsync(read.Content, checkpoint, change.Offset, hash, writer, cancellationToken);
            long written = 0;
            if (change.Body is { } body)
            {
                var limit = change.Extend ? limits.MaxObjectSize : record.Size;
                var copied = await CopyBodyAsync(body, hash, change.Offset, limit,
                    (_, bytes) => writer.WriteAsync(bytes, cancellationToken),
                    () => change.Extend
                        ? DepotError.TooLarge($"The object would pass the bucket's limit of {limit} bytes; nothing was changed.")
                        : DepotError.RangeNotSatisfiable($"The body passes the end of the object ({limit} bytes); add extend=true to grow it. Nothing was changed."),
                    cancellationToken);
                if (!copied.TryGetValue(out written, out var copyError))
                {
                    return copyError;
                }

                if (change.DeclaredLength is { } declared && written != declared)
                {
                    return DepotError.InvalidRequest($"The body had {written} bytes but {declared} were declared; nothing was changed.");
                }
            }

            if (change.TruncateTo is null && change.Offset + written < record.Size)
            {
                await FeedAsync(read.Content, change.Offset + written, record.Size, hash, writer, cancellationToken);
            }

            await writer.FlushDurableAsync(cancellationToken);
        }
        catch (StorageFullException)
        {
            return DepotError.InsufficientStorage($"The device that holds bucket '{bucket}' is full; nothing was changed.");
        }

        CrashPoints.Hit("rewrite.staged");
        var stat = await writer.PublishAsync(key, CancellationToken.None)
            ?? throw new InvalidOperationException($"'{key}' turned into a directory under its lock.");
        CrashPoints.Hit("rewrite.published");
        if (stat.Size != hash.Length)
        {
            throw new InvalidOperationException($"'{key}' has {stat.Size} bytes after the change, not the {hash.Length} that were hashed.");
        }

        var updated = record with
        {
            Size = stat.Size,
            Sha256 = hash.Digest(),
            ModifiedUtc = stat.ModifiedUtc,
            BlobVersion = stat.Version,
            HashState = hash.Export(),
        };
        await _metadata.PutAsync(updated, CancellationToken.None);
        _records.Set(updated);
        return updated;
    }

    /// <summary>Copies a request body, hashing it, to <paramref name="write"/> at offsets from <paramref name="offset"/>;
    /// passing <paramref name="limit"/> stops it with <paramref name="tooFar"/>.</summary>
    /// <returns>The number of bytes written.</returns>
    private static async Task<Result<long>> CopyBodyAsync(Stream body, AppenderHash hash, long offset, long limit, Func<long, ReadOnlyMemory<byte>, ValueTask> write, Func<DepotError> tooFar, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChangeBufferSize);
        try
        {
            long written = 0;
            int n;
            while ((n = await body.ReadAsync(buffer.AsMemory(0, ChangeBufferSize), cancellationToken)) > 0)
            {
                if (offset + written + n > limit)
                {
                    return tooFar();
                }

                hash.Append(buffer.AsSpan(0, n));
                await write(offset + written, buffer.AsMemory(0, n));
                written += n;
            }

            return written;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads bytes [<paramref name="from"/>, <paramref name="to"/>) of an opened blob into a hash and/or a writer.</summary>
    private static async Task FeedAsync(Stream source, long from, long to, AppenderHash? hash, IBlobWriter? writer, CancellationToken cancellationToken)
    {
        if (to <= from)
        {
            return;
        }

        source.Seek(from, SeekOrigin.Begin);
        var buffer = ArrayPool<byte>.Shared.Rent(ChangeBufferSize);
        try
        {
            var left = to - from;
            while (left > 0)
            {
                var n = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(left, ChangeBufferSize)), cancellationToken);
                if (n == 0)
                {
                    throw new InvalidOperationException("The object ended before its recorded size.");
                }

                hash?.Append(buffer.AsSpan(0, n));
                if (writer is not null)
                {
                    await writer.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
                }

                left -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
