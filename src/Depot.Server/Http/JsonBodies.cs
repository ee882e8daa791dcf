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
        // Control bodies are small: uploads have no size limit at the Kestrel level (bucket limits apply instead),
        // so JSON requests get their own cap before they are buffered.
        if (context.Request.ContentLength > MaxJsonBytes)
        {
            return DepotError.TooLarge($"JSON request bodies are limited to {MaxJsonBytes} bytes.");
        }

        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxJsonBytes;
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

    /// <summary>Answers with <paramref name="value"/> as <c>application/json</c>.</summary>
    public static Task WriteAsync<T>(HttpContext context, T value, JsonTypeInfo<T> type, int status = StatusCodes.Status200OK)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, value, type, context.RequestAborted);
    }
}
