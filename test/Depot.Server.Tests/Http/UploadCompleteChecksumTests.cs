using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;

#pragma warning disable CA5351 // MD5 as clients declare it: verified, never trusted for security

namespace Depot.Server.Tests.Http;

/// <summary>Checksums declared when an upload session is completed (<c>POST /v1/_uploads/{id}/complete</c> with
/// <c>{"sha256","md5"}</c>, docs/http-api.md §3.23): verified like those declared at creation, before anything is
/// published; conflicting, malformed and repeated declarations.</summary>
public sealed class UploadCompleteChecksumTests
{
    private const int ChunkSize = 4000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Complete_RightSha256InBody_Publishes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(10_000, seed: 1);
        var id = await CreateAndSendAsync(server.Client, "sha/right.bin", bytes);

        using var complete = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{TestBytes.Sha256Hex(bytes)}}"}""");

        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        Assert.Equal(TestBytes.ETagOf(bytes), complete.Headers.ETag?.ToString());
        var session = await ReadJsonAsync(complete);
        Assert.Equal("completed", session.GetProperty("state").GetString());
        Assert.Equal(TestBytes.Sha256Hex(bytes), session.GetProperty("sha256").GetString());
        await AssertPublishedAsync(server, "sha/right.bin", bytes);
    }

    [Fact]
    public async Task Complete_WrongSha256InBody_422NothingPublishedSessionOpenAndTheRightOneThenPublishes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(10_000, seed: 2);
        var wrong = TestBytes.Sha256Hex(bytes[1..]);
        var id = await CreateAndSendAsync(server.Client, "sha/wrong.bin", bytes);

        using (var mismatch = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{wrong}}"}"""))
        {
            var problem = await Problem.AssertAsync(mismatch, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
            Assert.Contains(TestBytes.Sha256Hex(bytes), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        await AssertNothingAtAsync(server, "sha/wrong.bin");
        var open = await GetSessionAsync(server.Client, id);
        Assert.Equal("open", open.GetProperty("state").GetString());
        Assert.False(open.TryGetProperty("sha256", out _), "a checksum that did not verify must not stick to the session");
        using var right = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{TestBytes.Sha256Hex(bytes).ToUpperInvariant()}}"}""");
        Assert.True(right.StatusCode == HttpStatusCode.OK, await right.Content.ReadAsStringAsync(Ct));
        await AssertPublishedAsync(server, "sha/wrong.bin", bytes);
    }

    [Theory]
    [InlineData("hex")]
    [InlineData("base64")]
    public async Task Complete_RightMd5InBody_Publishes(string form)
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(10_000, seed: 3);
        var id = await CreateAndSendAsync(server.Client, "md5/right.bin", bytes);

        using var complete = await CompleteAsync(server.Client, id, $$"""{"md5":"{{Md5Text(MD5.HashData(bytes), form)}}"}""");

        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(bytes)), (await ReadJsonAsync(complete)).GetProperty("md5").GetString());
        await AssertPublishedAsync(server, "md5/right.bin", bytes);
    }

    [Fact]
    public async Task Complete_WrongMd5InBody_422NothingPublishedSessionOpenAndTheRightOneThenPublishes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(10_000, seed: 4);
        var id = await CreateAndSendAsync(server.Client, "md5/wrong.bin", bytes);

        using (var mismatch = await CompleteAsync(server.Client, id, $$"""{"md5":"{{Convert.ToHexStringLower(MD5.HashData(bytes[1..]))}}"}"""))
        {
            var problem = await Problem.AssertAsync(mismatch, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
            Assert.Contains("MD5", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        await AssertNothingAtAsync(server, "md5/wrong.bin");
        Assert.Equal("open", (await GetSessionAsync(server.Client, id)).GetProperty("state").GetString());
        using var right = await CompleteAsync(server.Client, id, $$"""{"md5":"{{Convert.ToBase64String(MD5.HashData(bytes))}}"}""");
        Assert.True(right.StatusCode == HttpStatusCode.OK, await right.Content.ReadAsStringAsync(Ct));
        await AssertPublishedAsync(server, "md5/wrong.bin", bytes);
    }

    [Fact]
    public async Task Complete_BothChecksumsInBodyOneWrong_422AndNothingPublished()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 5);
        var id = await CreateAndSendAsync(server.Client, "both.bin", bytes);

        using var complete = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{TestBytes.Sha256Hex(bytes)}}","md5":"{{Convert.ToHexStringLower(MD5.HashData(bytes[1..]))}}"}""");

        await Problem.AssertAsync(complete, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
        await AssertNothingAtAsync(server, "both.bin");
    }

    [Fact]
    public async Task Complete_Sha256OtherThanDeclaredAtCreation_400InvalidRequestNamingSha256()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 6);
        var id = await CreateAndSendAsync(server.Client, "conflict/sha.bin", bytes, $$""","sha256":"{{TestBytes.Sha256Hex(bytes)}}" """);

        using var complete = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{TestBytes.Sha256Hex(bytes[1..])}}"}""");

        var problem = await Problem.AssertAsync(complete, HttpStatusCode.BadRequest, "invalid_request");
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("sha256", detail, StringComparison.Ordinal);
        Assert.Contains(TestBytes.Sha256Hex(bytes), detail, StringComparison.Ordinal);
        await AssertNothingAtAsync(server, "conflict/sha.bin");
        Assert.Equal("open", (await GetSessionAsync(server.Client, id)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Complete_Md5OtherThanDeclaredAtCreation_400InvalidRequestNamingMd5()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 7);
        var id = await CreateAndSendAsync(server.Client, "conflict/md5.bin", bytes, $$""","md5":"{{Convert.ToHexStringLower(MD5.HashData(bytes))}}" """);

        using var complete = await CompleteAsync(server.Client, id, $$"""{"md5":"{{Convert.ToHexStringLower(MD5.HashData(bytes[1..]))}}"}""");

        var problem = await Problem.AssertAsync(complete, HttpStatusCode.BadRequest, "invalid_request");
        Assert.Contains("md5", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AssertNothingAtAsync(server, "conflict/md5.bin");
    }

    [Fact]
    public async Task Complete_SameChecksumsAsDeclaredAtCreation_Publishes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 8);
        var md5 = MD5.HashData(bytes);
        var id = await CreateAndSendAsync(server.Client, "same.bin", bytes, $$""","sha256":"{{TestBytes.Sha256Hex(bytes)}}","md5":"{{Convert.ToHexStringLower(md5)}}" """);

        // The same values in other spellings: upper-case hex, base64.
        using var complete = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{TestBytes.Sha256Hex(bytes).ToUpperInvariant()}}","md5":"{{Convert.ToBase64String(md5)}}"}""");

        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        await AssertPublishedAsync(server, "same.bin", bytes);
    }

    [Fact]
    public async Task Complete_Sha256InBodyOnSessionThatDeclaredOnlyMd5_BothVerifiedAndPublishes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 9);
        var id = await CreateAndSendAsync(server.Client, "mixed.bin", bytes, $$""","md5":"{{Convert.ToHexStringLower(MD5.HashData(bytes))}}" """);

        using (var wrong = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{TestBytes.Sha256Hex(bytes[1..])}}"}"""))
        {
            await Problem.AssertAsync(wrong, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
        }

        using var right = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{TestBytes.Sha256Hex(bytes)}}"}""");

        Assert.True(right.StatusCode == HttpStatusCode.OK, await right.Content.ReadAsStringAsync(Ct));
        await AssertPublishedAsync(server, "mixed.bin", bytes);
    }

    [Theory]
    [InlineData("""{"sha256":"abc"}""")]
    [InlineData("""{"sha256":"zz00000000000000000000000000000000000000000000000000000000000000"}""")]
    [InlineData("""{"sha256":"00000000000000000000000000000000000000000000000000000000000000000"}""")]
    [InlineData("""{"sha256":42}""")]
    [InlineData("""{"md5":"abc"}""")]
    [InlineData("""{"md5":"0000000000000000000000000000000g"}""")]
    [InlineData("""{"md5":"AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}""")]
    [InlineData("""{"sha256":""")]
    [InlineData("""not json""")]
    [InlineData("""null""")]
    [InlineData("""["sha256"]""")]
    public async Task Complete_MalformedBody_400InvalidRequestAndSessionStillOpen(string body)
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(3000, seed: 10);
        var id = await CreateAndSendAsync(server.Client, "malformed.bin", bytes);

        using var complete = await CompleteAsync(server.Client, id, body);

        await Problem.AssertAsync(complete, HttpStatusCode.BadRequest, "invalid_request");
        await AssertNothingAtAsync(server, "malformed.bin");
        Assert.Equal("open", (await GetSessionAsync(server.Client, id)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Complete_BodyOver64KiB_413TooLarge()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(3000, seed: 11);
        var id = await CreateAndSendAsync(server.Client, "huge-body.bin", bytes);

        using var complete = await CompleteAsync(server.Client, id, $$"""{"pad":"{{new string('x', 70_000)}}"}""");

        await Problem.AssertAsync(complete, HttpStatusCode.RequestEntityTooLarge, "too_large");
        await AssertNothingAtAsync(server, "huge-body.bin");
    }

    [Fact]
    public async Task Complete_CompletedSessionWithOtherSha256_422AndTheObjectKept()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 12);
        var id = await CreateAndSendAsync(server.Client, "done/other.bin", bytes);
        using (var first = await CompleteAsync(server.Client, id, null))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var again = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{TestBytes.Sha256Hex(bytes[1..])}}"}""");

        var problem = await Problem.AssertAsync(again, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
        Assert.Contains(TestBytes.Sha256Hex(bytes), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AssertPublishedAsync(server, "done/other.bin", bytes);
        Assert.Equal("completed", (await GetSessionAsync(server.Client, id)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Complete_CompletedSessionWithSameSha256OrNone_200AsTheFirstTime()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 13);
        var sha = TestBytes.Sha256Hex(bytes);
        var id = await CreateAndSendAsync(server.Client, "done/same.bin", bytes);
        using var first = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{sha}}"}""");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var firstObject = (await ReadJsonAsync(first)).GetProperty("object").GetRawText();

        using var same = await CompleteAsync(server.Client, id, $$"""{"sha256":"{{sha}}"}""");
        using var none = await CompleteAsync(server.Client, id, null);

        foreach (var answer in new[] { same, none })
        {
            Assert.True(answer.StatusCode == HttpStatusCode.OK, await answer.Content.ReadAsStringAsync(Ct));
            Assert.Equal(TestBytes.ETagOf(bytes), answer.Headers.ETag?.ToString());
            Assert.Equal(firstObject, (await ReadJsonAsync(answer)).GetProperty("object").GetRawText());
        }
    }

    [Fact]
    public async Task Complete_CompletedSessionWithMd5_ComparedWithTheMd5OfWhatItPublished()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 14);
        var id = await CreateAndSendAsync(server.Client, "done/md5.bin", bytes);
        using (var first = await CompleteAsync(server.Client, id, null))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var right = await CompleteAsync(server.Client, id, $$"""{"md5":"{{Convert.ToHexStringLower(MD5.HashData(bytes))}}"}""");
        using var wrong = await CompleteAsync(server.Client, id, $$"""{"md5":"{{Convert.ToHexStringLower(MD5.HashData(bytes[1..]))}}"}""");

        Assert.True(right.StatusCode == HttpStatusCode.OK, await right.Content.ReadAsStringAsync(Ct));
        await Problem.AssertAsync(wrong, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
        await AssertPublishedAsync(server, "done/md5.bin", bytes);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("empty")]
    [InlineData("whitespace")]
    [InlineData("emptyObject")]
    [InlineData("emptyChunked")]
    [InlineData("unknownMembersOnly")]
    public async Task Complete_NoChecksumInBody_PublishesAsWithoutABody(string kind)
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 15);
        var id = await CreateAndSendAsync(server.Client, "plain.bin", bytes);
        using var request = new HttpRequestMessage(HttpMethod.Post, DepotRoutes.Upload(id) + "/complete")
        {
            Content = kind switch
            {
                "none" => null,
                "empty" => new StringContent("", Encoding.UTF8, "application/json"),
                "whitespace" => new StringContent(" \r\n\t ", Encoding.UTF8, "application/json"),
                "emptyObject" => new StringContent("{}", Encoding.UTF8, "application/json"),
                "emptyChunked" => new StreamContent(new MemoryStream()),
                _ => new StringContent("""{"note":"hi"}""", Encoding.UTF8, "application/json"),
            },
        };
        if (kind == "emptyChunked")
        {
            request.Headers.TransferEncodingChunked = true;
        }

        using var complete = await server.Client.SendAsync(request, Ct);

        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync(Ct));
        Assert.Equal(TestBytes.ETagOf(bytes), complete.Headers.ETag?.ToString());
        var session = await ReadJsonAsync(complete);
        Assert.Equal("completed", session.GetProperty("state").GetString());
        Assert.False(session.TryGetProperty("sha256", out _));
        await AssertPublishedAsync(server, "plain.bin", bytes);
    }

    // ---- helpers ----

    private static string Md5Text(byte[] digest, string form) => form == "hex" ? Convert.ToHexStringLower(digest) : Convert.ToBase64String(digest);

    /// <summary>Creates a session for <paramref name="bytes"/> (chunks of 4000, plus <paramref name="extraMembers"/> in the
    /// declaration) and sends every chunk in parallel, the last first; returns the session id.</summary>
    private static async Task<string> CreateAndSendAsync(HttpClient client, string key, byte[] bytes, string extraMembers = "")
    {
        string id;
        using (var content = new StringContent($$"""{"key":"{{key}}","length":{{bytes.Length}},"chunkSize":{{ChunkSize}}{{extraMembers}}}""", Encoding.UTF8, "application/json"))
        using (var created = await client.PostAsync(DepotRoutes.Uploads, content, Ct))
        {
            var text = await created.Content.ReadAsStringAsync(Ct);
            Assert.True(created.StatusCode == HttpStatusCode.Created, text);
            id = JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
        }

        var count = (bytes.Length + ChunkSize - 1) / ChunkSize;
        await Task.WhenAll(Enumerable.Range(0, count).Reverse().Select(async index =>
        {
            using var chunk = new ByteArrayContent(bytes[(index * ChunkSize)..Math.Min(bytes.Length, (index + 1) * ChunkSize)]);
            chunk.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var put = await client.PutAsync(DepotRoutes.Upload(id) + "/chunks/" + index.ToString(CultureInfo.InvariantCulture), chunk, Ct);
            Assert.True(put.StatusCode == HttpStatusCode.OK, $"chunk {index}: {await put.Content.ReadAsStringAsync(Ct)}");
        }));
        return id;
    }

    /// <summary><c>POST …/complete</c> with <paramref name="json"/> as an application/json body, or no body when null.</summary>
    private static async Task<HttpResponseMessage> CompleteAsync(HttpClient client, string id, string? json)
    {
        using var content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json");
        return await client.PostAsync(DepotRoutes.Upload(id) + "/complete", content, Ct);
    }

    private static async Task<JsonElement> GetSessionAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync(DepotRoutes.Upload(id), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();

    private static async Task AssertPublishedAsync(DepotTestServer server, string key, byte[] expected)
    {
        var onDisk = await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, key.Replace('/', Path.DirectorySeparatorChar)), Ct);
        Assert.True(expected.AsSpan().SequenceEqual(onDisk), $"the file holds {onDisk.Length} bytes with SHA-256 {TestBytes.Sha256Hex(onDisk)}");
        using var get = await server.Client.GetAsync(DepotRoutes.Object("default", key), Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var served = await get.Content.ReadAsByteArrayAsync(Ct);
        Assert.True(expected.AsSpan().SequenceEqual(served), "a download serves other bytes");
        Assert.Equal(TestBytes.ETagOf(expected), get.Headers.ETag?.ToString());
    }

    private static async Task AssertNothingAtAsync(DepotTestServer server, string key)
    {
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, key.Replace('/', Path.DirectorySeparatorChar))), $"something was published at {key}");
        using var get = await server.Client.GetAsync(DepotRoutes.Object("default", key), Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
    }
}
