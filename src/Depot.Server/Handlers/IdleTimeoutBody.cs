namespace Depot.Server.Handlers;

/// <summary>A request body that cancels <see cref="Token"/> when a read waits longer than the idle timeout. The clock
/// runs only while a read is pending, so waiting for something else (a byte-range reservation, a disk) is not idle.</summary>
internal sealed class IdleTimeoutBody(Stream inner, TimeSpan idle, CancellationToken aborted) : Stream
{
    private readonly CancellationTokenSource _cts = CancellationTokenSource.CreateLinkedTokenSource(aborted);
    private int _expired;

    public CancellationToken Token => _cts.Token;

    public bool IdleExpired => Volatile.Read(ref _expired) == 1;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token, cancellationToken);
        using var timer = new CancellationTokenSource(idle);
        using var onIdle = timer.Token.Register(() =>
        {
            Volatile.Write(ref _expired, 1);
            _cts.Cancel();
        });
        return await inner.ReadAsync(buffer, linked.Token).ConfigureAwait(false);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _cts.Dispose();
        }

        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
