using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Depot.Client.Tests.Infrastructure;

/// <summary>Which way bytes travel through a <see cref="FaultProxy"/>.</summary>
public enum ProxyDirection
{
    /// <summary>Client to server: request heads and bodies.</summary>
    Upload,

    /// <summary>Server to client: responses.</summary>
    Download,
}

/// <summary>How a <see cref="FaultProxy"/> ends a connection it drops or refuses.</summary>
public enum DropMode
{
    /// <summary>Abortive close: both peers get a TCP RST ("connection reset by peer").</summary>
    Reset,

    /// <summary>Graceful close: both peers get a FIN (end of stream, "response ended prematurely"). The proxy then
    /// discards whatever the peers still send until they close too, so that its own close cannot turn into a RST.</summary>
    Fin,
}

/// <summary>The faults a <see cref="FaultProxy"/> counts (see <see cref="FaultProxy.FaultsInjected"/>).</summary>
public enum FaultKind
{
    /// <summary>A connection ended by a <see cref="FaultProxy.DropAfter"/> rule or by <see cref="FaultProxy.DisconnectAll"/>.</summary>
    Drop,

    /// <summary>A connection direction held by a <see cref="FaultProxy.Stall"/> rule.</summary>
    Stall,

    /// <summary>A request answered with 503 by <see cref="FaultProxy.FailWith503"/>.</summary>
    ServiceUnavailable,

    /// <summary>An accepted connection closed at once by <see cref="FaultProxy.RefuseConnections"/>.</summary>
    Refuse,

    /// <summary>A connection direction slowed by a <see cref="FaultProxy.Throttle"/> rule (counted once per connection
    /// direction and rule).</summary>
    Throttle,
}

/// <summary>
/// A fault-injecting TCP proxy for resilience tests: it listens on <c>127.0.0.1</c> (an ephemeral port), forwards
/// every accepted connection byte for byte to a target (a real Depot server on loopback) and, on request, drops,
/// stalls, throttles, refuses or answers 503 instead of forwarding. Point the client at <see cref="Url"/>.
/// </summary>
/// <remarks>
/// <para>Rules are set with the fluent methods (<see cref="DropAfter"/>, <see cref="Stall"/>, <see cref="Throttle"/>,
/// <see cref="FailWith503"/>, <see cref="RefuseConnections"/>) at any time from any thread. Each call replaces the
/// previous rule of the same kind (and direction); <see cref="Reset"/> clears everything.</para>
/// <para>Byte rules (drop, stall, throttle) apply to new connections and to live ones: a rule takes hold of a
/// connection direction at the first byte that direction moves after the rule was set, and its byte count starts
/// there (for a new connection: at the connection's first byte). A drop or stall with <c>connections: K</c> fires
/// for the first K connections that reach the threshold; later ones pass untouched. Positions are exact: a drop at
/// byte N forwards exactly N bytes and then closes.</para>
/// <para>503 answers apply to the next requests: a new connection is answered without contacting the target, and a
/// live keep-alive connection is answered at its next request boundary (the proxy follows HTTP/1.1 request framing
/// in the upload direction: <c>Content-Length</c> and chunked bodies; after a <c>CONNECT</c>, an <c>Upgrade</c> or
/// bytes that are not HTTP/1.x it stops following and that connection is never answered 503).</para>
/// <para>Counters (<see cref="ConnectionsAccepted"/>, <see cref="BytesUploaded"/>, <see cref="FaultsInjected"/>, ...)
/// are updated before the bytes or the fault reach a peer, so once a peer has observed something the counter shows
/// it. <see cref="WaitUntilAsync"/> waits for a counter condition without polling.</para>
/// </remarks>
public sealed class FaultProxy : IAsyncDisposable
{
    /// <summary>The body of every 503 answer (RFC 9457 problem, Depot's <c>unavailable</c> code).</summary>
    public const string UnavailableBody = """{"type":"about:blank","title":"Unavailable","status":503,"code":"unavailable"}""";

    private const int BufferSize = 64 * 1024;
    private const int MaxRequestHeadBytes = 64 * 1024;
    private static readonly TimeSpan DefaultWaitTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RequestHeadTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SendQueueTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly ConcurrentDictionary<long, Connection> _connections = new();
    private readonly List<Task> _acceptLoops = [];
    private readonly long[] _bytes = new long[2];
    private readonly long[] _faults = new long[5];
    private readonly string _scheme;
    private volatile RuleSet _rules = RuleSet.Empty;
    private Socket? _listener;
    private TaskCompletionSource? _changed;
    private long _accepted;
    private long _connectFailures;
    private long _nextConnectionId;
    private bool _disposed;

