using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Http;

/// <summary>The key-value "hive" (wrpme/quasardb semantics) over the native object routes, against a real Kestrel:
/// create-only put, get, update, delete, compare-and-swap, get-and-delete, races, expiry and its background reclaim,
/// value sizes, and the same auth and path rules as objects (docs/http-api.md §3.21).</summary>
public sealed class KeyValueApiTests
{
    private const string Kv = "v1/default/kv/";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // ---- put / get / update / delete ----

    [Fact]
    public async Task CreateOnlyPut_NewThenExisting_Answers201Then409AlreadyExistsAndKeepsTheValue()
    {
        await using var server = await DepotTestServer.StartAsync();
        var first = Encoding.UTF8.GetBytes("first value");

        using var created = await PutAsync(server.Client, Kv + "alpha", first, ("If-None-Match", "*"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(TestBytes.ETagOf(first), created.Headers.ETag?.ToString());

        using var again = await PutAsync(server.Client, Kv + "alpha", Encoding.UTF8.GetBytes("second value"), ("If-None-Match", "*"));
        await Problem.AssertAsync(again, HttpStatusCode.Conflict, "already_exists");

        using var get = await server.Client.GetAsync(Kv + "alpha", Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(first, await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(TestBytes.ETagOf(first), get.Headers.ETag?.ToString());
    }

    [Fact]
    public async Task Get_MissingKey_Answers404NotFound()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var get = await server.Client.GetAsync(Kv + "nobody", Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Update_PlainPut_Answers201WhenNewAnd200WhenReplacing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var v1 = TestBytes.Random(300, seed: 1);
        var v2 = TestBytes.Random(200, seed: 2);

        using var created = await PutAsync(server.Client, Kv + "counter", v1);
        using var replaced = await PutAsync(server.Client, Kv + "counter", v2);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal(TestBytes.ETagOf(v2), replaced.Headers.ETag?.ToString());
        Assert.Equal(v2, await server.Client.GetByteArrayAsync(Kv + "counter", Ct));
    }

    [Fact]
    public async Task Delete_ExistingThenAgain_Answers204Then404NotFound()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await PutAsync(server.Client, Kv + "gone", [1, 2, 3], ("If-None-Match", "*")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var deleted = await server.Client.DeleteAsync(Kv + "gone", Ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var again = await server.Client.DeleteAsync(Kv + "gone", Ct);
        await Problem.AssertAsync(again, HttpStatusCode.NotFound, "not_found");
        using var get = await server.Client.GetAsync(Kv + "gone", Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "kv", "gone")));
    }

    // ---- compare-and-swap ----

    [Fact]
    public async Task CompareAndSwap_CurrentETag_ReplacesAndReturnsTheNewETag()
    {
        await using var server = await DepotTestServer.StartAsync();
        var v1 = Encoding.UTF8.GetBytes("v1");
        var v2 = Encoding.UTF8.GetBytes("v2");
        using var created = await PutAsync(server.Client, Kv + "cas", v1, ("If-None-Match", "*"));
        var etag = created.Headers.ETag!.ToString();

        using var swapped = await PutAsync(server.Client, Kv + "cas", v2, ("If-Match", etag));

        Assert.Equal(HttpStatusCode.OK, swapped.StatusCode);
        Assert.Equal(TestBytes.ETagOf(v2), swapped.Headers.ETag?.ToString());
        var info = await swapped.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(TestBytes.ETagOf(v2), info!.ETag);
        Assert.Equal(v2, await server.Client.GetByteArrayAsync(Kv + "cas", Ct));
    }

    [Fact]
    public async Task CompareAndSwap_StaleETag_Answers412WithTheCurrentETagAndKeepsTheValue()
    {
        await using var server = await DepotTestServer.StartAsync();
        var v1 = Encoding.UTF8.GetBytes("v1");
        var v2 = Encoding.UTF8.GetBytes("v2");
        using var created = await PutAsync(server.Client, Kv + "cas", v1, ("If-None-Match", "*"));
        var stale = created.Headers.ETag!.ToString();
        using (var update = await PutAsync(server.Client, Kv + "cas", v2))
        {
            Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        }

        using var swap = await PutAsync(server.Client, Kv + "cas", Encoding.UTF8.GetBytes("v3"), ("If-Match", stale));

        var problem = await Problem.AssertAsync(swap, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal(TestBytes.ETagOf(v2), problem.GetProperty("etag").GetString());
        Assert.Equal(v2, await server.Client.GetByteArrayAsync(Kv + "cas", Ct));
    }

    [Theory]
    [InlineData("\"0000000000000000000000000000000000000000000000000000000000000000\"")]
    [InlineData("*")]
    public async Task CompareAndSwap_MissingKey_Answers412AndStoresNothing(string ifMatch)
    {
        await using var server = await DepotTestServer.StartAsync();

        using var swap = await PutAsync(server.Client, Kv + "absent", [1], ("If-Match", ifMatch));

        var problem = await Problem.AssertAsync(swap, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.False(problem.TryGetProperty("etag", out _));
        using var get = await server.Client.GetAsync(Kv + "absent", Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
    }

    // ---- get-and-delete ----

    [Fact]
    public async Task Take_ExistingKey_Answers200WithExactlyTheBytesAndHeadersThenTheKeyIsGone()
    {
        await using var server = await DepotTestServer.StartAsync();
        var value = TestBytes.Random(4096, seed: 3);
        using (var put = await PutAsync(server.Client, Kv + "job/1", value, ("If-None-Match", "*"), ("Content-Type", "application/x-job")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var take = await server.Client.DeleteAsync(Kv + "job/1?take", Ct);

        Assert.Equal(HttpStatusCode.OK, take.StatusCode);
        Assert.Equal(value, await take.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(TestBytes.ETagOf(value), take.Headers.ETag?.ToString());
        Assert.Equal(TestBytes.Sha256Hex(value), ObjectApiTests.Header(take, DepotHeaders.Sha256));
        Assert.Equal(value.Length, take.Content.Headers.ContentLength);
        Assert.Equal("application/x-job", take.Content.Headers.ContentType?.MediaType);
        Assert.Null(ObjectApiTests.Header(take, DepotHeaders.Expires));

        using var get = await server.Client.GetAsync(Kv + "job/1", Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "kv", "job", "1")));
    }

    [Fact]
    public async Task Take_MissingKey_Answers404NotFound()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var take = await server.Client.DeleteAsync(Kv + "nothing?take", Ct);
        await Problem.AssertAsync(take, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Take_Directory_Answers409ConflictAndKeepsIt()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await PutAsync(server.Client, Kv + "dir/inner", [7]))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var take = await server.Client.DeleteAsync(Kv + "dir?take", Ct);

        await Problem.AssertAsync(take, HttpStatusCode.Conflict, "conflict");
        Assert.Equal([7], await server.Client.GetByteArrayAsync(Kv + "dir/inner", Ct));
    }

    [Theory]
    [InlineData("delete")]
    [InlineData("read")]
    [InlineData("read,write")]
    [InlineData("write,delete")]
    public async Task Take_KeyWithoutBothReadAndDelete_Answers403AndKeepsTheValue(string scopes)
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await PutAsync(server.Client, Kv + "guarded", [1, 2, 3]))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var key = await server.CreateKeyAsync(scopes.Split(','));
        using var client = server.CreateClient(key.Token);
        using var take = await client.DeleteAsync(Kv + "guarded?take", Ct);

        await Problem.AssertAsync(take, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal([1, 2, 3], await server.Client.GetByteArrayAsync(Kv + "guarded", Ct));
    }

    [Fact]
    public async Task Take_KeyWithReadAndDelete_Answers200()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await PutAsync(server.Client, Kv + "guarded", [1, 2, 3]))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var key = await server.CreateKeyAsync(["read", "delete"]);
        using var client = server.CreateClient(key.Token);
        using var take = await client.DeleteAsync(Kv + "guarded?take", Ct);

        Assert.Equal(HttpStatusCode.OK, take.StatusCode);
        Assert.Equal([1, 2, 3], await take.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task Take_IfMatch_StaleAnswers412WithCurrentETagAndMatchingTakes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var v1 = Encoding.UTF8.GetBytes("one");
        var v2 = Encoding.UTF8.GetBytes("two");
        using var created = await PutAsync(server.Client, Kv + "cond", v1);
        var stale = created.Headers.ETag!.ToString();
        using var updated = await PutAsync(server.Client, Kv + "cond", v2);
        var current = updated.Headers.ETag!.ToString();

        using var refused = await SendAsync(server.Client, HttpMethod.Delete, Kv + "cond?take", null, ("If-Match", stale));
        var problem = await Problem.AssertAsync(refused, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal(current, problem.GetProperty("etag").GetString());
        Assert.Equal(v2, await server.Client.GetByteArrayAsync(Kv + "cond", Ct));

        using var taken = await SendAsync(server.Client, HttpMethod.Delete, Kv + "cond?take", null, ("If-Match", current));
        Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
        Assert.Equal(v2, await taken.Content.ReadAsByteArrayAsync(Ct));
        using var get = await server.Client.GetAsync(Kv + "cond", Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
    }

    // ---- races ----

    [Fact]
    public async Task CreateOnlyPut_32InParallel_ExactlyOneWinsAndItsValueIsStored()
    {
        await using var server = await DepotTestServer.StartAsync();
        var values = Enumerable.Range(0, 32).Select(i => TestBytes.Random(2048, seed: 100 + i)).ToArray();

        var results = await Task.WhenAll(values.Select(async v =>
        {
            using var response = await PutAsync(server.Client, Kv + "leader", v, ("If-None-Match", "*"));
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync(Ct), Value: v);
        }));

        var winners = results.Where(r => r.StatusCode == HttpStatusCode.Created).ToList();
        Assert.Single(winners);
        Assert.All(results.Where(r => r.StatusCode != HttpStatusCode.Created), r =>
        {
            Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
            Assert.Contains("\"already_exists\"", r.Body, StringComparison.Ordinal);
        });
        Assert.Equal(winners[0].Value, await server.Client.GetByteArrayAsync(Kv + "leader", Ct));
    }

    [Fact]
    public async Task CompareAndSwap_32InParallelFromTheSameETag_ExactlyOneSucceeds()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var created = await PutAsync(server.Client, Kv + "balance", Encoding.UTF8.GetBytes("100"));
        var start = created.Headers.ETag!.ToString();
        var values = Enumerable.Range(0, 32).Select(i => Encoding.UTF8.GetBytes($"balance-{i}")).ToArray();

        var results = await Task.WhenAll(values.Select(async v =>
        {
            using var response = await PutAsync(server.Client, Kv + "balance", v, ("If-Match", start));
            return (response.StatusCode, ETag: response.Headers.ETag?.ToString(), Body: await response.Content.ReadAsStringAsync(Ct), Value: v);
        }));

        var winners = results.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
        Assert.Single(winners);
        Assert.All(results.Where(r => r.StatusCode != HttpStatusCode.OK), r =>
        {
            Assert.Equal(HttpStatusCode.PreconditionFailed, r.StatusCode);
            Assert.Contains("\"precondition_failed\"", r.Body, StringComparison.Ordinal);
        });
        using var get = await server.Client.GetAsync(Kv + "balance", Ct);
        Assert.Equal(winners[0].Value, await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(winners[0].ETag, get.Headers.ETag?.ToString());
    }

    [Fact]
    public async Task Take_20InParallel_ExactlyOneGetsTheBytes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var value = TestBytes.Random(64 << 10, seed: 5);
        using (var put = await PutAsync(server.Client, Kv + "ticket", value))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var response = await server.Client.DeleteAsync(Kv + "ticket?take", Ct);
            return (response.StatusCode, Body: await response.Content.ReadAsByteArrayAsync(Ct));
        }));

        var winners = results.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
        Assert.Single(winners);
        Assert.Equal(value, winners[0].Body);
        Assert.All(results.Where(r => r.StatusCode != HttpStatusCode.OK), r => Assert.Equal(HttpStatusCode.NotFound, r.StatusCode));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "kv", "ticket")));
    }

    // ---- expiry ----

    [Fact]
    public async Task Ttl_PutGetHeadStat_AllCarryTheExpiry()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Time = clock);
        var before = clock.GetUtcNow();

        using var put = await PutAsync(server.Client, Kv + "session", [1, 2, 3], ("If-None-Match", "*"), (DepotHeaders.Ttl, "60"));
        var after = clock.GetUtcNow();

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var info = await put.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.NotNull(info!.Expires);
        Assert.InRange(info.Expires.Value, before.AddSeconds(60), after.AddSeconds(60));
        var expectedHeader = info.Expires.Value.ToString("R", CultureInfo.InvariantCulture);
        Assert.Equal(expectedHeader, ObjectApiTests.Header(put, DepotHeaders.Expires));

        using var get = await server.Client.GetAsync(Kv + "session", Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(expectedHeader, ObjectApiTests.Header(get, DepotHeaders.Expires));

        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, Kv + "session"), Ct);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(expectedHeader, ObjectApiTests.Header(head, DepotHeaders.Expires));

        using var stat = await server.Client.GetAsync(Kv + "session?stat", Ct);
        Assert.Equal(HttpStatusCode.OK, stat.StatusCode);
        var statInfo = await stat.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(info.Expires, statInfo!.Expires);
    }

    [Fact]
    public async Task Ttl_Passed_KeyIsInvisibleEverywhereAndCreateOnlyPutSucceedsWithoutExpiry()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Time = clock);
        using (var put = await PutAsync(server.Client, Kv + "lease/a", [1, 2, 3], ("If-None-Match", "*"), (DepotHeaders.Ttl, "60")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using (var neighbour = await PutAsync(server.Client, Kv + "lease/b", [4, 5]))
        {
            Assert.Equal(HttpStatusCode.Created, neighbour.StatusCode);
        }

        clock.Advance(TimeSpan.FromSeconds(61));

        using (var get = await server.Client.GetAsync(Kv + "lease/a", Ct))
        {
            await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
        }

        using (var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, Kv + "lease/a"), Ct))
        {
            await Problem.AssertHeadAsync(head, HttpStatusCode.NotFound);
        }

        using (var stat = await server.Client.GetAsync(Kv + "lease/a?stat", Ct))
        {
            await Problem.AssertAsync(stat, HttpStatusCode.NotFound, "not_found");
        }

        using (var list = await server.Client.GetAsync(Kv + "lease/", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            var page = await list.Content.ReadFromJsonAsync(DepotJson.Default.ListPageDto, Ct);
            Assert.Equal(["b"], page!.Entries.Select(e => e.Name));
        }

        using (var take = await server.Client.DeleteAsync(Kv + "lease/a?take", Ct))
        {
            await Problem.AssertAsync(take, HttpStatusCode.NotFound, "not_found");
        }

        using (var cas = await PutAsync(server.Client, Kv + "lease/a", [9], ("If-Match", TestBytes.ETagOf([1, 2, 3]))))
        {
            var problem = await Problem.AssertAsync(cas, HttpStatusCode.PreconditionFailed, "precondition_failed");
            Assert.False(problem.TryGetProperty("etag", out _)); // the expired value's ETag is not revealed
        }

        using (var delete = await server.Client.DeleteAsync(Kv + "lease/a", Ct))
        {
            await Problem.AssertAsync(delete, HttpStatusCode.NotFound, "not_found");
        }

        using var created = await PutAsync(server.Client, Kv + "lease/a", [7, 7], ("If-None-Match", "*"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Null(ObjectApiTests.Header(created, DepotHeaders.Expires));
        var info = await created.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Null(info!.Expires);

        clock.Advance(TimeSpan.FromDays(30));
        using var later = await server.Client.GetAsync(Kv + "lease/a", Ct);
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
        Assert.Equal([7, 7], await later.Content.ReadAsByteArrayAsync(Ct));
        Assert.Null(ObjectApiTests.Header(later, DepotHeaders.Expires));
        Assert.Equal([4, 5], await server.Client.GetByteArrayAsync(Kv + "lease/b", Ct));
    }

    [Fact]
    public async Task Ttl_PassedWithoutDeleting_CreateOnlyPutOverTheStaleFileSucceeds()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Time = clock);
        using (var put = await PutAsync(server.Client, Kv + "lock", [1], ("If-None-Match", "*"), (DepotHeaders.Ttl, "60")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        clock.Advance(TimeSpan.FromSeconds(59));
        using (var held = await PutAsync(server.Client, Kv + "lock", [2], ("If-None-Match", "*")))
        {
            await Problem.AssertAsync(held, HttpStatusCode.Conflict, "already_exists");
        }

        clock.Advance(TimeSpan.FromSeconds(2));
        using var taken = await PutAsync(server.Client, Kv + "lock", [3], ("If-None-Match", "*"), (DepotHeaders.Ttl, "60"));

        Assert.Equal(HttpStatusCode.Created, taken.StatusCode);
        Assert.Equal([3], await server.Client.GetByteArrayAsync(Kv + "lock", Ct));
    }

    [Fact]
    public async Task Ttl_PassedThenPlainPut_Answers201AsNew()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Time = clock);
        using (var put = await PutAsync(server.Client, Kv + "cache", [1], (DepotHeaders.Ttl, "60")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        clock.Advance(TimeSpan.FromSeconds(61));
        using var again = await PutAsync(server.Client, Kv + "cache", [2]);

        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
    }

    [Theory]
    [InlineData("Z")]
    [InlineData("+02:00")]
    [InlineData("-05:30")]
    public async Task Expires_Rfc3339Time_IsStoredAsThatInstant(string offset)
    {
        await using var server = await DepotTestServer.StartAsync();
        var at = new DateTimeOffset(DateTimeOffset.UtcNow.AddHours(3).Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var text = offset == "Z"
            ? at.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : at.ToOffset(TimeSpan.Parse(offset.TrimStart('+'), CultureInfo.InvariantCulture)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

        using var put = await PutAsync(server.Client, Kv + "dated", [1], (DepotHeaders.Expires, text));

        Assert.True(put.StatusCode == HttpStatusCode.Created, $"{text}: {await put.Content.ReadAsStringAsync(Ct)}");
        var info = await put.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(at, info!.Expires);
        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, Kv + "dated"), Ct);
        Assert.Equal(at.ToString("R", CultureInfo.InvariantCulture), ObjectApiTests.Header(head, DepotHeaders.Expires));
    }

    [Fact]
    public async Task Expires_HttpDate_IsStoredAsThatInstant()
    {
        await using var server = await DepotTestServer.StartAsync();
        var at = new DateTimeOffset(DateTimeOffset.UtcNow.AddDays(2).Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);

        using var put = await PutAsync(server.Client, Kv + "dated", [1], (DepotHeaders.Expires, at.ToString("R", CultureInfo.InvariantCulture)));

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var info = await put.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(at, info!.Expires);
    }

    [Theory]
    [InlineData("rfc3339")]
    [InlineData("http-date")]
    public async Task Expires_InThePast_Answers400AndStoresNothing(string format)
    {
        await using var server = await DepotTestServer.StartAsync();
        var past = DateTimeOffset.UtcNow.AddMinutes(-5);
        var text = format == "rfc3339"
            ? past.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : past.ToString("R", CultureInfo.InvariantCulture);

        using var put = await PutAsync(server.Client, Kv + "late", [1], (DepotHeaders.Expires, text));

        await Problem.AssertAsync(put, HttpStatusCode.BadRequest, "invalid_request");
        await AssertAbsentAsync(server, "kv/late");
    }

    [Fact]
    public async Task Expiry_BothHeaders_Answers400AndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var at = DateTimeOffset.UtcNow.AddHours(1).ToString("R", CultureInfo.InvariantCulture);

        using var put = await PutAsync(server.Client, Kv + "both", [1], (DepotHeaders.Ttl, "60"), (DepotHeaders.Expires, at));

        await Problem.AssertAsync(put, HttpStatusCode.BadRequest, "invalid_request");
        await AssertAbsentAsync(server, "kv/both");
    }

    [Theory]
    [InlineData(DepotHeaders.Ttl, "0")]
    [InlineData(DepotHeaders.Ttl, "-1")]
    [InlineData(DepotHeaders.Ttl, "+60")]
    [InlineData(DepotHeaders.Ttl, "abc")]
    [InlineData(DepotHeaders.Ttl, "1.5")]
    [InlineData(DepotHeaders.Ttl, "1e3")]
    [InlineData(DepotHeaders.Ttl, "316224001")] // ten years of 366 days, plus one second
    [InlineData(DepotHeaders.Ttl, "99999999999999999999")]
    [InlineData(DepotHeaders.Expires, "abc")]
    [InlineData(DepotHeaders.Expires, "")]
    public async Task Expiry_MalformedHeader_Answers400AndStoresNothing(string header, string value)
    {
        await using var server = await DepotTestServer.StartAsync();

        using var put = await PutAsync(server.Client, Kv + "bad", [1], (header, value));

        await Problem.AssertAsync(put, HttpStatusCode.BadRequest, "invalid_request");
        await AssertAbsentAsync(server, "kv/bad");
    }

    [Fact]
    public async Task Ttl_LongestAllowed_IsAccepted()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, Kv + "long", [1], (DepotHeaders.Ttl, "316224000"));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }

    [Fact]
    public async Task Update_WithoutTtl_ClearsTheExpiry()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Time = clock);
        using (var put = await PutAsync(server.Client, Kv + "sticky", [1], (DepotHeaders.Ttl, "60")))
        {
            Assert.NotNull(ObjectApiTests.Header(put, DepotHeaders.Expires));
        }

        using var update = await PutAsync(server.Client, Kv + "sticky", [2]);

        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        Assert.Null(ObjectApiTests.Header(update, DepotHeaders.Expires));
        Assert.Null((await update.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct))!.Expires);
        clock.Advance(TimeSpan.FromSeconds(61));
        using var get = await server.Client.GetAsync(Kv + "sticky", Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal([2], await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Null(ObjectApiTests.Header(get, DepotHeaders.Expires));
    }

    [Fact]
    public async Task CompareAndSwap_WithTtl_SetsTheNewExpiry()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Time = clock);
        using var created = await PutAsync(server.Client, Kv + "renew", [1], (DepotHeaders.Ttl, "60"));

        clock.Advance(TimeSpan.FromSeconds(50));
        using var renewed = await PutAsync(server.Client, Kv + "renew", [2], ("If-Match", created.Headers.ETag!.ToString()), (DepotHeaders.Ttl, "60"));
        Assert.Equal(HttpStatusCode.OK, renewed.StatusCode);

        clock.Advance(TimeSpan.FromSeconds(50)); // 100 s after the first put, 50 s after the renewal
        Assert.Equal([2], await server.Client.GetByteArrayAsync(Kv + "renew", Ct));
        clock.Advance(TimeSpan.FromSeconds(11));
        using var get = await server.Client.GetAsync(Kv + "renew", Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task ExpirySweeper_ReclaimsTheExpiredFileFromDiskAndKeepsItsNeighbours()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Time = clock;
            o.ExpirySweepInterval = TimeSpan.FromMilliseconds(100);
        });
        foreach (var (key, ttl) in new[] { ("short", "60"), ("long", "3600"), ("forever", (string?)null) })
        {
            using var put = ttl is null
                ? await PutAsync(server.Client, Kv + "swept/" + key, [1, 2, 3])
                : await PutAsync(server.Client, Kv + "swept/" + key, [1, 2, 3], (DepotHeaders.Ttl, ttl));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var shortPath = Path.Combine(server.DataDirectory, "kv", "swept", "short");
        Assert.True(File.Exists(shortPath));
        clock.Advance(TimeSpan.FromSeconds(61));

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (File.Exists(shortPath) && DateTime.UtcNow < until)
        {
            await Task.Delay(50, Ct);
        }

        Assert.False(File.Exists(shortPath), "the sweeper did not reclaim the expired file within 10 s");
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "kv", "swept", "long")));
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "kv", "swept", "forever")));
        Assert.Equal([1, 2, 3], await server.Client.GetByteArrayAsync(Kv + "swept/long", Ct));
        Assert.Equal([1, 2, 3], await server.Client.GetByteArrayAsync(Kv + "swept/forever", Ct));
        Assert.True(await server.WaitForLogsAsync(logs => logs.Any(l => l.EventId.Id == 20)), "no 'Reclaimed' log line");
        Assert.DoesNotContain(server.Logs, l => l.Level >= Microsoft.Extensions.Logging.LogLevel.Warning && l.Category.Contains("PeriodicSweeper", StringComparison.Ordinal));

        // Reclaiming is invisible to clients: the key was already gone and can be created again.
        using var created = await PutAsync(server.Client, Kv + "swept/short", [4], ("If-None-Match", "*"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    [Fact]
    public async Task Move_ExpiredSourceOverALiveKey_Answers404AndKeepsTheLiveValue()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Time = clock);
        using (var expiring = await PutAsync(server.Client, Kv + "m/old", [1], (DepotHeaders.Ttl, "60")))
        {
            Assert.Equal(HttpStatusCode.Created, expiring.StatusCode);
        }

        using (var live = await PutAsync(server.Client, Kv + "m/live", [2]))
        {
            Assert.Equal(HttpStatusCode.Created, live.StatusCode);
        }

        clock.Advance(TimeSpan.FromSeconds(61));
        using var move = await ObjectApiTests.TransferAsync(server.Client, Kv + "m/old?move", new { to = "kv/m/live", overwrite = true });

        await Problem.AssertAsync(move, HttpStatusCode.NotFound, "not_found");
        Assert.Equal([2], await server.Client.GetByteArrayAsync(Kv + "m/live", Ct));
    }

    [Fact]
    public async Task Move_OntoAnExpiredKey_TakesItsPlaceWithoutOverwrite()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.Time = clock);
        using (var expiring = await PutAsync(server.Client, Kv + "m/dead", [1], (DepotHeaders.Ttl, "60")))
        {
            Assert.Equal(HttpStatusCode.Created, expiring.StatusCode);
        }

        using (var live = await PutAsync(server.Client, Kv + "m/new", [2]))
        {
            Assert.Equal(HttpStatusCode.Created, live.StatusCode);
        }

        clock.Advance(TimeSpan.FromSeconds(61));
        using var move = await ObjectApiTests.TransferAsync(server.Client, Kv + "m/new?move", new { to = "kv/m/dead" });

        Assert.True(move.StatusCode == HttpStatusCode.OK, await move.Content.ReadAsStringAsync(Ct));
        using var get = await server.Client.GetAsync(Kv + "m/dead", Ct);
        Assert.Equal([2], await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Null(ObjectApiTests.Header(get, DepotHeaders.Expires));
        using var gone = await server.Client.GetAsync(Kv + "m/new", Ct);
        await Problem.AssertAsync(gone, HttpStatusCode.NotFound, "not_found");
    }

    // ---- value sizes ----

    [Fact]
    public async Task Value_20MiB_RoundtripsStreamedAndTakeHandsOverEveryByte()
    {
        await using var server = await DepotTestServer.StartAsync();
        var value = TestBytes.Random(20 << 20, seed: 20);
        var sha = TestBytes.Sha256Hex(value);

        using (var put = await PutAsync(server.Client, Kv + "blob", value, ("If-None-Match", "*")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            Assert.Equal(sha, ObjectApiTests.Header(put, DepotHeaders.Sha256));
        }

        using (var get = await server.Client.GetAsync(Kv + "blob", HttpCompletionOption.ResponseHeadersRead, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(value.Length, get.Content.Headers.ContentLength);
            await using var body = await get.Content.ReadAsStreamAsync(Ct);
            Assert.Equal(sha, Convert.ToHexStringLower(await SHA256.HashDataAsync(body, Ct)));
        }

        using (var take = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, Kv + "blob?take"), HttpCompletionOption.ResponseHeadersRead, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, take.StatusCode);
            Assert.Equal(value.Length, take.Content.Headers.ContentLength);
            Assert.Equal(sha, ObjectApiTests.Header(take, DepotHeaders.Sha256));
            await using var body = await take.Content.ReadAsStreamAsync(Ct);
            Assert.Equal(sha, Convert.ToHexStringLower(await SHA256.HashDataAsync(body, Ct)));
        }

        await AssertAbsentAsync(server, "kv/blob");
    }

    [Fact]
    public async Task Value_Empty_PutGetTakeWork()
    {
        await using var server = await DepotTestServer.StartAsync();
        var emptyETag = TestBytes.ETagOf([]);

        using (var put = await PutAsync(server.Client, Kv + "empty", [], ("If-None-Match", "*")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            Assert.Equal(emptyETag, put.Headers.ETag?.ToString());
        }

        using (var get = await server.Client.GetAsync(Kv + "empty", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(0, get.Content.Headers.ContentLength);
            Assert.Empty(await get.Content.ReadAsByteArrayAsync(Ct));
        }

        using (var again = await PutAsync(server.Client, Kv + "empty", [], ("If-None-Match", "*")))
        {
            await Problem.AssertAsync(again, HttpStatusCode.Conflict, "already_exists");
        }

        using (var take = await server.Client.DeleteAsync(Kv + "empty?take", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, take.StatusCode);
            Assert.Equal(emptyETag, take.Headers.ETag?.ToString());
            Assert.Empty(await take.Content.ReadAsByteArrayAsync(Ct));
        }

        await AssertAbsentAsync(server, "kv/empty");
    }

    [Fact]
    public async Task Value_1KiBUnderNestedKeys_RoundtripsAndListsByDirectory()
    {
        await using var server = await DepotTestServer.StartAsync();
        var keys = new[] { "kv/users/42", "kv/users/43", "kv/users/44/profile", "kv/groups/7" };
        var values = keys.Select((k, i) => (k, i)).ToDictionary(p => p.k, p => TestBytes.Random(1024, seed: 40 + p.i));

        foreach (var (key, value) in values)
        {
            using var put = await PutAsync(server.Client, "v1/default/" + key, value, ("If-None-Match", "*"));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        foreach (var (key, value) in values)
        {
            Assert.Equal(value, await server.Client.GetByteArrayAsync("v1/default/" + key, Ct));
        }

        using var list = await server.Client.GetAsync(Kv + "users/", Ct);
        var page = await list.Content.ReadFromJsonAsync(DepotJson.Default.ListPageDto, Ct);
        Assert.Equal(new[] { ("42", "file"), ("43", "file"), ("44", "directory") }, page!.Entries.Select(e => (e.Name, e.Type)).OrderBy(e => e.Name, StringComparer.Ordinal));

        using var take = await server.Client.DeleteAsync(Kv + "users/44/profile?take", Ct);
        Assert.Equal(values["kv/users/44/profile"], await take.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(values["kv/users/42"], await server.Client.GetByteArrayAsync(Kv + "users/42", Ct));
    }

    // ---- auth and paths ----

    [Theory]
    [InlineData("GET", "")]
    [InlineData("PUT", "")]
    [InlineData("DELETE", "")]
    [InlineData("DELETE", "?take")]
    public async Task NoKey_Answers401AndChangesNothing(string method, string query)
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await PutAsync(server.Client, Kv + "secret", [1, 2, 3]))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var anonymous = server.CreateClient(null);
        using var response = await SendAsync(anonymous, new HttpMethod(method), Kv + "secret" + query, method == "PUT" ? [9] : null);

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal([1, 2, 3], await server.Client.GetByteArrayAsync(Kv + "secret", Ct));
    }

    [Theory]
    [InlineData("PUT", "", null)]
    [InlineData("PUT", "", "*")]
    [InlineData("DELETE", "", null)]
    [InlineData("DELETE", "?take", null)]
    public async Task ReadOnlyKey_CannotChange_Answers403AndChangesNothing(string method, string query, string? ifNoneMatch)
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await PutAsync(server.Client, Kv + "config", [1, 2, 3]))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var key = await server.CreateKeyAsync(["read"]);
        using var reader = server.CreateClient(key.Token);
        var target = ifNoneMatch is null ? Kv + "config" + query : Kv + "fresh";
        using var response = ifNoneMatch is null
            ? await SendAsync(reader, new HttpMethod(method), target, method == "PUT" ? [9] : null)
            : await SendAsync(reader, new HttpMethod(method), target, [9], ("If-None-Match", ifNoneMatch));

        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal([1, 2, 3], await reader.GetByteArrayAsync(Kv + "config", Ct));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "kv", "fresh")));
    }

    [Fact]
    public async Task KeyLimitedToAPrefix_CannotTouchKeysOutsideIt()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await PutAsync(server.Client, Kv + "other/x", [1]))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var key = await server.CreateKeyAsync(["read", "write", "delete"], prefix: "kv/mine/");
        using var client = server.CreateClient(key.Token);

        using (var own = await PutAsync(client, Kv + "mine/x", [2], ("If-None-Match", "*")))
        {
            Assert.Equal(HttpStatusCode.Created, own.StatusCode);
        }

        using var foreignTake = await client.DeleteAsync(Kv + "other/x?take", Ct);
        await Problem.AssertAsync(foreignTake, HttpStatusCode.Forbidden, "forbidden");
        using var foreignPut = await PutAsync(client, Kv + "other/y", [3], ("If-None-Match", "*"));
        await Problem.AssertAsync(foreignPut, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal([1], await server.Client.GetByteArrayAsync(Kv + "other/x", Ct));
    }

    [Theory]
    [InlineData("PUT", "/v1/default/kv/%2e%2e/escape")]
    [InlineData("PUT", "/v1/default/kv/../escape")]
    [InlineData("PUT", "/v1/default/kv/users/..")]
    [InlineData("GET", "/v1/default/kv/%2E%2E/%2E%2E/escape")]
    [InlineData("DELETE", "/v1/default/kv/%2e%2e/escape?take")]
    public async Task KeyWithDotDot_Answers400InvalidPath(string method, string target)
    {
        await using var server = await DepotTestServer.StartAsync();
        var headers = new List<(string, string)> { ("Authorization", "Bearer " + server.AdminKey) };
        if (method == "PUT")
        {
            headers.Add(("If-None-Match", "*"));
        }

        var response = await RawHttp.SendAsync(server.Port, method, target, headers, method == "PUT" ? "escaped"u8.ToArray() : null);

        Assert.True(response.Status == 400, $"{method} {target} -> {response.StatusLine} {response.BodyText}");
        Assert.True(response.IsProblem, response.BodyText);
        Assert.Contains("\"code\":\"invalid_path\"", response.BodyText.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(server.RootDirectory, "escape", SearchOption.AllDirectories));
    }

    // ---- helpers ----

    private static async Task<HttpResponseMessage> PutAsync(HttpClient client, string url, byte[] value, params (string Name, string Value)[] headers) =>
        await SendAsync(client, HttpMethod.Put, url, value, headers);

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string url, byte[]? body, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
        }

        foreach (var (name, value) in headers)
        {
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                request.Content!.Headers.ContentType = MediaTypeHeaderValue.Parse(value);
            }
            else
            {
                Assert.True(request.Headers.TryAddWithoutValidation(name, value), name);
            }
        }

        return await client.SendAsync(request, Ct);
    }

    private static async Task AssertAbsentAsync(DepotTestServer server, string key)
    {
        using var get = await server.Client.GetAsync("v1/default/" + key, Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, key)));
        Assert.Empty(ObjectApiTests.StagedFiles(server));
    }
}
