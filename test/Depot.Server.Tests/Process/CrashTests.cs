using System.Net;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;
using static Depot.Server.Tests.ProcessTests.ProcessTestSupport;

namespace Depot.Server.Tests.ProcessTests;

/// <summary>
/// kill -9 of a real <c>depot serve</c> at chosen moments, then a restart on the same directory (design §2,
/// invariants 1-3 and §3 "files changed behind Depot's back are re-described").
/// </summary>
public sealed class CrashTests : IAsyncDisposable
{
    private const long LargeBody = 512 * MiB;
    // The body stops here, so the upload is still in flight (and provably past 64 MiB) when the server is killed.
    private const long PauseAt = 96 * MiB;
    private const long KillAfterStaged = 64 * MiB;
    private readonly TempDirectory _dir = new("crash");
    private readonly List<ServerProcess> _servers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DataDir => _dir.Path;

    [Fact]
    public async Task Put_ServerKilledMidUpload_NoObjectAndStagedDataReclaimedOnRestart()
    {
        var first = await StartAsync();
        using var client = first.CreateClient(timeout: Timeout.InfiniteTimeSpan);
        var body = new PausingBodyStream(LargeBody, seed: 1, pauseAfter: PauseAt);
        var upload = StartUpload(client, "crash/big.bin", body, LargeBody);
        await WaitForStagedBytesAsync(first, KillAfterStaged, upload);

        first.KillHard();
        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(await EndAsync(upload, body));
        // The kill left the staged part behind: what follows proves the restart, not the dying process, reclaims it.
        Assert.NotEmpty(StagedEntries(DataDir));

        var second = await StartAsync();
        Assert.Empty(StagedEntries(DataDir));
        Assert.False(File.Exists(Path.Combine(DataDir, "crash", "big.bin")), "a partial object is visible on disk");
        using var after = second.CreateClient();
        using var get = await after.GetAsync(ObjectPath("crash/big.bin"), Ct);
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal("not_found", await ProblemCodeAsync(get));
        await AssertHealthyAsync(second);
    }

    [Fact]
    public async Task Put_ServerKilledMidOverwrite_OldVersionIntactAfterRestart()
    {
        var versionA = SeededBytes.Create((int)(8 * MiB), seed: 2);
        var shaA = SeededBytes.Sha256Hex(versionA);
        var first = await StartAsync();
        using var client = first.CreateClient(timeout: Timeout.InfiniteTimeSpan);
        using (var put = await PutBytesAsync(client, "doc.bin", versionA))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var versionB = new PausingBodyStream(LargeBody, seed: 3, pauseAfter: PauseAt);
        var overwrite = StartUpload(client, "doc.bin", versionB, LargeBody);
        await WaitForStagedBytesAsync(first, KillAfterStaged, overwrite);
        using (var reader = first.CreateClient())
        using (var during = await reader.GetAsync(ObjectPath("doc.bin"), Ct))
        {
            // While B streams in, readers still get all of A.
            Assert.Equal(shaA, SeededBytes.Sha256Hex(await during.Content.ReadAsByteArrayAsync(Ct)));
        }

        first.KillHard();
        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(await EndAsync(overwrite, versionB));

        var second = await StartAsync();
        using var after = second.CreateClient();
        using var get = await after.GetAsync(ObjectPath("doc.bin"), Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var bytes = await get.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(versionA.Length, bytes.Length);
        Assert.Equal(shaA, SeededBytes.Sha256Hex(bytes));
        Assert.Equal($"\"{shaA}\"", get.Headers.ETag?.ToString());
        Assert.Equal(shaA, Header(get, DepotHeaders.Sha256));
        Assert.Equal(versionA, await File.ReadAllBytesAsync(Path.Combine(DataDir, "doc.bin"), Ct)); // the plain file too
        Assert.Empty(StagedEntries(DataDir));
    }

    [Fact]
    public async Task Put_ServerKilledRightAfterAcknowledgement_ObjectAndMetadataSurviveRestart()
    {
        // A process kill leaves the kernel's page cache intact, so this proves the publish + metadata path is
        // consistent and committed before the 201, not that the bytes would survive a power loss (fsync is not
        // observable from a test that keeps the machine running).
        var content = SeededBytes.Create((int)(4 * MiB), seed: 4);
        var sha = SeededBytes.Sha256Hex(content);
        var first = await StartAsync();
        using (var client = first.CreateClient())
        using (var put = await PutBytesAsync(client, "acked/file.bin", content, request =>
        {
            request.Content!.Headers.ContentType = new("application/x-depot-test");
            request.Headers.Add(DepotHeaders.MetaPrefix + "origin", "crash-test");
        }))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            first.KillHard();
        }

        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));

        var second = await StartAsync();
        using var after = second.CreateClient();
        using var get = await after.GetAsync(ObjectPath("acked/file.bin"), Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var bytes = await get.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(sha, SeededBytes.Sha256Hex(bytes));
        Assert.Equal(sha, Header(get, DepotHeaders.Sha256));
        Assert.Equal($"\"{sha}\"", get.Headers.ETag?.ToString());
        // Content type and user metadata live only in the metadata store: they prove its commit came before the 201.
        Assert.Equal("application/x-depot-test", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal("crash-test", Header(get, DepotHeaders.MetaPrefix + "origin"));
    }

    [Fact]
    public async Task Get_FileReplacedWhileServerDown_ServesNewBytesWithNewChecksum()
    {
        // What a crash between publish (rename) and the metadata commit leaves: a file whose record describes other
        // bytes. Simulated by replacing the file while no server runs.
        var original = SeededBytes.Create((int)MiB, seed: 5);
        var replacement = SeededBytes.Create((int)MiB, seed: 6); // same size: only the mtime betrays the change
        var oldSha = SeededBytes.Sha256Hex(original);
        var newSha = SeededBytes.Sha256Hex(replacement);
        var first = await StartAsync();
        using (var client = first.CreateClient())
        using (var put = await PutBytesAsync(client, "swapped.bin", original))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        first.KillHard();
        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var path = Path.Combine(DataDir, "swapped.bin");
        await File.WriteAllBytesAsync(path, replacement, Ct);
        File.SetLastWriteTimeUtc(path, new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc));

        var second = await StartAsync();
        using var after = second.CreateClient();
        using var get = await after.GetAsync(ObjectPath("swapped.bin"), Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(newSha, SeededBytes.Sha256Hex(await get.Content.ReadAsByteArrayAsync(Ct)));
        Assert.Equal($"\"{newSha}\"", get.Headers.ETag?.ToString());
        Assert.Equal(newSha, Header(get, DepotHeaders.Sha256));

        // A client holding the stale ETag must get the new bytes, not 304 Not Modified.
        using var conditional = new HttpRequestMessage(HttpMethod.Get, ObjectPath("swapped.bin"));
        conditional.Headers.TryAddWithoutValidation("If-None-Match", $"\"{oldSha}\"");
        using var revalidated = await after.SendAsync(conditional, Ct);
        Assert.Equal(HttpStatusCode.OK, revalidated.StatusCode);
        Assert.Equal($"\"{newSha}\"", revalidated.Headers.ETag?.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        _dir.Dispose();
    }

    private async Task<ServerProcess> StartAsync()
    {
        var server = await ServerProcess.StartAsync(DataDir);
        _servers.Add(server);
        return server;
    }
}
