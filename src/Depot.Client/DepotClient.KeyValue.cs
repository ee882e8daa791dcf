namespace Depot.Client;

public sealed partial class DepotClient
{
    /// <summary>The key-value view of <paramref name="bucket"/> (wrpme / quasardb style, HTTP API §3.21): an entry's
    /// key is an object key (<c>/</c> makes directories, which list), its value the object's bytes, its version the
    /// ETag (the quoted SHA-256 of the value).</summary>
    /// <remarks>Cheap: the view holds no state of its own and shares this client's connections; create one per use
    /// or keep it, as is convenient. Thread-safe.</remarks>
    /// <exception cref="ArgumentException">The bucket name is empty or contains <c>/</c>. Other invalid or unknown
    /// buckets fail on the first request (<see cref="InvalidRequestException"/>, <see cref="NotFoundException"/>).</exception>
    public DepotKeyValue KeyValue(string bucket = DepotPath.DefaultBucket) => new(this, bucket);
}
