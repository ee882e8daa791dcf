using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Depot.Core.Security;
using Depot.Protocol;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Http;

/// <summary>
/// Every endpoint against every kind of caller that must be refused: no key, a malformed or wrong key, a revoked or
/// expired key, a key without the scope, a key for another bucket, a key for another prefix. A refused request answers
/// 401 or 403 problem+json and changes nothing: the data directories stay byte-for-byte the same and the key list too.
/// </summary>
public sealed class AuthMatrixTests
{
    public enum Endpoint
    {
        GetObject,
        HeadObject,
        List,
        Stat,
        Put,
        Mkdir,
        Delete,
        Move,
        Copy,
        Buckets,
        CreateKey,
        ListKeys,
        RevokeKey,
    }

    public enum Denial
    {
        NoKey,
        MalformedOrWrongKey,
        RevokedKey,
        ExpiredKey,
        WrongScope,
        OtherBucket,
        OtherPrefix,
    }

    private static readonly Endpoint[] ObjectEndpoints =
        [Endpoint.GetObject, Endpoint.HeadObject, Endpoint.List, Endpoint.Stat, Endpoint.Put, Endpoint.Mkdir, Endpoint.Delete, Endpoint.Move, Endpoint.Copy];

    private static readonly Endpoint[] AdminEndpoints = [Endpoint.CreateKey, Endpoint.ListKeys, Endpoint.RevokeKey];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<Endpoint, Denial> DeniedMatrix
    {
        get
        {
            var data = new TheoryData<Endpoint, Denial>();
            foreach (var endpoint in Enum.GetValues<Endpoint>())
            {
                foreach (var denial in Enum.GetValues<Denial>())
                {
                    // A key for another bucket or prefix may still list buckets: it sees only its own (tested below).
                    if (endpoint == Endpoint.Buckets && denial is Denial.OtherBucket or Denial.OtherPrefix)
                    {
                        continue;
                    }

                    data.Add(endpoint, denial);
                }
            }

            return data;
        }
    }

    public static TheoryData<Endpoint> AllEndpoints => [.. Enum.GetValues<Endpoint>()];

    public static TheoryData<Endpoint> ObjectEndpointData => [.. ObjectEndpoints];

    [Theory]
    [MemberData(nameof(DeniedMatrix))]
    public async Task Endpoint_DeniedCaller_AnswersProblemAndChangesNothing(Endpoint endpoint, Denial denial)
    {
        await using var m = await Matrix.StartAsync();
        var callers = await m.CallersAsync(endpoint, denial);
        var (status, code) = denial is Denial.NoKey or Denial.MalformedOrWrongKey or Denial.RevokedKey or Denial.ExpiredKey
            ? (HttpStatusCode.Unauthorized, "unauthorized")
            : (HttpStatusCode.Forbidden, "forbidden");
        Assert.NotEmpty(callers);

        foreach (var (label, authorization) in callers)
        {
            var before = await m.StateAsync();
            using var request = m.Build(endpoint, denial == Denial.OtherPrefix ? "other" : "allowed");
            if (authorization is not null)
            {
                Assert.True(request.Headers.TryAddWithoutValidation("Authorization", authorization));
            }

            using var response = await m.Anonymous.SendAsync(request, Ct);

            var because = $"{endpoint} with {label}";
            if (endpoint == Endpoint.HeadObject)
            {
                Assert.True(status == response.StatusCode, $"{because}: {(int)response.StatusCode}");
                await Problem.AssertHeadAsync(response, status);
            }
            else
            {
                var problem = await Problem.AssertAsync(response, status, code);
                Assert.DoesNotContain(m.Server.AdminKey, problem.GetRawText(), StringComparison.Ordinal);
            }

            if (status == HttpStatusCode.Unauthorized)
            {
                Assert.True(response.Headers.WwwAuthenticate.Count > 0, $"{because}: a 401 must carry WWW-Authenticate (RFC 9110 §11.6.1)");
                Assert.Equal("Bearer", response.Headers.WwwAuthenticate.First().Scheme);
            }

            m.AssertUnchanged(before, await m.StateAsync(), because);
        }
    }

