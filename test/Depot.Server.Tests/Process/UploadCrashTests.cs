using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;
using static Depot.Server.Tests.ProcessTests.ProcessTestSupport;

namespace Depot.Server.Tests.ProcessTests;

/// <summary>
/// Upload sessions on a real <c>depot serve</c> killed with SIGKILL mid-upload (issue 4 §1 "Durable"): after a restart on
/// the same directory every acknowledged chunk is still there with its exact bytes (sending it again is a duplicate, not a
/// conflict), an unacknowledged chunk is at most missing, the upload resumes and completes with the right SHA-256.
/// </summary>
public sealed class UploadCrashTests : IAsyncDisposable
{
    private const int ChunkSize = 1 << 20;
    private const int Chunks = 16;
    private const long Length = ((long)Chunks * ChunkSize) - 12345; // a short last chunk
    private const int Seed = 41;
    private readonly TempDirectory _dir = new("upload-crash");
    private readonly List<ServerProcess> _servers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DataDir => _dir.Path;

    [Fact]
    public async Task Upload_KilledWhileAChunkStreams_AcknowledgedChunksSurviveAndTheUploadCompletes()
    {
        var bytes = SeededBytes.Create((int)Length, Seed);
        var server = await StartAsync();
        string id;
        var acknowledged = new List<int>();
        using (var client = server.CreateClient())
        {
            id = await CreateSessionAsync(client, "crash/one.bin", bytes);
            foreach (var index in new[] { 5, 0, 15, 9, 2, 11, 7 })
            {
                using var put = await PutChunkAsync(client, id, index, Chunk(bytes, index));
                Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync(Ct));
                acknowledged.Add(index);
            }
        }

        // Chunk 3 is half sent when the server dies: never acknowledged.
        using var streaming = server.CreateClient(timeout: Timeout.InfiniteTimeSpan);
        var body = new PausingBodyStream(ChunkSize, seed: 99, pauseAfter: ChunkSize / 2);
        var unfinished = StartPausedChunk(streaming, id, 3, body);
        await body.Paused.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        server.KillHard();
        await server.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(await EndAsync(unfinished, body));

        var restarted = await StartAsync();
        using var resumed = restarted.CreateClient();
        var session = await GetSessionAsync(resumed, id);
        var received = ReceivedChunks(session);
        Assert.True(acknowledged.All(received.Contains), $"acknowledged chunks [{string.Join(",", acknowledged)}] but after the restart the session has [{string.Join(",", received)}]");
        Assert.DoesNotContain(3, received);
        Assert.Equal("open", session.GetProperty("state").GetString());

