using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Depot.Client.Tests.Infrastructure;

/// <summary>Proves each fault of <see cref="FaultProxy"/> against small loopback targets (echo, sink, source, HTTP).</summary>
public sealed class FaultProxyTests
{
    private const int TestTimeout = 60_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = TestTimeout)]
    public async Task PassThrough_EightMebibytesEchoed_ArriveIntactBothWays()
    {
        await using var target = FaultProxyTestTarget.Echo();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        var payload = RandomBytes(8 << 20);

        using var client = await ConnectAsync(proxy);
        var echo = FaultProxyTestTarget.ReadToEndAsync(client, null, Ct);
        await client.SendAsync(payload, SocketFlags.None, Ct);
        client.Shutdown(SocketShutdown.Send);
        var received = await echo;

        Assert.Equal(FaultProxyTestEnding.EndOfStream, received.Ending);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received.Data));
        Assert.Equal(payload.Length, proxy.BytesUploaded);
        Assert.Equal(payload.Length, proxy.BytesDownloaded);
        Assert.Equal(1, proxy.ConnectionsAccepted);
        Assert.All(Enum.GetValues<FaultKind>(), kind => Assert.Equal(0, proxy.FaultsInjected(kind)));
        Assert.Equal(new Uri($"http://127.0.0.1:{proxy.Port}/"), proxy.Url);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData(DropMode.Reset, FaultProxyTestEnding.Reset)]
    [InlineData(DropMode.Fin, FaultProxyTestEnding.EndOfStream)]
    public async Task DropAfter_Upload_TargetReceivesExactlyNBytesThenTheChosenClose(DropMode mode, FaultProxyTestEnding expected)
    {
        const int N = 300_001;
        await using var target = FaultProxyTestTarget.Sink();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.DropAfter(ProxyDirection.Upload, N, mode: mode);
        var payload = RandomBytes(1 << 20);

        using var client = await ConnectAsync(proxy);
        await SendIgnoringDropAsync(client, payload);
        var atTarget = await target.NextReceivedAsync(Ct);
        var atClient = await FaultProxyTestTarget.ReadToEndAsync(client, null, Ct);

        Assert.Equal(N, atTarget.Data.Length);
        Assert.True(payload.AsSpan(0, N).SequenceEqual(atTarget.Data));
        Assert.Equal(expected, atTarget.Ending);
        Assert.Equal(expected, atClient.Ending);
        Assert.Empty(atClient.Data);
        Assert.Equal(N, proxy.BytesUploaded);
        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Drop));
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData(DropMode.Reset, FaultProxyTestEnding.Reset)]
    [InlineData(DropMode.Fin, FaultProxyTestEnding.EndOfStream)]
    public async Task DropAfter_Download_ClientReceivesExactlyNBytesThenTheChosenClose(DropMode mode, FaultProxyTestEnding expected)
    {
        const int N = 1_000_003;
        var payload = RandomBytes(2 << 20);
        await using var target = FaultProxyTestTarget.Source(payload);
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.DropAfter(ProxyDirection.Download, N, mode: mode);

        using var client = await ConnectAsync(proxy);
        var atClient = await FaultProxyTestTarget.ReadToEndAsync(client, null, Ct);

        Assert.Equal(N, atClient.Data.Length);
        Assert.True(payload.AsSpan(0, N).SequenceEqual(atClient.Data));
        Assert.Equal(expected, atClient.Ending);
        Assert.Equal(N, proxy.BytesDownloaded);
        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Drop));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task DropAfter_FirstTwoConnections_DieAfterOneMebibyteThenTheThirdPassesIntact()
    {
        const int MiB = 1 << 20;
        await using var target = FaultProxyTestTarget.Sink();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.DropAfter(ProxyDirection.Upload, MiB, connections: 2);
        var payload = RandomBytes(MiB + 100_000);

        var results = new List<FaultProxyTestReceived>();
        for (var i = 0; i < 3; i++)
        {
            using var client = await ConnectAsync(proxy);
            await SendIgnoringDropAsync(client, payload);
            TryShutdownSend(client);
            results.Add(await target.NextReceivedAsync(Ct));
        }

        Assert.Equal([MiB, MiB, payload.Length], results.Select(r => r.Data.Length));
        Assert.Equal([FaultProxyTestEnding.Reset, FaultProxyTestEnding.Reset, FaultProxyTestEnding.EndOfStream], results.Select(r => r.Ending));
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(results[2].Data));
        Assert.Equal(2, proxy.FaultsInjected(FaultKind.Drop));
        Assert.Equal(3, proxy.ConnectionsAccepted);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task DropAfter_ConcurrentConnectionsWithLimitThree_DropsExactlyThree()
    {
        await using var target = FaultProxyTestTarget.Echo();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.DropAfter(ProxyDirection.Download, 256 * 1024, connections: 3);
        var payload = RandomBytes(1 << 20);

        var runs = Enumerable.Range(0, 8).Select(async _ =>
        {
            using var client = await ConnectAsync(proxy);
            var echo = FaultProxyTestTarget.ReadToEndAsync(client, null, Ct);
            await SendIgnoringDropAsync(client, payload);
            TryShutdownSend(client);
            return await echo;
        });
        var results = await Task.WhenAll(runs);

        Assert.Equal(3, results.Count(r => r.Ending == FaultProxyTestEnding.Reset && r.Data.Length == 256 * 1024));
        Assert.Equal(5, results.Count(r => r.Ending == FaultProxyTestEnding.EndOfStream && r.Data.AsSpan().SequenceEqual(payload)));
        Assert.Equal(3, proxy.FaultsInjected(FaultKind.Drop));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task DropAfter_SetOnLiveConnection_CountsFromTheRuleOn()
    {
        await using var target = FaultProxyTestTarget.Sink();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        var payload = RandomBytes(3000);

        using var client = await ConnectAsync(proxy);
        await client.SendAsync(payload.AsMemory(0, 1000), SocketFlags.None, Ct);
        await proxy.WaitForBytesAsync(ProxyDirection.Upload, 1000, cancellationToken: Ct);
        proxy.DropAfter(ProxyDirection.Upload, 500);
        await SendIgnoringDropAsync(client, payload.AsMemory(1000));
        var atTarget = await target.NextReceivedAsync(Ct);

        Assert.Equal(1500, atTarget.Data.Length);
        Assert.True(payload.AsSpan(0, 1500).SequenceEqual(atTarget.Data));
        Assert.Equal(FaultProxyTestEnding.Reset, atTarget.Ending);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Stall_UploadUntilReleased_HoldsAtExactlyNWithoutClosingThenDeliversEverything()
    {
        const int N = 100_000;
        await using var target = FaultProxyTestTarget.Sink();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.Stall(ProxyDirection.Upload, afterBytes: N);
        var payload = RandomBytes(4 << 20);

        using var client = await ConnectAsync(proxy);
        var send = client.SendAsync(payload, SocketFlags.None, Ct).AsTask();
        await proxy.WaitForFaultsAsync(FaultKind.Stall, cancellationToken: Ct);
        await WaitForAsync(() => target.BytesReceived >= N);
        await Task.Delay(300, Ct); // Time to forward more, if the proxy were not holding.

        Assert.Equal(N, target.BytesReceived);
        Assert.Equal(N, proxy.BytesUploaded);
        Assert.False(target.TryGetReceived(out _), "The stalled connection must stay open.");

        proxy.ReleaseStalls();
        await send;
        client.Shutdown(SocketShutdown.Send);
        var atTarget = await target.NextReceivedAsync(Ct);

        Assert.Equal(FaultProxyTestEnding.EndOfStream, atTarget.Ending);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(atTarget.Data));
        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Stall));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Stall_DownloadForADuration_ResumesByItselfAndDeliversEverything()
    {
        var payload = RandomBytes(1 << 20);
        await using var target = FaultProxyTestTarget.Source(payload);
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.Stall(ProxyDirection.Download, afterBytes: 64 * 1024, duration: TimeSpan.FromMilliseconds(600));

        var watch = Stopwatch.StartNew();
        using var client = await ConnectAsync(proxy);
        var atClient = await FaultProxyTestTarget.ReadToEndAsync(client, null, Ct);
        watch.Stop();

        Assert.Equal(FaultProxyTestEnding.EndOfStream, atClient.Ending);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(atClient.Data));
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(500), $"Took only {watch.Elapsed}.");
        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Stall));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task FailWith503_NextTwoRequests_HttpClientReadsProblemThenReachesTarget()
    {
        await using var target = FaultProxyTestTarget.Http();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        using var http = new HttpClient { BaseAddress = proxy.Url };
        proxy.FailWith503(count: 2);

        for (var i = 0; i < 2; i++)
        {
            using var response = await http.GetAsync("objects/a", Ct);
            await AssertUnavailableAsync(response);
        }

        using var ok = await http.GetAsync("objects/a", Ct);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("ok 1", await ok.Content.ReadAsStringAsync(Ct));
        Assert.Equal(2, proxy.ServiceUnavailableSent);
        Assert.Equal(3, proxy.ConnectionsAccepted);
        Assert.Equal(1, target.ConnectionsAccepted);
        Assert.Equal(1, target.RequestsServed);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task FailWith503_WhileKeepAliveConnectionIsPooled_AnswersItsNextRequest()
    {
        await using var target = FaultProxyTestTarget.Http();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        using var http = new HttpClient { BaseAddress = proxy.Url };

        using (var first = await http.GetAsync("a", Ct))
        {
            Assert.Equal("ok 1", await first.Content.ReadAsStringAsync(Ct));
        }

        // A Content-Length body and a chunked body, so the proxy must follow both framings to find the next request.
        using (var sized = await http.PostAsync("b", new ByteArrayContent(RandomBytes(100_000)), Ct))
        {
            Assert.Equal("ok 2", await sized.Content.ReadAsStringAsync(Ct));
        }

        using (var chunked = await http.PostAsync("c", new StreamContent(new UnseekableStream(RandomBytes(70_000))), Ct))
        {
            Assert.Equal("ok 3", await chunked.Content.ReadAsStringAsync(Ct));
        }

        Assert.Equal(1, proxy.ConnectionsAccepted);
        proxy.FailWith503(retryAfter: TimeSpan.FromSeconds(7));

        using (var unavailable = await http.PostAsync("d", new ByteArrayContent(RandomBytes(50_000)), Ct))
        {
            await AssertUnavailableAsync(unavailable);
            Assert.Equal(TimeSpan.FromSeconds(7), unavailable.Headers.RetryAfter?.Delta);
        }

        using (var again = await http.GetAsync("e", Ct))
        {
            Assert.Equal("ok 4", await again.Content.ReadAsStringAsync(Ct));
        }

        Assert.Equal(2, proxy.ConnectionsAccepted);
        Assert.Equal(1, proxy.ServiceUnavailableSent);
        Assert.Equal(4, target.RequestsServed);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task RefuseConnections_ResetMode_ClientIsResetAndTargetNeverContacted()
    {
        await using var target = FaultProxyTestTarget.Http();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.RefuseConnections();

        FaultProxyTestReceived atClient;
        try
        {
            using var client = await ConnectAsync(proxy);
            atClient = await FaultProxyTestTarget.ReadToEndAsync(client, null, Ct);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset)
        {
            atClient = new FaultProxyTestReceived([], FaultProxyTestEnding.Reset); // The RST beat the connect's completion.
        }

        using var http = new HttpClient { BaseAddress = proxy.Url };
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => http.GetAsync("a", Ct));
        // SocketsHttpHandler usually wraps the reset in HttpRequestException, but a RST that lands right after the
        // connect can escape as a bare SocketException (ENOTCONN): clients must treat both as network failures.
        Assert.True(failure is HttpRequestException or SocketException, failure.ToString());

        Assert.Equal(FaultProxyTestEnding.Reset, atClient.Ending);
        Assert.True(proxy.FaultsInjected(FaultKind.Refuse) >= 2);
        Assert.Equal(0, target.ConnectionsAccepted);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task RefuseConnections_CountOneWithFin_FirstSeesEndOfStreamThenNextIsForwarded()
    {
        await using var target = FaultProxyTestTarget.Echo();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.RefuseConnections(count: 1, mode: DropMode.Fin);

        using (var refused = await ConnectAsync(proxy))
        {
            var atClient = await FaultProxyTestTarget.ReadToEndAsync(refused, null, Ct);
            Assert.Equal(FaultProxyTestEnding.EndOfStream, atClient.Ending);
            Assert.Empty(atClient.Data);
        }

        using var client = await ConnectAsync(proxy);
        Assert.Equal("hello", await EchoAsync(client, "hello"));
        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Refuse));
        Assert.Equal(1, target.ConnectionsAccepted);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task StopListening_NewConnectionsAreRefused_LiveOnesGoOnAndResumeKeepsThePort()
    {
        await using var target = FaultProxyTestTarget.Echo();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        var port = proxy.Port;
        using var live = await ConnectAsync(proxy);
        Assert.Equal("before", await EchoAsync(live, "before"));

        proxy.StopListening();
        var refused = await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(proxy));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.False(proxy.IsListening);
        Assert.Equal("during", await EchoAsync(live, "during"));

        proxy.ResumeListening();
        Assert.True(proxy.IsListening);
        Assert.Equal(port, proxy.Port);
        using var next = await ConnectAsync(proxy);
        Assert.Equal("after", await EchoAsync(next, "after"));
        Assert.Equal(2, proxy.ConnectionsAccepted);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData(ProxyDirection.Upload)]
    [InlineData(ProxyDirection.Download)]
    public async Task Throttle_OneMegabyteAtOneMegabytePerSecond_TakesAtLeastHalfASecond(ProxyDirection direction)
    {
        const int Size = 1_000_000;
        var payload = RandomBytes(Size);
        await using var target = direction is ProxyDirection.Upload ? FaultProxyTestTarget.Sink() : FaultProxyTestTarget.Source(payload);
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.Throttle(direction, bytesPerSecond: 1_000_000);

        var watch = Stopwatch.StartNew();
        using var client = await ConnectAsync(proxy);
        byte[] received;
        if (direction is ProxyDirection.Upload)
        {
            await client.SendAsync(payload, SocketFlags.None, Ct);
            client.Shutdown(SocketShutdown.Send);
            received = (await target.NextReceivedAsync(Ct)).Data;
        }
        else
        {
            received = (await FaultProxyTestTarget.ReadToEndAsync(client, null, Ct)).Data;
        }

        watch.Stop();
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received));
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(0.5), $"Took only {watch.Elapsed}.");
        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Throttle));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task Reset_AfterDropAndRefuseRules_ForwardsNormallyAgain()
    {
        await using var target = FaultProxyTestTarget.Echo();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.DropAfter(ProxyDirection.Upload, 0).RefuseConnections().FailWith503(5).Throttle(ProxyDirection.Download, 10);
        proxy.StopListening();

        proxy.Reset();

        Assert.True(proxy.IsListening);
        using var client = await ConnectAsync(proxy);
        Assert.Equal("plain", await EchoAsync(client, "plain"));
        Assert.All(Enum.GetValues<FaultKind>(), kind => Assert.Equal(0, proxy.FaultsInjected(kind)));
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData(DropMode.Reset, FaultProxyTestEnding.Reset)]
    [InlineData(DropMode.Fin, FaultProxyTestEnding.EndOfStream)]
    public async Task DisconnectAll_TwoLiveConnections_BothEndTheChosenWayAndAreCounted(DropMode mode, FaultProxyTestEnding expected)
    {
        await using var target = FaultProxyTestTarget.Echo();
        await using var proxy = await FaultProxy.StartAsync(target.Url);
        var first = await ConnectAsync(proxy);
        var second = await ConnectAsync(proxy);
        Assert.Equal("1", await EchoAsync(first, "1"));
        Assert.Equal("2", await EchoAsync(second, "2"));

        proxy.DisconnectAll(mode);

        Assert.Equal(expected, (await FaultProxyTestTarget.ReadToEndAsync(first, null, Ct)).Ending);
        Assert.Equal(expected, (await FaultProxyTestTarget.ReadToEndAsync(second, null, Ct)).Ending);
        first.Dispose();
        second.Dispose();
        await proxy.WaitUntilAsync(p => p.ActiveConnections == 0, cancellationToken: Ct);
        Assert.Equal(2, proxy.FaultsInjected(FaultKind.Drop));
        Assert.Equal(2, target.BytesReceived);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task DisposeAsync_WithStalledAndIdleConnections_ClosesThemAndStopsListening()
    {
        await using var target = FaultProxyTestTarget.Sink();
        var proxy = await FaultProxy.StartAsync(target.Url);
        proxy.Stall(ProxyDirection.Upload, afterBytes: 10);
        using var stalled = await ConnectAsync(proxy);
        using var idle = await ConnectAsync(proxy);
        var send = SendIgnoringDropAsync(stalled, RandomBytes(4 << 20));
        await proxy.WaitForFaultsAsync(FaultKind.Stall, cancellationToken: Ct);

        await proxy.DisposeAsync();

        Assert.Equal(0, proxy.ActiveConnections);
        Assert.NotEqual(FaultProxyTestEnding.EndOfStream, (await FaultProxyTestTarget.ReadToEndAsync(idle, null, Ct)).Ending);
        await send;
        var ends = new[] { await target.NextReceivedAsync(Ct), await target.NextReceivedAsync(Ct) };
        Assert.Equal([0, 10], ends.Select(r => r.Data.Length).Order());
        var refused = await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(proxy));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task WaitUntilAsync_ConditionNeverHolds_ThrowsTimeoutDescribingTheProxy()
    {
        await using var target = FaultProxyTestTarget.Echo();
        await using var proxy = await FaultProxy.StartAsync(target.Url);

        var error = await Assert.ThrowsAsync<TimeoutException>(() =>
            proxy.WaitForFaultsAsync(FaultKind.Drop, timeout: TimeSpan.FromMilliseconds(100), cancellationToken: Ct));

        Assert.Contains("drops=0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RequestFramer_RequestsSplitAtEveryPossiblePoint_FindsEachRequestStart()
    {
        var requests = new[]
        {
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
            "\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            "PUT /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4;ext=1\r\nwiki\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n",
            "POST /d HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            "DELETE /e HTTP/1.1\r\ncontent-length: 0\r\n\r\n",
        };
        var stream = Encoding.Latin1.GetBytes(string.Concat(requests));
        var expectedStarts = new List<int>();
        var position = 0;
        foreach (var request in requests)
        {
            expectedStarts.Add(position);
            position += request.Length;
        }

        for (var piece = 1; piece <= stream.Length; piece++)
        {
            var framer = new FaultProxyRequestFramer();
            var starts = new List<int>();
            var offset = 0;
            while (offset < stream.Length)
            {
                if (framer.AwaitingRequest)
                {
                    starts.Add(offset);
                    framer.BeginRequest();
                }

                offset += framer.Advance(stream.AsSpan(offset, Math.Min(piece, stream.Length - offset)));
            }

            Assert.Equal(expectedStarts, starts);
            Assert.True(framer.AwaitingRequest);
            Assert.Equal(requests.Length, framer.RequestsCompleted);
        }
    }

    [Theory]
    [InlineData("\u0016\u0003\u0001 binary, not HTTP\r\n\r\n")]
    [InlineData("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")]
    [InlineData("CONNECT example.org:443 HTTP/1.1\r\n\r\n")]
    [InlineData("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")]
    public void RequestFramer_StreamItCannotFollow_BecomesOpaqueForGood(string head)
    {
        var framer = new FaultProxyRequestFramer();
        var bytes = Encoding.Latin1.GetBytes(head + "GET /next HTTP/1.1\r\n\r\n");

        framer.BeginRequest();
        var consumed = framer.Advance(bytes);

        Assert.Equal(bytes.Length, consumed);
        Assert.True(framer.IsOpaque);
        Assert.False(framer.AwaitingRequest);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(10, Ct);
        }
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    private static async Task<Socket> ConnectAsync(FaultProxy proxy)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, proxy.Port), Ct);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends everything, or until the proxy's drop makes sending fail.</summary>
    private static async Task SendIgnoringDropAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        try
        {
            await socket.SendAsync(data, SocketFlags.None, Ct);
        }
        catch (SocketException)
        {
            // Reset or broken pipe: the drop under test.
        }
    }

    private static void TryShutdownSend(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Already reset.
        }
    }

    private static async Task<string> EchoAsync(Socket socket, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        await socket.SendAsync(bytes, SocketFlags.None, Ct);
        var buffer = new byte[bytes.Length];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, Ct);
            Assert.NotEqual(0, n);
            read += n;
        }

        return Encoding.ASCII.GetString(buffer);
    }

    private static async Task AssertUnavailableAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.ConnectionClose);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.Equal(Encoding.UTF8.GetByteCount(body), response.Content.Headers.ContentLength);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal("unavailable", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(503, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("Unavailable", problem.RootElement.GetProperty("title").GetString());
    }

    /// <summary>A stream HttpClient cannot measure, so it sends the body chunked.</summary>
    private sealed class UnseekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
