using System.Security.Cryptography;

namespace Depot.Client;

/// <summary>
/// The value of one entry as a forward-only stream (<see cref="DepotKeyValue.GetStreamAsync"/>), with the entry's
/// version and expiry. Bytes are streamed from the server as they are read, never buffered whole; a dropped connection
/// resumes from the next byte of the same version.
/// </summary>
/// <remarks>
/// <para>Reading to the end checks the bytes against the value's SHA-256: a mismatch is
/// <see cref="ChecksumMismatchException"/> from the read that reaches the end. If the entry is replaced while it is
/// read, a read fails with <see cref="ConflictException"/> rather than mixing versions.</para>
/// <para>Not thread-safe. Dispose it (<c>await using</c>) to release the connection.</para>
/// </remarks>
public sealed class KeyValueReadStream : Stream
{
    private readonly Stream _inner;
    private readonly string _sha256;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _position;
    private bool _verified;
    private bool _disposed;

    internal KeyValueReadStream(string bucket, DepotObject described, Stream inner)
    {
        _inner = inner;
        _sha256 = described.Sha256 ?? "";
        Bucket = bucket;
        Key = described.Path.Key;
        ETag = described.ETag ?? DepotKeyValue.QuoteSha256(described.Sha256);
        Expires = described.Expires;
        ContentType = described.ContentType;
        Length = described.Size;
    }

    /// <summary>The bucket of the entry.</summary>
    public string Bucket { get; }

    /// <summary>The entry's key inside the bucket.</summary>
    public string Key { get; }

    /// <summary>The version being read: the quoted SHA-256 of the value.</summary>
    public string ETag { get; }

    /// <summary>When the entry expires (whole seconds); null for never.</summary>
    public DateTimeOffset? Expires { get; }

    /// <summary>The stored content type.</summary>
    public string? ContentType { get; }

    /// <summary>The value's length in bytes.</summary>
    public override long Length { get; }

    /// <summary>Bytes read so far. Setting it is not supported.</summary>
    public override long Position { get => _position; set => throw new NotSupportedException("A key-value read stream is forward-only."); }

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span[..read]);
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var read = _inner.Read(buffer, offset, count);
        return Account(buffer.AsSpan(offset, read));
    }

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A key-value read stream is forward-only.");

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException("A key-value read stream is read-only.");

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("A key-value read stream is read-only.");

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            await _inner.DisposeAsync().ConfigureAwait(false);
            _hash.Dispose();
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _inner.Dispose();
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Account(ReadOnlySpan<byte> bytes)
    {
        _hash.AppendData(bytes);
        _position += bytes.Length;
        if (!_verified && _position >= Length)
        {
            _verified = true;
            var actual = Convert.ToHexStringLower(_hash.GetHashAndReset());
            if (_sha256.Length > 0 && !string.Equals(actual, _sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new ChecksumMismatchException(
                    $"read {Bucket}/{Key}: the bytes received hash to {actual}, not the value's SHA-256 {_sha256}. Read it again.", 0);
            }
        }

        return bytes.Length;
    }
}
