using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Storage;

namespace Depot.Core.Tests.TestSupport;

/// <summary>An <see cref="IBlobStore"/> that forwards every call to another one; tests override what they change.
/// It implements none of the capability interfaces, so the engine sees a plain blob store.</summary>
public class DelegatingBlobStore(IBlobStore inner) : IBlobStore
{
    public virtual ValueTask<IBlobWriter> BeginWriteAsync(string bucket, CancellationToken cancellationToken) => inner.BeginWriteAsync(bucket, cancellationToken);

    public virtual ValueTask<BlobStat?> StatAsync(string bucket, ObjectKey key, CancellationToken cancellationToken) => inner.StatAsync(bucket, key, cancellationToken);

    public virtual ValueTask<BlobRead?> OpenReadAsync(string bucket, ObjectKey key, CancellationToken cancellationToken) => inner.OpenReadAsync(bucket, key, cancellationToken);

    public virtual ValueTask<bool> DeleteFileAsync(string bucket, ObjectKey key, CancellationToken cancellationToken) => inner.DeleteFileAsync(bucket, key, cancellationToken);

    public virtual ValueTask<bool> CreateDirectoryAsync(string bucket, ObjectKey key, CancellationToken cancellationToken) => inner.CreateDirectoryAsync(bucket, key, cancellationToken);

    public virtual ValueTask<DirectoryDeleteResult> DeleteDirectoryAsync(string bucket, ObjectKey key, bool recursive, CancellationToken cancellationToken) =>
        inner.DeleteDirectoryAsync(bucket, key, recursive, cancellationToken);

    public virtual ValueTask<MoveResult> MoveAsync(string bucket, ObjectKey from, ObjectKey to, bool overwrite, CancellationToken cancellationToken) =>
        inner.MoveAsync(bucket, from, to, overwrite, cancellationToken);

    public virtual ValueTask<BlobListPage?> ListAsync(string bucket, ObjectKey directory, ListOptions options, CancellationToken cancellationToken) =>
        inner.ListAsync(bucket, directory, options, cancellationToken);
}
