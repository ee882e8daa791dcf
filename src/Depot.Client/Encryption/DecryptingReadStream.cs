namespace Depot.Client.Encryption;

/// <summary>
/// Yields plaintext from ciphertext one verified chunk at a time: a chunk's bytes are handed out only after its tag
/// verified. Two modes:
/// <list type="bullet">
/// <item>Whole file: reads and verifies the header first; a full-length chunk is non-final, a shorter one is the final
/// chunk (and, since the source was read until it ended, nothing follows it); an end before a final chunk is truncation.</item>
/// <item>Range: the header was verified by the caller, the source starts at a chunk boundary, and the total plaintext
/// length (so every chunk's length and which chunk is final) is known; only the requested plaintext window is yielded.</item>
/// </list>
/// </summary>
internal sealed class DecryptingReadStream : ForwardReadStream
{
    private readonly EncryptionKey? _key;
    private readonly long _total;
    private readonly long _firstNeeded;
    private readonly long _lastNeeded;
    private readonly long _windowStart;
    private readonly long _windowEnd;
    private FileCipher? _cipher;
    private long _index;
    private int _plainPosition;
    private int _plainLength;
    private bool _done;

    /// <summary>Whole-file mode: the source starts with the header.</summary>
    public DecryptingReadStream(Stream ciphertext, EncryptionKey key, bool leaveOpen)
        : base(ciphertext, leaveOpen, EncryptionFormat.FullChunkLength, EncryptionFormat.ChunkSize)
    {
        _key = key;
        _total = -1;
        _lastNeeded = long.MaxValue;
        _windowEnd = long.MaxValue;
    }

    /// <summary>Range mode: the source starts at chunk <paramref name="sourceStartIndex"/>; yields plaintext
    /// [<paramref name="plaintextOffset"/>, +<paramref name="plaintextLength"/>). Takes ownership of <paramref name="cipher"/>.</summary>
    public DecryptingReadStream(Stream ciphertextChunks, FileCipher cipher, long sourceStartIndex, long totalPlaintextLength,
        long plaintextOffset, long plaintextLength, bool leaveOpen)
        : base(ciphertextChunks, leaveOpen, EncryptionFormat.FullChunkLength, EncryptionFormat.ChunkSize)
    {
        _cipher = cipher;
        _total = totalPlaintextLength;
        (_firstNeeded, _lastNeeded) = EncryptionFormat.ChunksFor(plaintextOffset, plaintextLength, totalPlaintextLength);
        _index = sourceStartIndex;
        _windowStart = plaintextOffset;
        _windowEnd = plaintextOffset + plaintextLength;
        _done = _lastNeeded < _firstNeeded;
    }

    private byte[] Chunk => First;

    private byte[] Plain => Second;

    protected override int ReadCore(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        while (_plainPosition == _plainLength)
        {
            if (_done)
            {
                return 0;
            }

            if (_cipher is null)
            {
                OpenHeader(Fill(Source, Chunk.AsSpan(0, EncryptionFormat.HeaderLength)));
                continue;
            }

            var wanted = BytesWanted();
            ProcessChunk(Fill(Source, Chunk.AsSpan(0, wanted)), wanted);
        }

        return CopyOut(buffer);
    }

    protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        while (_plainPosition == _plainLength)
        {
            if (_done)
            {
                return 0;
            }

            if (_cipher is null)
            {
                OpenHeader(await FillAsync(Source, Chunk.AsMemory(0, EncryptionFormat.HeaderLength), cancellationToken).ConfigureAwait(false));
                continue;
            }

            var wanted = BytesWanted();
            ProcessChunk(await FillAsync(Source, Chunk.AsMemory(0, wanted), cancellationToken).ConfigureAwait(false), wanted);
        }

        return CopyOut(buffer.Span);
    }

    protected override void ReleaseResources() => _cipher?.Dispose();

    private bool RangeMode => _total >= 0;

    private void OpenHeader(int read) => _cipher = EncryptionFormat.OpenHeader(Chunk.AsSpan(0, read), _key!);

    private int BytesWanted() => RangeMode ? EncryptionFormat.ChunkLength(_index, _total) : EncryptionFormat.FullChunkLength;

    private void ProcessChunk(int read, int wanted)
    {
        bool final;
        if (RangeMode)
        {
            if (read < wanted)
            {
                throw new DecryptionException($"Decryption failed: the encrypted range ends {read} bytes into chunk {_index}, "
                    + $"which is {wanted} bytes long; the file is shorter than its stated length, or was changed.");
            }

            if (_index < _firstNeeded)
            {
                // A chunk before the requested window (the caller's bytes started earlier): not needed, not decrypted.
                _index++;
                return;
            }

            final = _index == EncryptionFormat.FinalChunkIndex(_total);
        }
        else if (read == EncryptionFormat.FullChunkLength)
        {
            final = false;
        }
        else if (read == 0)
        {
            throw new DecryptionException(_index == 0
                ? "Decryption failed: the file ends right after its encryption header, without any chunk; it was truncated."
                : $"Decryption failed: the file ends after chunk {_index - 1} without its final chunk; it was truncated.");
        }
        else if (read < EncryptionFormat.TagLength)
        {
            throw new DecryptionException($"Decryption failed: chunk {_index} is cut short ({read} bytes); the file was truncated or changed.");
        }
        else
        {
            // Shorter than a full chunk: the source ended, so this must be the final chunk and nothing can follow it.
            final = true;
        }

        var length = read - EncryptionFormat.TagLength;
        _cipher!.Decrypt(_index, final, Chunk.AsSpan(0, read), Plain.AsSpan(0, length));

        var chunkStart = _index * EncryptionFormat.ChunkSize;
        var from = (int)Math.Clamp(_windowStart - chunkStart, 0, length);
        var to = (int)Math.Clamp(_windowEnd - chunkStart, from, length);
        _plainPosition = from;
        _plainLength = to;
        _done = final || _index == _lastNeeded;
        _index++;
    }

    private int CopyOut(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, _plainLength - _plainPosition);
        Plain.AsSpan(_plainPosition, n).CopyTo(buffer);
        _plainPosition += n;
        return n;
    }
}
