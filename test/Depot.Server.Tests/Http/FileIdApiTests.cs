using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Http;

/// <summary>FastDFS-style uploads under a server-assigned id (<c>POST /v1/{bucket}</c>) and slave files
/// (<c>POST /v1/{bucket}/{master}?slave=</c>), against a real Kestrel (docs/http-api.md §3.16, §3.17).</summary>
public sealed partial class FileIdApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // "{bucket}/M00/HH/HH/{22-char base64url}.{ext}", HH two upper-case hex digits.
    [GeneratedRegex(@"^default/M00/[0-9A-F]{2}/[0-9A-F]{2}/[A-Za-z0-9_-]{22}\.jpg$")]
    private static partial Regex JpgId();

    [GeneratedRegex(@"^default/M00/[0-9A-F]{2}/[0-9A-F]{2}/[A-Za-z0-9_-]{22}$")]
    private static partial Regex BareId();

    [Fact]
    public async Task PostBucket_WithExt_Answers201WithIdNodeAndStoresTheBytesAtTheKeyPath()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(70_000, seed: 1);
        var sha = TestBytes.Sha256Hex(bytes);

        using var post = await PostAsync(server.Client, "v1/default?ext=jpg", bytes);

        Assert.True(post.StatusCode == HttpStatusCode.Created, await post.Content.ReadAsStringAsync(Ct));
        var info = await ReadInfoAsync(post);
        Assert.Matches(JpgId(), info.Id);
        Assert.Equal("default/" + info.Key, info.Id);
        Assert.Equal("default", info.Bucket);
        Assert.Equal((70_000L, sha, $"\"{sha}\""), (info.Size, info.Sha256, info.ETag));
        Assert.Equal(server.BaseUrl.Authority, info.Node);
        Assert.Equal($"127.0.0.1:{server.Port}", info.Node);
        Assert.Equal(DepotRoutes.Object("default", info.Key), post.Headers.Location?.OriginalString);
        Assert.Equal($"\"{sha}\"", post.Headers.ETag?.ToString());
        Assert.Equal(sha, Header(post, DepotHeaders.Sha256));

        // The object is a plain file at its key path, exactly the bytes sent.
        var onDisk = Path.Combine([server.DataDirectory, .. info.Key.Split('/')]);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(onDisk, Ct));
        using var get = await server.Client.GetAsync(post.Headers.Location, Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(bytes, await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal("image/jpeg", get.Content.Headers.ContentType?.MediaType); // guessed from the assigned extension
    }

    [Theory]
    [InlineData("v1/default?ext=toolongext")]
    [InlineData("v1/default/M00/00/00/x.jpg?slave=a/b")]
    public async Task IdAndSlaveUploads_WithoutKey_Answer401BeforeAnyValidation(string path)
    {
        await using var server = await DepotTestServer.StartAsync();
        using var anonymous = server.CreateClient(null);

        using var post = await PostAsync(anonymous, path, [1, 2, 3]);

        await Problem.AssertAsync(post, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task DeleteMaster_WithAKeyThatDoesNotCoverItsSlaves_Answers403AndDeletesNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await server.Client.PutAsync("v1/default/p/cat.jpg", new ByteArrayContent([1, 2, 3]), Ct))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using (var slave = await PostAsync(server.Client, "v1/default/p/cat.jpg?slave=_150x150", [4, 5]))
        {
            Assert.Equal(HttpStatusCode.Created, slave.StatusCode);
        }

        // A key limited to the master's own name: it may delete the master, but deleting it would delete the slave too.
        var key = await server.CreateKeyAsync(["read", "delete"], prefix: "p/cat.jpg");
        using var limited = server.CreateClient(key.Token);

        using var delete = await limited.DeleteAsync("v1/default/p/cat.jpg", Ct);

        await Problem.AssertAsync(delete, HttpStatusCode.Forbidden, "forbidden");
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "p", "cat.jpg")));
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "p", "cat_150x150.jpg")));
    }

    [Fact]
    public async Task Get_OfAFifoInTheBucket_AnswersNotFoundWithoutHanging()
    {
        await using var server = await DepotTestServer.StartAsync();
        var fifo = Path.Combine(server.DataDirectory, "pipe");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync(Ct);
            Assert.Equal(0, mkfifo.ExitCode);
        }

        // Opening a FIFO for reading blocks until a writer comes, unless the open is non-blocking.
        var get = server.Client.GetAsync("v1/default/pipe", Ct);
        var winner = await Task.WhenAny(get, Task.Delay(TimeSpan.FromSeconds(20), Ct));

        Assert.Same(get, winner);
        using var response = await get;
        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task MetaGet_OnADirectory_AnswersConflictLikeTheWrites()
    {
        await using var server = await DepotTestServer.StartAsync();
        Directory.CreateDirectory(Path.Combine(server.DataDirectory, "dir"));

        using var get = await server.Client.GetAsync("v1/default/dir?meta", Ct);
        using var put = await server.Client.PutAsync("v1/default/dir?meta", new StringContent("{}"), Ct);

        await Problem.AssertAsync(get, HttpStatusCode.Conflict, "conflict");
        await Problem.AssertAsync(put, HttpStatusCode.Conflict, "conflict");
    }

    [Fact]
    public async Task PostBucket_WithMetadataHeadersAndContentType_KeepsThem()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/default?ext=png") { Content = new ByteArrayContent([1, 2, 3, 4]) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/x-test");
        request.Headers.Add(DepotHeaders.MetaPrefix + "Author", Uri.EscapeDataString("Zoë"));
        request.Headers.Add(DepotHeaders.MetaPrefix + "camera", "x100");

        using var post = await server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        var info = await ReadInfoAsync(post);
        Assert.Equal("image/x-test", info.ContentType);
        Assert.Equal(new Dictionary<string, string> { ["author"] = "Zoë", ["camera"] = "x100" }, info.Metadata);
        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, DepotRoutes.Object("default", info.Key).TrimStart('/')), Ct);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("image/x-test", head.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Zo%C3%AB", Header(head, DepotHeaders.MetaPrefix + "author"));
        Assert.Equal("x100", Header(head, DepotHeaders.MetaPrefix + "camera"));
    }

    [Fact]
    public async Task PostBucket_WithoutExt_AssignsAnIdWithoutExtension()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(300, seed: 2);

        using var post = await PostAsync(server.Client, "v1/default", bytes);

        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        var info = await ReadInfoAsync(post);
        Assert.Matches(BareId(), info.Id);
        Assert.Equal(bytes, await server.Client.GetByteArrayAsync(DepotRoutes.Object("default", info.Key).TrimStart('/'), Ct));
    }

    [Theory]
    [InlineData("abcdefg")] // 7 characters
    [InlineData(".jpg")]
    [InlineData("tar.gz")]
    [InlineData("%C3%A9")] // é: not ASCII
    [InlineData("j_g")]
    [InlineData("a%2Fb")]
    public async Task PostBucket_BadExt_Answers400InvalidRequestAndStoresNothing(string ext)
    {
        await using var server = await DepotTestServer.StartAsync();

        using var post = await PostAsync(server.Client, "v1/default?ext=" + ext, [1, 2, 3]);

        await Problem.AssertAsync(post, HttpStatusCode.BadRequest, "invalid_request");
        Assert.Empty(UserFiles(server));
    }

    [Fact]
    public async Task PostBucket_Appendable_CreatesAnAppenderUnderTheNewId()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var post = await PostAsync(server.Client, "v1/default?ext=log&appendable", [1, 2, 3]);

        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        var info = await ReadInfoAsync(post);
        Assert.True(info.Appendable);
        var path = DepotRoutes.Object("default", info.Key).TrimStart('/');
        using var append = await PostAsync(server.Client, path + "?append", [4, 5]);
        Assert.Equal(HttpStatusCode.OK, append.StatusCode);
        Assert.Equal(TestBytes.Sha256Hex([1, 2, 3, 4, 5]), (await ReadInfoAsync(append)).Sha256);
        Assert.Equal([1, 2, 3, 4, 5], await server.Client.GetByteArrayAsync(path, Ct));
    }

    [Fact]
    public async Task PostBucket_SixCharacterExt_IsAccepted()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var post = await PostAsync(server.Client, "v1/default?ext=Ab3456", [1]);

        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        Assert.EndsWith(".Ab3456", (await ReadInfoAsync(post)).Id, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostBucket_200InParallel_AnswersDistinctIdsAllReadableWithTheirBytes()
    {
        await using var server = await DepotTestServer.StartAsync();
        const int count = 200;
        var bodies = Enumerable.Range(0, count).Select(i => TestBytes.Random(500 + (i * 13), seed: 1000 + i)).ToArray();

        var ids = await Task.WhenAll(bodies.Select(async body =>
        {
            using var post = await PostAsync(server.Client, "v1/default?ext=bin", body);
            Assert.True(post.StatusCode == HttpStatusCode.Created, await post.Content.ReadAsStringAsync(Ct));
            return await ReadInfoAsync(post);
        }));

        Assert.Equal(count, ids.Select(i => i.Id).Distinct(StringComparer.Ordinal).Count());
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(TestBytes.Sha256Hex(bodies[i]), ids[i].Sha256);
            Assert.Equal(bodies[i], await server.Client.GetByteArrayAsync(DepotRoutes.Object("default", ids[i].Key).TrimStart('/'), Ct));
        }

        // The two directory levels come from random bits: 200 ids spread over many of the 256 first-level directories
        // (about 140 expected; a fixed or skewed choice would give a handful).
        var firstLevels = ids.Select(i => i.Key.Split('/')[1]).Distinct(StringComparer.Ordinal).Count();
        Assert.True(firstLevels > 80, $"only {firstLevels} distinct first-level directories for {count} ids");
    }

    [Fact]
    public async Task PostBucket_Sha256Mismatch_Answers422ChecksumMismatchAndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(4000, seed: 3);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/default?ext=jpg") { Content = new ByteArrayContent(bytes) };
        request.Headers.Add(DepotHeaders.Sha256, TestBytes.Sha256Hex(TestBytes.Random(4000, seed: 4)));

        using var post = await server.Client.SendAsync(request, Ct);

        // The spec's status for checksum_mismatch is 422 (ErrorStatus, docs/http-api.md §2).
        await Problem.AssertAsync(post, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
        Assert.Empty(UserFiles(server));
        Assert.Empty(StagedFiles(server));
        using var cluster = await server.Client.GetAsync("v1/_cluster/default", Ct);
        var dto = await cluster.Content.ReadFromJsonAsync(DepotJson.Default.ClusterDto, Ct);
        Assert.Equal(0, dto!.Buckets.Single().ObjectCount);
    }

    [Fact]
    public async Task PostBucket_Sha256Matching_IsAccepted()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(4000, seed: 3);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/default?ext=jpg") { Content = new ByteArrayContent(bytes) };
        request.Headers.Add(DepotHeaders.Sha256, TestBytes.Sha256Hex(bytes));

        using var post = await server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
    }

    [Fact]
    public async Task PostBucket_KeyLimitedToPrefix_Answers403()
    {
        await using var server = await DepotTestServer.StartAsync();
        var key = await server.CreateKeyAsync(["read", "write"], prefix: "photos/");
        using var client = server.CreateClient(key.Token);

        using var post = await PostAsync(client, "v1/default?ext=jpg", [1, 2, 3]);

        await Problem.AssertAsync(post, HttpStatusCode.Forbidden, "forbidden");
        Assert.Empty(UserFiles(server));
    }

    [Fact]
    public async Task PostBucket_ReadOnlyKey_Answers403()
    {
        await using var server = await DepotTestServer.StartAsync();
        var key = await server.CreateKeyAsync(["read"]);
        using var client = server.CreateClient(key.Token);

        using var post = await PostAsync(client, "v1/default?ext=jpg", [1, 2, 3]);

        await Problem.AssertAsync(post, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task PostBucket_WithoutKey_Answers401()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var anonymous = server.CreateClient(null);

        using var post = await PostAsync(anonymous, "v1/default?ext=jpg", [1, 2, 3]);

        await Problem.AssertAsync(post, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Empty(UserFiles(server));
    }

    [Fact]
    public async Task PostBucket_UnknownBucket_Answers404()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var post = await PostAsync(server.Client, "v1/nosuchbucket?ext=jpg", [1, 2, 3]);

        await Problem.AssertAsync(post, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task PostSlave_OfAnUploadedMaster_Answers201WithDerivedIdAndTheMastersExtension()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", TestBytes.Random(2000, seed: 5));
        var thumb = TestBytes.Random(300, seed: 6);

        using var post = await PostAsync(server.Client, SlaveUrl(master.Key, "_150x150"), thumb);

        Assert.True(post.StatusCode == HttpStatusCode.Created, await post.Content.ReadAsStringAsync(Ct));
        var info = await ReadInfoAsync(post);
        var expectedKey = master.Key[..^".jpg".Length] + "_150x150.jpg";
        Assert.Equal(expectedKey, info.Key);
        Assert.Equal("default/" + expectedKey, info.Id);
        Assert.Equal(master.Key, info.Master);
        Assert.Equal((300L, TestBytes.Sha256Hex(thumb)), (info.Size, info.Sha256));
        Assert.Equal(DepotRoutes.Object("default", expectedKey), post.Headers.Location?.OriginalString);
        Assert.Equal(thumb, await File.ReadAllBytesAsync(Path.Combine([server.DataDirectory, .. expectedKey.Split('/')]), Ct));
        Assert.Equal(thumb, await server.Client.GetByteArrayAsync(post.Headers.Location, Ct));
    }

    [Fact]
    public async Task PostSlave_WithExt_UsesThatExtension()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", [1, 2, 3]);

        using var post = await PostAsync(server.Client, SlaveUrl(master.Key, "_small") + "&ext=png", [4, 5]);

        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        Assert.Equal("default/" + master.Key[..^".jpg".Length] + "_small.png", (await ReadInfoAsync(post)).Id);
    }

    [Fact]
    public async Task PostSlave_MasterWithoutExtension_SlaveHasNone()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, null, [1, 2, 3]);

        using var post = await PostAsync(server.Client, SlaveUrl(master.Key, "-v2"), [4, 5]);

        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        Assert.Equal("default/" + master.Key + "-v2", (await ReadInfoAsync(post)).Id);
    }

    [Fact]
    public async Task PostSlave_OfAnOrdinaryKeyInADirectory_LandsNextToIt()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await server.Client.PutAsync("v1/default/photos/2024/cat.jpeg", new ByteArrayContent([1, 2, 3]), Ct))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var post = await PostAsync(server.Client, SlaveUrl("photos/2024/cat.jpeg", "_150x150"), [4]);

        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        var info = await ReadInfoAsync(post);
        Assert.Equal(("default/photos/2024/cat_150x150.jpeg", "photos/2024/cat.jpeg"), (info.Id, info.Master));
        Assert.Equal([4], await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "photos", "2024", "cat_150x150.jpeg"), Ct));
    }

    [Fact]
    public async Task TakeMaster_WithSlaves_Answers409AndKeepsBoth()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", [1, 2, 3]);
        using var post = await PostAsync(server.Client, SlaveUrl(master.Key, "_t"), [4]);
        var slaveKey = (await ReadInfoAsync(post)).Key;

        using var take = await server.Client.DeleteAsync(DepotRoutes.Object("default", master.Key).TrimStart('/') + "?take", Ct);

        await Problem.AssertAsync(take, HttpStatusCode.Conflict, "conflict");
        Assert.Equal([1, 2, 3], await server.Client.GetByteArrayAsync(DepotRoutes.Object("default", master.Key).TrimStart('/'), Ct));
        Assert.Equal([4], await server.Client.GetByteArrayAsync(DepotRoutes.Object("default", slaveKey).TrimStart('/'), Ct));
    }

    [Fact]
    public async Task PostSlave_MasterMissing_Answers404AndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var post = await PostAsync(server.Client, SlaveUrl("M00/00/00/nothing.jpg", "_150x150"), [1, 2, 3]);

        await Problem.AssertAsync(post, HttpStatusCode.NotFound, "not_found");
        Assert.Empty(UserFiles(server));
    }

    [Theory]
    [InlineData("a%2Fb")]
    [InlineData("..")]
    [InlineData("_a..b")]
    [InlineData("")]
    [InlineData("a%20b")]
    [InlineData("a%5Cb")]
    [InlineData("_123456789012345678901234567890123")] // 34 characters
    public async Task PostSlave_BadPrefix_Answers400InvalidPath(string prefix)
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", [1, 2, 3]);

        using var post = await PostAsync(server.Client, DepotRoutes.Object("default", master.Key).TrimStart('/') + "?slave=" + prefix, [4]);

        await Problem.AssertAsync(post, HttpStatusCode.BadRequest, "invalid_path");
        Assert.Single(UserFiles(server));
    }

    [Fact]
    public async Task PostSlave_BadExt_Answers400InvalidRequest()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", [1, 2, 3]);

        using var post = await PostAsync(server.Client, SlaveUrl(master.Key, "_s") + "&ext=toolong7", [4]);

        await Problem.AssertAsync(post, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task PostSlave_Existing_Answers409AlreadyExistsAndKeepsItThenOverwriteReplacesIt()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", [1, 2, 3]);
        var first = TestBytes.Random(100, seed: 7);
        var second = TestBytes.Random(150, seed: 8);
        using (var created = await PostAsync(server.Client, SlaveUrl(master.Key, "_t"), first))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var slavePath = DepotRoutes.Object("default", master.Key[..^4] + "_t.jpg").TrimStart('/');

        using (var again = await PostAsync(server.Client, SlaveUrl(master.Key, "_t"), second))
        {
            await Problem.AssertAsync(again, HttpStatusCode.Conflict, "already_exists");
        }

        Assert.Equal(first, await server.Client.GetByteArrayAsync(slavePath, Ct));

        using var replaced = await PostAsync(server.Client, SlaveUrl(master.Key, "_t") + "&overwrite=true", second);
        Assert.True(replaced.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"{(int)replaced.StatusCode}");
        var info = await ReadInfoAsync(replaced);
        Assert.Equal((150L, TestBytes.Sha256Hex(second), master.Key), (info.Size, info.Sha256, info.Master));
        Assert.Equal(second, await server.Client.GetByteArrayAsync(slavePath, Ct));
    }

    [Fact]
    public async Task PostSlave_OfASlave_Answers409Conflict()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", [1, 2, 3]);
        using var slave = await PostAsync(server.Client, SlaveUrl(master.Key, "_t"), [4, 5]);
        var slaveKey = (await ReadInfoAsync(slave)).Key;

        using var post = await PostAsync(server.Client, SlaveUrl(slaveKey, "_u"), [6]);

        await Problem.AssertAsync(post, HttpStatusCode.Conflict, "conflict");
        Assert.Equal(2, UserFiles(server).Count);
    }

    /// <summary>Spec: "Deleting a master deletes its slaves first, then the master."</summary>
    [Fact]
    public async Task DeleteMaster_WithSlaves_Answers204AndTheSlavesAreGoneToo()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", TestBytes.Random(500, seed: 9));
        var other = await UploadAsync(server, "jpg", TestBytes.Random(500, seed: 10));
        var slaveKeys = new List<string>();
        foreach (var prefix in new[] { "_150x150", "_300x300", "-orig" })
        {
            using var post = await PostAsync(server.Client, SlaveUrl(master.Key, prefix), TestBytes.Random(50, seed: prefix.Length));
            slaveKeys.Add((await ReadInfoAsync(post)).Key);
        }

        using var otherSlave = await PostAsync(server.Client, SlaveUrl(other.Key, "_150x150"), [1]);
        var otherSlaveKey = (await ReadInfoAsync(otherSlave)).Key;

        using var delete = await server.Client.DeleteAsync(DepotRoutes.Object("default", master.Key).TrimStart('/'), Ct);

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        foreach (var key in slaveKeys.Append(master.Key))
        {
            using var get = await server.Client.GetAsync(DepotRoutes.Object("default", key).TrimStart('/'), Ct);
            await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
            Assert.False(File.Exists(Path.Combine([server.DataDirectory, .. key.Split('/')])), key);
        }

        // Another master's slave is untouched.
        using var kept = await server.Client.GetAsync(DepotRoutes.Object("default", otherSlaveKey).TrimStart('/'), Ct);
        Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
    }

    [Fact]
    public async Task DeleteSlave_LeavesTheMaster()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", [1, 2, 3]);
        using var post = await PostAsync(server.Client, SlaveUrl(master.Key, "_t"), [4]);
        var slaveKey = (await ReadInfoAsync(post)).Key;

        using var delete = await server.Client.DeleteAsync(DepotRoutes.Object("default", slaveKey).TrimStart('/'), Ct);

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Equal([1, 2, 3], await server.Client.GetByteArrayAsync(DepotRoutes.Object("default", master.Key).TrimStart('/'), Ct));
    }

    [Fact]
    public async Task HeadSlave_ShowsTheMaster()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", [1, 2, 3]);
        using var post = await PostAsync(server.Client, SlaveUrl(master.Key, "_t"), [4]);
        var slaveKey = (await ReadInfoAsync(post)).Key;

        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, DepotRoutes.Object("default", slaveKey).TrimStart('/')), Ct);
        using var masterHead = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, DepotRoutes.Object("default", master.Key).TrimStart('/')), Ct);

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        var shown = Header(head, DepotHeaders.Master);
        Assert.NotNull(shown);
        Assert.Equal(master.Key, Uri.UnescapeDataString(shown)); // percent-encoded like the other X-Depot-* values
        Assert.Null(Header(masterHead, DepotHeaders.Master));
    }

    [Fact]
    public async Task PostSlave_ReadOnlyKey_Answers403()
    {
        await using var server = await DepotTestServer.StartAsync();
        var master = await UploadAsync(server, "jpg", [1, 2, 3]);
        var key = await server.CreateKeyAsync(["read"]);
        using var client = server.CreateClient(key.Token);

        using var post = await PostAsync(client, SlaveUrl(master.Key, "_t"), [4]);

        await Problem.AssertAsync(post, HttpStatusCode.Forbidden, "forbidden");
        Assert.Single(UserFiles(server));
    }

    private static string SlaveUrl(string masterKey, string prefix) =>
        DepotRoutes.Object("default", masterKey).TrimStart('/') + "?slave=" + Uri.EscapeDataString(prefix);

    private static async Task<ObjectInfoDto> UploadAsync(DepotTestServer server, string? ext, byte[] bytes)
    {
        using var post = await PostAsync(server.Client, ext is null ? "v1/default" : "v1/default?ext=" + ext, bytes);
        Assert.True(post.StatusCode == HttpStatusCode.Created, await post.Content.ReadAsStringAsync(Ct));
        return await ReadInfoAsync(post);
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, string url, byte[] body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        return await client.SendAsync(request, Ct);
    }

    private static async Task<ObjectInfoDto> ReadInfoAsync(HttpResponseMessage response)
    {
        var info = await response.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.NotNull(info);
        return info;
    }

    /// <summary>Files in the default bucket outside its state folder.</summary>
    private static List<string> UserFiles(DepotTestServer server) =>
        Directory.EnumerateFiles(server.DataDirectory, "*", SearchOption.AllDirectories)
            .Where(p => !Path.GetRelativePath(server.DataDirectory, p).StartsWith(".depot", StringComparison.Ordinal))
            .ToList();

    private static string[] StagedFiles(DepotTestServer server)
    {
        var staging = Path.Combine(server.StateDirectory, "tmp");
        return Directory.Exists(staging) ? Directory.GetFiles(staging) : [];
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(",", values)
            : null;
}
