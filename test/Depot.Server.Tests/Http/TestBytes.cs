using System.Security.Cryptography;

namespace Depot.Server.Tests.Http;

/// <summary>Deterministic test content and hashes.</summary>
internal static class TestBytes
{
    public static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string ETagOf(byte[] bytes) => "\"" + Sha256Hex(bytes) + "\"";
}

/// <summary>A forward-only stream of pseudo-random bytes that hashes what it hands out; it cannot seek and has no
/// length, so an HTTP client must send it chunked.</summary>
internal sealed class GeneratedStream(long length, int seed) : Stream
{
    private readonly Random _random = new(seed);
    private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    private string? _finalSha;

    /// <summary>The SHA-256 of the whole content, once it has been read to the end (the stream may be disposed).</summary>
    public string FinishSha256Hex() => _finalSha ?? throw new InvalidOperationException("The stream was not read to the end.");

    public long Produced => _position;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = (int)Math.Min(buffer.Length, length - _position);
        if (n <= 0)
        {
            _finalSha ??= Convert.ToHexStringLower(_sha.GetHashAndReset());
            return 0;
        }

        var slice = buffer[..n];
        _random.NextBytes(slice);
        _sha.AppendData(slice);
        _position += n;
        if (_position == length)
        {
            _finalSha = Convert.ToHexStringLower(_sha.GetHashAndReset());
        }

        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

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
            _sha.Dispose();
        }

        base.Dispose(disposing);
    }
}
