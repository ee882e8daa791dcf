namespace Depot.Client.Transfers;

/// <summary>The shared shape of the SDK's small forward-only read streams (wrappers that count, hash, bound or keep a
/// caller's stream open): a subclass implements <see cref="ReadAsync(Memory{byte}, CancellationToken)"/> and
/// <see cref="Read(Span{byte})"/>; everything else is refused.</summary>
internal abstract class ReadOnlyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException("This stream is forward-only.");

    public override long Position
    {
        get => throw new NotSupportedException("This stream is forward-only.");
        set => throw new NotSupportedException("This stream is forward-only.");
    }

    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    public abstract override int Read(Span<byte> buffer);

    public sealed override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public sealed override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("This stream is forward-only.");

    public sealed override void SetLength(long value) => throw new NotSupportedException("This stream is read-only.");

    public sealed override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("This stream is read-only.");
}
