using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Depot.Core.Uploads;
using Depot.Server.Hosting;
using Depot.Server.Tests.Http;
using Depot.Server.Tests.Infrastructure;
using static Depot.Server.Tests.IndexedCp.IndexedCpClient;

namespace Depot.Server.Tests.IndexedCp;

/// <summary>The IndexedCP door and the upload policy (IndexedCP's filename generator becomes the policy's key choice),
/// plus the answers a client can meet beyond the common ones: rate limits, bodies without Content-Length, objects
/// changed behind an upload.</summary>
public sealed class IndexedCpPolicyTests
{
    private const int MiB = 1 << 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PolicyRefuses_Answers403WithItsReason_AndStoresNothing()
    {
        var policy = new RecordingPolicy(p => p.ClientName == "secret.txt" ? UploadDecision.Reject("No secrets here.") : UploadDecision.Allow);
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.ConfigureServices = s => s.AddDepot().AddUploadPolicy(policy));
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);

        using var response = await SendChunkAsync(client, "secret.txt", 0, TestBytes.Random(100, seed: 1));

        var body = await AssertErrorAsync(response, HttpStatusCode.Forbidden, "Access denied", "forbidden", hasMessage: true);
        Assert.Contains("No secrets here.", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "secret.txt")));
    }

    [Fact]
    public async Task PolicyChoosesTheKey_ActualFilenameIsIt_AndEveryChunkJoinsThatUpload()
    {
        var calls = 0;
        var policy = new RecordingPolicy(p => UploadDecision.AllowAt($"inbox/{Interlocked.Increment(ref calls)}-{p.ClientName}"));
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.ConfigureServices = s => s.AddDepot().AddUploadPolicy(policy));
        var key = await server.CreateKeyAsync(["write"], name: "field device 7");
        var client = server.CreateClient(key.Token);
        var file = TestBytes.Random(2 * MiB + 5, seed: 2);

        // Like IndexedCP's filename generator, this policy names every upload differently: the name is chosen once.
        await UploadAsync(client, "scan.png", file, "inbox/1-scan.png");

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "inbox/1-scan.png"));
        Assert.Equal(new long[] { 0, 1, 2 }, await StatusAsync(client, "scan.png"));
        var proposal = Assert.Single(policy.Proposals);
        Assert.Equal(UploadProtocols.IndexedCp, proposal.Protocol);
        Assert.Equal("scan.png", proposal.ClientName);
        Assert.Equal("scan.png", proposal.Key);
        Assert.Equal(key.Id, proposal.Identity);
        Assert.Null(proposal.Length);
        var completed = Assert.Single(policy.Completed);
        Assert.Equal("inbox/1-scan.png", completed.Object.Key);
    }

    [Fact]
    public async Task RateLimitedKey_Answers429InTheProtocolShape()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"], rateLimit: 1)).Token);
        var file = TestBytes.Random(3000, seed: 3);

        using var first = await SendChunkAsync(client, "slow.bin", 0, file);
        using var second = await SendChunkAsync(client, "slow.bin", 0, file);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await AssertErrorAsync(second, HttpStatusCode.TooManyRequests, "Too many requests", "rate_limited", hasMessage: true);
        Assert.NotNull(second.Headers.RetryAfter);
    }

    [Fact]
    public async Task ChunkWithoutContentLength_IsMeasuredAndPlaced()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(MiB + 4242, seed: 4);

        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "upload");
            request.Headers.Add("X-Chunk-Index", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add("X-File-Name", "streamed.bin");
            request.Headers.TransferEncodingChunked = true;
            request.Content = new StreamContent(new MemoryStream(Chunk(file, i).ToArray()));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await client.SendAsync(request, Ct);
            await AssertReceivedAsync(response, "streamed.bin", i, "streamed.bin");
        }

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "streamed.bin"));
    }

    [Fact]
    public async Task ObjectReplacedAfterTheUpload_StatusForgetsIt_AndAChunkStartsANewUpload()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(MiB + 100, seed: 5);
        await UploadAsync(client, "shared.txt", file, "shared.txt");
        var other = TestBytes.Random(50, seed: 6);
        using (var put = await server.Client.PutAsync("v1/default/shared.txt", new ByteArrayContent(other), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        Assert.Empty(await StatusAsync(client, "shared.txt"));
        using (var resent = await SendChunkAsync(client, "shared.txt", 1, Chunk(file, 1)))
        {
            await AssertReceivedAsync(resent, "shared.txt", 1, "shared.txt"); // not "already received": the object changed
        }

        Assert.Equal(new long[] { 1 }, await StatusAsync(client, "shared.txt"));
        Assert.Equal(Sha256(other), Sha256OnDisk(server, "shared.txt"));
    }

    /// <summary>Decides with a function and records what it was asked and told.</summary>
    private sealed class RecordingPolicy(Func<UploadProposal, UploadDecision> decide) : IUploadPolicy
    {
        public ConcurrentQueue<UploadProposal> Proposals { get; } = new();

        public ConcurrentQueue<UploadCompleted> Completed { get; } = new();

        public ValueTask<UploadDecision> DecideAsync(UploadProposal proposal, CancellationToken cancellationToken)
        {
            Proposals.Enqueue(proposal);
            return ValueTask.FromResult(decide(proposal));
        }

        public ValueTask CompletedAsync(UploadCompleted completed, CancellationToken cancellationToken)
        {
            Completed.Enqueue(completed);
            return ValueTask.CompletedTask;
        }

        public ValueTask CancelledAsync(UploadCancelled cancelled, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
