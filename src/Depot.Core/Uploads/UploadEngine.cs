using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Ids;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Storage;

namespace Depot.Core.Uploads;

/// <summary>Settings of the upload engine.</summary>
public sealed record UploadEngineOptions
{
    /// <summary>How long a session may go untouched before it is reclaimed (its bytes deleted).</summary>
    public TimeSpan SessionExpiry { get; init; } = TimeSpan.FromHours(24);
}

/// <summary>An upload that ended: the session (state <see cref="UploadState.Completed"/>) and the object it published
/// (null for a partial upload, which waits to be concatenated).</summary>
public sealed record UploadFinished(UploadSession Session, ObjectRecord? Object);

/// <summary>
/// Resumable uploads, the one mechanism behind the native session API, tus, IndexedCP and manifests.
/// </summary>
/// <remarks>
/// A session's bytes go to one staged blob (<see cref="IUploadStaging"/>) at their offsets; each chunk is made durable
/// (fsync) and only then recorded as received in the session store, so an acknowledged chunk survives a crash and a
/// chunk that was not acknowledged is simply missing. Chunks may arrive in any order, in parallel and more than once: a
/// repeated range is compared with the stored bytes (same: no-op; different: <c>conflict</c>, stored bytes kept), and two
/// requests for overlapping ranges run one after the other. Completion verifies the size and the declared checksums and
/// publishes the staged blob with one rename through <see cref="ObjectEngine"/> (invariants 1–5).
/// </remarks>
public sealed partial class UploadEngine
{
    private const int BufferSize = 1 << 20;
    private const int SweepBatch = 100;
    private readonly ObjectEngine _objects;
    private readonly IBlobStore _blobs;
    private readonly IUploadStaging _staging;
    private readonly IUploadSessionStore _sessions;
    private readonly IUploadPolicy _policy;
    private readonly UploadEngineOptions _options;
    private readonly TimeProvider _time;
    // Serializes read-modify-write of one session's record (short sections; never held while a body streams).
    private readonly KeyedLock _sessionLocks = new();
    // Serializes completion of one session (it can take a while: hashing, publishing).
    private readonly KeyedLock _completionLocks = new();
    private readonly ConcurrentDictionary<string, SessionRuntime> _runtimes = new(StringComparer.Ordinal);

    public UploadEngine(ObjectEngine objects, IBlobStore blobs, IUploadSessionStore sessions, IUploadPolicy policy, UploadEngineOptions options, TimeProvider? time = null)
    {
        _objects = objects;
        _blobs = blobs;
        _staging = blobs as IUploadStaging ?? throw new NotSupportedException($"The blob store {blobs.GetType().Name} cannot stage uploads.");
        _sessions = sessions;
        _policy = policy;
        _options = options;
        _time = time ?? TimeProvider.System;
    }

    public UploadEngineOptions Options => _options;

