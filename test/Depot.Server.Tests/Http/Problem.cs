using System.Net;
using System.Text.Json;

namespace Depot.Server.Tests.Http;

/// <summary>Assertions on RFC 9457 problem+json answers.</summary>
internal static class Problem
{
    public const string ContentType = "application/problem+json";

    /// <summary>Asserts the status, the problem+json media type and the stable <c>code</c>; returns the body.</summary>
    public static async Task<JsonElement> AssertAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.Equal(ContentType, response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(text);
        var body = doc.RootElement.Clone();
        Assert.Equal(code, body.GetProperty("code").GetString());
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        return body;
    }

    /// <summary>Asserts a problem answer to HEAD: status and media type, no body.</summary>
    public static async Task AssertHeadAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(ContentType, response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }
}
