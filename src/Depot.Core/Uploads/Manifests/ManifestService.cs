using System.Security.Cryptography;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Paths;

namespace Depot.Core.Uploads.Manifests;

/// <summary>Limits and lifetimes of manifests.</summary>
public sealed record ManifestOptions
{
    /// <summary>Most files in one manifest; more is refused with <c>too_large</c>.</summary>
    public int MaxFiles { get; init; } = 10_000;

    /// <summary>How long a manifest is kept after it was created (open sessions of the manifest push it back).</summary>
    public TimeSpan Expiry { get; init; } = TimeSpan.FromHours(24);

    /// <summary>How many bytes of existing objects one manifest may read to compare MD5s (objects record only their
    /// SHA-256). Files declared by MD5 past that budget are accepted and sent again rather than read.</summary>
    public long Md5CompareBudgetBytes { get; init; } = 1L << 30;
}

/// <summary>
/// Manifests (AccessGrid DataStore): a client declares a batch of files (name, size, checksum) under a prefix and learns
/// per file, before any byte moves, whether to send it (accepted, with an upload session), not to (rejected, with the
/// reason) or that it need not (already present with the same checksum).
/// </summary>
/// <remarks>
/// Each accepted file gets an upload session through <see cref="UploadEngine.CreateAsync"/> with the declared size and
/// checksum, so the engine verifies the upload at completion (a mismatch publishes nothing). That call is also where the
/// upload policy decides, once per file: a refusal there becomes the file's <c>rejected</c> answer. Present files are
/// not shown to the policy (nothing is uploaded).
/// </remarks>
public sealed class ManifestService(
    UploadEngine uploads,
    ObjectEngine objects,
    IManifestStore manifests,
    ManifestTracker tracker,
    ManifestOptions options,
    TimeProvider time)
{
    /// <summary>Files decided at once (bounded: each may read the disk and writes a session).</summary>
    private const int DecideConcurrency = 16;

    /// <summary>Declares a manifest: validates it, answers per file, and opens a session for each accepted file.</summary>
    /// <returns>The manifest; <c>invalid_request</c> (no files, duplicate names, a negative size, not exactly one
    /// checksum of the right length), <c>too_large</c> (too many files), <c>invalid_path</c> (prefix), <c>not_found</c>
    /// (bucket), <c>forbidden</c> (read-only bucket). Problems of one file (its name, size, the policy) are that file's
    /// <c>rejected</c> answer, not an error.</returns>
    public async Task<Result<ManifestView>> CreateAsync(ManifestDeclaration declaration, CancellationToken cancellationToken)
    {
        var valid = Validate(declaration);
        if (!valid.TryGetValue(out var prefix, out var invalid))
        {
            return invalid;
        }

        var target = objects.CheckTarget(declaration.Bucket, prefix, forWrite: true);
        if (!target.IsSuccess)
        {
            return target.Error!;
        }

        var id = NewId();
        var answers = new ManifestEntry?[declaration.Files.Count];
        var md5Budget = new Md5Budget(options.Md5CompareBudgetBytes);
        DepotError? failed = null;
        try
        {
            // Files are decided side by side: each opens a session (a durable write), and concurrent writes share the
            // store's commits. The answers keep the declared order.
            await Parallel.ForEachAsync(
                Enumerable.Range(0, declaration.Files.Count),
                new ParallelOptions { MaxDegreeOfParallelism = DecideConcurrency, CancellationToken = cancellationToken },
                async (i, token) =>
                {
                    if (Volatile.Read(ref failed) is not null)
                    {
                        return;
                    }

                    var decided = await DecideAsync(id, declaration, prefix, declaration.Files[i], md5Budget, token);
                    if (decided.TryGetValue(out var entry, out var error))
                    {
                        answers[i] = entry;
                    }
                    else
                    {
                        Interlocked.CompareExchange(ref failed, error, null);
                    }
                });
        }
        catch
        {
            // Infrastructure failed part-way: the sessions opened so far would wait for bytes nobody sends.
            await AbortAllAsync(answers);
            throw;
        }

        if (failed is not null)
        {
            // The server, not a file, is the problem (the policy could not decide, the disk is full): no answer at
            // all rather than a wrong one.
            await AbortAllAsync(answers);
            return failed;
        }

        var entries = answers.Select(a => a!).ToList();
        var now = time.GetUtcNow();
        var record = new ManifestRecord(id, declaration.Bucket, prefix.Value, declaration.Identity, declaration.ChunkSize, now, now + options.Expiry, null, entries);
        try
        {
            await manifests.InsertManifestAsync(record, cancellationToken);
        }
        catch
        {
            await AbortAllAsync(entries);
            throw;
        }

        // The view completes a manifest with nothing to send at once (and announces it, as any other).
        return await tracker.ViewAsync(record, cancellationToken);
    }

    /// <summary>The manifest now, for <paramref name="identity"/> (its creator) or an admin.</summary>
    /// <returns>The manifest; <c>not_found</c> (unknown, or another identity's), <c>upload_expired</c>.</returns>
    public async Task<Result<ManifestView>> GetAsync(string id, string identity, bool admin, CancellationToken cancellationToken)
    {
        var manifest = await manifests.GetManifestAsync(id, cancellationToken);
        if (manifest is null || !MayAccess(manifest, identity, admin))
        {
            return NotFound(id);
        }

        var view = await tracker.ViewAsync(manifest, cancellationToken);
        return view.ExpiresUtc <= time.GetUtcNow() ? new DepotError(ErrorCodes.UploadExpired, $"Manifest '{id}' expired at {view.ExpiresUtc:O}.") : view;
    }

    /// <summary>Deletes a manifest and aborts the sessions of its files that are still open (published files stay).</summary>
    /// <returns><c>not_found</c> (unknown, or another identity's).</returns>
    public async Task<Outcome> DeleteAsync(string id, string identity, bool admin, CancellationToken cancellationToken)
    {
        var manifest = await manifests.GetManifestAsync(id, cancellationToken);
        if (manifest is null || !MayAccess(manifest, identity, admin))
        {
            return NotFound(id);
        }

        var view = await tracker.ViewAsync(manifest, cancellationToken);
        foreach (var file in view.Files.Where(f => f.Status == ManifestFileStatus.Accepted))
        {
            var aborted = await uploads.AbortAsync(file.Entry.SessionId!, cancellationToken);
            if (!aborted.IsSuccess && aborted.Error!.Code is not (ErrorCodes.NotFound or ErrorCodes.UploadExpired or ErrorCodes.Conflict))
            {
                return aborted;
            }
        }

        await manifests.DeleteManifestAsync(id, cancellationToken);
        return Outcome.Success;
    }

    /// <summary>Forgets manifests past their expiry whose uploads are all over (those with an open, live session get the
    /// session's expiry instead). Their open sessions expire on their own. Returns how many were deleted.</summary>
    public async Task<int> SweepExpiredAsync(int limit, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var deleted = 0;
        foreach (var manifest in await manifests.GetExpiredManifestsAsync(now, limit, cancellationToken))
        {
            var view = await tracker.ViewAsync(manifest, cancellationToken);
            if (view.ExpiresUtc > now)
            {
                await manifests.UpdateManifestAsync(manifest.Id, m => m with { ExpiresUtc = view.ExpiresUtc }, cancellationToken);
            }
            else if (await manifests.DeleteManifestAsync(manifest.Id, cancellationToken))
            {
                deleted++;
            }
        }

        return deleted;
    }

    private static bool MayAccess(ManifestRecord manifest, string identity, bool admin) =>
        admin || string.Equals(manifest.Identity, identity, StringComparison.Ordinal);

    private static DepotError NotFound(string id) => DepotError.NotFound($"There is no manifest '{id}' of yours.");

    /// <summary>The checks on the manifest as a whole; returns the prefix as a key.</summary>
    private Result<ObjectKey> Validate(ManifestDeclaration declaration)
    {
        if (declaration.Files.Count == 0)
        {
            return DepotError.InvalidRequest("A manifest lists at least one file.");
        }

        if (declaration.Files.Count > options.MaxFiles)
        {
            return DepotError.TooLarge($"A manifest lists at most {options.MaxFiles} files ({declaration.Files.Count} given); split it.");
        }

        if (declaration.ChunkSize is <= 0)
        {
            return DepotError.InvalidRequest("chunkSize must be positive.");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in declaration.Files)
        {
            if (!names.Add(file.Name))
            {
                return DepotError.InvalidRequest($"The name '{file.Name}' appears twice in the manifest.");
            }

            if (file.Size < 0)
            {
                return DepotError.InvalidRequest($"The size of '{file.Name}' is negative.");
            }

            if ((file.Sha256 is null) == (file.Md5 is null))
            {
                return DepotError.InvalidRequest($"Give '{file.Name}' exactly one checksum: sha256 or md5.");
            }

            if (file.Sha256 is { Length: not 32 } || file.Md5 is { Length: not 16 })
            {
                return DepotError.InvalidRequest($"The checksum of '{file.Name}' has the wrong length (SHA-256: 64 hex digits, MD5: 32).");
            }
        }

        var prefix = declaration.Prefix.Trim('/');
        var parsed = ObjectKey.Parse(prefix, allowRoot: true);
        return parsed.TryGetValue(out var key, out var error)
            ? key
            : DepotError.InvalidPath($"The prefix is not a valid directory key: {error.Message}");
    }

    /// <summary>One file's answer; an error only when the whole manifest must fail (<c>unavailable</c>,
    /// <c>insufficient_storage</c>).</summary>
    private async Task<Result<ManifestEntry>> DecideAsync(
        string manifestId, ManifestDeclaration declaration, ObjectKey prefix, ManifestFileDeclaration file, Md5Budget md5Budget, CancellationToken cancellationToken)
    {
        ManifestEntry Rejected(string? key, string reason) => new(file.Name, key, file.Size, file.Sha256, file.Md5, ManifestDecision.Rejected, reason, null);

        var parsed = ObjectKey.Parse(file.Name);
        if (!parsed.IsSuccess)
        {
            return Rejected(null, $"The name is not a valid key: {parsed.Error!.Message}");
        }

        var joined = ObjectKey.Parse(prefix.IsRoot ? file.Name : prefix.Value + "/" + file.Name);
        if (!joined.TryGetValue(out var key, out var joinError))
        {
            return Rejected(null, $"The name is not a valid key under the prefix: {joinError.Message}");
        }

        var target = objects.CheckTarget(declaration.Bucket, key, forWrite: true);
        if (!target.IsSuccess)
        {
            return Rejected(key.Value, target.Error!.Message);
        }

        var found = await FindExistingAsync(declaration.Bucket, key, file, md5Budget, cancellationToken);
        if (found == Existing.Same)
        {
            return new ManifestEntry(file.Name, key.Value, file.Size, file.Sha256, file.Md5, ManifestDecision.Present, null, null);
        }

        if (found == Existing.Directory)
        {
            return Rejected(key.Value, $"A directory is in the way at '{key}'.");
        }

        var created = await uploads.CreateAsync(new UploadDeclaration
        {
            Bucket = declaration.Bucket,
            Key = key,
            Length = file.Size,
            ChunkSize = declaration.ChunkSize,
            ExpectedSha256 = file.Sha256,
            ExpectedMd5 = file.Md5,
            Protocol = UploadProtocols.Manifest,
            Identity = declaration.Identity,
            ClientName = file.Name,
            ManifestId = manifestId,
        }, cancellationToken);
        if (!created.TryGetValue(out var session, out var refused))
        {
            return refused.Code is ErrorCodes.Unavailable or ErrorCodes.InsufficientStorage ? refused : Rejected(key.Value, refused.Message);
        }

        return new ManifestEntry(file.Name, session.Key, file.Size, file.Sha256, file.Md5, ManifestDecision.Accepted, null, session.Id);
    }

    /// <summary>What is at <paramref name="key"/> compared with the declared file.</summary>
    private async Task<Existing> FindExistingAsync(string bucket, ObjectKey key, ManifestFileDeclaration file, Md5Budget md5Budget, CancellationToken cancellationToken)
    {
        var stat = await objects.StatAsync(bucket, key, cancellationToken);
        if (!stat.TryGetValue(out var found, out _))
        {
            return Existing.Nothing;
        }

        if (found.IsDirectory)
        {
            return Existing.Directory;
        }

        var record = found.Object!;
        if (record.Size != file.Size)
        {
            return Existing.Different;
        }

        if (file.Sha256 is { } sha256)
        {
            return CryptographicOperations.FixedTimeEquals(sha256, record.Sha256) ? Existing.Same : Existing.Different;
        }

        if (!md5Budget.TryTake(record.Size))
        {
            return Existing.Different;
        }

        // Records keep only the SHA-256: an MD5 is compared by reading the object (bounded by the budget).
        var opened = await objects.OpenReadAsync(bucket, key, cancellationToken);
        if (!opened.TryGetValue(out var read, out _))
        {
            return Existing.Nothing;
        }

        await using var content = read.Content;
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        long total = 0;
        try
        {
            int n;
            while ((n = await content.ReadAsync(buffer, cancellationToken)) > 0)
            {
                md5.AppendData(buffer, 0, n);
                total += n;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        return total == file.Size && CryptographicOperations.FixedTimeEquals(md5.GetHashAndReset(), file.Md5!) ? Existing.Same : Existing.Different;
    }

    private async Task AbortAllAsync(IEnumerable<ManifestEntry?> entries)
    {
        foreach (var entry in entries.Where(e => e?.SessionId is not null))
        {
            try
            {
                await uploads.AbortAsync(entry!.SessionId!, CancellationToken.None);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                // Best effort: an open session nobody uses expires on its own.
            }
        }
    }

    /// <summary>Bytes a manifest may still read to compare MD5s, shared by the files decided side by side.</summary>
    private sealed class Md5Budget(long bytes)
    {
        private long _left = bytes;

        /// <summary>Takes <paramref name="bytes"/> from the budget; false (taking nothing) when not that much is left.</summary>
        public bool TryTake(long bytes)
        {
            if (Interlocked.Add(ref _left, -bytes) >= 0)
            {
                return true;
            }

            Interlocked.Add(ref _left, bytes);
            return false;
        }
    }

    private enum Existing
    {
        Nothing,
        Directory,
        Different,
        Same,
    }

    /// <summary>A new manifest id: 128 random bits in hex.</summary>
    private static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
