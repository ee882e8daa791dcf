using System.Buffers.Binary;
using System.Numerics;

namespace Depot.Core.Hashing;

/// <summary>
/// The SHA-256 of an appender object (a file that grows by appends and may be modified or truncated),
/// with checkpoints so that a change at an offset re-hashes only from the last checkpoint before it.
/// </summary>
/// <remarks>
/// <para>
/// Besides the running state it keeps the chaining value at every multiple of the checkpoint interval
/// (<see cref="CheckpointInterval"/> for hashers from <see cref="Start()"/>) that <see cref="Length"/> has
/// reached: 32 bytes per 16 MiB, 2 MiB of checkpoints for a 1 TiB object. An append continues from the
/// tail; after a modify at offset N or a truncate to N, <see cref="ResumeAt"/> gives a hasher at the
/// greatest checkpoint at or before N and the caller feeds the file again from its <see cref="Length"/>.
/// </para>
/// <para>Not thread-safe: one writer at a time, as for <see cref="ResumableSha256"/>.</para>
/// <para>
/// Serialized form (format version 1), <c>2 + (41 + Length % 64) + 32 * CheckpointCount</c> bytes:
/// <c>[0]</c> format version (1);
/// <c>[1]</c> log2 of the checkpoint interval (24 for 16 MiB);
/// then the tail state exactly as <see cref="ResumableSha256.ExportState"/> writes it (its
/// <see cref="Length"/> fixes both its own size and the checkpoint count, <c>Length / interval</c>);
/// then each checkpoint's chaining value (H0..H7, big-endian), at offsets interval, 2 * interval, ...
/// </para>
/// </remarks>
public sealed class AppenderHash
{
    /// <summary>Bytes between checkpoints (16 MiB): the most that a modify or truncate re-reads before the change.</summary>
    public const long CheckpointInterval = 16L << 20;

    private const byte FormatVersion = 1;
    private const int HeaderSize = 2;

    // A checkpoint must fall on a block boundary, where the chaining value is the whole state; a power of
    // two keeps the serialized interval to one byte.
    private const int MinIntervalLog2 = 6;
    private const int MaxIntervalLog2 = 60;

    private readonly int _intervalLog2;
    private readonly ResumableSha256 _hash;
    private byte[] _checkpoints;
    private int _checkpointCount;

    private AppenderHash(int intervalLog2, ResumableSha256 hash, byte[] checkpoints, int checkpointCount)
    {
        _intervalLog2 = intervalLog2;
        _hash = hash;
        _checkpoints = checkpoints;
        _checkpointCount = checkpointCount;
    }

    /// <summary>Bytes hashed so far: after <see cref="ResumeAt"/>, the offset from which the caller feeds bytes again.</summary>
    public long Length => _hash.Length;

    /// <summary>Checkpoints held: one per multiple of the interval from the interval up to <see cref="Length"/>.</summary>
    public int CheckpointCount => _checkpointCount;

    /// <summary>Bytes between checkpoints for this hasher (<see cref="CheckpointInterval"/> unless made by a test).</summary>
    internal long Interval => 1L << _intervalLog2;

    /// <summary>A hasher of the empty object.</summary>
    public static AppenderHash Start() => Start(CheckpointInterval);

    /// <summary>A hasher with another checkpoint interval (a power of two, at least 64): lets tests cross many checkpoints quickly.</summary>
    internal static AppenderHash Start(long checkpointInterval)
    {
        if (checkpointInterval < 1L << MinIntervalLog2 || checkpointInterval > 1L << MaxIntervalLog2 || !BitOperations.IsPow2(checkpointInterval))
        {
            throw new ArgumentOutOfRangeException(nameof(checkpointInterval), checkpointInterval, "The interval is a power of two from 64 bytes to 2^60.");
        }

        return new AppenderHash(BitOperations.Log2((ulong)checkpointInterval), new ResumableSha256(), [], 0);
    }

    /// <summary>Hashes <paramref name="data"/> as the continuation of the object, recording each checkpoint it reaches.</summary>
    /// <exception cref="InvalidOperationException">The object would reach 2^61 bytes, the SHA-256 limit.</exception>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.Length > ResumableSha256.MaxLength - Length)
        {
            throw new InvalidOperationException("SHA-256 cannot hash 2^61 bytes or more; start a new hash.");
        }

