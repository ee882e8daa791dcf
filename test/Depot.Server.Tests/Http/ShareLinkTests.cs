using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Depot.Protocol;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Http;

/// <summary>Signed share links over real HTTP: <c>POST ?share</c> makes one, anonymous <c>GET</c>/<c>HEAD</c> use it,
/// <c>POST /v1/_share/rotate</c> kills every earlier one (docs/http-api.md §3.15).</summary>
public sealed class ShareLinkTests
{
    private const string ObjectPath = "v1/default/docs/a.txt";
    private const string OtherPath = "v1/default/docs/b.txt";
    private static readonly byte[] Content = TestBytes.Random(5000, seed: 31);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ShareLink_Created_AnswersUrlPathAndExpiry()
    {
        await using var server = await StartAsync();
        var before = DateTimeOffset.UtcNow;

        using var response = await server.Client.PostAsync(ObjectPath + "?share&ttl=600", null, Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoStore, "a link is a credential: the answer must not be cached");
        var link = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(Ct), DepotJson.Default.ShareLinkDto)!;
        Assert.Matches(@"^/v1/default/docs/a\.txt\?expires=[0-9]+&sig=[A-Za-z0-9_-]{43}$", link.Path);
        Assert.Equal(server.BaseUrl.GetLeftPart(UriPartial.Authority) + link.Path, link.Url);
        Assert.Equal(TimeSpan.Zero, link.Expires.Offset);
        Assert.InRange(link.Expires, before.AddSeconds(598), DateTimeOffset.UtcNow.AddSeconds(600));
        Assert.Equal(link.Expires.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), Query(link.Path, "expires"));
    }

    [Fact]
    public async Task ShareLink_AnonymousGetAndHead_ServeTheObject()
    {
        await using var server = await StartAsync();
        var link = await ShareAsync(server.Client, ObjectPath);
        using var anonymous = server.CreateClient(null);

        using var get = await anonymous.GetAsync(link.Path, Ct);
        using var head = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, link.Path), Ct);

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(Content, await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(TestBytes.ETagOf(Content), get.Headers.ETag?.ToString());
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(Content.Length, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task ShareLink_KeyWithSpacesAndUnicode_RoundTrips()
    {
        await using var server = await StartAsync();
        const string key = "docs/sp ace/café+1 #2.txt";
        using (var put = await ObjectApiTests.PutAsync(server.Client, DepotRoutes.Object("default", key).TrimStart('/'), Content))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var link = await ShareAsync(server.Client, DepotRoutes.Object("default", key).TrimStart('/'));
        using var anonymous = server.CreateClient(null);
        using var get = await anonymous.GetAsync(link.Path, Ct);

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(Content, await get.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task ShareLink_WithRangeOffsetAndConditionals_BehavesLikeAKeyedGet()
    {
        await using var server = await StartAsync();
        var link = await ShareAsync(server.Client, ObjectPath);
        using var anonymous = server.CreateClient(null);

        using var ranged = new HttpRequestMessage(HttpMethod.Get, link.Path);
        ranged.Headers.Range = new RangeHeaderValue(100, 199);
        using var partial = await anonymous.SendAsync(ranged, Ct);
        using var conditional = new HttpRequestMessage(HttpMethod.Get, link.Path);
        conditional.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(TestBytes.ETagOf(Content)));
        using var notModified = await anonymous.SendAsync(conditional, Ct);
        using var attachment = await anonymous.GetAsync(link.Path + "&download", Ct);
        using var byOffset = await anonymous.GetAsync(link.Path + "&offset=1000&length=50", Ct);

        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal($"bytes 100-199/{Content.Length}", partial.Content.Headers.ContentRange?.ToString());
        Assert.Equal(Content[100..200], await partial.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(HttpStatusCode.OK, attachment.StatusCode);
        Assert.Equal("attachment", attachment.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal(HttpStatusCode.PartialContent, byOffset.StatusCode);
        Assert.Equal(Content[1000..1050], await byOffset.Content.ReadAsByteArrayAsync(Ct));
    }

    public static TheoryData<string> TamperedFields => ["bucket", "key", "expires", "expires-earlier", "expires-leading-zero", "sig", "sig-spare-bits", "sig-missing-char", "expires-missing", "sig-twice"];

    [Theory]
    [MemberData(nameof(TamperedFields))]
    public async Task ShareLink_Tampered_AnswersLinkInvalid(string field)
    {
        await using var server = await StartAsync();
        var link = await ShareAsync(server.Client, ObjectPath);
        var path = link.Path[..link.Path.IndexOf('?', StringComparison.Ordinal)];
        var expires = long.Parse(Query(link.Path, "expires"), System.Globalization.CultureInfo.InvariantCulture);
        var sig = Query(link.Path, "sig");
        var tampered = field switch
        {
            "bucket" => $"{path.Replace("/v1/default/", "/v1/second/", StringComparison.Ordinal)}?expires={expires}&sig={sig}",
            "key" => $"/{OtherPath}?expires={expires}&sig={sig}",
            "expires" => $"{path}?expires={expires + 1}&sig={sig}",
            "expires-earlier" => $"{path}?expires={expires - 100_000}&sig={sig}",
            "expires-leading-zero" => $"{path}?expires=0{expires}&sig={sig}",
            "sig" => $"{path}?expires={expires}&sig={(sig[0] == 'A' ? 'B' : 'A')}{sig[1..]}",
            // The last base64url character carries 4 bits of the MAC and 2 spare bits: flipping a spare bit spells the
            // same bytes differently, and must not pass either.
            "sig-spare-bits" => $"{path}?expires={expires}&sig={sig[..^1]}{FlipSpareBit(sig[^1])}",
            "sig-missing-char" => $"{path}?expires={expires}&sig={sig[..^1]}",
            "expires-missing" => $"{path}?sig={sig}",
            "sig-twice" => $"{path}?expires={expires}&sig={sig}&sig={sig}",
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
        using var anonymous = server.CreateClient(null);

        using var get = await anonymous.GetAsync(tampered, Ct);
        using var head = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, tampered), Ct);

        var problem = await Problem.AssertAsync(get, HttpStatusCode.Forbidden, "link_invalid");
        Assert.DoesNotContain(sig, problem.GetRawText(), StringComparison.Ordinal);
        await Problem.AssertHeadAsync(head, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task ShareLink_PastItsExpiry_AnswersLinkExpired()
    {
        var clock = new TestClock();
        await using var server = await StartAsync(clock);
        var link = await ShareAsync(server.Client, ObjectPath, "&ttl=60");
        using var anonymous = server.CreateClient(null);

        // The expiry is whole seconds from the creation time rounded down, and the clock also moves with real time:
        // 58 s leaves a full second for a slow machine between creating the link and using it.
        clock.Advance(TimeSpan.FromSeconds(58));
        using (var stillValid = await anonymous.GetAsync(link.Path, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, stillValid.StatusCode);
        }

        clock.Advance(TimeSpan.FromSeconds(3));
        using var expired = await anonymous.GetAsync(link.Path, Ct);
        using var expiredHead = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, link.Path), Ct);

        await Problem.AssertAsync(expired, HttpStatusCode.Forbidden, "link_expired");
        await Problem.AssertHeadAsync(expiredHead, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task ShareLink_ExpiredAndTampered_AnswersLinkInvalid()
    {
        var clock = new TestClock();
        await using var server = await StartAsync(clock);
        var link = await ShareAsync(server.Client, ObjectPath, "&ttl=60");
        var sig = Query(link.Path, "sig");
        using var anonymous = server.CreateClient(null);
        clock.Advance(TimeSpan.FromMinutes(5));

        using var response = await anonymous.GetAsync(link.Path.Replace(sig, (sig[0] == 'A' ? "B" : "A") + sig[1..], StringComparison.Ordinal), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "link_invalid");
    }

    [Fact]
    public async Task ShareLink_AfterRotate_OldLinkInvalidNewLinkValid()
    {
        await using var server = await StartAsync();
        var old = await ShareAsync(server.Client, ObjectPath);
        using var anonymous = server.CreateClient(null);

        using (var rotate = await server.Client.PostAsync(DepotRoutes.ShareRotate.TrimStart('/'), null, Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, rotate.StatusCode);
        }

        var fresh = await ShareAsync(server.Client, ObjectPath);
        using var oldGet = await anonymous.GetAsync(old.Path, Ct);
        using var freshGet = await anonymous.GetAsync(fresh.Path, Ct);

        await Problem.AssertAsync(oldGet, HttpStatusCode.Forbidden, "link_invalid");
        Assert.Equal(HttpStatusCode.OK, freshGet.StatusCode);
        Assert.Equal(Content, await freshGet.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task ShareLink_RotateWithoutUnrestrictedAdmin_IsRefusedAndKeepsLinks()
    {
        await using var server = await StartAsync();
        var link = await ShareAsync(server.Client, ObjectPath);
        var reader = await server.CreateKeyAsync(["read", "write", "delete"]);
        var bucketAdmin = await server.CreateKeyAsync(["admin"], bucket: "default");
        using var anonymous = server.CreateClient(null);
        using var readerClient = server.CreateClient(reader.Token);
        using var bucketAdminClient = server.CreateClient(bucketAdmin.Token);

        using var noKey = await anonymous.PostAsync(DepotRoutes.ShareRotate.TrimStart('/'), null, Ct);
        using var withLink = await anonymous.PostAsync(DepotRoutes.ShareRotate.TrimStart('/') + link.Path[link.Path.IndexOf('?', StringComparison.Ordinal)..], null, Ct);
        using var notAdmin = await readerClient.PostAsync(DepotRoutes.ShareRotate.TrimStart('/'), null, Ct);
        using var limitedAdmin = await bucketAdminClient.PostAsync(DepotRoutes.ShareRotate.TrimStart('/'), null, Ct);

        await Problem.AssertAsync(noKey, HttpStatusCode.Unauthorized, "unauthorized");
        await Problem.AssertAsync(withLink, HttpStatusCode.Unauthorized, "unauthorized");
        await Problem.AssertAsync(notAdmin, HttpStatusCode.Forbidden, "forbidden");
        await Problem.AssertAsync(limitedAdmin, HttpStatusCode.Forbidden, "forbidden");
        using var still = await anonymous.GetAsync(link.Path, Ct);
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
    }

    [Fact]
    public async Task ShareLink_ForOneKey_OpensNothingElse()
    {
        await using var server = await StartAsync();
        var link = await ShareAsync(server.Client, ObjectPath);
        var query = link.Path[link.Path.IndexOf('?', StringComparison.Ordinal)..];
        using var anonymous = server.CreateClient(null);
        var before = DirectorySnapshot.TakeData(server.DataDirectory);

        // Other objects, and listings, are other signed paths: the signature does not match.
        await Problem.AssertAsync(await anonymous.GetAsync("/" + OtherPath + query, Ct), HttpStatusCode.Forbidden, "link_invalid");
        await Problem.AssertAsync(await anonymous.GetAsync("/v1/default/docs/" + query, Ct), HttpStatusCode.Forbidden, "link_invalid");
        await Problem.AssertAsync(await anonymous.GetAsync("/v1/default/" + query, Ct), HttpStatusCode.Forbidden, "link_invalid");
        await Problem.AssertAsync(await anonymous.GetAsync("/v1/default/docs" + query + "&list", Ct), HttpStatusCode.Forbidden, "link_invalid");
        await Problem.AssertAsync(await anonymous.GetAsync("/" + OtherPath + query + "&stat", Ct), HttpStatusCode.Forbidden, "link_invalid");
        // Its own object: only the download, not the other read variants.
        await Problem.AssertAsync(await anonymous.GetAsync(link.Path + "&stat", Ct), HttpStatusCode.Forbidden, "forbidden");
        await Problem.AssertAsync(await anonymous.GetAsync(link.Path + "&list", Ct), HttpStatusCode.Forbidden, "forbidden");
        using (var meta = await anonymous.GetAsync(link.Path + "&meta", Ct))
        {
            // Refused by the link (403) or by the metadata handler's own key check (401): never served.
            Assert.True(meta.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized, $"?meta with a link: {(int)meta.StatusCode}");
        }

        await Problem.AssertAsync(await anonymous.GetAsync("/" + ObjectPath + "/" + query, Ct), HttpStatusCode.Forbidden, "forbidden");
        // Never a change, nor a new link, nor the bucket list.
        await Problem.AssertAsync(await anonymous.PutAsync(link.Path, new ByteArrayContent("x"u8.ToArray()), Ct), HttpStatusCode.Unauthorized, "unauthorized");
        await Problem.AssertAsync(await anonymous.DeleteAsync(link.Path, Ct), HttpStatusCode.Unauthorized, "unauthorized");
        await Problem.AssertAsync(await ObjectApiTests.TransferAsync(anonymous, link.Path + "&move", new { to = "docs/moved.txt" }), HttpStatusCode.Unauthorized, "unauthorized");
        await Problem.AssertAsync(await ObjectApiTests.TransferAsync(anonymous, link.Path + "&copy", new { to = "docs/copied.txt" }), HttpStatusCode.Unauthorized, "unauthorized");
        await Problem.AssertAsync(await anonymous.PostAsync(link.Path + "&share", null, Ct), HttpStatusCode.Unauthorized, "unauthorized");
        await Problem.AssertAsync(await anonymous.GetAsync("/v1/" + query, Ct), HttpStatusCode.Unauthorized, "unauthorized");

        before.AssertSame(DirectorySnapshot.TakeData(server.DataDirectory), "a link changes nothing");
    }

    [Fact]
    public async Task ShareLink_WithAuthorizationHeader_KeyDecides()
    {
        await using var server = await StartAsync();
        var link = await ShareAsync(server.Client, ObjectPath);
        var bogus = link.Path[..link.Path.LastIndexOf('=')] + "=" + new string('A', 43);
        var writer = await server.CreateKeyAsync(["write"]);
        using var writerClient = server.CreateClient(writer.Token);

        using var admin = await server.Client.GetAsync(bogus, Ct);
        using var noReadScope = await writerClient.GetAsync(link.Path, Ct);

        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        await Problem.AssertAsync(noReadScope, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task ShareLink_CreateWithoutSuitableKey_IsRefused()
    {
        await using var server = await StartAsync();
        var writer = await server.CreateKeyAsync(["write", "delete"]);
        var otherPrefix = await server.CreateKeyAsync(["read"], prefix: "other/");
        var otherBucket = await server.CreateKeyAsync(["read"], bucket: "second");
        var reader = await server.CreateKeyAsync(["read"], prefix: "docs/");
        using var anonymous = server.CreateClient(null);

        await Problem.AssertAsync(await anonymous.PostAsync(ObjectPath + "?share", null, Ct), HttpStatusCode.Unauthorized, "unauthorized");
        await Problem.AssertAsync(await server.CreateClient(writer.Token).PostAsync(ObjectPath + "?share", null, Ct), HttpStatusCode.Forbidden, "forbidden");
        await Problem.AssertAsync(await server.CreateClient(otherPrefix.Token).PostAsync(ObjectPath + "?share", null, Ct), HttpStatusCode.Forbidden, "forbidden");
        await Problem.AssertAsync(await server.CreateClient(otherBucket.Token).PostAsync(ObjectPath + "?share", null, Ct), HttpStatusCode.Forbidden, "forbidden");
        var link = await ShareAsync(server.CreateClient(reader.Token), ObjectPath);
        using var get = await anonymous.GetAsync(link.Path, Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
    }

    [Fact]
    public async Task ShareLink_CreateAnonymouslyInAnonymousReadMode_IsUnauthorized()
    {
        await using var server = await StartAsync(anonymousRead: true);
        using var anonymous = server.CreateClient(null);

        using var response = await anonymous.PostAsync(ObjectPath + "?share", null, Ct);

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task ShareLink_InvalidInAnonymousReadMode_StillLinkInvalid()
    {
        await using var server = await StartAsync(anonymousRead: true);
        var link = await ShareAsync(server.Client, ObjectPath);
        using var anonymous = server.CreateClient(null);

        using var response = await anonymous.GetAsync("/" + OtherPath + link.Path[link.Path.IndexOf('?', StringComparison.Ordinal)..], Ct);

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "link_invalid");
    }

    [Fact]
    public async Task ShareLink_MissingObjectOrDirectory_NotFoundOrConflict()
    {
        await using var server = await StartAsync();

        await Problem.AssertAsync(await server.Client.PostAsync("v1/default/docs/missing.txt?share", null, Ct), HttpStatusCode.NotFound, "not_found");
        await Problem.AssertAsync(await server.Client.PostAsync("v1/nobucket/docs/a.txt?share", null, Ct), HttpStatusCode.NotFound, "not_found");
        await Problem.AssertAsync(await server.Client.PostAsync("v1/default/docs?share", null, Ct), HttpStatusCode.Conflict, "conflict");
        await Problem.AssertAsync(await server.Client.PostAsync("v1/default/docs/?share", null, Ct), HttpStatusCode.Conflict, "conflict");
        await Problem.AssertAsync(await server.Client.PostAsync("v1/default?share", null, Ct), HttpStatusCode.Conflict, "conflict");
    }

    [Theory]
    [InlineData("ttl=0")]
    [InlineData("ttl=-5")]
    [InlineData("ttl=abc")]
    [InlineData("ttl=1.5")]
    [InlineData("ttl=")]
    [InlineData("ttl=2592001")]
    [InlineData("ttl=99999999999999999999")]
    [InlineData("ttl=60&ttl=60")]
    [InlineData("ttl=60&expires=2099-01-01T00:00:00Z")]
    [InlineData("expires=tomorrow")]
    [InlineData("expires=2020-01-01T00:00:00Z")]
    [InlineData("expires=2099-01-01T00:00:00Z")]
    [InlineData("expires=1893456000")]
    [InlineData("expires=12/01/2030")]
    public async Task ShareLink_BadExpiry_InvalidRequest(string query)
    {
        await using var server = await StartAsync();

        using var response = await server.Client.PostAsync(ObjectPath + "?share&" + query, null, Ct);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task ShareLink_WithRfc3339Expiry_ExpiresThen()
    {
        await using var server = await StartAsync();
        var at = DateTimeOffset.UtcNow.AddDays(29).ToOffset(TimeSpan.FromHours(2));
        var text = at.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", System.Globalization.CultureInfo.InvariantCulture);

        var link = await ShareAsync(server.Client, ObjectPath, "&expires=" + Uri.EscapeDataString(text));
        var maxTtl = await ShareAsync(server.Client, ObjectPath, "&ttl=2592000");
        var withoutOffset = DateTimeOffset.UtcNow.AddDays(1).ToString("yyyy-MM-dd'T'HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        using var noOffset = await server.Client.PostAsync(ObjectPath + "?share&expires=" + withoutOffset, null, Ct);

        Assert.Equal(at.ToUnixTimeSeconds(), link.Expires.ToUnixTimeSeconds());
        Assert.InRange(maxTtl.Expires, DateTimeOffset.UtcNow.AddDays(30).AddSeconds(-5), DateTimeOffset.UtcNow.AddDays(30));
        await Problem.AssertAsync(noOffset, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task ShareLink_DefaultTtl_IsOneHour()
    {
        await using var server = await StartAsync();

        var link = await ShareAsync(server.Client, ObjectPath);

        Assert.InRange(link.Expires, DateTimeOffset.UtcNow.AddSeconds(3595), DateTimeOffset.UtcNow.AddSeconds(3600));
    }

    [Fact]
    public async Task ShareLink_Logs_NeverContainTheSignature()
    {
        await using var server = await StartAsync();
        var link = await ShareAsync(server.Client, ObjectPath);
        var sig = Query(link.Path, "sig");
        using var anonymous = server.CreateClient(null);
        using (var get = await anonymous.GetAsync(link.Path, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        }

        using (var tampered = await anonymous.GetAsync("/" + OtherPath + link.Path[link.Path.IndexOf('?', StringComparison.Ordinal)..], Ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, tampered.StatusCode);
        }

        using (var rotate = await server.Client.PostAsync(DepotRoutes.ShareRotate.TrimStart('/'), null, Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, rotate.StatusCode);
        }

        using (var rotated = await anonymous.GetAsync(link.Path, Ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, rotated.StatusCode);
        }

        Assert.True(await server.WaitForLogsAsync(logs => logs.Any(l => l.EventId.Id == 1 && l.Message.Contains("share-link", StringComparison.Ordinal))),
            "the link download was logged under the caller 'share-link':\n" + string.Join("\n", server.LogLines));
        Assert.True(await server.WaitForLogsAsync(logs => logs.Count(l => l.EventId.Id == 1) >= 6), string.Join("\n", server.LogLines));
        var leaking = server.LogLines.Where(l => l.Contains(sig, StringComparison.Ordinal) || l.Contains("sig=", StringComparison.Ordinal)).ToList();
        Assert.True(leaking.Count == 0, "the signature appears in the log:\n" + string.Join("\n", leaking));
    }

    private static async Task<DepotTestServer> StartAsync(TimeProvider? clock = null, bool anonymousRead = false)
    {
        var server = await DepotTestServer.StartAsync(configure: (o, root) =>
        {
            o.Buckets["second"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "second") };
            o.AnonymousRead = anonymousRead;
            if (clock is not null)
            {
                o.Time = clock;
            }
        });
        try
        {
            foreach (var path in new[] { ObjectPath, OtherPath, "v1/second/docs/a.txt" })
            {
                using var put = await ObjectApiTests.PutAsync(server.Client, path, Content);
                Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            }

            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private static async Task<ShareLinkDto> ShareAsync(HttpClient client, string objectPath, string query = "")
    {
        using var response = await client.PostAsync(objectPath + "?share" + query, null, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"creating a link: {(int)response.StatusCode} {text}");
        return JsonSerializer.Deserialize(text, DepotJson.Default.ShareLinkDto)!;
    }

    private static string Query(string pathAndQuery, string name) =>
        pathAndQuery[(pathAndQuery.IndexOf('?', StringComparison.Ordinal) + 1)..].Split('&')
            .Select(p => p.Split('=', 2))
            .Single(p => p[0] == name)[1];

    private static char FlipSpareBit(char c)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        return alphabet[alphabet.IndexOf(c, StringComparison.Ordinal) ^ 1];
    }
}