    [Theory]
    [MemberData(nameof(AllEndpoints))]
    public async Task Endpoint_AdminKey_Succeeds(Endpoint endpoint)
    {
        await using var m = await Matrix.StartAsync();
        using var request = m.Build(endpoint, "allowed");

        using var response = await m.Server.Client.SendAsync(request, Ct);

        Assert.True(Success(endpoint) == response.StatusCode, $"{endpoint}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
    }

    [Theory]
    [MemberData(nameof(ObjectEndpointData))]
    public async Task Endpoint_PrefixKeyInsideItsPrefix_Succeeds(Endpoint endpoint)
    {
        await using var m = await Matrix.StartAsync();
        var key = await m.Server.CreateKeyAsync(["read", "write", "delete"], bucket: "default", prefix: "allowed/");
        using var client = m.Server.CreateClient(key.Token);
        using var request = m.Build(endpoint, "allowed");

        using var response = await client.SendAsync(request, Ct);

        Assert.True(Success(endpoint) == response.StatusCode, $"{endpoint}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
    }

    [Theory]
    [InlineData("move")]
    [InlineData("copy")]
    public async Task Transfer_PrefixKeyToDestinationOutsideItsPrefix_Answers403AndChangesNothing(string operation)
    {
        await using var m = await Matrix.StartAsync();
        var key = await m.Server.CreateKeyAsync(["read", "write", "delete"], bucket: "default", prefix: "allowed/");
        using var client = m.Server.CreateClient(key.Token);
        var before = await m.StateAsync();

        using var toOtherPrefix = await ObjectApiTests.TransferAsync(client, $"v1/default/allowed/x.txt?{operation}", new { to = "other/stolen.txt" });
        using var toOtherBucket = await ObjectApiTests.TransferAsync(client, $"v1/default/allowed/x.txt?{operation}", new { to = "allowed/y.txt", bucket = "second" });

        await Problem.AssertAsync(toOtherPrefix, HttpStatusCode.Forbidden, "forbidden");
        if (operation == "copy")
        {
            await Problem.AssertAsync(toOtherBucket, HttpStatusCode.Forbidden, "forbidden");
        }

        m.AssertUnchanged(before, await m.StateAsync(), operation);
    }

    [Fact]
    public async Task Buckets_KeyForOneBucket_ListsOnlyThatBucket()
    {
        await using var m = await Matrix.StartAsync();
        var key = await m.Server.CreateKeyAsync(["read"], bucket: "second");
        using var client = m.Server.CreateClient(key.Token);

        using var response = await client.GetAsync("v1/", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var list = await response.Content.ReadFromJsonAsync(DepotJson.Default.BucketListDto, Ct);
        Assert.Equal(["second"], list!.Buckets.Select(b => b.Name));
    }

    [Fact]
    public async Task PrefixKey_RecursiveListingAboveItsPrefix_ShowsNothingOutsideThePrefix()
    {
        await using var m = await Matrix.StartAsync();
        var key = await m.Server.CreateKeyAsync(["read"], prefix: "allowed/");
        using var client = m.Server.CreateClient(key.Token);

        using var response = await client.GetAsync("v1/default/?recursive=true", Ct);

        // Listing down to the prefix is allowed; names, sizes and checksums outside it are not the key's to see.
        if (response.StatusCode == HttpStatusCode.OK)
        {
            var page = await response.Content.ReadFromJsonAsync(DepotJson.Default.ListPageDto, Ct);
            var outside = page!.Entries.Select(e => e.Key).Where(k => k != "allowed" && !k.StartsWith("allowed/", StringComparison.Ordinal)).ToList();
            Assert.True(outside.Count == 0, $"a key limited to 'allowed/' saw: {string.Join(", ", outside)}");
        }
        else
        {
            await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "forbidden");
        }
    }

    [Fact]
    public async Task RevokedKey_UsedJustBefore_IsRefusedImmediately()
    {
        await using var m = await Matrix.StartAsync();
        var key = await m.Server.CreateKeyAsync(["read"]);
        using var client = m.Server.CreateClient(key.Token);
        using var before = await client.GetAsync("v1/default/allowed/x.txt", Ct);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode); // now cached by the server

        using var revoke = await m.Server.Client.DeleteAsync("v1/_keys/" + key.Id, Ct);
        using var after = await client.GetAsync("v1/default/allowed/x.txt", Ct);

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        await Problem.AssertAsync(after, HttpStatusCode.Unauthorized, "unauthorized");
        using var again = await m.Server.Client.DeleteAsync("v1/_keys/" + key.Id + "0", Ct);
        await Problem.AssertAsync(again, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task ExpiringKey_AfterItsExpiry_IsRefused()
    {
        // The server's clock, not the wall clock: a slow machine must not let the key expire before the first request.
        var clock = new TestClock();
        await using var m = await Matrix.StartAsync(clock: clock);
        var key = await m.Server.CreateKeyAsync(["read"], expires: clock.GetUtcNow().AddSeconds(60));
        using var client = m.Server.CreateClient(key.Token);
        using var before = await client.GetAsync("v1/default/allowed/x.txt", Ct);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);

        clock.Advance(TimeSpan.FromSeconds(61));
        using var after = await client.GetAsync("v1/default/allowed/x.txt", Ct);

        await Problem.AssertAsync(after, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task CreateKey_WithExpiryInThePast_Answers400()
    {
        await using var m = await Matrix.StartAsync();
        using var response = await m.Server.Client.PostAsJsonAsync("v1/_keys", new CreateKeyRequestDto { Scopes = ["read"], Expires = DateTimeOffset.UtcNow.AddMinutes(-1) }, DepotJson.Default.CreateKeyRequestDto, Ct);
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task ListKeys_NeverShowsTokensOrHashes()
    {
        await using var m = await Matrix.StartAsync();
        var key = await m.Server.CreateKeyAsync(["read"]);

        var text = await m.Server.Client.GetStringAsync("v1/_keys", Ct);

        Assert.Contains(key.Id, text, StringComparison.Ordinal);
        Assert.DoesNotContain(key.Token, text, StringComparison.Ordinal);
        Assert.DoesNotContain(m.Victim.Token, text, StringComparison.Ordinal);
        Assert.DoesNotContain("token", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Convert.ToHexStringLower(ApiKeyTokens.Hash(key.Token)), text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Convert.ToBase64String(ApiKeyTokens.Hash(key.Token)), text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnonymousRead_ReadsWithoutKeySucceed()
    {
        await using var m = await Matrix.StartAsync(anonymousRead: true);
        foreach (var endpoint in new[] { Endpoint.GetObject, Endpoint.HeadObject, Endpoint.List, Endpoint.Stat, Endpoint.Buckets })
        {
            using var request = m.Build(endpoint, "allowed");
            using var response = await m.Anonymous.SendAsync(request, Ct);
            Assert.True(Success(endpoint) == response.StatusCode, $"{endpoint}: {(int)response.StatusCode}");
        }

        Assert.Equal("allowed", await m.Anonymous.GetStringAsync("v1/default/allowed/x.txt", Ct));
    }

    [Theory]
    [InlineData(Endpoint.Put)]
    [InlineData(Endpoint.Mkdir)]
    [InlineData(Endpoint.Delete)]
    [InlineData(Endpoint.Move)]
    [InlineData(Endpoint.Copy)]
    [InlineData(Endpoint.CreateKey)]
    [InlineData(Endpoint.ListKeys)]
    [InlineData(Endpoint.RevokeKey)]
    public async Task AnonymousRead_ChangesWithoutKey_Answer401AndChangeNothing(Endpoint endpoint)
    {
        await using var m = await Matrix.StartAsync(anonymousRead: true);
        var before = await m.StateAsync();
        using var request = m.Build(endpoint, "allowed");

        using var response = await m.Anonymous.SendAsync(request, Ct);

        // Anonymous reading does not make a request without a key an authenticated one: it needs a key (401), it is
        // not a key that lacks a scope (403).
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.NotEmpty(response.Headers.WwwAuthenticate);
        m.AssertUnchanged(before, await m.StateAsync(), endpoint.ToString());
    }

    [Fact]
    public async Task AnonymousRead_WrongKey_IsStillRefused()
    {
        await using var m = await Matrix.StartAsync(anonymousRead: true);
        using var client = m.Server.CreateClient("dpk_0123456789abcdef_notarealsecret");

        using var response = await client.GetAsync("v1/default/allowed/x.txt", Ct);

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    private static HttpStatusCode Success(Endpoint endpoint) => endpoint switch
    {
        Endpoint.Put or Endpoint.Mkdir or Endpoint.Copy or Endpoint.CreateKey => HttpStatusCode.Created,
        Endpoint.Delete or Endpoint.RevokeKey => HttpStatusCode.NoContent,
        _ => HttpStatusCode.OK,
    };

    /// <summary>A server with two buckets, files inside and outside the prefix <c>allowed/</c>, and a key to revoke.</summary>
    private sealed class Matrix : IAsyncDisposable
    {
        private Matrix(DepotTestServer server, CreatedKey victim)
        {
            Server = server;
            Victim = victim;
            Anonymous = server.CreateClient(null);
        }

        public DepotTestServer Server { get; }

        /// <summary>A key that admin endpoints act on (revoke) and whose token is mangled for wrong-key cases.</summary>
        public CreatedKey Victim { get; }

        /// <summary>A client without Authorization; each request adds its own.</summary>
        public HttpClient Anonymous { get; }

        private string SecondDirectory => Path.Combine(Server.RootDirectory, "buckets", "second");

        public static async Task<Matrix> StartAsync(bool anonymousRead = false, TestClock? clock = null)
        {
            var server = await DepotTestServer.StartAsync(configure: (o, root) =>
            {
                if (clock is not null)
                {
                    o.Time = clock;
                }

                o.Buckets["second"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "second") };
                o.AnonymousRead = anonymousRead;
            });
            try
            {
                foreach (var url in new[] { "v1/default/allowed/x.txt", "v1/default/other/x.txt", "v1/second/allowed/x.txt" })
                {
                    using var put = await ObjectApiTests.PutAsync(server.Client, url, Encoding.UTF8.GetBytes(url.Split('/')[2]));
                    Assert.Equal(HttpStatusCode.Created, put.StatusCode);
                }

                return new Matrix(server, await server.CreateKeyAsync(["read"], name: "victim"));
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }

        public HttpRequestMessage Build(Endpoint endpoint, string area)
        {
            var obj = $"v1/default/{area}/x.txt";
            return endpoint switch
            {
                Endpoint.GetObject => new(HttpMethod.Get, obj),
                Endpoint.HeadObject => new(HttpMethod.Head, obj),
                Endpoint.List => new(HttpMethod.Get, $"v1/default/{area}/"),
                Endpoint.Stat => new(HttpMethod.Get, obj + "?stat"),
                Endpoint.Put => new(HttpMethod.Put, $"v1/default/{area}/new.txt") { Content = new ByteArrayContent("new"u8.ToArray()) },
                Endpoint.Mkdir => new(HttpMethod.Put, $"v1/default/{area}/newdir/") { Content = new ByteArrayContent([]) },
                Endpoint.Delete => new(HttpMethod.Delete, obj),
                Endpoint.Move => new(HttpMethod.Post, obj + "?move") { Content = Json(new { to = $"{area}/moved.txt" }) },
                Endpoint.Copy => new(HttpMethod.Post, obj + "?copy") { Content = Json(new { to = $"{area}/copied.txt" }) },
                Endpoint.Buckets => new(HttpMethod.Get, "v1/"),
                Endpoint.CreateKey => new(HttpMethod.Post, "v1/_keys") { Content = Json(new { name = "made", scopes = new[] { "read", "write", "delete", "admin" } }) },
                Endpoint.ListKeys => new(HttpMethod.Get, "v1/_keys"),
                Endpoint.RevokeKey => new(HttpMethod.Delete, "v1/_keys/" + Victim.Id),
                _ => throw new ArgumentOutOfRangeException(nameof(endpoint)),
            };
        }

        /// <summary>The Authorization values (null: none) of the callers that <paramref name="denial"/> describes.</summary>
        public async Task<List<(string Label, string? Authorization)>> CallersAsync(Endpoint endpoint, Denial denial)
        {
            var all = new[] { "read", "write", "delete", "admin" };
            var admin = Server.AdminKey;
            switch (denial)
            {
                case Denial.NoKey:
                    return [("no Authorization header", null)];
                case Denial.MalformedOrWrongKey:
                    var victim = Victim.Token;
                    return
                    [
                        ("Bearer without a token", "Bearer"),
                        ("Bearer and spaces", "Bearer    "),
                        ("Basic credentials", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + admin))),
                        ("the admin key without scheme", admin),
                        ("the admin key under another scheme", "Token " + admin),
                        ("the admin key minus its last char", "Bearer " + admin[..^1]),
                        ("the admin key plus a char", "Bearer " + admin + "x"),
                        ("the admin key with its case flipped", "Bearer " + FlipCase(admin)),
                        ("a word", "Bearer hunter2"),
                        ("an unknown well-formed key", "Bearer dpk_0123456789abcdef_" + new string('A', 43)),
                        ("a known id with a wrong secret", "Bearer " + victim[..^2] + (victim[^2..] == "AA" ? "BB" : "AA")),
                        ("a known id with no secret", "Bearer dpk_" + Victim.Id + "_"),
                        ("a key with a tab inside", "Bearer " + victim[..10] + "\t" + victim[10..]),
                    ];
                case Denial.RevokedKey:
                    var revoked = await Server.CreateKeyAsync(all, name: "revoked");
                    using (var revoke = await Server.Client.DeleteAsync("v1/_keys/" + revoked.Id, Ct))
                    {
                        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
                    }

                    return [("a revoked key with every scope", "Bearer " + revoked.Token)];
                case Denial.ExpiredKey:
                    var expired = await Server.AddKeyDirectlyAsync(Scopes.All, DateTimeOffset.UtcNow.AddMinutes(-1));
                    return [("an expired key with every scope", "Bearer " + expired.Token)];
                case Denial.WrongScope:
                    var callers = new List<(string, string?)>();
                    foreach (var missing in MissingScopeSets(endpoint))
                    {
                        var scopes = all.Where(s => s != "admin" && !missing.Contains(s)).ToArray();
                        var key = await Server.CreateKeyAsync(scopes, name: "without " + string.Join("+", missing));
                        callers.Add(($"a key with only [{string.Join(",", scopes)}]", "Bearer " + key.Token));
                    }

                    return callers;
                case Denial.OtherBucket:
                    var forSecond = await Server.CreateKeyAsync(AdminEndpoints.Contains(endpoint) ? all : ["read", "write", "delete"], bucket: "second");
                    return [("a key for bucket 'second'", "Bearer " + forSecond.Token)];
                case Denial.OtherPrefix:
                    var forPrefix = await Server.CreateKeyAsync(AdminEndpoints.Contains(endpoint) ? all : ["read", "write", "delete"], prefix: "allowed/");
                    return [("a key for prefix 'allowed/' used on 'other/'", "Bearer " + forPrefix.Token)];
                default:
                    throw new ArgumentOutOfRangeException(nameof(denial));
            }
        }

        private static string FlipCase(string text) =>
            new(text.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)).ToArray());

        /// <summary>For each scope an operation needs, the set to leave out of a key (admin always left out).</summary>
        private static string[][] MissingScopeSets(Endpoint endpoint) => endpoint switch
        {
            Endpoint.GetObject or Endpoint.HeadObject or Endpoint.List or Endpoint.Stat or Endpoint.Buckets => [["read"]],
            Endpoint.Put or Endpoint.Mkdir => [["write"]],
            Endpoint.Delete => [["delete"]],
            Endpoint.Move => [["delete"], ["write"]],
            Endpoint.Copy => [["read"], ["write"]],
            _ => [[]], // admin endpoints: read, write and delete are not enough
        };

        /// <summary>Both buckets' files (without the SQLite files that readers touch) and the key list as the admin sees it.</summary>
        public async Task<(DirectorySnapshot Data, DirectorySnapshot Second, string Keys)> StateAsync()
        {
            var keys = await Server.Client.GetStringAsync("v1/_keys", Ct);
            return (DirectorySnapshot.TakeData(Server.DataDirectory), DirectorySnapshot.TakeData(SecondDirectory), keys);
        }

        public void AssertUnchanged((DirectorySnapshot Data, DirectorySnapshot Second, string Keys) before, (DirectorySnapshot Data, DirectorySnapshot Second, string Keys) after, string because)
        {
            before.Data.AssertSame(after.Data, because + " (default bucket)");
            before.Second.AssertSame(after.Second, because + " (bucket second)");
            Assert.True(JsonEquals(before.Keys, after.Keys), $"{because}: the key list changed");
        }

        private static bool JsonEquals(string a, string b) =>
            JsonSerializer.Serialize(JsonDocument.Parse(a).RootElement) == JsonSerializer.Serialize(JsonDocument.Parse(b).RootElement);

        private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

        public async ValueTask DisposeAsync() => await Server.DisposeAsync();
    }
}
