namespace Depot.Core.Uploads.Manifests;

/// <summary>A batch of files a client means to upload under one prefix (AccessGrid's DataStore manifest).</summary>
/// <param name="Bucket">The target bucket.</param>
/// <param name="Prefix">The directory the names are relative to ("" for the bucket root).</param>
/// <param name="Files">The files, each with its declared size and checksum.</param>
/// <param name="ChunkSize">The chunk size of the sessions of accepted files, for uploads by chunk index; null for uploads
/// by byte offset.</param>
/// <param name="Identity">Who declares it (the API key's id); only this identity (or an admin) may read or delete it.</param>
public sealed record ManifestDeclaration(string Bucket, string Prefix, IReadOnlyList<ManifestFileDeclaration> Files, long? ChunkSize, string Identity);

/// <summary>One file of a manifest as declared: exactly one of <see cref="Sha256"/> and <see cref="Md5"/> is set.</summary>
public sealed record ManifestFileDeclaration(string Name, long Size, byte[]? Sha256, byte[]? Md5);

/// <summary>What a manifest answered for a file when it was declared.</summary>
public enum ManifestDecision
{
    /// <summary>An upload session waits for the bytes.</summary>
    Accepted,

    /// <summary>Refused (bad name, limits, policy); <see cref="ManifestEntry.Reason"/> says why.</summary>
    Rejected,

    /// <summary>The same bytes (same checksum) are already at the key: nothing to send.</summary>
    Present,
}

/// <summary>Where a file of a manifest stands now.</summary>
public enum ManifestFileStatus
{
    /// <summary>Accepted; its session is open and waits for (more) bytes.</summary>
    Accepted,

    Rejected,

    Present,

    /// <summary>Its session completed: the object is published.</summary>
    Uploaded,

    /// <summary>Its session was aborted or expired before it completed: the manifest cannot complete.</summary>
    Cancelled,
}

/// <summary>Where a manifest stands.</summary>
public enum ManifestState
{
    /// <summary>Some accepted file is not uploaded yet.</summary>
    Open,

    /// <summary>Every accepted file is uploaded (a manifest without accepted files is complete at once).</summary>
    Complete,
}

/// <summary>A file of a stored manifest: its declaration and the answer given when the manifest was created.</summary>
/// <param name="Key">The key the file goes to: the session's key for an accepted file (a policy may have chosen it),
/// prefix/name otherwise; null when the name is not a valid key.</param>
/// <param name="SessionId">The upload session of an accepted file.</param>
/// <param name="UploadedUtc">When the session of an accepted file completed (recorded in the manifest, so the answer
/// outlives the session).</param>
public sealed record ManifestEntry(
    string Name,
    string? Key,
    long Size,
    byte[]? Sha256,
    byte[]? Md5,
    ManifestDecision Decision,
    string? Reason,
    string? SessionId,
    DateTimeOffset? UploadedUtc = null);

/// <summary>A manifest as stored.</summary>
/// <param name="ExpiresUtc">When the manifest is forgotten. Open sessions of the manifest push it back (each chunk
/// extends its session), so a manifest lives as long as its slowest upload.</param>
/// <param name="CompletedUtc">When its last accepted file was uploaded (set once; the <c>manifest.completed</c> event is
/// sent when it is set).</param>
public sealed record ManifestRecord(
    string Id,
    string Bucket,
    string Prefix,
    string Identity,
    long? ChunkSize,
    DateTimeOffset CreatedUtc,
    DateTimeOffset ExpiresUtc,
    DateTimeOffset? CompletedUtc,
    IReadOnlyList<ManifestEntry> Files);

/// <summary>A file of a manifest now.</summary>
/// <param name="Session">Its upload session (accepted files whose session still exists).</param>
public sealed record ManifestFileView(ManifestEntry Entry, ManifestFileStatus Status, string? Key, UploadSession? Session);

/// <summary>A manifest now: the stored answer per file joined with the state of each upload session.</summary>
/// <param name="ExpiresUtc">The effective expiry (the stored one, pushed back by open sessions).</param>
public sealed record ManifestView(ManifestRecord Manifest, ManifestState State, DateTimeOffset ExpiresUtc, IReadOnlyList<ManifestFileView> Files)
{
    public int Count(ManifestFileStatus status) => Files.Count(f => f.Status == status);
}
