using System.Buffers.Binary;
using System.Security.Cryptography;
using Depot.Core.Hashing;
using Depot.Core.Tests.TestSupport;

namespace Depot.Core.Tests.Hashing;

public sealed class AppenderHashTests
{
    // A small interval crosses many checkpoints in a few bytes; the format stores it, so it round-trips.
    private const long Interval = 256;
    private const int TailHeaderSize = 41;

    [Fact]
    public void Start_Empty_HasNoCheckpointsAndTheEmptyDigest()
    {
        var hash = AppenderHash.Start();

        Assert.Equal(0, hash.Length);
        Assert.Equal(0, hash.CheckpointCount);
        Assert.Equal(AppenderHash.CheckpointInterval, hash.Interval);
        Assert.Equal(SHA256.HashData([]), hash.Digest());
    }

    [Fact]
    public void CheckpointInterval_Is16MiB() => Assert.Equal(16L << 20, AppenderHash.CheckpointInterval);

    [Theory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(100)]
    [InlineData(1L << 61)]
    public void Start_IntervalNotAPowerOfTwoFrom64_IsRejected(long interval) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AppenderHash.Start(interval));

    [Fact]
    public void Append_AcrossTheReal16MiBInterval_RecordsACheckpoint()
    {
        // A tail 10 bytes short of 16 MiB (arbitrary chaining value, 54 pending bytes) saves hashing 16 MiB.
        const long length = AppenderHash.CheckpointInterval - 10;
        var serialized = new byte[2 + TailHeaderSize + (int)(length % 64)];
        serialized[0] = 1;
        serialized[1] = 24;
        serialized[2] = 1;
        BinaryPrimitives.WriteUInt64BigEndian(serialized.AsSpan(3), length);
        serialized.AsSpan(11, 32).Fill(0x5A);
        var hash = AppenderHash.Import(serialized);
        Assert.Equal(0, hash.CheckpointCount);

        hash.Append(TestBytes.Seeded(20, seed: 2));

        Assert.Equal(AppenderHash.CheckpointInterval + 10, hash.Length);
        Assert.Equal(1, hash.CheckpointCount);
        var resumed = AppenderHash.ResumeAt(hash.Export(), AppenderHash.CheckpointInterval + 5);
        Assert.Equal(AppenderHash.CheckpointInterval, resumed.Length);
        Assert.Equal(1, resumed.CheckpointCount);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(255, 0)]
    [InlineData(256, 1)]
    [InlineData(257, 1)]
    [InlineData(767, 2)]
    [InlineData(768, 3)]
    [InlineData(1000, 3)]
    public void Append_InOnePiece_RecordsEveryIntervalReached(int length, int checkpoints)
    {
        var data = TestBytes.Seeded(length, seed: length);
        var hash = AppenderHash.Start(Interval);

        hash.Append(data);

        Assert.Equal(length, hash.Length);
        Assert.Equal(checkpoints, hash.CheckpointCount);
        Assert.Equal(SHA256.HashData(data), hash.Digest());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Append_RandomPiecesAcrossManyIntervals_CheckpointsAreTheChainingValues(int seed)
    {
        var data = TestBytes.Seeded(2000, seed);
        var hash = AppenderHash.Start(Interval);
        var offset = 0;
#pragma warning disable CA5394 // deterministic split points, not security
        var random = new Random(seed);
        while (offset < data.Length)
        {
            var length = Math.Min(data.Length - offset, random.Next(600));
#pragma warning restore CA5394
            hash.Append(data.AsSpan(offset, length));
            offset += length;
            Assert.Equal(offset / Interval, hash.CheckpointCount);
        }

        Assert.Equal(SHA256.HashData(data), hash.Digest());
        var serialized = hash.Export();
        var checkpoints = serialized.AsSpan(2 + TailHeaderSize + (int)(data.Length % 64));
        Assert.Equal(7 * 32, checkpoints.Length);
        for (var i = 0; i < 7; i++)
        {
            Assert.Equal(ChainingValueAfter(data.AsSpan(0, (int)((i + 1) * Interval))), checkpoints.Slice(i * 32, 32).ToArray());
        }
    }

    [Fact]
    public void Export_IsVersionIntervalTailStateThenCheckpoints()
    {
        var data = TestBytes.Seeded(600, seed: 4);
        var hash = AppenderHash.Start(Interval);
        hash.Append(data);
        var tail = new ResumableSha256();
        tail.Append(data);

        var serialized = hash.Export();

        Assert.Equal(1, serialized[0]);
        Assert.Equal(8, serialized[1]);
        Assert.Equal(tail.ExportState(), serialized.AsSpan(2, TailHeaderSize + (600 % 64)).ToArray());
        Assert.Equal(2 + TailHeaderSize + (600 % 64) + (2 * 32), serialized.Length);
        Assert.Equal(24, AppenderHash.Start().Export()[1]);
    }

    [Fact]
    public void ExportImport_EveryLengthAcrossThreeIntervals_ContinuesLikeOneHash()
    {
        var data = TestBytes.Seeded(3 * (int)Interval + 100, seed: 6);
        for (var length = 0; length <= data.Length; length += 13)
        {
            var hash = AppenderHash.Start(Interval);
            hash.Append(data.AsSpan(0, length));

            var imported = AppenderHash.Import(hash.Export());

            Assert.Equal(length, imported.Length);
            Assert.Equal(length / Interval, imported.CheckpointCount);
            Assert.Equal(Interval, imported.Interval);
            Assert.Equal(hash.Digest(), imported.Digest());
            Assert.Equal(hash.Export(), imported.Export());
            imported.Append(data.AsSpan(length));
            Assert.Equal(SHA256.HashData(data), imported.Digest());
            Assert.Equal(data.Length / Interval, imported.CheckpointCount);
        }
    }

    [Fact]
    public void ResumeAt_Zero_StartsOverWithNoCheckpoints()
    {
        var (data, serialized) = HashedBytes(1000);

        var resumed = AppenderHash.ResumeAt(serialized, 0);

        Assert.Equal(0, resumed.Length);
        Assert.Equal(0, resumed.CheckpointCount);
        data[0] ^= 0xFF;
        resumed.Append(data);
        Assert.Equal(SHA256.HashData(data), resumed.Digest());
        Assert.Equal(3, resumed.CheckpointCount);
    }

    [Fact]
    public void ResumeAt_BeforeTheFirstCheckpoint_StartsOver()
    {
        var (_, serialized) = HashedBytes(1000);

        var resumed = AppenderHash.ResumeAt(serialized, Interval - 1);

        Assert.Equal(0, resumed.Length);
        Assert.Equal(0, resumed.CheckpointCount);
    }

    [Fact]
    public void ResumeAt_ACheckpoint_ResumesThereAndKeepsTheCheckpointsUpToIt()
    {
        var (data, serialized) = HashedBytes(1000);

        var resumed = AppenderHash.ResumeAt(serialized, 2 * Interval);

        Assert.Equal(2 * Interval, resumed.Length);
        Assert.Equal(2, resumed.CheckpointCount);

        // A modify at the checkpoint: only the bytes from it are fed again.
        data[2 * Interval] ^= 0xFF;
        resumed.Append(data.AsSpan((int)resumed.Length));
        Assert.Equal(SHA256.HashData(data), resumed.Digest());
        Assert.Equal(3, resumed.CheckpointCount);
        Assert.Equal(Export(data), resumed.Export());
    }

    [Fact]
    public void ResumeAt_BetweenCheckpoints_ResumesAtTheOneBefore()
    {
        var (data, serialized) = HashedBytes(1000);

        var resumed = AppenderHash.ResumeAt(serialized, 700);

        Assert.Equal(2 * Interval, resumed.Length);
        Assert.Equal(2, resumed.CheckpointCount);
        data[700] ^= 0xFF;
        resumed.Append(data.AsSpan((int)resumed.Length));
        Assert.Equal(SHA256.HashData(data), resumed.Digest());
        Assert.Equal(Export(data), resumed.Export());
    }

    [Fact]
    public void ResumeAt_AfterTheLastCheckpoint_ResumesThereForATruncate()
    {
        var (data, serialized) = HashedBytes(1000);

        var resumed = AppenderHash.ResumeAt(serialized, 900);

        Assert.Equal(3 * Interval, resumed.Length);
        Assert.Equal(3, resumed.CheckpointCount);

        // Truncate to 900: feed up to the new end only.
        resumed.Append(data.AsSpan((int)resumed.Length, 900 - (int)resumed.Length));
        Assert.Equal(SHA256.HashData(data.AsSpan(0, 900)), resumed.Digest());
        Assert.Equal(Export(data.AsSpan(0, 900)), resumed.Export());
    }

    [Fact]
    public void ResumeAt_TruncateBelowACheckpoint_DropsTheCheckpointsBeyond()
    {
        var (data, serialized) = HashedBytes(1000);

        var resumed = AppenderHash.ResumeAt(serialized, 300);
        resumed.Append(data.AsSpan((int)resumed.Length, 300 - (int)resumed.Length));

        Assert.Equal(1, resumed.CheckpointCount);
        Assert.Equal(Export(data.AsSpan(0, 300)), resumed.Export());
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(1024)]
    [InlineData(0)]
    public void ResumeAt_TheTail_NeedsNoBytesAgain(int length)
    {
        var (data, serialized) = HashedBytes(length);

        var resumed = AppenderHash.ResumeAt(serialized, length);

        Assert.Equal(length, resumed.Length);
        Assert.Equal(length / Interval, resumed.CheckpointCount);
        Assert.Equal(SHA256.HashData(data), resumed.Digest());
        Assert.Equal(serialized, resumed.Export());
        resumed.Append("more"u8);
        Assert.Equal(SHA256.HashData([.. data, .. "more"u8]), resumed.Digest());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1001)]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    public void ResumeAt_OutsideTheHashedBytes_IsRejected(long offset)
    {
        var (_, serialized) = HashedBytes(1000);

        Assert.Throws<ArgumentOutOfRangeException>(() => AppenderHash.ResumeAt(serialized, offset));
    }

    [Fact]
    public void ResumeAt_MalformedState_IsAFormatError() =>
        Assert.Throws<FormatException>(() => AppenderHash.ResumeAt([1], 0));

    [Fact]
    public void Import_Empty_IsRejected() =>
        Assert.Throws<FormatException>(() => AppenderHash.Import([]));

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(0xFF)]
    public void Import_UnknownVersion_IsRejected(byte version)
    {
        var (_, serialized) = HashedBytes(1000);
        serialized[0] = version;

        Assert.Throws<FormatException>(() => AppenderHash.Import(serialized));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(61)]
    [InlineData(0xFF)]
    public void Import_IntervalOutOfRange_IsRejected(byte intervalLog2)
    {
        var serialized = AppenderHash.Start().Export();
        serialized[1] = intervalLog2;

        Assert.Throws<FormatException>(() => AppenderHash.Import(serialized));
    }

    [Fact]
    public void Import_IntervalThatDisagreesWithTheCheckpointCount_IsRejected()
    {
        var (_, serialized) = HashedBytes(1000);
        serialized[1] = 9;

        Assert.Throws<FormatException>(() => AppenderHash.Import(serialized));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(10)]
    [InlineData(32)]
    public void Import_Truncated_IsRejected(int missing)
    {
        var (_, serialized) = HashedBytes(1000);

        Assert.Throws<FormatException>(() => AppenderHash.Import(serialized.AsSpan(0, serialized.Length - missing)));
    }

    [Fact]
    public void Import_OneByteTooMany_IsRejected()
    {
        var (_, serialized) = HashedBytes(1000);

        Assert.Throws<FormatException>(() => AppenderHash.Import([.. serialized, 0]));
    }

    [Fact]
    public void Import_MalformedTailState_IsRejected()
    {
        var (_, serialized) = HashedBytes(1000);
        serialized[2] = 7;

        Assert.Throws<FormatException>(() => AppenderHash.Import(serialized));
    }

    [Fact]
    public void Import_TailLengthBeyondTheSha256Limit_IsRejected()
    {
        var serialized = AppenderHash.Start().Export();
        BinaryPrimitives.WriteUInt64BigEndian(serialized.AsSpan(3), ulong.MaxValue - 63);

        Assert.Throws<FormatException>(() => AppenderHash.Import(serialized));
    }

    [Fact]
    public void Import_LastCheckpointAtTheTailThatDisagreesWithIt_IsRejected()
    {
        var (_, serialized) = HashedBytes(1024);
        serialized[^1] ^= 1;

        Assert.Throws<FormatException>(() => AppenderHash.Import(serialized));
    }

    private static (byte[] Data, byte[] Serialized) HashedBytes(int length)
    {
        var data = TestBytes.Seeded(length, seed: 8);
        return (data, Export(data));
    }

    private static byte[] Export(ReadOnlySpan<byte> data)
    {
        var hash = AppenderHash.Start(Interval);
        hash.Append(data);
        return hash.Export();
    }

    // The tail state's bytes 9..41 are the chaining value (see ResumableSha256's format).
    private static byte[] ChainingValueAfter(ReadOnlySpan<byte> data)
    {
        var hasher = new ResumableSha256();
        hasher.Append(data);
        return hasher.ExportState().AsSpan(9, 32).ToArray();
    }
}
