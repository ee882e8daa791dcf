using Microsoft.Win32.SafeHandles;

namespace Depot.Core.Storage.FileSystem;

/// <summary>A seekable read-only stream over an open file handle using positional reads (pread).</summary>
/// <remarks>Cheaper to create than <see cref="FileStream"/>, which validates the handle with extra syscalls; that
/// showed on small GETs. Reads are synchronous: file data is usually in the page cache.</remarks>
internal sealed class HandleReadStream(SafeFileHandle handle, long length) : Stream
{
    private long _position;

    public override bool CanRead => !handle.IsClosed;

    public override bool CanSeek => !handle.IsClosed;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        // Never past the length it was opened with: a file growing under an append is read as it was.
        var allowed = (int)Math.Clamp(length - _position, 0, buffer.Length);
        var n = allowed == 0 ? 0 : PosixIo.ReadAt(handle, buffer[..allowed], _position);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<int>(cancellationToken) : ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            handle.Dispose();
        }

        base.Dispose(disposing);
    }
}
