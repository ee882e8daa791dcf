using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Depot.Client.Encryption;

/// <summary>
/// The byte layout of format version 1 (docs/encryption.md) and the arithmetic over it. Everything here is pure;
/// the streams and <see cref="DepotEncryption"/> build on it.
/// </summary>
internal static class EncryptionFormat
{
    public const byte Version = 1;
    public const int MagicLength = 5;
    public const int SaltLength = 16;
    public const int FileIdLength = 16;
    public const int MacLength = 32;

    public const int VersionOffset = 5;
    public const int KdfOffset = 6;
    public const int IterationsOffset = 7;
    public const int SaltOffset = 11;
    public const int ChunkSizeOffset = 27;
    public const int FileIdOffset = 31;
    public const int MacOffset = 47;

    /// <summary>79: magic 5, version 1, KDF 1, iterations 4, salt 16, chunk size 4, file id 16, header MAC 32.</summary>
    public const int HeaderLength = MacOffset + MacLength;

    /// <summary>Plaintext bytes per chunk. Every chunk but the last holds exactly this many.</summary>
    public const int ChunkSize = 64 * 1024;

    /// <summary>The AES-GCM tag after each chunk's ciphertext.</summary>
    public const int TagLength = 16;

    /// <summary>A full (non-final) chunk on the wire.</summary>
    public const int FullChunkLength = ChunkSize + TagLength;

    public const int NonceLength = 12;

    /// <summary>SHA-256 of the header, then the chunk index (uint64 BE), then the final flag.</summary>
    public const int AssociatedDataLength = 32 + 8 + 1;

    /// <summary>The largest plaintext whose ciphertext length still fits in a <see cref="long"/>.</summary>
    public const long MaxPlaintextLength = (long.MaxValue - HeaderLength) / FullChunkLength * ChunkSize - 1;

    public static ReadOnlySpan<byte> Magic => "DPENC"u8;

    private static ReadOnlySpan<byte> ChunkKeyInfo => "Depot encryption v1 chunk key"u8;

    private static ReadOnlySpan<byte> MacKeyInfo => "Depot encryption v1 header MAC key"u8;

