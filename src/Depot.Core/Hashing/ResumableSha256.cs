using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Depot.Core.Hashing;

/// <summary>
/// SHA-256 (FIPS 180-4) whose running state can be exported, stored and imported again, so that the
/// digest of a file that grows by appends is known after each append without re-reading the file.
/// </summary>
/// <remarks>
/// <para>
/// .NET's <c>SHA256</c> and <c>IncrementalHash</c> cannot export their state, hence this managed
/// implementation. It is slower than the platform's (which uses the CPU's SHA extensions where present),
/// so use it only where the state must outlive the process.
/// </para>
/// <para>
/// Not thread-safe: one writer at a time. <see cref="Peek"/>, <see cref="ExportState"/> and
/// <see cref="Clone"/> do not change the state, and may run concurrently with each other but not with
/// <see cref="Append"/>.
/// </para>
/// <para>
/// Exported state (format version 1), <c>41 + Length % 64</c> bytes:
/// <c>[0]</c> format version (1);
/// <c>[1..9)</c> <see cref="Length"/>, unsigned 64-bit big-endian;
/// <c>[9..41)</c> the chaining value H0..H7, each 32-bit big-endian (after a whole number of blocks this
/// is the hash state at that offset, not a digest: no padding has been applied);
/// <c>[41..)</c> the <c>Length % 64</c> bytes received since the last complete 64-byte block.
/// </para>
/// </remarks>
public sealed class ResumableSha256
{
    /// <summary>Bytes in a chaining value or a digest.</summary>
    internal const int ChainingValueSize = 32;

    /// <summary>Bytes in one SHA-256 message block.</summary>
    internal const int BlockSize = 64;

    /// <summary>FIPS 180-4 §1: a message is shorter than 2^64 bits.</summary>
    internal const long MaxLength = (1L << 61) - 1;

    private const byte StateFormatVersion = 1;
    private const int StateHeaderSize = 1 + sizeof(long) + ChainingValueSize;

    // FIPS 180-4 §5.3.3: the first 32 bits of the fractional parts of the square roots of the first 8 primes.
    private static ReadOnlySpan<uint> InitialHash =>
    [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ];

    // FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
    private static ReadOnlySpan<uint> RoundConstants =>
    [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];

    private readonly uint[] _h = new uint[8];
    private readonly byte[] _pending = new byte[BlockSize];
    private long _length;

    /// <summary>A hasher of the empty message.</summary>
    public ResumableSha256() => InitialHash.CopyTo(_h);

    /// <summary>Bytes hashed so far.</summary>
    public long Length => _length;

    /// <summary>Hashes <paramref name="data"/> as the continuation of the bytes so far.</summary>
    /// <exception cref="InvalidOperationException">The message would reach 2^61 bytes (2^64 bits), the SHA-256 limit.</exception>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        if (data.Length > MaxLength - _length)
        {
            throw new InvalidOperationException("SHA-256 cannot hash 2^61 bytes or more; start a new hash.");
        }

        var pending = (int)(_length % BlockSize);
        _length += data.Length;
        if (pending != 0)
        {
            var take = Math.Min(BlockSize - pending, data.Length);
            data[..take].CopyTo(_pending.AsSpan(pending));
            data = data[take..];
            if (pending + take < BlockSize)
            {
                return;
            }

            Compress(_h, _pending);
        }

        var whole = data.Length & ~(BlockSize - 1);
        if (whole != 0)
        {
            Compress(_h, data[..whole]);
        }

