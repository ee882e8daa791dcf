using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Depot.Client.Tests.Infrastructure;

/// <summary>How a connection ended, as one side of it saw.</summary>
public enum FaultProxyTestEnding
{
    /// <summary>The peer closed gracefully (FIN: a read returned 0).</summary>
    EndOfStream,

    /// <summary>The peer reset the connection (RST).</summary>
    Reset,

    /// <summary>Some other socket error, or our own side was closed.</summary>
    Other,
}

/// <summary>Everything one side read from a connection until it ended, and how it ended.</summary>
internal sealed record FaultProxyTestReceived(byte[] Data, FaultProxyTestEnding Ending);

/// <summary>
/// A tiny loopback TCP server that <see cref="FaultProxy"/>'s own tests put behind the proxy: an echo, a sink that
/// records what it receives, a source that sends a payload, or a minimal HTTP/1.1 keep-alive server.
/// </summary>
internal sealed class FaultProxyTestTarget : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<FaultProxyTestTarget, Socket, CancellationToken, Task> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, Task> _handlers = new();
    private readonly Channel<FaultProxyTestReceived> _received = Channel.CreateUnbounded<FaultProxyTestReceived>();
    private readonly Task _acceptLoop;
    private long _bytesReceived;
    private int _connectionsAccepted;
    private int _requestsServed;

    private FaultProxyTestTarget(Func<FaultProxyTestTarget, Socket, CancellationToken, Task> handler)
    {
        _handler = handler;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        Url = new Uri($"http://127.0.0.1:{EndPoint.Port.ToString(CultureInfo.InvariantCulture)}/");
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public IPEndPoint EndPoint { get; }

    public Uri Url { get; }

    public int ConnectionsAccepted => Volatile.Read(ref _connectionsAccepted);

    /// <summary>Bytes read so far over all connections (sink and echo).</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>HTTP requests answered so far (HTTP target).</summary>
    public int RequestsServed => Volatile.Read(ref _requestsServed);

    /// <summary>Sends back everything it reads; half-closes when the client does.</summary>
    public static FaultProxyTestTarget Echo() => new(static async (target, socket, ct) =>
    {
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
        {
            Interlocked.Add(ref target._bytesReceived, read);
            await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, ct);
        }

        socket.Shutdown(SocketShutdown.Send);
    });

    /// <summary>Reads until the connection ends and publishes what it read (<see cref="NextReceivedAsync"/>).</summary>
    public static FaultProxyTestTarget Sink() => new(static async (target, socket, ct) =>
    {
        var received = await ReadToEndAsync(socket, read => Interlocked.Add(ref target._bytesReceived, read), ct);
        await target._received.Writer.WriteAsync(received, ct);
    });

    /// <summary>Sends <paramref name="payload"/> to every connection, then closes gracefully.</summary>
    public static FaultProxyTestTarget Source(byte[] payload) => new(async (_, socket, ct) =>
    {
        try
        {
            await socket.SendAsync(payload, SocketFlags.None, ct);
            socket.Shutdown(SocketShutdown.Send);
            await ReadToEndAsync(socket, null, ct); // Until the client closes: closing first could reset.
        }
        catch (SocketException)
        {
            // The proxy dropped the connection: expected in these tests.
        }
    });

    /// <summary>An HTTP/1.1 keep-alive server: answers every request (Content-Length or chunked body) with 200 and
    /// <c>ok {n}</c>, n counting requests over all connections.</summary>
    public static FaultProxyTestTarget Http() => new(static async (target, socket, ct) =>
    {
        var reader = new FaultProxyTestLineReader(socket);
        while (true)
        {
            var requestLine = await reader.ReadLineAsync(ct);
            if (requestLine is null)
            {
                return;
            }

            long contentLength = 0;
            var chunked = false;
            var close = false;
            string? line;
            while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync(ct)))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                var name = line[..colon].Trim();
                var value = line[(colon + 1)..].Trim();
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    contentLength = long.Parse(value, CultureInfo.InvariantCulture);
                }
                else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                {
                    chunked = value.EndsWith("chunked", StringComparison.OrdinalIgnoreCase);
                }
                else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
                {
                    close = value.Equals("close", StringComparison.OrdinalIgnoreCase);
                }
            }

            if (line is null)
            {
                return;
            }

            if (chunked)
            {
                long size;
                do
                {
                    var sizeLine = await reader.ReadLineAsync(ct) ?? throw new IOException("Chunked body ended early.");
                    size = long.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
                    await reader.SkipAsync(size, ct);
                    if (size > 0)
                    {
                        await reader.ReadLineAsync(ct);
                    }
                }
                while (size > 0);

                while (!string.IsNullOrEmpty(await reader.ReadLineAsync(ct)))
                {
                    // Trailer fields.
                }
            }
            else
            {
                await reader.SkipAsync(contentLength, ct);
            }

            var n = Interlocked.Increment(ref target._requestsServed);
            var body = "ok " + n.ToString(CultureInfo.InvariantCulture);
            var response = $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length.ToString(CultureInfo.InvariantCulture)}\r\n\r\n{body}";
            await socket.SendAsync(Encoding.ASCII.GetBytes(response), SocketFlags.None, ct);
            if (close)
            {
                socket.Shutdown(SocketShutdown.Send);
                await ReadToEndAsync(socket, null, ct);
                return;
            }
        }
    });

    /// <summary>Reads until end of stream, reset or error.</summary>
    public static async Task<FaultProxyTestReceived> ReadToEndAsync(Socket socket, Action<int>? onRead, CancellationToken cancellationToken)
    {
        var data = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken)) > 0)
            {
                data.Write(buffer, 0, read);
                onRead?.Invoke(read);
            }

            return new FaultProxyTestReceived(data.ToArray(), FaultProxyTestEnding.EndOfStream);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset)
        {
            return new FaultProxyTestReceived(data.ToArray(), FaultProxyTestEnding.Reset);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return new FaultProxyTestReceived(data.ToArray(), FaultProxyTestEnding.Other);
        }
    }

    /// <summary>The next connection a sink target finished reading, in the order they ended.</summary>
    public async Task<FaultProxyTestReceived> NextReceivedAsync(CancellationToken cancellationToken) =>
        await _received.Reader.ReadAsync(cancellationToken);

    /// <summary>Whether a sink target has finished reading some connection.</summary>
    public bool TryGetReceived(out FaultProxyTestReceived? received) => _received.Reader.TryRead(out received);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        foreach (var socket in _handlers.Keys)
        {
            socket.Dispose();
        }

        await Task.WhenAll(_handlers.Values);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            Interlocked.Increment(ref _connectionsAccepted);
            var gate = new TaskCompletionSource();
            _handlers[socket] = gate.Task;
            _ = RunAsync(socket, gate);
        }
    }

    private async Task RunAsync(Socket socket, TaskCompletionSource done)
    {
        try
        {
            await _handler(this, socket, _stop.Token);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            // The proxy under test drops connections on purpose.
        }
        finally
        {
            socket.Dispose();
            done.SetResult();
        }
    }
}

/// <summary>Reads CRLF lines and skips bytes over a socket, for the HTTP test target.</summary>
internal sealed class FaultProxyTestLineReader(Socket socket)
{
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    /// <summary>The next line without its CRLF, or null at end of stream.</summary>
    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        while (true)
        {
            if (_start == _end && !await FillAsync(cancellationToken))
            {
                return null;
            }

            var span = _buffer.AsSpan(_start, _end - _start);
            var lf = span.IndexOf((byte)'\n');
            if (lf < 0)
            {
                line.Append(Encoding.Latin1.GetString(span));
                _start = _end;
                continue;
            }

            line.Append(Encoding.Latin1.GetString(span[..lf]));
            _start += lf + 1;
            return line.ToString().TrimEnd('\r');
        }
    }

    public async Task SkipAsync(long count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            if (_start == _end && !await FillAsync(cancellationToken))
            {
                throw new IOException("The body ended early.");
            }

            var take = (int)Math.Min(count, _end - _start);
            _start += take;
            count -= take;
        }
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        _start = 0;
        _end = await socket.ReceiveAsync(_buffer, SocketFlags.None, cancellationToken);
        return _end > 0;
    }
}