    /// <summary>Starts a session: checks the target, the bucket's limits and the policy before any byte moves.</summary>
    /// <returns>The session; <c>not_found</c> (bucket), <c>invalid_path</c>, <c>invalid_request</c> (chunk size out of the
    /// bucket's range, bad extension or checksum), <c>too_large</c>, <c>forbidden</c> (policy or read-only bucket),
    /// <c>already_exists</c> (create-only), <c>insufficient_storage</c>.</returns>
    public async Task<Result<UploadSession>> CreateAsync(UploadDeclaration declaration, CancellationToken cancellationToken)
    {
        var limits = _objects.Buckets.Find(declaration.Bucket);
        if (limits is null)
        {
            return DepotError.NotFound($"There is no bucket named '{declaration.Bucket}'.");
        }

        if (declaration.Length is < 0)
        {
            return DepotError.InvalidRequest("The upload length cannot be negative.");
        }

        if (declaration.Length > limits.MaxObjectSize)
        {
            return DepotError.TooLarge($"The upload is {declaration.Length} bytes; bucket '{declaration.Bucket}' allows at most {limits.MaxObjectSize}.");
        }

        if (declaration.ChunkSize is { } chunkSize)
        {
            if (chunkSize < Math.Max(1, limits.MinChunkSize))
            {
                return DepotError.InvalidRequest($"The chunk size {chunkSize} is below the smallest bucket '{declaration.Bucket}' allows ({limits.MinChunkSize}).");
            }

            if (chunkSize > limits.MaxChunkSize)
            {
                return DepotError.TooLarge($"The chunk size {chunkSize} is above the largest bucket '{declaration.Bucket}' allows ({limits.MaxChunkSize}).");
            }
        }

        if (declaration.ExpectedSha256 is { Length: not 32 })
        {
            return DepotError.InvalidRequest("A SHA-256 is 32 bytes (64 hex digits).");
        }

        if (declaration.ExpectedMd5 is { Length: not 16 })
        {
            return DepotError.InvalidRequest("An MD5 is 16 bytes (32 hex digits).");
        }

        if (declaration.Metadata is { } metadata && MetadataRules.Validate(metadata, limits) is { IsSuccess: false } badMetadata)
        {
            return badMetadata.Error!;
        }

        if (declaration.Partial && declaration.Appendable)
        {
            return DepotError.InvalidRequest("A partial upload is only ever concatenated; it cannot be appendable.");
        }

        var proposal = new UploadProposal(
            declaration.Identity,
            declaration.Protocol,
            declaration.Bucket,
            declaration.Key?.Value,
            declaration.ClientName,
            declaration.Length,
            declaration.ExpectedSha256 is { } sha ? Convert.ToHexStringLower(sha) : null,
            declaration.ExpectedMd5 is { } md5 ? Convert.ToHexStringLower(md5) : null,
            declaration.ContentType,
            declaration.Metadata ?? EmptyMetadata);
        UploadDecision decision;
        try
        {
            decision = await _policy.DecideAsync(proposal, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Fail closed: a policy that cannot decide never lets an upload through (the pipeline logs the failure).
            return new DepotError(ErrorCodes.Unavailable, "The upload policy could not decide on this upload; nothing was started. Try again later.");
        }
        if (!decision.Allowed)
        {
            return new DepotError(ErrorCodes.Forbidden, decision.Reason is { Length: > 0 } reason ? $"The upload policy refused this upload: {reason}" : "The upload policy refused this upload.")
            {
                Extensions = decision.Reason is { Length: > 0 } why ? new Dictionary<string, object?> { ["reason"] = why } : null,
            };
        }

        ObjectKey key;
        var createOnly = declaration.CreateOnly;
        if (decision.Key is { } chosen)
        {
            if (!ObjectKey.Parse(chosen).TryGetValue(out var parsed, out var badKey))
            {
                return DepotError.InvalidPath($"The upload policy chose an invalid key '{chosen}': {badKey.Message}");
            }

            key = parsed;
        }
        else if (declaration.Key is { } asked)
        {
            key = asked;
        }
        else
        {
            if (FileIds.ValidateExtension(declaration.Extension) is { IsSuccess: false } badExtension)
            {
                return badExtension.Error!;
            }

            key = FileIds.NewKey(declaration.Extension);
            createOnly = true; // an assigned id never replaces anything
        }

        if (_objects.CheckTarget(declaration.Bucket, key, forWrite: true) is { IsSuccess: false } badTarget)
        {
            return badTarget.Error!;
        }

        if (key.IsRoot)
        {
            return DepotError.InvalidPath("An upload needs a key (a file name), not the bucket's root.");
        }

        if (!declaration.Partial)
        {
            var existing = await _blobs.StatAsync(declaration.Bucket, key, cancellationToken);
            if (existing is { IsDirectory: true })
            {
                return DepotError.Conflict($"'{key}' is a directory; an upload cannot replace it.");
            }

            // A file where one of the key's directories must be: refused now rather than after every byte has arrived
            // (publication checks again).
            for (var parent = key.Parent; parent is { IsRoot: false }; parent = parent.Parent)
            {
                if (await _blobs.StatAsync(declaration.Bucket, parent, cancellationToken) is { IsDirectory: false })
                {
                    return DepotError.Conflict($"'{parent}' is a file; an upload cannot go below it.");
                }
            }

            if (createOnly && await _objects.CheckPreconditionAsync(declaration.Bucket, key, new WritePrecondition.MustNotExist(), lockHeld: false, cancellationToken) is { IsSuccess: false } exists)
            {
                return exists.Error!;
            }
        }

        if (declaration.Length is { } declared && _blobs is IStorageSpace space && space.GetSpace(declaration.Bucket) is { } free && free.FreeBytes < declared)
        {
            return DepotError.InsufficientStorage($"Bucket '{declaration.Bucket}' has less than {declared} bytes free.");
        }

        var now = _time.GetUtcNow();
        var session = new UploadSession
        {
            Id = NewSessionId(),
            Bucket = declaration.Bucket,
            Key = key.Value,
            RequestedKey = declaration.Key?.Value,
            Length = declaration.Length,
            ChunkSize = declaration.ChunkSize,
            ExpectedSha256 = declaration.ExpectedSha256,
            ExpectedMd5 = declaration.ExpectedMd5,
            ContentType = declaration.ContentType,
            Metadata = declaration.Metadata ?? EmptyMetadata,
            Appendable = declaration.Appendable,
            CreateOnly = createOnly,
            Partial = declaration.Partial,
            Protocol = declaration.Protocol,
            Identity = declaration.Identity,
            ClientName = declaration.ClientName,
            ManifestId = declaration.ManifestId,
            Properties = declaration.Properties,
            CreatedUtc = now,
            UpdatedUtc = now,
            ExpiresUtc = now + _options.SessionExpiry,
            State = UploadState.Open,
        };
        // The staged file is created by the first chunk: a record without a file is an upload with nothing received yet,
        // and a file without a record (a crash, or a chunk racing an abort) is reclaimed by the sweep.
        await _sessions.InsertSessionAsync(session, cancellationToken);
        return session;
    }

    /// <summary>The session now; <c>not_found</c>, or <c>upload_expired</c> for one past its expiry.</summary>
    public async Task<Result<UploadSession>> GetAsync(string id, CancellationToken cancellationToken)
    {
        if (!IsSessionId(id))
        {
            return DepotError.NotFound($"There is no upload session '{id}'.");
        }

        var session = await _sessions.GetSessionAsync(id, cancellationToken);
        if (session is null)
        {
            return DepotError.NotFound($"There is no upload session '{id}'.");
        }

        if (session.IsExpiredAt(_time.GetUtcNow()))
        {
            return new DepotError(ErrorCodes.UploadExpired, $"Upload session '{id}' expired at {session.ExpiresUtc:u}; its bytes are gone.");
        }

        return session;
    }

    /// <summary>Writes a chunk at a byte offset and acknowledges it once durable.</summary>
    /// <returns>The session after the write; <c>not_found</c>, <c>upload_expired</c>, <c>conflict</c> (completed session, or
    /// different bytes where bytes already arrived), <c>offset_mismatch</c> (<see cref="ChunkOptions.MustContinue"/>),
    /// <c>too_large</c> (past the declared length or the bucket's limit), <c>invalid_request</c> (body shorter than
    /// declared), <c>checksum_mismatch</c> (chunk checksum: nothing recorded).</returns>
    public Task<Result<ChunkWritten>> WriteAsync(string id, long offset, Stream body, ChunkOptions options, CancellationToken cancellationToken) =>
        WriteCoreAsync(id, offset, body, options, exactLength: null, maxLength: null, cancellationToken);

    /// <summary>Writes chunk number <paramref name="index"/> of a session with a <see cref="UploadSession.ChunkSize"/>. Every
    /// chunk but the last must be exactly that size.</summary>
    public async Task<Result<ChunkWritten>> WriteChunkAsync(string id, long index, Stream body, ChunkOptions options, CancellationToken cancellationToken)
    {
        var found = await GetAsync(id, cancellationToken);
        if (!found.TryGetValue(out var session, out var error))
        {
            return error;
        }

        if (session.ChunkSize is not { } size)
        {
            return DepotError.InvalidRequest("This upload session has no chunk size; send bytes by offset instead.");
        }

        if (index < 0 || index > long.MaxValue / size)
        {
            return DepotError.InvalidRequest($"Chunk index {index} is out of range.");
        }

        var offset = index * size;
        long? exact = null;
        long? most = null;
        if (session.Length is { } length)
        {
            var count = length == 0 ? 0 : ((length - 1) / size) + 1;
            if (index >= count)
            {
                return DepotError.TooLarge($"Chunk {index} lies past the end: the upload of {length} bytes has {count} chunks of {size}.");
            }

            exact = Math.Min(size, length - offset);
        }
        else
        {
            // Deferred length: any chunk may be the (shorter) last one, but none may be longer than the chunk size, or it
            // would spill into the next chunk's range.
            most = size;
        }

        if (exact is { } want && options.ExpectedLength is { } sent && sent != want)
        {
            return DepotError.InvalidRequest($"Chunk {index} must be {want} bytes; the request declares {sent}.");
        }

        if (most is { } atMost && options.ExpectedLength is { } sentLength && sentLength > atMost)
        {
            return DepotError.InvalidRequest($"Chunk {index} can be at most {atMost} bytes (the chunk size); the request declares {sentLength}.");
        }

        return await WriteCoreAsync(id, offset, body, options, exact, most, cancellationToken);
    }

    /// <summary>Writes chunk number <paramref name="index"/> of a session whose chunk size nobody declared (IndexedCP): the
    /// size is learnt from the chunks (every chunk but the last has it); a chunk shorter than that is the last one and fixes
    /// the length. When that closes the set (chunks 0..last all present) the upload completes at once and is published.</summary>
    /// <returns>As <see cref="WriteAsync"/>, plus <c>length_required</c> without a body length and <c>conflict</c> when the
    /// chunk's size contradicts the chunks before it.</returns>
    public async Task<Result<ChunkWritten>> WriteInferredChunkAsync(string id, long index, Stream body, long? bodyLength, CancellationToken cancellationToken)
    {
        if (bodyLength is not { } length)
        {
            return new DepotError(ErrorCodes.LengthRequired, "A chunk needs a Content-Length: its size tells the chunk size.");
        }

        if (length == 0)
        {
            return DepotError.InvalidRequest("A chunk cannot be empty.");
        }

        if (index < 0)
        {
            return DepotError.InvalidRequest($"Chunk index {index} is out of range.");
        }

        var found = await GetAsync(id, cancellationToken);
        if (!found.TryGetValue(out var session, out var error))
        {
            return error;
        }

        if (session.State != UploadState.Open)
        {
            return DepotError.Conflict($"Upload session '{id}' is completed; it takes no more bytes.");
        }

        var limits = _objects.Buckets.Find(session.Bucket)!;
        if (length > limits.MaxChunkSize)
        {
            return DepotError.TooLarge($"The chunk is {length} bytes; bucket '{session.Bucket}' allows chunks of at most {limits.MaxChunkSize}.");
        }

        // Whatever the chunk size turns out to be (at least this chunk's length, or the one known), the chunk must end
        // inside the bucket's object limit; this also keeps index * size far from overflowing.
        if (index > (limits.MaxObjectSize - length) / Math.Max(length, session.ChunkSize ?? 1))
        {
            return DepotError.TooLarge($"Chunk {index} of {length} bytes lies past the largest object bucket '{session.Bucket}' allows ({limits.MaxObjectSize}).");
        }

        var runtime = Runtime(session);
        // Learning or correcting the chunk size moves data and changes the session's shape: only with the whole session to
        // itself, and kept through this chunk's write, so that no other chunk can reshape the session before the bytes that
        // taught it the size are in. The usual chunk (size already known and matching) takes only its own range.
        Result<ChunkWritten> written;
        IDisposable? whole = null;
        try
        {
            if (session.ChunkSize is null || length > session.ChunkSize || session.Received.Count == 0)
            {
                whole = await runtime.ReserveAsync(0, long.MaxValue, cancellationToken);
                var shaped = await ShapeInferredAsync(id, index, length, cancellationToken);
                if (!shaped.TryGetValue(out session, out error))
                {
                    return error;
                }
            }

            var size = session.ChunkSize!.Value;
            if (length < size)
            {
                // The short chunk is the last: it fixes the length (once, consistently).
                var fixedLength = (index * size) + length;
                var declared = await DeclareLengthCoreAsync(id, fixedLength, $"Chunk {index} of {length} bytes would make the file {fixedLength} bytes long, but ", cancellationToken);
                if (!declared.TryGetValue(out session, out error))
                {
                    return error;
                }
            }
            else if (session.Length is { } known && (index * size) + length > known)
            {
                return DepotError.Conflict($"Chunk {index} lies past the end of the file ({known} bytes, fixed by its short last chunk).");
            }

            written = await WriteCoreAsync(id, index * size, body, new ChunkOptions { ExpectedLength = length }, exactLength: length, maxLength: null, cancellationToken, reserved: whole is not null);
        }
        finally
        {
            whole?.Dispose();
        }

        if (!written.TryGetValue(out var result, out error))
        {
            return error;
        }

        if (result.Session.IsFullyReceived && result.Session.State == UploadState.Open)
        {
            var finished = await CompleteAsync(id, cancellationToken);
            if (!finished.TryGetValue(out var done, out error))
            {
                return error;
            }

            return result with { Session = done.Session, Published = done.Object };
        }

        return result;
    }

    /// <summary>Sets or checks the chunk size of an inferred-size session, with the session to itself.</summary>
    private async Task<Result<UploadSession>> ShapeInferredAsync(string id, long index, long length, CancellationToken cancellationToken)
    {
        using var held = await _sessionLocks.AcquireAsync(id, cancellationToken);
        var found = await GetAsync(id, cancellationToken);
        if (!found.TryGetValue(out var session, out var error))
        {
            return error;
        }

        if (session.ChunkSize is null || session.Received.Count == 0)
        {
            // Learnt (again) from this chunk: a size learnt from a chunk that then failed taught nothing, nor its length.
            session = session with { ChunkSize = length, Length = null };
            await _sessions.UpdateSessionAsync(session, CancellationToken.None);
            return session;
        }

        var size = session.ChunkSize.Value;
        if (length <= size)
        {
            return session;
        }

        // A chunk longer than the chunk size learnt so far: that size came from the short last chunk, which arrived first.
        // That is consistent only if it is the one chunk received; it is then moved to where it belongs.
        if (session.Received is not [var only] || only.Length > size || only.Start % size != 0)
        {
            return DepotError.Conflict($"Chunk {index} is {length} bytes, but earlier chunks of this file were {size}: every chunk but the last must have the same size.");
        }

        var lastIndex = only.Start / size;
        if (index >= lastIndex)
        {
            return DepotError.Conflict($"Chunk {index} is {length} bytes, longer than chunk {lastIndex}, which is the last one.");
        }

        var newStart = lastIndex * length;
        var limits = _objects.Buckets.Find(session.Bucket)!;
        if (lastIndex > (limits.MaxObjectSize - only.Length) / length)
        {
            return DepotError.TooLarge($"With chunks of {length} bytes, chunk {lastIndex} would end past the largest object bucket '{session.Bucket}' allows ({limits.MaxObjectSize}).");
        }

        await using (var file = await _staging.OpenUploadAsync(session.Bucket, id, create: false, cancellationToken))
        {
            if (file is null)
            {
                return StagedBytesGone(id);
            }

            // Copy from the end backwards: the new place lies after the old one and may overlap it.
            var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(BufferSize, only.Length));
            try
            {
                var remaining = only.Length;
                while (remaining > 0)
                {
                    var piece = (int)Math.Min(buffer.Length, remaining);
                    remaining -= piece;
                    var read = await ReadExactlyAtAsync(file!, only.Start + remaining, buffer.AsMemory(0, piece), cancellationToken);
                    await file!.WriteAtAsync(newStart + remaining, buffer.AsMemory(0, read), cancellationToken);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            await file!.FlushDurableAsync(cancellationToken);
        }

        session = session with
        {
            ChunkSize = length,
            Length = newStart + only.Length,
            Received = [new ByteSpan(newStart, newStart + only.Length)],
        };
        await _sessions.UpdateSessionAsync(session, CancellationToken.None);
        return session;
    }

    /// <summary>Declares the length of a deferred-length session (at least what has arrived; within the bucket's limit).</summary>
    /// <returns>The session; <c>conflict</c> (another length was declared, or more bytes arrived), <c>too_large</c>.</returns>
    public Task<Result<UploadSession>> DeclareLengthAsync(string id, long length, CancellationToken cancellationToken) =>
        DeclareLengthCoreAsync(id, length, "", cancellationToken);

    private async Task<Result<UploadSession>> DeclareLengthCoreAsync(string id, long length, string context, CancellationToken cancellationToken)
    {
        if (length < 0)
        {
            return DepotError.InvalidRequest("The upload length cannot be negative.");
        }

        using var held = await _sessionLocks.AcquireAsync(id, cancellationToken);
        var found = await GetAsync(id, cancellationToken);
        if (!found.TryGetValue(out var session, out var error))
        {
            return error;
        }

        if (session.Length is { } current)
        {
            return current == length ? session : DepotError.Conflict($"{context}the upload's length is {current} bytes already.");
        }

        if (session.ReceivedEnd > length)
        {
            return DepotError.Conflict($"{context}{session.ReceivedEnd} bytes have arrived already.");
        }

        var limits = _objects.Buckets.Find(session.Bucket)!;
        if (length > limits.MaxObjectSize)
        {
            return DepotError.TooLarge($"The upload is {length} bytes; bucket '{session.Bucket}' allows at most {limits.MaxObjectSize}.");
        }

        session = session with { Length = length };
        await _sessions.UpdateSessionAsync(session, CancellationToken.None);
        return session;
    }

    /// <param name="exactLength">The size the chunk must have (a chunk by index of a session with a length).</param>
    /// <param name="maxLength">The size the chunk may have at most (a chunk by index of a deferred-length session).</param>
    /// <param name="reserved">The caller holds a reservation of the whole session (an IndexedCP chunk that shaped it).</param>
    private async Task<Result<ChunkWritten>> WriteCoreAsync(string id, long offset, Stream body, ChunkOptions options, long? exactLength, long? maxLength, CancellationToken cancellationToken, bool reserved = false)
    {
        if (offset < 0)
        {
            return DepotError.InvalidRequest("The offset cannot be negative.");
        }

        var found = await GetAsync(id, cancellationToken);
        if (!found.TryGetValue(out var session, out var error))
        {
            return error;
        }

        if (session.State != UploadState.Open)
        {
            return DepotError.Conflict($"Upload session '{id}' is completed; it takes no more bytes.");
        }

        var limits = _objects.Buckets.Find(session.Bucket)!;
        var limitEnd = session.Length ?? limits.MaxObjectSize;
        var maxChunk = session.Protocol == UploadProtocols.Tus ? long.MaxValue : limits.MaxChunkSize;
        if (offset > limitEnd)
        {
            // Also keeps offset + length below long.MaxValue in what follows.
            return DepotError.TooLarge(session.Length is { } length
                ? $"Offset {offset} lies past the upload's length of {length} bytes."
                : $"Offset {offset} lies past the largest object bucket '{session.Bucket}' allows ({limits.MaxObjectSize}).");
        }

        if (options.ExpectedLength is { } declared)
        {
            if (declared > limitEnd - offset)
            {
                return DepotError.TooLarge(session.Length is { } length
                    ? $"{declared} bytes at offset {offset} go past the upload's length of {length} bytes."
                    : $"{declared} bytes at offset {offset} go past the largest object bucket '{session.Bucket}' allows ({limits.MaxObjectSize}).");
            }

            if (declared > maxChunk)
            {
                return DepotError.TooLarge($"The chunk is {declared} bytes; bucket '{session.Bucket}' allows chunks of at most {maxChunk}.");
            }
        }

        if (options.ChecksumAlgorithm is { } algorithm && !ChunkChecksum.Algorithms.Contains(algorithm))
        {
            return DepotError.InvalidRequest($"Unsupported checksum algorithm '{algorithm}'; use one of {string.Join(", ", ChunkChecksum.Algorithms)}.");
        }

        if (options.MustContinue && offset != session.ContiguousLength)
        {
            return OffsetMismatch(session, offset);
        }

        var runtime = Runtime(session);
        // The range this write may touch: the declared body, the chunk's size, or (streamed, by offset) up to the end. A
        // chunk by index without a Content-Length reserves only its own chunk, so such chunks still run in parallel.
        var reservedEnd = (options.ExpectedLength ?? exactLength ?? maxLength) is { } n ? offset + Math.Min(n, limitEnd - offset) : limitEnd;
        using var reservation = reserved ? null : await runtime.ReserveAsync(offset, Math.Max(reservedEnd, offset + 1), cancellationToken);

        // Read again under the reservation: a write that overlapped may have just recorded its bytes.
        found = await GetAsync(id, cancellationToken);
        if (!found.TryGetValue(out session, out error))
        {
            return error;
        }

        if (session.State != UploadState.Open)
        {
            return DepotError.Conflict($"Upload session '{id}' is completed; it takes no more bytes.");
        }

        if (options.MustContinue && offset != session.ContiguousLength)
        {
            return OffsetMismatch(session, offset);
        }

        // The length may have been declared since the first look.
        limitEnd = session.Length ?? limits.MaxObjectSize;
        if (offset > limitEnd)
        {
            return DepotError.TooLarge($"Offset {offset} lies past the upload's length of {limitEnd} bytes.");
        }

        // A chunk never writes outside the range it reserved: not past its declared body, its chunk size, or the bucket's
        // chunk limit (a body longer than its Content-Length would otherwise overwrite bytes another request just wrote).
        var cap = Math.Min(maxChunk, Math.Min(exactLength ?? long.MaxValue, Math.Min(maxLength ?? long.MaxValue, options.ExpectedLength ?? long.MaxValue)));
        using var checksum = options.ChecksumAlgorithm is { } name ? IncrementalHash.CreateHash(name switch
        {
            "sha1" => HashAlgorithmName.SHA1,
            "md5" => HashAlgorithmName.MD5,
            _ => HashAlgorithmName.SHA256,
        }) : null;
        var received = session.Received;
        var position = offset;
        var wroteNew = false;
        // A chunk that continues the hashed prefix (the usual sequential upload) is hashed as it streams; if it fails, the
        // lease restarts the hash and completion reads the bytes back instead.
        // Only a chunk that starts where the received prefix ends, so it writes new bytes and nothing can complete while it
        // streams (a duplicate never holds the hash: completion would wait for it).
        using var hashLease = offset == session.ContiguousLength ? runtime.TryLendHash(offset) : null;
        DepotError? failure = null;
        var broken = false;
        var bufferSize = options.ExpectedLength is { } small && small < BufferSize ? (int)Math.Max(small, 1) : BufferSize;
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        var stored = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            // Only the first bytes create the staged file. Once bytes are recorded it must exist: if it is gone (published by a
            // completion a crash interrupted, or lost), a new empty file would turn the recorded ranges into zeros.
            await using var file = await _staging.OpenUploadAsync(session.Bucket, id, create: session.Received.Count == 0, cancellationToken);
            if (file is null)
            {
                return StagedBytesGone(id);
            }

            try
            {
                while (true)
                {
                    int read;
                    try
                    {
                        read = await body.ReadAsync(buffer.AsMemory(0, bufferSize), cancellationToken);
                    }
                    catch (Exception e) when (e is IOException or OperationCanceledException || e.GetType().Name == "BadHttpRequestException")
                    {
                        if (!options.KeepPartial)
                        {
                            throw;
                        }

                        broken = true; // the client went away mid-body: keep what arrived (tus)
                        break;
                    }

                    if (read == 0)
                    {
                        break;
                    }

                    if (position + read > limitEnd || position - offset + read > cap)
                    {
                        failure = position + read > limitEnd
                            ? DepotError.TooLarge(session.Length is { } length
                                ? $"The body goes past the upload's length of {length} bytes; nothing past it was stored."
                                : $"The body goes past the largest object bucket '{session.Bucket}' allows ({limits.MaxObjectSize}).")
                            : options.ExpectedLength is { } promised && position - offset + read > promised
                                ? DepotError.InvalidRequest($"The body is longer than the {promised} bytes declared; nothing was recorded.")
                                : DepotError.TooLarge($"The chunk is longer than {cap} bytes.");
                        break;
                    }

                    checksum?.AppendData(buffer.AsSpan(0, read));
                    var mismatch = await StoreOrCompareAsync(file!, received, position, buffer.AsMemory(0, read), stored, cancellationToken);
                    if (mismatch is null)
                    {
                        failure = DepotError.Conflict($"Bytes at offset {position}..{position + read} arrived before with different content; the stored bytes are kept.");
                        break;
                    }

                    wroteNew |= mismatch.Value;
                    hashLease?.Append(buffer.AsSpan(0, read));
                    position += read;
                }
            }
            catch (StorageFullException)
            {
                return DepotError.InsufficientStorage($"The device that holds bucket '{session.Bucket}' is full; the chunk was not stored.");
            }

            if (failure is not null)
            {
                return failure;
            }

            var count = position - offset;
            if (!broken)
            {
                if (options.ExpectedLength is { } expected && count != expected)
                {
                    return DepotError.InvalidRequest($"The body had {count} bytes but {expected} were declared; nothing was recorded.");
                }

                if (exactLength is { } exact && count != exact)
                {
                    return DepotError.InvalidRequest($"The chunk must be {exact} bytes; it had {count}. Nothing was recorded.");
                }

                if (checksum is not null && options.Checksum?.Invoke() is { } want && !CryptographicOperations.FixedTimeEquals(want, checksum.GetCurrentHash()))
                {
                    return DepotError.ChecksumMismatch($"The chunk's {options.ChecksumAlgorithm} does not match the one sent; the chunk was not recorded.");
                }
            }

            if (count == 0 || !wroteNew)
            {
                hashLease?.Commit(position); // every byte had arrived already: they are received bytes
                return new ChunkWritten(session, Duplicate: count > 0 && !broken);
            }

            try
            {
                // Not the request's token: a tus PATCH cut short keeps (and acknowledges to the next HEAD) what arrived.
                await file!.FlushDurableAsync(CancellationToken.None);
            }
            catch (StorageFullException)
            {
                return DepotError.InsufficientStorage($"The device that holds bucket '{session.Bucket}' is full; the chunk was not stored.");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<byte>.Shared.Return(stored);
        }

        // Durable: now record it (the acknowledgement follows the record).
        UploadSession updated;
        using (await _sessionLocks.AcquireAsync(id, CancellationToken.None))
        {
            var current = await _sessions.GetSessionAsync(id, CancellationToken.None);
            if (current is null || current.State != UploadState.Open)
            {
                return DepotError.NotFound($"Upload session '{id}' was aborted or completed while the chunk arrived.");
            }

            // The length may have been declared while the body streamed (deferred length): bytes past it are refused, or
            // the session would hold more than its length and never complete.
            if (current.Length is { } declaredMeanwhile && position > declaredMeanwhile)
            {
                return DepotError.TooLarge($"The upload's length was declared as {declaredMeanwhile} bytes while this chunk arrived; it goes to {position}. Nothing was recorded.");
            }

            var now = _time.GetUtcNow();
            updated = current with
            {
                Received = ByteSpans.Add(current.Received, new ByteSpan(offset, position)),
                UpdatedUtc = now,
                ExpiresUtc = now + _options.SessionExpiry,
            };
            await _sessions.UpdateSessionAsync(updated, CancellationToken.None);
        }

        hashLease?.Commit(position);
        hashLease?.Dispose(); // before the background catch-up below, which needs the hash
        StartHashing(updated, runtime);
        return new ChunkWritten(updated, Duplicate: false);
    }

    private static DepotError StagedBytesGone(string id) =>
        DepotError.Conflict($"The staged bytes of upload session '{id}' are gone (published by an interrupted completion, or lost); complete it to find out, or abort it and upload again.");

    private static DepotError OffsetMismatch(UploadSession session, long offset) =>
        new(ErrorCodes.OffsetMismatch, $"The chunk starts at {offset}, but the upload's received bytes end at {session.ContiguousLength}.")
        {
            Extensions = new Dictionary<string, object?> { ["offset"] = session.ContiguousLength },
        };

    /// <summary>Writes the parts of a piece that have not arrived before and compares the parts that have. Returns whether
    /// anything new was written, or null when a part differs from what is stored.</summary>
    private static async ValueTask<bool?> StoreOrCompareAsync(IStagedUpload file, IReadOnlyList<ByteSpan> received, long position, ReadOnlyMemory<byte> data, byte[] scratch, CancellationToken cancellationToken)
    {
        var wroteNew = false;
        var done = 0;
        while (done < data.Length)
        {
            var at = position + done;
            var receivedUntil = ByteSpans.ReceivedUntil(received, at);
            if (receivedUntil >= 0)
            {
                var length = (int)Math.Min(data.Length - done, receivedUntil - at);
                var compared = 0;
                while (compared < length)
                {
                    var piece = Math.Min(scratch.Length, length - compared);
                    var read = await ReadExactlyAtAsync(file, at + compared, scratch.AsMemory(0, piece), cancellationToken);
                    if (read != piece || !scratch.AsSpan(0, piece).SequenceEqual(data.Span.Slice(done + compared, piece)))
                    {
                        return null;
                    }

                    compared += piece;
                }

                done += length;
            }
            else
            {
                var length = (int)Math.Min(data.Length - done, ByteSpans.NextReceived(received, at) - at);
                await file.WriteAtAsync(at, data.Slice(done, length), cancellationToken);
                wroteNew = true;
                done += length;
            }
        }

        return wroteNew;
    }

    private static async ValueTask<int> ReadExactlyAtAsync(IStagedUpload file, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await file.ReadAtAsync(offset + total, buffer[total..], cancellationToken);
            if (read <= 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    /// <summary>Advances the running hash over newly contiguous bytes in the background, so completion has little left to do.</summary>
    private void StartHashing(UploadSession session, SessionRuntime runtime)
    {
        var until = session.ContiguousLength;
        _ = Task.Run(async () =>
        {
            try
            {
                await using var file = await _staging.OpenUploadAsync(session.Bucket, session.Id, create: false, CancellationToken.None);
                if (file is not null)
                {
                    await runtime.AdvanceAsync(file, until, CancellationToken.None);
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
            {
                // Only a head start: completion hashes whatever is left, and reports real I/O errors.
            }
        });
    }

    /// <summary>Verifies size and checksums and publishes. Idempotent: completing a completed session answers its outcome.</summary>
    /// <returns>The finished upload; <c>upload_incomplete</c> (bytes missing, or length never declared),
    /// <c>checksum_mismatch</c> (nothing published; the session stays open), <c>already_exists</c> (create-only),
    /// <c>conflict</c> (a directory is in the way), <c>insufficient_storage</c>.</returns>
    public Task<Result<UploadFinished>> CompleteAsync(string id, CancellationToken cancellationToken) =>
        CompleteAsync(id, null, cancellationToken);

    /// <summary>Completes like <see cref="CompleteAsync(string, CancellationToken)"/>, verifying also the checksums the
    /// client declares now (it hashed the bytes while sending them), exactly like checksums declared at creation.</summary>
    /// <param name="id">The session.</param>
    /// <param name="declared">Expected checksums of the whole upload; null (or both null) checks only those of the creation.</param>
    /// <param name="cancellationToken">Cancels the wait and the hashing; a publication that has begun finishes.</param>
    /// <returns>As the other overload, and: <c>invalid_request</c> when a checksum has the wrong length or differs from one
    /// the session declared at creation (an open session); <c>checksum_mismatch</c> when a completed session published
    /// other bytes than the ones declared now; <c>conflict</c> when an MD5 is declared to a completed session that
    /// verified none and whose object is no longer at its key.</returns>
    /// <remarks>Declared checksums that verify are recorded on the completed session (its <c>ExpectedSha256</c> and
    /// <c>ExpectedMd5</c>), so a retried completion is checked against the same values. An MD5 declared only now costs
    /// one more read of the staged bytes: the running hash computes MD5 only for sessions that declared one at creation.</remarks>
    public async Task<Result<UploadFinished>> CompleteAsync(string id, UploadChecksums? declared, CancellationToken cancellationToken)
    {
        if (declared?.Sha256 is { Length: not 32 })
        {
            return DepotError.InvalidRequest("A SHA-256 is 32 bytes (64 hex digits).");
        }

        if (declared?.Md5 is { Length: not 16 })
        {
            return DepotError.InvalidRequest("An MD5 is 16 bytes (32 hex digits).");
        }

        using var completing = await _completionLocks.AcquireAsync(id, cancellationToken);
        var found = await GetAsync(id, cancellationToken);
        if (!found.TryGetValue(out var session, out var error))
        {
            return error;
        }

        if (session.State == UploadState.Completed)
        {
            if (declared is not null && await CheckCompletedAsync(session, declared, cancellationToken) is { } mismatch)
            {
                return mismatch;
            }

            return new UploadFinished(session, session.Partial ? null : await CurrentObjectAsync(session, cancellationToken));
        }

        if (ConflictingDeclaration(session, declared) is { } conflicting)
        {
            return conflicting;
        }

        // From here on the session is checked against what it declared at creation or, failing that, now (and records it).
        var md5DeclaredNow = session.ExpectedMd5 is null && declared?.Md5 is not null;
        session = session with
        {
            ExpectedSha256 = session.ExpectedSha256 ?? declared?.Sha256,
            ExpectedMd5 = session.ExpectedMd5 ?? declared?.Md5,
        };

        if (session.Length is not { } length)
        {
            return new DepotError(ErrorCodes.UploadIncomplete, "The upload's length was never declared; declare it first.");
        }

        if (!session.IsFullyReceived)
        {
            var missing = ByteSpans.Missing(session.Received, length);
            return new DepotError(ErrorCodes.UploadIncomplete, $"{missing.Sum(m => m.Length)} of {length} bytes are missing (first: {string.Join(", ", missing.Take(5))}).")
            {
                Extensions = new Dictionary<string, object?> { ["received"] = session.BytesReceived },
            };
        }

        // Chunks still streaming past the length (the length of a deferred-length session was declared while they arrived)
        // write through a handle on the staged file, which is the published file once renamed: wait for them to end (they
        // are then refused). Chunks inside the length can only compare bytes that have all arrived: no need to wait.
        var runtime = Runtime(session);
        using var pastTheEnd = await runtime.ReserveAsync(length, long.MaxValue, cancellationToken);
        await using var file = await _staging.OpenUploadAsync(session.Bucket, id, create: length == 0, cancellationToken);
        if (file is null)
        {
            // The bytes were published but the session not yet marked (a crash in between): the object tells.
            var published = await CurrentObjectAsync(session, cancellationToken);
            if (published is not null && published.Size == length && (session.ExpectedSha256 is null || published.Sha256.AsSpan().SequenceEqual(session.ExpectedSha256))
                && (!md5DeclaredNow || await PublishedMd5Async(session, published.Sha256Hex, cancellationToken) is { } publishedMd5 && publishedMd5.AsSpan().SequenceEqual(session.ExpectedMd5)))
            {
                var recovered = await MarkCompletedAsync(session, published.Sha256Hex, cancellationToken);
                await NotifyAsync(() => _policy.CompletedAsync(new UploadCompleted(id, session.Identity, session.Protocol, session.ClientName, published), CancellationToken.None));
                return new UploadFinished(recovered, published);
            }

            return StagedBytesGone(id);
        }

        await runtime.AdvanceAsync(file, length, cancellationToken);
        var (sha256, md5, appenderState) = await runtime.FinishAsync(length, cancellationToken);
        if (session.ExpectedMd5 is not null && md5 is null)
        {
            md5 = await Md5OfStagedAsync(file, length, cancellationToken);
        }

        if (session.ExpectedSha256 is { } wantSha && !CryptographicOperations.FixedTimeEquals(wantSha, sha256))
        {
            return DepotError.ChecksumMismatch($"The upload's SHA-256 is {Convert.ToHexStringLower(sha256)}, not the {Convert.ToHexStringLower(wantSha)} that was declared; nothing was published.");
        }

        if (session.ExpectedMd5 is { } wantMd5 && !CryptographicOperations.FixedTimeEquals(wantMd5, md5!))
        {
            return DepotError.ChecksumMismatch($"The upload's MD5 is {Convert.ToHexStringLower(md5!)}, not the {Convert.ToHexStringLower(wantMd5)} that was declared; nothing was published.");
        }

        if (session.Partial)
        {
            return new UploadFinished(await MarkCompletedAsync(session, Convert.ToHexStringLower(sha256), cancellationToken), null);
        }

        // Bytes past the length (a broken chunk's leftovers) are cut; the file gets its unique mtime and is made durable.
        if (file.Length != length)
        {
            file.SetLength(length);
        }

        try
        {
            await file.FlushDurableAsync(cancellationToken);
        }
        catch (StorageFullException)
        {
            return DepotError.InsufficientStorage($"The device that holds bucket '{session.Bucket}' is full; nothing was published.");
        }

        var key = ObjectKey.Parse(session.Key).Value;
        var committed = await _objects.CommitAsync(
            session.Bucket,
            key,
            file.PublishAsync,
            sha256,
            appenderState,
            new PutOptions
            {
                ContentType = session.ContentType,
                Metadata = session.Metadata.Count > 0 ? session.Metadata : null,
                Appendable = session.Appendable,
                Precondition = session.CreateOnly ? new WritePrecondition.MustNotExist() : null,
            },
            cancellationToken);
        if (!committed.TryGetValue(out var record, out error))
        {
            return error;
        }

        var completed = await MarkCompletedAsync(session, record.Sha256Hex, CancellationToken.None);
        await NotifyAsync(() => _policy.CompletedAsync(new UploadCompleted(id, session.Identity, session.Protocol, session.ClientName, record), CancellationToken.None));
        return new UploadFinished(completed, record);
    }

    private async Task<UploadSession> MarkCompletedAsync(UploadSession session, string sha256Hex, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var completed = session with
        {
            State = UploadState.Completed,
            ResultSha256 = sha256Hex,
            UpdatedUtc = now,
            ExpiresUtc = now + _options.SessionExpiry,
        };
        using (await _sessionLocks.AcquireAsync(session.Id, cancellationToken))
        {
            await _sessions.UpdateSessionAsync(completed, cancellationToken);
        }

        DropRuntime(session.Id);
        return completed;
    }

    private async Task<ObjectRecord?> CurrentObjectAsync(UploadSession session, CancellationToken cancellationToken) =>
        ObjectKey.Parse(session.Key).TryGetValue(out var key, out _) && (await _objects.GetAsync(session.Bucket, key, cancellationToken)).TryGetValue(out var record, out _)
            ? record
            : null;

    /// <summary>Publishes the concatenation of completed partial sessions (tus concatenation) as a new, completed session.
    /// The parts are deleted afterwards.</summary>
    /// <returns>The finished upload; <c>not_found</c>/<c>upload_expired</c> (a part), <c>conflict</c> (a part not partial,
    /// not complete, or of another bucket), or any error of <see cref="CreateAsync"/> and <see cref="CompleteAsync(string, CancellationToken)"/>.</returns>
    public async Task<Result<UploadFinished>> ConcatenateAsync(UploadDeclaration final, IReadOnlyList<string> partIds, CancellationToken cancellationToken)
    {
        if (partIds.Count == 0)
        {
            return DepotError.InvalidRequest("A concatenation needs at least one part.");
        }

        if (partIds.Distinct(StringComparer.Ordinal).Count() != partIds.Count)
        {
            return DepotError.InvalidRequest("A concatenation names the same part twice.");
        }

        var parts = new List<UploadSession>(partIds.Count);
        foreach (var partId in partIds)
        {
            var found = await GetAsync(partId, cancellationToken);
            if (!found.TryGetValue(out var part, out var error))
            {
                return error;
            }

            if (!part.Partial || part.State != UploadState.Completed)
            {
                return DepotError.Conflict($"Upload '{partId}' is {(part.Partial ? "not complete" : "not a partial upload")}; only complete partial uploads can be concatenated.");
            }

            if (part.Bucket != final.Bucket)
            {
                return DepotError.Conflict($"Upload '{partId}' belongs to bucket '{part.Bucket}', not '{final.Bucket}'.");
            }

            parts.Add(part);
        }

        var total = parts.Sum(p => p.Length ?? 0);
        var created = await CreateAsync(final with { Length = total, Partial = false }, cancellationToken);
        if (!created.TryGetValue(out var session, out var createError))
        {
            return createError;
        }

        await using (var target = await _staging.OpenUploadAsync(session.Bucket, session.Id, create: true, cancellationToken))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                var position = 0L;
                foreach (var part in parts)
                {
                    await using var source = await _staging.OpenUploadAsync(part.Bucket, part.Id, create: part.Length == 0, cancellationToken);
                    if (source is null)
                    {
                        await AbortAsync(session.Id, cancellationToken);
                        return DepotError.Conflict($"The bytes of part '{part.Id}' are gone.");
                    }

                    for (var copied = 0L; copied < part.Length;)
                    {
                        var read = await ReadExactlyAtAsync(source, copied, buffer.AsMemory(0, (int)Math.Min(buffer.Length, part.Length!.Value - copied)), cancellationToken);
                        if (read <= 0)
                        {
                            await AbortAsync(session.Id, cancellationToken);
                            return DepotError.Conflict($"The bytes of part '{part.Id}' end early.");
                        }

                        await target!.WriteAtAsync(position + copied, buffer.AsMemory(0, read), cancellationToken);
                        copied += read;
                    }

                    position += part.Length!.Value;
                }
            }
            catch (StorageFullException)
            {
                await AbortAsync(session.Id, cancellationToken);
                return DepotError.InsufficientStorage($"The device that holds bucket '{session.Bucket}' is full; nothing was published.");
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            await target!.FlushDurableAsync(cancellationToken);
        }

        using (await _sessionLocks.AcquireAsync(session.Id, cancellationToken))
        {
            session = session with { Received = total > 0 ? [new ByteSpan(0, total)] : [] };
            await _sessions.UpdateSessionAsync(session, CancellationToken.None);
        }

        var finished = await CompleteAsync(session.Id, cancellationToken);
        if (!finished.IsSuccess)
        {
            await AbortAsync(session.Id, cancellationToken);
            return finished;
        }

        foreach (var part in parts)
        {
            await DeleteSessionAsync(part, cancellationToken);
        }

        return finished;
    }

    /// <summary>Deletes a session and its bytes (an open one is reported to policy as cancelled).</summary>
    public async Task<Outcome> AbortAsync(string id, CancellationToken cancellationToken)
    {
        if (!IsSessionId(id))
        {
            return DepotError.NotFound($"There is no upload session '{id}'.");
        }

        var session = await _sessions.GetSessionAsync(id, cancellationToken);
        if (session is null)
        {
            return DepotError.NotFound($"There is no upload session '{id}'.");
        }

        using (await _completionLocks.AcquireAsync(id, cancellationToken))
        {
            await DeleteSessionAsync(session, cancellationToken);
        }

        if (session.State == UploadState.Open)
        {
            await NotifyAsync(() => _policy.CancelledAsync(new UploadCancelled(id, session.Identity, session.Protocol, session.Bucket, session.Key, session.ClientName, "aborted", session.BytesReceived), CancellationToken.None));
        }

        return Outcome.Success;
    }

    private async Task DeleteSessionAsync(UploadSession session, CancellationToken cancellationToken)
    {
        using (await _sessionLocks.AcquireAsync(session.Id, cancellationToken))
        {
            await _sessions.DeleteSessionAsync(session.Id, CancellationToken.None);
            await _staging.DeleteUploadAsync(session.Bucket, session.Id, CancellationToken.None);
        }

        DropRuntime(session.Id);
    }

    /// <summary>The newest session of a protocol for the key a client asked for (open or completed, not expired; wherever
    /// the policy put it), or null.</summary>
    public async Task<UploadSession?> FindLatestAsync(string protocol, string bucket, string key, CancellationToken cancellationToken)
    {
        var latest = await _sessions.FindLatestAsync(protocol, bucket, key, cancellationToken);
        return latest is null || latest.IsExpiredAt(_time.GetUtcNow()) ? null : latest;
    }

    /// <summary>Completes open sessions of <paramref name="protocol"/> whose chunks 0..n-1 are all present and which have
    /// not been touched for <paramref name="quietPeriod"/> (IndexedCP sends no "done"). Returns how many were published.</summary>
    public async Task<int> CompleteQuietAsync(string protocol, TimeSpan quietPeriod, CancellationToken cancellationToken)
    {
        var quiet = await _sessions.GetQuietSessionsAsync(protocol, _time.GetUtcNow() - quietPeriod, SweepBatch, cancellationToken);
        var published = 0;
        foreach (var session in quiet)
        {
            // A chunk still streaming (a slow client) is contact too: publishing now would cut the file short.
            if (_runtimes.TryGetValue(session.Id, out var active) && active.HasWritesInFlight)
            {
                continue;
            }

            // All chunks present = the received bytes are one range from 0 that ends on a chunk boundary (or at the length).
            if (session.Received is not [{ Start: 0 } all] || session.ChunkSize is not { } size
                || (session.Length is null && all.End % size != 0) || (session.Length is { } length && all.End != length))
            {
                continue;
            }

            if (session.Length is null && !(await DeclareLengthAsync(session.Id, all.End, cancellationToken)).IsSuccess)
            {
                continue;
            }

            if ((await CompleteAsync(session.Id, cancellationToken)).IsSuccess)
            {
                published++;
            }
        }

        return published;
    }

    /// <summary>Deletes expired sessions and their bytes (open ones are reported as cancelled), and staged blobs no session
    /// knows. Returns how many sessions were reclaimed.</summary>
    public async Task<int> ReclaimExpiredAsync(CancellationToken cancellationToken)
    {
        var reclaimed = 0;
        while (true)
        {
            var expired = await _sessions.GetExpiredSessionsAsync(_time.GetUtcNow(), SweepBatch, cancellationToken);
            var progress = 0;
            foreach (var session in expired)
            {
                using (await _completionLocks.AcquireAsync(session.Id, cancellationToken))
                {
                    try
                    {
                        await DeleteSessionAsync(session, cancellationToken);
                    }
                    catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
                    {
                        // Its bytes cannot be reached (a bucket no longer configured, an I/O error): forget the session all
                        // the same, so one bad row never stops the sweep; the orphan pass below retries its file.
                        await _sessions.DeleteSessionAsync(session.Id, CancellationToken.None);
                        DropRuntime(session.Id);
                    }
                }

                progress++;

                if (session.State == UploadState.Open)
                {
                    await NotifyAsync(() => _policy.CancelledAsync(new UploadCancelled(session.Id, session.Identity, session.Protocol, session.Bucket, session.Key, session.ClientName, "expired", session.BytesReceived), CancellationToken.None));
                }

                reclaimed++;
            }

            if (expired.Count < SweepBatch || progress == 0)
            {
                break;
            }
        }

        foreach (var bucket in _objects.Buckets.Buckets.Keys)
        {
            foreach (var staged in _staging.ListUploads(bucket))
            {
                if (IsSessionId(staged) && await _sessions.GetSessionAsync(staged, cancellationToken) is null)
                {
                    await _staging.DeleteUploadAsync(bucket, staged, cancellationToken);
                }
            }
        }

        return reclaimed;
    }

    /// <summary>Policy notifications run after the fact: a failing one never undoes or fails the upload (the policy
    /// pipeline logs its own failures).</summary>
    private static async Task NotifyAsync(Func<ValueTask> notify)
    {
        try
        {
            await notify();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            System.Diagnostics.Trace.TraceWarning($"An upload policy notification failed: {e.Message}");
        }
    }

    private SessionRuntime Runtime(UploadSession session) =>
        _runtimes.GetOrAdd(session.Id, static (_, s) => new SessionRuntime(s.ExpectedMd5 is not null, s.Appendable), session);

    private void DropRuntime(string id)
    {
        if (_runtimes.TryRemove(id, out var runtime))
        {
            runtime.Dispose();
        }
    }

    /// <summary>128 random bits, base64url: unguessable, safe in URLs and file names.</summary>
    private static string NewSessionId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private static bool IsSessionId(string id) => id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static readonly IReadOnlyDictionary<string, string> EmptyMetadata = new Dictionary<string, string>(StringComparer.Ordinal);
}
