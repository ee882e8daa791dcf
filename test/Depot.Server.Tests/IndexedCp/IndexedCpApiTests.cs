using System.Net;
using Depot.Server.Tests.Http;
using Depot.Server.Tests.Infrastructure;
using static Depot.Server.Tests.IndexedCp.IndexedCpClient;

namespace Depot.Server.Tests.IndexedCp;

/// <summary>The IndexedCP door against a real Kestrel, with requests shaped exactly like those of IndexedCP clients:
/// chunks placed by index, duplicates, conflicts, the completion rule, parallel files, the status query and new versions
/// (docs/indexedcp.md).</summary>
public sealed class IndexedCpApiTests
{
    private const int MiB = 1 << 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task InOrder_FileWithShortLastChunk_PublishedAtOnceWithExactBytes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var key = await server.CreateKeyAsync(["write"]);
        var client = server.CreateClient(key.Token);
        var file = TestBytes.Random(3 * MiB + MiB / 2, seed: 1);

        for (var i = 0; i < 3; i++)
        {
            using var response = await SendChunkAsync(client, "data.bin", i, Chunk(file, i));
            await AssertReceivedAsync(response, "data.bin", i, "data.bin");
            Assert.Null(Sha256OnDisk(server, "data.bin")); // nothing visible before the upload is whole
        }

