using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Paths;
using Microsoft.Win32.SafeHandles;

namespace Depot.Core.Storage.FileSystem;

public sealed partial class FileSystemBlobStore : IBlobAppender
{
    public ValueTask<IBlobAppendHandle?> OpenForAppendAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var opened = OpenFile(bucket, key, write: true, out var path);
        return ValueTask.FromResult<IBlobAppendHandle?>(opened is null ? null : new FileAppendHandle(opened.Handle, path));
    }
}

/// <summary>A published file open for in-place writes (appender objects).</summary>
internal sealed class FileAppendHandle(SafeFileHandle handle, string path) : IBlobAppendHandle
{
    public BlobStat Stat() => FileSystemBlobStore.ToBlobStat(PosixIo.StatHandle(handle, path));

    public async ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            await RandomAccess.WriteAsync(handle, data, offset, cancellationToken);
        }
        catch (IOException e) when (StorageFullException.IsDiskFull(e))
        {
            throw new StorageFullException("No space left on the device that holds this bucket.", e);
        }
    }

    public void SetLength(long length) => RandomAccess.SetLength(handle, length);

    public BlobStat FlushDurable()
    {
        // A unique mtime, as for published files: see FileBlobWriter.FlushDurableAsync.
        File.SetLastWriteTimeUtc(handle, PublishClock.Next());
        try
        {
            PosixIo.FlushData(handle);
        }
        catch (IOException e) when (StorageFullException.IsDiskFull(e))
        {
            throw new StorageFullException("No space left on the device that holds this bucket.", e);
        }

        return Stat();
    }

    public ValueTask DisposeAsync()
    {
        handle.Dispose();
        return ValueTask.CompletedTask;
    }
}
