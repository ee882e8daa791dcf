using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;
using static Depot.Server.Tests.ProcessTests.ProcessTestSupport;

namespace Depot.Server.Tests.ProcessTests;

/// <summary>
/// Appender changes (append, modify, truncate) interrupted by the death of a real <c>depot serve</c>: at each named
/// crash point (<c>DEPOT_CRASH_AT</c>, see ObjectEngine.Appender.cs) and by kill -9 from outside mid-stream. After a
/// restart on the same directory the object is exactly the state before the change or exactly the state after it,
/// with an ETag and X-Depot-Sha256 that are the SHA-256 of the bytes served and of the plain file on disk.
/// </summary>
public sealed class AppenderCrashTests : IAsyncDisposable
{
    private const string Key = "logs/app.log";
    private const string CrashVariable = "DEPOT_CRASH_AT";
    private const int ModifyOffset = 1000;
    private const int TruncateTo = 100_000;
    private readonly TempDirectory _dir = new("appender-crash");
    private readonly List<ServerProcess> _servers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DataDir => _dir.Path;

    private string FilePath => Path.Combine(DataDir, "logs", "app.log");

    /// <param name="point">Where the server kills itself.</param>
    /// <param name="change">The change that passes that point: append, modify or truncate.</param>
    /// <param name="after">Whether the change must have happened (B) rather than not at all (A).</param>
    [Theory]
    [InlineData("append.begun", "append", false)]
    [InlineData("append.written", "append", false)]
    [InlineData("append.flushed", "append", false)]
    [InlineData("append.committed", "append", true)]
    [InlineData("rewrite.staged", "modify", false)]
    [InlineData("rewrite.staged", "truncate", false)]
    [InlineData("rewrite.published", "modify", true)]
    [InlineData("rewrite.published", "truncate", true)]
    public async Task Change_ServerKilledAtCrashPoint_RestartShowsExactlyBeforeOrAfter(string point, string change, bool after)
    {
        var stateA = await CreateStateAAsync();
        var (url, body) = change switch
        {
            "append" => ("?append", SeededBytes.Create((3 << 20) + 5, seed: 13)),
            "modify" => ($"?modify&offset={ModifyOffset}", SeededBytes.Create(100_000, seed: 14)),
            _ => ($"?truncate={TruncateTo}", Array.Empty<byte>()),
        };
        byte[] stateB = change switch
        {
            "append" => [.. stateA, .. body],
            "modify" => [.. stateA[..ModifyOffset], .. body, .. stateA[(ModifyOffset + body.Length)..]],
            _ => stateA[..TruncateTo],
        };

        var crashing = await StartAsync(new Dictionary<string, string> { [CrashVariable] = point });
        using (var client = crashing.CreateClient(timeout: TimeSpan.FromSeconds(60)))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, ObjectPath(Key) + url) { Content = new ByteArrayContent(body) };
            var failure = await SendExpectingFailureAsync(client, request, crashing);
            Assert.True(failure is HttpRequestException or IOException, $"unexpected failure {failure}");
        }

        var exitCode = await crashing.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, exitCode);
        Assert.Contains($"{CrashVariable}: killing the process at '{point}'", crashing.StandardError, StringComparison.Ordinal);
        AssertCrashedWhereNamed(point, stateA, stateB);

        var restarted = await StartAsync();
        var expected = after ? stateB : stateA;
        var served = await AssertConsistentAsync(restarted, stateA, stateB);
        Assert.True(expected.AsSpan().SequenceEqual(served), $"after a crash at '{point}' the object must be state {(after ? "B (after)" : "A (before)")}, but it is state {(served.AsSpan().SequenceEqual(stateA) ? "A" : "B")}");
        Assert.Empty(StagedEntries(DataDir));
        await AssertFurtherAppendWorksAsync(restarted, expected);
    }

    [Fact]
    public async Task Append_ServerKilledMidStream_RestartShowsTheStateBefore()
    {
        const long Declared = 64 * MiB;
        const long PauseAt = 8 * MiB;
        var stateA = await CreateStateAAsync();
        var server = await StartAsync();
        using var client = server.CreateClient(timeout: Timeout.InfiniteTimeSpan);
        var body = new PausingBodyStream(Declared, seed: 21, pauseAfter: PauseAt);
        var content = new StreamContent(body, 1 << 20);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = Declared;
        var request = new HttpRequestMessage(HttpMethod.Post, ObjectPath(Key) + "?append") { Content = content };
        var append = Task.Run(async () =>
        {
            using (request)
            {
                return await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            }
        });

        // The append writes in place: wait until the file holds a good part of the half-sent body.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (new FileInfo(FilePath).Length < stateA.Length + (4 * MiB))
        {
            Assert.False(append.IsCompleted, $"the append ended before the kill ({append.Exception?.GetBaseException().Message ?? "answered"})\n{server.Output}");
            Assert.True(DateTime.UtcNow < deadline, $"the server wrote only {new FileInfo(FilePath).Length - stateA.Length} bytes of the append in 60 s\n{server.Output}");
            await Task.Delay(20, Ct);
        }

        // Meanwhile readers get the committed version, nothing of the append.
        using (var reader = server.CreateClient())
        using (var during = await reader.GetAsync(ObjectPath(Key), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
            Assert.Equal(SeededBytes.Sha256Hex(stateA), SeededBytes.Sha256Hex(await during.Content.ReadAsByteArrayAsync(Ct)));
            Assert.Equal(SeededBytes.Sha256Hex(stateA), Header(during, DepotHeaders.Sha256));
        }

        server.KillHard();
        await server.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(await EndAsync(append, body));
        Assert.True(new FileInfo(FilePath).Length > stateA.Length, "the kill came after part of the append was written");

        var restarted = await StartAsync();
        var served = await AssertConsistentAsync(restarted, stateA, null);
        Assert.True(stateA.AsSpan().SequenceEqual(served), "an append cut off by kill -9 must leave the state before it");
        await AssertFurtherAppendWorksAsync(restarted, stateA);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        _dir.Dispose();
    }

    /// <summary>Creates the appender object and appends once on a server without crash points, then stops that server
    /// cleanly. Returns the bytes (state A).</summary>
    private async Task<byte[]> CreateStateAAsync()
    {
        var created = SeededBytes.Create(256 << 10, seed: 11);
        var appended = SeededBytes.Create(64 << 10, seed: 12);
        var server = await StartAsync();
        using (var client = server.CreateClient())
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, ObjectPath(Key) + "?appendable") { Content = new ByteArrayContent(created) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/x-log");
            request.Headers.Add(DepotHeaders.MetaPrefix + "origin", "crash-test");
            using (var put = await client.SendAsync(request, Ct))
            {
                Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync(Ct));
            }

            using var append = await client.PostAsync(ObjectPath(Key) + "?append", new ByteArrayContent(appended), Ct);
            Assert.True(append.StatusCode == HttpStatusCode.OK, await append.Content.ReadAsStringAsync(Ct));
            Assert.Equal(SeededBytes.Sha256Hex([.. created, .. appended]), Header(append, DepotHeaders.Sha256));
        }

        Assert.Equal(0, await server.StopAsync());
        return [.. created, .. appended];
    }

    /// <summary>Sends a request the server dies during; returns how it failed (the test fails if an answer arrives).</summary>
    private static async Task<Exception> SendExpectingFailureAsync(HttpClient client, HttpRequestMessage request, ServerProcess server)
    {
        try
        {
            using var response = await client.SendAsync(request, Ct);
            Assert.Fail($"the change was answered with {(int)response.StatusCode} ({await response.Content.ReadAsStringAsync(Ct)}) instead of the server dying\n{server.Output}");
            throw new InvalidOperationException("unreachable");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return e;
        }
    }

    /// <summary>Before the restart, the plain file shows how far the change got: proof that the server died at the named
    /// point, so the restart's recovery is what is being tested.</summary>
    private void AssertCrashedWhereNamed(string point, byte[] stateA, byte[] stateB)
    {
        var onDisk = File.ReadAllBytes(FilePath);
        switch (point)
        {
            case "append.begun":
                Assert.Equal(stateA.Length, onDisk.Length); // nothing written yet
                break;
            case "append.written" or "append.flushed" or "append.committed":
                Assert.True(stateB.AsSpan().SequenceEqual(onDisk), $"the appended bytes are in place ({onDisk.Length} bytes)");
                break;
            case "rewrite.staged":
                Assert.True(stateA.AsSpan().SequenceEqual(onDisk), "the staged version is not published yet");
                Assert.NotEmpty(StagedEntries(DataDir));
                break;
            case "rewrite.published":
                Assert.True(stateB.AsSpan().SequenceEqual(onDisk), "the new version is published, its record not yet written");
                break;
        }
    }

    /// <summary>GET, HEAD and ?stat agree on one version, which is A or B (never anything else), with ETag and
    /// X-Depot-Sha256 the SHA-256 of the bytes served, and the plain file holds the same bytes. Returns them.</summary>
    private async Task<byte[]> AssertConsistentAsync(ServerProcess server, byte[] stateA, byte[]? stateB)
    {
        using var client = server.CreateClient();
        using var get = await client.GetAsync(ObjectPath(Key), Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var served = await get.Content.ReadAsByteArrayAsync(Ct);
        Assert.True(served.AsSpan().SequenceEqual(stateA) || (stateB is not null && served.AsSpan().SequenceEqual(stateB)), $"the object is neither state A ({stateA.Length} bytes) nor state B ({stateB?.Length} bytes): {served.Length} bytes");
        var sha = SeededBytes.Sha256Hex(served);
        Assert.Equal(sha, Header(get, DepotHeaders.Sha256));
        Assert.Equal($"\"{sha}\"", get.Headers.ETag?.ToString());
        Assert.Equal("true", Header(get, DepotHeaders.Appendable));
        // What lives only in the record (content type, user metadata) survives whichever version it is.
        Assert.Equal("text/x-log", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal("crash-test", Header(get, DepotHeaders.MetaPrefix + "origin"));

        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, ObjectPath(Key)), Ct);
        Assert.Equal($"\"{sha}\"", head.Headers.ETag?.ToString());
        Assert.Equal(served.Length, head.Content.Headers.ContentLength);
        var stat = await client.GetFromJsonAsync(ObjectPath(Key) + "?stat", DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal((served.LongLength, sha, true), (stat!.Size, stat.Sha256, stat.Appendable));

        var onDisk = await File.ReadAllBytesAsync(FilePath, Ct);
        Assert.True(served.AsSpan().SequenceEqual(onDisk), $"the file on disk ({onDisk.Length} bytes) is not what is served ({served.Length} bytes)");
        return served;
    }

    /// <summary>After recovery the object takes a further append, and the answer, GET and the file agree on the result.</summary>
    private async Task AssertFurtherAppendWorksAsync(ServerProcess server, byte[] current)
    {
        var more = SeededBytes.Create(12_345, seed: 99);
        byte[] expected = [.. current, .. more];
        var sha = SeededBytes.Sha256Hex(expected);
        using var client = server.CreateClient();
        using var append = await client.PostAsync(ObjectPath(Key) + "?append", new ByteArrayContent(more), Ct);
        Assert.True(append.StatusCode == HttpStatusCode.OK, await append.Content.ReadAsStringAsync(Ct));
        Assert.Equal(sha, Header(append, DepotHeaders.Sha256));
        Assert.Equal($"\"{sha}\"", append.Headers.ETag?.ToString());
        var info = await append.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal((expected.LongLength, sha), (info!.Size, info.Sha256));

        using var get = await client.GetAsync(ObjectPath(Key), Ct);
        Assert.Equal(sha, SeededBytes.Sha256Hex(await get.Content.ReadAsByteArrayAsync(Ct)));
        Assert.Equal(sha, Header(get, DepotHeaders.Sha256));
        Assert.Equal(sha, SeededBytes.Sha256Hex(await File.ReadAllBytesAsync(FilePath, Ct)));
    }

    private async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string>? environment = null)
    {
        var server = await ServerProcess.StartAsync(DataDir, environment: environment);
        _servers.Add(server);
        return server;
    }
}
