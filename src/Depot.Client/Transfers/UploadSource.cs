namespace Depot.Client.Transfers;

/// <summary>What an upload reads: a local file, a caller's stream, or bytes. Knows whether it can be read again
/// (for retries and for hashing before sending).</summary>
internal sealed class UploadSource
{
    private UploadSource(string name, long? length, Func<Stream> open, bool reopenable, string? localPath)
    {
        Name = name;
        Length = length;
        Open = open;
        Reopenable = reopenable;
        LocalPath = localPath;
    }

    /// <summary>For progress reports: the local path, or the remote path for streams and bytes.</summary>
    public string Name { get; }

    /// <summary>Bytes the source yields, when known.</summary>
    public long? Length { get; }

    /// <summary>Opens the source at its first byte. The caller disposes what it returns (a caller's stream is
    /// wrapped so that it stays open).</summary>
    public Func<Stream> Open { get; }

    /// <summary>True when <see cref="Open"/> may be called more than once.</summary>
    public bool Reopenable { get; }

    /// <summary>The full path of a local file source (random access, resumable after a crash).</summary>
    public string? LocalPath { get; }

    /// <summary>Set when the source is a local file: its modification time (UTC ticks) when the upload started.</summary>
    public long LastWriteTicks { get; private init; }

    public static UploadSource FromFile(string path)
    {
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"Cannot upload '{path}': no such file.", full);
        }

        return new UploadSource(full, info.Length, () => new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan | FileOptions.Asynchronous), true, full)
        {
            LastWriteTicks = info.LastWriteTimeUtc.Ticks,
        };
    }

    public static UploadSource FromStream(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("The stream to upload must be readable.", nameof(stream));
        }

        if (stream.CanSeek)
        {
            var start = stream.Position;
            return new UploadSource(name, stream.Length - start, () =>
            {
                stream.Position = start;
                return new KeepOpenStream(stream);
            }, true, null);
        }

        var opened = 0;
        return new UploadSource(name, null, () => Interlocked.Exchange(ref opened, 1) == 0
            ? new KeepOpenStream(stream)
            : throw new InvalidOperationException("A non-seekable stream can be sent only once."), false, null);
    }

    public static UploadSource FromBytes(ReadOnlyMemory<byte> bytes, string name) =>
        new(name, bytes.Length, () => new ReadOnlyMemoryStream(bytes), true, null);

    /// <summary>This source, encrypted while read (a fresh random file key per opening).</summary>
    public UploadSource Encrypted(EncryptionKey key) =>
        new(Name, Length is { } plain ? DepotEncryption.CiphertextLength(plain) : null,
            () => DepotEncryption.EncryptingStream(Open(), key, leaveOpen: false), Reopenable, null);

    /// <summary>A stream that forwards reads and does not close the caller's stream.</summary>
    private sealed class KeepOpenStream(Stream inner) : ReadOnlyStream
    {
        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
    }

    /// <summary>Reads a <see cref="ReadOnlyMemory{T}"/> without copying it first.</summary>
    private sealed class ReadOnlyMemoryStream(ReadOnlyMemory<byte> bytes) : ReadOnlyStream
    {
        private int _position;

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(buffer.Length, bytes.Length - _position);
            bytes.Span.Slice(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));
    }
}
