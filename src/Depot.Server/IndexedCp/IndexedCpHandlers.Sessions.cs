using System.Buffers;
using System.Collections.Concurrent;
using Depot.Core.Errors;
using Depot.Core.Paths;
using Depot.Core.Uploads;

namespace Depot.Server.IndexedCp;

/// <summary>Which upload session a chunk belongs to.</summary>
public sealed partial class IndexedCpHandlers
{
    /// <summary>The most of a chunk ever held in memory: a late retry of a completed upload is compared up to this size
    /// (IndexedCP's chunks are 1 MiB by default; a larger chunk for a completed name simply starts the next upload), and a
    /// chunk sent without Content-Length is measured up to it.</summary>
    private const int MaxComparedChunk = 16 << 20;

    /// <summary>Bound of the in-memory maps below (cleared when reached).</summary>
    private const int MaxRemembered = 100_000;

    /// <summary>Names whose sessions policy moved to another key (the store finds sessions by their final key).</summary>
    private readonly ConcurrentDictionary<string, string> _renamed = new(StringComparer.Ordinal);

    /// <summary>Per name, the chunks answered as late retries of its completed upload (see <see cref="CreateSeededAsync"/>).
    /// Kept in memory: after a restart such a chunk is simply sent again by a client that starts a new version.</summary>
    private readonly ConcurrentDictionary<string, LateClaims> _claims = new(StringComparer.Ordinal);

    /// <summary>A chunk's session, or the completed upload it is a late retry of, or why there is none.</summary>
    private sealed record SessionChoice(UploadSession? Session, bool AlreadyPublished, DepotError? Error)
    {
        public static SessionChoice Use(UploadSession session) => new(session, false, null);

        public static SessionChoice Published(UploadSession session) => new(session, true, null);

        public static SessionChoice Failed(DepotError error) => new(null, false, error);
    }

    /// <summary>The open session of the name; otherwise, when its last upload completed, that upload (for a late retry of
    /// one of its chunks) or a continuation of it, or else a new session.</summary>
    private async Task<SessionChoice> ChooseSessionAsync(ObjectKey key, string clientName, string identity, long index, ChunkBody body, long bodyLength, CancellationToken cancellationToken)
    {
        UploadSession completed;
        using (await _locks.AcquireAsync(key.Value, cancellationToken))
        {
            var latest = await FindAsync(key, cancellationToken);
            if (latest is { State: UploadState.Open })
            {
                return SessionChoice.Use(latest);
            }

            if (latest is null)
            {
                _claims.TryRemove(key.Value, out _);
                return await CreateAsync(key, clientName, identity, !_options.ReplaceExisting, cancellationToken);
            }

            completed = latest;
        }

        // Outside the lock: comparing reads the request body, which may be slow.
        var duplicate = await IsLateDuplicateAsync(completed, index, body, bodyLength, cancellationToken);
        using (await _locks.AcquireAsync(key.Value, cancellationToken))
        {
            // Decided again under the lock: a new session may have opened meanwhile, and then this chunk belongs to it.
            var latest = await FindAsync(key, cancellationToken);
            var stillLatest = latest?.Id == completed.Id;
            if (stillLatest && duplicate)
            {
                Claim(key.Value, completed.Id, index);
                return SessionChoice.Published(completed);
            }

            if (latest is { State: UploadState.Open })
            {
                return SessionChoice.Use(latest);
            }

            var claimed = TakeClaims(key.Value, completed.Id);
            if (stillLatest && ContinuesAfter(completed, index) && await IsUnchangedAsync(completed, cancellationToken))
            {
                var chunks = completed.Length!.Value / completed.ChunkSize!.Value;
                return await CreateSeededAsync(key, clientName, identity, completed, createOnly: false, LongRange(chunks), cancellationToken);
            }

            // The chunks answered as late retries belong to this new upload only when they are its first ones (0..k-1)
            // and this chunk comes after them: a new version whose beginning equals the old one. A real late retry
            // followed, later, by an unrelated new version of the name never matches (that one starts again at 0).
            var continuesClaims = stillLatest && claimed.Length > 0 && claimed[^1] == claimed.Length - 1 && index >= claimed.Length;
            return await CreateSeededAsync(key, clientName, identity, completed, !_options.ReplaceExisting, continuesClaims ? claimed : [], cancellationToken);
        }
    }

