using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Depot.Protocol;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Http;

/// <summary>Appender objects (append, modify, truncate), offset downloads, the <c>?meta</c> routes and cluster info,
/// against a real Kestrel (docs/http-api.md §3.18–3.20, §3.22).</summary>
public sealed class AppenderApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // ---- Appender objects ----

    [Fact]
    public async Task Append_SeveralTimes_ServesTheConcatenationWithMatchingHashesAfterEveryStep()
    {
        await using var server = await DepotTestServer.StartAsync();
        var expected = TestBytes.Random(1000, seed: 1);
        using (var put = await PutAppendableAsync(server.Client, "log/app.log", expected))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            await AssertAnswerAsync(put, expected);
        }

        await AssertStoredAsync(server, "log/app.log", expected);

        // Small, empty, larger than the server's 1 MiB copy buffer, chunked without a length.
        var steps = new (byte[] Bytes, bool Chunked)[]
        {
            (TestBytes.Random(10, seed: 2), false),
            ([], false),
            (TestBytes.Random((3 << 20) + 17, seed: 3), false),
            (TestBytes.Random(70_001, seed: 4), true),
            (TestBytes.Random(1, seed: 5), false),
        };
        foreach (var (bytes, chunked) in steps)
        {
            using var append = await SendAsync(server.Client, HttpMethod.Post, "log/app.log?append", bytes, chunked);
            expected = [.. expected, .. bytes];
            Assert.True(append.StatusCode == HttpStatusCode.OK, await append.Content.ReadAsStringAsync(Ct));
            await AssertAnswerAsync(append, expected);
            await AssertStoredAsync(server, "log/app.log", expected);
        }
    }

    [Fact]
    public async Task PutAppendable_EmptyBody_CreatesAnEmptyAppenderThatAppendsAndKeepsItsMetadata()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await SendAsync(server.Client, HttpMethod.Put, "empty.log?appendable", [], configure: r => r.Headers.Add(DepotHeaders.MetaPrefix + "origin", "test")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
            var info = await ReadInfoAsync(put);
            Assert.Equal((0L, true), (info.Size, info.Appendable));
            Assert.Equal("true", Header(put, DepotHeaders.Appendable));
        }

        var chunk = TestBytes.Random(123, seed: 6);
        using var append = await SendAsync(server.Client, HttpMethod.Post, "empty.log?append", chunk);

        await AssertAnswerAsync(append, chunk);
        await AssertStoredAsync(server, "empty.log", chunk);
        using var head = await HeadAsync(server.Client, "empty.log");
        Assert.Equal("test", Header(head, DepotHeaders.MetaPrefix + "origin"));
    }

    [Fact]
    public async Task Modify_InsideTheObject_OverwritesInPlace()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(5000, seed: 7);
        await CreateAppenderAsync(server, "m.bin", original);
        var patch = TestBytes.Random(300, seed: 8);

        using var modify = await SendAsync(server.Client, HttpMethod.Post, "m.bin?modify&offset=1000", patch);

        var expected = original.ToArray();
        patch.CopyTo(expected, 1000);
        await AssertAnswerAsync(modify, expected);
        await AssertStoredAsync(server, "m.bin", expected);
    }

    [Fact]
    public async Task Modify_AtTheEndOfTheObject_WithinItsLastByte()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(100, seed: 9);
        await CreateAppenderAsync(server, "m.bin", original);

        using var modify = await SendAsync(server.Client, HttpMethod.Post, "m.bin?modify&offset=90", TestBytes.Random(10, seed: 10));

        await AssertAnswerAsync(modify, [.. original[..90], .. TestBytes.Random(10, seed: 10)]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Modify_PastTheEndWithoutExtend_Answers416AndChangesNothing(bool chunked)
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(1000, seed: 11);
        await CreateAppenderAsync(server, "m.bin", original);

        using var modify = await SendAsync(server.Client, HttpMethod.Post, "m.bin?modify&offset=900", TestBytes.Random(200, seed: 12), chunked);

        await Problem.AssertAsync(modify, HttpStatusCode.RequestedRangeNotSatisfiable, "range_not_satisfiable");
        await AssertStoredAsync(server, "m.bin", original);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Modify_PastTheEndWithExtend_GrowsTheObject(bool chunked)
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(1000, seed: 13);
        await CreateAppenderAsync(server, "m.bin", original);
        var patch = TestBytes.Random(200, seed: 14);

        using var modify = await SendAsync(server.Client, HttpMethod.Post, "m.bin?modify&offset=900&extend=true", patch, chunked);

        var expected = (byte[])[.. original[..900], .. patch];
        Assert.Equal(1100, expected.Length);
        await AssertAnswerAsync(modify, expected);
        await AssertStoredAsync(server, "m.bin", expected);
    }

    [Theory]
    [InlineData("offset=1001")]
    [InlineData("offset=1001&extend=true")]
    [InlineData("offset=999999999999")]
    public async Task Modify_OffsetPastTheSize_Answers416(string query)
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(1000, seed: 15);
        await CreateAppenderAsync(server, "m.bin", original);

        using var modify = await SendAsync(server.Client, HttpMethod.Post, "m.bin?modify&" + query, [1, 2, 3]);

        await Problem.AssertAsync(modify, HttpStatusCode.RequestedRangeNotSatisfiable, "range_not_satisfiable");
        await AssertStoredAsync(server, "m.bin", original);
    }

    [Fact]
    public async Task Modify_AtTheSizeWithExtend_Appends()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(1000, seed: 16);
        await CreateAppenderAsync(server, "m.bin", original);

        using var modify = await SendAsync(server.Client, HttpMethod.Post, "m.bin?modify&offset=1000&extend=true", [1, 2, 3]);

        await AssertAnswerAsync(modify, [.. original, 1, 2, 3]);
    }

    [Theory]
    [InlineData("m.bin?modify")]
    [InlineData("m.bin?modify&offset=abc")]
    [InlineData("m.bin?modify&offset=-1")]
    [InlineData("m.bin?truncate=abc")]
    [InlineData("m.bin?truncate")]
    public async Task ChangeWithBadNumber_Answers400InvalidRequest(string url)
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(100, seed: 17);
        await CreateAppenderAsync(server, "m.bin", original);

        using var response = await SendAsync(server.Client, HttpMethod.Post, url, []);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
        await AssertStoredAsync(server, "m.bin", original);
    }

    [Fact]
    public async Task Truncate_Smaller_ShrinksThenAppendHashesRight()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random((2 << 20) + 5, seed: 18);
        await CreateAppenderAsync(server, "t.bin", original);

        using var truncate = await SendAsync(server.Client, HttpMethod.Post, "t.bin?truncate=1234567", []);

        await AssertAnswerAsync(truncate, original[..1234567]);
        await AssertStoredAsync(server, "t.bin", original[..1234567]);
        var more = TestBytes.Random(999, seed: 19);
        using var append = await SendAsync(server.Client, HttpMethod.Post, "t.bin?append", more);
        await AssertAnswerAsync(append, [.. original[..1234567], .. more]);
        await AssertStoredAsync(server, "t.bin", [.. original[..1234567], .. more]);
    }

    [Fact]
    public async Task Truncate_ToZeroAndToTheSameSize_AreAllowed()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(500, seed: 20);
        await CreateAppenderAsync(server, "t.bin", original);

        using (var same = await SendAsync(server.Client, HttpMethod.Post, "t.bin?truncate=500", []))
        {
            await AssertAnswerAsync(same, original);
        }

        using var zero = await SendAsync(server.Client, HttpMethod.Post, "t.bin?truncate=0", []);
        await AssertAnswerAsync(zero, []);
        await AssertStoredAsync(server, "t.bin", []);
    }

    [Fact]
    public async Task Truncate_Larger_Answers416AndChangesNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(500, seed: 21);
        await CreateAppenderAsync(server, "t.bin", original);

        using var truncate = await SendAsync(server.Client, HttpMethod.Post, "t.bin?truncate=501", []);

        await Problem.AssertAsync(truncate, HttpStatusCode.RequestedRangeNotSatisfiable, "range_not_satisfiable");
        await AssertStoredAsync(server, "t.bin", original);
    }

    [Fact]
    public async Task Truncate_WithABody_Answers400AndChangesNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(500, seed: 22);
        await CreateAppenderAsync(server, "t.bin", original);

        using var truncate = await SendAsync(server.Client, HttpMethod.Post, "t.bin?truncate=100", [1, 2, 3]);

        await Problem.AssertAsync(truncate, HttpStatusCode.BadRequest, "invalid_request");
        await AssertStoredAsync(server, "t.bin", original);
    }

    [Theory]
    [InlineData("plain.bin?append")]
    [InlineData("plain.bin?modify&offset=0")]
    [InlineData("plain.bin?truncate=1")]
    public async Task Change_OrdinaryObject_Answers409ConflictAndChangesNothing(string url)
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(100, seed: 23);
        using (var put = await SendAsync(server.Client, HttpMethod.Put, "plain.bin", original))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var response = await SendAsync(server.Client, HttpMethod.Post, url, url.Contains("truncate", StringComparison.Ordinal) ? [] : [9, 9]);

        await Problem.AssertAsync(response, HttpStatusCode.Conflict, "conflict");
        Assert.Equal(original, await server.Client.GetByteArrayAsync("v1/default/plain.bin", Ct));
    }

    [Theory]
    [InlineData("missing.bin?append")]
    [InlineData("missing.bin?modify&offset=0")]
    [InlineData("missing.bin?truncate=0")]
    public async Task Change_MissingObject_Answers404(string url)
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await SendAsync(server.Client, HttpMethod.Post, url, url.Contains("truncate", StringComparison.Ordinal) ? [] : [1]);

        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "missing.bin")));
    }

    [Fact]
    public async Task Append_IfMatchCurrentETag_SucceedsAndAnOldOneAnswers412WithTheCurrentETag()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(100, seed: 24);
        await CreateAppenderAsync(server, "cas.log", original);
        var first = TestBytes.Random(10, seed: 25);
        var firstETag = TestBytes.ETagOf(original);

        using (var ok = await SendAsync(server.Client, HttpMethod.Post, "cas.log?append", first, configure: r => r.Headers.TryAddWithoutValidation("If-Match", firstETag)))
        {
            await AssertAnswerAsync(ok, [.. original, .. first]);
        }

        var current = TestBytes.ETagOf([.. original, .. first]);
        foreach (var url in new[] { "cas.log?append", "cas.log?modify&offset=0", "cas.log?truncate=1" })
        {
            using var stale = await SendAsync(server.Client, HttpMethod.Post, url, url.Contains("truncate", StringComparison.Ordinal) ? [] : [7, 7, 7], configure: r => r.Headers.TryAddWithoutValidation("If-Match", firstETag));
            var problem = await Problem.AssertAsync(stale, HttpStatusCode.PreconditionFailed, "precondition_failed");
            Assert.Equal(current, problem.GetProperty("etag").GetString());
        }

        await AssertStoredAsync(server, "cas.log", [.. original, .. first]);
        using var truncate = await SendAsync(server.Client, HttpMethod.Post, "cas.log?truncate=50", [], configure: r => r.Headers.TryAddWithoutValidation("If-Match", current));
        await AssertAnswerAsync(truncate, original[..50]);
    }

    [Fact]
    public async Task Append_16InParallel_EveryChunkLandsOnceAndIntact()
    {
        await using var server = await DepotTestServer.StartAsync();
        var start = TestBytes.Random(777, seed: 26);
        await CreateAppenderAsync(server, "par.log", start);
        var chunks = Enumerable.Range(0, 16).Select(i => TestBytes.Random(4096 + (i * 1013), seed: 100 + i)).ToList();

        var answers = await Task.WhenAll(chunks.Select(async (chunk, i) =>
        {
            using var append = await SendAsync(server.Client, HttpMethod.Post, "par.log?append", chunk, chunked: i % 2 == 1);
            return (append.StatusCode, Text: await append.Content.ReadAsStringAsync(Ct));
        }));

        Assert.All(answers, a => Assert.True(a.StatusCode == HttpStatusCode.OK, a.Text));
        var stored = await server.Client.GetByteArrayAsync("v1/default/par.log", Ct);
        Assert.Equal(start.Length + chunks.Sum(c => c.Length), stored.Length);
        Assert.Equal(start, stored[..start.Length]);
        var left = chunks.ToList();
        var at = start.Length;
        while (left.Count > 0)
        {
            var here = left.Where(c => stored.AsSpan(at).StartsWith(c)).ToList();
            Assert.True(here.Count == 1, $"at byte {at}: {here.Count} chunks match ({left.Count} chunks left)");
            left.Remove(here[0]);
            at += here[0].Length;
        }

        Assert.Equal(stored.Length, at);
        await AssertStoredAsync(server, "par.log", stored);
    }

    [Fact]
    public async Task Change_ReadOnlyKey_Answers403AndChangesNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(100, seed: 27);
        await CreateAppenderAsync(server, "ro.log", original);
        var key = await server.CreateKeyAsync(["read"]);
        using var client = server.CreateClient(key.Token);

        foreach (var url in new[] { "ro.log?append", "ro.log?modify&offset=0", "ro.log?truncate=1" })
        {
            using var response = await SendAsync(client, HttpMethod.Post, url, url.Contains("truncate", StringComparison.Ordinal) ? [] : [1]);
            await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "forbidden");
        }

        using (var put = await SendAsync(client, HttpMethod.Put, "new.log?appendable", []))
        {
            await Problem.AssertAsync(put, HttpStatusCode.Forbidden, "forbidden");
        }

        await AssertStoredAsync(server, "ro.log", original);
    }

    [Fact]
    public async Task Append_WithoutKey_Answers401()
    {
        await using var server = await DepotTestServer.StartAsync();
        await CreateAppenderAsync(server, "a.log", [1]);
        using var anonymous = server.CreateClient(null);

        using var response = await SendAsync(anonymous, HttpMethod.Post, "a.log?append", [2]);

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Append_PastTheBucketLimit_Answers413AndChangesNothing(bool chunked)
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxObjectSize = 10_000);
        var original = TestBytes.Random(9000, seed: 28);
        await CreateAppenderAsync(server, "big.log", original);

        using var append = await SendAsync(server.Client, HttpMethod.Post, "big.log?append", TestBytes.Random(1001, seed: 29), chunked);

        await Problem.AssertAsync(append, HttpStatusCode.RequestEntityTooLarge, "too_large");
        await AssertStoredAsync(server, "big.log", original);
        using var fits = await SendAsync(server.Client, HttpMethod.Post, "big.log?append", TestBytes.Random(1000, seed: 29), chunked);
        await AssertAnswerAsync(fits, [.. original, .. TestBytes.Random(1000, seed: 29)]);
    }

    [Fact]
    public async Task Append_ClientAbortsMidBody_LeavesTheObjectUnchangedAndLogsNoError()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(5000, seed: 35);
        await CreateAppenderAsync(server, "abort.log", original);
        var content = new StreamContent(new ForwardOnlyStream(TestBytes.Random(3 << 20, seed: 36), failAtEnd: true), 64 << 10);
        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/default/abort.log?append") { Content = content })
        {
            request.Headers.TransferEncodingChunked = true;
            await Assert.ThrowsAnyAsync<Exception>(() => server.Client.SendAsync(request, Ct));
        }

        // The server notices the abort on its own schedule: wait for the request's log line, written once the handler
        // (and its roll-back) has finished.
        Assert.True(await server.WaitForLogsAsync(logs => logs.Any(l => l.EventId.Id == 1 && l.Message.StartsWith("POST /v1/default/abort.log ", StringComparison.Ordinal)), TimeSpan.FromSeconds(20)), string.Join("\n", server.LogLines));

        await AssertStoredAsync(server, "abort.log", original);
        var more = TestBytes.Random(77, seed: 37);
        using var append = await SendAsync(server.Client, HttpMethod.Post, "abort.log?append", more);
        await AssertAnswerAsync(append, [.. original, .. more]);
        Assert.DoesNotContain(server.Logs, l => l.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }

    [Fact]
    public async Task Truncate_WithAChunkedBody_Answers400AndChangesNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(500, seed: 38);
        await CreateAppenderAsync(server, "t.bin", original);

        using var truncate = await SendAsync(server.Client, HttpMethod.Post, "t.bin?truncate=100", [1, 2, 3], chunked: true);

        await Problem.AssertAsync(truncate, HttpStatusCode.BadRequest, "invalid_request");
        await AssertStoredAsync(server, "t.bin", original);
    }

    // ---- Offset downloads ----

    [Theory]
    [InlineData("offset=100&length=50", 100, 150)]
    [InlineData("offset=9000&length=0", 9000, 10_000)]
    [InlineData("offset=9000", 9000, 10_000)]
    [InlineData("offset=9990&length=100", 9990, 10_000)]
    [InlineData("offset=9999&length=1", 9999, 10_000)]
    [InlineData("length=10", 0, 10)]
    [InlineData("offset=0&length=1", 0, 1)]
    public async Task GetOffset_Inside_Answers206WithContentRange(string query, int from, int to)
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(10_000, seed: 30);
        await CreateAppenderAsync(server, "o.bin", bytes);

        using var get = await server.Client.GetAsync("v1/default/o.bin?" + query, Ct);

        Assert.Equal(HttpStatusCode.PartialContent, get.StatusCode);
        Assert.Equal($"bytes {from}-{to - 1}/10000", get.Content.Headers.ContentRange?.ToString());
        Assert.Equal(to - from, get.Content.Headers.ContentLength);
        Assert.Equal(bytes[from..to], await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(TestBytes.ETagOf(bytes), get.Headers.ETag?.ToString());
    }

    [Theory]
    [InlineData("offset=0")]
    [InlineData("offset=0&length=0")]
    [InlineData("offset=0&length=10000")]
    public async Task GetOffset_WholeObject_Answers200(string query)
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(10_000, seed: 31);
        await CreateAppenderAsync(server, "o.bin", bytes);

        using var get = await server.Client.GetAsync("v1/default/o.bin?" + query, Ct);

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(bytes, await get.Content.ReadAsByteArrayAsync(Ct));
    }

    [Theory]
    [InlineData("offset=10000")]
    [InlineData("offset=10000&length=5")]
    [InlineData("offset=20000")]
    public async Task GetOffset_PastTheEnd_Answers416Problem(string query)
    {
        await using var server = await DepotTestServer.StartAsync();
        await CreateAppenderAsync(server, "o.bin", TestBytes.Random(10_000, seed: 32));

        using var get = await server.Client.GetAsync("v1/default/o.bin?" + query, Ct);

        await Problem.AssertAsync(get, HttpStatusCode.RequestedRangeNotSatisfiable, "range_not_satisfiable");
        Assert.Equal("bytes */10000", get.Content.Headers.ContentRange?.ToString());
    }

    [Theory]
    [InlineData("offset=0")]
    [InlineData("offset=0&length=0")]
    [InlineData("offset=0&length=7")]
    public async Task GetOffset_ZeroByteObject_Answers200Empty(string query)
    {
        await using var server = await DepotTestServer.StartAsync();
        await CreateAppenderAsync(server, "empty.bin", []);

        using var get = await server.Client.GetAsync("v1/default/empty.bin?" + query, Ct);

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(0, get.Content.Headers.ContentLength);
        Assert.Empty(await get.Content.ReadAsByteArrayAsync(Ct));
    }

    [Theory]
    [InlineData("offset=abc")]
    [InlineData("offset=-1")]
    [InlineData("offset=1.5")]
    [InlineData("offset=10&length=x")]
    [InlineData("offset=10&length=-5")]
    public async Task GetOffset_NotANumber_Answers400InvalidRequest(string query)
    {
        await using var server = await DepotTestServer.StartAsync();
        await CreateAppenderAsync(server, "o.bin", TestBytes.Random(100, seed: 33));

        using var get = await server.Client.GetAsync("v1/default/o.bin?" + query, Ct);

        await Problem.AssertAsync(get, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task GetOffset_OrdinaryObjectAndHead_AnswerTheRangeHeaders()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(1000, seed: 34);
        using (var put = await SendAsync(server.Client, HttpMethod.Put, "plain.bin", bytes))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var get = await server.Client.GetAsync("v1/default/plain.bin?offset=500&length=10", Ct);
        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/default/plain.bin?offset=500&length=10"), Ct);

        Assert.Equal(HttpStatusCode.PartialContent, get.StatusCode);
        Assert.Equal(bytes[500..510], await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(HttpStatusCode.PartialContent, head.StatusCode);
        Assert.Equal("bytes 500-509/1000", head.Content.Headers.ContentRange?.ToString());
        Assert.Empty(await head.Content.ReadAsByteArrayAsync(Ct));
    }

    // ---- Metadata ----

    [Fact]
    public async Task Meta_GetPutPatchDelete_ChangeOnlyTheMetadataAndNeverTheETag()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(2000, seed: 40);
        var etag = TestBytes.ETagOf(bytes);
        using (var put = await SendAsync(server.Client, HttpMethod.Put, "doc.bin", bytes, configure: r =>
        {
            r.Headers.Add(DepotHeaders.MetaPrefix + "Author", "ann");
            r.Headers.Add(DepotHeaders.MetaPrefix + "tag", "x");
        }))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        await AssertMetaAsync(server, "doc.bin", etag, new() { ["author"] = "ann", ["tag"] = "x" });

        using (var replace = await JsonAsync(server.Client, HttpMethod.Put, "doc.bin?meta", """{"Title": "Report", "status": "draft", "owner": "bo"}"""))
        {
            await AssertMetaAnswerAsync(replace, etag, new() { ["title"] = "Report", ["status"] = "draft", ["owner"] = "bo" });
        }

        await AssertMetaAsync(server, "doc.bin", etag, new() { ["title"] = "Report", ["status"] = "draft", ["owner"] = "bo" });

        using (var merge = await JsonAsync(server.Client, HttpMethod.Patch, "doc.bin?meta", """{"STATUS": "final", "owner": null, "missing": null, "pages": "12"}"""))
        {
            await AssertMetaAnswerAsync(merge, etag, new() { ["title"] = "Report", ["status"] = "final", ["pages"] = "12" });
        }

        await AssertMetaAsync(server, "doc.bin", etag, new() { ["title"] = "Report", ["status"] = "final", ["pages"] = "12" });

        using (var delete = await server.Client.DeleteAsync("v1/default/doc.bin?meta=Title,pages,nothere", Ct))
        {
            await AssertMetaAnswerAsync(delete, etag, new() { ["status"] = "final" });
        }

        await AssertMetaAsync(server, "doc.bin", etag, new() { ["status"] = "final" });

        using (var clear = await JsonAsync(server.Client, HttpMethod.Put, "doc.bin?meta", "{}"))
        {
            await AssertMetaAnswerAsync(clear, etag, []);
        }

        await AssertMetaAsync(server, "doc.bin", etag, []);
        Assert.Equal(bytes, await server.Client.GetByteArrayAsync("v1/default/doc.bin", Ct)); // the object itself is still there
    }

    [Fact]
    public async Task Meta_Utf8Values_RoundTripThroughJsonAndPercentEncodedHeaders()
    {
        await using var server = await DepotTestServer.StartAsync();
        const string ViaHeader = "naïve 🎉 Zoë";
        const string ViaJson = "café ☕ 😀 «ü»";
        using (var put = await SendAsync(server.Client, HttpMethod.Put, "u.bin", [1, 2, 3], configure: r => r.Headers.Add(DepotHeaders.MetaPrefix + "greeting", Uri.EscapeDataString(ViaHeader))))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        await AssertMetaAsync(server, "u.bin", TestBytes.ETagOf([1, 2, 3]), new() { ["greeting"] = ViaHeader });

        using (var patch = await JsonAsync(server.Client, HttpMethod.Patch, "u.bin?meta", JsonSerializer.Serialize(new Dictionary<string, string> { ["title"] = ViaJson })))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        await AssertMetaAsync(server, "u.bin", TestBytes.ETagOf([1, 2, 3]), new() { ["greeting"] = ViaHeader, ["title"] = ViaJson });
        using var head = await HeadAsync(server.Client, "u.bin");
        var title = Header(head, DepotHeaders.MetaPrefix + "title");
        Assert.Equal(Uri.EscapeDataString(ViaJson), title);
        Assert.All(title!, c => Assert.True(c < 128, "header values are ASCII"));
        Assert.Equal(ViaJson, Uri.UnescapeDataString(title!));
        Assert.Equal(ViaHeader, Uri.UnescapeDataString(Header(head, DepotHeaders.MetaPrefix + "greeting")!));
    }

    [Fact]
    public async Task Meta_HeadAndGet_ShowMetaHeaders()
    {
        await using var server = await DepotTestServer.StartAsync();
        await CreateAppenderAsync(server, "h.bin", [1]);
        using (var put = await JsonAsync(server.Client, HttpMethod.Put, "h.bin?meta", """{"a": "1", "b-c.d_e": "two words"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var head = await HeadAsync(server.Client, "h.bin");
        using var get = await server.Client.GetAsync("v1/default/h.bin", Ct);

        foreach (var response in new[] { head, get })
        {
            Assert.Equal("1", Header(response, DepotHeaders.MetaPrefix + "a"));
            Assert.Equal("two%20words", Header(response, DepotHeaders.MetaPrefix + "b-c.d_e"));
        }

        var stat = await server.Client.GetFromJsonAsync("v1/default/h.bin?stat", DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b-c.d_e"] = "two words" }, stat!.Metadata);
    }

    [Theory]
    [InlineData("""{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": "65-character name"}""")]
    [InlineData("""{"": "empty name"}""")]
    [InlineData("""{"a b": "space in the name"}""")]
    [InlineData("""{"ü": "non-ASCII name"}""")]
    [InlineData("""{"a/b": "slash in the name"}""")]
    [InlineData("""{"bell": "\u0007"}""")]
    [InlineData("""{"newline": "a\nb"}""")]
    [InlineData("""{"Same": "1", "same": "2"}""")]
    [InlineData("""{"a": 1}""")]
    [InlineData("""{"a": ["x"]}""")]
    [InlineData("""["a", "b"]""")]
    [InlineData("""not json""")]
    [InlineData("""{"a": "1" """)]
    [InlineData("")]
    [InlineData("null")]
    public async Task MetaPut_InvalidBody_Answers400AndKeepsTheMetadata(string body)
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await SendAsync(server.Client, HttpMethod.Put, "v.bin", [1], configure: r => r.Headers.Add(DepotHeaders.MetaPrefix + "keep", "me")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var response = await JsonAsync(server.Client, HttpMethod.Put, "v.bin?meta", body);

        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
        await AssertMetaAsync(server, "v.bin", TestBytes.ETagOf([1]), new() { ["keep"] = "me" });
    }

    [Fact]
    public async Task Meta_NameAndValueAtTheLimits_AreAcceptedOneMoreIsRefused()
    {
        await using var server = await DepotTestServer.StartAsync();
        await CreateAppenderAsync(server, "l.bin", [1]);
        var name64 = new string('n', 64);
        var value256 = new string('é', 128); // 256 UTF-8 bytes
        var value257 = value256 + "x";

        using (var ok = await JsonAsync(server.Client, HttpMethod.Put, "l.bin?meta", JsonSerializer.Serialize(new Dictionary<string, string> { [name64] = value256 })))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var longValue = await JsonAsync(server.Client, HttpMethod.Patch, "l.bin?meta", JsonSerializer.Serialize(new Dictionary<string, string> { ["v"] = value257 })))
        {
            await Problem.AssertAsync(longValue, HttpStatusCode.BadRequest, "invalid_request");
        }

        using (var longName = await JsonAsync(server.Client, HttpMethod.Patch, "l.bin?meta", JsonSerializer.Serialize(new Dictionary<string, string> { [name64 + "n"] = "v" })))
        {
            await Problem.AssertAsync(longName, HttpStatusCode.BadRequest, "invalid_request");
        }

        using (var viaHeader = await SendAsync(server.Client, HttpMethod.Put, "h.bin", [1], configure: r => r.Headers.Add(DepotHeaders.MetaPrefix + "v", Uri.EscapeDataString(value257))))
        {
            await Problem.AssertAsync(viaHeader, HttpStatusCode.BadRequest, "invalid_request");
        }

        await AssertMetaAsync(server, "l.bin", TestBytes.ETagOf([1]), new() { [name64] = value256 });
    }

    [Fact]
    public async Task Meta_ConfiguredValueLimit_RefusesLongerValues()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxMetadataValueBytes = 8);
        await CreateAppenderAsync(server, "c.bin", [1]);

        using (var eight = await JsonAsync(server.Client, HttpMethod.Put, "c.bin?meta", """{"v": "12345678"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, eight.StatusCode);
        }

        using (var nine = await JsonAsync(server.Client, HttpMethod.Put, "c.bin?meta", """{"v": "123456789"}"""))
        {
            await Problem.AssertAsync(nine, HttpStatusCode.BadRequest, "invalid_request");
        }

        using (var nineBytes = await JsonAsync(server.Client, HttpMethod.Patch, "c.bin?meta", """{"w": "1234567é"}""")) // 7 chars, 9 bytes
        {
            await Problem.AssertAsync(nineBytes, HttpStatusCode.BadRequest, "invalid_request");
        }

        using (var viaHeader = await SendAsync(server.Client, HttpMethod.Put, "d.bin", [1], configure: r => r.Headers.Add(DepotHeaders.MetaPrefix + "v", "123456789")))
        {
            await Problem.AssertAsync(viaHeader, HttpStatusCode.BadRequest, "invalid_request");
        }

        await AssertMetaAsync(server, "c.bin", TestBytes.ETagOf([1]), new() { ["v"] = "12345678" });
    }

    [Fact]
    public async Task Meta_MissingObject_Answers404()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var get = await server.Client.GetAsync("v1/default/nothing.bin?meta", Ct);
        using var put = await JsonAsync(server.Client, HttpMethod.Put, "nothing.bin?meta", """{"a": "b"}""");
        using var patch = await JsonAsync(server.Client, HttpMethod.Patch, "nothing.bin?meta", """{"a": "b"}""");
        using var delete = await server.Client.DeleteAsync("v1/default/nothing.bin?meta=a", Ct);

        foreach (var response in new[] { get, put, patch, delete })
        {
            await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
        }

        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "nothing.bin")));
    }

    [Fact]
    public async Task MetaDelete_WithoutNames_Answers400()
    {
        await using var server = await DepotTestServer.StartAsync();
        await CreateAppenderAsync(server, "d.bin", [1]);

        using var delete = await server.Client.DeleteAsync("v1/default/d.bin?meta", Ct);

        await Problem.AssertAsync(delete, HttpStatusCode.BadRequest, "invalid_request");
        Assert.Equal([1], await server.Client.GetByteArrayAsync("v1/default/d.bin", Ct)); // not deleted as an object
    }

    [Fact]
    public async Task Meta_ReadOnlyKey_ReadsButCannotChange()
    {
        await using var server = await DepotTestServer.StartAsync();
        await CreateAppenderAsync(server, "r.bin", [1]);
        var key = await server.CreateKeyAsync(["read"]);
        using var client = server.CreateClient(key.Token);

        using var get = await client.GetAsync("v1/default/r.bin?meta", Ct);
        using var put = await JsonAsync(client, HttpMethod.Put, "r.bin?meta", """{"a": "b"}""");

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        await Problem.AssertAsync(put, HttpStatusCode.Forbidden, "forbidden");
    }

    // ---- Cluster info ----

    [Fact]
    public async Task Cluster_Get_DescribesBucketsWithUsageAndTheServer()
    {
        await using var server = await DepotTestServer.StartAsync();
        var before = await GetClusterAsync(server.Client, "v1/_cluster");
        var bucket = Assert.Single(before.Buckets);
        Assert.Equal("default", bucket.Name);
        Assert.True(bucket.TotalBytes > 0, "totalBytes");
        Assert.True(bucket.FreeBytes > 0 && bucket.FreeBytes <= bucket.TotalBytes, "freeBytes");
        Assert.Equal(0, bucket.ObjectCount);
        Assert.Equal(0, bucket.BytesUsed);
        Assert.False(bucket.ReadOnly);
        Assert.Equal(server.Options.MaxObjectSize, bucket.MaxObjectSize);

        foreach (var (size, i) in new[] { 100, 2000, 30_000 }.Select((s, i) => (s, i)))
        {
            using var put = await SendAsync(server.Client, HttpMethod.Put, $"c/{i}.bin", TestBytes.Random(size, seed: 50 + i));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var after = await GetClusterAsync(server.Client, "v1/_cluster");
        Assert.Equal((3L, 32_100L), (after.Buckets[0].ObjectCount, after.Buckets[0].BytesUsed));
        var node = Assert.Single(after.Servers);
        Assert.Equal(server.BaseUrl.Authority, node.Address);
        Assert.Equal(NodeInfo.Version, node.Version);
        Assert.False(string.IsNullOrEmpty(node.Version));
        Assert.False(string.IsNullOrEmpty(node.Id));
        Assert.Equal("active", node.Status);
        Assert.InRange(node.UptimeSeconds, 0, 600);
        Assert.InRange(node.Started, DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddSeconds(1));

        // Uptime counts: it reaches one second.
        var until = DateTime.UtcNow.AddSeconds(10);
        while ((await GetClusterAsync(server.Client, "v1/_cluster")).Servers[0].UptimeSeconds < 1)
        {
            Assert.True(DateTime.UtcNow < until, "uptimeSeconds stays at 0");
            await Task.Delay(200, Ct);
        }

        // A deletion shows too.
        using (var delete = await server.Client.DeleteAsync("v1/default/c/2.bin", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        var afterDelete = await GetClusterAsync(server.Client, "v1/_cluster");
        Assert.Equal((2L, 2100L), (afterDelete.Buckets[0].ObjectCount, afterDelete.Buckets[0].BytesUsed));
    }

    [Fact]
    public async Task Cluster_JsonMembers_AreTheDocumentedOnes()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.Client.GetAsync("v1/_cluster", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var bucket = json.RootElement.GetProperty("buckets")[0];
        foreach (var name in new[] { "name", "totalBytes", "freeBytes", "objectCount", "bytesUsed", "readOnly", "maxObjectSize" })
        {
            Assert.True(bucket.TryGetProperty(name, out _), $"bucket member {name}");
        }

        var node = json.RootElement.GetProperty("servers")[0];
        foreach (var name in new[] { "id", "address", "version", "uptimeSeconds", "status" })
        {
            Assert.True(node.TryGetProperty(name, out _), $"server member {name}");
        }
    }

    [Fact]
    public async Task Cluster_GetOneBucket_DescribesItWithItsServers()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) => o.Buckets["photos"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "photos"), ReadOnly = true });
        using (var put = await SendAsync(server.Client, HttpMethod.Put, "x.bin", TestBytes.Random(10, seed: 60)))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var all = await GetClusterAsync(server.Client, "v1/_cluster");
        var one = await GetClusterAsync(server.Client, "v1/_cluster/default");
        var photos = await GetClusterAsync(server.Client, "v1/_cluster/photos");

        Assert.Equal(["default", "photos"], all.Buckets.Select(b => b.Name));
        var bucket = Assert.Single(one.Buckets);
        Assert.Equal(("default", 1L, 10L), (bucket.Name, bucket.ObjectCount, bucket.BytesUsed));
        Assert.Equal([server.BaseUrl.Authority], bucket.Servers);
        Assert.Equal(server.BaseUrl.Authority, Assert.Single(one.Servers).Address);
        Assert.Equal(("photos", 0L, true), (photos.Buckets.Single().Name, photos.Buckets.Single().ObjectCount, photos.Buckets.Single().ReadOnly));
    }

    [Theory]
    [InlineData("v1/_cluster/nope")]
    [InlineData("v1/_cluster/NOPE")]
    [InlineData("v1/_cluster/_keys")]
    public async Task Cluster_UnknownBucket_Answers404(string url)
    {
        await using var server = await DepotTestServer.StartAsync();

        using var response = await server.Client.GetAsync(url, Ct);

        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Cluster_BucketLimitedKey_SeesOnlyItsBucket()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) => o.Buckets["photos"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "photos") });
        var key = await server.CreateKeyAsync(["read"], bucket: "photos");
        using var client = server.CreateClient(key.Token);

        var all = await GetClusterAsync(client, "v1/_cluster");
        var photos = await GetClusterAsync(client, "v1/_cluster/photos");
        using var other = await client.GetAsync("v1/_cluster/default", Ct);

        Assert.Equal("photos", Assert.Single(all.Buckets).Name);
        Assert.Equal("photos", Assert.Single(photos.Buckets).Name);
        await Problem.AssertAsync(other, HttpStatusCode.NotFound, "not_found");
    }

    [Theory]
    [InlineData("v1/_cluster")]
    [InlineData("v1/_cluster/default")]
    [InlineData("v1/_cluster/nope")]
    public async Task Cluster_WithoutKey_Answers401(string url)
    {
        await using var server = await DepotTestServer.StartAsync();
        using var anonymous = server.CreateClient(null);

        using var response = await anonymous.GetAsync(url, Ct);

        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    // ---- Helpers ----

    private static async Task CreateAppenderAsync(DepotTestServer server, string key, byte[] bytes)
    {
        using var put = await PutAppendableAsync(server.Client, key, bytes);
        Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync(Ct));
    }

    private static Task<HttpResponseMessage> PutAppendableAsync(HttpClient client, string key, byte[] bytes) =>
        SendAsync(client, HttpMethod.Put, key + "?appendable", bytes);

    /// <summary>A request on <c>v1/default/{pathAndQuery}</c> with the bytes as body, with a Content-Length or chunked.</summary>
    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string pathAndQuery, byte[] body, bool chunked = false, Action<HttpRequestMessage>? configure = null)
    {
        HttpContent content = chunked ? new StreamContent(new ForwardOnlyStream(body), 64 << 10) : new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var request = new HttpRequestMessage(method, "v1/default/" + pathAndQuery) { Content = content };
        if (chunked)
        {
            request.Headers.TransferEncodingChunked = true;
        }

        configure?.Invoke(request);
        return await client.SendAsync(request, Ct);
    }

    private static async Task<HttpResponseMessage> JsonAsync(HttpClient client, HttpMethod method, string pathAndQuery, string json)
    {
        using var request = new HttpRequestMessage(method, "v1/default/" + pathAndQuery) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        return await client.SendAsync(request, Ct);
    }

    private static Task<HttpResponseMessage> HeadAsync(HttpClient client, string key) =>
        client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/default/" + key), Ct);

    private static async Task<ObjectInfoDto> ReadInfoAsync(HttpResponseMessage response)
    {
        var info = await response.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.NotNull(info);
        return info;
    }

    /// <summary>The answer to a change describes exactly <paramref name="expected"/>: status 200/201, size, SHA-256 and
    /// ETag in headers and body, appendable.</summary>
    private static async Task AssertAnswerAsync(HttpResponseMessage response, byte[] expected)
    {
        var sha = TestBytes.Sha256Hex(expected);
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(Ct)}");
        Assert.Equal(sha, Header(response, DepotHeaders.Sha256));
        Assert.Equal($"\"{sha}\"", response.Headers.ETag?.ToString());
        Assert.Equal("true", Header(response, DepotHeaders.Appendable));
        var info = await ReadInfoAsync(response);
        Assert.Equal((expected.LongLength, sha, $"\"{sha}\"", true), (info.Size, info.Sha256, info.ETag, info.Appendable));
    }

    /// <summary>GET serves exactly <paramref name="expected"/> with its SHA-256 as ETag and X-Depot-Sha256, HEAD and
    /// ?stat agree, and the plain file on disk holds the same bytes.</summary>
    private static async Task AssertStoredAsync(DepotTestServer server, string key, byte[] expected)
    {
        var sha = TestBytes.Sha256Hex(expected);
        using var get = await server.Client.GetAsync("v1/default/" + key, Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var served = await get.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(expected.Length, served.Length);
        Assert.True(expected.AsSpan().SequenceEqual(served), "the served bytes differ");
        Assert.Equal(sha, Header(get, DepotHeaders.Sha256));
        Assert.Equal($"\"{sha}\"", get.Headers.ETag?.ToString());
        Assert.Equal("true", Header(get, DepotHeaders.Appendable));

        using var head = await HeadAsync(server.Client, key);
        Assert.Equal($"\"{sha}\"", head.Headers.ETag?.ToString());
        Assert.Equal(expected.Length, head.Content.Headers.ContentLength);
        var stat = await server.Client.GetFromJsonAsync("v1/default/" + key + "?stat", DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal((expected.LongLength, sha, true), (stat!.Size, stat.Sha256, stat.Appendable));

        var onDisk = await File.ReadAllBytesAsync(Path.Combine([server.DataDirectory, .. key.Split('/')]), Ct);
        Assert.True(expected.AsSpan().SequenceEqual(onDisk), $"the file on disk differs ({onDisk.Length} bytes, {expected.Length} expected)");
    }

    /// <summary>GET ?meta answers exactly <paramref name="expected"/>; HEAD shows the same as headers and the ETag is
    /// unchanged.</summary>
    private static async Task AssertMetaAsync(DepotTestServer server, string key, string etag, Dictionary<string, string> expected)
    {
        using (var get = await server.Client.GetAsync("v1/default/" + key + "?meta", Ct))
        {
            await AssertMetaAnswerAsync(get, etag, expected);
        }

        using var head = await HeadAsync(server.Client, key);
        Assert.Equal(etag, head.Headers.ETag?.ToString());
        var shown = head.Headers.Where(h => h.Key.StartsWith(DepotHeaders.MetaPrefix, StringComparison.OrdinalIgnoreCase))
            .ToDictionary(h => h.Key[DepotHeaders.MetaPrefix.Length..], h => Uri.UnescapeDataString(h.Value.Single()), StringComparer.Ordinal);
        Assert.Equal(expected, shown);
    }

    /// <summary>A ?meta answer: 200, the object's unchanged ETag, and <c>{"metadata": {...}}</c> (spec: "GET ?meta -&gt;
    /// 200 {"metadata":{...}}").</summary>
    private static async Task AssertMetaAnswerAsync(HttpResponseMessage response, string etag, Dictionary<string, string> expected)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(etag, response.Headers.ETag?.ToString());
        using var json = JsonDocument.Parse(text);
        Assert.True(json.RootElement.TryGetProperty("metadata", out var metadata), $"no \"metadata\" member: {text}");
        var actual = metadata.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
        Assert.Equal(expected, actual);
    }

    private static async Task<ClusterDto> GetClusterAsync(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return JsonSerializer.Deserialize(text, DepotJson.Default.ClusterDto)!;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(",", values)
            : null;

    /// <summary>The bytes as a stream that cannot seek, so that HttpClient sends it chunked, without a length. With
    /// <paramref name="failAtEnd"/> it throws after the bytes instead of ending: the client aborts part-way through.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes, bool failAtEnd = false) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (failAtEnd && _position >= bytes.Length)
            {
                throw new IOException("The test body fails here.");
            }

            var n = Math.Min(count, bytes.Length - _position);
            Array.Copy(bytes, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