        await AssertAcknowledgedBytesIntactAsync(resumed, id, bytes, acknowledged);
        await ResumeAndCompleteAsync(resumed, id, bytes, "crash/one.bin");
    }

    [Fact]
    public async Task Upload_KilledDuringParallelChunks_EveryAcknowledgedChunkSurvivesAndTheUploadCompletes()
    {
        var bytes = SeededBytes.Create((int)Length, Seed);
        var server = await StartAsync();
        string id;
        using (var client = server.CreateClient())
        {
            id = await CreateSessionAsync(client, "crash/parallel.bin", bytes);
        }

        // Four clients send chunks one after the other; the server is killed once six have been acknowledged, with
        // others in flight. Only a 200 counts as acknowledged.
        var acknowledged = new ConcurrentBag<int>();
        var next = -1;
        var order = Enumerable.Range(0, Chunks).OrderBy(i => (i * 5) % Chunks).ToArray();
        var sixAcknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            using var client = server.CreateClient(timeout: TimeSpan.FromSeconds(60));
            int n;
            while ((n = Interlocked.Increment(ref next)) < order.Length)
            {
                var index = order[n];
                try
                {
                    using var put = await PutChunkAsync(client, id, index, Chunk(bytes, index));
                    if (put.StatusCode == HttpStatusCode.OK)
                    {
                        acknowledged.Add(index);
                        if (acknowledged.Count >= 6)
                        {
                            sixAcknowledged.TrySetResult();
                        }
                    }
                }
                catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
                {
                    return; // the server is gone
                }
            }
        })).ToArray();

        await Task.WhenAny(sixAcknowledged.Task, Task.WhenAll(workers)).WaitAsync(TimeSpan.FromSeconds(120), Ct);
        server.KillHard();
        await server.WaitForExitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(120), Ct);
        Assert.True(acknowledged.Count >= 6, $"only {acknowledged.Count} chunks were acknowledged before the kill");

        var restarted = await StartAsync();
        using var resumed = restarted.CreateClient();
        var received = ReceivedChunks(await GetSessionAsync(resumed, id));
        var lost = acknowledged.Where(i => !received.Contains(i)).ToList();
        Assert.True(lost.Count == 0, $"acknowledged chunks lost by kill -9: [{string.Join(",", lost)}] (the session has [{string.Join(",", received)}])");

        await AssertAcknowledgedBytesIntactAsync(resumed, id, bytes, received);
        await ResumeAndCompleteAsync(resumed, id, bytes, "crash/parallel.bin");
    }

    [Fact]
    public async Task Upload_KilledRightAfterCompletion_TheObjectAndTheCompletedSessionSurvive()
    {
        var bytes = SeededBytes.Create((int)Length, Seed);
        var server = await StartAsync();
        string id;
        using (var client = server.CreateClient())
        {
            id = await CreateSessionAsync(client, "crash/done.bin", bytes);
            for (var index = 0; index < Chunks; index++)
            {
                using var put = await PutChunkAsync(client, id, index, Chunk(bytes, index));
                Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            }

            using var complete = await client.PostAsync(DepotRoutes.Upload(id) + "/complete", null, Ct);
            Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        }

        server.KillHard();
        await server.WaitForExitAsync(TimeSpan.FromSeconds(30));

        var restarted = await StartAsync();
        using var resumed = restarted.CreateClient();
        Assert.Equal("completed", (await GetSessionAsync(resumed, id)).GetProperty("state").GetString());
        using var again = await resumed.PostAsync(DepotRoutes.Upload(id) + "/complete", null, Ct);
        Assert.True(again.StatusCode == HttpStatusCode.OK, await again.Content.ReadAsStringAsync(Ct));
        await AssertObjectAsync(resumed, "crash/done.bin", bytes);
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

    private static byte[] Chunk(byte[] bytes, int index) => bytes[(index * ChunkSize)..(int)Math.Min(bytes.Length, (long)(index + 1) * ChunkSize)];

    private static async Task<string> CreateSessionAsync(HttpClient client, string key, byte[] bytes)
    {
        var json = $$"""{"key":"{{key}}","length":{{bytes.Length}},"chunkSize":{{ChunkSize}},"sha256":"{{SeededBytes.Sha256Hex(bytes)}}"}""";
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(DepotRoutes.Uploads, content, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<HttpResponseMessage> PutChunkAsync(HttpClient client, string id, int index, byte[] chunk)
    {
        using var content = new ByteArrayContent(chunk);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await client.PutAsync(DepotRoutes.Upload(id) + "/chunks/" + index.ToString(CultureInfo.InvariantCulture), content, Ct);
    }

    /// <summary>Starts chunk <paramref name="index"/> with a full Content-Length and a body that pauses half-way. The body's
    /// bytes are not the file's chunk: any trace of this unacknowledged chunk would show as a conflict on resume.</summary>
    private static Task<HttpResponseMessage> StartPausedChunk(HttpClient client, string id, int index, PausingBodyStream body)
    {
        var content = new StreamContent(body, 64 << 10);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = ChunkSize;
        var request = new HttpRequestMessage(HttpMethod.Put, DepotRoutes.Upload(id) + "/chunks/" + index.ToString(CultureInfo.InvariantCulture)) { Content = content };
        return Task.Run(async () =>
        {
            using (request)
            {
                return await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            }
        });
    }

    private static async Task<JsonElement> GetSessionAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync(DepotRoutes.Upload(id), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"the session after the restart: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static HashSet<int> ReceivedChunks(JsonElement session) =>
        session.GetProperty("receivedChunks").EnumerateArray().Select(e => e.GetInt32()).ToHashSet();

    /// <summary>Sends every received chunk again: each must be a duplicate (same bytes stored), never a conflict.</summary>
    private static async Task AssertAcknowledgedBytesIntactAsync(HttpClient client, string id, byte[] bytes, IEnumerable<int> chunks)
    {
        foreach (var index in chunks.Distinct().Order())
        {
            using var again = await PutChunkAsync(client, id, index, Chunk(bytes, index));
            var text = await again.Content.ReadAsStringAsync(Ct);
            Assert.True(again.StatusCode == HttpStatusCode.OK, $"chunk {index} sent again after the restart: {(int)again.StatusCode} {text} — its stored bytes changed");
            Assert.True(JsonDocument.Parse(text).RootElement.GetProperty("duplicate").GetBoolean(), $"chunk {index} was not stored before the restart: {text}");
        }
    }

    /// <summary>Sends the chunks the session misses, completes, and checks the published object.</summary>
    private async Task ResumeAndCompleteAsync(HttpClient client, string id, byte[] bytes, string key)
    {
        var received = ReceivedChunks(await GetSessionAsync(client, id));
        foreach (var index in Enumerable.Range(0, Chunks).Where(i => !received.Contains(i)).Reverse())
        {
            using var put = await PutChunkAsync(client, id, index, Chunk(bytes, index));
            Assert.True(put.StatusCode == HttpStatusCode.OK, $"chunk {index} on resume: {await put.Content.ReadAsStringAsync(Ct)}");
        }

        using var complete = await client.PostAsync(DepotRoutes.Upload(id) + "/complete", null, Ct);
        Assert.True(complete.StatusCode == HttpStatusCode.OK, $"completing after the restart: {await complete.Content.ReadAsStringAsync(Ct)}");
        Assert.Equal($"\"{SeededBytes.Sha256Hex(bytes)}\"", complete.Headers.ETag?.ToString());
        await AssertObjectAsync(client, key, bytes);
    }

    private async Task AssertObjectAsync(HttpClient client, string key, byte[] bytes)
    {
        var onDisk = await File.ReadAllBytesAsync(Path.Combine(DataDir, key.Replace('/', Path.DirectorySeparatorChar)), Ct);
        Assert.Equal(SeededBytes.Sha256Hex(bytes), SeededBytes.Sha256Hex(onDisk));
        using var get = await client.GetAsync(ObjectPath(key), Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(SeededBytes.Sha256Hex(bytes), SeededBytes.Sha256Hex(await get.Content.ReadAsByteArrayAsync(Ct)));
        Assert.Equal(SeededBytes.Sha256Hex(bytes), Header(get, DepotHeaders.Sha256));
        var uploads = Path.Combine(DataDir, ".depot", "uploads");
        Assert.Empty(Directory.Exists(uploads) ? Directory.GetFiles(uploads) : []);
    }
}
