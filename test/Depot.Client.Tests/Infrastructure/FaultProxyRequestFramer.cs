using System.Globalization;
using System.Text;

namespace Depot.Client.Tests.Infrastructure;

/// <summary>
/// Follows HTTP/1.1 request framing in a client's byte stream without changing it, so that <see cref="FaultProxy"/>
/// knows where each request starts (to answer 503 on a live keep-alive connection).
/// </summary>
/// <remarks>
/// Understands request heads, <c>Content-Length</c> bodies and chunked bodies (with trailers); a request without
/// either has no body (RFC 9112 §6.3). After a <c>CONNECT</c>, an <c>Upgrade</c>, an unknown transfer coding, a head
/// over 64 KiB or anything that is not an HTTP/1.x request line it gives up for good (<see cref="IsOpaque"/>): the
/// rest of the stream is opaque bytes. Empty lines before a request line are skipped, as servers do.
/// </remarks>
internal sealed class FaultProxyRequestFramer
{
    private const int MaxHeadBytes = 64 * 1024;
    private const int MaxLineBytes = 8 * 1024;

    private State _state = State.AwaitingRequest;
    private byte[] _head = new byte[512];
    private int _headLength;
    private int _terminator;
    private long _remaining;
    private long _chunkSize;
    private int _chunkDigits;
    private bool _chunkSizeEnded;
    private int _lineLength;
    private bool _lineHasContent;
    private bool _lineEnded;

    private enum State
    {
        AwaitingRequest,
        Head,
        Body,
        ChunkSize,
        ChunkData,
        ChunkDataEnd,
        Trailers,
        Opaque,
    }

    /// <summary>True between requests: the next byte starts a new request. Call <see cref="BeginRequest"/> before
    /// <see cref="Advance"/> consumes it.</summary>
    public bool AwaitingRequest => _state == State.AwaitingRequest;

    /// <summary>True once the stream could not be followed; from then on everything is passed as is.</summary>
    public bool IsOpaque => _state == State.Opaque;

    /// <summary>Requests begun so far.</summary>
    public long RequestsStarted { get; private set; }

    /// <summary>Requests whose head and body were seen completely.</summary>
    public long RequestsCompleted { get; private set; }

    /// <summary>Starts following a new request at the next byte.</summary>
    public void BeginRequest()
    {
        if (_state != State.AwaitingRequest)
        {
            throw new InvalidOperationException("A request is still in progress.");
        }

        _state = State.Head;
        _headLength = 0;
        _terminator = 0;
        RequestsStarted++;
    }

    /// <summary>Consumes bytes of <paramref name="data"/> in order and returns how many: all of them, or fewer when a
    /// request ends inside <paramref name="data"/> (then <see cref="AwaitingRequest"/> is true and the next byte is
    /// the next request's first). Returns 0 only when <see cref="AwaitingRequest"/> was already true.</summary>
    public int Advance(ReadOnlySpan<byte> data)
    {
        var consumed = 0;
        while (consumed < data.Length)
        {
            var rest = data[consumed..];
            switch (_state)
            {
                case State.AwaitingRequest:
                    return consumed;
                case State.Opaque:
                    return data.Length;
                case State.Head:
                    consumed += ConsumeHead(rest);
                    break;
                case State.Body:
                case State.ChunkData:
                    var take = (int)Math.Min(_remaining, rest.Length);
                    _remaining -= take;
                    consumed += take;
                    if (_remaining == 0)
                    {
                        if (_state == State.Body)
                        {
                            CompleteRequest();
                        }
                        else
                        {
                            _state = State.ChunkDataEnd;
                            StartLine();
                        }
                    }

                    break;
                case State.ChunkSize:
                    consumed += ConsumeChunkSize(rest);
                    break;
                case State.ChunkDataEnd:
                    consumed += ConsumeLine(rest);
                    if (_state == State.ChunkDataEnd && _lineEnded)
                    {
                        StartChunkSize();
                    }

                    break;
                case State.Trailers:
                    consumed += ConsumeLine(rest);
                    if (_state == State.Trailers && _lineEnded)
                    {
                        if (_lineHasContent)
                        {
                            StartLine(); // A trailer field: the section goes on.
                        }
                        else
                        {
                            CompleteRequest();
                        }
                    }

                    break;
                default:
                    throw new InvalidOperationException(_state.ToString());
            }
        }

        return consumed;
    }

