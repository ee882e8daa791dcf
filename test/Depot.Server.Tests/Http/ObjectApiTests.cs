using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Depot.Protocol;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace Depot.Server.Tests.Http;

/// <summary>The native object API (docs/http-api.md) against a real Kestrel: uploads, downloads, ranges, conditionals,
/// directories, listing, move and copy, metadata, and the shape of every error.</summary>
public sealed class ObjectApiTests
{
    private static readonly MediaTypeHeaderValue OctetStream = new("application/octet-stream");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Put_ThenGet_RoundtripsBytesAndDescriptiveHeaders()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(100_000, seed: 1);
        var sha = TestBytes.Sha256Hex(bytes);

        using var put = await PutAsync(server.Client, "v1/default/photos/cat.bin", bytes, "image/x-test");
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal($"\"{sha}\"", put.Headers.ETag?.ToString());
        Assert.Equal(sha, Header(put, DepotHeaders.Sha256));
        Assert.Equal("/v1/default/photos/cat.bin", put.Headers.Location?.OriginalString);
        var info = await put.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(("default", "photos/cat.bin", "file", 100_000L, sha, $"\"{sha}\"", "image/x-test"), (info!.Bucket, info.Key, info.Type, info.Size, info.Sha256, info.ETag, info.ContentType));

