using System.Security.Cryptography;
using System.Text;
using Depot.Client.Tests.Files;
using Depot.Client.Tests.Infrastructure;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Client.Tests.KeyValue;

public sealed class KeyValueTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public async Task Put_NewKey_StoresValueAndGetReturnsItWithItsETag()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        var put = await kv.PutAsync("users/42", Utf8("alice"), new KeyValueWriteOptions { ContentType = "text/plain" }, Ct);
        var got = await kv.GetAsync("users/42", Ct);

        Assert.Equal("users/42", got.Key);
        Assert.Equal("alice", Encoding.UTF8.GetString(got.Value));
        Assert.Equal(put.ETag, got.ETag);
        Assert.Equal(DepotKeyValue.ETagOf(Utf8("alice")), got.ETag);
        Assert.Equal(5, put.Size);
        Assert.Equal("text/plain", got.ContentType);
        Assert.Null(got.Expires);
        Assert.True(File.Exists(Path.Combine(context.Server.DataDirectory, "users", "42")));
    }

    [Fact]
    public async Task Put_ExistingKey_ThrowsAlreadyExistsAndKeepsValue()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("k", Utf8("first"), cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<AlreadyExistsException>(() => kv.PutAsync("k", Utf8("second"), cancellationToken: Ct));

        Assert.Equal("already_exists", e.Code);
        Assert.False(e.IsTransient);
        Assert.Equal("first", Encoding.UTF8.GetString((await kv.GetAsync("k", Ct)).Value));
    }

    [Fact]
    public async Task Put_DirectoryAtKey_ThrowsAlreadyExists()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("dir/child", Utf8("x"), cancellationToken: Ct);

        await Assert.ThrowsAsync<AlreadyExistsException>(() => kv.PutAsync("dir", Utf8("y"), cancellationToken: Ct));
    }

    [Fact]
    public async Task Put_ZeroByteValue_RoundTrips()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        var put = await kv.PutAsync("empty", ReadOnlyMemory<byte>.Empty, cancellationToken: Ct);
        var got = await kv.GetAsync("empty", Ct);

        Assert.Empty(got.Value);
        Assert.Equal(DepotKeyValue.ETagOf([]), put.ETag);
        Assert.Equal(put.ETag, got.ETag);
    }

    [Fact]
    public async Task Get_MissingKey_ThrowsNotFoundAndTryGetReturnsNull()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        var e = await Assert.ThrowsAsync<NotFoundException>(() => kv.GetAsync("nope", Ct));

        Assert.Equal("not_found", e.Code);
        Assert.False(e.IsTransient);
        Assert.Null(await kv.TryGetAsync("nope", Ct));
    }

    [Fact]
    public async Task Get_DirectoryAtKey_ThrowsConflict()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("a/b", Utf8("x"), cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<ConflictException>(() => kv.GetAsync("a", Ct));

        Assert.Equal("conflict", e.Code);
    }

    [Fact]
    public async Task Update_ExistingKey_ReplacesValueAndReturnsNewETag()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var first = await kv.PutAsync("k", Utf8("v1"), cancellationToken: Ct);

        var second = await kv.UpdateAsync("k", Utf8("v2"), cancellationToken: Ct);

        Assert.NotEqual(first.ETag, second.ETag);
        Assert.Equal(DepotKeyValue.ETagOf(Utf8("v2")), second.ETag);
        var got = await kv.GetAsync("k", Ct);
        Assert.Equal("v2", Encoding.UTF8.GetString(got.Value));
        Assert.Equal(second.ETag, got.ETag);
    }

    [Fact]
    public async Task Update_MissingKey_CreatesIt()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        await kv.UpdateAsync("fresh", Utf8("v"), cancellationToken: Ct);

        Assert.Equal("v", Encoding.UTF8.GetString((await kv.GetAsync("fresh", Ct)).Value));
    }

    [Fact]
    public async Task Delete_ExistingKey_RemovesIt()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("k", Utf8("v"), cancellationToken: Ct);

        await kv.DeleteAsync("k", Ct);

        Assert.Null(await kv.TryGetAsync("k", Ct));
    }

    [Fact]
    public async Task Delete_MissingKey_ThrowsNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        var e = await Assert.ThrowsAsync<NotFoundException>(() => kv.DeleteAsync("nope", Ct));

        Assert.Equal("not_found", e.Code);
    }

    [Fact]
    public async Task DeleteIfMatch_StaleETag_ThrowsPreconditionFailedAndKeepsEntry()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var old = await kv.PutAsync("k", Utf8("v1"), cancellationToken: Ct);
        var current = await kv.UpdateAsync("k", Utf8("v2"), cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<PreconditionFailedException>(() => kv.DeleteAsync("k", old.ETag, Ct));

        Assert.Equal(current.ETag, e.CurrentETag);
        Assert.Equal("precondition_failed", e.Code);
        Assert.NotNull(await kv.TryGetAsync("k", Ct));
    }

    [Fact]
    public async Task DeleteIfMatch_CurrentValueETag_RemovesEntry()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("k", Utf8("v1"), cancellationToken: Ct);

        // remove_if compared with the value: the ETag computed locally, bare hex (unquoted) works too.
        await kv.DeleteAsync("k", DepotKeyValue.ETagOf(Utf8("v1")).Trim('"'), Ct);

        Assert.Null(await kv.TryGetAsync("k", Ct));
    }

    [Fact]
    public async Task CompareAndSwap_CurrentETag_SwapsAndReturnsNewETag()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var put = await kv.PutAsync("k", Utf8("v1"), cancellationToken: Ct);

        var etag = await kv.CompareAndSwapAsync("k", Utf8("v2"), put.ETag, cancellationToken: Ct);

        Assert.Equal(DepotKeyValue.ETagOf(Utf8("v2")), etag);
        Assert.Equal("v2", Encoding.UTF8.GetString((await kv.GetAsync("k", Ct)).Value));
    }

    [Fact]
    public async Task CompareAndSwap_ETagOfExpectedValue_SwapsLikeQuasardb()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("k", Utf8("""{"user":43}"""), cancellationToken: Ct);

        await kv.CompareAndSwapAsync("k", Utf8("""{"user":44}"""), DepotKeyValue.ETagOf(Utf8("""{"user":43}""")), cancellationToken: Ct);

        Assert.Equal("""{"user":44}""", Encoding.UTF8.GetString((await kv.GetAsync("k", Ct)).Value));
    }

    [Fact]
    public async Task CompareAndSwap_StaleETag_ThrowsWithCurrentETagAndKeepsValue()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var old = await kv.PutAsync("k", Utf8("v1"), cancellationToken: Ct);
        var current = await kv.UpdateAsync("k", Utf8("v2"), cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<PreconditionFailedException>(() => kv.CompareAndSwapAsync("k", Utf8("v3"), old.ETag, cancellationToken: Ct));

        Assert.Equal(current.ETag, e.CurrentETag);
        Assert.False(e.IsTransient);
        Assert.Equal("v2", Encoding.UTF8.GetString((await kv.GetAsync("k", Ct)).Value));
    }

    [Fact]
    public async Task CompareAndSwap_MissingKey_ThrowsWithoutCurrentETagAndCreatesNothing()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        var e = await Assert.ThrowsAsync<PreconditionFailedException>(
            () => kv.CompareAndSwapAsync("k", Utf8("v"), DepotKeyValue.ETagOf(Utf8("x")), cancellationToken: Ct));

        Assert.Null(e.CurrentETag);
        Assert.Null(await kv.TryGetAsync("k", Ct));
    }

    [Fact]
    public async Task TryCompareAndSwap_WinAndLoss_ReturnsSwappedAndCurrentETag()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var put = await kv.PutAsync("k", Utf8("v1"), cancellationToken: Ct);

        var (swapped, newETag) = await kv.TryCompareAndSwapAsync("k", Utf8("v2"), put.ETag, cancellationToken: Ct);
        var lost = await kv.TryCompareAndSwapAsync("k", Utf8("v3"), put.ETag, cancellationToken: Ct);
        var missing = await kv.TryCompareAndSwapAsync("none", Utf8("v3"), put.ETag, cancellationToken: Ct);

        Assert.True(swapped);
        Assert.Equal(DepotKeyValue.ETagOf(Utf8("v2")), newETag);
        Assert.Equal(new KeyValueSwapResult(false, newETag), lost);
        Assert.Equal(new KeyValueSwapResult(false, null), missing);
    }

    [Fact]
    public async Task CompareAndSwap_TenParallelFromSameETag_ExactlyOneWins()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var put = await kv.PutAsync("race", Utf8("start"), cancellationToken: Ct);

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            Task.Run(() => kv.TryCompareAndSwapAsync("race", Utf8($"writer {i}"), put.ETag, cancellationToken: Ct), Ct)));

        var winners = results.Select((r, i) => (r, i)).Where(x => x.r.Swapped).ToList();
        var winner = Assert.Single(winners);
        var final = await kv.GetAsync("race", Ct);
        Assert.Equal($"writer {winner.i}", Encoding.UTF8.GetString(final.Value));
        Assert.All(results.Where(r => !r.Swapped), r => Assert.Equal(final.ETag, r.CurrentETag));
    }

    [Fact]
    public async Task GetAndDelete_ExistingKey_ReturnsValueAndRemovesEntry()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var put = await kv.PutAsync("jobs/1", Utf8("job payload"), new KeyValueWriteOptions { ContentType = "text/plain" }, Ct);

        var taken = await kv.GetAndDeleteAsync("jobs/1", Ct);

        Assert.Equal("job payload", Encoding.UTF8.GetString(taken.Value));
        Assert.Equal(put.ETag, taken.ETag);
        Assert.Equal("text/plain", taken.ContentType);
        Assert.Null(await kv.TryGetAsync("jobs/1", Ct));
        await Assert.ThrowsAsync<NotFoundException>(() => kv.GetAndDeleteAsync("jobs/1", Ct));
    }

    [Fact]
    public async Task GetAndDelete_StaleIfMatch_ThrowsPreconditionFailedAndKeepsEntry()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("k", Utf8("v1"), cancellationToken: Ct);

        await Assert.ThrowsAsync<PreconditionFailedException>(() => kv.GetAndDeleteAsync("k", DepotKeyValue.ETagOf(Utf8("other")), Ct));
        var taken = await kv.GetAndDeleteAsync("k", DepotKeyValue.ETagOf(Utf8("v1")), Ct);

        Assert.Equal("v1", Encoding.UTF8.GetString(taken.Value));
    }

    [Fact]
    public async Task GetAndDelete_FiveParallelTakes_ExactlyOneGetsTheValue()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("once", Utf8("prize"), cancellationToken: Ct);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Task.Run(async () =>
        {
            try
            {
                return await kv.GetAndDeleteAsync("once", Ct);
            }
            catch (NotFoundException)
            {
                return null;
            }
        }, Ct)));

        var winner = Assert.Single(outcomes, o => o is not null);
        Assert.Equal("prize", Encoding.UTF8.GetString(winner!.Value));
    }

    [Fact]
    public async Task Put_WithTimeToLive_ExpiryVisibleThroughGetExpiryAndGet()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var before = DateTimeOffset.UtcNow;

        var put = await kv.PutAsync("session/abc", Utf8("{}"), new KeyValueWriteOptions { TimeToLive = TimeSpan.FromMinutes(10) }, Ct);
        var expiry = await kv.GetExpiryAsync("session/abc", Ct);
        var got = await kv.GetAsync("session/abc", Ct);

        Assert.NotNull(expiry);
        Assert.InRange(expiry.Value, before.AddMinutes(10).AddSeconds(-1), DateTimeOffset.UtcNow.AddMinutes(10).AddSeconds(1));
        Assert.Equal(expiry, put.Expires);
        Assert.NotNull(got.Expires);
        Assert.InRange((expiry.Value - got.Expires.Value).Duration(), TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Put_WithExpiresAt_ExpiryIsThatTime()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var at = new DateTimeOffset(2030, 1, 31, 14, 0, 0, TimeSpan.FromHours(2));

        await kv.PutAsync("k", Utf8("v"), new KeyValueWriteOptions { ExpiresAt = at }, Ct);

        Assert.Equal(at, await kv.GetExpiryAsync("k", Ct));
    }

    [Fact]
    public async Task Update_WithoutTimeToLive_MakesEntryPermanent()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("k", Utf8("v1"), new KeyValueWriteOptions { TimeToLive = TimeSpan.FromMinutes(5) }, Ct);

        await kv.UpdateAsync("k", Utf8("v2"), cancellationToken: Ct);

        Assert.Null(await kv.GetExpiryAsync("k", Ct));
    }

    [Fact]
    public async Task Put_ExpiresAtInThePast_ThrowsInvalidRequestAndStoresNothing()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        var e = await Assert.ThrowsAsync<InvalidRequestException>(
            () => kv.PutAsync("k", Utf8("v"), new KeyValueWriteOptions { ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) }, Ct));

        Assert.Equal("invalid_request", e.Code);
        Assert.False(e.IsTransient);
        Assert.Null(await kv.TryGetAsync("k", Ct));
    }

    [Fact]
    public async Task Get_AfterExpiry_ThrowsNotFoundAndKeyCanBePutAgain()
    {
        var clock = new TestClock();
        await using var context = await KeyValueServers.StartWithClockAsync(clock);
        var kv = context.Client.KeyValue();
        await kv.PutAsync("k", Utf8("short-lived"), new KeyValueWriteOptions { TimeToLive = TimeSpan.FromSeconds(60) }, Ct);
        Assert.NotNull(await kv.TryGetAsync("k", Ct));

        clock.Advance(TimeSpan.FromSeconds(61));

        await Assert.ThrowsAsync<NotFoundException>(() => kv.GetAsync("k", Ct));
        await Assert.ThrowsAsync<NotFoundException>(() => kv.GetExpiryAsync("k", Ct));
        await Assert.ThrowsAsync<NotFoundException>(() => kv.GetAndDeleteAsync("k", Ct));
        Assert.Null(await kv.TryGetAsync("k", Ct));
        await kv.PutAsync("k", Utf8("again"), cancellationToken: Ct);
        Assert.Equal("again", Encoding.UTF8.GetString((await kv.GetAsync("k", Ct)).Value));
    }

    [Fact]
    public async Task Get_BeforeExpiry_StillReturnsValue()
    {
        var clock = new TestClock();
        await using var context = await KeyValueServers.StartWithClockAsync(clock);
        var kv = context.Client.KeyValue();
        await kv.PutAsync("k", Utf8("v"), new KeyValueWriteOptions { TimeToLive = TimeSpan.FromSeconds(60) }, Ct);

        clock.Advance(TimeSpan.FromSeconds(50));

        Assert.Equal("v", Encoding.UTF8.GetString((await kv.GetAsync("k", Ct)).Value));
    }

    [Fact]
    public async Task Keys_WithSlashes_MakeDirectoriesThatList()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("users/2", Utf8("b"), cancellationToken: Ct);
        await kv.PutAsync("users/1", Utf8("a"), cancellationToken: Ct);

        var entries = await context.Client.ListAsync("default/users", cancellationToken: Ct).ToListAsync(Ct);

        Assert.Equal(["1", "2"], entries.Select(e => e.Name));
    }

    [Fact]
    public async Task KeyValue_OtherBucket_KeepsEntriesApart()
    {
        await using var context = await ClientTestContext.StartAsync((o, root) =>
            o.Buckets["cache"] = new Depot.Server.Hosting.BucketConfig { Path = DepotTestServer.BucketDirectory(root, "cache") });
        var cache = context.Client.KeyValue("cache");

        await cache.PutAsync("k", Utf8("in cache"), cancellationToken: Ct);

        Assert.Equal("cache", cache.Bucket);
        Assert.Null(await context.Client.KeyValue().TryGetAsync("k", Ct));
        Assert.Equal("in cache", Encoding.UTF8.GetString((await cache.GetAsync("k", Ct)).Value));
    }

    [Fact]
    public async Task KeyValue_UnknownBucket_ThrowsNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.KeyValue("nosuchbucket").PutAsync("k", Utf8("v"), cancellationToken: Ct));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/leading")]
    [InlineData("trailing/")]
    public async Task Put_KeyWithEmptyOrEdgeSlash_ThrowsArgumentException(string key)
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => context.Client.KeyValue().PutAsync(key, Utf8("v"), cancellationToken: Ct));
    }

    [Theory]
    [InlineData("a/../b")]
    [InlineData("./b")]
    [InlineData("a/...")]
    public async Task Delete_KeyWithDotSegment_ThrowsInvalidPathAndTouchesNoOtherEntry(string key)
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("b", Utf8("keep"), cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<InvalidRequestException>(() => kv.DeleteAsync(key, Ct));

        Assert.Equal("invalid_path", e.Code);
        Assert.Equal("keep", Encoding.UTF8.GetString((await kv.GetAsync("b", Ct)).Value));
    }

    [Fact]
    public void KeyValue_BucketWithSlash_ThrowsArgumentException()
    {
        using var client = new DepotClient("http://127.0.0.1:1");

        Assert.Throws<ArgumentException>(() => client.KeyValue("a/b"));
    }

    [Fact]
    public void ETagOf_Value_IsQuotedLowerCaseSha256()
    {
        var value = Utf8("""{"user":42}""");

        Assert.Equal("\"" + Convert.ToHexStringLower(SHA256.HashData(value)) + "\"", DepotKeyValue.ETagOf(value));
        Assert.Equal("\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"", DepotKeyValue.ETagOf([]));
    }

    [Fact]
    public async Task TypedPutGet_SourceGeneratedTypeInfo_RoundTripsAsJson()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var profile = new Profile("Zoë", 31, ["admin", "ops"]);

        var put = await kv.PutAsync("profiles/zoe", profile, KeyValueTestJson.Default.Profile, cancellationToken: Ct);
        var got = await kv.GetAsync("profiles/zoe", KeyValueTestJson.Default.Profile, Ct);
        var raw = await kv.GetAsync("profiles/zoe", Ct);

        Assert.Equal(profile.Name, got.Value.Name);
        Assert.Equal(profile.Age, got.Value.Age);
        Assert.Equal(profile.Tags, got.Value.Tags);
        Assert.Equal(put.ETag, got.ETag);
        Assert.Equal("application/json", got.ContentType);
        Assert.Contains("\"name\":", Encoding.UTF8.GetString(raw.Value), StringComparison.Ordinal);
        Assert.Equal(DepotKeyValue.ETagOf(raw.Value), got.ETag);
    }

    [Fact]
    public async Task TypedPutGet_Reflection_RoundTripsAndReadsSourceGeneratedJson()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var profile = new Profile("Bob", 40, ["dev"]);

        await kv.PutAsync("profiles/bob", profile, cancellationToken: Ct);
        var got = await kv.GetAsync<Profile>("profiles/bob", Ct);
        var viaContext = await kv.GetAsync("profiles/bob", KeyValueTestJson.Default.Profile, Ct);
        var raw = await kv.GetAsync("profiles/bob", Ct);

        Assert.Equal("Bob", got.Value.Name);
        Assert.Equal(["dev"], got.Value.Tags);
        Assert.Equal(40, viaContext.Value.Age);
        Assert.Equal("application/json", got.ContentType);
        Assert.Contains("\"age\":40", Encoding.UTF8.GetString(raw.Value), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TypedPut_ByteArrayValue_StoresRawBytesNotJson()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var bytes = Utf8("raw");

        // byte[] binds to the raw overload (OverloadResolutionPriority), not PutAsync<byte[]> (base64 JSON).
        await kv.PutAsync("raw", bytes, cancellationToken: Ct);

        Assert.Equal(bytes, (await kv.GetAsync("raw", Ct)).Value);
    }

    [Fact]
    public async Task TypedUpdateAndCompareAndSwap_SourceGenerated_ChangeValueAndVersion()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var first = await kv.UpdateAsync("c", new Counter(1), KeyValueTestJson.Default.Counter, cancellationToken: Ct);

        var second = await kv.CompareAndSwapAsync("c", new Counter(2), first.ETag, KeyValueTestJson.Default.Counter, cancellationToken: Ct);
        var lost = await Assert.ThrowsAsync<PreconditionFailedException>(
            () => kv.CompareAndSwapAsync("c", new Counter(3), first.ETag, KeyValueTestJson.Default.Counter, cancellationToken: Ct));

        Assert.Equal(second, lost.CurrentETag);
        var got = await kv.GetAsync("c", KeyValueTestJson.Default.Counter, Ct);
        Assert.Equal(new Counter(2), got.Value);
        Assert.Equal(second, got.ETag);
    }

    [Fact]
    public async Task TypedTryGet_MissingKey_ReturnsNull()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        Assert.Null(await kv.TryGetAsync("none", KeyValueTestJson.Default.Counter, Ct));
        Assert.Null(await kv.TryGetAsync<Counter>("none", Ct));
    }

    [Fact]
    public async Task TypedGet_ValueNotJson_ThrowsJsonException()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("bad", Utf8("not json"), cancellationToken: Ct);

        await Assert.ThrowsAnyAsync<System.Text.Json.JsonException>(() => kv.GetAsync("bad", KeyValueTestJson.Default.Counter, Ct));
    }

    [Fact]
    public async Task UpdateWithRetry_MissingKey_CreatesFromDefault()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        var written = await kv.UpdateWithRetryAsync("n", c => new Counter((c?.Value ?? 0) + 1), KeyValueTestJson.Default.Counter, cancellationToken: Ct);

        Assert.Equal(new Counter(1), written.Value);
        Assert.Equal(written.ETag, (await kv.GetAsync("n", Ct)).ETag);
    }

    [Fact]
    public async Task UpdateWithRetry_FiveTasksTwentyIncrementsEach_EndsAtHundred()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        var tasks = Enumerable.Range(0, 5).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 20; i++)
            {
                // A generous budget: the test is about lost updates, not about how often a writer loses.
                await kv.UpdateWithRetryAsync("counter", c => new Counter((c?.Value ?? 0) + 1), KeyValueTestJson.Default.Counter, maxAttempts: 500,
                    cancellationToken: Ct);
            }
        }, Ct));
        await Task.WhenAll(tasks);

        Assert.Equal(new Counter(100), (await kv.GetAsync("counter", KeyValueTestJson.Default.Counter, Ct)).Value);
    }

    [Fact]
    public async Task UpdateWithRetry_Reflection_FiveTasksIncrement_EndsAtFifty()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();

        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                await kv.UpdateWithRetryAsync<Counter>("counter", c => new Counter((c?.Value ?? 0) + 1), maxAttempts: 500, cancellationToken: Ct);
            }
        }, Ct)));

        Assert.Equal(50, (await kv.GetAsync<Counter>("counter", Ct)).Value.Value);
    }

    [Fact]
    public async Task UpdateWithRetry_OneAttemptAgainstConcurrentWriter_ThrowsPreconditionFailed()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.UpdateAsync("c", new Counter(0), KeyValueTestJson.Default.Counter, cancellationToken: Ct);

        // The change function writes behind the updater's back, so its compare-and-swap must lose.
        await Assert.ThrowsAsync<PreconditionFailedException>(() => kv.UpdateWithRetryAsync("c", c =>
        {
            kv.UpdateAsync("c", new Counter(99), KeyValueTestJson.Default.Counter, cancellationToken: Ct).GetAwaiter().GetResult();
            return new Counter(c!.Value + 1);
        }, KeyValueTestJson.Default.Counter, maxAttempts: 1, cancellationToken: Ct));

        Assert.Equal(new Counter(99), (await kv.GetAsync("c", KeyValueTestJson.Default.Counter, Ct)).Value);
    }

    [Fact]
    public async Task PutStream_TwentyMiBValue_StreamsBackWithMatchingSha256()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var value = ClientTestContext.RandomBytes(20 * 1024 * 1024, seed: 7);

        using (var source = new MemoryStream(value))
        {
            var put = await kv.PutAsync("big/seekable", source, cancellationToken: Ct);
            Assert.Equal(DepotKeyValue.ETagOf(value), put.ETag);
        }

        await using var read = await kv.GetStreamAsync("big/seekable", Ct);
        Assert.Equal(value.Length, read.Length);
        Assert.Equal(DepotKeyValue.ETagOf(value), read.ETag);
        Assert.Equal("big/seekable", read.Key);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81_920];
        int n;
        long total = 0;
        while ((n = await read.ReadAsync(buffer, Ct)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }

        Assert.Equal(value.Length, total);
        Assert.Equal(ClientTestContext.Sha256Of(value), Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    [Fact]
    public async Task PutStream_NonSeekableLargeValue_GoesThroughSessionAndReadsBack()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.CreateClient(configure: o => { o.ResumableThreshold = 1024 * 1024; o.ChunkSize = 256 * 1024; });
        var kv = client.KeyValue();
        var value = ClientTestContext.RandomBytes(3 * 1024 * 1024 + 5, seed: 8);

        var put = await kv.PutAsync("big/pipe", new NonSeekableStream(new MemoryStream(value), maxRead: 100_000), cancellationToken: Ct);
        var again = await Assert.ThrowsAsync<AlreadyExistsException>(
            () => kv.PutAsync("big/pipe", new NonSeekableStream(new MemoryStream(value)), cancellationToken: Ct));

        Assert.Equal(DepotKeyValue.ETagOf(value), put.ETag);
        Assert.Equal("already_exists", again.Code);
        await using var read = await kv.GetStreamAsync("big/pipe", Ct);
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy, Ct);
        Assert.Equal(value, copy.ToArray());
    }

    [Fact]
    public async Task UpdateStream_ReplacesLargeValue()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        await kv.PutAsync("v", Utf8("small"), cancellationToken: Ct);
        var value = ClientTestContext.RandomBytes(2 * 1024 * 1024, seed: 9);

        var updated = await kv.UpdateAsync("v", new MemoryStream(value), new KeyValueWriteOptions { TimeToLive = TimeSpan.FromHours(1) }, Ct);

        Assert.Equal(DepotKeyValue.ETagOf(value), updated.ETag);
        Assert.NotNull(updated.Expires);
        Assert.Equal(value, (await kv.GetAsync("v", Ct)).Value);
    }

    [Fact]
    public async Task GetStream_EntryReplacedWhileReading_FailsInsteadOfMixingVersions()
    {
        await using var context = await ClientTestContext.StartAsync();
        var kv = context.Client.KeyValue();
        var first = ClientTestContext.RandomBytes(8 * 1024 * 1024, seed: 1);
        await kv.PutAsync("v", first, cancellationToken: Ct);

        await using var read = await kv.GetStreamAsync("v", Ct);
        var buffer = new byte[1024];
        Assert.True(await read.ReadAsync(buffer, Ct) > 0);
        await kv.UpdateAsync("v", ClientTestContext.RandomBytes(8 * 1024 * 1024, seed: 2), cancellationToken: Ct);

        // Either the first connection still delivers the whole old version (verified), or the stream fails: never a mix.
        using var rest = new MemoryStream();
        rest.Write(buffer);
        try
        {
            await read.CopyToAsync(rest, Ct);
            Assert.Equal(first, rest.ToArray());
        }
        catch (ConflictException)
        {
        }
    }

    [Fact]
    public async Task Errors_FromServer_AreTypedNotTransientAndNeverContainTheKey()
    {
        await using var context = await ClientTestContext.StartAsync();
        var readOnly = await context.Server.CreateKeyAsync(["read"]);
        var kv = context.Client.KeyValue();
        var readOnlyKv = context.CreateClient(readOnly.Token).KeyValue();
        var unknownKv = context.CreateClient("dpk_0000000000000000_notARealSecretButLongEnough0000000000000").KeyValue();
        await kv.PutAsync("k", Utf8("v"), cancellationToken: Ct);

        var failures = new List<(DepotException Error, string Code, string Secret)>
        {
            (await Assert.ThrowsAsync<NotFoundException>(() => kv.GetAsync("missing", Ct)), "not_found", context.Server.AdminKey),
            (await Assert.ThrowsAsync<AlreadyExistsException>(() => kv.PutAsync("k", Utf8("x"), cancellationToken: Ct)), "already_exists", context.Server.AdminKey),
            (await Assert.ThrowsAsync<PreconditionFailedException>(() => kv.CompareAndSwapAsync("k", Utf8("x"), DepotKeyValue.ETagOf(Utf8("y")), cancellationToken: Ct)),
                "precondition_failed", context.Server.AdminKey),
            (await Assert.ThrowsAsync<ForbiddenException>(() => readOnlyKv.UpdateAsync("k", Utf8("x"), cancellationToken: Ct)), "forbidden", readOnly.Token),
            (await Assert.ThrowsAsync<ForbiddenException>(() => readOnlyKv.GetAndDeleteAsync("k", Ct)), "forbidden", readOnly.Token),
            (await Assert.ThrowsAsync<UnauthorizedException>(() => unknownKv.GetAsync("k", Ct)), "unauthorized", "notARealSecretButLongEnough"),
        };

        Assert.All(failures, f =>
        {
            Assert.Equal(f.Code, f.Error.Code);
            Assert.False(f.Error.IsTransient);
            Assert.DoesNotContain(f.Secret, f.Error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(f.Secret, f.Error.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(f.Secret, f.Error.Detail ?? "", StringComparison.Ordinal);
        });
        Assert.Contains("missing", failures[0].Error.Message, StringComparison.Ordinal);
    }
}
