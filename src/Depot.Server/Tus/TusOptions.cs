namespace Depot.Server.Tus;

/// <summary>Settings of the tus endpoint at <c>/tus/</c>.</summary>
public sealed class TusOptions
{
    /// <summary>The bucket uploads land in when their <c>Upload-Metadata</c> names none.</summary>
    public string Bucket { get; set; } = Core.Paths.BucketName.Default;

    /// <summary>The largest upload accepted (<c>Tus-Max-Size</c>), in bytes; null takes the maximum object size of
    /// <see cref="Bucket"/>. Each bucket's own limit applies as well.</summary>
    public long? MaxSize { get; set; }
}
