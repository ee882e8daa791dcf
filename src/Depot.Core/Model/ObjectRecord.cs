namespace Depot.Core.Model;

/// <summary>What the metadata store keeps about one object.</summary>
/// <param name="Bucket">The bucket name.</param>
/// <param name="Key">The canonical key (see <see cref="Paths.ObjectKey"/>).</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="Sha256">The SHA-256 of the bytes, computed while they were written (or when the file was described).</param>
/// <param name="ContentType">The media type given at upload, or null when unknown (servers then guess from the name).</param>
/// <param name="CreatedUtc">When Depot first stored the object; for a file Depot found on disk, its modification time
/// when first described.</param>
/// <param name="ModifiedUtc">When the bytes last changed (the blob's modification time).</param>
/// <param name="BlobVersion">The blob store's version token for these bytes (local files: size and mtime). When the
/// blob's current token differs, the record is stale and the object is described again before it is served.</param>
/// <param name="Metadata">User metadata (string pairs).</param>
public sealed record ObjectRecord(
    string Bucket,
    string Key,
    long Size,
    byte[] Sha256,
    string? ContentType,
    DateTimeOffset CreatedUtc,
    DateTimeOffset ModifiedUtc,
    string BlobVersion,
    IReadOnlyDictionary<string, string> Metadata)
{
    // Cached with the array it was computed from, so a copy made with another checksum never reuses it.
    private (byte[]? From, string? Hex) _sha256Hex;

    /// <summary>The strong entity tag: the SHA-256 in hex, quoted. Equal bytes have equal tags.</summary>
    public string ETag => "\"" + Sha256Hex + "\"";

    /// <summary>The SHA-256 in lower-case hex (computed once per record).</summary>
    public string Sha256Hex
    {
        get
        {
            var cached = _sha256Hex;
            if (!ReferenceEquals(cached.From, Sha256))
            {
                cached = (Sha256, Convert.ToHexStringLower(Sha256));
                _sha256Hex = cached;
            }

            return cached.Hex!;
        }
    }
}
