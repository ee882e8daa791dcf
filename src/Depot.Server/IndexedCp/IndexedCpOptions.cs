namespace Depot.Server.IndexedCp;

/// <summary>Where the IndexedCP door (<c>POST /upload</c>, docs/indexedcp.md) puts uploads and when it publishes them.</summary>
public sealed class IndexedCpOptions
{
    /// <summary>The bucket every IndexedCP upload lands in.</summary>
    public string Bucket { get; set; } = Core.Paths.BucketName.Default;

    /// <summary>A directory inside <see cref="Bucket"/> that every uploaded name goes under ("" = the bucket root).</summary>
    public string Prefix { get; set; } = "";

    /// <summary>Keep the directories of a client's relative path (<c>./sub/x.txt</c> → <c>sub/x.txt</c>, always inside
    /// bucket and prefix). Without it a name with directories is refused with 400, never flattened: two files called
    /// <c>x.txt</c> in different directories must not silently replace each other.</summary>
    public bool KeepPaths { get; set; }

    /// <summary>How long an upload whose chunks 0..n-1 have all arrived waits without a new chunk before it is published.
    /// Only uploads whose size is an exact multiple of the chunk size wait: a short final chunk publishes at once.</summary>
    /// <remarks>IndexedCP clients retry a failed chunk with a backoff of up to 60 s; on flaky networks a longer quiet
    /// period avoids publishing a prefix of a file first (the rest then follows as a new version).</remarks>
    public TimeSpan QuietPeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A new upload of a name that exists replaces it as a new version; false refuses it with 409.</summary>
    public bool ReplaceExisting { get; set; } = true;
}
