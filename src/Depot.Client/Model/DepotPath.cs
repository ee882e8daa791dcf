namespace Depot.Client;

/// <summary>
/// Where an object lives: a bucket and a <c>/</c>-separated key inside it. FastDFS-style file ids
/// (<c>group1/M00/3f/a2/…​.jpg</c>) have the same shape, so an id is a path.
/// </summary>
/// <remarks>
/// Written as text, a path is <c>bucket/key</c>; <c>/key</c> (a leading slash) means the bucket named
/// <c>default</c>. A path whose key is empty (<c>bucket</c> or <c>bucket/</c>) is the bucket's root directory.
/// Keys are sent as they are, each segment percent-encoded; the server decides what is valid (§1.5 of the HTTP API).
/// </remarks>
public readonly record struct DepotPath
{
    /// <summary>The bucket served by <c>depot serve DIR</c> for DIR itself.</summary>
    public const string DefaultBucket = "default";

    /// <summary>A path from its parts. <paramref name="key"/> may be empty (the bucket root); a leading or
    /// trailing <c>/</c> is removed.</summary>
    /// <exception cref="ArgumentException">The bucket is empty or contains <c>/</c>.</exception>
    public DepotPath(string bucket, string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(bucket);
        ArgumentNullException.ThrowIfNull(key);
        if (bucket.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"A bucket name cannot contain '/': '{bucket}'.", nameof(bucket));
        }

        Bucket = bucket;
        Key = key.Trim('/');
    }

    /// <summary>The bucket (a FastDFS group).</summary>
    public string Bucket { get; }

    /// <summary>The key inside the bucket, without leading or trailing <c>/</c>; empty for the bucket root.</summary>
    public string Key { get; }

    /// <summary>True for the bucket's root directory.</summary>
    public bool IsRoot => Key.Length == 0;

    /// <summary>The last segment of the key (the file name), or the bucket name for the root.</summary>
    public string Name => IsRoot ? Bucket : Key[(Key.LastIndexOf('/') + 1)..];

    /// <summary>The parent directory (the root is its own parent).</summary>
    public DepotPath Parent => Key.LastIndexOf('/') is var i && i > 0 ? new DepotPath(Bucket, Key[..i]) : new DepotPath(Bucket, "");

    /// <summary>Parses <c>bucket/key</c>, <c>bucket</c>, or <c>/key</c> (the default bucket).</summary>
    /// <exception cref="FormatException">The text is empty or names no bucket.</exception>
    public static DepotPath Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            throw new FormatException("A remote path is 'bucket/key' or '/key' (default bucket); it was empty.");
        }

        if (text[0] == '/')
        {
            return new DepotPath(DefaultBucket, text);
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? new DepotPath(text, "") : new DepotPath(text[..slash], text[(slash + 1)..]);
    }

    /// <summary>Parses text as <see cref="Parse"/> does, so that <c>"photos/cat.jpg"</c> can be passed where a path is expected.</summary>
    public static implicit operator DepotPath(string text) => Parse(text);

    /// <summary>The path of <paramref name="relative"/> (a <c>/</c>-separated key part) below this one.</summary>
    public DepotPath Combine(string relative)
    {
        ArgumentNullException.ThrowIfNull(relative);
        var rest = relative.Trim('/');
        return rest.Length == 0 ? this : new DepotPath(Bucket, IsRoot ? rest : Key + "/" + rest);
    }

    /// <summary><c>bucket/key</c> (the same text <see cref="Parse"/> reads).</summary>
    public override string ToString() => IsRoot ? Bucket : Bucket + "/" + Key;

    /// <summary>The same as <see cref="Parse"/>.</summary>
    public static DepotPath FromString(string text) => Parse(text);
}
