using Depot.Core.Model;

namespace Depot.Core.Uploads;

/// <summary>The doors an upload session can come through (recorded on the session, passed to policy).</summary>
public static class UploadProtocols
{
    public const string Native = "native";
    public const string Tus = "tus";
    public const string IndexedCp = "indexedcp";
    public const string Manifest = "manifest";
}

/// <summary>Where a session stands.</summary>
public enum UploadState
{
    /// <summary>Accepting chunks.</summary>
    Open,

    /// <summary>Published (or, for a partial upload, closed and waiting to be concatenated). Kept until it expires so
    /// that a client asking again learns the outcome.</summary>
    Completed,
}

/// <summary>What a client declares when it starts a resumable upload.</summary>
public sealed record UploadDeclaration
{
    public required string Bucket { get; init; }

    /// <summary>The key the object will be published at; null to have the server assign a file id.</summary>
    public Paths.ObjectKey? Key { get; init; }

    /// <summary>The extension of a server-assigned id (ignored with <see cref="Key"/>).</summary>
    public string? Extension { get; init; }

    /// <summary>The total size; null to declare it later (deferred length).</summary>
    public long? Length { get; init; }

    /// <summary>The size of every chunk but the last, for chunks sent by index; null when chunks go by offset. Checked
    /// against the bucket's <see cref="BucketOptions.MinChunkSize"/>..<see cref="BucketOptions.MaxChunkSize"/>.</summary>
    public long? ChunkSize { get; init; }

    public byte[]? ExpectedSha256 { get; init; }

    public byte[]? ExpectedMd5 { get; init; }

    public string? ContentType { get; init; }

    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Publish an appender object.</summary>
    public bool Appendable { get; init; }

    /// <summary>Publish only if nothing is at the key (checked at creation and again at publication).</summary>
    public bool CreateOnly { get; init; }

    /// <summary>A part of a later concatenation (tus): completing it publishes nothing.</summary>
    public bool Partial { get; init; }

    public string Protocol { get; init; } = UploadProtocols.Native;

    /// <summary>Who uploads (the API key's identity); policy and events see it.</summary>
    public string Identity { get; init; } = "";

    /// <summary>The name the client gave the file (tus <c>filename</c>, IndexedCP <c>X-File-Name</c>, a manifest entry).</summary>
    public string? ClientName { get; init; }

    /// <summary>The manifest this upload fulfils, if any.</summary>
    public string? ManifestId { get; init; }

    /// <summary>Protocol-specific properties kept with the session (e.g. tus <c>Upload-Metadata</c>), opaque to the engine.</summary>
    public string? Properties { get; init; }
}

/// <summary>A byte range [<see cref="Start"/>, <see cref="End"/>).</summary>
public readonly record struct ByteSpan(long Start, long End)
{
    public long Length => End - Start;

    public override string ToString() => $"{Start}-{End}";
}

/// <summary>A resumable upload: what was declared, what has arrived (durably), and where it stands.</summary>
public sealed record UploadSession
{
    public required string Id { get; init; }

    public required string Bucket { get; init; }

    /// <summary>The key the object is published at (decided at creation: requested, assigned, or chosen by policy).</summary>
    public required string Key { get; init; }

    /// <summary>The key the client asked for (before the policy chose another); null for a server-assigned id.</summary>
    public string? RequestedKey { get; init; }

    public long? Length { get; init; }

    public long? ChunkSize { get; init; }

    public byte[]? ExpectedSha256 { get; init; }

    public byte[]? ExpectedMd5 { get; init; }

    public string? ContentType { get; init; }

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    public bool Appendable { get; init; }

    public bool CreateOnly { get; init; }

    public bool Partial { get; init; }

    public string Protocol { get; init; } = UploadProtocols.Native;

    public string Identity { get; init; } = "";

    public string? ClientName { get; init; }

    public string? ManifestId { get; init; }

    public string? Properties { get; init; }

    public DateTimeOffset CreatedUtc { get; init; }

    /// <summary>When a chunk last arrived (or the session was created).</summary>
    public DateTimeOffset UpdatedUtc { get; init; }

    /// <summary>When an untouched session is reclaimed (each chunk pushes it back).</summary>
    public DateTimeOffset ExpiresUtc { get; init; }

    public UploadState State { get; init; }

    /// <summary>The byte ranges durably received, sorted, merged.</summary>
    public IReadOnlyList<ByteSpan> Received { get; init; } = [];

    /// <summary>The published object's SHA-256 (hex) once completed.</summary>
    public string? ResultSha256 { get; init; }

    public long BytesReceived => Received.Sum(r => r.Length);

    /// <summary>How many bytes from the start have all arrived (the tus offset).</summary>
    public long ContiguousLength => Received is [{ Start: 0 } first, ..] ? first.End : 0;

    /// <summary>The end of the furthest byte received.</summary>
    public long ReceivedEnd => Received is [.., var last] ? last.End : 0;

    public bool IsExpiredAt(DateTimeOffset now) => ExpiresUtc <= now;

    /// <summary>True when every byte of the declared length has arrived.</summary>
    public bool IsFullyReceived => Length is { } length && (length == 0 || (Received is [{ Start: 0 } only] && only.End == length));

    /// <summary>Indices of the chunks that have fully arrived (needs <see cref="ChunkSize"/>).</summary>
    public IReadOnlyList<long> ReceivedChunks()
    {
        if (ChunkSize is not { } size || size <= 0)
        {
            return [];
        }

        var chunks = new List<long>();
        foreach (var span in Received)
        {
            for (var index = (span.Start + size - 1) / size; index * size < span.End; index++)
            {
                var end = index * size + size;
                if (Length is { } length)
                {
                    end = Math.Min(end, length);
                }

                if (end <= span.End)
                {
                    chunks.Add(index);
                }
            }
        }

        return chunks;
    }
}

/// <summary>The chunk checksum algorithms the engine computes (tus <c>Upload-Checksum</c>).</summary>
public static class ChunkChecksum
{
    public static IReadOnlyList<string> Algorithms { get; } = ["sha1", "md5", "sha256"];
}

/// <summary>How a chunk is written.</summary>
public sealed record ChunkOptions
{
    /// <summary>The declared body length (<c>Content-Length</c>), checked before and after.</summary>
    public long? ExpectedLength { get; init; }

    /// <summary>The chunk must start exactly where the contiguous bytes end (tus): otherwise <c>offset_mismatch</c>.</summary>
    public bool MustContinue { get; init; }

    /// <summary>The algorithm of the chunk checksum to compute while the body streams (sha1, md5, sha256); null: none.</summary>
    public string? ChecksumAlgorithm { get; init; }

    /// <summary>The digest the chunk must have, asked for only after the whole body has been read, so it may come from a
    /// trailer. Needs <see cref="ChecksumAlgorithm"/>. Null (or returning null): not checked.</summary>
    public Func<byte[]?>? Checksum { get; init; }

    /// <summary>Keep the bytes read before the body broke off (tus: a PATCH interrupted mid-way still advances the offset
    /// by what arrived, so the client resumes from there). Without it a broken chunk stores nothing.</summary>
    public bool KeepPartial { get; init; }
}

/// <summary>The result of a chunk write.</summary>
/// <param name="Session">The session after the write.</param>
/// <param name="Duplicate">True when every byte of the chunk had already arrived (with the same bytes): nothing changed.</param>
/// <param name="Published">Set when this write completed the upload and published it.</param>
public sealed record ChunkWritten(UploadSession Session, bool Duplicate, ObjectRecord? Published = null);
