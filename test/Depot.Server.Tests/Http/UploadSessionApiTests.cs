using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Depot.Core.Uploads;
using Depot.Protocol;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Tests.Http;

/// <summary>The native resumable-upload API (<c>/v1/_uploads</c>, docs/http-api.md §3.23) against a real Kestrel:
/// creation and its refusals, chunks by index and offset (out of order, in parallel, repeated, wrong), the session's
/// state, completion and its checks, deferred lengths, abort and expiry.</summary>
public sealed class UploadSessionApiTests
{
    private const int KiB = 1 << 10;
    private const int MiB = 1 << 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // ---- create ----

    [Fact]
    public async Task Create_ValidBody_Answers201WithLocationAndTheSession()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"bucket":"default","key":"videos/talk.mp4","length":1000,"chunkSize":300,"contentType":"video/mp4"}""");

        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var session = JsonDocument.Parse(text).RootElement;
        var id = session.GetProperty("id").GetString()!;
        Assert.Equal(DepotRoutes.Upload(id), response.Headers.Location?.OriginalString);
        Assert.Equal(DepotRoutes.Upload(id), session.GetProperty("url").GetString());
        Assert.Equal("default", session.GetProperty("bucket").GetString());
        Assert.Equal("videos/talk.mp4", session.GetProperty("key").GetString());
        Assert.Equal("open", session.GetProperty("state").GetString());
        Assert.Equal(1000, session.GetProperty("length").GetInt64());
        Assert.Equal(300, session.GetProperty("chunkSize").GetInt64());
        Assert.Equal(0, session.GetProperty("bytesReceived").GetInt64());
        Assert.Equal(0, session.GetProperty("offset").GetInt64());
        Assert.Equal(0, session.GetProperty("received").GetArrayLength());
        Assert.Equal(0, session.GetProperty("receivedChunks").GetArrayLength());
        Assert.Equal("native", session.GetProperty("protocol").GetString());
        Assert.Equal("video/mp4", session.GetProperty("contentType").GetString());
        var created = session.GetProperty("created").GetDateTimeOffset();
        Assert.Equal(created + server.Options.UploadSessionExpiry, session.GetProperty("expires").GetDateTimeOffset());
        Assert.False(session.TryGetProperty("sha256", out _), $"no sha256 was declared, yet the session says {text}");
        Assert.False(session.TryGetProperty("md5", out _), $"no md5 was declared, yet the session says {text}");
    }

    [Fact]
    public async Task Create_UnknownBucket_Answers404NotFound()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"bucket":"nosuch","key":"a.bin","length":10}""");

        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Theory]
    [InlineData("../escape.bin")]
    [InlineData("a/../../b")]
    [InlineData("/absolute.bin")]
    [InlineData("a//b")]
    [InlineData(".depot/uploads/x")]
    [InlineData("a\\b")]
    [InlineData("nul\u0000byte")]
    [InlineData("line\nbreak")]
    [InlineData("")]
    public async Task Create_BadKey_Answers400InvalidPath(string key)
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = new JsonObject { ["bucket"] = "default", ["key"] = key, ["length"] = 10 };

        using var response = await PostJsonAsync(server.Client, DepotRoutes.Uploads, body.ToJsonString());

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_path");
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(server.DataDirectory), p => Path.GetFileName(p) != ".depot");
    }

    [Theory]
    [InlineData(0, HttpStatusCode.BadRequest, "invalid_request")]
    [InlineData(-1, HttpStatusCode.BadRequest, "invalid_request")]
    [InlineData(1023, HttpStatusCode.BadRequest, "invalid_request")]
    [InlineData(1024, HttpStatusCode.Created, null)]
    [InlineData(65536, HttpStatusCode.Created, null)]
    [InlineData(65537, HttpStatusCode.RequestEntityTooLarge, "too_large")]
    public async Task Create_ChunkSizeAgainstTheBucketRange_AcceptedInsideRefusedOutside(long chunkSize, HttpStatusCode status, string? code)
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => (o.MinChunkSize, o.MaxChunkSize) = (1024, 65536));

        using var response = await PostJsonAsync(server.Client, DepotRoutes.Uploads, $$"""{"key":"c.bin","length":100000,"chunkSize":{{chunkSize}}}""");

        if (code is null)
        {
            Assert.True(status == response.StatusCode, await response.Content.ReadAsStringAsync(Ct));
        }
        else
        {
            await Problem.AssertAsync(response, status, code);
        }
    }

    [Fact]
    public async Task Create_ChunkSizeOfAnotherBucketsRange_UsesThatBucketsLimits()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) =>
            o.Buckets["strict"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "strict"), MinChunkSize = 4096, MaxChunkSize = 8192, MaxObjectSize = 100_000 });

        using var small = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"bucket":"strict","key":"c.bin","length":10000,"chunkSize":1024}""");
        using var large = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"bucket":"strict","key":"c.bin","length":10000,"chunkSize":16384}""");
        using var huge = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"bucket":"strict","key":"c.bin","length":100001}""");
        using var fine = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"bucket":"default","key":"c.bin","length":10000,"chunkSize":1024}""");

        await Problem.AssertAsync(small, HttpStatusCode.BadRequest, "invalid_request");
        await Problem.AssertAsync(large, HttpStatusCode.RequestEntityTooLarge, "too_large");
        await Problem.AssertAsync(huge, HttpStatusCode.RequestEntityTooLarge, "too_large");
        Assert.Equal(HttpStatusCode.Created, fine.StatusCode);
    }

    [Fact]
    public async Task Create_LengthAboveMaxObjectSize_Answers413TooLarge()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxObjectSize = 5000);

        using var over = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"key":"big.bin","length":5001}""");
        using var at = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"key":"big.bin","length":5000}""");
        using var negative = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"key":"big.bin","length":-1}""");

        await Problem.AssertAsync(over, HttpStatusCode.RequestEntityTooLarge, "too_large");
        Assert.Equal(HttpStatusCode.Created, at.StatusCode);
        await Problem.AssertAsync(negative, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Theory]
    [InlineData("sha256", "abc")]
    [InlineData("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")]
    [InlineData("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555")]
    [InlineData("sha256", "zzb0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256", "")]
    [InlineData("md5", "d41d8cd98f00b204e9800998ecf8427")]
    [InlineData("md5", "not base64 at all!!!!!!!")]
    [InlineData("md5", "AAAA")]
    [InlineData("md5", "")]
    public async Task Create_BadChecksum_Answers400InvalidRequest(string member, string value)
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = new JsonObject { ["key"] = "sum.bin", ["length"] = 10, [member] = value };

        using var response = await PostJsonAsync(server.Client, DepotRoutes.Uploads, body.ToJsonString());

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Create_CreateOnlyOverAnExistingObject_Answers409AlreadyExists()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await server.Client.PutAsync(DepotRoutes.Object("default", "taken.bin"), new ByteArrayContent([1, 2, 3]), Ct))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var response = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"key":"taken.bin","length":10,"createOnly":true}""");

        await Problem.AssertAsync(response, HttpStatusCode.Conflict, "already_exists");
    }

    [Fact]
    public async Task Create_ReadOnlyBucket_Answers403Forbidden()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) =>
            o.Buckets["archive"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "archive"), ReadOnly = true });

        using var response = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"bucket":"archive","key":"a.bin","length":10}""");

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Create_NoKey_Answers401AndAWrongKey401()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var none = await PostJsonAsync(server.CreateClient(null), DepotRoutes.Uploads, """{"key":"a.bin","length":10}""");
        using var wrong = await PostJsonAsync(server.CreateClient("dpk_not-a-real-key"), DepotRoutes.Uploads, """{"key":"a.bin","length":10}""");

        await Problem.AssertAsync(none, HttpStatusCode.Unauthorized, "unauthorized");
        await Problem.AssertAsync(wrong, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task Create_ReadOnlyKey_Answers403Forbidden()
    {
        await using var server = await DepotTestServer.StartAsync();
        var key = await server.CreateKeyAsync(["read"]);

        using var response = await PostJsonAsync(server.CreateClient(key.Token), DepotRoutes.Uploads, """{"key":"a.bin","length":10}""");

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Create_KeyLimitedToAnotherPrefixOrBucket_Answers403AndInsideItsPrefix201()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) =>
            o.Buckets["second"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "second") });
        var key = await server.CreateKeyAsync(["read", "write"], bucket: "default", prefix: "allowed/");
        var client = server.CreateClient(key.Token);

        using var outside = await PostJsonAsync(client, DepotRoutes.Uploads, """{"key":"other/a.bin","length":10}""");
        using var otherBucket = await PostJsonAsync(client, DepotRoutes.Uploads, """{"bucket":"second","key":"allowed/a.bin","length":10}""");
        using var assigned = await PostJsonAsync(client, DepotRoutes.Uploads, """{"length":10,"ext":"bin"}""");
        using var inside = await PostJsonAsync(client, DepotRoutes.Uploads, """{"key":"allowed/a.bin","length":10}""");

        await Problem.AssertAsync(outside, HttpStatusCode.Forbidden, "forbidden");
        await Problem.AssertAsync(otherBucket, HttpStatusCode.Forbidden, "forbidden");
        await Problem.AssertAsync(assigned, HttpStatusCode.Forbidden, "forbidden"); // an assigned id is never under "allowed/"
        Assert.True(inside.StatusCode == HttpStatusCode.Created, await inside.Content.ReadAsStringAsync(Ct));
        var files = Directory.Exists(UploadsFolder(server)) ? Directory.GetFiles(UploadsFolder(server)) : [];
        Assert.Empty(files);
    }

    [Fact]
    public async Task SessionOperations_KeyThatDoesNotCoverTheTarget_Answers403AndTouchesNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var session = await CreateSessionAsync(server.Client, """{"key":"private/a.bin","length":10}""");
        var id = session.GetProperty("id").GetString()!;
        var prefixKey = await server.CreateKeyAsync(["read", "write", "delete"], prefix: "public/");
        var readKey = await server.CreateKeyAsync(["read"]);

        foreach (var client in new[] { server.CreateClient(prefixKey.Token), server.CreateClient(readKey.Token) })
        {
            using var get = await client.GetAsync(DepotRoutes.Upload(id), Ct);
            using var put = await client.PutAsync(DepotRoutes.Upload(id) + "/chunks/0", new ByteArrayContent(new byte[10]), Ct);
            using var complete = await client.PostAsync(DepotRoutes.Upload(id) + "/complete", null, Ct);
            using var delete = await client.DeleteAsync(DepotRoutes.Upload(id), Ct);
            foreach (var response in new[] { get, put, complete, delete })
            {
                await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "forbidden");
            }
        }

        using var anonymous = await server.CreateClient(null).GetAsync(DepotRoutes.Upload(id), Ct);
        await Problem.AssertAsync(anonymous, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal(0, (await GetSessionAsync(server.Client, id)).GetProperty("bytesReceived").GetInt64());
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("null")]
    [InlineData("[1,2]")]
    [InlineData("""{"key":"a.bin","length":"ten"}""")]
    public async Task Create_BodyNotADeclaration_Answers400InvalidRequest(string body)
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await PostJsonAsync(server.Client, DepotRoutes.Uploads, body);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Create_MetadataNamesDifferingOnlyInCase_Answers400NotA500()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await PostJsonAsync(server.Client, DepotRoutes.Uploads, """{"key":"m.bin","length":1,"metadata":{"Origin":"a","origin":"b"}}""");

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Theory]
    [InlineData("text/plain\r\nX-Injected: 1")]
    [InlineData("text/plain\n")]
    [InlineData("not a media type")]
    [InlineData("téxt/plain")]
    public async Task Create_ContentTypeThatIsNoMediaType_Answers400(string contentType)
    {
        // It would be sent back as a Content-Type header (and inside multipart range answers) on every download.
        await using var server = await DepotTestServer.StartAsync();
        var body = new JsonObject { ["key"] = "t.txt", ["length"] = 1, ["contentType"] = contentType };

        using var response = await PostJsonAsync(server.Client, DepotRoutes.Uploads, body.ToJsonString());

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    // ---- chunks ----

    [Fact]
    public async Task Chunks_OutOfOrderFromEightClientsAtOnce_CompleteWithTheRightSha256()
    {
        await using var server = await DepotTestServer.StartAsync();
        const int ChunkSize = 256 * KiB;
        var bytes = TestBytes.Random((24 * ChunkSize) + 1234, seed: 1);
        var id = await CreateIdAsync(server.Client, $$"""{"key":"parallel/big.bin","length":{{bytes.Length}},"chunkSize":{{ChunkSize}},"sha256":"{{TestBytes.Sha256Hex(bytes)}}"}""");
        var clients = Enumerable.Range(0, 8).Select(_ => server.CreateClient(server.AdminKey)).ToArray();
        var order = Enumerable.Range(0, 25).OrderBy(i => (i * 11) % 25).ToArray();

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var statuses = new List<(int Index, HttpStatusCode Status, string Body)>();
            for (var n = worker; n < order.Length; n += 8)
            {
                var index = order[n];
                using var put = await PutChunkAsync(clients[worker], id, index, Slice(bytes, index, ChunkSize));
                statuses.Add((index, put.StatusCode, await put.Content.ReadAsStringAsync(Ct)));
            }

            return statuses;
        }, Ct)));

        Assert.All(answers.SelectMany(a => a), a => Assert.True(a.Status == HttpStatusCode.OK, $"chunk {a.Index}: {(int)a.Status} {a.Body}"));
        var session = await GetSessionAsync(server.Client, id);
        Assert.Equal(bytes.Length, session.GetProperty("bytesReceived").GetInt64());
        Assert.Equal(Enumerable.Range(0, 25).Select(i => (long)i), session.GetProperty("receivedChunks").EnumerateArray().Select(e => e.GetInt64()));
        await CompleteAndAssertPublishedAsync(server, id, "parallel/big.bin", bytes);
    }

    [Fact]
    public async Task Chunks_20MiBIn1MiBChunksInRandomOrder_PublishedExactly()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(20 * MiB, seed: 2);
        var id = await CreateIdAsync(server.Client, $$"""{"key":"big/20mib.bin","length":{{bytes.Length}},"chunkSize":{{MiB}}}""");
        var order = Enumerable.Range(0, 20).ToArray();
        new Random(7).Shuffle(order);

        foreach (var index in order)
        {
            using var put = await PutChunkAsync(server.Client, id, index, Slice(bytes, index, MiB));
            Assert.True(put.StatusCode == HttpStatusCode.OK, $"chunk {index}: {await put.Content.ReadAsStringAsync(Ct)}");
        }

        using var complete = await CompleteAsync(server.Client, id);
        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        Assert.Equal(TestBytes.ETagOf(bytes), complete.Headers.ETag?.ToString());
        await AssertObjectAsync(server, "big/20mib.bin", bytes);
    }

    [Fact]
    public async Task Chunks_ByOffsetAnySizesAnyOrder_Answer200AndPublish()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(100_000, seed: 3);
        var id = await CreateIdAsync(server.Client, $$"""{"key":"offsets.bin","length":{{bytes.Length}}}""");
        (int Start, int End)[] pieces = [(70_000, 100_000), (0, 1), (1, 30_000), (50_000, 70_000), (30_000, 50_000)];

        foreach (var (start, end) in pieces)
        {
            using var put = await PutAtAsync(server.Client, id, start, bytes[start..end]);
            var text = await put.Content.ReadAsStringAsync(Ct);
            Assert.True(put.StatusCode == HttpStatusCode.OK, text);
            Assert.False(JsonDocument.Parse(text).RootElement.GetProperty("duplicate").GetBoolean());
        }

        await CompleteAndAssertPublishedAsync(server, id, "offsets.bin", bytes);
    }

    [Fact]
    public async Task Chunk_SameBytesTwice_Answers200DuplicateAndNothingChanges()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(3000, seed: 4);
        var id = await CreateIdAsync(server.Client, """{"key":"dup.bin","length":3000,"chunkSize":1000}""");
        using (var first = await PutChunkAsync(server.Client, id, 1, bytes[1000..2000]))
        {
            var body = await ReadJsonAsync(first);
            Assert.False(body.GetProperty("duplicate").GetBoolean());
            Assert.Equal(1000, body.GetProperty("bytesReceived").GetInt64());
        }

        var before = await GetSessionAsync(server.Client, id);

        using var again = await PutChunkAsync(server.Client, id, 1, bytes[1000..2000]);

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var answer = await ReadJsonAsync(again);
        Assert.True(answer.GetProperty("duplicate").GetBoolean());
        Assert.Equal(1000, answer.GetProperty("bytesReceived").GetInt64());
        var after = await GetSessionAsync(server.Client, id);
        Assert.Equal(before.GetProperty("received").GetRawText(), after.GetProperty("received").GetRawText());
        Assert.Equal(before.GetProperty("expires").GetDateTimeOffset(), after.GetProperty("expires").GetDateTimeOffset());
    }

    [Fact]
    public async Task Chunk_DifferentBytesOverAReceivedChunk_Answers409ConflictAndKeepsTheStoredBytes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(3000, seed: 5);
        var id = await CreateIdAsync(server.Client, """{"key":"conflict.bin","length":3000,"chunkSize":1000}""");
        for (var i = 0; i < 3; i++)
        {
            using var put = await PutChunkAsync(server.Client, id, i, Slice(bytes, i, 1000));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var other = bytes[1000..2000];
        other[999] ^= 1;
        using var conflict = await PutChunkAsync(server.Client, id, 1, other);
        using var overlapping = await PutAtAsync(server.Client, id, 1500, other[..700]);

        await Problem.AssertAsync(conflict, HttpStatusCode.Conflict, "conflict");
        await Problem.AssertAsync(overlapping, HttpStatusCode.Conflict, "conflict");
        await CompleteAndAssertPublishedAsync(server, id, "conflict.bin", bytes);
    }

    [Fact]
    public async Task Chunk_WrongSizesAndPlaces_AnsweredWithClearErrorsAndNothingRecorded()
    {
        await using var server = await DepotTestServer.StartAsync();
        var id = await CreateIdAsync(server.Client, """{"key":"sizes.bin","length":2500,"chunkSize":1000}""");

        using var lastTooShort = await PutChunkAsync(server.Client, id, 2, new byte[499]);
        using var lastTooLong = await PutChunkAsync(server.Client, id, 2, new byte[501]);
        using var middleShort = await PutChunkAsync(server.Client, id, 0, new byte[999]);
        using var pastTheEnd = await PutChunkAsync(server.Client, id, 3, new byte[1000]);
        using var farPast = await PutChunkAsync(server.Client, id, long.MaxValue, new byte[1]);
        using var offsetPast = await PutAtAsync(server.Client, id, 2400, new byte[101]);
        using var offsetHuge = await PutAtAsync(server.Client, id, long.MaxValue - 10, new byte[100]);
        using var badIndex = await PutAsync(server.Client, DepotRoutes.Upload(id) + "/chunks/abc", new byte[10]);
        using var negativeIndex = await PutAsync(server.Client, DepotRoutes.Upload(id) + "/chunks/-1", new byte[10]);
        using var noOffset = await PutAsync(server.Client, DepotRoutes.Upload(id), new byte[10]);
        using var badOffset = await PutAsync(server.Client, DepotRoutes.Upload(id) + "?offset=-5", new byte[10]);

        await Problem.AssertAsync(lastTooShort, HttpStatusCode.BadRequest, "invalid_request");
        await Problem.AssertAsync(lastTooLong, HttpStatusCode.BadRequest, "invalid_request");
        await Problem.AssertAsync(middleShort, HttpStatusCode.BadRequest, "invalid_request");
        await Problem.AssertAsync(pastTheEnd, HttpStatusCode.RequestEntityTooLarge, "too_large");
        Assert.True(farPast.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge, await farPast.Content.ReadAsStringAsync(Ct));
        await Problem.AssertAsync(offsetPast, HttpStatusCode.RequestEntityTooLarge, "too_large");
        await Problem.AssertAsync(offsetHuge, HttpStatusCode.RequestEntityTooLarge, "too_large");
        await Problem.AssertAsync(badIndex, HttpStatusCode.BadRequest, "invalid_request");
        await Problem.AssertAsync(negativeIndex, HttpStatusCode.BadRequest, "invalid_request");
        await Problem.AssertAsync(noOffset, HttpStatusCode.BadRequest, "invalid_request");
        await Problem.AssertAsync(badOffset, HttpStatusCode.BadRequest, "invalid_request");
        var session = await GetSessionAsync(server.Client, id);
        Assert.Equal(0, session.GetProperty("bytesReceived").GetInt64());
        Assert.Equal(0, session.GetProperty("received").GetArrayLength());
    }

    [Fact]
    public async Task Chunk_StreamedWithoutContentLength_AcceptedWhenItFitsRefusedWhenTooLong()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(2500, seed: 6);
        var id = await CreateIdAsync(server.Client, """{"key":"chunked.bin","length":2500,"chunkSize":1000}""");

        using var fits = await PutChunkedAsync(server.Client, DepotRoutes.Upload(id) + "/chunks/2", bytes[2000..]);
        using var tooLong = await PutChunkedAsync(server.Client, DepotRoutes.Upload(id) + "/chunks/0", bytes[..1500]);

        Assert.True(fits.StatusCode == HttpStatusCode.OK, await fits.Content.ReadAsStringAsync(Ct));
        Assert.True(tooLong.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge, await tooLong.Content.ReadAsStringAsync(Ct));
        Assert.Equal(500, (await GetSessionAsync(server.Client, id)).GetProperty("bytesReceived").GetInt64());
    }

    [Fact]
    public async Task Chunk_BodyShorterThanContentLength_NothingRecordedAndTheChunkCanBeSentAgain()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(1000, seed: 7);
        var id = await CreateIdAsync(server.Client, """{"key":"short.bin","length":1000,"chunkSize":1000}""");

        // Content-Length 1000, 600 bytes, then the client closes its side.
        var head = $"PUT {DepotRoutes.Upload(id)}/chunks/0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.AdminKey}\r\nContent-Length: 1000\r\n\r\n";
        var answer = await SendAndHalfCloseAsync(server.Port, [.. Encoding.ASCII.GetBytes(head), .. bytes[..600]]);

        Assert.False(answer.StartsWith("HTTP/1.1 200", StringComparison.Ordinal), $"a short body was acknowledged: {answer}");
        Assert.DoesNotContain("HTTP/1.1 500", answer, StringComparison.Ordinal);
        var session = await GetSessionAsync(server.Client, id);
        Assert.Equal(0, session.GetProperty("bytesReceived").GetInt64());
        using var again = await PutChunkAsync(server.Client, id, 0, bytes);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        await CompleteAndAssertPublishedAsync(server, id, "short.bin", bytes);
        Assert.DoesNotContain(server.Logs, l => l.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task Operations_UnknownSession_Answer404()
    {
        await using var server = await DepotTestServer.StartAsync();
        const string Id = "AAAAAAAAAAAAAAAAAAAAAA";

        using var get = await server.Client.GetAsync(DepotRoutes.Upload(Id), Ct);
        using var put = await PutChunkAsync(server.Client, Id, 0, [1]);
        using var patch = await PatchLengthAsync(server.Client, Id, 10);
        using var complete = await CompleteAsync(server.Client, Id);
        using var delete = await server.Client.DeleteAsync(DepotRoutes.Upload(Id), Ct);

        foreach (var response in new[] { get, put, patch, complete, delete })
        {
            await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
        }
    }

    // ---- the session's state ----

    [Fact]
    public async Task Get_AfterSomeChunks_ReportsRangesChunksBytesOffsetAndExpiry()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => (o.Time, o.UploadSessionExpiry, o.UploadSweepInterval) = (clock, TimeSpan.FromHours(2), TimeSpan.FromDays(1)));
        var id = await CreateIdAsync(server.Client, """{"key":"state.bin","length":1000,"chunkSize":300}""");
        clock.Advance(TimeSpan.FromMinutes(30));
        foreach (var index in new[] { 0, 3, 2 })
        {
            using var put = await PutChunkAsync(server.Client, id, index, new byte[index == 3 ? 100 : 300]);
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var response = await server.Client.GetAsync(DepotRoutes.Upload(id), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.CacheControl?.NoStore, "a session's state must not be cached");
        var session = await ReadJsonAsync(response);
        Assert.Equal("[[0,300],[600,1000]]", session.GetProperty("received").GetRawText());
        Assert.Equal("[0,2,3]", session.GetProperty("receivedChunks").GetRawText());
        Assert.Equal(700, session.GetProperty("bytesReceived").GetInt64());
        Assert.Equal(300, session.GetProperty("offset").GetInt64());
        Assert.Equal("open", session.GetProperty("state").GetString());
        Assert.False(session.TryGetProperty("sha256", out _), "no sha256 was declared (a stored session must not read back with an empty one)");
        Assert.False(session.TryGetProperty("md5", out _), "no md5 was declared");
        var expires = session.GetProperty("expires").GetDateTimeOffset();
        var created = session.GetProperty("created").GetDateTimeOffset();
        Assert.True(expires >= created + TimeSpan.FromMinutes(30) + TimeSpan.FromHours(2), $"each chunk pushes the expiry back: created {created:O}, expires {expires:O}");
    }

    // ---- complete ----

    [Fact]
    public async Task Complete_MissingBytes_Answers409UploadIncomplete()
    {
        await using var server = await DepotTestServer.StartAsync();
        var id = await CreateIdAsync(server.Client, """{"key":"gap.bin","length":3000,"chunkSize":1000}""");
        using (var put = await PutChunkAsync(server.Client, id, 1, new byte[1000]))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var complete = await CompleteAsync(server.Client, id);

        var problem = await Problem.AssertAsync(complete, HttpStatusCode.Conflict, "upload_incomplete");
        Assert.Contains("0-1000", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("1000", problem.GetProperty("received").ToString()); // Problems writes every extension as a string
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "gap.bin")));
    }

    [Fact]
    public async Task Complete_WrongDeclaredSha256_Answers422AndPublishesNothingAndTheSessionStaysOpen()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 8);
        var wrong = TestBytes.Sha256Hex(TestBytes.Random(5000, seed: 9));
        var id = await CreateIdAsync(server.Client, $$"""{"key":"bad/sha.bin","length":5000,"sha256":"{{wrong.ToUpperInvariant()}}"}""");
        using (var put = await PutAtAsync(server.Client, id, 0, bytes))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var complete = await CompleteAsync(server.Client, id);

        var problem = await Problem.AssertAsync(complete, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
        Assert.Contains(TestBytes.Sha256Hex(bytes), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var get = await server.Client.GetAsync(DepotRoutes.Object("default", "bad/sha.bin"), Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "bad", "sha.bin")));
        var session = await GetSessionAsync(server.Client, id);
        Assert.Equal("open", session.GetProperty("state").GetString());
        Assert.Equal(wrong, session.GetProperty("sha256").GetString());
    }

    [Theory]
    [InlineData("hex")]
    [InlineData("base64")]
    public async Task Complete_DeclaredMd5_VerifiedRightPublishesWrong422(string form)
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(4000, seed: 10);
#pragma warning disable CA5351 // MD5 as clients declare it: verified, never trusted for security
        var md5 = MD5.HashData(bytes);
        var otherMd5 = MD5.HashData(bytes[1..]);
#pragma warning restore CA5351
        string Text(byte[] digest) => form == "hex" ? Convert.ToHexStringLower(digest) : Convert.ToBase64String(digest);
        var good = await CreateIdAsync(server.Client, $$"""{"key":"md5/good.bin","length":4000,"md5":"{{Text(md5)}}"}""");
        var bad = await CreateIdAsync(server.Client, $$"""{"key":"md5/bad.bin","length":4000,"md5":"{{Text(otherMd5)}}"}""");
        foreach (var id in new[] { good, bad })
        {
            using var put = await PutAtAsync(server.Client, id, 0, bytes);
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var completeGood = await CompleteAsync(server.Client, good);
        using var completeBad = await CompleteAsync(server.Client, bad);

        Assert.True(completeGood.StatusCode == HttpStatusCode.OK, await completeGood.Content.ReadAsStringAsync(Ct));
        var problem = await Problem.AssertAsync(completeBad, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
        Assert.Contains("MD5", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AssertObjectAsync(server, "md5/good.bin", bytes);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "md5", "bad.bin")));
    }

    [Fact]
    public async Task Complete_Good_PublishesTheObjectAtTheKeyWithTheSha256AsETag()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(10_000, seed: 11);
        var id = await CreateIdAsync(server.Client, $$"""{"key":"docs/report.pdf","length":10000,"chunkSize":4000,"sha256":"{{TestBytes.Sha256Hex(bytes)}}"}""");
        foreach (var index in new[] { 2, 0, 1 })
        {
            using var put = await PutChunkAsync(server.Client, id, index, Slice(bytes, index, 4000));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var complete = await CompleteAsync(server.Client, id);

        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        Assert.Equal(TestBytes.ETagOf(bytes), complete.Headers.ETag?.ToString());
        Assert.Equal(DepotRoutes.Object("default", "docs/report.pdf"), complete.Headers.Location?.OriginalString);
        var session = await ReadJsonAsync(complete);
        Assert.Equal("completed", session.GetProperty("state").GetString());
        var info = session.GetProperty("object");
        Assert.Equal(10_000, info.GetProperty("size").GetInt64());
        Assert.Equal(TestBytes.ETagOf(bytes), info.GetProperty("etag").GetString());
        await AssertObjectAsync(server, "docs/report.pdf", bytes);
        Assert.Empty(Directory.GetFiles(UploadsFolder(server)));
    }

    [Fact]
    public async Task Complete_Twice_AnswersTheSame()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(100, seed: 12);
        var id = await CreateIdAsync(server.Client, """{"key":"twice.bin","length":100}""");
        using (var put = await PutAtAsync(server.Client, id, 0, bytes))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var first = await CompleteAsync(server.Client, id);
        using var second = await CompleteAsync(server.Client, id);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(first.Headers.ETag?.ToString(), second.Headers.ETag?.ToString());
        var a = (await ReadJsonAsync(first)).GetProperty("object");
        var b = (await ReadJsonAsync(second)).GetProperty("object");
        Assert.Equal(a.GetRawText(), b.GetRawText());
        using var late = await PutAtAsync(server.Client, id, 0, bytes);
        await Problem.AssertAsync(late, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("completed", (await GetSessionAsync(server.Client, id)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Complete_NoKey_PublishedAtAServerAssignedId()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(500, seed: 13);
        var session = await CreateSessionAsync(server.Client, """{"length":500,"ext":"jpg"}""");
        var id = session.GetProperty("id").GetString()!;
        var key = session.GetProperty("key").GetString()!;
        Assert.Matches(@"^M00/[0-9A-Fa-f]{2}/[0-9A-Fa-f]{2}/[^/]+\.jpg$", key);
        using (var put = await PutAtAsync(server.Client, id, 0, bytes))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var complete = await CompleteAsync(server.Client, id);

        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        Assert.Equal(key, (await ReadJsonAsync(complete)).GetProperty("object").GetProperty("key").GetString());
        await AssertObjectAsync(server, key, bytes);
    }

    [Fact]
    public async Task Complete_Appendable_PublishesAnAppenderObjectThatAcceptsAppends()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(3000, seed: 14);
        var more = TestBytes.Random(700, seed: 15);
        var id = await CreateIdAsync(server.Client, """{"key":"logs/app.log","length":3000,"chunkSize":1000,"appendable":true}""");
        foreach (var index in new[] { 1, 2, 0 })
        {
            using var put = await PutChunkAsync(server.Client, id, index, Slice(bytes, index, 1000));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var complete = await CompleteAsync(server.Client, id);
        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        using var append = await server.Client.PostAsync(DepotRoutes.Object("default", "logs/app.log") + "?append", new ByteArrayContent(more), Ct);

        Assert.True(append.StatusCode == HttpStatusCode.OK, await append.Content.ReadAsStringAsync(Ct));
        await AssertObjectAsync(server, "logs/app.log", [.. bytes, .. more]);
    }

    [Fact]
    public async Task Complete_MetadataAndContentType_CarriedToTheObject()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(64, seed: 16);
        var id = await CreateIdAsync(server.Client, """{"key":"photo.raw","length":64,"contentType":"image/x-raw","metadata":{"Camera":"x100","iso":"400"}}""");
        using (var put = await PutAtAsync(server.Client, id, 0, bytes))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var complete = await CompleteAsync(server.Client, id);
        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));

        using var get = await server.Client.GetAsync(DepotRoutes.Object("default", "photo.raw"), Ct);
        Assert.Equal("image/x-raw", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal("x100", Header(get, DepotHeaders.MetaPrefix + "camera"));
        Assert.Equal("400", Header(get, DepotHeaders.MetaPrefix + "iso"));
    }

    [Fact]
    public async Task Complete_ZeroByteUpload_PublishesAnEmptyObject()
    {
        await using var server = await DepotTestServer.StartAsync();
        var id = await CreateIdAsync(server.Client, $$"""{"key":"empty.txt","length":0,"chunkSize":1024,"sha256":"{{TestBytes.Sha256Hex([])}}"}""");

        using var complete = await CompleteAsync(server.Client, id);

        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        await AssertObjectAsync(server, "empty.txt", []);
    }

    // ---- deferred length ----

    [Fact]
    public async Task DeferredLength_PatchLengthThenComplete_Publishes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(2500, seed: 17);
        var id = await CreateIdAsync(server.Client, """{"key":"deferred.bin","chunkSize":1000}""");
        foreach (var index in new[] { 1, 0, 2 })
        {
            using var put = await PutChunkAsync(server.Client, id, index, Slice(bytes, index, 1000));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using (var early = await CompleteAsync(server.Client, id))
        {
            await Problem.AssertAsync(early, HttpStatusCode.Conflict, "upload_incomplete");
        }

        using (var tooShort = await PatchLengthAsync(server.Client, id, 2400))
        {
            await Problem.AssertAsync(tooShort, HttpStatusCode.Conflict, "conflict");
        }

        using (var noLength = await PatchAsync(server.Client, id, "{}"))
        {
            await Problem.AssertAsync(noLength, HttpStatusCode.BadRequest, "invalid_request");
        }

        using var patch = await PatchLengthAsync(server.Client, id, 2500);
        Assert.True(patch.StatusCode == HttpStatusCode.OK, await patch.Content.ReadAsStringAsync(Ct));
        Assert.Equal(2500, (await ReadJsonAsync(patch)).GetProperty("length").GetInt64());
        using (var other = await PatchLengthAsync(server.Client, id, 2600))
        {
            await Problem.AssertAsync(other, HttpStatusCode.Conflict, "conflict");
        }

        await CompleteAndAssertPublishedAsync(server, id, "deferred.bin", bytes);
    }

    [Fact]
    public async Task DeferredLength_ChunkLongerThanTheChunkSize_RefusedAndNothingRecorded()
    {
        await using var server = await DepotTestServer.StartAsync();
        var id = await CreateIdAsync(server.Client, """{"key":"deferred-long.bin","chunkSize":1000}""");

        using var put = await PutChunkAsync(server.Client, id, 0, new byte[1500]);

        await Problem.AssertAsync(put, HttpStatusCode.BadRequest, "invalid_request");
        Assert.Equal(0, (await GetSessionAsync(server.Client, id)).GetProperty("bytesReceived").GetInt64());
    }

    // ---- abort and expiry ----

    [Fact]
    public async Task Abort_Answers204DeletesTheStagedFileAndLaterOperationsAre404()
    {
        await using var server = await DepotTestServer.StartAsync();
        var id = await CreateIdAsync(server.Client, """{"key":"abort.bin","length":2000,"chunkSize":1000}""");
        using (var put = await PutChunkAsync(server.Client, id, 1, new byte[1000]))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        Assert.True(File.Exists(StagedPath(server, id)));

        using var delete = await server.Client.DeleteAsync(DepotRoutes.Upload(id), Ct);

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.False(File.Exists(StagedPath(server, id)));
        using var get = await server.Client.GetAsync(DepotRoutes.Upload(id), Ct);
        using var chunk = await PutChunkAsync(server.Client, id, 0, new byte[1000]);
        using var complete = await CompleteAsync(server.Client, id);
        using var again = await server.Client.DeleteAsync(DepotRoutes.Upload(id), Ct);
        foreach (var response in new[] { get, chunk, complete, again })
        {
            await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
        }

        Assert.False(File.Exists(StagedPath(server, id)));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "abort.bin")));
    }

    [Fact]
    public async Task Expiry_PastTheSessionExpiry_Answers410ThenTheSweepDeletesTheStagedFile()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => (o.Time, o.UploadSessionExpiry, o.UploadSweepInterval) = (clock, TimeSpan.FromHours(1), TimeSpan.FromDays(1)));
        var id = await CreateIdAsync(server.Client, """{"key":"expire.bin","length":2000,"chunkSize":1000}""");
        var live = await CreateIdAsync(server.Client, """{"key":"live.bin","length":2000,"chunkSize":1000}""");
        using (var put = await PutChunkAsync(server.Client, id, 0, new byte[1000]))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        clock.Advance(TimeSpan.FromMinutes(50));
        using (var put = await PutChunkAsync(server.Client, live, 0, new byte[1000]))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        clock.Advance(TimeSpan.FromMinutes(11));

        using (var get = await server.Client.GetAsync(DepotRoutes.Upload(id), Ct))
        using (var chunk = await PutChunkAsync(server.Client, id, 1, new byte[1000]))
        using (var complete = await CompleteAsync(server.Client, id))
        {
            foreach (var response in new[] { get, chunk, complete })
            {
                await Problem.AssertAsync(response, HttpStatusCode.Gone, "upload_expired");
            }
        }

        Assert.True(File.Exists(StagedPath(server, id)), "the bytes stay until the sweep");

        var reclaimed = await server.Services.GetRequiredService<UploadEngine>().ReclaimExpiredAsync(Ct);

        Assert.Equal(1, reclaimed);
        Assert.False(File.Exists(StagedPath(server, id)));
        using var after = await server.Client.GetAsync(DepotRoutes.Upload(id), Ct);
        await Problem.AssertAsync(after, HttpStatusCode.NotFound, "not_found");
        Assert.True(File.Exists(StagedPath(server, live)));
        Assert.Equal(1000, (await GetSessionAsync(server.Client, live)).GetProperty("bytesReceived").GetInt64());
    }

    // ---- helpers ----

    private static string UploadsFolder(DepotTestServer server) => Path.Combine(server.DataDirectory, ".depot", "uploads");

    private static string StagedPath(DepotTestServer server, string id) => Path.Combine(UploadsFolder(server), id + ".upload");

    private static byte[] Slice(byte[] bytes, int index, int chunkSize) => bytes[(index * chunkSize)..Math.Min(bytes.Length, (index + 1) * chunkSize)];

    private static async Task<HttpResponseMessage> PostJsonAsync(HttpClient client, string url, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return await client.PostAsync(url, content, Ct);
    }

    private static async Task<JsonElement> CreateSessionAsync(HttpClient client, string json)
    {
        using var response = await PostJsonAsync(client, DepotRoutes.Uploads, json);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"creating {json}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<string> CreateIdAsync(HttpClient client, string json) =>
        (await CreateSessionAsync(client, json)).GetProperty("id").GetString()!;

    private static async Task<JsonElement> GetSessionAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync(DepotRoutes.Upload(id), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();

    private static async Task<HttpResponseMessage> PutAsync(HttpClient client, string url, byte[] bytes)
    {
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await client.PutAsync(url, content, Ct);
    }

    private static Task<HttpResponseMessage> PutChunkAsync(HttpClient client, string id, long index, byte[] bytes) =>
        PutAsync(client, DepotRoutes.Upload(id) + "/chunks/" + index.ToString(CultureInfo.InvariantCulture), bytes);

    private static Task<HttpResponseMessage> PutAtAsync(HttpClient client, string id, long offset, byte[] bytes) =>
        PutAsync(client, DepotRoutes.Upload(id) + "?offset=" + offset.ToString(CultureInfo.InvariantCulture), bytes);

    /// <summary>A PUT sent with chunked transfer encoding (no Content-Length).</summary>
    private static async Task<HttpResponseMessage> PutChunkedAsync(HttpClient client, string url, byte[] bytes)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, url) { Content = new StreamContent(new MemoryStream(bytes)) };
        request.Headers.TransferEncodingChunked = true;
        return await client.SendAsync(request, Ct);
    }

    private static Task<HttpResponseMessage> CompleteAsync(HttpClient client, string id) =>
        client.PostAsync(DepotRoutes.Upload(id) + "/complete", null, Ct);

    private static Task<HttpResponseMessage> PatchLengthAsync(HttpClient client, string id, long length) =>
        PatchAsync(client, id, $$"""{"length":{{length}}}""");

    private static async Task<HttpResponseMessage> PatchAsync(HttpClient client, string id, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return await client.PatchAsync(DepotRoutes.Upload(id), content, Ct);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(",", values) : null;

    /// <summary>The object is exactly <paramref name="expected"/>: the plain file on disk, a download, its ETag and
    /// X-Depot-Sha256.</summary>
    /// <summary>Completes the session, expects 200, and checks the published object's bytes.</summary>
    private static async Task CompleteAndAssertPublishedAsync(DepotTestServer server, string id, string key, byte[] expected)
    {
        using var complete = await CompleteAsync(server.Client, id);
        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        await AssertObjectAsync(server, key, expected);
    }

    private static async Task AssertObjectAsync(DepotTestServer server, string key, byte[] expected)
    {
        var path = Path.Combine(server.DataDirectory, key.Replace('/', Path.DirectorySeparatorChar));
        Assert.True(File.Exists(path), $"no file at {path}");
        var onDisk = await File.ReadAllBytesAsync(path, Ct);
        Assert.True(expected.AsSpan().SequenceEqual(onDisk), $"the file holds {onDisk.Length} bytes with SHA-256 {TestBytes.Sha256Hex(onDisk)}, expected {expected.Length} with {TestBytes.Sha256Hex(expected)}");
        using var get = await server.Client.GetAsync(DepotRoutes.Object("default", key), Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var served = await get.Content.ReadAsByteArrayAsync(Ct);
        Assert.True(expected.AsSpan().SequenceEqual(served), "a download serves other bytes");
        Assert.Equal(TestBytes.ETagOf(expected), get.Headers.ETag?.ToString());
        Assert.Equal(TestBytes.Sha256Hex(expected), Header(get, DepotHeaders.Sha256));
    }

    /// <summary>Sends raw bytes, closes the sending side, and returns whatever the server answers (maybe nothing).</summary>
    private static async Task<string> SendAndHalfCloseAsync(int port, byte[] request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port, timeout.Token);
        var stream = tcp.GetStream();
        await stream.WriteAsync(request, timeout.Token);
        tcp.Client.Shutdown(SocketShutdown.Send);
        var received = new MemoryStream();
        var buffer = new byte[16 << 10];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, n);
            }
        }
        catch (IOException)
        {
            // A reset instead of an answer: the chunk was not acknowledged either way.
        }

        return Encoding.ASCII.GetString(received.ToArray());
    }
}
