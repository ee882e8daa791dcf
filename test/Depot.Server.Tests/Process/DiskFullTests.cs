using System.Diagnostics;
using System.Net;
using Depot.Server.Tests.Infrastructure;
using static Depot.Server.Tests.ProcessTests.ProcessTestSupport;

namespace Depot.Server.Tests.ProcessTests;

/// <summary>
/// A bucket on a device that fills up (an 8 MiB tmpfs): the upload fails with <c>507 insufficient_storage</c>,
/// nothing partial is visible or left staged, and what was stored before stays intact (design §2, invariants 3 and 7).
/// </summary>
/// <remarks>Mounting needs root; CI runs as root. Without it these tests fail with a message saying so.</remarks>
public sealed class DiskFullTests : IAsyncLifetime
{
    private const string DeviceSize = "8m";
    private readonly TempDirectory _dir = new("diskfull");
    private readonly List<ServerProcess> _servers = [];
    private bool _mounted;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DataDir => _dir.Path;

    public async ValueTask InitializeAsync()
    {
        var (code, output) = await RunAsync("mount", "-t", "tmpfs", "-o", $"size={DeviceSize}", "tmpfs", DataDir);
        if (code != 0)
        {
            Assert.Fail($"These tests mount a small tmpfs and need root (CI runs as root): `mount -t tmpfs -o size={DeviceSize} tmpfs {DataDir}` failed with exit code {code}: {output}");
        }

        _mounted = true;
    }

    [Fact]
    public async Task ChunkedPut_LargerThanDevice_Answers507AndLeavesNothingBehind()
    {
        var server = await StartAsync();
        using var client = server.CreateClient(timeout: TimeSpan.FromSeconds(120));
        var small = SeededBytes.Create(64 << 10, seed: 20);
        using (var put = await PutBytesAsync(client, "keep/small.bin", small))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        // Chunked, so the server cannot know the size up front: the device fills while the bytes are written.
        var body = new PausingBodyStream(32 * MiB, seed: 21, pauseAfter: long.MaxValue);
        HttpResponseMessage? response = null;
        try
        {
            response = await StartUpload(client, "big/full.bin", body, contentLength: null);
        }
        catch (HttpRequestException)
        {
            // The server answered and closed while the client was still sending: the answer may be lost in the reset.
        }

        using (response)
        {
            if (response is not null)
            {
                Assert.Equal((HttpStatusCode)507, response.StatusCode);
                Assert.Equal("insufficient_storage", await ProblemCodeAsync(response));
            }
            else
            {
                await WaitUntilStagingEmptyAsync(server);
            }
        }

        Assert.False(File.Exists(Path.Combine(DataDir, "big", "full.bin")), "a partial object is visible on disk");
        Assert.Empty(StagedEntries(DataDir));
        using (var get = await client.GetAsync(ObjectPath("big/full.bin"), Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        }

        using (var kept = await client.GetAsync(ObjectPath("keep/small.bin"), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
            Assert.Equal(small, await kept.Content.ReadAsByteArrayAsync(Ct));
        }

        var next = SeededBytes.Create(64 << 10, seed: 22);
        using (var put = await PutBytesAsync(client, "after/next.bin", next))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var readBack = await client.GetAsync(ObjectPath("after/next.bin"), Ct);
        Assert.Equal(next, await readBack.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task Put_ContentLengthLargerThanFreeSpace_Answers507BeforeReadingTheBody()
    {
        var server = await StartAsync();
        // With "Expect: 100-continue" the client sends the body only once the server asks for it, so the number of
        // bytes the body handed out shows whether the server read any before refusing.
        using var client = server.CreateClient(handler: new SocketsHttpHandler { Expect100ContinueTimeout = TimeSpan.FromSeconds(60) });
        var body = new PausingBodyStream(32 * MiB, seed: 23, pauseAfter: long.MaxValue);

        using var response = await StartUpload(client, "big/declared.bin", body, 32 * MiB, expectContinue: true);

        Assert.Equal((HttpStatusCode)507, response.StatusCode);
        Assert.Equal("insufficient_storage", await ProblemCodeAsync(response));
        Assert.Equal(0, body.BytesProduced);
        Assert.Empty(StagedEntries(DataDir));
        Assert.False(File.Exists(Path.Combine(DataDir, "big", "declared.bin")));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        if (_mounted)
        {
            await RunAsync("umount", "-l", DataDir);
        }

        _dir.Dispose();
    }

    private static async Task WaitUntilStagingEmptyAsync(ServerProcess server)
    {
        // The connection was reset, so the test cannot tell when the server finished failing the upload; give it time.
        for (var i = 0; i < 300 && StagedEntries(server.DataDirectory).Length > 0; i++)
        {
            await Task.Delay(100, Ct);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, (await stdout + await stderr).Trim());
    }

    private async Task<ServerProcess> StartAsync()
    {
        var server = await ServerProcess.StartAsync(DataDir);
        _servers.Add(server);
        return server;
    }
}
