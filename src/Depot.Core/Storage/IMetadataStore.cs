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

    /// <summary>Keys of the slave files of <paramref name="masterKey"/> (records whose <see cref="ObjectRecord.Master"/> is it).</summary>
    Task<IReadOnlyList<string>> GetSlaveKeysAsync(string bucket, string masterKey, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> records of a bucket that expired at or before <paramref name="now"/>, oldest first.</summary>
    Task<IReadOnlyList<ObjectRecord>> GetExpiredAsync(string bucket, DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>How many objects a bucket has recorded and their total size.</summary>
    Task<BucketUsage> GetUsageAsync(string bucket, CancellationToken cancellationToken);

    /// <summary>Durably notes that an in-place append to a file is starting; until <see cref="CompleteAppendAsync"/>
    /// clears it, a crash is undone at the next start by cutting the file back to <see cref="PendingAppend.RestoreSize"/>.</summary>
    Task BeginAppendAsync(PendingAppend append, CancellationToken cancellationToken);

    /// <summary>In one transaction: stores <paramref name="record"/> (when not null) and clears the pending append.</summary>
    Task CompleteAppendAsync(string bucket, string key, ObjectRecord? record, CancellationToken cancellationToken);

    /// <summary>Appends that were begun and never completed (a crash); recovery cuts them back.</summary>
    Task<IReadOnlyList<PendingAppend>> GetPendingAppendsAsync(CancellationToken cancellationToken);

    /// <summary>Re-keys the record at <paramref name="from"/> and every record below it to <paramref name="to"/>,
    /// replacing records already there; slave records follow their moved masters.</summary>
    Task MoveTreeAsync(string bucket, string from, string to, CancellationToken cancellationToken);
}

/// <summary>An in-place append in progress: the file's committed size to restore if it never completes, and the file's
/// identity (device and inode), so recovery cuts back only that very file, never another one found at the key.</summary>
public sealed record PendingAppend(string Bucket, string Key, long RestoreSize, string? Identity = null);

/// <summary>Objects recorded in a bucket and their total size.</summary>
public sealed record BucketUsage(long ObjectCount, long BytesUsed);
