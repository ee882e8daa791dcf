using System.Net;
using System.Net.Http.Headers;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Http;

/// <summary>Bucket limits (object size, key length, read-only) and the per-key rate limit, over real sockets.</summary>
public sealed class LimitsTests
{
    private const int Limit = 1 << 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Put_ContentLengthOverBucketLimit_Answers413AndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxObjectSize = Limit);
        var before = DirectorySnapshot.TakeData(server.DataDirectory);

        using var put = await ObjectApiTests.PutAsync(server.Client, "v1/default/big.bin", new byte[Limit + 1]);

        await Problem.AssertAsync(put, HttpStatusCode.RequestEntityTooLarge, "too_large");
        before.AssertSame(DirectorySnapshot.TakeData(server.DataDirectory), "a refused upload changes nothing");
        Assert.Empty(ObjectApiTests.StagedFiles(server));
    }

    [Fact]
    public async Task Put_ContentLengthAtBucketLimit_IsAccepted()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxObjectSize = Limit);

        using var put = await ObjectApiTests.PutAsync(server.Client, "v1/default/exact.bin", new byte[Limit]);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(Limit, new FileInfo(Path.Combine(server.DataDirectory, "exact.bin")).Length);
    }

    [Fact]
    public async Task Put_ChunkedBodyOverBucketLimit_Answers413AndLeavesNoStagedFile()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxObjectSize = Limit);
        var before = DirectorySnapshot.TakeData(server.DataDirectory);
        using var request = new HttpRequestMessage(HttpMethod.Put, "v1/default/chunked.bin")
        {
            Content = new StreamContent(new GeneratedStream(4L * Limit, seed: 1)),
        };
        request.Headers.TransferEncodingChunked = true;

        using var put = await server.Client.SendAsync(request, Ct);

        await Problem.AssertAsync(put, HttpStatusCode.RequestEntityTooLarge, "too_large");
        Assert.Empty(ObjectApiTests.StagedFiles(server));
        before.AssertSame(DirectorySnapshot.TakeData(server.DataDirectory), "a refused upload changes nothing");
        using var get = await server.Client.GetAsync("v1/default/chunked.bin", Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Put_ChunkedBodyOverOwnBucketLimit_Answers413ForThatBucketOnly()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) =>
            o.Buckets["small"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "small"), MaxObjectSize = 1000 });
        var smallDir = Path.Combine(server.RootDirectory, "buckets", "small");
        var before = DirectorySnapshot.Take(smallDir, rel => rel.StartsWith(".depot/depot.db", StringComparison.Ordinal));

        using var tooBig = await SendChunkedAsync(server.Client, "v1/small/x.bin", 1001);
        using var fits = await SendChunkedAsync(server.Client, "v1/small/y.bin", 1000);
        using var elsewhere = await SendChunkedAsync(server.Client, "v1/default/x.bin", 5000);

        await Problem.AssertAsync(tooBig, HttpStatusCode.RequestEntityTooLarge, "too_large");
        Assert.False(File.Exists(Path.Combine(smallDir, "x.bin")));
        Assert.Empty(Directory.GetFiles(Path.Combine(smallDir, ".depot", "tmp")));
        Assert.Equal(HttpStatusCode.Created, fits.StatusCode);
        Assert.Equal(HttpStatusCode.Created, elsewhere.StatusCode);
        Assert.Equal(["y.bin"], DirectorySnapshot.Take(smallDir).Entries.Keys.Except(before.Entries.Keys).Where(k => !k.StartsWith(".depot", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Put_KeyLongerThanBucketLimit_Answers413AndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxKeyLength = 50);
        var before = DirectorySnapshot.TakeData(server.DataDirectory);
        var longKey = "dir/" + new string('k', 47); // 51 bytes
        var fitting = "dir/" + new string('k', 46); // 50 bytes

        using var put = await ObjectApiTests.PutAsync(server.Client, "v1/default/" + longKey, [1, 2, 3]);
        using var mkdir = await server.Client.PutAsync("v1/default/" + longKey + "/", new ByteArrayContent([]), Ct);

        await Problem.AssertAsync(put, HttpStatusCode.RequestEntityTooLarge, "too_large");
        await Problem.AssertAsync(mkdir, HttpStatusCode.RequestEntityTooLarge, "too_large");
        before.AssertSame(DirectorySnapshot.TakeData(server.DataDirectory), "a refused key changes nothing");
        using var ok = await ObjectApiTests.PutAsync(server.Client, "v1/default/" + fitting, [1, 2, 3]);
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
    }

    [Fact]
    public async Task Put_KeyLongerThanBucketLimitInUtf8Bytes_Answers413()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxKeyLength = 50);
        var key = new string('é', 26); // 26 chars, 52 UTF-8 bytes

        using var put = await ObjectApiTests.PutAsync(server.Client, "v1/default/" + Uri.EscapeDataString(key), [1]);

        await Problem.AssertAsync(put, HttpStatusCode.RequestEntityTooLarge, "too_large");
    }

    [Fact]
    public async Task RateLimit_BurstOverLimit_Answers429RateLimitedWithRetryAfter()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.RateLimitPerSecond = 5);
        var key = await server.CreateKeyAsync(["read"]);
        using var client = server.CreateClient(key.Token);

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 30; i++)
        {
            responses.Add(await client.GetAsync("v1/default/", Ct));
        }

        try
        {
            var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
            Assert.NotEmpty(limited);
            Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
            Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, r.StatusCode.ToString()));
            foreach (var response in limited)
            {
                await Problem.AssertAsync(response, HttpStatusCode.TooManyRequests, "rate_limited");
                // RFC 6585 §4: a 429 MAY say how long to wait; Depot promises it (the message points to Retry-After).
                Assert.NotNull(response.Headers.RetryAfter);
            }
        }
        finally
        {
            responses.ForEach(r => r.Dispose());
        }
    }

    [Fact]
    public async Task RateLimit_OneKeyExhausted_OtherKeyIsNotAffected()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.RateLimitPerSecond = 5);
        var first = await server.CreateKeyAsync(["read"], name: "first");
        var second = await server.CreateKeyAsync(["read"], name: "second");
        using var firstClient = server.CreateClient(first.Token);
        using var secondClient = server.CreateClient(second.Token);

        // Exhaust the first key, then ask with the second at once: its bucket of 5 is its own.
        var limited = false;
        for (var i = 0; i < 30 && !limited; i++)
        {
            using var response = await firstClient.GetAsync("v1/default/", Ct);
            limited = response.StatusCode == HttpStatusCode.TooManyRequests;
        }

        var others = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await secondClient.GetAsync("v1/default/", Ct);
            others.Add(response.StatusCode);
        }

        Assert.True(limited, "30 rapid requests with a 5/s key were never limited");
        Assert.All(others, s => Assert.Equal(HttpStatusCode.OK, s));
    }

    [Fact]
    public async Task RateLimit_KeysOwnLimit_OverridesTheServerDefault()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.RateLimitPerSecond = 1000);
        var strict = await server.CreateKeyAsync(["read"], rateLimit: 2);
        using var client = server.CreateClient(strict.Token);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await client.GetAsync("v1/default/", Ct);
            statuses.Add(response.StatusCode);
        }

        // 2 at once, plus 2 per second that passes while the loop runs.
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.OK), 2, 6);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
    }

    [Fact]
    public async Task ReadOnlyBucket_Writes_Answer403ForbiddenAndChangeNothing()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) =>
        {
            var dir = DepotTestServer.BucketDirectory(root, "archive");
            Directory.CreateDirectory(Path.Combine(dir, "old"));
            File.WriteAllText(Path.Combine(dir, "old", "a.txt"), "kept");
            o.Buckets["archive"] = new BucketConfig { Path = dir, ReadOnly = true };
        });
        var dir = Path.Combine(server.RootDirectory, "buckets", "archive");
        var before = DirectorySnapshot.Take(dir, rel => rel.StartsWith(".depot", StringComparison.Ordinal));

        using var put = await ObjectApiTests.PutAsync(server.Client, "v1/archive/new.txt", [1]);
        using var replace = await ObjectApiTests.PutAsync(server.Client, "v1/archive/old/a.txt", [1]);
        using var mkdir = await server.Client.PutAsync("v1/archive/newdir/", new ByteArrayContent([]), Ct);
        using var delete = await server.Client.DeleteAsync("v1/archive/old/a.txt", Ct);
        using var deleteTree = await server.Client.DeleteAsync("v1/archive/old/?recursive=true", Ct);
        using var move = await ObjectApiTests.TransferAsync(server.Client, "v1/archive/old/a.txt?move", new { to = "b.txt" });
        using var copyInto = await ObjectApiTests.TransferAsync(server.Client, "v1/archive/old/a.txt?copy", new { to = "c.txt" });
        using var get = await server.Client.GetAsync("v1/archive/old/a.txt", Ct);
        using var copyOut = await ObjectApiTests.TransferAsync(server.Client, "v1/archive/old/a.txt?copy", new { to = "from-archive.txt", bucket = "default" });

        foreach (var refused in new[] { put, replace, mkdir, delete, deleteTree, move, copyInto })
        {
            await Problem.AssertAsync(refused, HttpStatusCode.Forbidden, "forbidden");
        }

        Assert.Equal("kept", await get.Content.ReadAsStringAsync(Ct));
        Assert.Equal(HttpStatusCode.Created, copyOut.StatusCode);
        before.AssertSame(DirectorySnapshot.Take(dir, rel => rel.StartsWith(".depot", StringComparison.Ordinal)), "a read-only bucket never changes");
    }

    private static async Task<HttpResponseMessage> SendChunkedAsync(HttpClient client, string url, long length)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, url) { Content = new StreamContent(new GeneratedStream(length, seed: 7)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Headers.TransferEncodingChunked = true;
        return await client.SendAsync(request, Ct);
    }
}
