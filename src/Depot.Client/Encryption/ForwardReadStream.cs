using System.Buffers;

namespace Depot.Client.Encryption;

/// <summary>
/// The shared shape of the encrypting and decrypting streams: read-only, forward-only, wrapping a source stream that
/// is disposed with it unless <c>leaveOpen</c>. Holds two pooled buffers (cleared when returned, since they may hold
/// plaintext). Once a read fails, the stream is broken and every later read throws: a half-read chunk cannot be
/// resumed, and carrying on would silently skip bytes. Not thread-safe.
/// </summary>
internal abstract class ForwardReadStream : Stream
{
    private readonly bool _leaveOpen;
    private byte[]? _first;
    private byte[]? _second;
    private Exception? _failure;

    protected ForwardReadStream(Stream source, bool leaveOpen, int firstBufferLength, int secondBufferLength)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source.CanRead)
        {
            throw new ArgumentException("The source stream must be readable.", nameof(source));
        }

        Source = source;
        _leaveOpen = leaveOpen;
        _first = ArrayPool<byte>.Shared.Rent(firstBufferLength);
        _second = ArrayPool<byte>.Shared.Rent(secondBufferLength);
    }

    public sealed override bool CanRead => _first is not null;

    public sealed override bool CanSeek => false;

    public sealed override bool CanWrite => false;

    public sealed override long Length => throw new NotSupportedException("This stream is forward-only; its length is not known to it.");

    public sealed override long Position
    {
        get => throw new NotSupportedException("This stream is forward-only.");
        set => throw new NotSupportedException("This stream is forward-only.");
    }

    protected Stream Source { get; }

    /// <summary>The first pooled buffer (valid until disposal).</summary>
    protected byte[] First => _first ?? throw new ObjectDisposedException(GetType().Name);

    /// <summary>The second pooled buffer (valid until disposal).</summary>
    protected byte[] Second => _second ?? throw new ObjectDisposedException(GetType().Name);

    public sealed override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    public sealed override int Read(Span<byte> buffer)
    {
        ThrowIfUnusable();
        try
        {
            return ReadCore(buffer);
        }
        catch (Exception e)
        {
            _failure = e;
            throw;
        }
    }

    public sealed override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public sealed override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable();
        try
        {
            return await ReadCoreAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _failure = e;
            throw;
        }
    }

    public sealed override void Flush()
    {
    }

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("This stream is forward-only.");

    public sealed override void SetLength(long value) => throw new NotSupportedException("This stream is read-only.");

    public sealed override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("This stream is read-only.");

    public override async ValueTask DisposeAsync()
    {
        if (ReleaseOnce() && !_leaveOpen)
        {
            await Source.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Reads into <paramref name="buffer"/> from <see cref="Source"/> until it is full or the source ends.
    /// Returns the bytes read: fewer than asked means the source ended.</summary>
    protected static int Fill(Stream source, Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = source.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    /// <inheritdoc cref="Fill"/>
    protected static async ValueTask<int> FillAsync(Stream source, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await source.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    protected abstract int ReadCore(Span<byte> buffer);

    protected abstract ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Frees what the subclass holds (called once, on disposal).</summary>
    protected virtual void ReleaseResources()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && ReleaseOnce() && !_leaveOpen)
        {
            Source.Dispose();
        }

        base.Dispose(disposing);
    }

    private bool ReleaseOnce()
    {
        if (_first is null)
        {
            return false;
        }

        ArrayPool<byte>.Shared.Return(_first, clearArray: true);
        ArrayPool<byte>.Shared.Return(_second!, clearArray: true);
        _first = null;
        _second = null;
        ReleaseResources();
        return true;
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_first is null, this);
        if (_failure is not null)
        {
            throw _failure is DecryptionException
                ? new DecryptionException("An earlier read of this stream failed: " + _failure.Message, _failure)
                : new IOException("An earlier read of this stream failed; it cannot continue.", _failure);
        }
    }
}