    private FaultProxy(EndPoint target, string scheme)
    {
        Target = target;
        _scheme = scheme;
        _listener = Listen(0);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        Url = new UriBuilder(scheme, "127.0.0.1", Port).Uri;
        _acceptLoops.Add(Task.Run(() => AcceptLoopAsync(_listener)));
    }

    /// <summary>Where the proxy forwards connections.</summary>
    public EndPoint Target { get; }

    /// <summary>The proxy's base address, e.g. <c>http://127.0.0.1:41234/</c> (the target's scheme; with
    /// <c>https</c> the certificate will not match 127.0.0.1).</summary>
    public Uri Url { get; }

    /// <summary>The port the proxy listens on; it stays the same across <see cref="StopListening"/> and
    /// <see cref="ResumeListening"/>.</summary>
    public int Port { get; }

    /// <summary>Whether the proxy accepts connections (false after <see cref="StopListening"/>).</summary>
    public bool IsListening
    {
        get
        {
            lock (_gate)
            {
                return _listener is not null;
            }
        }
    }

    /// <summary>Connections accepted so far, including refused and 503-answered ones.</summary>
    public long ConnectionsAccepted => Interlocked.Read(ref _accepted);

    /// <summary>Connections currently open (accepted and not yet fully closed).</summary>
    public int ActiveConnections => _connections.Count;

    /// <summary>Bytes forwarded client → server (handed to the target's socket), over all connections.</summary>
    public long BytesUploaded => BytesForwarded(ProxyDirection.Upload);

    /// <summary>Bytes forwarded server → client, over all connections.</summary>
    public long BytesDownloaded => BytesForwarded(ProxyDirection.Download);

    /// <summary>503 answers sent so far (same as <c>FaultsInjected(FaultKind.ServiceUnavailable)</c>).</summary>
    public long ServiceUnavailableSent => FaultsInjected(FaultKind.ServiceUnavailable);

    /// <summary>Accepted connections whose connection to the target failed (they were reset).</summary>
    public long TargetConnectFailures => Interlocked.Read(ref _connectFailures);

    /// <summary>Starts a proxy to the host and port of <paramref name="target"/> (its path is ignored).</summary>
    public static Task<FaultProxy> StartAsync(Uri target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.IsAbsoluteUri)
        {
            throw new ArgumentException("The target must be an absolute URI.", nameof(target));
        }