    private static bool IsToken(string value)
    {
        if (value.Length == 0)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    private void CompleteRequest()
    {
        _state = State.AwaitingRequest;
        RequestsCompleted++;
    }

    private void StartChunkSize()
    {
        _state = State.ChunkSize;
        _chunkSize = 0;
        _chunkDigits = 0;
        _chunkSizeEnded = false;
        _lineLength = 0;
    }

    private void StartLine()
    {
        _lineLength = 0;
        _lineHasContent = false;
        _lineEnded = false;
    }

    /// <summary>Consumes up to and including a line feed; sets <see cref="_lineEnded"/> when it was reached and
    /// <see cref="_lineHasContent"/> when the line held anything but CRs.</summary>
    private int ConsumeLine(ReadOnlySpan<byte> data)
    {
        var end = data.IndexOf((byte)'\n');
        var content = end < 0 ? data : data[..end];
        _lineLength += content.Length;
        if (_lineLength > MaxLineBytes)
        {
            _state = State.Opaque;
            return data.Length;
        }

        if (content.IndexOfAnyExcept((byte)'\r') >= 0)
        {
            _lineHasContent = true;
        }

        if (end < 0)
        {
            return data.Length;
        }

        _lineEnded = true;
        return end + 1;
    }

    private int ConsumeChunkSize(ReadOnlySpan<byte> data)
    {
        for (var i = 0; i < data.Length; i++)
        {
            var b = data[i];
            if (b == '\n')
            {
                if (_chunkDigits == 0)
                {
                    _state = State.Opaque;
                    return data.Length;
                }

                if (_chunkSize == 0)
                {
                    _state = State.Trailers;
                    StartLine();
                }
                else
                {
                    _state = State.ChunkData;
                    _remaining = _chunkSize;
                }

                return i + 1;
            }

            if (++_lineLength > MaxLineBytes)
            {
                _state = State.Opaque;
                return data.Length;
            }

            var digit = HexValue(b);
            if (digit >= 0 && !_chunkSizeEnded)
            {
                if (_chunkSize > (long.MaxValue >> 4))
                {
                    _state = State.Opaque;
                    return data.Length;
                }

                _chunkSize = (_chunkSize << 4) | (uint)digit;
                _chunkDigits++;
            }
            else
            {
                _chunkSizeEnded = true; // Extensions, whitespace, CR: ignored up to the line feed.
            }
        }

        return data.Length;
    }

    private int ConsumeHead(ReadOnlySpan<byte> data)
    {
        var skipped = 0;
        if (_headLength == 0)
        {
            // Empty lines before the request line are ignored (RFC 9112 §2.2).
            while (skipped < data.Length && data[skipped] is (byte)'\r' or (byte)'\n')
            {
                skipped++;
            }

            if (skipped == data.Length)
            {
                return skipped;
            }

            data = data[skipped..];
        }

        var length = data.Length;
        var complete = false;
        for (var i = 0; i < data.Length; i++)
        {
            _terminator = (data[i], _terminator) switch
            {
                ((byte)'\n', 1 or 3) => 4,
                ((byte)'\n', _) => 1,
                ((byte)'\r', 1 or 3) => 3,
                _ => 0,
            };
            if (_terminator == 4)
            {
                length = i + 1;
                complete = true;
                break;
            }
        }

        if (_headLength + length > MaxHeadBytes)
        {
            _state = State.Opaque;
            return skipped + data.Length;
        }

        if (_head.Length < _headLength + length)
        {
            Array.Resize(ref _head, Math.Min(MaxHeadBytes, Math.Max(_head.Length * 2, _headLength + length)));
        }

        data[..length].CopyTo(_head.AsSpan(_headLength));
        _headLength += length;
        if (complete)
        {
            OnHead(Encoding.Latin1.GetString(_head, 0, _headLength));
        }

        return skipped + length;
    }

    private void OnHead(string head)
    {
        var lines = head.Split('\n');
        var requestLine = lines[0].TrimEnd('\r').Split(' ');
        if (requestLine.Length != 3 || !IsToken(requestLine[0]) || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal)
            || requestLine[0] == "CONNECT")
        {
            _state = State.Opaque;
            return;
        }

        long? contentLength = null;
        string? transferEncoding = null;
        foreach (var raw in lines.AsSpan(1))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                break;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                _state = State.Opaque;
                return;
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)
                    || (contentLength is { } earlier && earlier != parsed))
                {
                    _state = State.Opaque;
                    return;
                }

                contentLength = parsed;
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                transferEncoding = transferEncoding is null ? value : transferEncoding + "," + value;
            }
            else if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
            {
                _state = State.Opaque; // Whether the server switches protocols is in its answer, which we do not follow.
                return;
            }
        }

        if (transferEncoding is not null)
        {
            var codings = transferEncoding.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (codings.Length == 0 || !codings[^1].Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                _state = State.Opaque;
                return;
            }

            StartChunkSize();
        }
        else if (contentLength is > 0)
        {
            _state = State.Body;
            _remaining = contentLength.Value;
        }
        else
        {
            CompleteRequest();
        }
    }
}
