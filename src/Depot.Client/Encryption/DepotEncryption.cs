using System.Buffers;
using System.Security.Cryptography;
using Depot.Client.Encryption;

namespace Depot.Client;

/// <summary>
/// Client-side encryption: AES-256-GCM in 64 KiB chunks behind a 79-byte header (format version 1, described byte by
/// byte in docs/encryption.md). The server only ever stores and sees the ciphertext. Decryption verifies everything:
/// a changed bit anywhere, a truncated, extended or reordered file, or a wrong key all end in
/// <see cref="DecryptionException"/>, and no plaintext of a chunk is returned before that chunk verified.
/// </summary>
/// <remarks>
/// All members are thread-safe. The streams they return are not (one reader at a time), and they hold memory for two
/// chunks (about 128 KiB), never the whole file. Lengths and offsets are in bytes.
/// <para>Ranged reads: fetch the first <see cref="HeaderLength"/> bytes of the encrypted file once, ask
/// <see cref="CiphertextRangeFor"/> which encrypted bytes cover the plaintext range, fetch those (an HTTP Range
/// request), and pass both to <see cref="DecryptRange"/> or <see cref="DecryptingRangeStream"/>.</para>
/// </remarks>
public static class DepotEncryption
{
    /// <summary>The length in bytes of the header that starts every encrypted file (79 in format version 1).</summary>
    public const int HeaderLength = EncryptionFormat.HeaderLength;

    /// <summary>Plaintext bytes per chunk (65,536). Every chunk but the last holds exactly this many; the last holds
    /// 0 to <c>ChunkSize - 1</c>.</summary>
    public const int ChunkSize = EncryptionFormat.ChunkSize;

    /// <summary>Bytes of authentication tag after each chunk (16), so a full chunk is <c>ChunkSize + 16</c> bytes encrypted.</summary>
    public const int TagLength = EncryptionFormat.TagLength;

    /// <summary>The longest plaintext this format can hold: the one whose encrypted length is still a <see cref="long"/>
    /// (about 8 EiB).</summary>
    public const long MaxPlaintextLength = EncryptionFormat.MaxPlaintextLength;

    /// <summary>
    /// The exact length of the encrypted form of <paramref name="plaintextLength"/> bytes:
    /// <c>HeaderLength + plaintextLength + 16 × (plaintextLength / ChunkSize + 1)</c>. Use it to declare an upload's
    /// length before sending it. Encryption adds 95 bytes to an empty file and about 0.024 % to a large one.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The length is negative or above <see cref="MaxPlaintextLength"/>.</exception>
    public static long CiphertextLength(long plaintextLength) => EncryptionFormat.CiphertextLength(plaintextLength);

    /// <summary>
    /// The plaintext length of an encrypted file of <paramref name="ciphertextLength"/> bytes (the inverse of
    /// <see cref="CiphertextLength"/>), e.g. to show a file's real size from the server's size. This trusts the length it
    /// is given; the bytes themselves are verified only when decrypted.
    /// </summary>
    /// <exception cref="DecryptionException">No plaintext encrypts to that length: the file is not in this format,
    /// or was truncated or extended.</exception>
    public static long PlaintextLength(long ciphertextLength) =>
        EncryptionFormat.TryPlaintextLength(ciphertextLength, out var plaintextLength)
            ? plaintextLength
            : throw new DecryptionException(
                $"{ciphertextLength} bytes is not a possible length of a Depot-encrypted file; it is not one, or it was truncated or extended.");

