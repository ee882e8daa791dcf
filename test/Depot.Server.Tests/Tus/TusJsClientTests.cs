using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Depot.Server.Tests.Http;
using Depot.Server.Tests.Infrastructure;
using static Depot.Server.Tests.Tus.TusRequests;

namespace Depot.Server.Tests.Tus;

/// <summary>The real tus-js-client (npm, pinned in test/js/package.json) driven from Node against a real Depot: plain,
/// interrupted and resumed, parallel (concatenation), checksummed, deferred-length and refused uploads. Each test checks
/// the bytes that were stored, on disk and through the native API.</summary>
public sealed class TusJsClientTests
{
    private const int MiB = 1 << 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TusJsClient_PlainUploadInChunks_StoresTheExactBytes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var (path, sha) = WriteSource(server, 6 * MiB + 12_345, seed: 1);

        var result = await TusJsDriver.RunAsync(Arguments(server, path, new JsonObject
        {
            ["chunkSize"] = MiB,
            ["metadata"] = new JsonObject { ["key"] = "js/plain.bin", ["filename"] = "plain.bin", ["filetype"] = "application/x-test" },
        }), Ct);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal(7, result.Requests.Count(r => r.Method == "PATCH" && r.Status == 204));
        Assert.Equal(6 * MiB + 12_345, result.BytesSent);
        await AssertStoredAsync(server, "js/plain.bin", sha);
        using var head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/default/js/plain.bin"), Ct);
        Assert.Equal("application/x-test", head.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task TusJsClient_InterruptedThenResumedFromTheStoredUrl_SendsOnlyTheRest()
    {
        await using var server = await DepotTestServer.StartAsync();
        var size = 5 * MiB + 777;
        var (path, sha) = WriteSource(server, size, seed: 2);
        var urls = Path.Combine(server.RootDirectory, "tus-urls.json");
        var options = new JsonObject
        {
            ["chunkSize"] = MiB,
            ["urlStorage"] = urls,
            ["metadata"] = new JsonObject { ["key"] = "js/resumed.bin" },
        };

        // Two chunks are acknowledged, the third is cut off half-way.
        var first = await TusJsDriver.RunAsync(Arguments(server, path, ((JsonObject)options.DeepClone()).With("abortAfterBytes", 2 * MiB + MiB / 2)), Ct);
        Assert.True(first.Aborted, first.ToString());
        Assert.False(first.Ok);
        Assert.NotNull(first.Url);
        Assert.False(File.Exists(FileIn(server, "js/resumed.bin")));
        Assert.InRange(await OffsetAsync(server.Client, new Uri(first.Url).AbsolutePath), 2 * MiB, size - 1);

        var resumed = await TusJsDriver.RunAsync(Arguments(server, path, ((JsonObject)options.DeepClone()).With("resume", true)), Ct);

        Assert.True(resumed.Ok, resumed.ToString());
        Assert.Equal(first.Url, resumed.Url);
        Assert.DoesNotContain(resumed.Requests, r => r.Method == "POST");
        var resumedAt = resumed.Requests.Last(r => r.Method == "HEAD").HeadOffset!.Value;
        Assert.InRange(resumedAt, 2 * MiB, size - 1);
        Assert.Equal(resumedAt, resumed.Requests.First(r => r.Method == "PATCH" && r.Status == 204).Offset);
        // Only the rest was accepted, and at most one chunk more than the rest went out (a PATCH refused with 409 when the
        // server was still recording the interrupted one).
        Assert.Equal(size - resumedAt, resumed.BytesAcknowledged);
        Assert.InRange(resumed.BytesSent, size - resumedAt, size - resumedAt + MiB);
        await AssertStoredAsync(server, "js/resumed.bin", sha);
    }

    [Fact]
    public async Task TusJsClient_ParallelUploads_AreConcatenatedIntoOneObject()
    {
        await using var server = await DepotTestServer.StartAsync();
        var (path, sha) = WriteSource(server, 8 * MiB + 7, seed: 3);

        var result = await TusJsDriver.RunAsync(Arguments(server, path, new JsonObject
        {
            ["chunkSize"] = MiB,
            ["parallelUploads"] = 4,
            ["metadata"] = new JsonObject { ["key"] = "js/parallel.bin", ["filename"] = "parallel.bin" },
        }), Ct);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal(5, result.Requests.Count(r => r.Method == "POST" && r.Status == 201));
        await AssertStoredAsync(server, "js/parallel.bin", sha);
        // The parts were consumed by the concatenation: nothing is left staged.
        Assert.Empty(Directory.EnumerateFiles(server.StateDirectory, "*.upload", SearchOption.AllDirectories));
        using var head = await HeadAsync(server.Client, new Uri(result.Url!).AbsolutePath);
        await AssertStatusAsync(head, HttpStatusCode.OK);
        Assert.StartsWith("final;", Header(head, "Upload-Concat"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sha1")]
    [InlineData("md5")]
    [InlineData("sha256")]
    public async Task TusJsClient_ChecksumHeaderOnEachChunk_IsAccepted(string algorithm)
    {
        await using var server = await DepotTestServer.StartAsync();
        var (path, sha) = WriteSource(server, 3 * MiB + 100, seed: 4);

        var result = await TusJsDriver.RunAsync(Arguments(server, path, new JsonObject
        {
            ["chunkSize"] = MiB,
            ["checksum"] = algorithm,
            ["metadata"] = new JsonObject { ["key"] = "js/checked.bin" },
        }), Ct);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal(4, result.Requests.Count(r => r.Method == "PATCH" && r.Status == 204));
        await AssertStoredAsync(server, "js/checked.bin", sha);
    }

    [Fact]
    public async Task TusJsClient_WrongChecksum_Reports460AndNothingIsStored()
    {
        await using var server = await DepotTestServer.StartAsync();
        var (path, _) = WriteSource(server, 2 * MiB, seed: 5);

        var result = await TusJsDriver.RunAsync(Arguments(server, path, new JsonObject
        {
            ["chunkSize"] = MiB,
            ["checksum"] = "sha256",
            ["corruptChecksum"] = true,
            ["retryDelays"] = null,
            ["metadata"] = new JsonObject { ["key"] = "js/corrupt.bin" },
        }), Ct);

        Assert.False(result.Ok);
        Assert.Equal(460, result.Status);
        Assert.Equal(0, await OffsetAsync(server.Client, new Uri(result.Url!).AbsolutePath));
        Assert.False(File.Exists(FileIn(server, "js/corrupt.bin")));
    }

    [Fact]
    public async Task TusJsClient_WrongKey_Reports401()
    {
        await using var server = await DepotTestServer.StartAsync();
        var (path, _) = WriteSource(server, 1000, seed: 6);

        var result = await TusJsDriver.RunAsync(Arguments(server, path, new JsonObject
        {
            ["key"] = "dpk_unknown_notarealsecret",
            ["metadata"] = new JsonObject { ["key"] = "js/denied.bin" },
        }), Ct);

        Assert.False(result.Ok);
        Assert.Equal(401, result.Status);
        Assert.False(File.Exists(FileIn(server, "js/denied.bin")));
    }

    [Fact]
    public async Task TusJsClient_DeferredLength_DeclaresTheLengthAtTheEndAndStoresTheBytes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var (path, sha) = WriteSource(server, 3 * MiB + 5, seed: 7);

        var result = await TusJsDriver.RunAsync(Arguments(server, path, new JsonObject
        {
            ["chunkSize"] = MiB,
            ["deferLength"] = true,
            ["metadata"] = new JsonObject { ["key"] = "js/deferred.bin" },
        }), Ct);

        Assert.True(result.Ok, result.ToString());
        await AssertStoredAsync(server, "js/deferred.bin", sha);
    }

    [Fact]
    public async Task TusJsClient_CreationWithUploadAndMethodOverride_StoresTheBytes()
    {
        await using var server = await DepotTestServer.StartAsync();
        var (path, sha) = WriteSource(server, 2 * MiB + MiB / 2, seed: 8);

        var result = await TusJsDriver.RunAsync(Arguments(server, path, new JsonObject
        {
            ["chunkSize"] = MiB,
            ["uploadDataDuringCreation"] = true,
            ["overridePatchMethod"] = true,
            ["metadata"] = new JsonObject { ["key"] = "js/override.bin" },
        }), Ct);

        Assert.True(result.Ok, result.ToString());
        Assert.Equal(MiB, result.Requests.Single(r => r.Method == "POST").Bytes);
        Assert.Equal(2, result.Requests.Count(r => r.Method == "PATCH" && r.Status == 204));
        await AssertStoredAsync(server, "js/override.bin", sha);
    }

    private static JsonObject Arguments(DepotTestServer server, string path, JsonObject options)
    {
        options["endpoint"] = new Uri(server.BaseUrl, Endpoint).ToString();
        options["file"] = path;
        if (!options.ContainsKey("key"))
        {
            options["key"] = server.AdminKey;
        }

        return options;
    }

    /// <summary>A file of pseudo-random bytes outside every bucket, and its SHA-256.</summary>
    private static (string Path, string Sha256) WriteSource(DepotTestServer server, int length, int seed)
    {
        var bytes = TestBytes.Random(length, seed);
        var path = System.IO.Path.Combine(server.RootDirectory, $"source-{seed}.bin");
        File.WriteAllBytes(path, bytes);
        return (path, TestBytes.Sha256Hex(bytes));
    }

    /// <summary>The object at <paramref name="key"/> has exactly the bytes of SHA-256 <paramref name="sha"/>: on disk,
    /// as downloaded, and as recorded.</summary>
    private static async Task AssertStoredAsync(DepotTestServer server, string key, string sha)
    {
        await using (var file = File.OpenRead(FileIn(server, key)))
        {
            Assert.Equal(sha, Convert.ToHexStringLower(await SHA256.HashDataAsync(file, Ct)));
        }

        using var get = await server.Client.GetAsync("v1/default/" + key, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(sha, Header(get, "X-Depot-Sha256"));
        await using var body = await get.Content.ReadAsStreamAsync(Ct);
        Assert.Equal(sha, Convert.ToHexStringLower(await SHA256.HashDataAsync(body, Ct)));
    }
}

internal static class JsonObjectExtensions
{
    public static JsonObject With(this JsonObject json, string name, JsonNode? value)
    {
        json[name] = value;
        return json;
    }
}
