using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Tus;

/// <summary>Hand-made tus 1.0.0 requests against a test server, and assertions every tus answer must satisfy.</summary>
internal static class TusRequests
{
    public const string Endpoint = "tus/";
    public const string OffsetOctetStream = "application/offset+octet-stream";

    public static HttpRequestMessage Request(HttpMethod method, string url, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.TryAddWithoutValidation("Tus-Resumable", "1.0.0");
        foreach (var (name, value) in headers)
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    /// <summary>POST /tus/ with <c>Upload-Length</c> (or deferred when null) and the given metadata pairs.</summary>
    public static HttpRequestMessage Create(long? length, IReadOnlyDictionary<string, string>? metadata = null, params (string Name, string Value)[] headers)
    {
        var all = new List<(string, string)>();
        all.Add(length is { } l ? ("Upload-Length", l.ToString(CultureInfo.InvariantCulture)) : ("Upload-Defer-Length", "1"));
        if (metadata is { Count: > 0 })
        {
            all.Add(("Upload-Metadata", Metadata(metadata)));
        }

        all.AddRange(headers);
        return Request(HttpMethod.Post, Endpoint, [.. all]);
    }

    /// <summary>A PATCH of <paramref name="body"/> at <paramref name="offset"/>.</summary>
    public static HttpRequestMessage Patch(string location, long offset, byte[] body, params (string Name, string Value)[] headers)
    {
        var request = Request(HttpMethod.Patch, location, [("Upload-Offset", offset.ToString(CultureInfo.InvariantCulture)), .. headers]);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(OffsetOctetStream);
        return request;
    }

    public static string Metadata(IReadOnlyDictionary<string, string> pairs) =>
        string.Join(',', pairs.Select(p => p.Value.Length == 0 ? p.Key : p.Key + " " + Convert.ToBase64String(Encoding.UTF8.GetBytes(p.Value))));

    /// <summary>Creates an upload and returns its Location (asserting 201).</summary>
    public static async Task<string> CreateUploadAsync(HttpClient client, long? length, IReadOnlyDictionary<string, string>? metadata = null, params (string Name, string Value)[] headers)
    {
        using var response = await client.SendAsync(Create(length, metadata, headers), TestContext.Current.CancellationToken);
        await AssertStatusAsync(response, HttpStatusCode.Created);
        var location = response.Headers.Location?.ToString();
        Assert.NotNull(location);
        Assert.StartsWith("/tus/", location, StringComparison.Ordinal);
        return location;
    }

    /// <summary>PATCHes <paramref name="body"/> at <paramref name="offset"/> and asserts 204 with the new offset.</summary>
    public static async Task PatchOkAsync(HttpClient client, string location, long offset, byte[] body)
    {
        using var response = await client.SendAsync(Patch(location, offset, body), TestContext.Current.CancellationToken);
        await AssertStatusAsync(response, HttpStatusCode.NoContent);
        Assert.Equal((offset + body.Length).ToString(CultureInfo.InvariantCulture), Header(response, "Upload-Offset"));
    }

    public static async Task<HttpResponseMessage> HeadAsync(HttpClient client, string location) =>
        await client.SendAsync(Request(HttpMethod.Head, location), TestContext.Current.CancellationToken);

    /// <summary>The upload's offset by HEAD (asserting 200).</summary>
    public static async Task<long> OffsetAsync(HttpClient client, string location)
    {
        using var head = await HeadAsync(client, location);
        await AssertStatusAsync(head, HttpStatusCode.OK);
        return long.Parse(Header(head, "Upload-Offset")!, CultureInfo.InvariantCulture);
    }

    /// <summary>Asserts the status and that the answer carries <c>Tus-Resumable: 1.0.0</c>.</summary>
    public static async Task AssertStatusAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = response.Content is null ? "" : await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("1.0.0", Header(response, "Tus-Resumable"));
    }

    /// <summary>A response header (from the response or its content headers), or null.</summary>
    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values)
        : response.Content.Headers.TryGetValues(name, out var contentValues) ? string.Join(", ", contentValues)
        : null;

    /// <summary>The path of an object's file in the default bucket.</summary>
    public static string FileIn(DepotTestServer server, string key) => Path.Combine(server.DataDirectory, key.Replace('/', Path.DirectorySeparatorChar));
}