    /// <summary>
    /// A read-only, forward-only stream of the encrypted form of <paramref name="plaintext"/>: the header, then each
    /// encrypted chunk as the plaintext is read, one chunk at a time. The source is read sequentially, may be
    /// non-seekable, and its length need not be known; its end marks the last chunk as final. Each call makes a new
    /// random file id (and so a new file key): encrypting the same plaintext twice gives different bytes, and a
    /// restarted upload must send a freshly made stream from its start, not splice two.
    /// </summary>
    /// <param name="plaintext">The bytes to encrypt, read from its current position to its end.</param>
    /// <param name="key">The key; a passphrase key derives (and caches) its master key here on first use, which takes a
    /// noticeable fraction of a second.</param>
    /// <param name="leaveOpen">False to dispose <paramref name="plaintext"/> with the returned stream.</param>
    /// <returns>A stream that is not thread-safe, whose Length and Position throw <see cref="NotSupportedException"/>
    /// (use <see cref="CiphertextLength"/>). If a read from the source fails or is cancelled, the stream is broken: later
    /// reads throw, since a half-read chunk cannot be resumed.</returns>
    public static Stream EncryptingStream(Stream plaintext, EncryptionKey key, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(key);
        return new EncryptingReadStream(plaintext, key, leaveOpen);
    }

    /// <summary>
    /// A read-only, forward-only stream of the plaintext of a whole encrypted file, read sequentially from
    /// <paramref name="ciphertext"/> (which may be non-seekable, e.g. an HTTP response). Each chunk is verified before
    /// any of its bytes are returned. The header is read and checked on the first read.
    /// </summary>
    /// <remarks>
    /// Reads throw <see cref="DecryptionException"/> for: a missing or malformed header; a wrong key or passphrase
    /// ("wrong key or passphrase, or the file was changed"); a chunk that does not verify (changed, reordered,
    /// dropped); an end without a final chunk (truncation); bytes after the final chunk. The file is proven complete
    /// only when a read returns 0: until then, bytes already returned are genuine but the rest may yet fail, so a
    /// caller writing them somewhere must discard them on an exception. After an exception every later read throws.
    /// Not thread-safe; Length and Position throw <see cref="NotSupportedException"/>.
    /// </remarks>
    /// <param name="ciphertext">The encrypted file from its first byte.</param>
    /// <param name="key">The key or passphrase it was encrypted with.</param>
    /// <param name="leaveOpen">False to dispose <paramref name="ciphertext"/> with the returned stream.</param>
    public static Stream DecryptingStream(Stream ciphertext, EncryptionKey key, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentNullException.ThrowIfNull(key);
        return new DecryptingReadStream(ciphertext, key, leaveOpen);
    }

    /// <summary>
    /// The encrypted bytes needed to read plaintext [<paramref name="plaintextOffset"/>,
    /// <paramref name="plaintextOffset"/> + <paramref name="plaintextLength"/>) of a file of
    /// <paramref name="totalPlaintextLength"/> plaintext bytes: the whole chunks the range touches, plus the final chunk
    /// when the range reaches the end of the file (so the read also proves where the file ends). Fetch them with one
    /// HTTP Range request; the header (<see cref="HeaderLength"/> bytes at offset 0) is needed as well.
    /// </summary>
    /// <returns>The offset and length in the encrypted file. For an empty range the length is 0 (nothing to fetch) and
    /// the offset is where the chunk holding <paramref name="plaintextOffset"/> starts.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative, the range goes past
    /// <paramref name="totalPlaintextLength"/>, or the total is above <see cref="MaxPlaintextLength"/>.</exception>
    public static (long CiphertextOffset, long CiphertextLength) CiphertextRangeFor(long plaintextOffset, long plaintextLength,
        long totalPlaintextLength)
    {
        var (first, last) = EncryptionFormat.ChunksFor(plaintextOffset, plaintextLength, totalPlaintextLength);
        var start = EncryptionFormat.ChunkOffset(first);
        if (last < first)
        {
            return (start, 0);
        }

        var end = EncryptionFormat.ChunkOffset(last) + EncryptionFormat.ChunkLength(last, totalPlaintextLength);
        return (start, end - start);
    }

