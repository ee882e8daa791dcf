using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Depot.Core.Errors;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Http;

/// <summary>Reading and writing the JSON bodies of the API, with one error for malformed input.</summary>
public static class JsonBodies
{
    public const int MaxJsonBytes = 64 << 10;

    /// <summary>The request body as <typeparamref name="T"/>; <c>invalid_request</c> when it is not valid JSON of that shape.</summary>
    public static async Task<Result<T?>> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type)
    {
        if (Cap(context) is { } tooLarge)
        {
            return tooLarge;
        }

        try
        {
            return await JsonSerializer.DeserializeAsync(context.Request.Body, type, context.RequestAborted);
        }
        catch (JsonException e)
        {
            return DepotError.InvalidRequest($"The body is not valid JSON: {e.Message}");
        }
    }

    /// <summary>An optional JSON object body: null when the request has no body (or only white space), otherwise as
    /// <see cref="ReadAsync{T}"/>, with the same cap; <c>invalid_request</c> for a body that is JSON <c>null</c>.</summary>
    public static async Task<Result<T?>> ReadOptionalAsync<T>(HttpContext context, JsonTypeInfo<T> type)
        where T : class
    {
        if (context.Request.ContentLength == 0
            || context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            return (T?)null;
        }

        if (Cap(context) is { } tooLarge)
        {
            return tooLarge;
        }

        // Buffered (at most MaxJsonBytes) to tell an empty chunked body from JSON.
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (bytes.Span.TrimStart(" \t\r\n"u8).IsEmpty)
        {
            return (T?)null;
        }

        T? value;
        try
        {
            value = JsonSerializer.Deserialize(bytes.Span, type);
        }
        catch (JsonException e)
        {
            return DepotError.InvalidRequest($"The body is not valid JSON: {e.Message}");
        }

        if (value is null)
        {
            return DepotError.InvalidRequest("The body must be a JSON object, or empty.");
        }

        return value;
    }

    /// <summary>Control bodies are small: uploads have no size limit at the Kestrel level (bucket limits apply instead),
    /// so JSON requests get their own cap before they are buffered.</summary>
    private static DepotError? Cap(HttpContext context)
    {
        if (context.Request.ContentLength > MaxJsonBytes)
        {
            return DepotError.TooLarge($"JSON request bodies are limited to {MaxJsonBytes} bytes.");
        }

        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxJsonBytes;
        }

        return null;
    }

    /// <summary>Answers with <paramref name="value"/> as <c>application/json</c>.</summary>
    public static Task WriteAsync<T>(HttpContext context, T value, JsonTypeInfo<T> type, int status = StatusCodes.Status200OK)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, value, type, context.RequestAborted);
    }
}