        while (!data.IsEmpty)
        {
            var nextCheckpoint = (long)(_checkpointCount + 1) << _intervalLog2;
            var take = (int)Math.Min(data.Length, nextCheckpoint - Length);
            _hash.Append(data[..take]);
            data = data[take..];
            if (Length == nextCheckpoint)
            {
                AddCheckpoint();
            }
        }
    }

    /// <summary>The SHA-256 of the bytes so far (32 bytes); appending may continue.</summary>
    public byte[] Digest() => _hash.Peek();

    /// <summary>The checkpoints and the tail state in the versioned form described on the class.</summary>
    public byte[] Export()
    {
        var tailSize = _hash.ExportedSize;
        var serialized = new byte[HeaderSize + tailSize + (_checkpointCount * ResumableSha256.ChainingValueSize)];
        serialized[0] = FormatVersion;
        serialized[1] = (byte)_intervalLog2;
        _hash.WriteState(serialized.AsSpan(HeaderSize, tailSize));
        _checkpoints.AsSpan(0, _checkpointCount * ResumableSha256.ChainingValueSize).CopyTo(serialized.AsSpan(HeaderSize + tailSize));
        return serialized;
    }

    /// <summary>A hasher that continues from the tail of a state made by <see cref="Export"/>, with all its checkpoints.</summary>
    /// <remarks>The checkpoint interval is the serialized one, which need not be <see cref="CheckpointInterval"/>.</remarks>
    /// <exception cref="FormatException">
    /// Unknown format version or interval, a malformed tail state (see <see cref="ResumableSha256.Import"/>), a size that
    /// does not match the tail's length, or a last checkpoint at the tail that disagrees with the tail's chaining value.
    /// </exception>
    public static AppenderHash Import(ReadOnlySpan<byte> serialized)
    {
        if (serialized.Length < HeaderSize)
        {
            throw new FormatException($"An appender hash state is at least {HeaderSize} bytes; this one is {serialized.Length}.");
        }

        if (serialized[0] != FormatVersion)
        {
            throw new FormatException($"Unknown appender hash format version {serialized[0]}; this build reads version {FormatVersion}.");
        }

        int intervalLog2 = serialized[1];
        if (intervalLog2 is < MinIntervalLog2 or > MaxIntervalLog2)
        {
            throw new FormatException($"The appender hash state has a checkpoint interval of 2^{intervalLog2} bytes; it must be 2^{MinIntervalLog2} to 2^{MaxIntervalLog2}.");
        }

        // The tail's own header gives its length, hence its size; the rest must be exactly the checkpoints.
        var rest = serialized[HeaderSize..];
        if (rest.Length < 1 + sizeof(long))
        {
            throw new FormatException("The appender hash state ends before its tail state's length.");
        }

        var length = BinaryPrimitives.ReadUInt64BigEndian(rest[1..]);
        if (length > ResumableSha256.MaxLength)
        {
            throw new FormatException($"The appender hash state claims {length} bytes, more than SHA-256 can hash.");
        }

        var tailSize = 1 + sizeof(long) + ResumableSha256.ChainingValueSize + (int)(length % ResumableSha256.BlockSize);
        var checkpointCount = (long)(length >> intervalLog2);
        var checkpointBytes = checkpointCount * ResumableSha256.ChainingValueSize;
        if (rest.Length < tailSize || rest.Length - tailSize != checkpointBytes)
        {
            throw new FormatException(
                $"An appender hash state of {length} bytes with {checkpointCount} checkpoints is {HeaderSize + tailSize + checkpointBytes} bytes long; this one is {serialized.Length}.");
        }

        var hash = ResumableSha256.Import(rest[..tailSize]);
        var checkpoints = rest[tailSize..];
        if (checkpointCount > 0 && ((long)checkpointCount << intervalLog2) == (long)length)
        {
            Span<byte> tailChainingValue = stackalloc byte[ResumableSha256.ChainingValueSize];
            hash.WriteChainingValue(tailChainingValue);
            if (!checkpoints[^ResumableSha256.ChainingValueSize..].SequenceEqual(tailChainingValue))
            {
                throw new FormatException("The appender hash state's last checkpoint is at its tail but disagrees with the tail's chaining value.");
            }
        }

        return new AppenderHash(intervalLog2, hash, checkpoints.ToArray(), (int)checkpointCount);
    }

    /// <summary>
    /// A hasher at the greatest checkpoint at or before <paramref name="offset"/> (0 when there is none), keeping the
    /// checkpoints up to it; its <see cref="Length"/> is where the caller feeds bytes again. When <paramref name="offset"/>
    /// is the serialized <see cref="Length"/>, the hasher is at the tail and needs no bytes again.
    /// </summary>
    /// <exception cref="FormatException"><paramref name="serialized"/> is malformed (see <see cref="Import"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative or beyond the serialized <see cref="Length"/>.</exception>
    public static AppenderHash ResumeAt(ReadOnlySpan<byte> serialized, long offset)
    {
        var tail = Import(serialized);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, tail.Length);
        if (offset == tail.Length)
        {
            return tail;
        }

        var keep = (int)(offset >> tail._intervalLog2);
        var resumed = keep == 0
            ? new ResumableSha256()
            : ResumableSha256.FromChainingValue(tail.CheckpointAt(keep - 1), (long)keep << tail._intervalLog2);
        return new AppenderHash(tail._intervalLog2, resumed, tail._checkpoints, keep);
    }

    private ReadOnlySpan<byte> CheckpointAt(int index) =>
        _checkpoints.AsSpan(index * ResumableSha256.ChainingValueSize, ResumableSha256.ChainingValueSize);

    private void AddCheckpoint()
    {
        var end = (_checkpointCount + 1) * ResumableSha256.ChainingValueSize;
        if (end > _checkpoints.Length)
        {
            Array.Resize(ref _checkpoints, Math.Max(end, 2 * _checkpoints.Length));
        }

        _hash.WriteChainingValue(_checkpoints.AsSpan(end - ResumableSha256.ChainingValueSize));
        _checkpointCount++;
    }
}
