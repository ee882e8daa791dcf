namespace Depot.Core.Uploads;

/// <summary>Where upload sessions are recorded (SQLite by default). A write returns only once it is durable.</summary>
public interface IUploadSessionStore
{
    /// <summary>Records a new session (its id is unique).</summary>
    Task InsertSessionAsync(UploadSession session, CancellationToken cancellationToken);

    Task<UploadSession?> GetSessionAsync(string id, CancellationToken cancellationToken);

    /// <summary>Replaces a session's record.</summary>
    Task UpdateSessionAsync(UploadSession session, CancellationToken cancellationToken);

    Task DeleteSessionAsync(string id, CancellationToken cancellationToken);

    /// <summary>The newest session (open or completed) of a protocol for a bucket and the key the client asked for
    /// (<see cref="UploadSession.RequestedKey"/>), e.g. the IndexedCP upload of a name, wherever the policy put it.</summary>
    Task<UploadSession?> FindLatestAsync(string protocol, string bucket, string key, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> sessions that expired at or before <paramref name="now"/>.</summary>
    Task<IReadOnlyList<UploadSession>> GetExpiredSessionsAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>Open sessions of a protocol not touched since <paramref name="before"/> (IndexedCP's quiet-period completion).</summary>
    Task<IReadOnlyList<UploadSession>> GetQuietSessionsAsync(string protocol, DateTimeOffset before, int limit, CancellationToken cancellationToken);

    /// <summary>All sessions of a manifest.</summary>
    Task<IReadOnlyList<UploadSession>> GetManifestSessionsAsync(string manifestId, CancellationToken cancellationToken);
}
