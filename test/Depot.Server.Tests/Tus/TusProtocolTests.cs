using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Depot.Server.Hosting;
using Depot.Server.Tests.Http;
using Depot.Server.Tests.Infrastructure;
using static Depot.Server.Tests.Tus.TusRequests;

namespace Depot.Server.Tests.Tus;

/// <summary>tus 1.0.0 at /tus/ with hand-written requests against a real Kestrel: every status code and header the
/// specification prescribes for the core protocol and the extensions Depot announces (docs/tus.md).</summary>
public sealed class TusProtocolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Dictionary<string, string> At(string key) => new() { ["key"] = key };

    // ---- OPTIONS, versions, CORS ----

    [Fact]
    public async Task Options_WithoutKey_Answers204WithVersionExtensionsMaxSizeAndAlgorithms()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Tus.MaxSize = 5_000_000);
        using var anonymous = server.CreateClient(null);

        using var response = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Options, Endpoint), Ct);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("1.0.0", Header(response, "Tus-Version"));
        Assert.Equal("5000000", Header(response, "Tus-Max-Size"));
        Assert.Equal("sha1,md5,sha256", Header(response, "Tus-Checksum-Algorithm"));
        var extensions = Header(response, "Tus-Extension")!.Split(',');
        Assert.Equal(
            ["creation", "creation-with-upload", "creation-defer-length", "expiration", "checksum", "checksum-trailer", "termination", "concatenation"],
            extensions);
    }

    [Fact]
    public async Task Options_UnsupportedTusResumable_IsIgnored()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Options, Endpoint);
        request.Headers.TryAddWithoutValidation("Tus-Resumable", "0.1.0");

        using var response = await server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Options_CorsPreflightWithoutKey_Answers204WithAllowedMethodsAndHeaders()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var anonymous = server.CreateClient(null);
        using var request = new HttpRequestMessage(HttpMethod.Options, "tus/some-upload");
        request.Headers.TryAddWithoutValidation("Origin", "https://app.example");
        request.Headers.TryAddWithoutValidation("Access-Control-Request-Method", "PATCH");
        request.Headers.TryAddWithoutValidation("Access-Control-Request-Headers", "authorization, tus-resumable, upload-offset, content-type");

        using var response = await anonymous.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("https://app.example", Header(response, "Access-Control-Allow-Origin"));
        var methods = Header(response, "Access-Control-Allow-Methods")!;
        foreach (var method in new[] { "POST", "HEAD", "PATCH", "DELETE", "OPTIONS" })
        {
            Assert.Contains(method, methods, StringComparison.Ordinal);
        }

        var allowed = Header(response, "Access-Control-Allow-Headers")!;
        foreach (var header in new[] { "Authorization", "Content-Type", "Tus-Resumable", "Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Checksum", "Upload-Concat", "Upload-Defer-Length", "X-HTTP-Method-Override", "X-Requested-With" })
        {
            Assert.Contains(header, allowed, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Cors_RequestWithOrigin_EchoesOriginAndExposesTusHeaders()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = Create(10, At("cors.bin"), ("Origin", "https://app.example"));

        using var response = await server.Client.SendAsync(request, Ct);

        await AssertStatusAsync(response, HttpStatusCode.Created);
        Assert.Equal("https://app.example", Header(response, "Access-Control-Allow-Origin"));
        var exposed = Header(response, "Access-Control-Expose-Headers")!;
        foreach (var header in new[] { "Upload-Offset", "Location", "Upload-Length", "Tus-Version", "Tus-Resumable", "Tus-Max-Size", "Tus-Extension", "Upload-Metadata", "Upload-Defer-Length", "Upload-Concat", "Upload-Expires" })
        {
            Assert.Contains(header, exposed, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("0.2.2")]
    [InlineData("")]
    public async Task Create_UnsupportedTusResumable_Answers412WithTusVersionAndCreatesNothing(string version)
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = Create(10, At("never.bin"));
        request.Headers.Remove("Tus-Resumable");
        if (version.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("Tus-Resumable", version);
        }

        using var response = await server.Client.SendAsync(request, Ct);

        await Problem.AssertAsync(response, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal("1.0.0", Header(response, "Tus-Version"));
        Assert.Null(response.Headers.Location);
    }

    // ---- authentication ----

    [Fact]
    public async Task Create_WithoutKey_Answers401()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.AnonymousRead = true);
        using var anonymous = server.CreateClient(null);

        using var response = await anonymous.SendAsync(Create(10, At("anon.bin")), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal("1.0.0", Header(response, "Tus-Resumable"));
    }

    [Fact]
    public async Task Create_WrongKey_Answers401()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var wrong = server.CreateClient("dpk_nope_notakey");

        using var response = await wrong.SendAsync(Create(10, At("wrong.bin")), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task Create_ReadOnlyKey_Answers403()
    {
        await using var server = await DepotTestServer.StartAsync();
        var reader = await server.CreateKeyAsync(["read"]);
        using var client = server.CreateClient(reader.Token);

        using var response = await client.SendAsync(Create(10, At("ro.bin")), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Upload_KeyLimitedToAnotherPrefix_HeadPatchAndDeleteAnswer403()
    {
        await using var server = await DepotTestServer.StartAsync();
        var location = await CreateUploadAsync(server.Client, 4, At("team-a/report.bin"));
        var other = await server.CreateKeyAsync(["read", "write", "delete"], prefix: "team-b/");
        using var client = server.CreateClient(other.Token);

        using var head = await HeadAsync(client, location);
        using var patch = await client.SendAsync(Patch(location, 0, [1, 2, 3, 4]), Ct);
        using var delete = await client.SendAsync(Request(HttpMethod.Delete, location), Ct);
        using var create = await client.SendAsync(Create(4, At("team-a/mine.bin")), Ct);

        await Problem.AssertHeadAsync(head, HttpStatusCode.Forbidden);
        await Problem.AssertAsync(patch, HttpStatusCode.Forbidden, "forbidden");
        await Problem.AssertAsync(delete, HttpStatusCode.Forbidden, "forbidden");
        await Problem.AssertAsync(create, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(0, await OffsetAsync(server.Client, location));
    }

    [Fact]
    public async Task Upload_KeyLimitedToItsPrefix_UploadsThere()
    {
        await using var server = await DepotTestServer.StartAsync();
        var writer = await server.CreateKeyAsync(["write"], bucket: "default", prefix: "team-b/");
        using var client = server.CreateClient(writer.Token);
        var body = TestBytes.Random(1000, seed: 5);

        var location = await CreateUploadAsync(client, body.Length, At("team-b/notes.bin"));
        await PatchOkAsync(client, location, 0, body);

        Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "team-b/notes.bin"), Ct));
    }

    // ---- creation ----

    [Fact]
    public async Task Create_WithLength_Answers201WithLocationAndUploadExpires()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.Client.SendAsync(Create(100, At("docs/a.bin")), Ct);

        await AssertStatusAsync(response, HttpStatusCode.Created);
        Assert.Matches("^/tus/[^/]+$", response.Headers.Location!.ToString());
        var expires = Header(response, "Upload-Expires");
        Assert.NotNull(expires);
        Assert.True(DateTimeOffset.TryParseExact(expires, "R", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when), expires);
        Assert.True(when > DateTimeOffset.UtcNow.AddHours(1));
        Assert.False(File.Exists(FileIn(server, "docs/a.bin")));
    }

    [Fact]
    public async Task Create_WithoutLengthOrDefer_Answers400()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.Client.SendAsync(Request(HttpMethod.Post, Endpoint), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Theory]
    [InlineData("Upload-Defer-Length", "2")]
    [InlineData("Upload-Length", "-5")]
    [InlineData("Upload-Length", "12abc")]
    public async Task Create_BadLengthHeader_Answers400(string name, string value)
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.Client.SendAsync(Request(HttpMethod.Post, Endpoint, (name, value)), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Create_OverTusMaxSize_Answers413()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Tus.MaxSize = 1000);

        using var response = await server.Client.SendAsync(Create(1001, At("big.bin")), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge, "too_large");
    }

    [Fact]
    public async Task Create_OverTheBucketsMaximum_Answers413AndAdvertisesIt()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxObjectSize = 4096);

        using var options = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Options, Endpoint), Ct);
        using var response = await server.Client.SendAsync(Create(4097, At("big.bin")), Ct);

        Assert.Equal("4096", Header(options, "Tus-Max-Size"));
        await Problem.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge, "too_large");
    }

    [Theory]
    [InlineData("filename !!notbase64")]
    [InlineData("filename YQ==,filename Yg==")]
    [InlineData("filename YQ==,,flag")]
    [InlineData("filename YQ== Yg==")]
    public async Task Create_MalformedMetadata_Answers400(string metadata)
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.Client.SendAsync(Request(HttpMethod.Post, Endpoint, ("Upload-Length", "5"), ("Upload-Metadata", metadata)), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Create_InvalidKey_Answers400InvalidPath()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.Client.SendAsync(Create(5, At("../escape.bin")), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_path");
    }

    [Fact]
    public async Task Create_UnknownBucket_Answers404()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.Client.SendAsync(Create(5, new Dictionary<string, string> { ["bucket"] = "nope", ["key"] = "a.bin" }), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    // ---- core: HEAD and PATCH ----

    [Fact]
    public async Task Head_NewUpload_Answers200WithOffsetLengthMetadataAndNoStore()
    {
        await using var server = await DepotTestServer.StartAsync();
        var metadata = new Dictionary<string, string> { ["key"] = "h.bin", ["filename"] = "h.bin", ["flag"] = "" };
        var location = await CreateUploadAsync(server.Client, 42, metadata);

        using var head = await HeadAsync(server.Client, location);

        await AssertStatusAsync(head, HttpStatusCode.OK);
        Assert.Equal("0", Header(head, "Upload-Offset"));
        Assert.Equal("42", Header(head, "Upload-Length"));
        Assert.Null(Header(head, "Upload-Defer-Length"));
        Assert.Equal(Metadata(metadata), Header(head, "Upload-Metadata"));
        Assert.Equal("no-store", Header(head, "Cache-Control"));
        Assert.NotNull(Header(head, "Upload-Expires"));
        Assert.Empty(await head.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task Head_UnknownUpload_Answers404WithoutOffset()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var head = await HeadAsync(server.Client, "tus/AAAAAAAAAAAAAAAAAAAAAA");

        await Problem.AssertHeadAsync(head, HttpStatusCode.NotFound);
        Assert.Null(Header(head, "Upload-Offset"));
        Assert.Equal("no-store", Header(head, "Cache-Control"));
        Assert.Equal("1.0.0", Header(head, "Tus-Resumable"));
    }

    [Fact]
    public async Task Patch_WholeBody_Answers204AndPublishesTheExactBytesAtTheKey()
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(300_000, seed: 1);
        var location = await CreateUploadAsync(server.Client, body.Length, new Dictionary<string, string> { ["key"] = "photos/cat.jpg", ["filetype"] = "image/jpeg", ["album"] = "pets" });

        using var response = await server.Client.SendAsync(Patch(location, 0, body), Ct);

        await AssertStatusAsync(response, HttpStatusCode.NoContent);
        Assert.Equal("300000", Header(response, "Upload-Offset"));
        Assert.Equal("/v1/default/photos/cat.jpg", Header(response, "X-Depot-Object"));
        Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "photos/cat.jpg"), Ct));
        using var get = await server.Client.GetAsync("v1/default/photos/cat.jpg", Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(body, await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(TestBytes.Sha256Hex(body), Header(get, "X-Depot-Sha256"));
        Assert.Equal("image/jpeg", get.Content.Headers.ContentType?.MediaType);
        Assert.Equal("pets", Header(get, "X-Depot-Meta-album"));
    }

    [Fact]
    public async Task Patch_InChunks_PublishesOnlyAfterTheLastChunk()
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(250_000, seed: 2);
        var location = await CreateUploadAsync(server.Client, body.Length, At("chunks.bin"));

        await PatchOkAsync(server.Client, location, 0, body[..100_000]);
        Assert.Equal(100_000, await OffsetAsync(server.Client, location));
        Assert.False(File.Exists(FileIn(server, "chunks.bin")));
        await PatchOkAsync(server.Client, location, 100_000, body[100_000..200_000]);
        await PatchOkAsync(server.Client, location, 200_000, body[200_000..]);

        Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "chunks.bin"), Ct));
        using var head = await HeadAsync(server.Client, location);
        await AssertStatusAsync(head, HttpStatusCode.OK);
        Assert.Equal("250000", Header(head, "Upload-Offset"));
        Assert.Equal("250000", Header(head, "Upload-Length"));
        Assert.Equal("/v1/default/chunks.bin", Header(head, "X-Depot-Object"));
    }

    [Fact]
    public async Task Patch_EmptyUpload_CompletesAtCreationOfLengthZeroByPatch()
    {
        await using var server = await DepotTestServer.StartAsync();
        var location = await CreateUploadAsync(server.Client, 0, At("empty.bin"));

        using var response = await server.Client.SendAsync(Patch(location, 0, []), Ct);

        await AssertStatusAsync(response, HttpStatusCode.NoContent);
        Assert.Equal("0", Header(response, "Upload-Offset"));
        Assert.Empty(await File.ReadAllBytesAsync(FileIn(server, "empty.bin"), Ct));
    }

    [Theory]
    [InlineData("application/octet-stream")]
    [InlineData(null)]
    public async Task Patch_WrongContentType_Answers415AndStoresNothing(string? contentType)
    {
        await using var server = await DepotTestServer.StartAsync();
        var location = await CreateUploadAsync(server.Client, 3, At("ct.bin"));
        using var request = Patch(location, 0, [1, 2, 3]);
        request.Content!.Headers.ContentType = contentType is null ? null : new MediaTypeHeaderValue(contentType);

        using var response = await server.Client.SendAsync(request, Ct);

        await Problem.AssertAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal(0, await OffsetAsync(server.Client, location));
    }

    [Fact]
    public async Task Patch_OffsetMismatch_Answers409AndLeavesTheUpload()
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(1000, seed: 3);
        var location = await CreateUploadAsync(server.Client, body.Length, At("mismatch.bin"));
        await PatchOkAsync(server.Client, location, 0, body[..400]);

        using var behind = await server.Client.SendAsync(Patch(location, 100, body[100..]), Ct);
        using var ahead = await server.Client.SendAsync(Patch(location, 500, body[500..]), Ct);

        var problem = await Problem.AssertAsync(behind, HttpStatusCode.Conflict, "offset_mismatch");
        Assert.Equal("400", problem.GetProperty("offset").GetString());
        await Problem.AssertAsync(ahead, HttpStatusCode.Conflict, "offset_mismatch");
        Assert.Equal("1.0.0", Header(ahead, "Tus-Resumable"));
        Assert.Equal(400, await OffsetAsync(server.Client, location));
        await PatchOkAsync(server.Client, location, 400, body[400..]);
        Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "mismatch.bin"), Ct));
    }

    [Fact]
    public async Task Patch_WithoutUploadOffset_Answers400()
    {
        await using var server = await DepotTestServer.StartAsync();
        var location = await CreateUploadAsync(server.Client, 3, At("nooffset.bin"));
        using var request = Patch(location, 0, [1, 2, 3]);
        request.Headers.Remove("Upload-Offset");

        using var response = await server.Client.SendAsync(request, Ct);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Patch_PastUploadLength_Answers413AndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var location = await CreateUploadAsync(server.Client, 10, At("long.bin"));

        using var response = await server.Client.SendAsync(Patch(location, 0, TestBytes.Random(11, seed: 4)), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge, "too_large");
        Assert.Equal(0, await OffsetAsync(server.Client, location));
    }

    [Fact]
    public async Task Patch_UnknownUpload_Answers404()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.Client.SendAsync(Patch("tus/AAAAAAAAAAAAAAAAAAAAAA", 0, [1]), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Patch_InterruptedBody_KeepsTheBytesThatArrivedForTheNextHead()
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(100_000, seed: 6);
        var location = await CreateUploadAsync(server.Client, body.Length, At("cut.bin"));

        // Declares the whole body, sends 40,000 bytes, and hangs up.
        var head = Encoding.ASCII.GetBytes(
            $"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.AdminKey}\r\nTus-Resumable: 1.0.0\r\n"
            + $"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {body.Length}\r\n\r\n");
        using (var tcp = new System.Net.Sockets.TcpClient())
        {
            await tcp.ConnectAsync("127.0.0.1", server.Port, Ct);
            var stream = tcp.GetStream();
            await stream.WriteAsync(head, Ct);
            await stream.WriteAsync(body.AsMemory(0, 40_000), Ct);
            await stream.FlushAsync(Ct);

            // Hang up only once the server has read those bytes: Kestrel fails a read that finds the end of the connection
            // together with unread data, which would make this test about the network rather than about the server.
            var staged = Path.Combine(server.StateDirectory, "uploads", location["/tus/".Length..] + ".upload");
            for (var attempt = 0; attempt < 400 && (!File.Exists(staged) || new FileInfo(staged).Length < 40_000); attempt++)
            {
                await Task.Delay(25, Ct);
            }
        }

        // The server notices the end of the connection on its own time: wait (bounded) for the bytes to be recorded.
        var offset = 0L;
        for (var attempt = 0; attempt < 200 && offset < 40_000; attempt++)
        {
            offset = await OffsetAsync(server.Client, location);
            if (offset < 40_000)
            {
                await Task.Delay(25, Ct);
            }
        }

        Assert.Equal(40_000, offset);
        await PatchOkAsync(server.Client, location, 40_000, body[40_000..]);
        Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "cut.bin"), Ct));
    }

    [Fact]
    public async Task Patch_ExpiredUpload_Answers410AndHeadToo()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Time = clock;
            o.UploadSessionExpiry = TimeSpan.FromHours(1);
            o.UploadSweepInterval = TimeSpan.FromHours(10);
        });
        var location = await CreateUploadAsync(server.Client, 10, At("late.bin"));
        clock.Advance(TimeSpan.FromHours(2));

        using var patch = await server.Client.SendAsync(Patch(location, 0, new byte[10]), Ct);
        using var head = await HeadAsync(server.Client, location);

        await Problem.AssertAsync(patch, HttpStatusCode.Gone, "upload_expired");
        await Problem.AssertHeadAsync(head, HttpStatusCode.Gone);
        Assert.False(File.Exists(FileIn(server, "late.bin")));
    }

    // ---- creation-defer-length ----

    [Fact]
    public async Task DeferredLength_HeadSaysDeferUntilAPatchDeclaresTheLength_ThenPublishes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(5000, seed: 7);
        var location = await CreateUploadAsync(server.Client, null, At("deferred.bin"));

        using (var head = await HeadAsync(server.Client, location))
        {
            await AssertStatusAsync(head, HttpStatusCode.OK);
            Assert.Equal("1", Header(head, "Upload-Defer-Length"));
            Assert.Null(Header(head, "Upload-Length"));
        }

        await PatchOkAsync(server.Client, location, 0, body[..3000]);
        Assert.False(File.Exists(FileIn(server, "deferred.bin")));
        using var last = await server.Client.SendAsync(Patch(location, 3000, body[3000..], ("Upload-Length", "5000")), Ct);

        await AssertStatusAsync(last, HttpStatusCode.NoContent);
        Assert.Equal("5000", Header(last, "Upload-Offset"));
        Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "deferred.bin"), Ct));
        using var after = await HeadAsync(server.Client, location);
        Assert.Equal("5000", Header(after, "Upload-Length"));
        Assert.Null(Header(after, "Upload-Defer-Length"));
    }

    [Fact]
    public async Task DeferredLength_LengthChangedLater_Answers400()
    {
        await using var server = await DepotTestServer.StartAsync();
        var location = await CreateUploadAsync(server.Client, null, At("fixed.bin"));
        await PatchOkAsync(server.Client, location, 0, new byte[10]);
        using (var declare = await server.Client.SendAsync(Patch(location, 10, new byte[10], ("Upload-Length", "30")), Ct))
        {
            await AssertStatusAsync(declare, HttpStatusCode.NoContent);
        }

        using var change = await server.Client.SendAsync(Patch(location, 20, new byte[10], ("Upload-Length", "40")), Ct);

        await Problem.AssertAsync(change, HttpStatusCode.BadRequest, "invalid_request");
        Assert.Equal(20, await OffsetAsync(server.Client, location));
    }

    [Fact]
    public async Task DeferredLength_DeclaredOverTusMaxSize_Answers413()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Tus.MaxSize = 100);
        var location = await CreateUploadAsync(server.Client, null, At("grows.bin"));

        using var response = await server.Client.SendAsync(Patch(location, 0, new byte[10], ("Upload-Length", "101")), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge, "too_large");
    }

    // ---- creation-with-upload ----

    [Fact]
    public async Task CreationWithUpload_FirstChunk_Answers201WithUploadOffset()
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(2000, seed: 8);
        using var request = Create(body.Length, At("cwu.bin"));
        request.Content = new ByteArrayContent(body[..1200]);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(OffsetOctetStream);

        using var response = await server.Client.SendAsync(request, Ct);

        await AssertStatusAsync(response, HttpStatusCode.Created);
        Assert.Equal("1200", Header(response, "Upload-Offset"));
        var location = response.Headers.Location!.ToString();
        await PatchOkAsync(server.Client, location, 1200, body[1200..]);
        Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "cwu.bin"), Ct));
    }

    [Fact]
    public async Task CreationWithUpload_WholeFile_PublishesBeforeAnswering()
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(3000, seed: 9);
        using var request = Create(body.Length, At("whole.bin"));
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(OffsetOctetStream);

        using var response = await server.Client.SendAsync(request, Ct);

        await AssertStatusAsync(response, HttpStatusCode.Created);
        Assert.Equal("3000", Header(response, "Upload-Offset"));
        Assert.Null(Header(response, "Upload-Expires"));
        Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "whole.bin"), Ct));
    }

    [Fact]
    public async Task Create_EmptyChunkedBodyWithoutContentType_IsAPlainCreation()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = Create(10, At("plain.bin"));
        request.Content = new StreamContent(new MemoryStream());
        request.Headers.TransferEncodingChunked = true;

        using var response = await server.Client.SendAsync(request, Ct);

        await AssertStatusAsync(response, HttpStatusCode.Created);
        Assert.Equal(0, await OffsetAsync(server.Client, response.Headers.Location!.ToString()));
    }

    [Fact]
    public async Task CreationWithUpload_WrongContentType_Answers415AndCreatesNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = Create(10, At("cwu415.bin"));
        request.Content = new ByteArrayContent(new byte[10]);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

        using var response = await server.Client.SendAsync(request, Ct);

        await Problem.AssertAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Null(response.Headers.Location);
    }

    // ---- checksum and checksum-trailer ----

    [Theory]
    [InlineData("sha1")]
    [InlineData("md5")]
    [InlineData("sha256")]
    public async Task Checksum_Matching_Answers204(string algorithm)
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(70_000, seed: 10);
        var location = await CreateUploadAsync(server.Client, body.Length, At("sum.bin"));

        using var response = await server.Client.SendAsync(Patch(location, 0, body, ("Upload-Checksum", ChecksumHeader(algorithm, body))), Ct);

        await AssertStatusAsync(response, HttpStatusCode.NoContent);
        Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "sum.bin"), Ct));
    }

    [Theory]
    [InlineData("sha1")]
    [InlineData("md5")]
    [InlineData("sha256")]
    public async Task Checksum_Mismatch_Answers460AndDiscardsTheChunk(string algorithm)
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(70_000, seed: 11);
        var location = await CreateUploadAsync(server.Client, body.Length, At("bad.bin"));
        var otherBytes = TestBytes.Random(70_000, seed: 12);

        using var response = await server.Client.SendAsync(Patch(location, 0, body, ("Upload-Checksum", ChecksumHeader(algorithm, otherBytes))), Ct);

        await Problem.AssertAsync(response, (HttpStatusCode)460, "checksum_mismatch");
        Assert.Equal("1.0.0", Header(response, "Tus-Resumable"));
        Assert.Equal(0, await OffsetAsync(server.Client, location));
        Assert.False(File.Exists(FileIn(server, "bad.bin")));
    }

    [Theory]
    [InlineData("crc32 AAAAAA==")]
    [InlineData("sha1 notbase64!")]
    [InlineData("sha256 AAAA")]
    public async Task Checksum_UnsupportedAlgorithmOrMalformed_Answers400(string header)
    {
        await using var server = await DepotTestServer.StartAsync();
        var location = await CreateUploadAsync(server.Client, 3, At("algo.bin"));

        using var response = await server.Client.SendAsync(Patch(location, 0, [1, 2, 3], ("Upload-Checksum", header)), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
        Assert.Equal(0, await OffsetAsync(server.Client, location));
    }

    [Theory]
    [InlineData("sha1", true, 204)]
    [InlineData("md5", true, 204)]
    [InlineData("sha256", false, 460)]
    [InlineData("crc32", true, 400)]
    public async Task ChecksumTrailer_ChunkedBodyWithTrailer_IsVerifiedAfterTheBody(string algorithm, bool matching, int status)
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(50_000, seed: 13);
        var location = await CreateUploadAsync(server.Client, body.Length, At("trailer.bin"));
        var trailer = algorithm == "crc32" ? "crc32 AAAAAA==" : ChecksumHeader(algorithm, matching ? body : body[1..]);

        var response = await SendChunkedWithTrailerAsync(server, location, body, trailer);

        Assert.True(status == response.Status, $"Expected {status}, got {response.Status}: {response.BodyText}");
        Assert.Equal("1.0.0", response.Header("Tus-Resumable"));
        var stored = status == 204 ? body.Length : 0;
        Assert.Equal(stored, await OffsetAsync(server.Client, location));
        if (status == 204)
        {
            Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "trailer.bin"), Ct));
        }
    }

    [Fact]
    public async Task ChecksumTrailer_AnnouncedButMissing_Answers400AndDiscardsTheChunk()
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(1000, seed: 14);
        var location = await CreateUploadAsync(server.Client, body.Length, At("notrailer.bin"));

        var response = await SendChunkedWithTrailerAsync(server, location, body, trailer: null);

        Assert.True(response.Status == 400, response.BodyText);
        Assert.Equal(0, await OffsetAsync(server.Client, location));
    }

    // ---- termination ----

    [Fact]
    public async Task Delete_OpenUpload_Answers204ThenTheUploadIsGone()
    {
        await using var server = await DepotTestServer.StartAsync();
        var location = await CreateUploadAsync(server.Client, 1000, At("gone.bin"));
        await PatchOkAsync(server.Client, location, 0, new byte[500]);

        using var delete = await server.Client.SendAsync(Request(HttpMethod.Delete, location), Ct);
        using var head = await HeadAsync(server.Client, location);
        using var patch = await server.Client.SendAsync(Patch(location, 500, new byte[500]), Ct);
        using var again = await server.Client.SendAsync(Request(HttpMethod.Delete, location), Ct);

        await AssertStatusAsync(delete, HttpStatusCode.NoContent);
        await Problem.AssertHeadAsync(head, HttpStatusCode.NotFound);
        await Problem.AssertAsync(patch, HttpStatusCode.NotFound, "not_found");
        await Problem.AssertAsync(again, HttpStatusCode.NotFound, "not_found");
        Assert.False(File.Exists(FileIn(server, "gone.bin")));
        var staged = Directory.EnumerateFiles(server.StateDirectory, "*", SearchOption.AllDirectories)
            .Where(f => f.Contains(location["/tus/".Length..], StringComparison.Ordinal));
        Assert.Empty(staged);
    }

    // ---- X-HTTP-Method-Override ----

    [Fact]
    public async Task MethodOverride_PostCarryingPatchHeadAndDelete_ActsAsThoseMethods()
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(2000, seed: 15);
        var location = await CreateUploadAsync(server.Client, body.Length * 2, At("override.bin"));

        using var patch = Patch(location, 0, body, ("X-HTTP-Method-Override", "PATCH"));
        patch.Method = HttpMethod.Post;
        using var patched = await server.Client.SendAsync(patch, Ct);
        using var head = Request(HttpMethod.Post, location, ("X-HTTP-Method-Override", "HEAD"));
        using var headed = await server.Client.SendAsync(head, Ct);
        using var delete = Request(HttpMethod.Post, location, ("X-HTTP-Method-Override", "DELETE"));
        using var deleted = await server.Client.SendAsync(delete, Ct);

        await AssertStatusAsync(patched, HttpStatusCode.NoContent);
        Assert.Equal("2000", Header(patched, "Upload-Offset"));
        await AssertStatusAsync(headed, HttpStatusCode.OK);
        Assert.Equal("2000", Header(headed, "Upload-Offset"));
        Assert.Equal("4000", Header(headed, "Upload-Length"));
        await AssertStatusAsync(deleted, HttpStatusCode.NoContent);
        using var after = await HeadAsync(server.Client, location);
        await Problem.AssertHeadAsync(after, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task UnsupportedMethod_OnAnUpload_Answers405WithAllow()
    {
        await using var server = await DepotTestServer.StartAsync();
        var location = await CreateUploadAsync(server.Client, 10, At("get.bin"));

        using var response = await server.Client.SendAsync(Request(HttpMethod.Get, location), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.MethodNotAllowed, "method_not_allowed");
        Assert.Contains("PATCH", response.Content.Headers.Allow);
    }

    // ---- concatenation ----

    [Fact]
    public async Task Concatenation_TwoPartials_FinalPublishesTheirBytesInOrder()
    {
        await using var server = await DepotTestServer.StartAsync();
        var first = Encoding.ASCII.GetBytes("hello");
        var second = Encoding.ASCII.GetBytes(" world");
        var a = await CreateUploadAsync(server.Client, first.Length, null, ("Upload-Concat", "partial"));
        var b = await CreateUploadAsync(server.Client, second.Length, null, ("Upload-Concat", "partial"));
        await PatchOkAsync(server.Client, b, 0, second);
        await PatchOkAsync(server.Client, a, 0, first);
        using (var partHead = await HeadAsync(server.Client, a))
        {
            Assert.Equal("partial", Header(partHead, "Upload-Concat"));
            Assert.Equal("5", Header(partHead, "Upload-Offset"));
            Assert.Null(Header(partHead, "X-Depot-Object"));
        }

        // One part named by absolute URL, one by path: the spec allows both.
        var concat = $"final;{new Uri(server.BaseUrl, a)} {b}";
        using var final = await server.Client.SendAsync(Request(HttpMethod.Post, Endpoint, ("Upload-Concat", concat), ("Upload-Metadata", Metadata(At("greeting.txt")))), Ct);

        await AssertStatusAsync(final, HttpStatusCode.Created);
        Assert.Equal("hello world", await File.ReadAllTextAsync(FileIn(server, "greeting.txt"), Ct));
        var location = final.Headers.Location!.ToString();
        using var head = await HeadAsync(server.Client, location);
        await AssertStatusAsync(head, HttpStatusCode.OK);
        Assert.Equal(concat, Header(head, "Upload-Concat"));
        Assert.Equal("11", Header(head, "Upload-Length"));
        Assert.Equal("11", Header(head, "Upload-Offset"));
        using var patchFinal = await server.Client.SendAsync(Patch(location, 11, [1]), Ct);
        await Problem.AssertAsync(patchFinal, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Concatenation_UnfinishedPart_Answers400AndPublishesNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var a = await CreateUploadAsync(server.Client, 5, null, ("Upload-Concat", "partial"));
        await PatchOkAsync(server.Client, a, 0, [1, 2]);

        using var final = await server.Client.SendAsync(Request(HttpMethod.Post, Endpoint, ("Upload-Concat", "final;" + a), ("Upload-Metadata", Metadata(At("unfinished.bin")))), Ct);

        await Problem.AssertAsync(final, HttpStatusCode.BadRequest, "invalid_request");
        Assert.False(File.Exists(FileIn(server, "unfinished.bin")));
    }

    [Fact]
    public async Task Concatenation_WithUploadLengthOrForeignUrl_Answers400()
    {
        await using var server = await DepotTestServer.StartAsync();
        var a = await CreateUploadAsync(server.Client, 1, null, ("Upload-Concat", "partial"));
        await PatchOkAsync(server.Client, a, 0, [7]);

        using var withLength = await server.Client.SendAsync(Request(HttpMethod.Post, Endpoint, ("Upload-Concat", "final;" + a), ("Upload-Length", "1")), Ct);
        using var foreign = await server.Client.SendAsync(Request(HttpMethod.Post, Endpoint, ("Upload-Concat", "final;/elsewhere/x")), Ct);
        using var notPartial = await server.Client.SendAsync(Request(HttpMethod.Post, Endpoint, ("Upload-Concat", "final;" + await CreateUploadAsync(server.Client, 1, At("plain.bin")))), Ct);

        await Problem.AssertAsync(withLength, HttpStatusCode.BadRequest, "invalid_request");
        await Problem.AssertAsync(foreign, HttpStatusCode.BadRequest, "invalid_request");
        await Problem.AssertAsync(notPartial, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Concatenation_PartOfAnotherKey_Answers403()
    {
        await using var server = await DepotTestServer.StartAsync();
        var a = await CreateUploadAsync(server.Client, 1, null, ("Upload-Concat", "partial"));
        await PatchOkAsync(server.Client, a, 0, [7]);
        var other = await server.CreateKeyAsync(["write"]);
        using var client = server.CreateClient(other.Token);

        using var final = await client.SendAsync(Request(HttpMethod.Post, Endpoint, ("Upload-Concat", "final;" + a), ("Upload-Metadata", Metadata(At("stolen.bin")))), Ct);
        using var patchPart = await client.SendAsync(Request(HttpMethod.Head, a), Ct);

        await Problem.AssertAsync(final, HttpStatusCode.Forbidden, "forbidden");
        await Problem.AssertHeadAsync(patchPart, HttpStatusCode.Forbidden);
        Assert.False(File.Exists(FileIn(server, "stolen.bin")));
    }

    // ---- Upload-Metadata: where the upload lands ----

    [Fact]
    public async Task Metadata_WithoutKey_AssignsAFileIdWithTheFilenamesExtensionAndKeepsTheName()
    {
        await using var server = await DepotTestServer.StartAsync();
        var body = TestBytes.Random(1234, seed: 16);
        var metadata = new Dictionary<string, string> { ["filename"] = "Holiday photo.JPG", ["filetype"] = "image/jpeg", ["relativePath"] = "null" };
        var location = await CreateUploadAsync(server.Client, body.Length, metadata);

        using var response = await server.Client.SendAsync(Patch(location, 0, body), Ct);

        await AssertStatusAsync(response, HttpStatusCode.NoContent);
        var objectPath = Header(response, "X-Depot-Object")!;
        Assert.Matches("^/v1/default/M00/[0-9A-F]{2}/[0-9A-F]{2}/[A-Za-z0-9_-]{22}\\.JPG$", objectPath);
        using var get = await server.Client.GetAsync(objectPath.TrimStart('/'), Ct);
        Assert.Equal(body, await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal("Holiday%20photo.JPG", Header(get, "X-Depot-Meta-filename"));
        Assert.Equal("image/jpeg", get.Content.Headers.ContentType?.MediaType);
        Assert.Null(Header(get, "X-Depot-Meta-relativePath"));
    }

    [Fact]
    public async Task Metadata_OtherBucket_LandsThere()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) => o.Buckets["media"] = new Hosting.BucketConfig { Path = DepotTestServer.BucketDirectory(root, "media") });
        var body = TestBytes.Random(100, seed: 17);
        var location = await CreateUploadAsync(server.Client, body.Length, new Dictionary<string, string> { ["bucket"] = "media", ["key"] = "clips/a.bin" });

        await PatchOkAsync(server.Client, location, 0, body);

        Assert.Equal(body, await File.ReadAllBytesAsync(Path.Combine(server.RootDirectory, "buckets", "media", "clips", "a.bin"), Ct));
    }

    [Fact]
    public async Task Policy_ChoosesTheKeyFromTheFilename_UploadLandsThereAndTheCallerLearnsWhere()
    {
        var policy = new InboxPolicy();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.ConfigureServices = services => services.AddDepot().AddUploadPolicy(policy));
        var writer = await server.CreateKeyAsync(["write"], name: "uploader");
        using var client = server.CreateClient(writer.Token);
        var body = TestBytes.Random(500, seed: 18);
        var location = await CreateUploadAsync(client, body.Length, new Dictionary<string, string> { ["filename"] = "report.pdf" });

        using var response = await client.SendAsync(Patch(location, 0, body), Ct);

        await AssertStatusAsync(response, HttpStatusCode.NoContent);
        Assert.Equal("/v1/default/inbox/report.pdf", Header(response, "X-Depot-Object"));
        Assert.Equal(body, await File.ReadAllBytesAsync(FileIn(server, "inbox/report.pdf"), Ct));
        var proposal = Assert.Single(policy.Proposals);
        Assert.Equal(("tus", "report.pdf", 500L, writer.Id), (proposal.Protocol, proposal.ClientName, proposal.Length, proposal.Identity));
    }

    [Fact]
    public async Task Policy_RefusesTheFile_Answers403WithTheReason()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.ConfigureServices = services => services.AddDepot().AddUploadPolicy(new InboxPolicy()));

        using var response = await server.Client.SendAsync(Create(10, new Dictionary<string, string> { ["filename"] = "setup.exe" }), Ct);

        var problem = await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Contains("no executables", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Files go to inbox/{their name}; executables are refused.</summary>
    private sealed class InboxPolicy : Core.Uploads.IUploadPolicy
    {
        public System.Collections.Concurrent.ConcurrentQueue<Core.Uploads.UploadProposal> Proposals { get; } = new();

        public ValueTask<Core.Uploads.UploadDecision> DecideAsync(Core.Uploads.UploadProposal proposal, CancellationToken cancellationToken)
        {
            Proposals.Enqueue(proposal);
            return ValueTask.FromResult(proposal.ClientName switch
            {
                { } name when name.EndsWith(".exe", StringComparison.Ordinal) => Core.Uploads.UploadDecision.Reject("no executables"),
                { } name => Core.Uploads.UploadDecision.AllowAt("inbox/" + name),
                null => Core.Uploads.UploadDecision.Allow,
            });
        }

        public ValueTask CompletedAsync(Core.Uploads.UploadCompleted completed, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask CancelledAsync(Core.Uploads.UploadCancelled cancelled, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    private static string ChecksumHeader(string algorithm, byte[] data)
    {
        using var hash = IncrementalHash.CreateHash(algorithm switch
        {
            "sha1" => HashAlgorithmName.SHA1,
            "md5" => HashAlgorithmName.MD5,
            _ => HashAlgorithmName.SHA256,
        });
        hash.AppendData(data);
        return algorithm + " " + Convert.ToBase64String(hash.GetHashAndReset());
    }

    /// <summary>A PATCH with a chunked body that announces (<c>Trailer: Upload-Checksum</c>) and, unless null, sends the
    /// checksum as a trailer: HttpClient cannot send request trailers over HTTP/1.1, so this writes the request by hand.</summary>
    private static async Task<RawResponse> SendChunkedWithTrailerAsync(DepotTestServer server, string location, byte[] body, string? trailer)
    {
        var request = new MemoryStream();
        void Write(string text) => request.Write(Encoding.ASCII.GetBytes(text));
        Write($"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer {server.AdminKey}\r\n");
        Write("Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n");
        Write("Transfer-Encoding: chunked\r\nTrailer: Upload-Checksum\r\n\r\n");
        for (var start = 0; start < body.Length; start += 16_384)
        {
            var length = Math.Min(16_384, body.Length - start);
            Write(length.ToString("x", CultureInfo.InvariantCulture) + "\r\n");
            request.Write(body, start, length);
            Write("\r\n");
        }

        Write("0\r\n");
        if (trailer is not null)
        {
            Write($"Upload-Checksum: {trailer}\r\n");
        }

        Write("\r\n");
        return await RawHttp.ExchangeAsync(server.Port, request.ToArray());
    }
}