    /// <summary>The newest session of the name (open or completed), wherever policy put it.</summary>
    private async Task<UploadSession?> FindAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var latest = await _uploads.FindLatestAsync(UploadProtocols.IndexedCp, _options.Bucket, key.Value, cancellationToken);
        if (_renamed.TryGetValue(key.Value, out var id))
        {
            var renamed = await _uploads.GetAsync(id, cancellationToken);
            if (!renamed.IsSuccess)
            {
                _renamed.TryRemove(key.Value, out _);
            }
            else if (latest is null || renamed.Value.CreatedUtc >= latest.CreatedUtc)
            {
                latest = renamed.Value;
            }
        }

        return latest;
    }

    /// <summary>A new session for the name: deferred length, chunk size learnt from the chunks; policy decides here.</summary>
    private async Task<SessionChoice> CreateAsync(ObjectKey key, string clientName, string identity, bool createOnly, CancellationToken cancellationToken)
    {
        var created = await _uploads.CreateAsync(new UploadDeclaration
        {
            Bucket = _options.Bucket,
            Key = key,
            CreateOnly = createOnly,
            Protocol = UploadProtocols.IndexedCp,
            Identity = identity,
            ClientName = clientName,
        }, cancellationToken);
        if (!created.TryGetValue(out var session, out var error))
        {
            return SessionChoice.Failed(error);
        }

        if (session.Key != key.Value)
        {
            if (_renamed.Count >= MaxRemembered)
            {
                _renamed.Clear();
            }

            _renamed[key.Value] = session.Id;
        }

        return SessionChoice.Use(session);
    }

    /// <summary>True when the session is no longer open (completed, expired or gone).</summary>
    private async Task<bool> HasEndedAsync(string sessionId, CancellationToken cancellationToken) =>
        await _uploads.GetAsync(sessionId, cancellationToken) is not { IsSuccess: true, Value.State: UploadState.Open };

    /// <summary>True while the object at a completed session's key is still the one it published.</summary>
    private async Task<bool> IsUnchangedAsync(UploadSession completed, CancellationToken cancellationToken)
    {
        if (completed.ResultSha256 is null || !ObjectKey.Parse(completed.Key).TryGetValue(out var key, out _))
        {
            return false;
        }

        var record = await _objects.GetAsync(completed.Bucket, key, cancellationToken);
        return record.IsSuccess && string.Equals(record.Value.Sha256Hex, completed.ResultSha256, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A retry of a chunk of the upload that just completed: same index, same bytes as the published object
    /// there, and the object unchanged since. Reads (at most) the chunk's expected length of the body into memory, which
    /// stays readable for the next session when the answer is no.</summary>
    private async Task<bool> IsLateDuplicateAsync(UploadSession completed, long index, ChunkBody body, long bodyLength, CancellationToken cancellationToken)
    {
        if (completed.Partial || completed.ResultSha256 is null || completed.ChunkSize is not { } chunkSize || chunkSize <= 0
            || completed.Length is not { } length || length <= 0 || index > (length - 1) / chunkSize)
        {
            return false;
        }

        var start = index * chunkSize;
        var expected = Math.Min(chunkSize, length - start);
        if (expected > MaxComparedChunk || bodyLength != expected)
        {
            return false;
        }

        if (await body.BufferHeadAsync((int)expected, cancellationToken) != expected || !ObjectKey.Parse(completed.Key).TryGetValue(out var key, out _))
        {
            return false;
        }

        var opened = await _objects.OpenReadAsync(completed.Bucket, key, cancellationToken);
        if (!opened.TryGetValue(out var read, out _))
        {
            return false;
        }

        await using var content = read.Content;
        if (!string.Equals(read.Record.Sha256Hex, completed.ResultSha256, StringComparison.OrdinalIgnoreCase) || !content.CanSeek || read.Record.Size != length)
        {
            return false;
        }

        var stored = ArrayPool<byte>.Shared.Rent((int)expected);
        try
        {
            content.Seek(start, SeekOrigin.Begin);
            await content.ReadExactlyAsync(stored.AsMemory(0, (int)expected), cancellationToken);
            return body.Head.SequenceEqual(stored.AsSpan(0, (int)expected));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
        }
    }

    /// <summary>True when a chunk for a completed upload carries on where it ended: the quiet period published a whole
    /// number of chunks (no short final chunk was ever seen) and this chunk lies past them. That is a client that paused
    /// longer than the quiet period (offline, retry backoff), not a new file: chunk 0 of a new upload never matches.</summary>
    private static bool ContinuesAfter(UploadSession completed, long index) =>
        !completed.Partial && completed.ChunkSize is { } chunkSize && chunkSize > 0 && completed.Length is { } length && length > 0
        && length % chunkSize == 0 && index >= length / chunkSize;

    /// <summary>A new session for the name that starts with some chunks of the completed upload, copied from the object it
    /// published (each made durable like any chunk): the chunks answered as late retries (a client that resent them was
    /// starting a new version whose first chunks equal the old ones), or every chunk when the new upload continues it.</summary>
    /// <remarks>"A later chunk re-opens it as a new version."</remarks>
    private async Task<SessionChoice> CreateSeededAsync(ObjectKey key, string clientName, string identity, UploadSession completed, bool createOnly,
        long[] seed, CancellationToken cancellationToken)
    {
        var created = await CreateAsync(key, clientName, identity, createOnly, cancellationToken);
        if (seed.Length == 0 || created.Session is not { } session)
        {
            return created;
        }

        // Not the request's token: a seeding cut short would leave an open upload missing chunks the client was told
        // had arrived. Any failure aborts the new upload whole.
        DepotError? seeded;
        try
        {
            seeded = await SeedAsync(session, completed, seed, CancellationToken.None);
        }
        catch
        {
            await _uploads.AbortAsync(session.Id, CancellationToken.None);
            throw;
        }

        if (seeded is not null)
        {
            await _uploads.AbortAsync(session.Id, CancellationToken.None);
            return SessionChoice.Failed(seeded);
        }

        LogSeeded(_logger, session.Id, session.Key, session.Bucket, seed.Length);
        return created;
    }

    /// <summary>Writes chunks <paramref name="indices"/> of the completed upload's published bytes into
    /// <paramref name="session"/>; null when done.</summary>
    private async Task<DepotError?> SeedAsync(UploadSession session, UploadSession completed, IEnumerable<long> indices, CancellationToken cancellationToken)
    {
        var chunkSize = completed.ChunkSize!.Value;
        var length = completed.Length!.Value;
        var opened = await _objects.OpenReadAsync(completed.Bucket, ObjectKey.Parse(completed.Key).Value, cancellationToken);
        if (!opened.TryGetValue(out var read, out var error))
        {
            return error;
        }

        await using var content = read.Content;
        if (!string.Equals(read.Record.Sha256Hex, completed.ResultSha256, StringComparison.OrdinalIgnoreCase) || read.Record.Size != length || !content.CanSeek)
        {
            return DepotError.Conflict($"'{completed.Key}' changed while a new upload of it was starting; send the file again.");
        }

        foreach (var index in indices)
        {
            var start = index * chunkSize;
            content.Seek(start, SeekOrigin.Begin);
            var size = Math.Min(chunkSize, length - start);
            var written = await _uploads.WriteInferredChunkAsync(session.Id, index, new SliceReadStream(content, size), size, cancellationToken);
            if (!written.IsSuccess)
            {
                return written.Error;
            }
        }

        return null;
    }

    private static long[] LongRange(long count)
    {
        var range = new long[count];
        for (var i = 0L; i < count; i++)
        {
            range[i] = i;
        }

        return range;
    }

    /// <summary>Remembers that chunk <paramref name="index"/> was answered as already received from the completed upload
    /// <paramref name="completedId"/>.</summary>
    private void Claim(string key, string completedId, long index)
    {
        if (_claims.Count >= MaxRemembered)
        {
            _claims.Clear();
        }

        var claims = _claims.AddOrUpdate(key, _ => new LateClaims(completedId), (_, existing) => existing.CompletedId == completedId ? existing : new LateClaims(completedId));
        lock (claims.Indices)
        {
            claims.Indices.Add(index);
        }
    }

    /// <summary>The chunks answered as late retries of <paramref name="completedId"/>, forgotten from now on.</summary>
    private long[] TakeClaims(string key, string completedId)
    {
        if (!_claims.TryRemove(key, out var claims) || claims.CompletedId != completedId)
        {
            return [];
        }

        lock (claims.Indices)
        {
            return [.. claims.Indices];
        }
    }

    private sealed record LateClaims(string CompletedId)
    {
        public SortedSet<long> Indices { get; } = [];
    }
}
