using System.Buffers.Binary;
using Depot.Client.Encryption;

namespace Depot.Client.Tests.Encryption;

public sealed class EncryptionFormatTests
{
    private const int Chunk = DepotEncryption.ChunkSize;
    private const int Full = Chunk + DepotEncryption.TagLength;
    private const int Header = DepotEncryption.HeaderLength;
    private const int FastIterations = 1_000;

    private static readonly EncryptionKey RawKey = EncryptionKey.FromBytes(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    public static TheoryData<int> Sizes => new(0, 1, Chunk - 1, Chunk, Chunk + 1, 2 * Chunk, (3 * Chunk) + 12_345);

    public static TheoryData<int, int, bool> RoundTrips
    {
        get
        {
            var data = new TheoryData<int, int, bool>();
            foreach (var size in Sizes)
            {
                foreach (var readSize in new[] { 1, 7, 1 << 20 })
                {
                    data.Add(size, readSize, false);
                    data.Add(size, readSize, true);
                }
            }

            return data;
        }
    }

    // ---- Round trips and lengths ----

    [Theory]
    [MemberData(nameof(RoundTrips))]
    public async Task RoundTrip_NonSeekableSourceAndOddReadSizes_ReturnsPlaintext(int size, int readSize, bool useAsync)
    {
        var plain = Plaintext(size, seed: size);

        var encrypted = await ReadAllAsync(DepotEncryption.EncryptingStream(new TrickleStream(plain, 1000), RawKey), readSize, useAsync);
        var decrypted = await ReadAllAsync(DepotEncryption.DecryptingStream(new TrickleStream(encrypted, 999), RawKey), readSize, useAsync);

        Assert.Equal(plain, decrypted);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void CiphertextLength_EachSize_EqualsActualOutputAndInverts(int size)
    {
        var encrypted = Encrypt(Plaintext(size, seed: 7), RawKey);

        Assert.Equal(encrypted.Length, DepotEncryption.CiphertextLength(size));
        Assert.Equal(size, DepotEncryption.PlaintextLength(encrypted.Length));
        Assert.Equal(Header + size + (16L * ((size / Chunk) + 1)), encrypted.Length);
    }

    [Fact]
    public void CiphertextLength_KnownValues_MatchTheDocumentedFormat()
    {
        Assert.Equal(79, DepotEncryption.HeaderLength);
        Assert.Equal(95, DepotEncryption.CiphertextLength(0));
        Assert.Equal(79 + 1 + 16, DepotEncryption.CiphertextLength(1));
        Assert.Equal(79 + Chunk + 32, DepotEncryption.CiphertextLength(Chunk));
        Assert.Throws<ArgumentOutOfRangeException>(() => DepotEncryption.CiphertextLength(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DepotEncryption.CiphertextLength(DepotEncryption.MaxPlaintextLength + 1));
        var max = DepotEncryption.CiphertextLength(DepotEncryption.MaxPlaintextLength);
        Assert.InRange(max, long.MaxValue - Full, long.MaxValue);
        Assert.Equal(DepotEncryption.MaxPlaintextLength, DepotEncryption.PlaintextLength(max));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(78L)]
    [InlineData(94L)]
    [InlineData(79L + Full)]
    [InlineData(79L + Full + 15)]
    [InlineData(79L + (3 * Full) + 5)]
    public void PlaintextLength_ImpossibleLength_ThrowsDecryptionException(long ciphertextLength) =>
        Assert.Throws<DecryptionException>(() => DepotEncryption.PlaintextLength(ciphertextLength));

    [Fact]
    public void Encrypt_SamePlaintextTwice_GivesDifferentCiphertext()
    {
        var plain = Plaintext((2 * Chunk) + 10, seed: 3);

        var first = Encrypt(plain, RawKey);
        var second = Encrypt(plain, RawKey);

        Assert.Equal(first.Length, second.Length);
        Assert.False(first.AsSpan(Header - 48, 16).SequenceEqual(second.AsSpan(Header - 48, 16)), "file ids must differ");
        Assert.False(first.AsSpan(Header, 64).SequenceEqual(second.AsSpan(Header, 64)), "chunk ciphertext must differ");
        Assert.False(first.AsSpan(first.Length - 16).SequenceEqual(second.AsSpan(second.Length - 16)), "tags must differ");
        Assert.Equal(plain, Decrypt(second, RawKey));
    }

    [Fact]
    public void Encrypt_Output_DoesNotContainThePlaintext()
    {
        var plain = new byte[Chunk + 100];
        Array.Fill(plain, (byte)'A');

        var encrypted = Encrypt(plain, RawKey);

        var run = new byte[32];
        Array.Fill(run, (byte)'A');
        Assert.Equal(-1, encrypted.AsSpan().IndexOf(run));
    }

    // ---- Tampering ----

    [Fact]
    public void Decrypt_AnyFlippedBitInHeader_ThrowsDecryptionException()
    {
        var encrypted = Encrypt(Plaintext(100, seed: 1), RawKey);

        for (var bit = 0; bit < Header * 8; bit++)
        {
            var tampered = (byte[])encrypted.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            var (returned, error) = DecryptUntilFailure(tampered, RawKey);
            Assert.True(error is DecryptionException, $"bit {bit} of the header: {error?.GetType().Name ?? "no exception"}");
            Assert.Empty(returned);
        }
    }

    [Theory]
    [InlineData("first chunk, first byte", 0, 0)]
    [InlineData("middle chunk, middle byte", 1, Chunk / 2)]
    [InlineData("last chunk, a ciphertext byte", 3, 50)]
    [InlineData("first chunk's tag", 0, Chunk)]
    [InlineData("middle chunk's tag, last byte", 2, Full - 1)]
    [InlineData("last chunk's tag, last byte", 3, 100 + 15)]
    public void Decrypt_FlippedBitInChunk_ThrowsBeforeReturningThatChunk(string where, int chunkIndex, int offsetInChunk)
    {
        // Chunks 0..2 are full, chunk 3 (final) holds 100 bytes.
        var plain = Plaintext((3 * Chunk) + 100, seed: 2);
        var encrypted = Encrypt(plain, RawKey);
        var position = Header + (chunkIndex * Full) + offsetInChunk;

        foreach (var bit in new[] { 0, 7 })
        {
            var tampered = (byte[])encrypted.Clone();
            tampered[position] ^= (byte)(1 << bit);

            var (returned, error) = DecryptUntilFailure(tampered, RawKey);

            Assert.True(error is DecryptionException, where);
            Assert.Equal(chunkIndex * Chunk, returned.Length);
            Assert.Equal(plain.AsSpan(0, returned.Length).ToArray(), returned);
        }
    }

    [Theory]
    [InlineData("header only", Header)]
    [InlineData("inside the header", 40)]
    [InlineData("nothing at all", 0)]
    [InlineData("at a chunk boundary", Header + (2 * Full))]
    [InlineData("mid-chunk", Header + (2 * Full) + 1000)]
    [InlineData("inside the tag of a full chunk", Header + (2 * Full) + Chunk + 3)]
    [InlineData("just before the final chunk", Header + (3 * Full))]
    [InlineData("the last byte", -1)]
    [InlineData("the whole final tag", -16)]
    [InlineData("the final tag and one byte", -17)]
    public void Decrypt_Truncated_ThrowsDecryptionException(string where, int keep)
    {
        var encrypted = Encrypt(Plaintext((3 * Chunk) + 100, seed: 4), RawKey);
        var length = keep < 0 ? encrypted.Length + keep : keep;

        var (_, error) = DecryptUntilFailure(encrypted.AsSpan(0, length).ToArray(), RawKey);

        Assert.True(error is DecryptionException, where);
    }

    [Fact]
    public void Decrypt_ExactMultipleWithoutItsEmptyFinalChunk_ThrowsDecryptionException()
    {
        var plain = Plaintext(2 * Chunk, seed: 5);
        var encrypted = Encrypt(plain, RawKey);
        Assert.Equal(Header + (2 * Full) + 16, encrypted.Length);

        var (returned, error) = DecryptUntilFailure(encrypted.AsSpan(0, encrypted.Length - 16).ToArray(), RawKey);

        Assert.IsType<DecryptionException>(error);
        Assert.Equal(plain, returned);
    }

    [Theory]
    [InlineData(100, 1)]
    [InlineData(100, 16)]
    [InlineData(100, Full)]
    [InlineData(2 * Chunk, 1)]
    [InlineData(2 * Chunk, 16)]
    [InlineData(0, 16)]
    public void Decrypt_AppendedBytes_ThrowsDecryptionException(int size, int appended)
    {
        var encrypted = Encrypt(Plaintext(size, seed: 6), RawKey);
        var extended = encrypted.Concat(Plaintext(appended, seed: 99)).ToArray();

        var (_, error) = DecryptUntilFailure(extended, RawKey);

        Assert.IsType<DecryptionException>(error);
    }

    [Fact]
    public void Decrypt_AppendedCopyOfFinalChunk_ThrowsDecryptionException()
    {
        var encrypted = Encrypt(Plaintext((2 * Chunk) + 50, seed: 6), RawKey);
        var finalChunk = encrypted.AsSpan(encrypted.Length - 66).ToArray();

        var (_, error) = DecryptUntilFailure(encrypted.Concat(finalChunk).ToArray(), RawKey);

        Assert.IsType<DecryptionException>(error);
    }

    [Fact]
    public void Decrypt_TwoChunksSwapped_ThrowsDecryptionException()
    {
        var encrypted = Encrypt(Plaintext((3 * Chunk) + 100, seed: 8), RawKey);
        var swapped = (byte[])encrypted.Clone();
        encrypted.AsSpan(Header, Full).CopyTo(swapped.AsSpan(Header + Full));
        encrypted.AsSpan(Header + Full, Full).CopyTo(swapped.AsSpan(Header));

        var (returned, error) = DecryptUntilFailure(swapped, RawKey);

        Assert.IsType<DecryptionException>(error);
        Assert.Empty(returned);
    }

    [Fact]
    public void Decrypt_MiddleChunkDroppedOrDuplicated_ThrowsDecryptionException()
    {
        var encrypted = Encrypt(Plaintext((3 * Chunk) + 100, seed: 9), RawKey);
        var dropped = encrypted.AsSpan(0, Header + Full).ToArray().Concat(encrypted.AsSpan(Header + (2 * Full)).ToArray()).ToArray();
        var duplicated = encrypted.AsSpan(0, Header + (2 * Full)).ToArray().Concat(encrypted.AsSpan(Header + Full).ToArray()).ToArray();

        Assert.IsType<DecryptionException>(DecryptUntilFailure(dropped, RawKey).Error);
        Assert.IsType<DecryptionException>(DecryptUntilFailure(duplicated, RawKey).Error);
    }

    [Fact]
    public void Decrypt_HeaderOfAnotherFileWithSameKey_ThrowsDecryptionException()
    {
        var plain = Plaintext(Chunk + 10, seed: 10);
        var a = Encrypt(plain, RawKey);
        var b = Encrypt(plain, RawKey);
        a.AsSpan(0, Header).CopyTo(b);

        var (returned, error) = DecryptUntilFailure(b, RawKey);

        Assert.IsType<DecryptionException>(error);
        Assert.Empty(returned);
    }

    [Fact]
    public void Decrypt_NotEncrypted_ThrowsDecryptionException()
    {
        var (_, error) = DecryptUntilFailure(Plaintext(500, seed: 11), RawKey);

        Assert.IsType<DecryptionException>(error);
    }

    [Fact]
    public async Task Decrypt_ReadAfterFailure_KeepsThrowing()
    {
        var encrypted = Encrypt(Plaintext(Chunk + 10, seed: 12), RawKey);
        encrypted[Header + Full + 3] ^= 1;
        using var stream = DepotEncryption.DecryptingStream(new MemoryStream(encrypted), RawKey);
        var buffer = new byte[Chunk];
        Assert.Equal(Chunk, stream.ReadAtLeast(buffer, Chunk));

        Assert.Throws<DecryptionException>(() => stream.Read(buffer));
        Assert.Throws<DecryptionException>(() => stream.Read(buffer));
        await Assert.ThrowsAsync<DecryptionException>(async () => await stream.ReadAtLeastAsync(buffer, 1,
            cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public void Encrypt_SourceFailsMidway_LaterReadsThrowInsteadOfSkippingBytes()
    {
        var source = new FailingOnceStream(Plaintext(3 * Chunk, seed: 13), failAt: Chunk + 500);
        using var stream = DepotEncryption.EncryptingStream(source, RawKey);
        var buffer = new byte[Header + Full];
        Assert.Equal(buffer.Length, stream.ReadAtLeast(buffer, buffer.Length));

        Assert.Throws<IOException>(() => stream.Read(buffer));
        var again = Assert.Throws<IOException>(() => stream.Read(buffer));
        Assert.Contains("earlier read", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OpenHeader_AnyFlippedBit_ThrowsDecryptionException()
    {
        var header = EncryptionFormat.CreateHeader(RawKey, out var cipher);
        cipher.Dispose();
        EncryptionFormat.OpenHeader(header, RawKey).Dispose(); // the untouched header verifies

        for (var bit = 0; bit < Header * 8; bit++)
        {
            var tampered = (byte[])header.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.Throws<DecryptionException>(() => EncryptionFormat.OpenHeader(tampered, RawKey));
        }
    }

    [Theory]
    [InlineData(100)]
    [InlineData(0)]
    public void Decrypt_ShortLastChunkNotMarkedFinal_ThrowsDecryptionException(int length)
    {
        // A file cut off by a writer (or forged by a key holder) whose last chunk lacks the final flag must not pass.
        var plain = Plaintext(length, seed: 30);
        var header = EncryptionFormat.CreateHeader(RawKey, out var cipher);
        var notFinal = new byte[length + 16];
        var final = new byte[length + 16];
        using (cipher)
        {
            cipher.Encrypt(0, final: false, plain, notFinal);
            cipher.Encrypt(0, final: true, plain, final);
        }

        var (returned, error) = DecryptUntilFailure([.. header, .. notFinal], RawKey);

        Assert.IsType<DecryptionException>(error);
        Assert.Empty(returned);
        Assert.Equal(plain, Decrypt([.. header, .. final], RawKey));
    }

    [Fact]
    public void Decrypt_FullChunkMarkedFinal_ThrowsDecryptionException()
    {
        var plain = Plaintext(Chunk, seed: 31);
        var header = EncryptionFormat.CreateHeader(RawKey, out var cipher);
        var full = new byte[Full];
        var empty = new byte[16];
        using (cipher)
        {
            cipher.Encrypt(0, final: true, plain, full);
            cipher.Encrypt(1, final: true, [], empty);
        }

        Assert.IsType<DecryptionException>(DecryptUntilFailure([.. header, .. full], RawKey).Error);
        Assert.IsType<DecryptionException>(DecryptUntilFailure([.. header, .. full, .. empty], RawKey).Error);
    }

    [Fact]
    public void Encrypt_IdenticalPlaintextChunks_GiveDifferentCiphertext()
    {
        var encrypted = Encrypt(new byte[3 * Chunk], RawKey);

        Assert.False(encrypted.AsSpan(Header, Chunk).SequenceEqual(encrypted.AsSpan(Header + Full, Chunk)));
        Assert.False(encrypted.AsSpan(Header + Full, Chunk).SequenceEqual(encrypted.AsSpan(Header + (2 * Full), Chunk)));
    }

    // ---- Keys ----

    [Fact]
    public void Decrypt_WrongRawKey_ThrowsDecryptionExceptionNamingTheKey()
    {
        var encrypted = Encrypt(Plaintext(1000, seed: 14), RawKey);
        var other = EncryptionKey.FromBytes(new byte[32]);

        var (returned, error) = DecryptUntilFailure(encrypted, other);

        var e = Assert.IsType<DecryptionException>(error);
        Assert.Contains("wrong key or passphrase, or the file was changed", e.Message, StringComparison.Ordinal);
        Assert.Equal(ClientErrorCodes.Decryption, e.Code);
        Assert.Empty(returned);
    }

    [Fact]
    public void Decrypt_WrongPassphrase_ThrowsDecryptionExceptionNamingThePassphrase()
    {
        var encrypted = Encrypt(Plaintext(1000, seed: 15), EncryptionKey.FromPassphrase("correct horse", FastIterations));

        var (returned, error) = DecryptUntilFailure(encrypted, EncryptionKey.FromPassphrase("correct hors", FastIterations));

        var e = Assert.IsType<DecryptionException>(error);
        Assert.Contains("wrong key or passphrase, or the file was changed", e.Message, StringComparison.Ordinal);
        Assert.Empty(returned);
    }

    [Fact]
    public void Decrypt_KindOfKeyMismatch_ThrowsDecryptionException()
    {
        var byPassphrase = Encrypt(Plaintext(10, seed: 16), EncryptionKey.FromPassphrase("pw", FastIterations));
        var byRawKey = Encrypt(Plaintext(10, seed: 16), RawKey);

        Assert.IsType<DecryptionException>(DecryptUntilFailure(byPassphrase, RawKey).Error);
        Assert.IsType<DecryptionException>(DecryptUntilFailure(byRawKey, EncryptionKey.FromPassphrase("pw", FastIterations)).Error);
    }

    [Fact]
    public void Decrypt_PassphraseWithAnotherInstanceAndIterationCount_UsesTheHeaderSaltAndIterations()
    {
        var plain = Plaintext(Chunk + 1, seed: 17);
        var writer = EncryptionKey.FromPassphrase("open sesame", 1_500);
        var encrypted = Encrypt(plain, writer);

        Assert.Equal(1, encrypted[6]);
        Assert.Equal(1_500u, BinaryPrimitives.ReadUInt32BigEndian(encrypted.AsSpan(7)));
        Assert.Equal(plain, Decrypt(encrypted, EncryptionKey.FromPassphrase("open sesame", 2_000)));
    }

    [Fact]
    public void Decrypt_PassphraseFileWithFlippedSaltOrIterations_ThrowsDecryptionException()
    {
        var key = EncryptionKey.FromPassphrase("pw", FastIterations);
        var encrypted = Encrypt(Plaintext(10, seed: 18), key);
        foreach (var (position, mask) in new[] { (11, 1), (26, 0x80), (10, 1), (7, 0x80), (6, 1) })
        {
            var tampered = (byte[])encrypted.Clone();
            tampered[position] ^= (byte)mask;
            Assert.IsType<DecryptionException>(DecryptUntilFailure(tampered, key).Error);
        }
    }

    [Fact]
    public void FromPassphrase_Default_UsesAtLeast600000IterationsAndRecordsThem()
    {
        Assert.True(EncryptionKey.DefaultIterations >= 600_000);
        var key = EncryptionKey.FromPassphrase("default work factor");
        Assert.True(key.Iterations >= 600_000);

        var encrypted = Encrypt([], key); // one real PBKDF2 run; decrypting with the same instance hits its cache
        Assert.True(BinaryPrimitives.ReadUInt32BigEndian(encrypted.AsSpan(7)) >= 600_000);
        Assert.Empty(Decrypt(encrypted, key));
    }

    [Fact]
    public async Task PassphraseKey_UsedConcurrentlyForManyFiles_DecryptsEach()
    {
        var plain = Plaintext(Chunk + 3, seed: 19);
        var files = Enumerable.Range(0, 8).Select(_ => Encrypt(plain, EncryptionKey.FromPassphrase("shared", FastIterations))).ToArray();
        var reader = EncryptionKey.FromPassphrase("shared", FastIterations);

        var results = await Task.WhenAll(files.Concat(files).Select(f => Task.Run(() => Decrypt(f, reader), TestContext.Current.CancellationToken)));

        Assert.All(results, r => Assert.Equal(plain, r));
    }

    [Fact]
    public void Generate_TwoKeys_EachDecryptsOnlyItsOwnFiles()
    {
        var plain = Plaintext(100, seed: 32);
        var a = EncryptionKey.Generate();
        var b = EncryptionKey.Generate();
        var encrypted = Encrypt(plain, a);

        Assert.Equal(plain, Decrypt(encrypted, a));
        Assert.IsType<DecryptionException>(DecryptUntilFailure(encrypted, b).Error);
        Assert.False(a.IsPassphrase);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(64)]
    public void FromBytes_NotThirtyTwoBytes_ThrowsArgumentException(int length) =>
        Assert.ThrowsAny<ArgumentException>(() => EncryptionKey.FromBytes(new byte[length]));

    [Fact]
    public void FromPassphrase_EmptyOrTooFewIterations_Throws()
    {
        Assert.ThrowsAny<ArgumentException>(() => EncryptionKey.FromPassphrase(""));
        Assert.Throws<ArgumentOutOfRangeException>(() => EncryptionKey.FromPassphrase("pw", 999));
        Assert.Throws<ArgumentOutOfRangeException>(() => EncryptionKey.FromPassphrase("pw", EncryptionKey.MaxIterations + 1));
    }

    [Fact]
    public void ToString_RawAndPassphraseKeys_ShowNoSecret()
    {
        var bytes = Enumerable.Repeat((byte)0xAB, 32).ToArray();
        var raw = EncryptionKey.FromBytes(bytes).ToString();
        var pass = EncryptionKey.FromPassphrase("hunter2-secret", FastIterations).ToString();

        Assert.DoesNotContain("AB", raw, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("171", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", pass, StringComparison.Ordinal);
        Assert.Contains("passphrase", pass, StringComparison.Ordinal);
    }

    // ---- Ranged reads ----

    public static TheoryData<int> RangeFileSizes => new(0, 1, Chunk, 2 * Chunk, (3 * Chunk) + 777);

    [Theory]
    [MemberData(nameof(RangeFileSizes))]
    public async Task DecryptRange_ManyRanges_EqualPlaintextSlices(int size)
    {
        var plain = Plaintext(size, seed: 20 + size);
        var encrypted = Encrypt(plain, RawKey);
        var header = encrypted.AsSpan(0, Header).ToArray();

        foreach (var (offset, length) in Ranges(size))
        {
            var (cOffset, cLength) = DepotEncryption.CiphertextRangeFor(offset, length, size);
            Assert.True(cOffset + cLength <= encrypted.Length, $"({offset},{length}) asks past the end");
            Assert.Equal(0, (cOffset - Header) % Full);
            var slice = encrypted.AsSpan((int)cOffset, (int)cLength).ToArray();
            var expected = plain.AsSpan(offset, length).ToArray();

            Assert.Equal(expected, DepotEncryption.DecryptRange(header, slice, cOffset, size, RawKey, offset, length));

            var stream = DepotEncryption.DecryptingRangeStream(header, new TrickleStream(slice, 5000), cOffset, size, RawKey,
                offset, length);
            Assert.Equal(expected, await ReadAllAsync(stream, 7_000, useAsync: true));
        }
    }

    [Fact]
    public void CiphertextRangeFor_KnownRanges_ReturnsTheCoveringWholeChunks()
    {
        const long total = (3L * Chunk) + 777;

        Assert.Equal(R(Header, Full), DepotEncryption.CiphertextRangeFor(0, 1, total));
        Assert.Equal(R(Header, Full), DepotEncryption.CiphertextRangeFor(0, Chunk, total));
        Assert.Equal(R(Header, 2L * Full), DepotEncryption.CiphertextRangeFor(Chunk - 1, 2, total));
        Assert.Equal(R(Header + Full, Full), DepotEncryption.CiphertextRangeFor(Chunk, 1, total));
        Assert.Equal(R(Header + (3L * Full), 777 + 16), DepotEncryption.CiphertextRangeFor(total - 1, 1, total));
        Assert.Equal(R(Header + (2L * Full), 0), DepotEncryption.CiphertextRangeFor(2 * Chunk, 0, total));
        Assert.Equal(R(Header, DepotEncryption.CiphertextLength(total) - Header), DepotEncryption.CiphertextRangeFor(0, total, total));
        Assert.Equal(R(Header, 0), DepotEncryption.CiphertextRangeFor(0, 0, 0));

        // A range that reaches the end of an exact multiple also covers the empty final chunk (16 bytes).
        Assert.Equal(R(Header + Full, Full + 16L), DepotEncryption.CiphertextRangeFor(Chunk + 5, Chunk - 5, 2 * Chunk));
    }

    [Theory]
    [InlineData(-1L, 1L, 10L)]
    [InlineData(0L, -1L, 10L)]
    [InlineData(5L, 6L, 10L)]
    [InlineData(11L, 0L, 10L)]
    [InlineData(0L, 1L, -1L)]
    public void CiphertextRangeFor_OutsideTheFile_ThrowsArgumentOutOfRange(long offset, long length, long total) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => DepotEncryption.CiphertextRangeFor(offset, length, total));

    [Fact]
    public void DecryptRange_WholeBodyPassedForSmallRange_SkipsEarlierChunks()
    {
        var plain = Plaintext((3 * Chunk) + 10, seed: 21);
        var encrypted = Encrypt(plain, RawKey);
        var body = encrypted.AsSpan(Header).ToArray();

        var result = DepotEncryption.DecryptRange(encrypted, body, Header, plain.Length, RawKey, (2 * Chunk) + 3, 100);
        using var stream = DepotEncryption.DecryptingRangeStream(encrypted, new TrickleStream(body, 777), Header, plain.Length, RawKey,
            (2 * Chunk) + 3, 100);
        var streamed = new byte[200];
        var n = stream.ReadAtLeast(streamed, streamed.Length, throwOnEndOfStream: false);

        Assert.Equal(plain.AsSpan((2 * Chunk) + 3, 100).ToArray(), result);
        Assert.Equal(plain.AsSpan((2 * Chunk) + 3, 100).ToArray(), streamed.AsSpan(0, n).ToArray());
    }

    [Fact]
    public void DecryptRange_TamperedChunkInRange_ThrowsDecryptionException()
    {
        var plain = Plaintext((3 * Chunk) + 10, seed: 22);
        var encrypted = Encrypt(plain, RawKey);
        var (cOffset, cLength) = DepotEncryption.CiphertextRangeFor(Chunk - 10, 20, plain.Length);
        var slice = encrypted.AsSpan((int)cOffset, (int)cLength).ToArray();
        slice[Full + 100] ^= 0x10; // second chunk of the slice, outside the requested bytes themselves

        Assert.Throws<DecryptionException>(() => DepotEncryption.DecryptRange(encrypted.AsSpan(0, Header), slice, cOffset, plain.Length, RawKey,
            Chunk - 10, 20));
        using var stream = DepotEncryption.DecryptingRangeStream(encrypted.AsSpan(0, Header), new MemoryStream(slice), cOffset, plain.Length,
            RawKey, Chunk - 10, 20);
        var buffer = new byte[100];
        Assert.Equal(10, stream.ReadAtLeast(buffer, 10, throwOnEndOfStream: false));
        Assert.Throws<DecryptionException>(() => stream.Read(buffer));
    }

    [Fact]
    public void DecryptRange_ChunksFromAnotherPosition_ThrowsDecryptionException()
    {
        var plain = Plaintext((3 * Chunk) + 10, seed: 23);
        var encrypted = Encrypt(plain, RawKey);
        var chunkTwo = encrypted.AsSpan(Header + (2 * Full), Full).ToArray();

        // Chunk 2's bytes presented as chunk 1.
        Assert.Throws<DecryptionException>(() =>
            DepotEncryption.DecryptRange(encrypted.AsSpan(0, Header), chunkTwo, Header + Full, plain.Length, RawKey, Chunk, 10));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    [InlineData(-500)]
    [InlineData(-Chunk - 495)]
    [InlineData(Chunk)]
    public void DecryptRange_WrongTotalLengthAtTheEnd_ThrowsDecryptionException(int error)
    {
        // Real file: chunks 0 and 1 full, chunk 2 final with 500 bytes. The claimed total changes which chunk is final.
        var plain = Plaintext((2 * Chunk) + 500, seed: 24);
        var encrypted = Encrypt(plain, RawKey);
        var claimed = plain.Length + error;
        var offset = Math.Min(claimed - 10, (2 * Chunk) + 100);
        var (cOffset, cLength) = DepotEncryption.CiphertextRangeFor(offset, claimed - offset, claimed);
        var from = (int)Math.Min(cOffset, encrypted.Length);
        var available = encrypted.AsSpan(from, (int)Math.Min(cLength, encrypted.Length - from)).ToArray();

        Assert.Throws<DecryptionException>(() =>
            DepotEncryption.DecryptRange(encrypted.AsSpan(0, Header), available, cOffset, claimed, RawKey, offset, claimed - offset));
        using var stream = DepotEncryption.DecryptingRangeStream(encrypted.AsSpan(0, Header), new MemoryStream(available), cOffset, claimed,
            RawKey, offset, claimed - offset);
        Assert.Throws<DecryptionException>(() => stream.CopyTo(Stream.Null));
    }

    [Fact]
    public void DecryptRange_TooFewCiphertextBytes_ThrowsDecryptionException()
    {
        var plain = Plaintext((2 * Chunk) + 500, seed: 25);
        var encrypted = Encrypt(plain, RawKey);
        var (cOffset, cLength) = DepotEncryption.CiphertextRangeFor(100, Chunk, plain.Length);
        var shortSlice = encrypted.AsSpan((int)cOffset, (int)cLength - 1).ToArray();

        Assert.Throws<DecryptionException>(() =>
            DepotEncryption.DecryptRange(encrypted.AsSpan(0, Header), shortSlice, cOffset, plain.Length, RawKey, 100, Chunk));
        using var stream = DepotEncryption.DecryptingRangeStream(encrypted.AsSpan(0, Header), new MemoryStream(shortSlice), cOffset,
            plain.Length, RawKey, 100, Chunk);
        Assert.Throws<DecryptionException>(() => stream.CopyTo(Stream.Null));
    }

    [Fact]
    public void DecryptRange_WrongKeyOrTamperedHeader_ThrowsDecryptionException()
    {
        var plain = Plaintext(Chunk + 500, seed: 26);
        var encrypted = Encrypt(plain, RawKey);
        var header = encrypted.AsSpan(0, Header).ToArray();
        var body = encrypted.AsSpan(Header).ToArray();
        var badHeader = (byte[])header.Clone();
        badHeader[Header - 48] ^= 1; // the file id

        Assert.Throws<DecryptionException>(() =>
            DepotEncryption.DecryptRange(header, body, Header, plain.Length, EncryptionKey.FromBytes(new byte[32]), 0, 10));
        Assert.Throws<DecryptionException>(() => DepotEncryption.DecryptRange(badHeader, body, Header, plain.Length, RawKey, 0, 0));
        Assert.Throws<DecryptionException>(() =>
            DepotEncryption.DecryptingRangeStream(badHeader, new MemoryStream(body), Header, plain.Length, RawKey, 0, 10));
    }

    [Fact]
    public void DecryptRange_OffsetNotAtUsableChunkBoundary_ThrowsArgumentException()
    {
        var plain = Plaintext((2 * Chunk) + 500, seed: 27);
        var encrypted = Encrypt(plain, RawKey);
        var header = encrypted.AsSpan(0, Header).ToArray();
        var body = encrypted.AsSpan(Header).ToArray();

        Assert.Throws<ArgumentException>(() => DepotEncryption.DecryptRange(header, body, Header + 1, plain.Length, RawKey, Chunk, 10));
        Assert.Throws<ArgumentException>(() => DepotEncryption.DecryptRange(header, body, Header + (2 * Full), plain.Length, RawKey, 5, 10));
    }

    // ---- Helpers ----

    private static (long, long) R(long offset, long length) => (offset, length);

    private static byte[] Plaintext(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Encrypt(byte[] plain, EncryptionKey key)
    {
        using var stream = DepotEncryption.EncryptingStream(new TrickleStream(plain, int.MaxValue), key);
        using var output = new MemoryStream();
        stream.CopyTo(output);
        return output.ToArray();
    }

    private static byte[] Decrypt(byte[] encrypted, EncryptionKey key)
    {
        using var stream = DepotEncryption.DecryptingStream(new TrickleStream(encrypted, int.MaxValue), key);
        using var output = new MemoryStream();
        stream.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>Decrypts until the end or the first exception; returns the plaintext handed out before it.</summary>
    private static (byte[] Returned, Exception? Error) DecryptUntilFailure(byte[] encrypted, EncryptionKey key)
    {
        using var output = new MemoryStream();
        using var stream = DepotEncryption.DecryptingStream(new TrickleStream(encrypted, 4096), key);
        var buffer = new byte[3000];
        try
        {
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, n);
            }
        }
        catch (Exception e)
        {
            return (output.ToArray(), e);
        }

        return (output.ToArray(), null);
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream, int readSize, bool useAsync)
    {
        await using var _ = stream;
        using var output = new MemoryStream();
        var buffer = new byte[readSize];
        while (true)
        {
            var n = useAsync ? await stream.ReadAsync(buffer, TestContext.Current.CancellationToken) : stream.Read(buffer, 0, buffer.Length);
            if (n == 0)
            {
                return output.ToArray();
            }

            output.Write(buffer, 0, n);
        }
    }

    private static IEnumerable<(int Offset, int Length)> Ranges(int size)
    {
        var fixedRanges = new (int, int)[]
        {
            (0, 0), (0, size), (size, 0), (0, Math.Min(1, size)), (size - Math.Min(1, size), Math.Min(1, size)),
            (size - Math.Min(5, size), Math.Min(5, size)),
        };
        foreach (var r in fixedRanges)
        {
            yield return r;
        }

        foreach (var boundary in new[] { Chunk, 2 * Chunk, 3 * Chunk })
        {
            if (boundary < size)
            {
                yield return (boundary - 1, Math.Min(2, size - boundary + 1));
                yield return (boundary, Math.Min(Chunk, size - boundary));
                yield return (boundary - 100, Math.Min(Chunk + 200, size - boundary + 100));
                yield return (boundary, 0);
            }
        }

        var random = new Random(size);
        for (var i = 0; i < 40 && size > 0; i++)
        {
            var offset = random.Next(size + 1);
            yield return (offset, random.Next(size - offset + 1));
        }
    }

    /// <summary>A non-seekable source that hands out at most <c>maxRead</c> bytes per read, as a network stream may.</summary>
    private sealed class TrickleStream(byte[] data, int maxRead) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(Math.Min(buffer.Length, maxRead), data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
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
    }

    /// <summary>Reads like a stream over <c>data</c> but throws once when a read would cross <c>failAt</c>.</summary>
    private sealed class FailingOnceStream(byte[] data, int failAt) : Stream
    {
        private int _position;
        private bool _failed;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(Math.Min(buffer.Length, 1000), data.Length - _position);
            if (!_failed && _position + n > failAt)
            {
                _failed = true;
                _position += n; // the bytes are gone, as with a broken connection
                throw new IOException("source broke");
            }

            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
