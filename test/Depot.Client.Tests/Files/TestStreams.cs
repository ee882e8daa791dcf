using System.Collections.Concurrent;

namespace Depot.Client.Tests.Files;

/// <summary>A forward-only view of another stream: <c>CanSeek</c> is false and Length/Position throw, like a
/// network or pipe stream. Optionally slow (a delay per read) and in small reads.</summary>
public sealed class NonSeekableStream(Stream inner, int maxRead = int.MaxValue, TimeSpan? delayPerRead = null) : Stream
{
    public int Reads { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Reads++;
        if (delayPerRead is { } delay)
        {
            await Task.Delay(delay, cancellationToken);
        }

        return await inner.ReadAsync(buffer[..Math.Min(buffer.Length, maxRead)], cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        Reads++;
        if (delayPerRead is { } delay)
        {
            Thread.Sleep(delay);
        }

        return inner.Read(buffer, offset, Math.Min(count, maxRead));
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>An endless stream of zeros, slowly: for cancelling a transfer mid-way.</summary>
public sealed class SlowEndlessStream(TimeSpan delayPerRead, int bytesPerRead = 64 * 1024) : Stream
{
    private long _position;

    public long BytesRead => Interlocked.Read(ref _position);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await Task.Delay(delayPerRead, cancellationToken);
        var n = Math.Min(buffer.Length, bytesPerRead);
        buffer.Span[..n].Clear();
        Interlocked.Add(ref _position, n);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Collects progress reports synchronously, in the order they were made (<see cref="Progress{T}"/> would post
/// them to the thread pool, out of order).</summary>
public sealed class ProgressLog : IProgress<TransferProgress>
{
    private readonly ConcurrentQueue<TransferProgress> _reports = new();

    public IReadOnlyList<TransferProgress> Reports => _reports.ToArray();

    public Action<TransferProgress>? OnReport { get; init; }

    public void Report(TransferProgress value)
    {
        _reports.Enqueue(value);
        OnReport?.Invoke(value);
    }
}