        using (var last = await SendChunkAsync(client, "data.bin", 3, Chunk(file, 3)))
        {
            await AssertReceivedAsync(last, "data.bin", 3, "data.bin");
        }

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "data.bin"));
        using var get = await server.Client.GetAsync("v1/default/data.bin", Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(TestBytes.ETagOf(file), get.Headers.ETag?.ToString());
    }

    [Fact]
    public async Task OutOfOrder_WithARetriedChunk_PlacesEveryChunkByIndex()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(4 * MiB + 12_345, seed: 2);

        // Chunk 1 "fails" and is retried after the others, as the background uploader does; chunk 3 is sent twice.
        foreach (var index in new[] { 0, 2, 3, 4, 3 })
        {
            using var response = await SendChunkAsync(client, "shuffled.bin", index, Chunk(file, index));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Null(Sha256OnDisk(server, "shuffled.bin")); // chunk 1 is still missing
        using (var retried = await SendChunkAsync(client, "shuffled.bin", 1, Chunk(file, 1)))
        {
            await AssertReceivedAsync(retried, "shuffled.bin", 1, "shuffled.bin");
        }

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "shuffled.bin"));
    }

    [Fact]
    public async Task OutOfOrder_ShortLastChunkFirst_PlacedOnceTheChunkSizeIsKnown()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(2 * MiB + 999, seed: 8);

        // Chunks 0 and 1 failed and are retried after the last one went through.
        foreach (var index in new[] { 2, 1, 0 })
        {
            using var response = await SendChunkAsync(client, "late-start.bin", index, Chunk(file, index));
            await AssertReceivedAsync(response, "late-start.bin", index, "late-start.bin");
        }

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "late-start.bin"));
    }

    [Fact]
    public async Task DuplicateChunk_SameBytes_Answers200AlreadyReceivedAndStoresItOnce()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(2 * MiB + 100, seed: 3);

        using (var first = await SendChunkAsync(client, "twice.bin", 0, Chunk(file, 0)))
        {
            await AssertReceivedAsync(first, "twice.bin", 0, "twice.bin");
        }

        using (var again = await SendChunkAsync(client, "twice.bin", 0, Chunk(file, 0)))
        {
            await AssertReceivedAsync(again, "twice.bin", 0, "twice.bin", alreadyReceived: true);
        }

        for (var i = 1; i < 3; i++)
        {
            using var response = await SendChunkAsync(client, "twice.bin", i, Chunk(file, i));
            await AssertReceivedAsync(response, "twice.bin", i, "twice.bin");
        }

        Assert.Equal(file.Length, new FileInfo(Path.Combine(server.DataDirectory, "twice.bin")).Length);
        Assert.Equal(Sha256(file), Sha256OnDisk(server, "twice.bin"));
    }

    [Fact]
    public async Task DuplicateChunk_DifferentBytes_Answers409AndKeepsTheStoredBytes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(MiB + 5000, seed: 4);
        var forged = TestBytes.Random(MiB, seed: 5);

        using (var first = await SendChunkAsync(client, "kept.bin", 0, Chunk(file, 0)))
        {
            await AssertReceivedAsync(first, "kept.bin", 0, "kept.bin");
        }

        using (var different = await SendChunkAsync(client, "kept.bin", 0, forged))
        {
            await AssertErrorAsync(different, HttpStatusCode.Conflict, "Conflict", "conflict", hasMessage: true);
        }

        using (var last = await SendChunkAsync(client, "kept.bin", 1, Chunk(file, 1)))
        {
            await AssertReceivedAsync(last, "kept.bin", 1, "kept.bin");
        }

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "kept.bin"));
    }

    [Fact]
    public async Task SizeIsAMultipleOfTheChunkSize_PublishedOnlyAfterTheQuietPeriod()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Time = clock;
            o.IndexedCp.QuietPeriod = TimeSpan.FromSeconds(30);
        });
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(3 * MiB, seed: 6);

        await UploadAsync(client, "even.bin", file, "even.bin");
        await CompleteQuietAsync(server);
        Assert.Null(Sha256OnDisk(server, "even.bin")); // a next chunk could still come

        clock.Advance(TimeSpan.FromSeconds(20));
        await CompleteQuietAsync(server);
        Assert.Null(Sha256OnDisk(server, "even.bin"));

        clock.Advance(TimeSpan.FromSeconds(11));
        await CompleteQuietAsync(server);
        Assert.Equal(Sha256(file), Sha256OnDisk(server, "even.bin"));
    }

    [Fact]
    public async Task QuietPeriod_BackgroundPublisher_PublishesWithoutBeingAsked()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Time = clock);
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(700_000, seed: 7); // one chunk: its size could be the chunk size, so it waits

        await UploadAsync(client, "single.bin", file, "single.bin");
        Assert.Null(Sha256OnDisk(server, "single.bin"));
        clock.Advance(TimeSpan.FromSeconds(11));

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Sha256OnDisk(server, "single.bin") is null && DateTime.UtcNow < until)
        {
            await Task.Delay(100, Ct);
        }

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "single.bin"));
    }

    [Fact]
    public async Task ParallelFiles_ChunksInterleaved_EachPublishedIntact()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var files = new Dictionary<string, byte[]>
        {
            ["a.bin"] = TestBytes.Random(2 * MiB + MiB / 2, seed: 10),
            ["b.log"] = TestBytes.Random(MiB + 1, seed: 11),
            ["c d.dat"] = TestBytes.Random(3 * MiB + 17, seed: 12),
            ["e.txt"] = TestBytes.Random(4 * MiB + 999, seed: 13),
        };

        // Round by round, chunk i of every file at once (different connections); round 2 before round 1.
        foreach (var round in new[] { 0, 2, 1, 3, 4 })
        {
            await Task.WhenAll(files.Where(f => round < ChunkCount(f.Value)).Select(async f =>
            {
                using var response = await SendChunkAsync(client, f.Key, round, Chunk(f.Value, round));
                await AssertReceivedAsync(response, f.Key, round, f.Key);
            }));
        }

        foreach (var (name, bytes) in files)
        {
            Assert.Equal(Sha256(bytes), Sha256OnDisk(server, name));
        }
    }

    [Fact]
    public async Task ConcurrentFirstChunks_OfANewName_JoinOneUpload()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(5 * MiB + 3, seed: 14);

        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => SendChunkAsync(client, "race.bin", i, Chunk(file, i))));
        foreach (var response in responses)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "race.bin"));
    }

    [Fact]
    public async Task Status_BeforeDuringAndAfter_ReportsTheReceivedChunks()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(3 * MiB + 10, seed: 15);

        Assert.Empty(await StatusAsync(client, "report.pdf"));
        foreach (var index in new[] { 0, 2 })
        {
            using var response = await SendChunkAsync(client, "report.pdf", index, Chunk(file, index));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(new long[] { 0, 2 }, await StatusAsync(client, "report.pdf"));
        foreach (var index in new[] { 1, 3 })
        {
            using var response = await SendChunkAsync(client, "report.pdf", index, Chunk(file, index));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "report.pdf"));
        Assert.Equal(new long[] { 0, 1, 2, 3 }, await StatusAsync(client, "report.pdf"));
        Assert.Empty(await StatusAsync(client, "other.pdf"));
    }

    [Fact]
    public async Task Status_NameWithPlusAmpersandAndSpace_ReadFromTheRawQuery()
    {
        await using var server = await DepotTestServer.StartAsync();
        var token = (await server.CreateKeyAsync(["write"])).Token;
        var client = server.CreateClient(token);
        const string Name = "a+b&c d.txt";
        var file = TestBytes.Random(2 * MiB, seed: 16);
        using (var response = await SendChunkAsync(client, Name, 1, Chunk(file, 1)))
        {
            await AssertReceivedAsync(response, Name, 1, Name);
        }

        // As a client builds it: the name appended as is; its URL parser turns only the space into %20.
        var raw = await RawHttp.SendAsync(server.Port, "GET", "/upload/status?filename=a+b&c%20d.txt", [("Authorization", "Bearer " + token)]);

        Assert.Equal(200, raw.Status);
        Assert.Equal("{\"filename\":\"a+b&c d.txt\",\"receivedChunks\":[1]}", raw.BodyText);
    }

    [Fact]
    public async Task Status_WithoutFilename_Answers400MissingFilenameParameter()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["read"])).Token);

        foreach (var target in new[] { "upload/status", "upload/status?filename=", "upload/status?name=x" })
        {
            using var response = await client.GetAsync(target, Ct);
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "Missing filename parameter", "invalid_request", hasMessage: false);
        }
    }

    [Fact]
    public async Task Reupload_AfterCompletion_ReplacesTheObjectAsANewVersion()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var first = TestBytes.Random(MiB + MiB / 2, seed: 20);
        var second = TestBytes.Random(2 * MiB + 7, seed: 21);

        await UploadAsync(client, "notes.txt", first, "notes.txt");
        Assert.Equal(Sha256(first), Sha256OnDisk(server, "notes.txt"));

        using (var firstChunk = await SendChunkAsync(client, "notes.txt", 0, Chunk(second, 0)))
        {
            await AssertReceivedAsync(firstChunk, "notes.txt", 0, "notes.txt");
        }

        Assert.Equal(Sha256(first), Sha256OnDisk(server, "notes.txt")); // the old version stays whole until the new one is
        for (var i = 1; i < 3; i++)
        {
            using var response = await SendChunkAsync(client, "notes.txt", i, Chunk(second, i));
            await AssertReceivedAsync(response, "notes.txt", i, "notes.txt");
        }

        Assert.Equal(Sha256(second), Sha256OnDisk(server, "notes.txt"));
    }

    [Fact]
    public async Task LateRetry_OfTheFinalChunk_Answers200AlreadyReceivedAndChangesNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(2 * MiB + 300, seed: 22);
        await UploadAsync(client, "done.bin", file, "done.bin");
        var published = File.GetLastWriteTimeUtc(Path.Combine(server.DataDirectory, "done.bin"));

        // The answer to the final chunk was lost: the client sends it again.
        using (var retry = await SendChunkAsync(client, "done.bin", 2, Chunk(file, 2)))
        {
            await AssertReceivedAsync(retry, "done.bin", 2, "done.bin", alreadyReceived: true);
        }

        Assert.Equal(new long[] { 0, 1, 2 }, await StatusAsync(client, "done.bin"));
        Assert.Equal(Sha256(file), Sha256OnDisk(server, "done.bin"));
        Assert.Equal(published, File.GetLastWriteTimeUtc(Path.Combine(server.DataDirectory, "done.bin")));
    }

    [Fact]
    public async Task NewVersion_WhoseFirstChunkEqualsTheOldOne_IsPublishedWhole()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var first = TestBytes.Random(MiB + 1000, seed: 23);
        var second = new byte[3 * MiB + 5];
        first.AsSpan(0, MiB).CopyTo(second); // a grown log: the first MiB is unchanged
        TestBytes.Random(second.Length - MiB, seed: 24).CopyTo(second, MiB);
        await UploadAsync(client, "app.log", first, "app.log");

        using (var same = await SendChunkAsync(client, "app.log", 0, Chunk(second, 0)))
        {
            await AssertReceivedAsync(same, "app.log", 0, "app.log", alreadyReceived: true);
        }

        for (var i = 1; i < 4; i++)
        {
            using var response = await SendChunkAsync(client, "app.log", i, Chunk(second, i));
            await AssertReceivedAsync(response, "app.log", i, "app.log");
        }

        Assert.Equal(Sha256(second), Sha256OnDisk(server, "app.log"));
    }

    [Fact]
    public async Task LateRetry_ThenADifferentNewVersion_NewVersionIsPublishedWhole()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var first = TestBytes.Random(MiB + 10, seed: 30);
        var second = TestBytes.Random(2 * MiB + 20, seed: 31);
        await UploadAsync(client, "daily.csv", first, "daily.csv");
        using (var retry = await SendChunkAsync(client, "daily.csv", 0, Chunk(first, 0)))
        {
            await AssertReceivedAsync(retry, "daily.csv", 0, "daily.csv", alreadyReceived: true);
        }

        // The next day's file: it starts again at chunk 0, with other bytes; the old chunk 0 must not get in its way.
        await UploadAsync(client, "daily.csv", second, "daily.csv");

        Assert.Equal(Sha256(second), Sha256OnDisk(server, "daily.csv"));
    }

    [Fact]
    public async Task ChunkAfterAQuietPublication_ContinuesTheUploadAsANewVersion()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Time = clock);
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(3 * MiB + 4321, seed: 25);

        // The client went offline after two chunks for longer than the quiet period: those two were published.
        for (var i = 0; i < 2; i++)
        {
            using var response = await SendChunkAsync(client, "video.mp4", i, Chunk(file, i));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        clock.Advance(TimeSpan.FromSeconds(11));
        await CompleteQuietAsync(server);
        Assert.Equal(Sha256(file.AsSpan(0, 2 * MiB).ToArray()), Sha256OnDisk(server, "video.mp4"));

        for (var i = 2; i < 4; i++)
        {
            using var response = await SendChunkAsync(client, "video.mp4", i, Chunk(file, i));
            await AssertReceivedAsync(response, "video.mp4", i, "video.mp4");
        }

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "video.mp4"));
    }

    [Fact]
    public async Task ReplaceExistingOff_ExistingName_Answers409AndKeepsTheObject()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.IndexedCp.ReplaceExisting = false);
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var first = TestBytes.Random(MiB + 10, seed: 26);
        await UploadAsync(client, "once.bin", first, "once.bin");

        using var again = await SendChunkAsync(client, "once.bin", 0, TestBytes.Random(MiB, seed: 27));

        await AssertErrorAsync(again, HttpStatusCode.Conflict, "Already exists", "already_exists", hasMessage: true);
        Assert.Equal(Sha256(first), Sha256OnDisk(server, "once.bin"));
    }

    [Fact]
    public async Task PrefixOption_KeysGoUnderIt_AndActualFilenameSaysWhere()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.IndexedCp.Prefix = "incoming/");
        var client = server.CreateClient((await server.CreateKeyAsync(["write"], prefix: "incoming/")).Token);
        var file = TestBytes.Random(MiB + 77, seed: 28);

        await UploadAsync(client, "./scan.png", file, "incoming/scan.png");

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "incoming/scan.png"));
        Assert.Equal(new long[] { 0, 1 }, await StatusAsync(client, "scan.png"));
    }

    [Fact]
    public async Task OtherBucket_Configured_UploadsLandInIt()
    {
        string? photos = null;
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) =>
        {
            photos = DepotTestServer.BucketDirectory(root, "photos");
            o.Buckets["photos"] = new Hosting.BucketConfig { Path = photos };
            o.IndexedCp.Bucket = "photos";
        });
        var client = server.CreateClient((await server.CreateKeyAsync(["write"], bucket: "photos")).Token);
        var file = TestBytes.Random(MiB / 3, seed: 29);

        await UploadAsync(client, "cat.jpg", file, "cat.jpg", chunkSize: 64 << 10);

        Assert.Equal(file, await File.ReadAllBytesAsync(Path.Combine(photos!, "cat.jpg"), Ct));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "cat.jpg")));
    }
}
