using Depot.Core.Model;
using Depot.Core.Paths;

namespace Depot.Core.Storage;

/// <summary>Blob stores that keep an unfinished upload's bytes in one staged blob written at offsets, in any order, and
/// publish it by an atomic rename (local files). The data outlives restarts until deleted.</summary>
public interface IUploadStaging
{
    /// <summary>Opens the staged blob of an upload, creating it (empty) when <paramref name="create"/>; null when it does
    /// not exist and was not to be created.</summary>
    ValueTask<IStagedUpload?> OpenUploadAsync(string bucket, string uploadId, bool create, CancellationToken cancellationToken);

    /// <summary>Deletes an upload's staged blob. False when there was none.</summary>
    ValueTask<bool> DeleteUploadAsync(string bucket, string uploadId, CancellationToken cancellationToken);

    /// <summary>The ids of the uploads staged in a bucket (to reclaim ones no session knows).</summary>
    IReadOnlyList<string> ListUploads(string bucket);
}

/// <summary>An open staged upload. Writes are durable only after <see cref="FlushDurableAsync"/>.</summary>
public interface IStagedUpload : IAsyncDisposable
{
    /// <summary>The staged blob's size now (it may have holes where chunks have not arrived).</summary>
    long Length { get; }

    ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Reads up to <c>buffer.Length</c> bytes at <paramref name="offset"/>; 0 at the end.</summary>
    ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Sets the size (cuts a longer blob, e.g. bytes past the declared length that a broken chunk left).</summary>
    void SetLength(long length);

    /// <summary>Gives the blob a unique modification time and makes its bytes durable.</summary>
    ValueTask FlushDurableAsync(CancellationToken cancellationToken);

    /// <summary>Atomically makes the staged blob the file at <paramref name="key"/> (replacing one there), durably. The
    /// upload's staged blob is gone afterwards. Null when a directory is in the way.</summary>
    ValueTask<BlobStat?> PublishAsync(ObjectKey key, CancellationToken cancellationToken);
}