        data[whole..].CopyTo(_pending);
    }

    /// <summary>The SHA-256 of the bytes so far (32 bytes); the state is unchanged, so appending may continue.</summary>
    [SkipLocalsInit]
    public byte[] Peek()
    {
        Span<uint> h = stackalloc uint[8];
        _h.CopyTo(h);

        // FIPS 180-4 §5.1.1: a 1 bit, zeros up to 56 mod 64 bytes, then the length in bits, big-endian.
        Span<byte> tail = stackalloc byte[2 * BlockSize];
        var pending = (int)(_length % BlockSize);
        var tailLength = pending < BlockSize - sizeof(ulong) ? BlockSize : 2 * BlockSize;
        _pending.AsSpan(0, pending).CopyTo(tail);
        tail[pending] = 0x80;
        tail[(pending + 1)..(tailLength - sizeof(ulong))].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(tail[(tailLength - sizeof(ulong))..], (ulong)_length << 3);
        Compress(h, tail[..tailLength]);

        var digest = new byte[ChainingValueSize];
        WriteBigEndian(h, digest);
        return digest;
    }

    /// <summary>The state in the versioned binary form described on the class; <see cref="Import"/> reads it back.</summary>
    public byte[] ExportState()
    {
        var state = new byte[ExportedSize];
        WriteState(state);
        return state;
    }

    /// <summary>A hasher that continues from a state made by <see cref="ExportState"/>.</summary>
    /// <exception cref="FormatException">
    /// Unknown format version, a length outside 0..2^61-1, a size that is not <c>41 + Length % 64</c>, or a
    /// chaining value other than the initial one while no block has been completed.
    /// </exception>
    public static ResumableSha256 Import(ReadOnlySpan<byte> state)
    {
        if (state.Length < StateHeaderSize)
        {
            throw new FormatException($"A SHA-256 state is at least {StateHeaderSize} bytes; this one is {state.Length}.");
        }

        if (state[0] != StateFormatVersion)
        {
            throw new FormatException($"Unknown SHA-256 state format version {state[0]}; this build reads version {StateFormatVersion}.");
        }

        var length = BinaryPrimitives.ReadUInt64BigEndian(state[1..]);
        if (length > MaxLength)
        {
            throw new FormatException($"The SHA-256 state claims {length} bytes, more than SHA-256 can hash.");
        }

        var pending = (int)(length % BlockSize);
        if (state.Length != StateHeaderSize + pending)
        {
            throw new FormatException(
                $"A SHA-256 state of {length} bytes is {StateHeaderSize + pending} bytes long; this one is {state.Length}.");
        }

        var hasher = new ResumableSha256 { _length = (long)length };
        ReadBigEndian(state.Slice(1 + sizeof(long), ChainingValueSize), hasher._h);
        if (length < BlockSize && !hasher._h.AsSpan().SequenceEqual(InitialHash))
        {
            throw new FormatException("The SHA-256 state has no complete block, yet its chaining value is not the initial one.");
        }

        state[StateHeaderSize..].CopyTo(hasher._pending);
        return hasher;
    }

    /// <summary>An independent hasher with the same state.</summary>
    public ResumableSha256 Clone()
    {
        var copy = new ResumableSha256 { _length = _length };
        _h.CopyTo(copy._h, 0);
        _pending.CopyTo(copy._pending, 0);
        return copy;
    }

    /// <summary>Size of <see cref="ExportState"/>'s result.</summary>
    internal int ExportedSize => StateHeaderSize + (int)(_length % BlockSize);

    /// <summary>Writes <see cref="ExportState"/>'s bytes to <paramref name="destination"/> (exactly <see cref="ExportedSize"/> long).</summary>
    internal void WriteState(Span<byte> destination)
    {
        destination[0] = StateFormatVersion;
        BinaryPrimitives.WriteUInt64BigEndian(destination[1..], (ulong)_length);
        WriteBigEndian(_h, destination.Slice(1 + sizeof(long), ChainingValueSize));
        _pending.AsSpan(0, (int)(_length % BlockSize)).CopyTo(destination[StateHeaderSize..]);
    }

    /// <summary>
    /// The chaining value (H0..H7, big-endian) after the last complete block; at a multiple of 64 bytes
    /// it is the whole state, which <see cref="FromChainingValue"/> resumes.
    /// </summary>
    internal void WriteChainingValue(Span<byte> destination) => WriteBigEndian(_h, destination);

    /// <summary>A hasher positioned after <paramref name="length"/> bytes (a multiple of 64) whose chaining value is <paramref name="chainingValue"/>.</summary>
    internal static ResumableSha256 FromChainingValue(ReadOnlySpan<byte> chainingValue, long length)
    {
        if (length < 0 || length > MaxLength || length % BlockSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "A chaining value stands for a whole number of 64-byte blocks.");
        }

        var hasher = new ResumableSha256 { _length = length };
        ReadBigEndian(chainingValue, hasher._h);
        return hasher;
    }

    private static void WriteBigEndian(ReadOnlySpan<uint> words, Span<byte> destination)
    {
        for (var i = 0; i < 8; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[(4 * i)..], words[i]);
        }
    }

    private static void ReadBigEndian(ReadOnlySpan<byte> source, Span<uint> words)
    {
        for (var i = 0; i < 8; i++)
        {
            words[i] = BinaryPrimitives.ReadUInt32BigEndian(source[(4 * i)..]);
        }
    }

    /// <summary>FIPS 180-4 §6.2.2 over each 64-byte block of <paramref name="blocks"/>, updating <paramref name="state"/>.</summary>
    [SkipLocalsInit]
    private static unsafe void Compress(Span<uint> state, ReadOnlySpan<byte> blocks)
    {
        // The message schedule lives on the stack and is reused for every block: no allocation per block.
        var w = stackalloc uint[64];
        fixed (uint* s = state)
        fixed (uint* k = RoundConstants)
        fixed (byte* input = blocks)
        {
            uint a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
            for (byte* block = input, end = input + blocks.Length; block < end; block += BlockSize)
            {
                var words = new ReadOnlySpan<byte>(block, BlockSize);
                for (var t = 0; t < 16; t++)
                {
                    w[t] = BinaryPrimitives.ReadUInt32BigEndian(words[(4 * t)..]);
                }

                for (var t = 16; t < 64; t++)
                {
                    uint w2 = w[t - 2], w15 = w[t - 15];
                    var sigma1 = BitOperations.RotateRight(w2, 17) ^ BitOperations.RotateRight(w2, 19) ^ (w2 >> 10);
                    var sigma0 = BitOperations.RotateRight(w15, 7) ^ BitOperations.RotateRight(w15, 18) ^ (w15 >> 3);
                    w[t] = sigma1 + w[t - 7] + sigma0 + w[t - 16];
                }

                // Eight rounds per pass with the working variables renamed instead of shifted: each round
                // writes its new 'a' into the previous 'h' and its new 'e' into the previous 'd'.
                var bc = b ^ c;
                for (var t = 0; t < 64; t += 8)
                {
                    Round(a, b, c, ref d, e, f, g, ref h, k[t] + w[t], ref bc);
                    Round(h, a, b, ref c, d, e, f, ref g, k[t + 1] + w[t + 1], ref bc);
                    Round(g, h, a, ref b, c, d, e, ref f, k[t + 2] + w[t + 2], ref bc);
                    Round(f, g, h, ref a, b, c, d, ref e, k[t + 3] + w[t + 3], ref bc);
                    Round(e, f, g, ref h, a, b, c, ref d, k[t + 4] + w[t + 4], ref bc);
                    Round(d, e, f, ref g, h, a, b, ref c, k[t + 5] + w[t + 5], ref bc);
                    Round(c, d, e, ref f, g, h, a, ref b, k[t + 6] + w[t + 6], ref bc);
                    Round(b, c, d, ref e, f, g, h, ref a, k[t + 7] + w[t + 7], ref bc);
                }

                a = s[0] += a;
                b = s[1] += b;
                c = s[2] += c;
                d = s[3] += d;
                e = s[4] += e;
                f = s[5] += f;
                g = s[6] += g;
                h = s[7] += h;
            }
        }
    }

    /// <summary>One round of FIPS 180-4 §6.2.2 step 3: d += T1, h = T1 + T2.</summary>
    /// <remarks>
    /// The sums are ordered so that h + K + W and Ch add up while Σ1(e) is still being computed: the chain from
    /// one round's e to the next is the critical path. Maj(a, b, c) = b ^ ((a ^ b) &amp; (b ^ c)), and this round's
    /// a ^ b is the next round's b ^ c, carried in <paramref name="bc"/>.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(uint a, uint b, uint c, ref uint d, uint e, uint f, uint g, ref uint h, uint kw, ref uint bc)
    {
        var t1 = h + kw + (g ^ (e & (f ^ g)))
            + (BitOperations.RotateRight(e, 6) ^ BitOperations.RotateRight(e, 11) ^ BitOperations.RotateRight(e, 25));
        d += t1;
        var ab = a ^ b;
        h = t1
            + ((BitOperations.RotateRight(a, 2) ^ BitOperations.RotateRight(a, 13) ^ BitOperations.RotateRight(a, 22))
                + (b ^ (ab & bc)));
        bc = ab;
    }
}
