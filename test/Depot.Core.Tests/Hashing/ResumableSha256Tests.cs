using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Depot.Core.Hashing;
using Depot.Core.Tests.TestSupport;

namespace Depot.Core.Tests.Hashing;

public sealed class ResumableSha256Tests
{
    private const string Sha256OfMillionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

    // bytes 0..63 then "abc": one complete block, three pending bytes. The chaining value was computed
    // by an independent implementation of FIPS 180-4 §6.2.2, not by this one.
    private const string FrozenStateOf67Bytes =
        "01" + "0000000000000043"
        + "fc99a2df88f42a7a7bb9d18033cdc6a20256755f9d5b9a5044a9cc315abe84a7"
        + "616263";

    private const int HeaderSize = 41;

    [Theory]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    [InlineData(
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")]
    public void Peek_KnownVector_MatchesFips180(string input, string expectedHex)
    {
        var hasher = new ResumableSha256();
        hasher.Append(Encoding.ASCII.GetBytes(input));

        Assert.Equal(expectedHex, Convert.ToHexStringLower(hasher.Peek()));
        Assert.Equal(input.Length, hasher.Length);
    }

    [Fact]
    public void Peek_MillionAsInOneAppend_MatchesFips180()
    {
        var hasher = new ResumableSha256();
        hasher.Append(Encoding.ASCII.GetBytes(new string('a', 1_000_000)));

        Assert.Equal(Sha256OfMillionA, Convert.ToHexStringLower(hasher.Peek()));
    }

    [Fact]
    public void Peek_MillionAsInOddChunksThroughExportAndImport_MatchesFips180()
    {
        var data = Encoding.ASCII.GetBytes(new string('a', 1_000_000));
        var hasher = new ResumableSha256();
        for (var offset = 0; offset < data.Length; offset += 4099)
        {
            hasher = ResumableSha256.Import(hasher.ExportState());
            hasher.Append(data.AsSpan(offset, Math.Min(4099, data.Length - offset)));
        }

        Assert.Equal(1_000_000, hasher.Length);
        Assert.Equal(Sha256OfMillionA, Convert.ToHexStringLower(hasher.Peek()));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Append_RandomDataSplitAtRandomPoints_EveryPrefixMatchesSha256(int seed)
    {
        var data = TestBytes.Seeded(20_000, seed);
#pragma warning disable CA5394 // deterministic split points, not security
        var random = new Random(seed);
        var hasher = new ResumableSha256();
        var offset = 0;
        while (offset < data.Length)
        {
            // Mostly short pieces (inside and across one block), now and then a long run of blocks.
            var length = Math.Min(data.Length - offset, random.Next(4) == 0 ? random.Next(4096) : random.Next(130));
#pragma warning restore CA5394
            hasher.Append(data.AsSpan(offset, length));
            offset += length;

            Assert.Equal(offset, hasher.Length);
            Assert.Equal(SHA256.HashData(data.AsSpan(0, offset)), hasher.Peek());
        }
    }

    [Fact]
    public void Append_OneByteAtATime_MatchesSha256()
    {
        var data = TestBytes.Seeded(300, seed: 9);
        var hasher = new ResumableSha256();
        foreach (var b in data)
        {
            hasher.Append([b]);
        }

        Assert.Equal(SHA256.HashData(data), hasher.Peek());
    }

    [Fact]
    public void Append_Empty_ChangesNothing()
    {
        var hasher = new ResumableSha256();
        hasher.Append("abc"u8);
        var before = hasher.ExportState();

        hasher.Append(ReadOnlySpan<byte>.Empty);

        Assert.Equal(before, hasher.ExportState());
    }

    [Fact]
    public void ExportImport_EveryLengthFrom0To200_ResumesToTheSameDigest()
    {
        var data = TestBytes.Seeded(400, seed: 11);
        for (var length = 0; length <= 200; length++)
        {
            var hasher = new ResumableSha256();
            hasher.Append(data.AsSpan(0, length));

            var state = hasher.ExportState();
            var resumed = ResumableSha256.Import(state);

            Assert.Equal(HeaderSize + (length % 64), state.Length);
            Assert.Equal(length, resumed.Length);
            Assert.Equal(SHA256.HashData(data.AsSpan(0, length)), resumed.Peek());
            Assert.Equal(state, resumed.ExportState());

            resumed.Append(data.AsSpan(length));
            Assert.Equal(SHA256.HashData(data), resumed.Peek());
        }
    }

    [Theory]
    [InlineData(55, 1)]
    [InlineData(56, 8)]
    [InlineData(63, 1)]
    [InlineData(63, 2)]
    [InlineData(64, 64)]
    [InlineData(65, 63)]
    [InlineData(127, 129)]
    [InlineData(128, 1)]
    [InlineData(129, 1000)]
    [InlineData(4095, 4097)]
    public void ExportImport_AcrossBlockBoundaries_ContinuesLikeOneHash(int before, int after)
    {
        var data = TestBytes.Seeded(before + after, seed: before);
        var first = new ResumableSha256();
        first.Append(data.AsSpan(0, before));

        var resumed = ResumableSha256.Import(first.ExportState());
        resumed.Append(data.AsSpan(before));

        Assert.Equal(SHA256.HashData(data), resumed.Peek());
    }

    [Fact]
    public void ExportState_Abc_IsVersionLengthInitialValueAndPendingBytes()
    {
        var hasher = new ResumableSha256();
        hasher.Append("abc"u8);

        // FIPS 180-4 §5.3.3 initial hash value: nothing has been compressed yet.
        Assert.Equal(
            "01" + "0000000000000003"
            + "6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19"
            + "616263",
            Convert.ToHexStringLower(hasher.ExportState()));
    }

    [Fact]
    public void ExportState_AfterOneBlock_IsTheFrozenFormat()
    {
        var hasher = new ResumableSha256();
        hasher.Append(FrozenMessage());

        Assert.Equal(FrozenStateOf67Bytes, Convert.ToHexStringLower(hasher.ExportState()));
    }

    [Fact]
    public void Import_FrozenState_ResumesTheMessage()
    {
        var hasher = ResumableSha256.Import(Convert.FromHexString(FrozenStateOf67Bytes));

        Assert.Equal(67, hasher.Length);
        Assert.Equal(SHA256.HashData(FrozenMessage()), hasher.Peek());
    }

    [Fact]
    public void Peek_Repeated_DoesNotChangeTheState()
    {
        var data = TestBytes.Seeded(1000, seed: 3);
        var hasher = new ResumableSha256();
        hasher.Append(data.AsSpan(0, 333));
        var state = hasher.ExportState();

        var first = hasher.Peek();
        var second = hasher.Peek();

        Assert.Equal(first, second);
        Assert.Equal(state, hasher.ExportState());
        Assert.Equal(333, hasher.Length);
        hasher.Append(data.AsSpan(333));
        Assert.Equal(SHA256.HashData(data), hasher.Peek());
    }

    [Fact]
    public void Peek_ReturnsAFreshArrayEachTime()
    {
        var hasher = new ResumableSha256();
        var first = hasher.Peek();
        first[0] ^= 0xFF;

        Assert.NotEqual(first, hasher.Peek());
    }

    [Fact]
    public void Clone_ThenAppendDifferentBytes_BothAreIndependent()
    {
        var prefix = TestBytes.Seeded(100, seed: 5);
        var original = new ResumableSha256();
        original.Append(prefix);

        var clone = original.Clone();
        original.Append("left"u8);
        clone.Append("right, and longer than one block so the chaining value moves on as well....."u8);

        Assert.Equal(SHA256.HashData([.. prefix, .. "left"u8]), original.Peek());
        Assert.Equal(
            SHA256.HashData([.. prefix, .. "right, and longer than one block so the chaining value moves on as well....."u8]),
            clone.Peek());
    }

    [Fact]
    public void Import_Empty_IsRejected() =>
        Assert.Throws<FormatException>(() => ResumableSha256.Import([]));

    [Fact]
    public void Import_ShorterThanTheHeader_IsRejected() =>
        Assert.Throws<FormatException>(() => ResumableSha256.Import(new ResumableSha256().ExportState().AsSpan(0, HeaderSize - 1)));

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(0xFF)]
    public void Import_UnknownVersion_IsRejected(byte version)
    {
        var state = StateOf(70);
        state[0] = version;

        Assert.Throws<FormatException>(() => ResumableSha256.Import(state));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(64)]
    [InlineData(70)]
    public void Import_LastByteMissing_IsRejected(int length) =>
        Assert.Throws<FormatException>(() => ResumableSha256.Import(StateOf(length).AsSpan()[..^1]));

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(64)]
    [InlineData(70)]
    public void Import_OneByteTooMany_IsRejected(int length) =>
        Assert.Throws<FormatException>(() => ResumableSha256.Import([.. StateOf(length), 0]));

    [Fact]
    public void Import_LengthThatDisagreesWithThePendingBytes_IsRejected()
    {
        var state = StateOf(70);
        BinaryPrimitives.WriteUInt64BigEndian(state.AsSpan(1), 71);

        Assert.Throws<FormatException>(() => ResumableSha256.Import(state));
    }

    [Theory]
    [InlineData(1UL << 61)]
    [InlineData(ulong.MaxValue - 63)]
    [InlineData(1UL << 63)]
    public void Import_LengthBeyondTheSha256Limit_IsRejected(ulong length)
    {
        var state = new byte[HeaderSize + (int)(length % 64)];
        state[0] = 1;
        BinaryPrimitives.WriteUInt64BigEndian(state.AsSpan(1), length);

        Assert.Throws<FormatException>(() => ResumableSha256.Import(state));
    }

    [Fact]
    public void Import_NoCompleteBlockButNotTheInitialValue_IsRejected()
    {
        var state = StateOf(10);
        state[9] ^= 1;

        Assert.Throws<FormatException>(() => ResumableSha256.Import(state));
    }

    [Fact]
    public void Append_UpToTheSha256Limit_ThenRefusesMore()
    {
        // 2^61 - 2 bytes: the chaining value is arbitrary, 62 bytes are pending.
        const long length = (1L << 61) - 2;
        var state = new byte[HeaderSize + (int)(length % 64)];
        state[0] = 1;
        BinaryPrimitives.WriteUInt64BigEndian(state.AsSpan(1), length);
        var hasher = ResumableSha256.Import(state);

        hasher.Append("x"u8);

        Assert.Equal((1L << 61) - 1, hasher.Length);
        Assert.Throws<InvalidOperationException>(() => hasher.Append("y"u8));
        Assert.Equal((1L << 61) - 1, hasher.Length);
        Assert.Equal(32, hasher.Peek().Length);
    }

    private static byte[] FrozenMessage()
    {
        var message = new byte[67];
        for (var i = 0; i < 64; i++)
        {
            message[i] = (byte)i;
        }

        "abc"u8.CopyTo(message.AsSpan(64));
        return message;
    }

    private static byte[] StateOf(int length)
    {
        var hasher = new ResumableSha256();
        hasher.Append(TestBytes.Seeded(length, seed: length));
        return hasher.ExportState();
    }
}
