namespace Depot.Client;

/// <summary>
/// A write-only stream that appends to an appender object. Writes are buffered and sent as one atomic append per
/// <see cref="FlushAsync(CancellationToken)"/> (and whenever the buffer fills, and on dispose), so a reader sees the
/// object grow by whole flushes, never by part of one.
/// </summary>
/// <remarks>Not thread-safe. An append is not retried once it may have reached the server (it would add the bytes
/// twice); after a failure, compare <see cref="DepotObject.Size"/> of a fresh <see cref="DepotClient.StatAsync"/>
/// with <see cref="Position"/> to know whether the last flush landed. Dispose asynchronously
/// (<c>await using</c>) so the last flush is awaited.</remarks>
public sealed class RemoteAppendStream : Stream
{
    private readonly DepotClient _client;
    private readonly DepotPath _path;
    private readonly byte[] _buffer;
    private int _buffered;
    private long _position;
    private bool _disposed;

    internal RemoteAppendStream(DepotClient client, DepotPath path, DepotObject current, int bufferSize)
    {
        _client = client;
        _path = path;
        _buffer = new byte[Math.Max(4096, bufferSize)];
        Object = current;
        _position = current.Size;
    }

    /// <summary>The object after the last append that reached the server.</summary>
    public DepotObject Object { get; private set; }

    /// <inheritdoc />
    public override long Position { get => _position; set => throw new NotSupportedException("Appends go to the end."); }

    /// <inheritdoc />
    public override long Length => _position;

    /// <inheritdoc />
    public override bool CanRead => false;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => !_disposed;

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (buffer.Length > 0)
        {
            var n = Math.Min(buffer.Length, _buffer.Length - _buffered);
            buffer[..n].CopyTo(_buffer.AsMemory(_buffered));
            _buffered += n;
            _position += n;
            buffer = buffer[n..];
            if (_buffered == _buffer.Length)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Sends what is buffered as one atomic append.</summary>
    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_buffered == 0)
        {
            return;
        }

        var bytes = _buffer.AsMemory(0, _buffered);
        Object = await _client.AppendAsync(_path, bytes, cancellationToken).ConfigureAwait(false);
        _buffered = 0;
    }

    /// <inheritdoc />
    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("An append stream is write-only.");

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("Appends go to the end.");

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException("Use DepotClient.TruncateAsync.");

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
            _disposed = true;
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            Flush();
            _disposed = true;
        }

        base.Dispose(disposing);
    }
}
