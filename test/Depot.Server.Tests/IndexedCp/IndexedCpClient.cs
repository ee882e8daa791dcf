using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Depot.Server.IndexedCp;
using Depot.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Depot.Server.Tests.IndexedCp;

/// <summary>Sends what IndexedCP clients send (one POST per chunk with X-Chunk-Index and X-File-Name, a status query with
/// the name appended unencoded) and checks the answers they read.</summary>
internal static class IndexedCpClient
{
    public const int ChunkSize = 1 << 20;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>POSTs one chunk the way the Node and Python clients do.</summary>
    public static async Task<HttpResponseMessage> SendChunkAsync(HttpClient client, string fileName, long index, ReadOnlyMemory<byte> chunk)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "upload");
        request.Headers.TryAddWithoutValidation("X-Chunk-Index", index.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("X-File-Name", fileName);
        request.Content = new ReadOnlyMemoryContent(chunk);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await client.SendAsync(request, Ct);
    }

    /// <summary>Chunk <paramref name="index"/> of <paramref name="file"/> in <paramref name="chunkSize"/> pieces.</summary>
    public static ReadOnlyMemory<byte> Chunk(byte[] file, long index, int chunkSize = ChunkSize)
    {
        var start = (int)(index * chunkSize);
        return file.AsMemory(start, Math.Min(chunkSize, file.Length - start));
    }

    public static int ChunkCount(byte[] file, int chunkSize = ChunkSize) => (file.Length + chunkSize - 1) / chunkSize;

    /// <summary>Sends every chunk in order and asserts each 200.</summary>
    public static async Task UploadAsync(HttpClient client, string fileName, byte[] file, string expectedKey, int chunkSize = ChunkSize)
    {
        for (var i = 0; i < ChunkCount(file, chunkSize); i++)
        {
            using var response = await SendChunkAsync(client, fileName, i, Chunk(file, i, chunkSize));
            await AssertReceivedAsync(response, expectedKey, i, fileName);
        }
    }

    /// <summary>Asserts the 200 answer in the protocol's shape.</summary>
    public static async Task<JsonElement> AssertReceivedAsync(HttpResponseMessage response, string actualFilename, long index, string clientFilename, bool alreadyReceived = false)
    {
        var body = await JsonAsync(response, HttpStatusCode.OK);
        Assert.Equal("Chunk received", body.GetProperty("message").GetString());
        Assert.Equal(actualFilename, body.GetProperty("actualFilename").GetString());
        Assert.Equal(index, body.GetProperty("chunkIndex").GetInt64());
        Assert.Equal(clientFilename, body.GetProperty("clientFilename").GetString());
        if (alreadyReceived)
        {
            Assert.True(body.GetProperty("alreadyReceived").GetBoolean());
        }
        else
        {
            Assert.False(body.TryGetProperty("alreadyReceived", out _), "a first delivery is not 'alreadyReceived'");
        }

        return body;
    }

    /// <summary>Asserts the status, a JSON body and the CORS headers; returns the body.</summary>
    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        AssertCors(response);
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts an error body: exactly <paramref name="error"/>, a non-empty <c>message</c> when
    /// <paramref name="hasMessage"/>, Depot's <c>code</c>, and nothing else.</summary>
    public static async Task<JsonElement> AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string error, string code, bool hasMessage)
    {
        var body = await JsonAsync(response, status);
        Assert.Equal(error, body.GetProperty("error").GetString());
        Assert.Equal(code, body.GetProperty("code").GetString());
        Assert.Equal(hasMessage, body.TryGetProperty("message", out var message) && message.GetString() is { Length: > 0 });
        var members = body.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(hasMessage ? ["code", "error", "message"] : new[] { "code", "error" }, members);
        return body;
    }

    public static void AssertCors(HttpResponseMessage response)
    {
        Assert.Equal("*", Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("GET, POST, OPTIONS", Header(response, "Access-Control-Allow-Methods"));
        Assert.Equal("Content-Type, Authorization, X-Chunk-Index, X-File-Name", Header(response, "Access-Control-Allow-Headers"));
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? string.Join(", ", values) : null;

    /// <summary>The chunk indices <c>GET /upload/status</c> reports.</summary>
    public static async Task<long[]> StatusAsync(HttpClient client, string fileName)
    {
        using var response = await client.GetAsync("upload/status?filename=" + fileName, Ct);
        var body = await JsonAsync(response, HttpStatusCode.OK);
        Assert.Equal(fileName, body.GetProperty("filename").GetString());
        return [.. body.GetProperty("receivedChunks").EnumerateArray().Select(e => e.GetInt64())];
    }

    /// <summary>Runs one round of the quiet-period publisher now (tests do not wait for its timer).</summary>
    public static Task<int> CompleteQuietAsync(DepotTestServer server) =>
        server.Services.GetRequiredService<IndexedCpQuietCompleter>().CompleteDueAsync(Ct);

    /// <summary>The SHA-256 (hex) of the file at <paramref name="key"/> in the default bucket's directory, or null.</summary>
    public static string? Sha256OnDisk(DepotTestServer server, string key)
    {
        var path = Path.Combine(server.DataDirectory, key);
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
