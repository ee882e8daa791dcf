using System.Buffers;

namespace Depot.Server.IndexedCp;

/// <summary>
/// A chunk's request body that can be read again from the start as long as nothing beyond its buffered head has been
/// read, so a chunk that raced with its session's completion can go to the next session.
/// </summary>
/// <remarks>The head (<see cref="BufferHeadAsync"/>) is held in a pooled array returned on dispose; the rest
/// streams straight from the request.</remarks>
internal sealed class ChunkBody(Stream request) : Stream
{
    private byte[]? _head;
    private int _headLength;
    private int _headPosition;
    private bool _readPastHead;

    /// <summary>The buffered head (empty when none).</summary>
    public ReadOnlySpan<byte> Head => _head.AsSpan(0, _headLength);

    /// <summary>True while the body can be read again from its first byte.</summary>
    public bool CanRewind => !_readPastHead;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Makes sure the first <paramref name="limit"/> bytes of the body (fewer when it is shorter) are held in
    /// memory; returns how many are held (possibly more, from an earlier call). Only while <see cref="CanRewind"/>.</summary>
    public async Task<int> BufferHeadAsync(int limit, CancellationToken cancellationToken)
    {
        if (_readPastHead)
        {
            throw new InvalidOperationException("The body was read past its buffered head.");
        }

        if (_head is null || _head.Length < limit)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(limit, 1));
            if (_head is not null)
            {
                _head.AsSpan(0, _headLength).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_head);
            }

            _head = larger;
        }

        while (_headLength < limit)
        {
            var n = await request.ReadAsync(_head.AsMemory(_headLength, limit - _headLength), cancellationToken);
            if (n == 0)
            {
                break;
            }

            _headLength += n;
        }

        return _headLength;
    }

    /// <summary>Starts again from the first byte (only while <see cref="CanRewind"/>).</summary>
    public void Rewind()
    {
        if (_readPastHead)
        {
            throw new InvalidOperationException("The body was read past its buffered head.");
        }

        _headPosition = 0;
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read the body asynchronously.");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_headPosition < _headLength)
        {
            var n = Math.Min(buffer.Length, _headLength - _headPosition);
            _head.AsSpan(_headPosition, n).CopyTo(buffer.Span);
            _headPosition += n;
            return n;
        }

        if (buffer.Length == 0)
        {
            return 0;
        }

        var read = await request.ReadAsync(buffer, cancellationToken);
        if (read > 0)
        {
            _readPastHead = true;
        }

        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && _head is not null)
        {
            ArrayPool<byte>.Shared.Return(_head);
            _head = null;
            _headLength = 0;
        }

        base.Dispose(disposing);
    }
}
