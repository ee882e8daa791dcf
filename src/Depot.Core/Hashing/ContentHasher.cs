using System.Security.Cryptography;

namespace Depot.Core.Hashing;

/// <summary>SHA-256 (always) and MD5 (when a client sent <c>Content-MD5</c>) computed over bytes as they stream by.</summary>
public sealed class ContentHasher : IDisposable
{
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly IncrementalHash? _md5;

    public ContentHasher(bool withMd5)
    {
        if (withMd5)
        {
            _md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        }
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        _sha256.AppendData(data);
        _md5?.AppendData(data);
    }

    public byte[] FinishSha256() => _sha256.GetHashAndReset();

    public byte[]? FinishMd5() => _md5?.GetHashAndReset();

    public void Dispose()
    {
        _sha256.Dispose();
        _md5?.Dispose();
    }

    /// <summary>SHA-256 of a whole stream, read in large blocks (describing files that Depot did not write).</summary>
    public static async Task<byte[]> Sha256OfAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                sha.AppendData(buffer, 0, n);
            }

            return sha.GetHashAndReset();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
