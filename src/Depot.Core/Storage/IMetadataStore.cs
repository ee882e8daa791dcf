using Depot.Core.Model;

namespace Depot.Core.Storage;

/// <summary>
/// What Depot knows about objects beyond their bytes: checksum, content type, times, user metadata.
/// </summary>
/// <remarks>Thread-safe. A write returns only once it is durable. Keys are canonical strings.</remarks>
public interface IMetadataStore : IAsyncDisposable
{
    /// <summary>Creates or migrates the schema.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    Task<ObjectRecord?> GetAsync(string bucket, string key, CancellationToken cancellationToken);

    /// <summary>Records for those of <paramref name="keys"/> that have one (listing joins).</summary>
    Task<IReadOnlyDictionary<string, ObjectRecord>> GetManyAsync(string bucket, IReadOnlyCollection<string> keys, CancellationToken cancellationToken);

    Task PutAsync(ObjectRecord record, CancellationToken cancellationToken);

    Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken);

    /// <summary>Deletes the record at <paramref name="key"/> and every record below <c>key/</c>.</summary>
    Task DeleteTreeAsync(string bucket, string key, CancellationToken cancellationToken);

    /// <summary>Re-keys the record at <paramref name="from"/> and every record below it to <paramref name="to"/>,
    /// replacing records already there.</summary>
    Task MoveTreeAsync(string bucket, string from, string to, CancellationToken cancellationToken);
}
