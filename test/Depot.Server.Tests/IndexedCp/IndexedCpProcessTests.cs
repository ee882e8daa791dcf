using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Depot.Protocol;
using Depot.Server.Tests.Http;
using Depot.Server.Tests.Infrastructure;
using Depot.Server.Tests.ProcessTests;
using static Depot.Server.Tests.IndexedCp.IndexedCpClient;

namespace Depot.Server.Tests.IndexedCp;

/// <summary>The IndexedCP door in a real <c>depot serve</c> process: its flags, and an upload that survives kill -9.</summary>
public sealed class IndexedCpProcessTests
{
    private const int MiB = 1 << 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Serve_KilledMidUpload_TheUploadResumesAfterRestartUnderTheFlagsTarget()
    {
        using var data = new TempDirectory("indexedcp-resume");
        string[] flags = ["--indexedcp-prefix", "devices", "--indexedcp-keep-paths", "--indexedcp-quiet-period", "1h"];
        var file = TestBytes.Random(3 * MiB + MiB / 2, seed: 1);
        string token;
        await using (var first = await ServerProcess.StartAsync(data.Path, extraArgs: flags))
        {
            using var admin = first.CreateClient();
            token = await CreateWriteKeyAsync(admin);
            using var client = first.CreateClient(token);
            for (var i = 0; i < 2; i++)
            {
                using var response = await SendChunkAsync(client, "./cam/clip.bin", i, Chunk(file, i));
                await AssertReceivedAsync(response, "devices/cam/clip.bin", i, "./cam/clip.bin");
            }

            first.KillHard();
        }

        await using var second = await ServerProcess.StartAsync(data.Path, extraArgs: flags);
        using var resumed = second.CreateClient(token);
        Assert.Equal(new long[] { 0, 1 }, await StatusAsync(resumed, "cam/clip.bin"));
        Assert.False(File.Exists(Path.Combine(data.Path, "devices", "cam", "clip.bin")));
        for (var i = 2; i < 4; i++)
        {
            using var response = await SendChunkAsync(resumed, "./cam/clip.bin", i, Chunk(file, i));
            await AssertReceivedAsync(response, "devices/cam/clip.bin", i, "./cam/clip.bin");
        }

        Assert.Equal(file, await File.ReadAllBytesAsync(Path.Combine(data.Path, "devices", "cam", "clip.bin"), Ct));
    }

    [Fact]
    public async Task Serve_NoReplaceFlag_RefusesAnExistingName()
    {
        using var data = new TempDirectory("indexedcp-no-replace");
        await File.WriteAllBytesAsync(Path.Combine(data.Path, "taken.txt"), [1, 2, 3], Ct);
        await using var server = await ServerProcess.StartAsync(data.Path, extraArgs: ["--indexedcp-no-replace"]);
        using var admin = server.CreateClient();
        using var client = server.CreateClient(await CreateWriteKeyAsync(admin));

        using var response = await SendChunkAsync(client, "taken.txt", 0, TestBytes.Random(10, seed: 2));

        await AssertErrorAsync(response, HttpStatusCode.Conflict, "Already exists", "already_exists", hasMessage: true);
        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(Path.Combine(data.Path, "taken.txt"), Ct));
    }

    [Fact]
    public async Task Serve_UnknownIndexedCpBucket_RefusesToStart()
    {
        using var data = new TempDirectory("indexedcp-bad-bucket");
        await using var server = ServerProcess.Launch(data.Path, extraArgs: ["--indexedcp-bucket", "nowhere"]);

        var exit = await server.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.NotEqual(0, exit);
        Assert.Contains("nowhere", server.StandardError, StringComparison.Ordinal);
    }

    private static async Task<string> CreateWriteKeyAsync(HttpClient admin)
    {
        var request = new CreateKeyRequestDto { Name = "indexedcp", Scopes = ["write"] };
        using var response = await admin.PostAsJsonAsync("v1/_keys", request, DepotJson.Default.CreateKeyRequestDto, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var key = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(Ct), DepotJson.Default.ApiKeyDto)!;
        return key.Token!;
    }
}
