using System.Globalization;
using System.Net;
using Depot.Client.Transfers;
using Depot.Client.Transport;

namespace Depot.Client;

/// <summary>Options of <see cref="DepotClient.OpenReadAsync"/>.</summary>
public sealed class RemoteStreamOptions
{
    /// <summary>The largest ranged GET the stream makes while reading forward. Reads start small and double while
    /// they stay sequential, up to this. Default 8 MiB.</summary>
    public int MaxReadAhead { get; set; } = 8 * 1024 * 1024;

    /// <summary>Decrypt an object encrypted by <see cref="UploadOptions.Encryption"/>; positions and length then
    /// count plaintext bytes.</summary>
    public EncryptionKey? Encryption { get; set; }
}

/// <summary>
/// A seekable, read-only view of one version of a remote object over ranged GETs, with read-ahead (Remofile's direct
/// remote file I/O). Every request is pinned to the ETag seen at opening: if the object is replaced, the next fetch
/// fails with <see cref="ConflictException"/> instead of mixing versions.
/// </summary>
/// <remarks>Not thread-safe (like <see cref="FileStream"/>); dispose it when done.</remarks>
public sealed class RemoteReadStream : Stream
{
    private const int MinReadAhead = 256 * 1024;
    private readonly DepotClient _client;
    private readonly DepotPath _path;
    private readonly int _maxReadAhead;
    private byte[] _window = [];
    private long _windowStart;
    private int _windowLength;
    private int _readAhead = MinReadAhead;
    private long _position;
    private long _lastFetchEnd = -1;
    private readonly EncryptionKey? _key;
    private byte[]? _header;

    private RemoteReadStream(DepotClient client, DepotPath path, DepotObject described, int maxReadAhead, EncryptionKey? key)
    {
        _client = client;
        _path = path;
        Object = described;
        _maxReadAhead = Math.Max(MinReadAhead, maxReadAhead);
        _key = key;
        Length = key is null ? described.Size : DepotEncryption.PlaintextLength(described.Size);
    }

    /// <summary>The object this stream reads (the version seen when it was opened).</summary>
    public DepotObject Object { get; }

    /// <summary>Ranged requests made so far.</summary>
    public int Requests { get; private set; }

    internal static async Task<RemoteReadStream> OpenAsync(DepotClient client, DepotPath path, RemoteStreamOptions options, CancellationToken cancellationToken)
    {
        var request = new DepotRequest(HttpMethod.Head, DepotClient.ObjectPath(path), $"open {path}") { Idempotent = true };
        using var response = await client.Transport.SendCheckedAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.Headers.TryGetValues(Depot.Protocol.DepotHeaders.EntryType, out var types) && types.FirstOrDefault() == "directory")
        {
            throw new ConflictException(Depot.Core.Errors.ErrorCodes.Conflict, $"open {path}: it is a directory.");
        }

        var stream = new RemoteReadStream(client, path, ResumableDownload.Describe(response, path), options.MaxReadAhead, options.Encryption);
        if (stream._key is not null)
        {
            // The header proves the key before any read, and every later read needs it.
            stream._header = await stream.FetchCiphertextAsync(0, DepotEncryption.HeaderLength, cancellationToken).ConfigureAwait(false);
            _ = DepotEncryption.DecryptRange(stream._header, [], DepotEncryption.HeaderLength, stream.Length, stream._key, 0, 0);
        }

        return stream;
    }

    /// <summary>Bytes readable: the object's size, or its plaintext size when it is decrypted.</summary>
    public override long Length { get; }

    /// <inheritdoc />
    public override long Position
    {
        get => _position;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _position = value;
        }
    }

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => true;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position >= Length || buffer.Length == 0)
        {
            return 0;
        }

        if (_position < _windowStart || _position >= _windowStart + _windowLength)
        {
            await FetchAsync(_position, buffer.Length, cancellationToken).ConfigureAwait(false);
        }

        var offset = (int)(_position - _windowStart);
        var count = Math.Min(buffer.Length, _windowLength - offset);
        _window.AsMemory(offset, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    /// <summary>Reads bytes at <paramref name="position"/> without moving <see cref="Position"/>.</summary>
    internal async Task<int> ReadAtAsync(long position, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var saved = _position;
        _position = position;
        try
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var read = await ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }
        finally
        {
            _position = saved;
        }
    }

    private async Task FetchAsync(long start, int wanted, CancellationToken cancellationToken)
    {
        // Sequential reading grows the window; a jump starts small again.
        _readAhead = start == _lastFetchEnd ? Math.Min(_maxReadAhead, _readAhead * 2) : MinReadAhead;
        var length = (int)Math.Min(Math.Max(wanted, _readAhead), Length - start);
        if (_key is null)
        {
            _window = await FetchCiphertextAsync(start, length, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var (offset, count) = DepotEncryption.CiphertextRangeFor(start, length, Length);
            var chunks = await FetchCiphertextAsync(offset, (int)count, cancellationToken).ConfigureAwait(false);
            _window = DepotEncryption.DecryptRange(_header, chunks, offset, Length, _key, start, length);
        }

        _windowStart = start;
        _windowLength = length;
        _lastFetchEnd = start + length;
    }

    /// <summary>Fetches stored bytes [start, start + length) of the pinned version.</summary>
    private async Task<byte[]> FetchCiphertextAsync(long start, int length, CancellationToken cancellationToken)
    {
        var bytes = new byte[length];
        if (length == 0)
        {
            return bytes;
        }

        var last = start + length - 1;
        var request = new DepotRequest(HttpMethod.Get, DepotClient.ObjectPath(_path), $"read {_path} at {start}")
        {
            Idempotent = true,
            Headers = m =>
            {
                m.Headers.TryAddWithoutValidation("Range", $"bytes={start.ToString(CultureInfo.InvariantCulture)}-{last.ToString(CultureInfo.InvariantCulture)}");
                if (Object.ETag is { } etag)
                {
                    m.Headers.TryAddWithoutValidation("If-Match", etag);
                }
            },
        };
        Requests++;
        HttpResponseMessage response;
        try
        {
            response = await _client.Transport.SendCheckedAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (PreconditionFailedException e)
        {
            throw new ConflictException(Depot.Core.Errors.ErrorCodes.Conflict,
                $"read {_path}: the object was replaced after it was opened (ETag now {e.CurrentETag}). Open it again.");
        }

        using (response)
        {
            if (response.StatusCode != HttpStatusCode.PartialContent && !(start == 0 && length == Object.Size))
            {
                throw new DepotException(ClientErrorCodes.Protocol, response.StatusCode, $"read {_path}: the server ignored the byte range.");
            }

            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var filled = 0;
                while (filled < length)
                {
                    var read = await body.ReadAsync(bytes.AsMemory(filled, length - filled), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new DepotUnavailableException(ClientErrorCodes.Network, 0, $"read {_path}: the connection closed early; read again.");
                    }

                    filled += read;
                }
            }
        }

        return bytes;
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return _position;
    }

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException("A remote read stream is read-only.");

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("A remote read stream is read-only.");
}
