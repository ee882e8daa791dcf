using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;
using static Depot.Server.Tests.ProcessTests.ProcessTestSupport;

namespace Depot.Server.Tests.ProcessTests;

/// <summary>
/// <c>depot serve</c> as an operator meets it: SIGTERM (graceful stop), what it prints on start, the generated admin key
/// (design §5: "printed once"), and a second server refused on a data directory in use.
/// </summary>
public sealed partial class ShutdownTests : IAsyncDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dir = new("shutdown");
    private readonly List<ServerProcess> _servers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DataDir => _dir.Path;

    [Fact]
    public async Task Sigterm_DuringUploadThatNeverFinishes_ExitsZeroAndStoresNothing()
    {
        // The shutdown timeout (default 30 s) is shortened through --config only to keep the test quick; what is
        // checked is that the process ends, not how fast.
        using var configFolder = new TempDirectory("shutdown-config");
        var config = Path.Combine(configFolder.Path, "depot.json");
        await File.WriteAllTextAsync(config, """{ "ShutdownTimeout": "00:00:05" }""", Ct);
        var server = await ServerProcess.StartAsync(DataDir, extraArgs: ["--config", config]);
        _servers.Add(server);
        using var client = server.CreateClient(timeout: Timeout.InfiniteTimeSpan);
        var body = new PausingBodyStream(512 * MiB, seed: 7, pauseAfter: 4 * MiB);
        var upload = StartUpload(client, "inflight/never.bin", body, 512 * MiB);
        await WaitForStagedBytesAsync(server, 2 * MiB, upload);

        server.SendSigterm();
        // Graceful shutdown waits for requests in flight up to its timeout, then aborts them; either way it must end.
        var exitCode = await server.WaitForExitAsync(ExitTimeout);
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{server.Output}");
        Assert.NotEqual(HttpStatusCode.Created, await EndAsync(upload, body));
        Assert.False(File.Exists(Path.Combine(DataDir, "inflight", "never.bin")), "a partial object is visible on disk");

        var restarted = await StartAsync();
        Assert.Empty(StagedEntries(DataDir));
        using var after = restarted.CreateClient();
        using var get = await after.GetAsync(ObjectPath("inflight/never.bin"), Ct);
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Sigterm_WhenIdle_ExitsZero()
    {
        var server = await StartAsync();

        var exitCode = await server.StopAsync(ExitTimeout);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{server.Output}");
    }

    [Fact]
    public async Task Start_WithAdminKeyInEnvironment_PrintsUrlAndNeverTheKey()
    {
        var server = await StartAsync();
        Assert.Equal(0, await server.StopAsync(ExitTimeout));

        var stdout = server.StandardOutput;
        Assert.Contains($"Depot is serving {DataDir} as bucket 'default' at {server.BaseUrl}/v1/default/", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("dpk_", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(ServerProcess.DefaultAdminKey, server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithoutAdminKey_PrintsGeneratedKeyOnceAndItWorks()
    {
        var server = await StartAsync(adminKey: null);
        var key = await GeneratedKeyAsync(server);

        using (var client = server.CreateClient(bearer: key))
        using (var buckets = await client.GetAsync(DepotRoutes.Buckets, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, buckets.StatusCode);
        }

        using (var anonymous = new HttpClient { BaseAddress = new Uri(server.BaseUrl) })
        using (var refused = await anonymous.GetAsync(DepotRoutes.Buckets, Ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode); // the key is what made the difference
        }

        Assert.Equal(0, await server.StopAsync(ExitTimeout));
        Assert.Single(GeneratedKey().Matches(server.Output));
    }

    [Fact]
    public async Task Restart_WithoutAdminKey_DoesNotPrintKeyAgainAndFirstKeyStillWorks()
    {
        var first = await StartAsync(adminKey: null);
        var key = await GeneratedKeyAsync(first);
        Assert.Equal(0, await first.StopAsync(ExitTimeout));

        var second = await StartAsync(adminKey: null);
        using (var client = second.CreateClient(bearer: key))
        using (var buckets = await client.GetAsync(DepotRoutes.Buckets, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, buckets.StatusCode);
        }

        Assert.Equal(0, await second.StopAsync(ExitTimeout)); // all output is in once the process has exited
        Assert.Empty(GeneratedKey().Matches(second.Output));
        Assert.DoesNotContain("Admin key", second.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_OnDataDirectoryInUse_FailsWithClearMessageAndLeavesRunningServerAlone()
    {
        var first = await StartAsync();
        using var client = first.CreateClient(timeout: Timeout.InfiniteTimeSpan);
        var body = new PausingBodyStream(64 * MiB, seed: 8, pauseAfter: 4 * MiB);
        var upload = StartUpload(client, "inuse/upload.bin", body, 64 * MiB);
        await WaitForStagedBytesAsync(first, 2 * MiB, upload);
        var staged = StagedEntries(DataDir);

        var second = ServerProcess.Launch(DataDir);
        _servers.Add(second);
        var exitCode = await second.WaitForExitAsync(ExitTimeout);

        Assert.True(exitCode != 0, $"the second server exited with 0\n{second.Output}");
        Assert.Contains("Another Depot server is using", second.StandardError, StringComparison.Ordinal);
        Assert.Contains(DataDir, second.StandardError, StringComparison.Ordinal);
        // The refused server must not have swept the running one's staged upload, nor disturbed it otherwise.
        Assert.Equal(staged, StagedEntries(DataDir));
        await AssertHealthyAsync(first);
        await EndAsync(upload, body);
    }

    [Fact]
    public async Task Start_OnPortInUse_FailsWithClearMessageAndNonZeroExit()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        var server = ServerProcess.Launch(DataDir, port: port);
        _servers.Add(server);
        var exitCode = await server.WaitForExitAsync(ExitTimeout);

        Assert.True(exitCode != 0, $"exited with 0\n{server.Output}");
        Assert.Contains($"127.0.0.1:{port}", server.StandardError, StringComparison.Ordinal);
        // An operator's mistake gets one line saying what is wrong (like every other refusal), not a crash report.
        Assert.DoesNotContain("Unhandled exception", server.Output, StringComparison.Ordinal);
        Assert.StartsWith("depot serve:", server.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithoutAdminKeyThatFailsToListen_NextStartStillPrintsAWorkingKey()
    {
        using (var occupant = new TcpListener(IPAddress.Loopback, 0))
        {
            occupant.Start();
            var failed = ServerProcess.Launch(DataDir, adminKey: null, port: ((IPEndPoint)occupant.LocalEndpoint).Port);
            _servers.Add(failed);
            Assert.NotEqual(0, await failed.WaitForExitAsync(ExitTimeout));
            Assert.Empty(GeneratedKey().Matches(failed.Output)); // never shown to anyone
        }

        var next = await StartAsync(adminKey: null);
        Assert.Equal(0, await next.StopAsync(ExitTimeout)); // all output is in once the process has exited

        // Without a key shown, nobody could ever administer this server: a start that showed none must not have
        // stored one, so the next start generates and shows it.
        var printed = GeneratedKey().Match(next.StandardOutput);
        Assert.True(printed.Success, $"no admin key was ever printed for this data directory\n{next.Output}");
        var server = await StartAsync(adminKey: null);
        using var client = server.CreateClient(bearer: printed.Value);
        using var buckets = await client.GetAsync(DepotRoutes.Buckets, Ct);
        Assert.Equal(HttpStatusCode.OK, buckets.StatusCode);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        _dir.Dispose();
    }

    [GeneratedRegex(@"dpk_[A-Za-z0-9_\-]+")]
    private static partial Regex GeneratedKey();

    private static async Task<string> GeneratedKeyAsync(ServerProcess server)
    {
        var line = await server.WaitForOutputLineAsync(l => l.Contains("dpk_", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        return GeneratedKey().Match(line).Value;
    }

    private async Task<ServerProcess> StartAsync(string? adminKey = ServerProcess.DefaultAdminKey)
    {
        var server = await ServerProcess.StartAsync(DataDir, adminKey);
        _servers.Add(server);
        return server;
    }
}