        EndPoint endPoint = IPAddress.TryParse(target.DnsSafeHost, out var address)
            ? new IPEndPoint(address, target.Port)
            : new DnsEndPoint(target.DnsSafeHost, target.Port);
        return Task.FromResult(new FaultProxy(endPoint, target.Scheme));
    }

    /// <summary>Starts a proxy to <paramref name="target"/>; <see cref="Url"/> uses <paramref name="scheme"/>.</summary>
    public static Task<FaultProxy> StartAsync(EndPoint target, string scheme = "http")
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        return Task.FromResult(new FaultProxy(target, scheme));
    }

    /// <summary>Bytes forwarded in <paramref name="direction"/> so far, over all connections.</summary>
    public long BytesForwarded(ProxyDirection direction) => Interlocked.Read(ref _bytes[(int)direction]);

    /// <summary>How many faults of <paramref name="kind"/> the proxy has injected so far.</summary>
    public long FaultsInjected(FaultKind kind) => Interlocked.Read(ref _faults[(int)kind]);

    /// <summary>Drops connections after exactly <paramref name="bytes"/> bytes in <paramref name="direction"/>: those
    /// bytes are forwarded, then both peers get a RST or a FIN (<paramref name="mode"/>).</summary>
    /// <param name="bytes">Bytes to forward before dropping, counted from the first byte after the rule takes hold
    /// (0 drops at the first byte, which is not forwarded).</param>
    /// <param name="connections">Drop only the first K connections that reach the threshold, then pass everything
    /// (null: every connection).</param>
    /// <example><c>proxy.DropAfter(ProxyDirection.Upload, 1 &lt;&lt; 20, connections: 2)</c>: the first two connections
    /// die after 1 MiB uploaded.</example>
    public FaultProxy DropAfter(ProxyDirection direction, long bytes, int? connections = null, DropMode mode = DropMode.Reset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ThrowIfNotPositive(connections);
        var rule = new DropRule(bytes, connections, mode);
        Update(rules => rules.With(direction, rules.For(direction) with { Drop = rule }));
        return this;
    }

    /// <summary>Stops forwarding in <paramref name="direction"/> after <paramref name="afterBytes"/> bytes, without
    /// closing: the connection stays open and the sender's data piles up in the socket buffers until the stall ends.</summary>
    /// <param name="afterBytes">Bytes to forward before holding, counted like <see cref="DropAfter"/>.</param>
    /// <param name="duration">How long each connection is held; null holds until <see cref="ReleaseStalls"/>,
    /// <see cref="Reset"/>, a new <see cref="Stall"/> rule for that direction, or disposal.</param>
    /// <param name="connections">Hold only the first K connections that reach the threshold (null: every one).</param>
    /// <remarks>Each connection direction is held at most once per rule.</remarks>
    public FaultProxy Stall(ProxyDirection direction, long afterBytes, TimeSpan? duration = null, int? connections = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterBytes);
        if (duration is { } d)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(d, TimeSpan.Zero, nameof(duration));
        }

        ThrowIfNotPositive(connections);
        var rule = new StallRule(afterBytes, duration, connections);
        Update(rules => rules.With(direction, rules.For(direction) with { Stall = rule }));
        return this;
    }

    /// <summary>Releases every held connection and removes the stall rules (both directions).</summary>
    public void ReleaseStalls() =>
        Update(rules => rules.With(ProxyDirection.Upload, rules.Upload with { Stall = null })
            .With(ProxyDirection.Download, rules.Download with { Stall = null }));

    /// <summary>Limits every connection to <paramref name="bytesPerSecond"/> in <paramref name="direction"/> (per
    /// connection, not shared). Applies to live connections too.</summary>
    public FaultProxy Throttle(ProxyDirection direction, long bytesPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerSecond);
        var rule = new ThrottleRule(bytesPerSecond);
        Update(rules => rules.With(direction, rules.For(direction) with { Throttle = rule }));
        return this;
    }

    /// <summary>Answers the next <paramref name="count"/> requests with a complete
    /// <c>HTTP/1.1 503 Service Unavailable</c> (<c>application/problem+json</c>, <see cref="UnavailableBody"/>,
    /// <c>Content-Length</c>, <c>Connection: close</c>) instead of forwarding them, then closes that connection.</summary>
    /// <param name="retryAfter">When set, the answers carry <c>Retry-After</c> with this many whole seconds.</param>
    /// <remarks>A new connection is answered without contacting the target; a live keep-alive connection is answered
    /// at its next request (the target's side of it is closed at that request boundary).</remarks>
    public FaultProxy FailWith503(int count = 1, TimeSpan? retryAfter = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var rule = new UnavailableRule(count, retryAfter);
        Update(rules => rules with { Unavailable = rule });
        return this;
    }

    /// <summary>Closes accepted connections at once, without contacting the target (a server that accepts but dies).
    /// For "nothing listens at all" (connection refused) use <see cref="StopListening"/>.</summary>
    /// <param name="count">Refuse only the next K connections (null: all until <see cref="Reset"/>).</param>
    public FaultProxy RefuseConnections(int? count = null, DropMode mode = DropMode.Reset)
    {
        ThrowIfNotPositive(count);
        var rule = new RefuseRule(count, mode);
        Update(rules => rules with { Refuse = rule });
        return this;
    }

    /// <summary>Removes the rules of one kind (both directions); removing stalls releases held connections.</summary>
    public void Clear(FaultKind kind) =>
        Update(rules => kind switch
        {
            FaultKind.Drop => rules.With(ProxyDirection.Upload, rules.Upload with { Drop = null })
                .With(ProxyDirection.Download, rules.Download with { Drop = null }),
            FaultKind.Stall => rules.With(ProxyDirection.Upload, rules.Upload with { Stall = null })
                .With(ProxyDirection.Download, rules.Download with { Stall = null }),
            FaultKind.Throttle => rules.With(ProxyDirection.Upload, rules.Upload with { Throttle = null })
                .With(ProxyDirection.Download, rules.Download with { Throttle = null }),
            FaultKind.ServiceUnavailable => rules with { Unavailable = null },
            FaultKind.Refuse => rules with { Refuse = null },
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        });

    /// <summary>Back to a plain pass-through: removes every rule, releases held connections and resumes listening.
    /// Live connections stay open; counters are kept.</summary>
    public void Reset()
    {
        Update(_ => RuleSet.Empty);
        ResumeListening();
    }

    /// <summary>Ends every live connection now (both peers see a RST, or a FIN with <see cref="DropMode.Fin"/>);
    /// counted as <see cref="FaultKind.Drop"/> per connection. Useful to push a client off its pooled keep-alive
    /// connections. Does not wait; see <see cref="WaitUntilAsync"/> with <see cref="ActiveConnections"/>.</summary>
    public void DisconnectAll(DropMode mode = DropMode.Reset)
    {
        foreach (var connection in _connections.Values)
        {
            connection.Drop(mode);
        }
    }

    /// <summary>Closes the listening socket: new connection attempts are refused by the OS (ECONNREFUSED), live
    /// connections are left alone. <see cref="ResumeListening"/> listens on the same <see cref="Port"/> again.</summary>
    public void StopListening()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _listener?.Dispose();
            _listener = null;
        }
    }

    /// <summary>Listens again on the same <see cref="Port"/> (no-op when listening).</summary>
    /// <exception cref="SocketException">Another process bound the port while the proxy was not listening. The
    /// listener uses SO_REUSEADDR, so the proxy's own lingering connections (TIME_WAIT or still open) do not block
    /// the port; a stranger taking an ephemeral port in that window is possible but unlikely.</exception>
    public void ResumeListening()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_listener is not null)
            {
                return;
            }

            var listener = Listen(Port);
            _listener = listener;
            _acceptLoops.RemoveAll(t => t.IsCompleted);
            _acceptLoops.Add(Task.Run(() => AcceptLoopAsync(listener)));
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds, re-checking whenever a counter changes (no polling).</summary>
    /// <param name="timeout">Default 30 s; then a <see cref="TimeoutException"/> describes the proxy's state.</param>
    public async Task WaitUntilAsync(Func<FaultProxy, bool> condition, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? DefaultWaitTimeout);
        while (true)
        {
            var signal = Volatile.Read(ref _changed);
            if (signal is null)
            {
                var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                signal = Interlocked.CompareExchange(ref _changed, fresh, null) ?? fresh;
            }

            if (condition(this))
            {
                return;
            }

            try
            {
                await signal.Task.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"The condition did not hold within {timeout ?? DefaultWaitTimeout}: {this}");
            }
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> faults of <paramref name="kind"/> were injected in total.</summary>
    public Task WaitForFaultsAsync(FaultKind kind, long count = 1, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        WaitUntilAsync(p => p.FaultsInjected(kind) >= count, timeout, cancellationToken);

    /// <summary>Waits until at least <paramref name="bytes"/> bytes were forwarded in <paramref name="direction"/> in total.</summary>
    public Task WaitForBytesAsync(ProxyDirection direction, long bytes, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        WaitUntilAsync(p => p.BytesForwarded(direction) >= bytes, timeout, cancellationToken);

    /// <summary>The proxy's address, target, counters and rules, for assertion messages.</summary>
    public override string ToString()
    {
        var rules = _rules;
        return string.Create(CultureInfo.InvariantCulture,
            $"FaultProxy {Url} -> {Target}: accepted={ConnectionsAccepted} active={ActiveConnections} up={BytesUploaded} " +
            $"down={BytesDownloaded} drops={FaultsInjected(FaultKind.Drop)} stalls={FaultsInjected(FaultKind.Stall)} " +
            $"503s={ServiceUnavailableSent} refused={FaultsInjected(FaultKind.Refuse)} throttled={FaultsInjected(FaultKind.Throttle)} " +
            $"connectFailures={TargetConnectFailures} listening={IsListening}; rules: {rules}");
    }

    /// <summary>Stops listening, ends every live connection (RST), releases held ones and waits until every
    /// connection's pumps have finished.</summary>
    public async ValueTask DisposeAsync()
    {
        Task[] loops;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _listener?.Dispose();
            _listener = null;
            loops = [.. _acceptLoops];
        }

        await _lifetime.CancelAsync();
        Update(_ => RuleSet.Empty);
        await Task.WhenAll(loops);
        var connections = _connections.Values.ToArray();
        foreach (var connection in connections)
        {
            connection.Abort();
        }

        await Task.WhenAll(connections.Select(c => c.Completion));
        _lifetime.Dispose();
    }

    private static void ThrowIfNotPositive(int? count, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(count))] string? name = null)
    {
        if (count is { } value)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value, name);
        }
    }

    private static Socket Listen(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Lets ResumeListening bind the same port while connections of the old listener linger in TIME_WAIT.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            socket.Listen(512);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static void AbortSocket(Socket? socket)
    {
        if (socket is null)
        {
            return;
        }

        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }

        socket.Dispose();
    }

    private static void ShutdownSend(Socket? socket)
    {
        try
        {
            socket?.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The peer is gone already.
        }
    }

    private static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None);
            data = data[sent..];
        }
    }

    /// <summary>Waits until the kernel has delivered (and got acknowledged) everything written to
    /// <paramref name="socket"/>, at most <see cref="SendQueueTimeout"/>. Only Linux reports it (TCP_INFO); elsewhere
    /// this returns at once, and a RST may then cut off data still in flight.</summary>
    private static async Task WaitForSendQueueAsync(Socket socket, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            while (!IsSendQueueEmpty(socket) && Stopwatch.GetElapsedTime(start) < SendQueueTimeout)
            {
                await Task.Delay(1, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // Aborted meanwhile: nothing left to wait for.
        }
    }

    private static bool IsSendQueueEmpty(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return true;
        }

        // struct tcp_info (linux/tcp.h): tcpi_unacked (segments) at byte 24, tcpi_notsent_bytes at byte 144.
        const int IpProtoTcp = 6;
        const int TcpInfo = 11;
        Span<byte> info = stackalloc byte[256];
        try
        {
            var length = socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info);
            if (length < 148)
            {
                return true;
            }

            return MemoryMarshal.Read<uint>(info[24..]) == 0 && MemoryMarshal.Read<uint>(info[144..]) == 0;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Reads and discards until the peer closes or <paramref name="cancellationToken"/> fires.</summary>
    private static async Task DrainAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Reset, closed or out of time: nothing more to drain.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Update(Func<RuleSet, RuleSet> change)
    {
        RuleSet before;
        RuleSet after;
        lock (_gate)
        {
            before = _rules;
            after = change(before);
            _rules = after;
        }

        // A replaced stall rule lets its held connections go.
        foreach (var direction in (ReadOnlySpan<ProxyDirection>)[ProxyDirection.Upload, ProxyDirection.Download])
        {
            if (before.For(direction).Stall is { } old && !ReferenceEquals(old, after.For(direction).Stall))
            {
                old.Release();
            }
        }

        Notify();
    }

    private void Notify()
    {
        if (Volatile.Read(ref _changed) is not null)
        {
            Interlocked.Exchange(ref _changed, null)?.TrySetResult();
        }
    }

    private void Count(FaultKind kind)
    {
        Interlocked.Increment(ref _faults[(int)kind]);
        Notify();
    }

    private void CountBytes(ProxyDirection direction, int count)
    {
        Interlocked.Add(ref _bytes[(int)direction], count);
        Notify();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_lifetime.Token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or NullReferenceException)
            {
                // StopListening or disposal (a socket disposed during AcceptAsync can surface as a NullReferenceException).
                return;
            }

            try
            {
                client.NoDelay = true;
            }
            catch (SocketException)
            {
                // Reset before we got to it; the connection's pumps will find out.
            }

            Interlocked.Increment(ref _accepted);
            var connection = new Connection(this, client, Interlocked.Increment(ref _nextConnectionId));
            _connections[connection.Id] = connection;
            connection.Start();
            Notify();
        }
    }

    /// <summary>Reads the rest of a request head (up to the blank line), answers 503 and closes gracefully.</summary>
    private async Task RespondUnavailableAsync(Socket client, UnavailableRule rule, ReadOnlyMemory<byte> alreadyRead)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
        deadline.CancelAfter(RequestHeadTimeout);
        var scanner = new HeadEndScanner();
        var complete = scanner.Feed(alreadyRead.Span);
        var seen = alreadyRead.Length;
        if (!complete)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(4096);
            try
            {
                while (!complete && seen < MaxRequestHeadBytes)
                {
                    var read = await client.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                    if (read == 0)
                    {
                        return; // The client went away before finishing its request head: nobody to answer.
                    }

                    complete = scanner.Feed(buffer.AsSpan(0, read));
                    seen += read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        Count(FaultKind.ServiceUnavailable);
        await SendAllAsync(client, rule.Response);
        ShutdownSend(client);
        // Whatever the client still sends (a request body) is read and dropped, so that closing cannot send a RST
        // that would destroy the answer before the client reads it.
        deadline.CancelAfter(DrainTimeout);
        await DrainAsync(client, deadline.Token);
    }

    private sealed class Connection(FaultProxy proxy, Socket client, long id)
    {
        private const int Forwarding = 0;
        private const int Finishing = 1;
        private const int TakenOver = 2;
        private const int Aborted = 3;

        private readonly CancellationTokenSource _cts = CancellationTokenSource.CreateLinkedTokenSource(proxy._lifetime.Token);
        private readonly DirectionState[] _directions = [new(), new()];
        private readonly FaultProxyRequestFramer _framer = new();
        private CancellationTokenSource? _drainDeadline;
        private Socket? _server;
        private Task _downloadPump = Task.CompletedTask;
        private int _state;

        public long Id => id;

        public Task Completion { get; private set; } = Task.CompletedTask;

        private bool IsForwarding => Volatile.Read(ref _state) == Forwarding;

        public void Start() => Completion = RunAsync();

        /// <summary>Ends the connection now: RST to both peers; wakes held and throttled pumps.</summary>
        public void Abort()
        {
            Interlocked.Exchange(ref _state, Aborted);
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The connection finished meanwhile.
            }

            AbortSocket(client);
            AbortSocket(Volatile.Read(ref _server));
        }

        /// <summary>Drops the connection as a fault (counted).</summary>
        public void Drop(DropMode mode)
        {
            var state = Volatile.Read(ref _state);
            if (state is Aborted || (state is not Forwarding && mode is DropMode.Fin))
            {
                return;
            }

            proxy.Count(FaultKind.Drop);
            if (mode is DropMode.Reset)
            {
                Abort();
            }
            else
            {
                Finish();
            }
        }

        /// <summary>FIN to both peers, then the pumps drain (discard) until both peers close or the deadline.</summary>
        private void Finish()
        {
            if (Interlocked.CompareExchange(ref _state, Finishing, Forwarding) != Forwarding)
            {
                return;
            }

            try
            {
                _cts.Cancel();
                var deadline = new CancellationTokenSource(DrainTimeout);
                deadline.Token.Register(static c => ((Connection)c!).Abort(), this);
                _drainDeadline = deadline;
            }
            catch (ObjectDisposedException)
            {
                // The connection finished meanwhile.
            }

            ShutdownSend(client);
            ShutdownSend(Volatile.Read(ref _server));
        }

        private async Task RunAsync()
        {
            try
            {
                var rules = proxy._rules;
                if (rules.Refuse is { } refuse && refuse.TryClaim())
                {
                    proxy.Count(FaultKind.Refuse);
                    if (refuse.Mode is DropMode.Reset)
                    {
                        Abort();
                        return;
                    }

                    ShutdownSend(client);
                    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
                    deadline.CancelAfter(DrainTimeout);
                    await DrainAsync(client, deadline.Token);
                    return;
                }

                if (rules.Unavailable is { } unavailable && unavailable.TryClaim())
                {
                    if (Interlocked.CompareExchange(ref _state, TakenOver, Forwarding) != Forwarding)
                    {
                        return;
                    }

                    await proxy.RespondUnavailableAsync(client, unavailable, ReadOnlyMemory<byte>.Empty);
                    return;
                }

                var server = proxy.Target is IPEndPoint ip
                    ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
                    : new Socket(SocketType.Stream, ProtocolType.Tcp);
                Interlocked.Exchange(ref _server, server);
                if (!IsForwarding)
                {
                    return; // Aborted while starting.
                }

                try
                {
                    server.NoDelay = true;
                    await server.ConnectAsync(proxy.Target, _cts.Token);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    if (IsForwarding)
                    {
                        Interlocked.Increment(ref proxy._connectFailures);
                        Abort();
                    }

                    return;
                }

                _downloadPump = PumpAsync(ProxyDirection.Download, server, client);
                var uploadPump = PumpAsync(ProxyDirection.Upload, client, server);
                await Task.WhenAll(uploadPump, _downloadPump);
            }
            catch (Exception)
            {
                // Sockets fail in every way while faults are injected; the connection just ends.
                Abort();
            }
            finally
            {
                Volatile.Write(ref _state, Aborted);
                client.Dispose();
                Volatile.Read(ref _server)?.Dispose();
                _drainDeadline?.Dispose();
                _cts.Dispose();
                proxy._connections.TryRemove(id, out _);
                proxy.Notify();
            }
        }

        private async Task PumpAsync(ProxyDirection direction, Socket source, Socket destination)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                while (true)
                {
                    var read = await source.ReceiveAsync(buffer.AsMemory(0, BufferSize), SocketFlags.None);
                    if (read == 0)
                    {
                        if (IsForwarding)
                        {
                            destination.Shutdown(SocketShutdown.Send); // Pass the half-close on.
                        }

                        return;
                    }

                    if (!IsForwarding)
                    {
                        continue; // Draining after a graceful drop: read and discard.
                    }

                    try
                    {
                        if (!await ForwardAsync(direction, destination, buffer, read))
                        {
                            return;
                        }
                    }
                    catch (Exception) when (Volatile.Read(ref _state) == Finishing)
                    {
                        // Dropped gracefully while this pump was sending or held: keep draining.
                    }
                }
            }
            catch (Exception)
            {
                // Reset by a peer, or our own abort: end the whole connection the same way.
                if (IsForwarding)
                {
                    Abort();
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        /// <summary>Forwards <paramref name="count"/> received bytes, applying the rules at exact positions.
        /// Returns false when this pump must end (the connection was taken over for a 503).</summary>
        private async Task<bool> ForwardAsync(ProxyDirection direction, Socket destination, byte[] buffer, int count)
        {
            var state = _directions[(int)direction];
            var offset = 0;
            while (offset < count && IsForwarding)
            {
                var all = proxy._rules;
                if (direction is ProxyDirection.Upload && _framer.AwaitingRequest)
                {
                    if (all.Unavailable is { } unavailable && unavailable.TryClaim())
                    {
                        await TakeOverAsync(unavailable, buffer.AsMemory(offset, count - offset));
                        return false;
                    }

                    _framer.BeginRequest();
                }

                var rules = all.For(direction);
                state.Observe(rules, proxy);
                var piece = count - offset;

                if (state.Stall is { } stall && !state.StallDone)
                {
                    var left = stall.AfterBytes - (state.Forwarded - state.StallBase);
                    if (left <= 0)
                    {
                        state.StallDone = true;
                        if (stall.TryFire())
                        {
                            proxy.Count(FaultKind.Stall);
                            await stall.HoldAsync(_cts.Token);
                        }

                        continue; // Rules may have changed while held.
                    }

                    piece = (int)Math.Min(piece, left);
                }

                if (state.Drop is { } drop && !state.DropDeclined)
                {
                    var left = drop.Bytes - (state.Forwarded - state.DropBase);
                    if (left <= 0)
                    {
                        if (drop.TryFire())
                        {
                            if (drop.Mode is DropMode.Reset)
                            {
                                // A RST discards what the kernel has not delivered yet: let the N bytes arrive first.
                                await WaitForSendQueueAsync(destination, _cts.Token);
                            }

                            Drop(drop.Mode);
                            return true;
                        }

                        state.DropDeclined = true; // The rule's K connections are used up: this one passes.
                        continue;
                    }

                    piece = (int)Math.Min(piece, left);
                }

                var throttle = state.Throttle;
                if (throttle is not null)
                {
                    piece = Math.Min(piece, throttle.Chunk);
                }

                if (direction is ProxyDirection.Upload)
                {
                    piece = _framer.Advance(buffer.AsSpan(offset, piece));
                }

                if (throttle is not null)
                {
                    var due = TimeSpan.FromSeconds((double)(state.ThrottledBytes + piece) / throttle.BytesPerSecond);
                    var wait = due - Stopwatch.GetElapsedTime(state.ThrottleStart);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, _cts.Token);
                    }

                    state.ThrottledBytes += piece;
                }

                state.Forwarded += piece;
                proxy.CountBytes(direction, piece);
                await SendAllAsync(destination, buffer.AsMemory(offset, piece));
                offset += piece;
            }

            return true;
        }

        /// <summary>Answers 503 at a request boundary of a live connection: closes the target side, waits for the
        /// download pump to end, then answers on the client side.</summary>
        private async Task TakeOverAsync(UnavailableRule rule, ReadOnlyMemory<byte> alreadyRead)
        {
            if (Interlocked.CompareExchange(ref _state, TakenOver, Forwarding) != Forwarding)
            {
                return;
            }

            await _cts.CancelAsync();
            var server = Volatile.Read(ref _server);
            ShutdownSend(server);
            server?.Dispose();
            try
            {
                await _downloadPump.WaitAsync(TimeSpan.FromSeconds(5), proxy._lifetime.Token);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                Abort(); // The client does not read what the target sent last: give up on it.
                return;
            }

            await proxy.RespondUnavailableAsync(client, rule, alreadyRead);
        }
    }

    /// <summary>What one connection direction has seen of the rules.</summary>
    private sealed class DirectionState
    {
        public long Forwarded { get; set; }

        public DropRule? Drop { get; private set; }

        public long DropBase { get; private set; }

        public bool DropDeclined { get; set; }

        public StallRule? Stall { get; private set; }

        public long StallBase { get; private set; }

        public bool StallDone { get; set; }

        public ThrottleRule? Throttle { get; private set; }

        public long ThrottleStart { get; private set; }

        public long ThrottledBytes { get; set; }

        /// <summary>Takes hold of rules set since the last look; their byte counts start here.</summary>
        public void Observe(DirectionRules rules, FaultProxy proxy)
        {
            if (!ReferenceEquals(rules.Drop, Drop))
            {
                Drop = rules.Drop;
                DropBase = Forwarded;
                DropDeclined = false;
            }

            if (!ReferenceEquals(rules.Stall, Stall))
            {
                Stall = rules.Stall;
                StallBase = Forwarded;
                StallDone = false;
            }

            if (!ReferenceEquals(rules.Throttle, Throttle))
            {
                Throttle = rules.Throttle;
                ThrottleStart = Stopwatch.GetTimestamp();
                ThrottledBytes = 0;
                if (Throttle is not null)
                {
                    proxy.Count(FaultKind.Throttle);
                }
            }
        }
    }

    private sealed record DirectionRules(DropRule? Drop, StallRule? Stall, ThrottleRule? Throttle)
    {
        public static DirectionRules None { get; } = new(null, null, null);

        public override string ToString() => $"drop={Drop?.ToString() ?? "-"} stall={Stall?.ToString() ?? "-"} throttle={Throttle?.ToString() ?? "-"}";
    }

    private sealed record RuleSet(DirectionRules Upload, DirectionRules Download, UnavailableRule? Unavailable, RefuseRule? Refuse)
    {
        public static RuleSet Empty { get; } = new(DirectionRules.None, DirectionRules.None, null, null);

        public DirectionRules For(ProxyDirection direction) => direction is ProxyDirection.Upload ? Upload : Download;

        public RuleSet With(ProxyDirection direction, DirectionRules rules) =>
            direction is ProxyDirection.Upload ? this with { Upload = rules } : this with { Download = rules };

        public override string ToString() =>
            $"upload[{Upload}] download[{Download}] 503={Unavailable?.ToString() ?? "-"} refuse={Refuse?.ToString() ?? "-"}";
    }

    /// <summary>Counts how many connections a rule has fired for, against an optional limit.</summary>
    private abstract class LimitedRule(int? limit)
    {
        private int _fired;

        public int? Limit => limit;

        public bool TryFire() => limit is not { } max || Interlocked.Increment(ref _fired) <= max;
    }

    private sealed class DropRule(long bytes, int? connections, DropMode mode) : LimitedRule(connections)
    {
        public long Bytes => bytes;

        public DropMode Mode => mode;

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{mode} after {bytes} x{Limit?.ToString(CultureInfo.InvariantCulture) ?? "all"}");
    }

    private sealed class StallRule(long afterBytes, TimeSpan? duration, int? connections) : LimitedRule(connections)
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long AfterBytes => afterBytes;

        public void Release() => _released.TrySetResult();

        public async Task HoldAsync(CancellationToken cancellationToken)
        {
            if (duration is not { } time)
            {
                await _released.Task.WaitAsync(cancellationToken);
                return;
            }

            try
            {
                await _released.Task.WaitAsync(time, cancellationToken);
            }
            catch (TimeoutException)
            {
                // Held long enough.
            }
        }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"after {afterBytes} for {duration?.ToString() ?? "ever"} x{Limit?.ToString(CultureInfo.InvariantCulture) ?? "all"}");
    }

    private sealed class ThrottleRule(long bytesPerSecond)
    {
        public long BytesPerSecond => bytesPerSecond;

        /// <summary>Send in pieces of about 50 ms worth, so the rate is smooth and rule changes act quickly.</summary>
        public int Chunk { get; } = (int)Math.Clamp(bytesPerSecond / 20, 1, BufferSize);

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{bytesPerSecond} B/s");
    }

    private sealed class UnavailableRule(int count, TimeSpan? retryAfter)
    {
        private int _remaining = count;

        public byte[] Response { get; } = BuildResponse(retryAfter);

        public bool TryClaim()
        {
            while (true)
            {
                var remaining = Volatile.Read(ref _remaining);
                if (remaining <= 0)
                {
                    return false;
                }

                if (Interlocked.CompareExchange(ref _remaining, remaining - 1, remaining) == remaining)
                {
                    return true;
                }
            }
        }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Volatile.Read(ref _remaining)} left");

        private static byte[] BuildResponse(TimeSpan? retryAfter)
        {
            var body = Encoding.UTF8.GetBytes(UnavailableBody);
            var head = new StringBuilder()
                .Append("HTTP/1.1 503 Service Unavailable\r\n")
                .Append("Content-Type: application/problem+json\r\n")
                .Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n");
            if (retryAfter is { } delay)
            {
                head.Append(CultureInfo.InvariantCulture, $"Retry-After: {(long)Math.Ceiling(delay.TotalSeconds)}\r\n");
            }

            head.Append("Connection: close\r\n\r\n");
            return [.. Encoding.ASCII.GetBytes(head.ToString()), .. body];
        }
    }

    private sealed class RefuseRule(int? count, DropMode mode)
    {
        private int _remaining = count ?? int.MaxValue;

        public DropMode Mode => mode;

        public bool TryClaim() => count is null || Interlocked.Decrement(ref _remaining) >= 0;

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{mode} x{count?.ToString(CultureInfo.InvariantCulture) ?? "all"}");
    }

    /// <summary>Finds the blank line that ends an HTTP head, across reads.</summary>
    private struct HeadEndScanner
    {
        private int _matched;

        /// <summary>Returns true once <c>CRLF CRLF</c> (or <c>LF LF</c>) has been seen.</summary>
        public bool Feed(ReadOnlySpan<byte> data)
        {
            foreach (var b in data)
            {
                _matched = (b, _matched) switch
                {
                    ((byte)'\n', 1 or 3) => 4,
                    ((byte)'\n', _) => 1,
                    ((byte)'\r', 1) => 3,
                    ((byte)'\r', 3) => 3,
                    _ => 0,
                };
                if (_matched == 4)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