    /// <summary>
    /// Verifies and decrypts plaintext [<paramref name="plaintextOffset"/>, <paramref name="plaintextOffset"/> +
    /// <paramref name="plaintextLength"/>) from the header and a slice of encrypted chunks (typically the bytes
    /// <see cref="CiphertextRangeFor"/> named, fetched with a Range request). Returns exactly the requested bytes, and
    /// only after every chunk they come from verified. Buffers the range (use <see cref="DecryptingRangeStream"/> for
    /// large ones).
    /// </summary>
    /// <param name="header">The first <see cref="HeaderLength"/> bytes of the encrypted file (more are ignored).</param>
    /// <param name="ciphertextChunks">Encrypted bytes starting at <paramref name="ciphertextOffset"/> and running at least
    /// through the last chunk <see cref="CiphertextRangeFor"/> names; bytes after it are ignored.</param>
    /// <param name="ciphertextOffset">Where <paramref name="ciphertextChunks"/> starts in the encrypted file: a chunk
    /// boundary at or before the chunk holding <paramref name="plaintextOffset"/> (earlier chunks are skipped unverified).</param>
    /// <param name="totalPlaintextLength">The file's plaintext length (<see cref="PlaintextLength"/> of its size). It is
    /// checked whenever the range includes the final chunk; a wrong value makes such a read fail.</param>
    /// <param name="key">The key or passphrase the file was encrypted with.</param>
    /// <param name="plaintextOffset">The first plaintext byte wanted.</param>
    /// <param name="plaintextLength">How many plaintext bytes are wanted; 0 returns an empty array (after checking the header).</param>
    /// <exception cref="DecryptionException">Wrong key or passphrase, a changed header or chunk, a wrong
    /// <paramref name="totalPlaintextLength"/>, or <paramref name="ciphertextChunks"/> shorter than the chunks it must hold.</exception>
    /// <exception cref="ArgumentException">The range is outside the file, or <paramref name="ciphertextOffset"/> is not a
    /// chunk boundary at or before the first needed chunk.</exception>
    public static byte[] DecryptRange(ReadOnlySpan<byte> header, ReadOnlySpan<byte> ciphertextChunks, long ciphertextOffset,
        long totalPlaintextLength, EncryptionKey key, long plaintextOffset, int plaintextLength)
    {
        ArgumentNullException.ThrowIfNull(key);
        var (first, last) = EncryptionFormat.ChunksFor(plaintextOffset, plaintextLength, totalPlaintextLength);
        var startIndex = SourceStartIndex(ciphertextOffset, first, last);
        using var cipher = EncryptionFormat.OpenHeader(header, key);
        var result = new byte[plaintextLength];
        var plain = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            var finalIndex = EncryptionFormat.FinalChunkIndex(totalPlaintextLength);
            for (var index = first; index <= last; index++)
            {
                var position = (index - startIndex) * EncryptionFormat.FullChunkLength;
                var length = EncryptionFormat.ChunkLength(index, totalPlaintextLength);
                if (position + length > ciphertextChunks.Length)
                {
                    throw new DecryptionException($"Decryption failed: the encrypted range holds {ciphertextChunks.Length} bytes and ends "
                        + $"inside chunk {index}; the file is shorter than its stated length, or was changed.");
                }

                var plainLength = length - TagLength;
                cipher.Decrypt(index, index == finalIndex, ciphertextChunks.Slice((int)position, length), plain.AsSpan(0, plainLength));
                var chunkStart = index * ChunkSize;
                var from = Math.Max(plaintextOffset, chunkStart);
                var to = Math.Min(plaintextOffset + plaintextLength, chunkStart + plainLength);
                if (to > from)
                {
                    plain.AsSpan((int)(from - chunkStart), (int)(to - from)).CopyTo(result.AsSpan((int)(from - plaintextOffset)));
                }
            }
        }
        catch
        {
            CryptographicOperations.ZeroMemory(result);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(plain, clearArray: true);
        }

