using System.Net;
using System.Net.Sockets;
using Depot.Client.Tests.Infrastructure;
using static Depot.Client.Tests.Resilience.ResilienceKit;

namespace Depot.Client.Tests.Resilience;

/// <summary>
/// Uploads through a fault-injecting proxy to a real server on loopback: dropped connections, 503 answers, stalls,
/// lost answers and a dead first server. Large uploads must finish with the exact bytes and nothing duplicated;
/// requests that are not safe to repeat must not be repeated once they may have reached the server.
/// </summary>
public sealed class UploadFaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory(Timeout = TestTimeout)]
    [InlineData(DropMode.Reset)]
    [InlineData(DropMode.Fin)]
    public async Task UploadSession_FirstConnectionsDropMidChunk_FinishesByteIdenticalWithNothingDuplicated(DropMode mode)
    {
        const long Length = (40L * MiB) + 12_345;
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy, chunkSize: MiB);
        var local = context.WriteFile("session-drops.bin", Length, seed: 11);
        // Each of the first three connections dies in the middle of its third chunk.
        proxy.DropAfter(ProxyDirection.Upload, (2L * MiB) + (MiB / 2) + 777, connections: 3, mode: mode);

        var stored = await client.UploadAsync(local, "default/r/session-drops.bin", cancellationToken: Ct);

        Assert.Equal(3, proxy.FaultsInjected(FaultKind.Drop));
        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Length, stored.Size);
        Assert.Equal(Length, context.StoredLength("r/session-drops.bin"));
        Assert.Equal(Sha256Of(local), context.StoredSha256("r/session-drops.bin"));
        // Chunks may cross the wire twice, but only the ones an injected fault cut short.
        Assert.InRange(proxy.BytesUploaded, Length, Length + (3L * MiB) + (256 * KiB));
        var session = Assert.Single(context.SessionIds());
        await context.AssertSessionAccountingAsync(session, Length, MiB, faults: 3, Ct);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task UploadSession_503sWhileChunksFlow_RetriedAndFinishesByteIdentical()
    {
        const long Length = 40L * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy, chunkSize: MiB);
        var local = context.WriteFile("session-503.bin", Length, seed: 12);

        var upload = client.UploadAsync(local, "default/r/session-503.bin", cancellationToken: Ct);
        await proxy.WaitForBytesAsync(ProxyDirection.Upload, 4L * MiB, TimeSpan.FromMinutes(2), Ct);
        proxy.FailWith503(3);
        var stored = await upload;

        Assert.Equal(3, proxy.ServiceUnavailableSent);
        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Sha256Of(local), context.StoredSha256("r/session-503.bin"));
        var session = Assert.Single(context.SessionIds());
        await context.AssertSessionAccountingAsync(session, Length, MiB, faults: 3, Ct);
    }

    /// <summary>The very first request of a session upload (creating the session) meets the 503s.</summary>
    [Theory(Timeout = TestTimeout)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Upload_503sOnFirstRequests_RetriedAndFinishesByteIdentical(bool session)
    {
        var length = (session ? 8L : 6L) * MiB;
        var name = session ? "session-503-first.bin" : "put-503.bin";
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = session ? context.ProxyClient(proxy, chunkSize: MiB) : context.ProxyClient(proxy, threshold: 64L * MiB);
        var local = context.WriteFile(name, length, seed: session ? 13 : 14);
        proxy.FailWith503(3);

        var stored = await client.UploadAsync(local, "default/r/" + name, cancellationToken: Ct);

        Assert.Equal(3, proxy.ServiceUnavailableSent);
        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Sha256Of(local), context.StoredSha256("r/" + name));
    }

    /// <summary>A chunk whose connection stops moving (the proxy holds it, without closing) is abandoned after the
    /// stall timeout and sent again on a new connection. The chunks are larger than what the socket buffers can
    /// absorb, so the held chunk cannot pass for "sent" and be waited on as an answer. The held connection is let go
    /// once the client has given up on it (so the server learns that the first attempt died, see the next test).</summary>
    [Fact(Timeout = TestTimeout)]
    public async Task UploadSession_ChunkStalledLongerThanStallTimeout_AbandonedAndSentAgain()
    {
        const long Length = 64L * MiB;
        const int Chunk = 32 * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy, chunkSize: Chunk, configure: StallClient);
        var local = context.WriteFile("session-stall.bin", Length, seed: 15);
        // One connection carries everything, one request after the other: the session's creation (far below 1 MiB),
        // then the first chunk, held after 1 MiB.
        proxy.Stall(ProxyDirection.Upload, afterBytes: MiB, duration: null, connections: 1);

        var upload = client.UploadAsync(local, "default/r/session-stall.bin", cancellationToken: Ct);
        await proxy.WaitForFaultsAsync(FaultKind.Stall, 1, TimeSpan.FromMinutes(2), Ct);
        // Only the stall watch can end the held attempt: the answer timeout is far beyond the test's limit.
        await proxy.WaitUntilAsync(p => p.ConnectionsAccepted >= 2, TimeSpan.FromMinutes(2), Ct);
        proxy.ReleaseStalls();
        var stored = await upload;

        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Stall));
        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Sha256Of(local), context.StoredSha256("r/session-stall.bin"));
        var session = Assert.Single(context.SessionIds());
        await context.AssertSessionAccountingAsync(session, Length, Chunk, faults: 1, Ct);
    }

    /// <summary>As above, but the held connection is never let go (a path that went dead: not even the client's reset
    /// gets through). The chunk must still be sent again on a new connection and the upload finish, within a retry
    /// budget of over a minute.</summary>
    [Fact(Timeout = TestTimeout)]
    public async Task UploadSession_ChunkConnectionHeldForever_SentAgainOnANewConnectionAndFinishes()
    {
        const long Length = 64L * MiB;
        const int Chunk = 32 * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy, chunkSize: Chunk, configure: o =>
        {
            StallClient(o);
            o.Retry.MaxAttempts = 35;
        });
        var local = context.WriteFile("session-held.bin", Length, seed: 23);
        proxy.Stall(ProxyDirection.Upload, afterBytes: MiB, duration: null, connections: 1);

        var stored = await client.UploadAsync(local, "default/r/session-held.bin", cancellationToken: Ct);

        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Stall));
        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Sha256Of(local), context.StoredSha256("r/session-held.bin"));
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData(DropMode.Reset)]
    [InlineData(DropMode.Fin)]
    public async Task UploadSinglePut_ConnectionsDropMidBody_RetriedFromTheStartAndSucceeds(DropMode mode)
    {
        const long Length = (8L * MiB) + 3;
        const long DropAt = 3L * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy, threshold: 64L * MiB);
        var local = context.WriteFile("put-drops.bin", Length, seed: 16);
        proxy.DropAfter(ProxyDirection.Upload, DropAt, connections: 2, mode: mode);

        var stored = await client.UploadAsync(local, "default/r/put-drops.bin", cancellationToken: Ct);

        Assert.Equal(2, proxy.FaultsInjected(FaultKind.Drop));
        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Length, stored.Size);
        Assert.Equal(Sha256Of(local), context.StoredSha256("r/put-drops.bin"));
        // Sent whole three times: twice cut at DropAt, then completely.
        Assert.InRange(proxy.BytesUploaded, (2 * DropAt) + Length, (2 * DropAt) + Length + (64 * KiB));
        Assert.Empty(context.SessionIds());
    }

    [Fact(Timeout = TestTimeout)]
    public async Task UploadSinglePut_StalledLongerThanStallTimeout_AbandonedAndSentAgain()
    {
        const long Length = 48L * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy, threshold: 64L * MiB, configure: StallClient);
        var local = context.WriteFile("put-stall.bin", Length, seed: 17);
        proxy.Stall(ProxyDirection.Upload, afterBytes: MiB, duration: null, connections: 1);

        var stored = await client.UploadAsync(local, "default/r/put-stall.bin", cancellationToken: Ct);

        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Stall));
        Assert.True(proxy.ConnectionsAccepted >= 2, proxy.ToString());
        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Sha256Of(local), context.StoredSha256("r/put-stall.bin"));
    }

    /// <summary>A create-only PUT whose body arrived (the object was created) but whose answer was lost: repeating it
    /// would answer "already exists" for the caller's own object. The SDK must not repeat it; it reports the outcome
    /// as unknown (a transient network failure).</summary>
    [Fact(Timeout = TestTimeout)]
    public async Task UploadCreateOnly_AnswerLostAfterBodyArrived_ReportsUnknownOutcomeNotAlreadyExists()
    {
        const long Length = 2L * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy, threshold: 64L * MiB);
        var local = context.WriteFile("create-only.bin", Length, seed: 18);
        proxy.DropAfter(ProxyDirection.Download, 0, connections: 1);

        var failure = await Record.ExceptionAsync(() =>
            client.UploadAsync(local, "default/r/create-only.bin", new UploadOptions { Overwrite = false }, cancellationToken: Ct));

        Assert.IsNotType<AlreadyExistsException>(failure);
        var unavailable = Assert.IsType<DepotUnavailableException>(failure);
        Assert.True(unavailable.IsTransient);
        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Drop));
        // The request did reach the server: the object is there, exactly once and exactly the file.
        Assert.Equal(Sha256Of(local), context.StoredSha256("r/create-only.bin"));
        var stat = await context.Client.StatAsync("default/r/create-only.bin", Ct);
        Assert.Equal(Length, stat.Size);
    }

    /// <summary>A create-only upload through a session whose completion answer is lost: the completion is repeated
    /// (it is safe to repeat) and must answer the object the first completion published, not "already exists".</summary>
    [Fact(Timeout = TestTimeout)]
    public async Task UploadSessionCreateOnly_CompletionAnswerLost_RepeatedCompletionReturnsTheObject()
    {
        const long Length = 4L * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy, chunkSize: MiB, configure: o => o.ParallelChunks = 1);
        var local = context.WriteFile("create-only-session.bin", Length, seed: 19);

        // Everything goes over one connection, one request after the other. Hold the last chunk in the middle of its
        // body, so that its answer cannot have started yet...
        proxy.Stall(ProxyDirection.Upload, afterBytes: Length - (MiB / 2), duration: null, connections: 1);
        var upload = client.UploadAsync(local, "default/r/create-only-session.bin", new UploadOptions { Overwrite = false }, cancellationToken: Ct);
        await proxy.WaitForFaultsAsync(FaultKind.Stall, 1, TimeSpan.FromMinutes(2), Ct);
        // ...then let it through with its answer slowed to a trickle, and wait until the server holds every byte...
        proxy.Throttle(ProxyDirection.Download, 20);
        proxy.ReleaseStalls();
        var sessionId = await WaitForSessionAsync(context);
        while ((await context.GetSessionAsync(sessionId, Ct)).BytesReceived < Length)
        {
            await Task.Delay(20, Ct);
        }

        // ...so that the next request, the completion, is held at the proxy once the answer is through...
        proxy.Stall(ProxyDirection.Upload, afterBytes: 0, duration: null, connections: 1);
        proxy.Clear(FaultKind.Throttle);
        await proxy.WaitForFaultsAsync(FaultKind.Stall, 2, TimeSpan.FromMinutes(2), Ct);
        // ...and let the completion through with its answer lost.
        proxy.DropAfter(ProxyDirection.Download, 0, connections: 1);
        proxy.ReleaseStalls();
        var stored = await upload;

        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Drop));
        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Sha256Of(local), context.StoredSha256("r/create-only-session.bin"));
        Assert.True(await context.Server.WaitForLogsAsync(
            logs => logs.Count(l => l.Message.StartsWith($"POST /v1/_uploads/{sessionId}/complete", StringComparison.Ordinal)) >= 2,
            TimeSpan.FromSeconds(30)), "The completion was not sent twice: the fault missed it.");
    }

    /// <summary>An append is not safe to repeat. Whether its answer or its body is lost, it is never sent twice:
    /// the size grows by the appended bytes at most once.</summary>
    [Theory(Timeout = TestTimeout)]
    [InlineData(ProxyDirection.Download, 0L, true)] // the whole append arrived; its answer is lost
    [InlineData(ProxyDirection.Upload, 600_000L, false)] // the connection dies in the middle of the body
    public async Task Append_ConnectionLostAfterRequestMayHaveArrived_NotRepeatedAndSizeNeverDoubles(ProxyDirection direction, long dropAfter, bool arrived)
    {
        const int Length = 2 * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy);
        await context.Client.CreateAppenderAsync("default/r/log.bin", cancellationToken: Ct);
        var bytes = ClientTestContext.RandomBytes(Length, seed: 20);
        proxy.DropAfter(direction, dropAfter, connections: 1);

        var failure = await Record.ExceptionAsync(() => client.AppendAsync("default/r/log.bin", bytes, Ct));

        Assert.IsType<DepotUnavailableException>(failure);
        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Drop));
        var after = await context.Client.StatAsync("default/r/log.bin", Ct);
        Assert.Equal(arrived ? Length : 0, after.Size);
        if (arrived)
        {
            Assert.Equal(Sha256Of(bytes), context.StoredSha256("r/log.bin"));
        }
    }

    /// <summary>A 503 answered instead of the append (the server never saw it) may be retried: the bytes are
    /// appended exactly once.</summary>
    [Fact(Timeout = TestTimeout)]
    public async Task Append_503s_RetriedAndAppendedExactlyOnce()
    {
        const int Length = 2 * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy);
        await context.Client.CreateAppenderAsync("default/r/log503.bin", cancellationToken: Ct);
        var bytes = ClientTestContext.RandomBytes(Length, seed: 24);
        proxy.FailWith503(2);

        var appended = await client.AppendAsync("default/r/log503.bin", bytes, Ct);

        Assert.Equal(2, proxy.ServiceUnavailableSent);
        Assert.Equal(Length, appended.Size);
        Assert.Equal(Length, (await context.Client.StatAsync("default/r/log503.bin", Ct)).Size);
        Assert.Equal(Sha256Of(bytes), context.StoredSha256("r/log503.bin"));
    }

    /// <summary>A client whose first server is <paramref name="dead"/> and whose second is the real one.</summary>
    private static DepotClient FailoverClient(ClientTestContext context, Uri dead, Action<DepotClientOptions>? configure = null) =>
        context.CreateClient(configure: o =>
        {
            o.Servers.Clear();
            o.Servers.Add(dead);
            o.Servers.Add(context.Server.BaseUrl);
            configure?.Invoke(o);
        });

    /// <summary>The first server accepts connections and resets them at once (a server that accepts but dies); the
    /// second is the real one. A session upload (whose first request creates the session) must end up there.</summary>
    [Theory(Timeout = TestTimeout)]
    [InlineData("reset")]
    [InlineData("fin")]
    [InlineData("refused")]
    public async Task Failover_FirstServerDeadSessionUpload_FinishesOnTheSecond(string how)
    {
        const long Length = 6L * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var dead = await StartDeadServerAsync(context, how);
        var client = FailoverClient(context, dead.Url, o =>
        {
            o.ResumableThreshold = MiB;
            o.ChunkSize = MiB;
        });
        var local = context.WriteFile("failover-session.bin", Length, seed: 21);

        var stored = await client.UploadAsync(local, "default/r/failover-session.bin", cancellationToken: Ct);

        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Sha256Of(local), context.StoredSha256("r/failover-session.bin"));
        Assert.Equal(context.Server.BaseUrl, client.CurrentServer);
        Assert.Equal(0, dead.BytesForwarded);
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData("reset")]
    [InlineData("fin")]
    [InlineData("refused")]
    public async Task Failover_FirstServerDeadSinglePutAndDownload_WorkOnTheSecond(string how)
    {
        const long Length = 3L * MiB;
        await using var context = await ClientTestContext.StartAsync();
        await using var dead = await StartDeadServerAsync(context, how);
        var client = FailoverClient(context, dead.Url);
        var local = context.WriteFile("failover-put.bin", Length, seed: 22);

        var stored = await client.UploadAsync(local, "default/r/failover-put.bin", cancellationToken: Ct);
        var back = Path.Combine(context.Scratch, "failover-back.bin");
        await client.DownloadAsync("default/r/failover-put.bin", back, cancellationToken: Ct);

        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Sha256Of(local), Sha256Of(back));
        Assert.Equal(context.Server.BaseUrl, client.CurrentServer);
    }

    /// <summary>A short stall timeout; an answer timeout beyond the test's limit, so that only the stall watch can
    /// end a held attempt in time; a single chunk in flight.</summary>
    private static void StallClient(DepotClientOptions options)
    {
        options.StallTimeout = TimeSpan.FromSeconds(2);
        options.Timeout = TimeSpan.FromMinutes(10);
        options.ParallelChunks = 1;
    }

    /// <summary>The URL of a first server that is dead in the way <paramref name="how"/> says: it accepts connections
    /// and resets them, or closes them (FIN), or nothing listens (connection refused).</summary>
    private static async Task<DeadServer> StartDeadServerAsync(ClientTestContext context, string how)
    {
        if (how == "refused")
        {
            // Bound but not listening: connections are refused, and no one else can take the port meanwhile.
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            return new DeadServer(new Uri($"http://127.0.0.1:{((IPEndPoint)socket.LocalEndPoint!).Port}/"), null, socket);
        }

        var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        proxy.RefuseConnections(mode: how == "fin" ? DropMode.Fin : DropMode.Reset);
        return new DeadServer(proxy.Url, proxy, null);
    }

    private sealed record DeadServer(Uri Url, FaultProxy? Proxy, Socket? Socket) : IAsyncDisposable
    {
        public long BytesForwarded => Proxy?.BytesUploaded ?? 0;

        public async ValueTask DisposeAsync()
        {
            Socket?.Dispose();
            if (Proxy is not null)
            {
                await Proxy.DisposeAsync();
            }
        }
    }

    private static async Task<string> WaitForSessionAsync(ClientTestContext context)
    {
        Assert.True(await context.Server.WaitForLogsAsync(_ => context.SessionIds().Count == 1, TimeSpan.FromMinutes(1)), "No chunk was logged.");
        return context.SessionIds()[0];
    }
}