        using var get = await server.Client.GetAsync("v1/default/photos/cat.bin", Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(bytes, await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal($"\"{sha}\"", get.Headers.ETag?.ToString());
        Assert.False(get.Headers.ETag!.IsWeak);
        Assert.Equal(sha, Header(get, DepotHeaders.Sha256));
        Assert.Equal("image/x-test", get.Content.Headers.ContentType?.ToString());
        Assert.Equal(100_000, get.Content.Headers.ContentLength);
        Assert.Equal("bytes", get.Headers.AcceptRanges.Single());
        var lastModified = get.Content.Headers.LastModified;
        Assert.NotNull(lastModified);
        Assert.InRange(lastModified.Value, DateTimeOffset.UtcNow.AddMinutes(-2), DateTimeOffset.UtcNow.AddMinutes(1));
        var disposition = get.Content.Headers.ContentDisposition;
        Assert.Equal("inline", disposition?.DispositionType);
        Assert.Equal("cat.bin", disposition?.FileName?.Trim('"'));
        Assert.Equal("cat.bin", disposition?.FileNameStar);

        // The object is a plain file at its key path (design §3).
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "photos", "cat.bin"), Ct));
    }

    [Fact]
    public async Task Get_WithDownloadSwitch_AnswersAttachmentDisposition()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/report.pdf", [1, 2, 3]); // no Content-Type
        using var get = await server.Client.GetAsync("v1/default/report.pdf?download=1", Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("attachment", get.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("application/pdf", get.Content.Headers.ContentType?.MediaType); // guessed from the name
    }

    [Fact]
    public async Task Put_NewKeyThenSameKey_Answers201Then200AndServesTheNewBytes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var first = TestBytes.Random(1000, seed: 2);
        var second = TestBytes.Random(1500, seed: 3);

        using var created = await PutAsync(server.Client, "v1/default/doc.bin", first);
        using var replaced = await PutAsync(server.Client, "v1/default/doc.bin", second);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal(TestBytes.ETagOf(second), replaced.Headers.ETag?.ToString());
        Assert.Equal(second, await server.Client.GetByteArrayAsync("v1/default/doc.bin", Ct));
    }

    [Fact]
    public async Task Put_Streamed64MiBChunkedFromNonSeekableStream_StoresExactBytesAndStagesNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        const long size = 64L << 20;
        var source = new GeneratedStream(size, seed: 42);
        using var request = new HttpRequestMessage(HttpMethod.Put, "v1/default/big/blob.bin") { Content = new StreamContent(source, 128 << 10) };
        request.Content.Headers.ContentType = OctetStream;
        request.Headers.TransferEncodingChunked = true;
        Assert.Null(request.Content.Headers.ContentLength);

        using var put = await server.Client.SendAsync(request, Ct);
        var sentSha = source.FinishSha256Hex();
        Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync(Ct));
        Assert.Equal(size, source.Produced);
        Assert.Equal(sentSha, Header(put, DepotHeaders.Sha256));
        Assert.Equal($"\"{sentSha}\"", put.Headers.ETag?.ToString());

        var onDisk = Path.Combine(server.DataDirectory, "big", "blob.bin");
        Assert.Equal(size, new FileInfo(onDisk).Length);
        await using (var file = File.OpenRead(onDisk))
        {
            Assert.Equal(sentSha, Convert.ToHexStringLower(await SHA256.HashDataAsync(file, Ct)));
        }

        using var get = await server.Client.GetAsync("v1/default/big/blob.bin", HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(size, get.Content.Headers.ContentLength);
        await using (var body = await get.Content.ReadAsStreamAsync(Ct))
        {
            Assert.Equal(sentSha, Convert.ToHexStringLower(await SHA256.HashDataAsync(body, Ct)));
        }

        Assert.Empty(StagedFiles(server));
    }

    [Fact]
    public async Task Put_ContentMd5Mismatch_Answers422AndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 4);
        using var request = PutRequest("v1/default/md5.bin", bytes);
        request.Content!.Headers.ContentMD5 = Md5(TestBytes.Random(5000, seed: 5));

        using var put = await server.Client.SendAsync(request, Ct);

        await Problem.AssertAsync(put, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
        await AssertAbsentAsync(server, "md5.bin");
    }

    [Fact]
    public async Task Put_ContentMd5Matching_IsAccepted()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(5000, seed: 4);
        using var request = PutRequest("v1/default/md5.bin", bytes);
        request.Content!.Headers.ContentMD5 = Md5(bytes);

        using var put = await server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }

    [Fact]
    public async Task Put_Sha256Mismatch_Answers422AndKeepsThePreviousVersion()
    {
        await using var server = await DepotTestServer.StartAsync();
        var original = TestBytes.Random(3000, seed: 6);
        using (var first = await PutAsync(server.Client, "v1/default/kept.bin", original))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        var replacement = TestBytes.Random(3000, seed: 7);
        using var request = PutRequest("v1/default/kept.bin", replacement);
        request.Headers.Add(DepotHeaders.Sha256, TestBytes.Sha256Hex(original)); // the wrong one for this body
        using var put = await server.Client.SendAsync(request, Ct);

        await Problem.AssertAsync(put, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
        Assert.Equal(original, await server.Client.GetByteArrayAsync("v1/default/kept.bin", Ct));
        Assert.Empty(StagedFiles(server));
    }

    [Fact]
    public async Task Put_Sha256MismatchOnNewKey_StoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = PutRequest("v1/default/new.bin", [1, 2, 3]);
        request.Headers.Add(DepotHeaders.Sha256, new string('0', 64));

        using var put = await server.Client.SendAsync(request, Ct);

        await Problem.AssertAsync(put, HttpStatusCode.UnprocessableEntity, "checksum_mismatch");
        await AssertAbsentAsync(server, "new.bin");
    }

    [Theory]
    [InlineData("Content-MD5", "not base64!")]
    [InlineData("Content-MD5", "AAAAAAAAAAAAAAAAAAAA")] // base64 of 15 bytes
    [InlineData("X-Depot-Sha256", "abc")]
    [InlineData("X-Depot-Sha256", "zz00000000000000000000000000000000000000000000000000000000000000")]
    public async Task Put_MalformedChecksumHeader_Answers400AndStoresNothing(string header, string value)
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = PutRequest("v1/default/bad.bin", [1, 2, 3]);
        if (header == "Content-MD5")
        {
            Assert.True(request.Content!.Headers.TryAddWithoutValidation(header, value));
        }
        else
        {
            request.Headers.Add(header, value);
        }

        using var put = await server.Client.SendAsync(request, Ct);

        await Problem.AssertAsync(put, HttpStatusCode.BadRequest, "invalid_request");
        await AssertAbsentAsync(server, "bad.bin");
    }

    [Fact]
    public async Task Put_IfNoneMatchStar_CreatesOnceThenAnswers409AlreadyExists()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var first = PutRequest("v1/default/once.txt", "first"u8.ToArray());
        first.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Any);
        using var created = await server.Client.SendAsync(first, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        using var second = PutRequest("v1/default/once.txt", "second"u8.ToArray());
        second.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Any);
        using var refused = await server.Client.SendAsync(second, Ct);

        await Problem.AssertAsync(refused, HttpStatusCode.Conflict, "already_exists");
        Assert.Equal("first", await server.Client.GetStringAsync("v1/default/once.txt", Ct));
    }

    [Fact]
    public async Task Put_IfMatchCurrentETag_ReplacesTheObject()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var created = await PutAsync(server.Client, "v1/default/cas.txt", "v1"u8.ToArray());
        using var request = PutRequest("v1/default/cas.txt", "v2"u8.ToArray());
        request.Headers.IfMatch.Add(created.Headers.ETag!);

        using var swapped = await server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, swapped.StatusCode);
        Assert.Equal("v2", await server.Client.GetStringAsync("v1/default/cas.txt", Ct));
    }

    [Fact]
    public async Task Put_IfMatchStaleETag_Answers412WithTheCurrentETag()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var v1 = await PutAsync(server.Client, "v1/default/cas.txt", "v1"u8.ToArray());
        using var v2 = await PutAsync(server.Client, "v1/default/cas.txt", "v2"u8.ToArray());
        using var request = PutRequest("v1/default/cas.txt", "v3"u8.ToArray());
        request.Headers.IfMatch.Add(v1.Headers.ETag!);

        using var refused = await server.Client.SendAsync(request, Ct);

        var problem = await Problem.AssertAsync(refused, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal(TestBytes.ETagOf("v2"u8.ToArray()), problem.GetProperty("etag").GetString());
        Assert.Equal("v2", await server.Client.GetStringAsync("v1/default/cas.txt", Ct));
    }

    [Fact]
    public async Task Head_File_AnswersTheGetHeadersWithoutBody()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(4321, seed: 8);
        using var put = await PutAsync(server.Client, "v1/default/h.bin", bytes, "application/x-h");

        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/default/h.bin"), Ct);

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(4321, head.Content.Headers.ContentLength);
        Assert.Equal(TestBytes.ETagOf(bytes), head.Headers.ETag?.ToString());
        Assert.Equal(TestBytes.Sha256Hex(bytes), Header(head, DepotHeaders.Sha256));
        Assert.Equal("file", Header(head, DepotHeaders.EntryType));
        Assert.Equal("application/x-h", head.Content.Headers.ContentType?.ToString());
        Assert.NotNull(head.Content.Headers.LastModified);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task Head_Missing_Answers404ProblemTypeWithoutBody()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/default/none.bin"), Ct);
        await Problem.AssertHeadAsync(head, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Get_SingleRange_Answers206WithContentRange()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(1000, seed: 9);
        using var put = await PutAsync(server.Client, "v1/default/r.bin", bytes);

        using var get = await GetWithAsync(server.Client, "v1/default/r.bin", r => r.Headers.Range = new RangeHeaderValue(10, 19));

        Assert.Equal(HttpStatusCode.PartialContent, get.StatusCode);
        Assert.Equal("bytes 10-19/1000", get.Content.Headers.ContentRange?.ToString());
        Assert.Equal(10, get.Content.Headers.ContentLength);
        Assert.Equal(bytes[10..20], await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(TestBytes.ETagOf(bytes), get.Headers.ETag?.ToString());
    }

    [Fact]
    public async Task Get_MultipleRanges_AnswersMultipartByterangesWithEachPart()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(1000, seed: 10);
        using var put = await PutAsync(server.Client, "v1/default/m.bin", bytes, "application/x-m");

        using var get = await GetWithAsync(server.Client, "v1/default/m.bin", r => r.Headers.TryAddWithoutValidation("Range", "bytes=0-9, 100-149, 900-"));

        Assert.Equal(HttpStatusCode.PartialContent, get.StatusCode);
        var type = get.Content.Headers.ContentType!;
        Assert.Equal("multipart/byteranges", type.MediaType);
        var boundary = type.Parameters.Single(p => p.Name == "boundary").Value!.Trim('"');
        var body = await get.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(body.Length, get.Content.Headers.ContentLength);

        var reader = new MultipartReader(boundary, new MemoryStream(body));
        var parts = new List<(string Range, string? Type, byte[] Bytes)>();
        while (await reader.ReadNextSectionAsync(Ct) is { } section)
        {
            using var copy = new MemoryStream();
            await section.Body.CopyToAsync(copy, Ct);
            parts.Add((section.Headers!["Content-Range"].ToString(), section.ContentType, copy.ToArray()));
        }

        Assert.Equal(["bytes 0-9/1000", "bytes 100-149/1000", "bytes 900-999/1000"], parts.Select(p => p.Range));
        Assert.All(parts, p => Assert.Equal("application/x-m", p.Type));
        Assert.Equal(bytes[0..10], parts[0].Bytes);
        Assert.Equal(bytes[100..150], parts[1].Bytes);
        Assert.Equal(bytes[900..1000], parts[2].Bytes);
    }

    [Fact]
    public async Task Get_SuffixRange_AnswersTheLastBytes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(1000, seed: 11);
        using var put = await PutAsync(server.Client, "v1/default/s.bin", bytes);

        using var get = await GetWithAsync(server.Client, "v1/default/s.bin", r => r.Headers.Range = new RangeHeaderValue(null, 100));

        Assert.Equal(HttpStatusCode.PartialContent, get.StatusCode);
        Assert.Equal("bytes 900-999/1000", get.Content.Headers.ContentRange?.ToString());
        Assert.Equal(bytes[900..], await get.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task Get_RangePastEnd_Answers416ProblemWithContentRangeOfTheSize()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/p.bin", TestBytes.Random(1000, seed: 12));

        using var get = await GetWithAsync(server.Client, "v1/default/p.bin", r => r.Headers.Range = new RangeHeaderValue(5000, 6000));

        await Problem.AssertAsync(get, HttpStatusCode.RequestedRangeNotSatisfiable, "range_not_satisfiable");
        // RFC 9110 §15.5.17: a 416 to a byte-range request SHOULD send Content-Range: bytes */{length}.
        Assert.Equal("bytes */1000", get.Content.Headers.ContentRange?.ToString());
    }

    [Fact]
    public async Task Get_OverlappingRanges_AreMergedIntoOne()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(1000, seed: 17);
        using var put = await PutAsync(server.Client, "v1/default/o.bin", bytes);

        using var get = await GetWithAsync(server.Client, "v1/default/o.bin", r => r.Headers.TryAddWithoutValidation("Range", "bytes=0-10,5-20"));

        Assert.Equal(HttpStatusCode.PartialContent, get.StatusCode);
        Assert.Equal("bytes 0-20/1000", get.Content.Headers.ContentRange?.ToString());
        Assert.Equal(bytes[..21], await get.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task Get_RangeOnZeroByteObject_Answers416WithContentRangeOfZero()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/zero.bin", []);

        using var get = await GetWithAsync(server.Client, "v1/default/zero.bin", r => r.Headers.Range = new RangeHeaderValue(0, 0));

        await Problem.AssertAsync(get, HttpStatusCode.RequestedRangeNotSatisfiable, "range_not_satisfiable");
        Assert.Equal("bytes */0", get.Content.Headers.ContentRange?.ToString());
    }

    [Fact]
    public async Task Get_IfUnmodifiedSinceBeforeLastModified_Answers412()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/ius.txt", "x"u8.ToArray());

        using var get = await GetWithAsync(server.Client, "v1/default/ius.txt", r => r.Headers.IfUnmodifiedSince = DateTimeOffset.UtcNow.AddDays(-1));

        await Problem.AssertAsync(get, HttpStatusCode.PreconditionFailed, "precondition_failed");
    }

    [Fact]
    public async Task Get_IfNoneMatchCurrentETag_Answers304WithoutBody()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/c.txt", "cached"u8.ToArray());

        using var get = await GetWithAsync(server.Client, "v1/default/c.txt", r => r.Headers.IfNoneMatch.Add(put.Headers.ETag!));

        Assert.Equal(HttpStatusCode.NotModified, get.StatusCode);
        Assert.Equal(put.Headers.ETag, get.Headers.ETag);
        Assert.Empty(await get.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task Get_IfNoneMatchOtherETag_Answers200()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/c.txt", "cached"u8.ToArray());

        using var get = await GetWithAsync(server.Client, "v1/default/c.txt", r => r.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"other\"")));

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("cached", await get.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Get_IfModifiedSinceLastModified_Answers304AndEarlierDateAnswers200()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/ims.txt", "dated"u8.ToArray());
        using var first = await server.Client.GetAsync("v1/default/ims.txt", Ct);
        var lastModified = first.Content.Headers.LastModified!.Value;

        using var same = await GetWithAsync(server.Client, "v1/default/ims.txt", r => r.Headers.IfModifiedSince = lastModified);
        using var earlier = await GetWithAsync(server.Client, "v1/default/ims.txt", r => r.Headers.IfModifiedSince = lastModified.AddHours(-1));

        Assert.Equal(HttpStatusCode.NotModified, same.StatusCode);
        Assert.Empty(await same.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(HttpStatusCode.OK, earlier.StatusCode);
        Assert.Equal("dated", await earlier.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Get_IfMatchOtherETag_Answers412ProblemWithTheCurrentETag()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/im.txt", "body"u8.ToArray());

        using var get = await GetWithAsync(server.Client, "v1/default/im.txt", r => r.Headers.IfMatch.Add(new EntityTagHeaderValue("\"stale\"")));

        var problem = await Problem.AssertAsync(get, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal(put.Headers.ETag!.ToString(), problem.GetProperty("etag").GetString());
    }

    [Fact]
    public async Task Get_IfRangeStaleETag_AnswersTheWholeObject()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(1000, seed: 13);
        using var put = await PutAsync(server.Client, "v1/default/ir.bin", bytes);

        using var stale = await GetWithAsync(server.Client, "v1/default/ir.bin", r =>
        {
            r.Headers.Range = new RangeHeaderValue(0, 99);
            r.Headers.IfRange = new RangeConditionHeaderValue(new EntityTagHeaderValue("\"stale\""));
        });
        using var current = await GetWithAsync(server.Client, "v1/default/ir.bin", r =>
        {
            r.Headers.Range = new RangeHeaderValue(0, 99);
            r.Headers.IfRange = new RangeConditionHeaderValue(put.Headers.ETag!);
        });

        Assert.Equal(HttpStatusCode.OK, stale.StatusCode);
        Assert.Null(stale.Content.Headers.ContentRange);
        Assert.Equal(bytes, await stale.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(HttpStatusCode.PartialContent, current.StatusCode);
        Assert.Equal(bytes[..100], await current.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task PutGet_ZeroByteObject_RoundtripsWithTheEmptyChecksum()
    {
        await using var server = await DepotTestServer.StartAsync();
        var emptySha = TestBytes.Sha256Hex([]);

        using var put = await PutAsync(server.Client, "v1/default/empty.txt", []);
        using var get = await server.Client.GetAsync("v1/default/empty.txt", Ct);
        using var stat = await server.Client.GetAsync("v1/default/empty.txt?stat", Ct);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal($"\"{emptySha}\"", put.Headers.ETag?.ToString());
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(0, get.Content.Headers.ContentLength);
        Assert.Empty(await get.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal(emptySha, Header(get, DepotHeaders.Sha256));
        var info = await stat.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal((0L, emptySha), (info!.Size, info.Sha256));
        Assert.Equal(0, new FileInfo(Path.Combine(server.DataDirectory, "empty.txt")).Length);
    }

    [Fact]
    public async Task Delete_File_Answers204ThenTheObjectIsGone()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/gone.txt", "x"u8.ToArray());

        using var deleted = await server.Client.DeleteAsync("v1/default/gone.txt", Ct);
        using var again = await server.Client.DeleteAsync("v1/default/gone.txt", Ct);
        using var get = await server.Client.GetAsync("v1/default/gone.txt", Ct);

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await Problem.AssertAsync(again, HttpStatusCode.NotFound, "not_found");
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "gone.txt")));
    }

    [Fact]
    public async Task Delete_IfMatchStaleETag_Answers412AndKeepsTheFile()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/cd.txt", "v1"u8.ToArray());
        using var stale = new HttpRequestMessage(HttpMethod.Delete, "v1/default/cd.txt");
        stale.Headers.IfMatch.Add(new EntityTagHeaderValue("\"" + new string('0', 64) + "\""));
        using var current = new HttpRequestMessage(HttpMethod.Delete, "v1/default/cd.txt");
        current.Headers.IfMatch.Add(put.Headers.ETag!);

        using var refused = await server.Client.SendAsync(stale, Ct);
        var problem = await Problem.AssertAsync(refused, HttpStatusCode.PreconditionFailed, "precondition_failed");
        Assert.Equal(put.Headers.ETag!.ToString(), problem.GetProperty("etag").GetString());
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "cd.txt")));

        using var deleted = await server.Client.SendAsync(current, Ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "cd.txt")));
    }

    [Fact]
    public async Task Put_BelowAFileOrOntoADirectory_Answers409ConflictAndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var file = await PutAsync(server.Client, "v1/default/f.txt", "file"u8.ToArray());
        using var dir = await server.Client.PutAsync("v1/default/d/", new ByteArrayContent([]), Ct);

        using var below = await PutAsync(server.Client, "v1/default/f.txt/child.txt", [1]);
        using var onto = await PutAsync(server.Client, "v1/default/d", [1]);
        using var mkdirOnFile = await server.Client.PutAsync("v1/default/f.txt/", new ByteArrayContent([]), Ct);

        await Problem.AssertAsync(below, HttpStatusCode.Conflict, "conflict");
        await Problem.AssertAsync(onto, HttpStatusCode.Conflict, "conflict");
        await Problem.AssertAsync(mkdirOnFile, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("file", await server.Client.GetStringAsync("v1/default/f.txt", Ct));
        Assert.True(Directory.Exists(Path.Combine(server.DataDirectory, "d")));
        Assert.Empty(StagedFiles(server));
    }

    [Fact]
    public async Task Put_UnicodeAndSpacesInKey_StoredUnderTheDecodedNameWithEncodedLocation()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = "unicode"u8.ToArray();

        using var put = await PutAsync(server.Client, "v1/default/caf%C3%A9/na%20me%2Bplus.txt", bytes);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var info = await put.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal("café/na me+plus.txt", info!.Key);
        Assert.Equal("/v1/default/caf%C3%A9/na%20me%2Bplus.txt", put.Headers.Location?.OriginalString);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "café", "na me+plus.txt"), Ct));
        Assert.Equal(bytes, await server.Client.GetByteArrayAsync(put.Headers.Location!.OriginalString.TrimStart('/'), Ct));
    }

    [Fact]
    public async Task Delete_NonEmptyDirectory_Answers409UnlessRecursive()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/dir/sub/file.txt", "x"u8.ToArray());

        using var asDirectory = await server.Client.DeleteAsync("v1/default/dir/", Ct);
        using var asFile = await server.Client.DeleteAsync("v1/default/dir", Ct);
        await Problem.AssertAsync(asDirectory, HttpStatusCode.Conflict, "conflict");
        await Problem.AssertAsync(asFile, HttpStatusCode.Conflict, "conflict");
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "dir", "sub", "file.txt")));

        using var recursive = await server.Client.DeleteAsync("v1/default/dir/?recursive=true", Ct);
        Assert.Equal(HttpStatusCode.NoContent, recursive.StatusCode);
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "dir")));
        using var list = await server.Client.GetAsync("v1/default/dir/", Ct);
        await Problem.AssertAsync(list, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Put_DirectoryPathWithTrailingSlash_CreatesTheDirectoryAndParents()
    {
        await using var server = await DepotTestServer.StartAsync();

        using var made = await server.Client.PutAsync("v1/default/dir/sub/", new ByteArrayContent([]), Ct);
        using var again = await server.Client.PutAsync("v1/default/dir/sub/", new ByteArrayContent([]), Ct);

        Assert.Equal(HttpStatusCode.Created, made.StatusCode);
        var info = await made.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(("dir/sub", "directory"), (info!.Key, info.Type));
        Assert.True(again.IsSuccessStatusCode, "an existing directory is fine");
        Assert.True(Directory.Exists(Path.Combine(server.DataDirectory, "dir", "sub")));
        var listing = await ListAsync(server.Client, "v1/default/dir/");
        Assert.Equal([("sub", "directory")], listing.Entries.Select(e => (e.Name, e.Type)));
    }

    [Fact]
    public async Task List_WithLimitTwoOverFiveEntries_PagesThroughEachEntryOnceInOrder()
    {
        await using var server = await DepotTestServer.StartAsync();
        foreach (var name in new[] { "e.txt", "a.txt", "c", "b.txt", "d.txt" })
        {
            using var put = name == "c"
                ? await server.Client.PutAsync("v1/default/dir/c/", new ByteArrayContent([]), Ct)
                : await PutAsync(server.Client, "v1/default/dir/" + name, Encoding.UTF8.GetBytes(name));
            Assert.True(put.IsSuccessStatusCode);
        }

        var seen = new List<string>();
        var pages = 0;
        string? cursor = null;
        do
        {
            var page = await ListAsync(server.Client, "v1/default/dir/?limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            pages++;
            Assert.InRange(page.Entries.Count, 1, 2);
            Assert.Equal("dir", page.Prefix);
            seen.AddRange(page.Entries.Select(e => e.Key));
            cursor = page.NextCursor;
            Assert.True(pages <= 5, "the cursor must make progress");
        }
        while (cursor is not null);

        Assert.Equal(["dir/a.txt", "dir/b.txt", "dir/c", "dir/d.txt", "dir/e.txt"], seen);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task List_Recursive_AnswersEveryEntryBelowDepthFirstAndNeverTheStateFolder()
    {
        await using var server = await DepotTestServer.StartAsync();
        foreach (var key in new[] { "a/x.txt", "a/b/y.txt", "c.txt" })
        {
            using var put = await PutAsync(server.Client, "v1/default/" + key, [1]);
        }

        var flat = await ListAsync(server.Client, "v1/default/");
        var deep = await ListAsync(server.Client, "v1/default/?recursive=true");
        var pagedKeys = new List<string>();
        string? cursor = null;
        do
        {
            var page = await ListAsync(server.Client, "v1/default/?recursive=true&limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            pagedKeys.AddRange(page.Entries.Select(e => e.Key));
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal([("a", "directory"), ("c.txt", "file")], flat.Entries.Select(e => (e.Key, e.Type)));
        string[] expected = ["a", "a/b", "a/b/y.txt", "a/x.txt", "c.txt"];
        Assert.Equal(expected, deep.Entries.Select(e => e.Key));
        Assert.Equal(expected, pagedKeys);
        Assert.Equal(TestBytes.Sha256Hex([1]), deep.Entries.Single(e => e.Key == "c.txt").Sha256);
        Assert.True(Directory.Exists(server.StateDirectory));
    }

    [Fact]
    public async Task Stat_FileAndDirectory_DescribeEach()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(777, seed: 14);
        using var put = await PutAsync(server.Client, "v1/default/docs/a.json", bytes, "application/json");

        using var fileStat = await server.Client.GetAsync("v1/default/docs/a.json?stat", Ct);
        using var dirStat = await server.Client.GetAsync("v1/default/docs?stat", Ct);
        using var missing = await server.Client.GetAsync("v1/default/nothing?stat", Ct);

        Assert.Equal(HttpStatusCode.OK, fileStat.StatusCode);
        var file = await fileStat.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(("docs/a.json", "file", 777L, TestBytes.Sha256Hex(bytes), TestBytes.ETagOf(bytes), "application/json"),
            (file!.Key, file.Type, file.Size, file.Sha256, file.ETag, file.ContentType));
        Assert.NotNull(file.Created);
        Assert.Equal(HttpStatusCode.OK, dirStat.StatusCode);
        var dir = await dirStat.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(("docs", "directory", null), (dir!.Key, dir.Type, dir.Sha256));
        await Problem.AssertAsync(missing, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Get_DirectoryWithoutTrailingSlash_Answers409Conflict()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/folder/f.txt", [1]);

        using var get = await server.Client.GetAsync("v1/default/folder", Ct);
        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/default/folder"), Ct);

        await Problem.AssertAsync(get, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("directory", Header(head, DepotHeaders.EntryType));
    }

    [Fact]
    public async Task Move_File_RenamesItKeepingBytesAndETag()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(2000, seed: 15);
        using var put = await PutAsync(server.Client, "v1/default/a.bin", bytes);

        using var moved = await TransferAsync(server.Client, "v1/default/a.bin?move", new { to = "moved/b.bin" });

        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        var info = await moved.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(("moved/b.bin", TestBytes.ETagOf(bytes)), (info!.Key, info.ETag));
        using var old = await server.Client.GetAsync("v1/default/a.bin", Ct);
        await Problem.AssertAsync(old, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(bytes, await server.Client.GetByteArrayAsync("v1/default/moved/b.bin", Ct));
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "a.bin")));
    }

    [Fact]
    public async Task Move_OntoExistingFile_Answers409UnlessOverwrite()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var a = await PutAsync(server.Client, "v1/default/a.txt", "A"u8.ToArray());
        using var b = await PutAsync(server.Client, "v1/default/b.txt", "B"u8.ToArray());

        using var refused = await TransferAsync(server.Client, "v1/default/a.txt?move", new { to = "b.txt", overwrite = false });
        await Problem.AssertAsync(refused, HttpStatusCode.Conflict, "already_exists");
        Assert.Equal("B", await server.Client.GetStringAsync("v1/default/b.txt", Ct));

        using var replaced = await TransferAsync(server.Client, "v1/default/a.txt?move", new { to = "b.txt", overwrite = true });
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal("A", await server.Client.GetStringAsync("v1/default/b.txt", Ct));
    }

    [Fact]
    public async Task Move_Directory_MovesItsTree()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/old/deep/f.txt", "F"u8.ToArray());

        using var moved = await TransferAsync(server.Client, "v1/default/old?move", new { to = "new" });

        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal("F", await server.Client.GetStringAsync("v1/default/new/deep/f.txt", Ct));
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "old")));
    }

    [Fact]
    public async Task Copy_File_WithinAndAcrossBuckets()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) =>
            o.Buckets["second"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "second") });
        var bytes = TestBytes.Random(3000, seed: 16);
        using var put = await PutAsync(server.Client, "v1/default/src.bin", bytes, "application/x-src");

        using var within = await TransferAsync(server.Client, "v1/default/src.bin?copy", new { to = "copies/c.bin" });
        using var across = await TransferAsync(server.Client, "v1/default/src.bin?copy", new { to = "x/c.bin", bucket = "second" });
        using var onto = await TransferAsync(server.Client, "v1/default/src.bin?copy", new { to = "copies/c.bin" });
        using var moveAcross = await TransferAsync(server.Client, "v1/default/src.bin?move", new { to = "y.bin", bucket = "second" });

        Assert.Equal(HttpStatusCode.Created, within.StatusCode);
        Assert.Equal(HttpStatusCode.Created, across.StatusCode);
        var info = await across.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal(("second", "x/c.bin", TestBytes.Sha256Hex(bytes)), (info!.Bucket, info.Key, info.Sha256));
        Assert.Equal(bytes, await server.Client.GetByteArrayAsync("v1/default/copies/c.bin", Ct));
        using var acrossGet = await server.Client.GetAsync("v1/second/x/c.bin", Ct);
        Assert.Equal(bytes, await acrossGet.Content.ReadAsByteArrayAsync(Ct));
        Assert.Equal("application/x-src", acrossGet.Content.Headers.ContentType?.ToString());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(server.RootDirectory, "buckets", "second", "x", "c.bin"), Ct));
        Assert.Equal(bytes, await server.Client.GetByteArrayAsync("v1/default/src.bin", Ct));
        await Problem.AssertAsync(onto, HttpStatusCode.Conflict, "already_exists");
        await Problem.AssertAsync(moveAcross, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("not json")]
    [InlineData("{\"to\": \"../escape\"}")]
    public async Task Transfer_BadBody_AnswersProblem(string body)
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/src.txt", [1]);

        using var moved = await server.Client.PostAsync("v1/default/src.txt?move", new StringContent(body, Encoding.UTF8, "application/json"), Ct);

        await Problem.AssertAsync(moved, HttpStatusCode.BadRequest, body.Contains("..", StringComparison.Ordinal) ? "invalid_path" : "invalid_request");
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "src.txt")));
    }

    [Fact]
    public async Task Post_WithoutMoveOrCopy_Answers400Problem()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/src.txt", [1]);
        using var post = await server.Client.PostAsync("v1/default/src.txt", JsonContent.Create(new { to = "x" }), Ct);
        await Problem.AssertAsync(post, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Metadata_PutWithMetaHeaders_RoundtripsOnGetHeadAndStat()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = PutRequest("v1/default/meta.txt", "m"u8.ToArray());
        request.Headers.Add("X-Depot-Meta-Color", "red");
        request.Headers.Add("X-Depot-Meta-City", Uri.EscapeDataString("Zürich"));
        using var put = await server.Client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);

        using var get = await server.Client.GetAsync("v1/default/meta.txt", Ct);
        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/default/meta.txt"), Ct);
        using var stat = await server.Client.GetAsync("v1/default/meta.txt?stat", Ct);

        Assert.Equal("red", Header(get, "X-Depot-Meta-Color"));
        Assert.Equal("Zürich", Uri.UnescapeDataString(Header(get, "X-Depot-Meta-City")!));
        Assert.Equal("red", Header(head, "X-Depot-Meta-Color"));
        var info = await stat.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct);
        Assert.Equal("red", info!.Metadata!["color"]);
        Assert.Equal("Zürich", info.Metadata["city"]);
    }

    [Fact]
    public async Task Metadata_InvalidName_Answers400AndStoresNothing()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var request = PutRequest("v1/default/meta.txt", "m"u8.ToArray());
        request.Headers.TryAddWithoutValidation("X-Depot-Meta-Bad!Name", "x");
        using var put = await server.Client.SendAsync(request, Ct);
        await Problem.AssertAsync(put, HttpStatusCode.BadRequest, "invalid_request");
        await AssertAbsentAsync(server, "meta.txt");
    }

    [Fact]
    public async Task Buckets_Get_ListsEveryConfiguredBucket()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, root) =>
            o.Buckets["second"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "second"), MaxObjectSize = 1234, ReadOnly = true });

        using var response = await server.Client.GetAsync("v1/", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var list = await response.Content.ReadFromJsonAsync(DepotJson.Default.BucketListDto, Ct);
        Assert.Equal(["default", "second"], list!.Buckets.Select(b => b.Name));
        var second = list.Buckets[1];
        Assert.Equal((1234L, true), (second.MaxObjectSize, second.ReadOnly));
    }

    [Fact]
    public async Task Health_GetWithoutKey_Answers200Ok()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var anonymous = server.CreateClient(null);

        using var response = await anonymous.GetAsync("healthz", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var health = await response.Content.ReadFromJsonAsync(DepotJson.Default.HealthDto, Ct);
        Assert.Equal("ok", health!.Status);
    }

    [Theory]
    [InlineData("/nope")]
    [InlineData("/nope/deeper/still")]
    [InlineData("/v2/default/x")]
    [InlineData("/favicon.ico")]
    [InlineData("/nope/file.txt")]
    public async Task UnknownRoute_Get_Answers404ProblemWithNotFoundCode(string path)
    {
        await using var server = await DepotTestServer.StartAsync();
        using var response = await server.Client.GetAsync(path, Ct);
        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Object_UnknownBucket_Answers404Problem()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var response = await server.Client.GetAsync("v1/nosuchbucket/x.txt", Ct);
        await Problem.AssertAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Object_Patch_Answers405ProblemWithAllow()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var put = await PutAsync(server.Client, "v1/default/p.txt", [1]);

        using var patch = await server.Client.PatchAsync("v1/default/p.txt", new ByteArrayContent([2]), Ct);

        await Problem.AssertAsync(patch, HttpStatusCode.MethodNotAllowed, "method_not_allowed");
        // RFC 9110 §15.5.6: a 405 MUST carry Allow.
        Assert.Contains("GET", patch.Content.Headers.Allow);
        Assert.Equal([1], await server.Client.GetByteArrayAsync("v1/default/p.txt", Ct));
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=10001")]
    [InlineData("limit=abc")]
    public async Task List_BadLimit_Answers400Problem(string query)
    {
        await using var server = await DepotTestServer.StartAsync();
        using var response = await server.Client.GetAsync("v1/default/?" + query, Ct);
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    internal static HttpRequestMessage PutRequest(string url, byte[] bytes, string? contentType = null)
    {
        var content = new ByteArrayContent(bytes);
        if (contentType is not null)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        return new HttpRequestMessage(HttpMethod.Put, url) { Content = content };
    }

    internal static async Task<HttpResponseMessage> PutAsync(HttpClient client, string url, byte[] bytes, string? contentType = null)
    {
        using var request = PutRequest(url, bytes, contentType);
        return await client.SendAsync(request, Ct);
    }

    internal static Task<HttpResponseMessage> TransferAsync(HttpClient client, string url, object body) =>
        client.PostAsync(url, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"), Ct);

    private static async Task<HttpResponseMessage> GetWithAsync(HttpClient client, string url, Action<HttpRequestMessage> configure)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        configure(request);
        return await client.SendAsync(request, Ct);
    }

    private static async Task<ListPageDto> ListAsync(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
        return (await response.Content.ReadFromJsonAsync(DepotJson.Default.ListPageDto, Ct))!;
    }

    private static async Task AssertAbsentAsync(DepotTestServer server, string key)
    {
        using var get = await server.Client.GetAsync("v1/default/" + key, Ct);
        await Problem.AssertAsync(get, HttpStatusCode.NotFound, "not_found");
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, key)));
        Assert.Empty(StagedFiles(server));
    }

    // Content-MD5 is the protocol's own integrity header; MD5 is what it carries, not a security choice.
#pragma warning disable CA5351
    private static byte[] Md5(byte[] bytes) => MD5.HashData(bytes);
#pragma warning restore CA5351

    internal static string[] StagedFiles(DepotTestServer server) =>
        Directory.GetFiles(Path.Combine(server.StateDirectory, "tmp"));

    internal static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(",", values)
            : null;
}