        return result;
    }

    /// <summary>
    /// Like <see cref="DecryptRange"/>, but streaming: a read-only, forward-only stream of plaintext
    /// [<paramref name="plaintextOffset"/>, <paramref name="plaintextOffset"/> + <paramref name="plaintextLength"/>)
    /// that reads the encrypted chunks sequentially from <paramref name="ciphertextChunks"/> (e.g. the body of an HTTP
    /// Range response for <see cref="CiphertextRangeFor"/>), holding one chunk at a time. It stops reading the source once
    /// the range is complete, so the source may run on to the end of the file. The header is verified here, before the
    /// stream is returned; chunks are verified as they are read, each before any of its bytes are returned.
    /// </summary>
    /// <param name="header">The first <see cref="HeaderLength"/> bytes of the encrypted file (more are ignored).</param>
    /// <param name="ciphertextChunks">Encrypted bytes from <paramref name="ciphertextOffset"/> on.</param>
    /// <param name="ciphertextOffset">Where <paramref name="ciphertextChunks"/> starts in the encrypted file: a chunk
    /// boundary at or before the chunk holding <paramref name="plaintextOffset"/> (earlier chunks are read and skipped).</param>
    /// <param name="totalPlaintextLength">The file's plaintext length; checked whenever the range includes the final chunk.</param>
    /// <param name="key">The key or passphrase the file was encrypted with.</param>
    /// <param name="plaintextOffset">The first plaintext byte wanted.</param>
    /// <param name="plaintextLength">How many plaintext bytes the stream yields before it ends.</param>
    /// <param name="leaveOpen">False to dispose <paramref name="ciphertextChunks"/> with the returned stream (also when
    /// this method throws).</param>
    /// <exception cref="DecryptionException">Here: wrong key or passphrase, or a changed header. From reads: a changed
    /// chunk, a wrong <paramref name="totalPlaintextLength"/>, or a source that ends before the range is complete; after
    /// one, every later read throws.</exception>
    /// <exception cref="ArgumentException">The range is outside the file, or <paramref name="ciphertextOffset"/> is not a
    /// chunk boundary at or before the first needed chunk.</exception>
    public static Stream DecryptingRangeStream(ReadOnlySpan<byte> header, Stream ciphertextChunks, long ciphertextOffset,
        long totalPlaintextLength, EncryptionKey key, long plaintextOffset, long plaintextLength, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(ciphertextChunks);
        FileCipher? cipher = null;
        try
        {
            ArgumentNullException.ThrowIfNull(key);
            var (first, last) = EncryptionFormat.ChunksFor(plaintextOffset, plaintextLength, totalPlaintextLength);
            var startIndex = SourceStartIndex(ciphertextOffset, first, last);
            cipher = EncryptionFormat.OpenHeader(header, key);
            var stream = new DecryptingReadStream(ciphertextChunks, cipher, startIndex, totalPlaintextLength, plaintextOffset,
                plaintextLength, leaveOpen);
            cipher = null;
            return stream;
        }
        catch
        {
            cipher?.Dispose();
            if (!leaveOpen)
            {
                ciphertextChunks.Dispose();
            }

            throw;
        }
    }

    /// <summary>The chunk index at <paramref name="ciphertextOffset"/>, which must be a chunk boundary no later than
    /// <paramref name="first"/> (unless the range is empty).</summary>
    private static long SourceStartIndex(long ciphertextOffset, long first, long last)
    {
        if (ciphertextOffset < HeaderLength || (ciphertextOffset - HeaderLength) % EncryptionFormat.FullChunkLength != 0)
        {
            throw new ArgumentException(
                $"The encrypted bytes must start at a chunk boundary ({HeaderLength} + n × {EncryptionFormat.FullChunkLength}); {ciphertextOffset} is not one.",
                nameof(ciphertextOffset));
        }

        var index = (ciphertextOffset - HeaderLength) / EncryptionFormat.FullChunkLength;
        if (last >= first && index > first)
        {
            throw new ArgumentException(
                $"The encrypted bytes start at chunk {index}, after chunk {first} where the requested range begins.", nameof(ciphertextOffset));
        }

        return index;
    }
}
