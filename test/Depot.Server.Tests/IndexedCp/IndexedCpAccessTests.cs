using System.Net;
using Depot.Server.Hosting;
using Depot.Server.Tests.Http;
using Depot.Server.Tests.Infrastructure;
using static Depot.Server.Tests.IndexedCp.IndexedCpClient;

namespace Depot.Server.Tests.IndexedCp;

/// <summary>Keys, names and CORS at the IndexedCP door: the exact bodies clients expect for 401, 400 and 403, checked
/// before any byte is stored, and nothing stored when refused.</summary>
public sealed class IndexedCpAccessTests
{
    private const int MiB = 1 << 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MissingKey_Answers401WithTheExactBody_AndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var anonymous = server.CreateClient(null);

        using var response = await SendChunkAsync(anonymous, "data.bin", 0, TestBytes.Random(1000, seed: 1));

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "Invalid or missing API key", "unauthorized", hasMessage: false);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(server.DataDirectory), p => Path.GetFileName(p) != ".depot");
        Assert.Empty(await StatusAsync(server.Client, "data.bin"));
    }

    [Theory]
    [InlineData("Bearer dpk_00000000000000aa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("Bearer not-a-depot-key")]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer ")]
    public async Task WrongKey_Answers401WithTheExactBody_AndStoresNothing(string authorization)
    {
        await using var server = await DepotTestServer.StartAsync();
        var raw = await RawHttp.SendAsync(server.Port, "POST", "/upload",
            [("Authorization", authorization), ("X-Chunk-Index", "0"), ("X-File-Name", "data.bin"), ("Content-Type", "application/octet-stream")],
            TestBytes.Random(1000, seed: 2));

        Assert.Equal(401, raw.Status);
        Assert.Equal("{\"error\":\"Invalid or missing API key\",\"code\":\"unauthorized\"}", raw.BodyText);
        Assert.Equal("*", raw.Header("Access-Control-Allow-Origin"));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "data.bin")));
        Assert.Empty(await StatusAsync(server.Client, "data.bin"));
    }

    [Fact]
    public async Task RevokedKey_Answers401()
    {
        await using var server = await DepotTestServer.StartAsync();
        var key = await server.CreateKeyAsync(["write"]);
        using (var revoke = await server.Client.DeleteAsync("v1/_keys/" + key.Id, Ct))
        {
            Assert.True(revoke.IsSuccessStatusCode);
        }

        using var response = await SendChunkAsync(server.CreateClient(key.Token), "data.bin", 0, TestBytes.Random(10, seed: 3));

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "Invalid or missing API key", "unauthorized", hasMessage: false);
    }

    [Fact]
    public async Task WrongKeyAndBadName_AuthenticationIsCheckedFirst()
    {
        await using var server = await DepotTestServer.StartAsync();
        var anonymous = server.CreateClient(null);

        using var response = await SendChunkAsync(anonymous, "../../etc/passwd", 0, TestBytes.Random(10, seed: 4));

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "Invalid or missing API key", "unauthorized", hasMessage: false);
    }

    [Fact]
    public async Task Status_WithoutKey_Answers401()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.CreateClient(null).GetAsync("upload/status?filename=data.bin", Ct);

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "Invalid or missing API key", "unauthorized", hasMessage: false);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("/etc/passwd")]
    [InlineData("a/../../b")]
    [InlineData("..")]
    [InlineData("./")]
    [InlineData(".")]
    [InlineData("sub/")]
    [InlineData("C:\\x")]
    [InlineData("c:x.txt")]
    [InlineData("\\\\server\\share\\x.txt")]
    [InlineData("..\\x")]
    [InlineData("...")]
    [InlineData("a%2F..%2Fb")]
    public async Task BadName_Answers400InvalidFilename_AndStoresNothing(string name)
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.IndexedCp.KeepPaths = true);
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);

        using var response = await SendChunkAsync(client, name, 0, TestBytes.Random(100, seed: 5));

        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "Invalid filename", "invalid_path", hasMessage: true);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(server.DataDirectory), p => Path.GetFileName(p) != ".depot");
    }

    [Theory]
    [InlineData("")]
    [InlineData("a\u0001b.txt")]
    [InlineData("a\tb.txt")]
    [InlineData("bell\u007f.txt")]
    [InlineData(null)]
    public async Task EmptyMissingOrControlCharacterName_Answers400InvalidFilename(string? name)
    {
        await using var server = await DepotTestServer.StartAsync();
        var token = (await server.CreateKeyAsync(["write"])).Token;
        var headers = new List<(string, string)> { ("Authorization", "Bearer " + token), ("X-Chunk-Index", "0") };
        if (name is not null)
        {
            headers.Add(("X-File-Name", name));
        }

        var raw = await RawHttp.SendAsync(server.Port, "POST", "/upload", headers, TestBytes.Random(100, seed: 6));

        Assert.Equal(400, raw.Status);
        Assert.StartsWith("{\"error\":\"Invalid filename\",\"message\":\"", raw.BodyText, StringComparison.Ordinal);
        Assert.EndsWith("\",\"code\":\"invalid_path\"}", raw.BodyText, StringComparison.Ordinal);
        Assert.Equal("*", raw.Header("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Utf8Name_IsStoredUnderItsUnicodeName()
    {
        await using var server = await DepotTestServer.StartAsync();
        var token = (await server.CreateKeyAsync(["write"])).Token;
        var file = TestBytes.Random(1500, seed: 14);
        string[] bodies = ["", ""];
        for (var i = 0; i < 2; i++)
        {
            var raw = await RawHttp.SendAsync(server.Port, "POST", "/upload",
                [("Authorization", "Bearer " + token), ("X-Chunk-Index", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("X-File-Name", RawHttp.Utf8("café €.txt"))],
                file.AsSpan(i * 1000, i == 0 ? 1000 : 500).ToArray());
            Assert.Equal(200, raw.Status);
            bodies[i] = raw.BodyText;
        }

        Assert.Contains("\"actualFilename\":\"café €.txt\"", bodies[1], StringComparison.Ordinal);
        Assert.Equal(file, await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "café €.txt"), Ct));
    }

    [Theory]
    [InlineData(".depot/depot.db")]
    [InlineData("./.depot/tmp/x.part")]
    [InlineData(".depot")]
    public async Task NameInTheStateFolder_Answers403AccessDeniedInvalidPath(string name)
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.IndexedCp.KeepPaths = true);
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var database = await File.ReadAllBytesAsync(Path.Combine(server.StateDirectory, "depot.db"), Ct);

        using var response = await SendChunkAsync(client, name, 0, TestBytes.Random(100, seed: 7));

        await AssertErrorAsync(response, HttpStatusCode.Forbidden, "Access denied: invalid path", "forbidden", hasMessage: false);
        Assert.True(File.Exists(Path.Combine(server.StateDirectory, "depot.db")));
    }

    [Fact]
    public async Task SubPath_WithoutKeepPaths_Answers400AndIsNeverFlattened()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);

        using var response = await SendChunkAsync(client, "./sub/x.txt", 0, TestBytes.Random(100, seed: 8));

        var body = await AssertErrorAsync(response, HttpStatusCode.BadRequest, "Invalid filename", "invalid_path", hasMessage: true);
        Assert.Contains("--indexedcp-keep-paths", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "sub")));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "x.txt")));
    }

    [Theory]
    [InlineData("./sub/x.txt", "sub/x.txt")]
    [InlineData(".\\sub\\deeper\\x.txt", "sub/deeper/x.txt")]
    [InlineData("sub//./x.txt", "sub/x.txt")]
    [InlineData("./plain.txt", "plain.txt")]
    public async Task SubPath_WithKeepPaths_KeepsTheRelativePathInsideBucketAndPrefix(string name, string key)
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.IndexedCp.KeepPaths = true;
            o.IndexedCp.Prefix = "in";
        });
        var client = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var file = TestBytes.Random(MiB + 3, seed: 9);

        await UploadAsync(client, name, file, "in/" + key);

        Assert.Equal(Sha256(file), Sha256OnDisk(server, "in/" + key));
    }

    [Theory]
    [InlineData("upload")]
    [InlineData("upload/status")]
    public async Task Preflight_Answers200EmptyWithTheCorsHeaders(string path)
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", "https://app.example");
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization, x-chunk-index, x-file-name, content-type");

        using var response = await server.CreateClient(null).SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(Ct));
        AssertCors(response);
    }

    [Fact]
    public async Task OtherMethod_Answers405WithAllowAndCors()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.Client.PutAsync("upload", new ByteArrayContent([1, 2, 3]), Ct);

        await AssertErrorAsync(response, HttpStatusCode.MethodNotAllowed, "Method not allowed", "method_not_allowed", hasMessage: true);
        Assert.Equal("POST, OPTIONS", string.Join(", ", response.Content.Headers.Allow));
    }

    [Fact]
    public async Task KeyLimitedToAnotherBucket_Answers403AndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) =>
            o.Buckets["other"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "other") });
        var client = server.CreateClient((await server.CreateKeyAsync(["write"], bucket: "other")).Token);

        using var response = await SendChunkAsync(client, "data.bin", 0, TestBytes.Random(100, seed: 10));

        await AssertErrorAsync(response, HttpStatusCode.Forbidden, "Access denied", "forbidden", hasMessage: true);
        Assert.Empty(await StatusAsync(server.Client, "data.bin"));
    }

    [Fact]
    public async Task KeyLimitedToAnotherPrefix_Answers403AndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.IndexedCp.Prefix = "uploads");
        var client = server.CreateClient((await server.CreateKeyAsync(["write"], prefix: "photos/")).Token);

        using var response = await SendChunkAsync(client, "data.bin", 0, TestBytes.Random(100, seed: 11));
        using var status = await client.GetAsync("upload/status?filename=data.bin", Ct);

        await AssertErrorAsync(response, HttpStatusCode.Forbidden, "Access denied", "forbidden", hasMessage: true);
        await AssertErrorAsync(status, HttpStatusCode.Forbidden, "Access denied", "forbidden", hasMessage: true);
        Assert.Empty(await StatusAsync(server.Client, "data.bin"));
    }

    [Fact]
    public async Task ReadOnlyKey_CannotUploadButMayAskStatus()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["read"])).Token);

        using var response = await SendChunkAsync(client, "data.bin", 0, TestBytes.Random(100, seed: 12));

        await AssertErrorAsync(response, HttpStatusCode.Forbidden, "Access denied", "forbidden", hasMessage: true);
        Assert.Empty(await StatusAsync(client, "data.bin"));
    }

    [Fact]
    public async Task DeleteOnlyKey_MayNotAskStatus()
    {
        await using var server = await DepotTestServer.StartAsync();
        var client = server.CreateClient((await server.CreateKeyAsync(["delete"])).Token);

        using var status = await client.GetAsync("upload/status?filename=data.bin", Ct);

        await AssertErrorAsync(status, HttpStatusCode.Forbidden, "Access denied", "forbidden", hasMessage: true);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("")]
    public async Task BadChunkIndex_Answers400(string index)
    {
        await using var server = await DepotTestServer.StartAsync();
        var token = (await server.CreateKeyAsync(["write"])).Token;

        var raw = await RawHttp.SendAsync(server.Port, "POST", "/upload",
            [("Authorization", "Bearer " + token), ("X-Chunk-Index", index), ("X-File-Name", "data.bin")], TestBytes.Random(100, seed: 13));

        Assert.Equal(400, raw.Status);
        Assert.Contains("\"error\":\"Invalid chunk index\"", raw.BodyText, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "data.bin")));
    }
}
