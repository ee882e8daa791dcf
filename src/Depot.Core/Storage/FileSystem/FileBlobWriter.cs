using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Paths;
using Microsoft.Win32.SafeHandles;

namespace Depot.Core.Storage.FileSystem;

/// <summary>Hands out strictly increasing UTC times (100 ns ticks) for published files.</summary>
internal static class PublishClock
{
    private static long _last;

    public static DateTime Next()
    {
        while (true)
        {
            var last = Interlocked.Read(ref _last);
            var next = Math.Max(DateTime.UtcNow.Ticks, last + 1);
            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                return new DateTime(next, DateTimeKind.Utc);
            }
        }
    }
}

/// <summary>A staged write to a temporary file in the bucket's state folder.</summary>
internal sealed class FileBlobWriter : IBlobWriter
{
    // Start writeback every 8 MiB so the final fdatasync does not have to flush the whole file at once.
    private const long WritebackInterval = 8L << 20;
    private const long GroupFlushMaxBytes = 4L << 20;
    private readonly FileSystemBlobStore _store;
    private readonly string _root;
    private readonly string _tempPath;
    private SafeFileHandle? _handle;
    private long _writebackStart;
    private bool _published;

    public FileBlobWriter(FileSystemBlobStore store, string root, string tempPath)
    {
        _store = store;
        _root = root;
        _tempPath = tempPath;
        // A private, randomly named file: no lock needed (FileShare.None would cost an flock pair per upload).
        _handle = File.OpenHandle(tempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
    }

    public long Length { get; private set; }

    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var handle = _handle ?? throw new ObjectDisposedException(nameof(FileBlobWriter));
        try
        {
            RandomAccess.Write(handle, data.Span, Length);
        }
        catch (IOException e) when (StorageFullException.IsDiskFull(e))
        {
            throw new StorageFullException("No space left on the device that holds this bucket.", e);
        }

        Length += data.Length;
        if (Length - _writebackStart >= WritebackInterval)
        {
            PosixIo.StartWriteback(handle, _writebackStart, Length - _writebackStart);
            _writebackStart = Length;
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask FlushDurableAsync(CancellationToken cancellationToken)
    {
        var handle = _handle ?? throw new ObjectDisposedException(nameof(FileBlobWriter));
        // A unique, nanosecond-precise mtime per published version: coarse filesystem clocks would otherwise give two
        // quick same-size versions the same (size, mtime), and a reader could pair one's bytes with the other's checksum.
        File.SetLastWriteTimeUtc(handle, PublishClock.Next());
        try
        {
            if (GroupFlusher is { } group)
            {
                await group.FlushAsync();
            }
            else
            {
                PosixIo.FlushData(handle);
            }
        }
        catch (IOException e) when (StorageFullException.IsDiskFull(e))
        {
            throw new StorageFullException("No space left on the device that holds this bucket.", e);
        }
    }

    public async ValueTask<BlobStat?> PublishAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (key.Parent is { } parent && !FileSystemBlobStore.EnsureDirectory(_root, parent))
        {
            return null;
        }

        var destination = FileSystemBlobStore.Combine(_root, key);
        if (PosixIo.StatNoFollow(destination) is { Kind: not FileKind.File })
        {
            return null; // a directory or a link is in the way
        }

        File.Move(_tempPath, destination, overwrite: true); // rename(2): readers see the old or the new file
        _published = true;
        // fstat of the still-open handle: the published version (rename changed its ctime), even if a concurrent
        // directory move has already carried the file elsewhere.
        var published = PosixIo.StatHandle(_handle!, destination);
        _handle!.Dispose();
        _handle = null;
        if (GroupFlusher is { } group)
        {
            await group.FlushAsync(); // makes the rename durable, shared with concurrent small uploads
        }
        else
        {
            PosixIo.FlushDirectory(Path.GetDirectoryName(destination)!);
        }

        return FileSystemBlobStore.ToBlobStat(published);
    }

    /// <summary>Small writes share group flushes; large ones flush themselves (their data is mostly written back
    /// already, and a filesystem-wide flush would wait for unrelated data).</summary>
    private GroupFlusher? GroupFlusher => Length <= GroupFlushMaxBytes ? _store.FlusherFor(_root) : null;

    public ValueTask DisposeAsync()
    {
        _handle?.Dispose();
        _handle = null;
        if (!_published)
        {
            try
            {
                File.Delete(_tempPath);
            }
            catch (IOException)
            {
                // Left for the startup sweep of the staging folder.
            }
        }

        return ValueTask.CompletedTask;
    }
}
