using System.Security.Cryptography;

namespace Depot.Server.Tus;

/// <summary>
/// A request body that hashes what is read from it with every algorithm tus offers, for a chunk whose
/// <c>Upload-Checksum</c> comes as a trailer: the algorithm is only known once the body has been read, while the engine
/// hashes with one algorithm chosen before it starts.
/// </summary>
/// <remarks>Used only for chunks that announce the trailer; others let the engine hash with the header's algorithm.</remarks>
internal sealed class TrailerChecksumStream(Stream inner) : Stream
{
    private readonly IncrementalHash _sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
    private readonly IncrementalHash _md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>The digest of everything read so far with <paramref name="algorithm"/> (sha1, md5 or sha256).</summary>
    public byte[] Digest(string algorithm) => algorithm switch
    {
        "sha1" => _sha1.GetCurrentHash(),
        "md5" => _md5.GetCurrentHash(),
        "sha256" => _sha256.GetCurrentHash(),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Not a tus checksum algorithm."),
    };

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        Append(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = inner.Read(buffer, offset, count);
        Append(buffer.AsSpan(offset, read));
        return read;
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
            _sha1.Dispose();
            _md5.Dispose();
            _sha256.Dispose();
        }

        base.Dispose(disposing);
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        _sha1.AppendData(data);
        _md5.AppendData(data);
        _sha256.AppendData(data);
    }
}