    public static long CiphertextLength(long plaintextLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(plaintextLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(plaintextLength, MaxPlaintextLength);
        return HeaderLength + plaintextLength + (TagLength * ChunkCount(plaintextLength));
    }

    /// <summary>Every plaintext has <c>length / ChunkSize + 1</c> chunks: the last one is short (0 to ChunkSize-1 bytes).</summary>
    public static long ChunkCount(long plaintextLength) => (plaintextLength / ChunkSize) + 1;

    /// <summary>The index of the final chunk of a plaintext of this length.</summary>
    public static long FinalChunkIndex(long plaintextLength) => plaintextLength / ChunkSize;

    /// <summary>Where chunk <paramref name="index"/> starts in the encrypted file.</summary>
    public static long ChunkOffset(long index) => HeaderLength + (index * FullChunkLength);

    /// <summary>The on-the-wire length (ciphertext + tag) of chunk <paramref name="index"/>.</summary>
    public static int ChunkLength(long index, long totalPlaintextLength) =>
        index < FinalChunkIndex(totalPlaintextLength) ? FullChunkLength : (int)(totalPlaintextLength % ChunkSize) + TagLength;

    public static bool TryPlaintextLength(long ciphertextLength, out long plaintextLength)
    {
        plaintextLength = 0;
        if (ciphertextLength < HeaderLength + TagLength)
        {
            return false;
        }

        var body = ciphertextLength - HeaderLength;
        var fullChunks = body / FullChunkLength;
        var last = body % FullChunkLength;
        if (last < TagLength)
        {
            return false;
        }

        plaintextLength = (fullChunks * ChunkSize) + (last - TagLength);
        return true;
    }

    /// <summary>The chunks a plaintext range needs: the ones it touches, plus the final chunk when the range reaches
    /// the end of the file (so the read also proves the file ends there). An empty range needs none.</summary>
    public static (long First, long Last) ChunksFor(long plaintextOffset, long plaintextLength, long totalPlaintextLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(totalPlaintextLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(totalPlaintextLength, MaxPlaintextLength);
        ArgumentOutOfRangeException.ThrowIfNegative(plaintextOffset);
        ArgumentOutOfRangeException.ThrowIfNegative(plaintextLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(plaintextOffset, totalPlaintextLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(plaintextLength, totalPlaintextLength - plaintextOffset);

        var first = plaintextOffset / ChunkSize;
        if (plaintextLength == 0)
        {
            return (first, first - 1);
        }

        var end = plaintextOffset + plaintextLength;
        var last = end == totalPlaintextLength ? FinalChunkIndex(totalPlaintextLength) : (end - 1) / ChunkSize;
        return (first, last);
    }

    /// <summary>Builds a new header for <paramref name="key"/> with a fresh random file id, and the cipher for its chunks.</summary>
    public static byte[] CreateHeader(EncryptionKey key, out FileCipher cipher)
    {
        var header = new byte[HeaderLength];
        Magic.CopyTo(header);
        header[VersionOffset] = Version;
        var (kdf, iterations, salt) = key.ParametersForNewFile();
        header[KdfOffset] = (byte)kdf;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(IterationsOffset), (uint)iterations);
        salt.CopyTo(header.AsSpan(SaltOffset, SaltLength));
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(ChunkSizeOffset), ChunkSize);
        RandomNumberGenerator.Fill(header.AsSpan(FileIdOffset, FileIdLength));

        var master = key.MasterKey(kdf, iterations, salt);
        Span<byte> macKey = stackalloc byte[32];
        Span<byte> chunkKey = stackalloc byte[32];
        try
        {
            DeriveFileKeys(master, header.AsSpan(FileIdOffset, FileIdLength), chunkKey, macKey);
            HMACSHA256.HashData(macKey, header.AsSpan(0, MacOffset), header.AsSpan(MacOffset, MacLength));
            cipher = new FileCipher(chunkKey, SHA256.HashData(header));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(macKey);
            CryptographicOperations.ZeroMemory(chunkKey);
        }

        return header;
    }

    /// <summary>Checks a header's structure, derives the file's keys from <paramref name="key"/> and verifies the header
    /// MAC. Throws <see cref="DecryptionException"/> for anything wrong, including a wrong key.</summary>
    public static FileCipher OpenHeader(ReadOnlySpan<byte> header, EncryptionKey key)
    {
        if (header.Length < HeaderLength)
        {
            throw new DecryptionException(
                $"Not a Depot-encrypted file: {header.Length} bytes is shorter than the {HeaderLength}-byte encryption header.");
        }

        header = header[..HeaderLength];
        if (!header[..MagicLength].SequenceEqual(Magic))
        {
            throw new DecryptionException("Not a Depot-encrypted file: the DPENC header is missing (or the file was changed).");
        }

        if (header[VersionOffset] != Version)
        {
            throw new DecryptionException(
                $"Unsupported encryption format version {header[VersionOffset]} (this client reads version {Version}), or the file was changed.");
        }

        var chunkSize = BinaryPrimitives.ReadUInt32BigEndian(header[ChunkSizeOffset..]);
        if (chunkSize != ChunkSize)
        {
            throw new DecryptionException(
                $"Unsupported encryption chunk size {chunkSize} (version {Version} uses {ChunkSize}), or the file was changed.");
        }

        var kdfByte = header[KdfOffset];
        if (kdfByte is not ((byte)KeyDerivation.RawKey or (byte)KeyDerivation.Pbkdf2Sha256))
        {
            throw new DecryptionException($"Unknown key derivation {kdfByte} in the encryption header, or the file was changed.");
        }

        var iterations = BinaryPrimitives.ReadUInt32BigEndian(header[IterationsOffset..]);
        var master = key.MasterKey((KeyDerivation)kdfByte, iterations, header.Slice(SaltOffset, SaltLength));
        Span<byte> macKey = stackalloc byte[32];
        Span<byte> chunkKey = stackalloc byte[32];
        Span<byte> mac = stackalloc byte[MacLength];
        try
        {
            DeriveFileKeys(master, header.Slice(FileIdOffset, FileIdLength), chunkKey, macKey);
            HMACSHA256.HashData(macKey, header[..MacOffset], mac);
            if (!CryptographicOperations.FixedTimeEquals(mac, header.Slice(MacOffset, MacLength)))
            {
                throw new DecryptionException(
                    "Decryption failed: wrong key or passphrase, or the file was changed (the encryption header did not verify).");
            }

            return new FileCipher(chunkKey, SHA256.HashData(header));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(macKey);
            CryptographicOperations.ZeroMemory(chunkKey);
        }
    }

    /// <summary>Per-file subkeys: HKDF-SHA256 with the master key as input, the file id as salt, and a label as info.</summary>
    private static void DeriveFileKeys(ReadOnlySpan<byte> master, ReadOnlySpan<byte> fileId, Span<byte> chunkKey, Span<byte> macKey)
    {
        HKDF.DeriveKey(HashAlgorithmName.SHA256, master, chunkKey, fileId, ChunkKeyInfo);
        HKDF.DeriveKey(HashAlgorithmName.SHA256, master, macKey, fileId, MacKeyInfo);
    }
}

/// <summary>The KDF id byte of the header.</summary>
internal enum KeyDerivation : byte
{
    /// <summary>The 32-byte key is used as the master key; iterations and salt are zero.</summary>
    RawKey = 0,

    /// <summary>PBKDF2-HMAC-SHA256 of the UTF-8 passphrase with the header's salt and iterations.</summary>
    Pbkdf2Sha256 = 1,
}

/// <summary>
/// AES-256-GCM under one file's chunk key. Nonce = 4 zero bytes then the chunk index (uint64 BE): unique because each
/// file has its own key and each index is used once. Associated data = SHA-256(header) ‖ index ‖ final flag.
/// Not thread-safe (one per stream or call).
/// </summary>
internal sealed class FileCipher : IDisposable
{
    private readonly AesGcm _aes;
    private readonly byte[] _headerHash;

    public FileCipher(ReadOnlySpan<byte> chunkKey, byte[] headerHash)
    {
        _aes = new AesGcm(chunkKey, EncryptionFormat.TagLength);
        _headerHash = headerHash;
    }

    /// <summary>Encrypts one chunk into <paramref name="destination"/>: ciphertext (as long as the plaintext), then the tag.</summary>
    public void Encrypt(long index, bool final, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        Span<byte> nonce = stackalloc byte[EncryptionFormat.NonceLength];
        Span<byte> ad = stackalloc byte[EncryptionFormat.AssociatedDataLength];
        Prepare(index, final, nonce, ad);
        _aes.Encrypt(nonce, plaintext, destination[..plaintext.Length],
            destination.Slice(plaintext.Length, EncryptionFormat.TagLength), ad);
    }

    /// <summary>Verifies and decrypts one chunk (ciphertext then tag) into <paramref name="plaintext"/>. Nothing usable
    /// is written unless the tag verifies; throws <see cref="DecryptionException"/> otherwise.</summary>
    public void Decrypt(long index, bool final, ReadOnlySpan<byte> chunk, Span<byte> plaintext)
    {
        if (chunk.Length < EncryptionFormat.TagLength)
        {
            throw new DecryptionException($"Decryption failed: chunk {index} is cut short; the file was truncated or changed.");
        }

        var length = chunk.Length - EncryptionFormat.TagLength;
        Span<byte> nonce = stackalloc byte[EncryptionFormat.NonceLength];
        Span<byte> ad = stackalloc byte[EncryptionFormat.AssociatedDataLength];
        Prepare(index, final, nonce, ad);
        try
        {
            _aes.Decrypt(nonce, chunk[..length], chunk[length..], plaintext[..length], ad);
        }
        catch (CryptographicException e)
        {
            throw new DecryptionException(
                $"Decryption failed: chunk {index} did not verify; the file was changed, truncated, extended or reordered.", e);
        }
    }

    public void Dispose() => _aes.Dispose();

    private void Prepare(long index, bool final, Span<byte> nonce, Span<byte> ad)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], (ulong)index);
        _headerHash.CopyTo(ad);
        BinaryPrimitives.WriteUInt64BigEndian(ad[32..], (ulong)index);
        ad[40] = final ? (byte)1 : (byte)0;
    }
}
