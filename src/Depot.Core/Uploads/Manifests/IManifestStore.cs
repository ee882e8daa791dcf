namespace Depot.Core.Uploads.Manifests;

/// <summary>Where manifests are recorded (SQLite by default). A write returns only once it is durable.</summary>
public interface IManifestStore
{
    /// <summary>Records a new manifest (its id is unique).</summary>
    Task InsertManifestAsync(ManifestRecord manifest, CancellationToken cancellationToken);

    Task<ManifestRecord?> GetManifestAsync(string id, CancellationToken cancellationToken);

    /// <summary>Reads the stored manifest, applies <paramref name="change"/> and stores the result, as one atomic step
    /// (concurrent updates of one manifest run one after the other, each seeing the previous one's result).</summary>
    /// <param name="change">Returns the new manifest (same id), or null to leave it as it is. Keep it quick and pure: it
    /// may run on the store's writer thread, and it runs once.</param>
    /// <returns>The stored manifest afterwards (null when there is none) and whether it changed.</returns>
    Task<ManifestUpdate> UpdateManifestAsync(string id, Func<ManifestRecord, ManifestRecord?> change, CancellationToken cancellationToken);

    /// <summary>False when there was none.</summary>
    Task<bool> DeleteManifestAsync(string id, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> manifests whose stored expiry is at or before <paramref name="now"/>.</summary>
    Task<IReadOnlyList<ManifestRecord>> GetExpiredManifestsAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);
}

/// <summary>The outcome of <see cref="IManifestStore.UpdateManifestAsync"/>.</summary>
public readonly record struct ManifestUpdate(ManifestRecord? Manifest, bool Changed);
