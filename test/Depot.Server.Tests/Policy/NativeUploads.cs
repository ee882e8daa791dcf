using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Depot.Server.Tests.Policy;

/// <summary>Resumable uploads through the native session API (<c>/v1/_uploads</c>), as a client sends them.</summary>
internal static class NativeUploads
{
    /// <summary><c>POST /v1/_uploads</c> with <paramref name="declaration"/> as the JSON body.</summary>
    public static Task<HttpResponseMessage> CreateAsync(HttpClient client, JsonObject declaration, CancellationToken cancellationToken) =>
        client.PostAsync("v1/_uploads", Json(declaration), cancellationToken);

    /// <summary><c>PUT /v1/_uploads/{id}?offset=N</c>.</summary>
    public static Task<HttpResponseMessage> SendAsync(HttpClient client, string sessionUrl, long offset, byte[] bytes, CancellationToken cancellationToken)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return client.PutAsync($"{sessionUrl.TrimStart('/')}?offset={offset}", content, cancellationToken);
    }

    /// <summary><c>POST /v1/_uploads/{id}/complete</c>.</summary>
    public static Task<HttpResponseMessage> CompleteAsync(HttpClient client, string sessionUrl, CancellationToken cancellationToken) =>
        client.PostAsync(sessionUrl.TrimStart('/') + "/complete", null, cancellationToken);

    /// <summary>Sends all of <paramref name="bytes"/> to an existing session and completes it; returns the completion's answer.</summary>
    public static async Task<HttpResponseMessage> SendAllAndCompleteAsync(HttpClient client, string sessionUrl, byte[] bytes, CancellationToken cancellationToken)
    {
        if (bytes.Length > 0)
        {
            using var sent = await SendAsync(client, sessionUrl, 0, bytes, cancellationToken);
            Assert.True(sent.IsSuccessStatusCode, $"Sending the bytes failed: {(int)sent.StatusCode} {await sent.Content.ReadAsStringAsync(cancellationToken)}");
        }

        return await CompleteAsync(client, sessionUrl, cancellationToken);
    }

    /// <summary>A whole upload: create, send, complete; asserts every step succeeded and returns the completed session.</summary>
    public static async Task<JsonElement> UploadAsync(HttpClient client, string bucket, string key, byte[] bytes, CancellationToken cancellationToken)
    {
        using var created = await CreateAsync(client, new JsonObject { ["bucket"] = bucket, ["key"] = key, ["length"] = bytes.Length }, cancellationToken);
        var session = await ReadJsonAsync(created, HttpStatusCode.Created, cancellationToken);
        using var completed = await SendAllAndCompleteAsync(client, session.GetProperty("url").GetString()!, bytes, cancellationToken);
        return await ReadJsonAsync(completed, HttpStatusCode.OK, cancellationToken);
    }

    /// <summary>Asserts the status and returns the JSON body.</summary>
    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response, HttpStatusCode status, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {text}");
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");
}
