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
    /// <summary>An appender object: it accepts append, modify and truncate (ordinary objects change only by replacement).</summary>
    public bool Appendable { get; init; }

    /// <summary>For appender objects: the resumable SHA-256 state of exactly these bytes (see
    /// <see cref="Hashing.AppenderHash"/>), so an append hashes only the new bytes. Null when unknown (rebuilt on demand).</summary>
    public byte[]? HashState { get; init; }

    /// <summary>When the object expires (key-value entries with a TTL): from then on it is invisible and reclaimed.</summary>
    public DateTimeOffset? ExpiresUtc { get; init; }

    /// <summary>For a slave file: the key of its master (same bucket). Deleting the master deletes its slaves.</summary>
    public string? Master { get; init; }

    /// <summary>On the record a write returns: true when the write created the key (nothing was there, or only an expired
    /// entry), false when it replaced an object. Not stored.</summary>
    public bool Created { get; init; }

    /// <summary>True when the object has expired at <paramref name="now"/>.</summary>
    public bool IsExpiredAt(DateTimeOffset now) => ExpiresUtc is { } expires && expires <= now;

    // Derived strings, cached with the value they were computed from so that a copy made with 'with' (which copies these
    // fields) and another checksum or time never reuses them. Each cache is one reference to an immutable object, so a
    // concurrent reader sees a whole old or a whole new one, never a mix. Hot reads send them with every response.
    private HexStrings? _hex;
    private DateString? _modifiedHttp;
    private DateString? _createdHttp;

    /// <summary>The strong entity tag: the SHA-256 in hex, quoted. Equal bytes have equal tags.</summary>
    public string ETag => Hex().ETag;

    /// <summary>The SHA-256 in lower-case hex (computed once per record).</summary>
    public string Sha256Hex => Hex().Hex;

    /// <summary><see cref="ModifiedUtc"/> as an HTTP date (RFC 9110 IMF-fixdate).</summary>
    public string ModifiedHttpDate => HttpDate(ModifiedUtc, ref _modifiedHttp);

    /// <summary><see cref="CreatedUtc"/> as an HTTP date.</summary>
    public string CreatedHttpDate => HttpDate(CreatedUtc, ref _createdHttp);

    private HexStrings Hex()
    {
        var cached = _hex;
        if (cached is null || !ReferenceEquals(cached.From, Sha256))
        {
            var hex = Convert.ToHexStringLower(Sha256);
            cached = new HexStrings(Sha256, hex, "\"" + hex + "\"");
            _hex = cached;
        }

        return cached;
    }

    private static string HttpDate(DateTimeOffset value, ref DateString? cache)
    {
        var cached = cache;
        if (cached is null || cached.From != value)
        {
            cached = new DateString(value, value.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
            cache = cached;
        }

        return cached.Text;
    }

    private sealed class HexStrings(byte[] from, string hex, string eTag)
    {
        public byte[] From { get; } = from;

        public string Hex { get; } = hex;

        public string ETag { get; } = eTag;
    }

    private sealed class DateString(DateTimeOffset from, string text)
    {
        public DateTimeOffset From { get; } = from;

        public string Text { get; } = text;
    }
}
