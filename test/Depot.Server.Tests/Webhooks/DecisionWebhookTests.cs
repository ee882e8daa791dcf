using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Depot.Server.Tests.Http;
using Depot.Server.Tests.Infrastructure;
using Depot.Server.Tests.Policy;
using Depot.Server.Tests.ProcessTests;
using Depot.Server.Webhooks;

namespace Depot.Server.Tests.Webhooks;

/// <summary>The synchronous decision webhook (<c>upload.proposed</c>): the endpoint decides before any byte moves, may
/// choose the key, and an endpoint that fails to answer refuses the upload (fail closed). Also <c>depot serve --webhook</c>.</summary>
public sealed class DecisionWebhookTests
{
    private const string Secret = "decision-secret-0123456789";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Proposal_Refused_Answers403WithTheReasonAndStoresNothing()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = (_, _) => (200, """{"allow":false,"reason":"this camera is not registered"}""");
        await using var server = await StartAsync(receiver);
        var key = await server.CreateKeyAsync(["write"]);

        using var refused = await NativeUploads.CreateAsync(server.CreateClient(key.Token), new JsonObject { ["key"] = "cam/1.jpg", ["length"] = 77, ["sha256"] = TestBytes.Sha256Hex([1]) }, Ct);

        var problem = await Problem.AssertAsync(refused, HttpStatusCode.Forbidden, "forbidden");
        Assert.Contains("this camera is not registered", problem.GetProperty("detail").GetString());
        var proposal = Assert.Single(receiver.Received);
        Assert.Equal(WebhookEvents.UploadProposed, proposal.Header("X-Depot-Event"));
        Assert.True(WebhookDeliveryTests.VerifyIndependently(Secret, proposal.Header("X-Depot-Signature"), proposal.Body));
        var body = JsonDocument.Parse(proposal.Body).RootElement;
        Assert.Equal("upload.proposed", body.GetProperty("event").GetString());
        Assert.Equal(proposal.Header("X-Depot-Delivery"), body.GetProperty("deliveryId").GetString());
        Assert.Equal(key.Id, body.GetProperty("identity").GetString());
        Assert.Equal("default", body.GetProperty("bucket").GetString());
        Assert.Equal("cam/1.jpg", body.GetProperty("key").GetString());
        Assert.Equal(77, body.GetProperty("size").GetInt64());
        Assert.Equal(TestBytes.Sha256Hex([1]), body.GetProperty("sha256").GetString());
        Assert.Equal("native", body.GetProperty("protocol").GetString());
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "cam")));
    }

    [Fact]
    public async Task Proposal_AllowedAtAKey_TheObjectLandsThere()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = (hook, _) => (200, $$"""{"allow":true,"key":"sorted/{{JsonDocument.Parse(hook.Body).RootElement.GetProperty("key").GetString()}}"}""");
        await using var server = await StartAsync(receiver);
        var bytes = TestBytes.Random(123, seed: 1);

        var completed = await NativeUploads.UploadAsync(server.Client, "default", "inbox/a.txt", bytes, Ct);

        Assert.Equal("sorted/inbox/a.txt", completed.GetProperty("key").GetString());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "sorted", "inbox", "a.txt"), Ct));
        // A decision endpoint gets proposals only: it did not ask for the notifications.
        await Task.Delay(300, Ct);
        Assert.Single(receiver.Received);
    }

    [Theory]
    [InlineData(500, null)]
    [InlineData(200, "not json")]
    [InlineData(200, "null")]
    [InlineData(302, null)]
    public async Task Proposal_WithoutAUsableAnswer_RefusesTheUploadWith503(int status, string? answer)
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = (_, _) => (status, answer);
        await using var server = await StartAsync(receiver);

        using var refused = await NativeUploads.CreateAsync(server.Client, new JsonObject { ["key"] = "closed.bin", ["length"] = 1 }, Ct);

        await Problem.AssertAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "closed.bin")));
    }

    [Fact]
    public async Task Proposal_NotAnsweredInTime_RefusesTheUploadWith503()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Delay = TimeSpan.FromSeconds(10);
        await using var server = await StartAsync(receiver, decisionTimeout: TimeSpan.FromMilliseconds(300));

        using var refused = await NativeUploads.CreateAsync(server.Client, new JsonObject { ["key"] = "late.bin", ["length"] = 1 }, Ct);

        await Problem.AssertAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Contains(server.LogLines, l => l.Contains("did not answer within", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Manifest_DecisionWebhookRefusals_AreThoseFilesAnswers()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = (hook, _) => JsonDocument.Parse(hook.Body).RootElement.GetProperty("clientName").GetString()!.EndsWith(".tmp", StringComparison.Ordinal)
            ? (200, """{"allow":false,"reason":"temporary files stay home"}""")
            : (200, """{"allow":true}""");
        await using var server = await StartAsync(receiver);
        var body = new JsonObject
        {
            ["prefix"] = "sync",
            ["files"] = new JsonArray(
                new JsonObject { ["name"] = "keep.txt", ["size"] = 1, ["sha256"] = TestBytes.Sha256Hex([1]) },
                new JsonObject { ["name"] = "skip.tmp", ["size"] = 1, ["sha256"] = TestBytes.Sha256Hex([2]) }),
        };

        using var response = await server.Client.PostAsync("v1/_manifests", NativeUploads.Json(body), Ct);

        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        var files = manifest.GetProperty("files").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.Equal("accepted", files["keep.txt"].GetProperty("status").GetString());
        Assert.Equal("rejected", files["skip.tmp"].GetProperty("status").GetString());
        Assert.Contains("temporary files stay home", files["skip.tmp"].GetProperty("reason").GetString());
        Assert.All(receiver.Received, r => Assert.Equal("manifest", JsonDocument.Parse(r.Body).RootElement.GetProperty("protocol").GetString()));
        Assert.Equal(2, receiver.Received.Count); // asked once per file
    }

    [Fact]
    public async Task Serve_WebhookFlag_SignsWithTheSecretFromTheEnvironment()
    {
        using var data = new TempDirectory("webhook-flag");
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var process = await ServerProcess.StartAsync(data.Path, extraArgs: ["--webhook", receiver.Url()], environment: new Dictionary<string, string> { ["DEPOT_WEBHOOK_SECRET"] = Secret });
        using var client = process.CreateClient();

        await NativeUploads.UploadAsync(client, "default", "flag.bin", [5, 6], Ct);

        var hook = Assert.Single(await receiver.WaitForAsync(1));
        Assert.Equal(WebhookEvents.UploadCompleted, hook.Header("X-Depot-Event"));
        Assert.True(WebhookDeliveryTests.VerifyIndependently(Secret, hook.Header("X-Depot-Signature"), hook.Body));
        Assert.DoesNotContain(Secret, process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_WebhookFlagWithoutASecret_ExitsWith2AndSaysWhatIsMissing()
    {
        using var data = new TempDirectory("webhook-nosecret");
        await using var process = ServerProcess.Launch(data.Path, extraArgs: ["--webhook", "http://127.0.0.1:9/hook"], environment: new Dictionary<string, string> { ["DEPOT_WEBHOOK_SECRET"] = "" });

        Assert.Equal(2, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("DEPOT_WEBHOOK_SECRET", process.StandardError, StringComparison.Ordinal);
    }

    private static Task<DepotTestServer> StartAsync(WebhookReceiver receiver, TimeSpan? decisionTimeout = null) =>
        DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Webhooks.Add(new WebhookEndpoint { Url = receiver.Url(), Secret = Secret, Events = [WebhookEvents.UploadProposed] });
            if (decisionTimeout is { } timeout)
            {
                o.WebhookDelivery.DecisionTimeout = timeout;
            }
        });
}
