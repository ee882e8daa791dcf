using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Depot.Core.Uploads;
using Depot.Server.Hosting;
using Depot.Server.Tests.Http;
using Depot.Server.Tests.Infrastructure;
using Depot.Server.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Tests.Policy;

/// <summary>The C# upload policy extension point (<c>AddDepot().AddUploadPolicy(..)</c>), hosted in a real server: refusing
/// before any byte moves, choosing the key, hearing completions and cancellations, and how several policies combine
/// (docs/uploads-policy.md).</summary>
public sealed class UploadPolicyTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Decide_RefusesBySize_Answers403WithTheReasonAndStoresNothing()
    {
        var policy = new RecordingPolicy { Decide = p => p.Length > 1000 ? UploadDecision.Reject("files over 1000 bytes go to the archive server") : UploadDecision.Allow };
        await using var server = await StartAsync(policy);

        using var refused = await NativeUploads.CreateAsync(server.Client, new JsonObject { ["key"] = "big.bin", ["length"] = 5000 }, Ct);
        var problem = await Problem.AssertAsync(refused, HttpStatusCode.Forbidden, "forbidden");
        Assert.Contains("files over 1000 bytes go to the archive server", problem.GetProperty("detail").GetString());

        // Refused at creation: no session was staged and nothing is at the key.
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "big.bin")));
        Assert.Empty(StagedUploads(server));
        var proposal = Assert.Single(policy.Proposals);
        Assert.Equal(5000, proposal.Length);
        Assert.Equal("big.bin", proposal.Key);
        Assert.Equal(UploadProtocols.Native, proposal.Protocol);

        var small = TestBytes.Random(1000, seed: 1);
        await NativeUploads.UploadAsync(server.Client, "default", "small.bin", small, Ct);
        Assert.Equal(small, await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "small.bin"), Ct));
    }

    [Fact]
    public async Task Decide_RefusesByName_Answers403WithTheReason()
    {
        var policy = new RecordingPolicy { Decide = p => p.Key?.EndsWith(".exe", StringComparison.Ordinal) == true ? UploadDecision.Reject("no executables") : UploadDecision.Allow };
        await using var server = await StartAsync(policy);

        using var refused = await NativeUploads.CreateAsync(server.Client, new JsonObject { ["key"] = "tools/setup.exe", ["length"] = 10 }, Ct);

        var problem = await Problem.AssertAsync(refused, HttpStatusCode.Forbidden, "forbidden");
        Assert.Contains("no executables", problem.GetProperty("detail").GetString());
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "tools")));
    }

    [Fact]
    public async Task Decide_ChoosesAKey_TheObjectLandsThereAndNotAtTheKeyAskedFor()
    {
        var policy = new RecordingPolicy { Decide = p => UploadDecision.AllowAt("incoming/" + p.Identity + "/" + p.Key) };
        await using var server = await StartAsync(policy);
        var bytes = TestBytes.Random(3000, seed: 2);

        var completed = await NativeUploads.UploadAsync(server.Client, "default", "report.pdf", bytes, Ct);

        Assert.Equal("incoming/admin/report.pdf", completed.GetProperty("key").GetString());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "incoming", "admin", "report.pdf"), Ct));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "report.pdf")));
        using var get = await server.Client.GetAsync("v1/default/incoming/admin/report.pdf", Ct);
        Assert.Equal(TestBytes.ETagOf(bytes), get.Headers.ETag?.ToString());
    }

    [Fact]
    public async Task Events_CompletedAndCancelled_ReachThePolicyWithIdentityAndObject()
    {
        var policy = new RecordingPolicy();
        await using var server = await StartAsync(policy);
        var key = await server.CreateKeyAsync(["write"], name: "uploader");
        var client = server.CreateClient(key.Token);
        var bytes = TestBytes.Random(4096, seed: 3);

        var completed = await NativeUploads.UploadAsync(client, "default", "events/done.bin", bytes, Ct);
        using var created = await NativeUploads.CreateAsync(client, new JsonObject { ["key"] = "events/abandoned.bin", ["length"] = 100 }, Ct);
        var abandoned = await NativeUploads.ReadJsonAsync(created, HttpStatusCode.Created, Ct);
        var abandonedUrl = abandoned.GetProperty("url").GetString()!;
        using (var part = await NativeUploads.SendAsync(client, abandonedUrl, 0, new byte[40], Ct))
        {
            Assert.Equal(HttpStatusCode.OK, part.StatusCode);
        }

        using (var aborted = await client.DeleteAsync(abandonedUrl.TrimStart('/'), Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, aborted.StatusCode);
        }

        var done = Assert.Single(policy.Completed);
        Assert.Equal(key.Id, done.Identity);
        Assert.Equal(completed.GetProperty("id").GetString(), done.SessionId);
        Assert.Equal(UploadProtocols.Native, done.Protocol);
        Assert.Equal("events/done.bin", done.Object.Key);
        Assert.Equal(4096, done.Object.Size);
        Assert.Equal(TestBytes.Sha256Hex(bytes), done.Object.Sha256Hex);

        var cancelled = Assert.Single(policy.Cancelled);
        Assert.Equal(key.Id, cancelled.Identity);
        Assert.Equal(abandoned.GetProperty("id").GetString(), cancelled.SessionId);
        Assert.Equal("events/abandoned.bin", cancelled.Key);
        Assert.Equal("aborted", cancelled.Reason);
        Assert.Equal(40, cancelled.BytesReceived);
    }

    [Fact]
    public async Task Policies_AllAllow_EachSeesTheKeyChosenSoFarAndTheLastChoiceWins()
    {
        var first = new RecordingPolicy { Decide = p => UploadDecision.AllowAt("a/" + p.Key) };
        var second = new RecordingPolicy { Decide = p => UploadDecision.AllowAt("b/" + p.Key) };
        var third = new RecordingPolicy();
        await using var server = await StartAsync(first, second, third);

        var completed = await NativeUploads.UploadAsync(server.Client, "default", "x.txt", [1, 2, 3], Ct);

        Assert.Equal("b/a/x.txt", completed.GetProperty("key").GetString());
        Assert.Equal("x.txt", Assert.Single(first.Proposals).Key);
        Assert.Equal("a/x.txt", Assert.Single(second.Proposals).Key);
        Assert.Equal("b/a/x.txt", Assert.Single(third.Proposals).Key);
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "b", "a", "x.txt")));
        // Every policy hears the completion.
        Assert.Single(first.Completed);
        Assert.Single(second.Completed);
        Assert.Single(third.Completed);
    }

    [Fact]
    public async Task Policies_OneRefuses_TheUploadIsRefusedAndLaterPoliciesAreNotAsked()
    {
        var first = new RecordingPolicy();
        var second = new RecordingPolicy { Decide = _ => UploadDecision.Reject("quota exceeded") };
        var third = new RecordingPolicy();
        await using var server = await StartAsync(first, second, third);

        using var refused = await NativeUploads.CreateAsync(server.Client, new JsonObject { ["key"] = "q.bin", ["length"] = 1 }, Ct);

        var problem = await Problem.AssertAsync(refused, HttpStatusCode.Forbidden, "forbidden");
        Assert.Contains("quota exceeded", problem.GetProperty("detail").GetString());
        Assert.Single(first.Proposals);
        Assert.Single(second.Proposals);
        Assert.Empty(third.Proposals);
    }

    [Fact]
    public async Task Notification_ThatThrows_IsLoggedAndTheUploadStands()
    {
        var failing = new RecordingPolicy { FailNotifications = true };
        var after = new RecordingPolicy();
        await using var server = await StartAsync(failing, after);
        var bytes = TestBytes.Random(100, seed: 4);

        await NativeUploads.UploadAsync(server.Client, "default", "stands.bin", bytes, Ct);

        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "stands.bin"), Ct));
        Assert.Single(after.Completed); // a failing policy does not keep the others from hearing it
        Assert.Contains(server.Logs, l => l.Category == typeof(UploadPolicyPipeline).FullName && l.Level == LogLevel.Warning
            && l.Exception?.Contains("notification failed on purpose", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Decide_ThatThrows_RefusesWith503UnavailableAndLogsIt()
    {
        var broken = new RecordingPolicy { Decide = _ => throw new InvalidOperationException("the quota database is down") };
        await using var server = await StartAsync(broken);

        using var refused = await NativeUploads.CreateAsync(server.Client, new JsonObject { ["key"] = "closed.bin", ["length"] = 10 }, Ct);

        await Problem.AssertAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Empty(StagedUploads(server));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "closed.bin")));
        Assert.Contains(server.Logs, l => l.Category == typeof(UploadPolicyPipeline).FullName && l.Level == LogLevel.Error
            && l.Exception?.Contains("the quota database is down", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task AddUploadPolicy_ByType_IsResolvedFromTheContainerWithItsDependencies()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.ConfigureServices = services =>
        {
            services.AddSingleton(new PrefixSetting("typed/"));
            services.AddDepot().AddUploadPolicy<TypedPolicy>();
        });

        var completed = await NativeUploads.UploadAsync(server.Client, "default", "t.bin", [9], Ct);

        Assert.Equal("typed/t.bin", completed.GetProperty("key").GetString());
        var pipeline = Assert.IsType<UploadPolicyPipeline>(server.Services.GetRequiredService<IUploadPolicy>());
        Assert.IsType<TypedPolicy>(Assert.Single(pipeline.Policies));
    }

    internal static Task<DepotTestServer> StartAsync(params IUploadPolicy[] policies) =>
        DepotTestServer.StartAsync(configure: (o, _) => o.ConfigureServices = services =>
        {
            var depot = services.AddDepot();
            foreach (var policy in policies)
            {
                depot.AddUploadPolicy(policy);
            }
        });

    private static string[] StagedUploads(DepotTestServer server)
    {
        var folder = Path.Combine(server.StateDirectory, "uploads");
        return Directory.Exists(folder) ? Directory.GetFiles(folder) : [];
    }

    internal sealed record PrefixSetting(string Prefix);

    internal sealed class TypedPolicy(PrefixSetting setting) : IUploadPolicy
    {
        public ValueTask<UploadDecision> DecideAsync(UploadProposal proposal, CancellationToken cancellationToken) =>
            ValueTask.FromResult(UploadDecision.AllowAt(setting.Prefix + proposal.Key));

        public ValueTask CompletedAsync(UploadCompleted completed, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask CancelledAsync(UploadCancelled cancelled, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}

/// <summary>A policy for tests: decides with <see cref="Decide"/> and records everything it is told.</summary>
internal sealed class RecordingPolicy : IUploadPolicy
{
    public Func<UploadProposal, UploadDecision> Decide { get; init; } = _ => UploadDecision.Allow;

    public bool FailNotifications { get; init; }

    public ConcurrentQueue<UploadProposal> Proposals { get; } = new();

    public ConcurrentQueue<UploadCompleted> Completed { get; } = new();

    public ConcurrentQueue<UploadCancelled> Cancelled { get; } = new();

    public ValueTask<UploadDecision> DecideAsync(UploadProposal proposal, CancellationToken cancellationToken)
    {
        Proposals.Enqueue(proposal);
        return ValueTask.FromResult(Decide(proposal));
    }

    public ValueTask CompletedAsync(UploadCompleted completed, CancellationToken cancellationToken)
    {
        Completed.Enqueue(completed);
        return FailNotifications ? throw new InvalidOperationException("notification failed on purpose") : ValueTask.CompletedTask;
    }

    public ValueTask CancelledAsync(UploadCancelled cancelled, CancellationToken cancellationToken)
    {
        Cancelled.Enqueue(cancelled);
        return FailNotifications ? throw new InvalidOperationException("notification failed on purpose") : ValueTask.CompletedTask;
    }
}
