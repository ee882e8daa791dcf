namespace Depot.Client.Encryption;

/// <summary>
/// Yields the header, then each chunk's ciphertext and tag, reading the plaintext source one chunk at a time. A chunk
/// shorter than <see cref="EncryptionFormat.ChunkSize"/> (possibly empty) is the final one; a full chunk is never final,
/// so a plaintext of an exact multiple of the chunk size ends with an empty final chunk. Memory: two chunk buffers.
/// </summary>
internal sealed class EncryptingReadStream : ForwardReadStream
{
    private readonly FileCipher _cipher;
    private int _outPosition;
    private int _outLength;
    private long _index;
    private bool _finished;

    public EncryptingReadStream(Stream plaintext, EncryptionKey key, bool leaveOpen)
        : base(plaintext, leaveOpen, EncryptionFormat.ChunkSize, EncryptionFormat.FullChunkLength)
    {
        ArgumentNullException.ThrowIfNull(key);
        var header = EncryptionFormat.CreateHeader(key, out _cipher);
        header.CopyTo(Output, 0);
        _outLength = header.Length;
    }

    private byte[] Plain => First;

    private byte[] Output => Second;

    protected override int ReadCore(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        if (_outPosition == _outLength)
        {
            if (_finished)
            {
                return 0;
            }

            EncryptChunk(Fill(Source, Plain.AsSpan(0, EncryptionFormat.ChunkSize)));
        }

        return CopyOut(buffer);
    }

    protected override async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        if (_outPosition == _outLength)
        {
            if (_finished)
            {
                return 0;
            }

            EncryptChunk(await FillAsync(Source, Plain.AsMemory(0, EncryptionFormat.ChunkSize), cancellationToken).ConfigureAwait(false));
        }

        return CopyOut(buffer.Span);
    }

    protected override void ReleaseResources() => _cipher.Dispose();

    private void EncryptChunk(int plainLength)
    {
        if (_index > EncryptionFormat.FinalChunkIndex(EncryptionFormat.MaxPlaintextLength))
        {
            throw new IOException($"The plaintext is longer than the {EncryptionFormat.MaxPlaintextLength} bytes the format can hold.");
        }

        var final = plainLength < EncryptionFormat.ChunkSize;
        _cipher.Encrypt(_index, final, Plain.AsSpan(0, plainLength), Output.AsSpan(0, plainLength + EncryptionFormat.TagLength));
        _index++;
        _finished = final;
        _outPosition = 0;
        _outLength = plainLength + EncryptionFormat.TagLength;
    }

    private int CopyOut(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, _outLength - _outPosition);
        Output.AsSpan(_outPosition, n).CopyTo(buffer);
        _outPosition += n;
        return n;
    }
}
