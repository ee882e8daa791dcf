using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Depot.Core.Errors;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Http;

/// <summary>Reading and writing the JSON bodies of the API, with one error for malformed input.</summary>
public static class JsonBodies
{
    /// <summary>The request body as <typeparamref name="T"/>; <c>invalid_request</c> when it is not valid JSON of that shape.</summary>
    public static async Task<Result<T?>> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type)
    {
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
