using System.Text.Json;
using System.Text.Json.Serialization;
using Depot.Core.Errors;
using Depot.Protocol;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.IndexedCp;

/// <summary>The 200 answer to a chunk, in the shape IndexedCP clients read (they look at <c>actualFilename</c>).</summary>
public sealed record ChunkReceivedAnswer
{
    public string Message { get; init; } = "Chunk received";

    /// <summary>The key the object is (or will be) stored at.</summary>
    public required string ActualFilename { get; init; }

    public required long ChunkIndex { get; init; }

    /// <summary>The <c>X-File-Name</c> as sent.</summary>
    public required string ClientFilename { get; init; }

    /// <summary>True when the chunk had already arrived with the same bytes (a retry): nothing changed.</summary>
    public bool? AlreadyReceived { get; init; }
}

/// <summary>The answer to <c>GET /upload/status</c>.</summary>
public sealed record UploadStatusAnswer
{
    public required string Filename { get; init; }

    public required IReadOnlyList<long> ReceivedChunks { get; init; }
}

/// <summary>An error in the protocol's own shape (<c>{"error":...,"message":...}</c>), plus Depot's stable <c>code</c>.</summary>
public sealed record IndexedCpError
{
    public required string Error { get; init; }

    public string? Message { get; init; }

    public string? Code { get; init; }
}

[JsonSerializable(typeof(ChunkReceivedAnswer))]
[JsonSerializable(typeof(UploadStatusAnswer))]
[JsonSerializable(typeof(IndexedCpError))]
internal sealed partial class IndexedCpJson : JsonSerializerContext
{
    /// <summary>Like the native API's bodies: camelCase, nulls omitted, readable text.</summary>
    public static IndexedCpJson Wire { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}

/// <summary>Writes the door's answers: JSON bodies in the protocol's shapes, CORS headers on every response.</summary>
public static class IndexedCpAnswers
{
    public const string InvalidFilename = "Invalid filename";
    public const string InvalidKey = "Invalid or missing API key";
    public const string InvalidPath = "Access denied: invalid path";
    public const string MissingFilename = "Missing filename parameter";

    /// <summary>The CORS headers the protocol puts on every answer (browser clients read the JSON cross-origin).</summary>
    public static void AddCorsHeaders(HttpResponse response)
    {
        response.Headers.AccessControlAllowOrigin = "*";
        response.Headers.AccessControlAllowMethods = "GET, POST, OPTIONS";
        response.Headers.AccessControlAllowHeaders = "Content-Type, Authorization, X-Chunk-Index, X-File-Name";
    }

    public static Task WriteAsync<T>(HttpContext context, int status, T body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        if (context.Response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, body, type, context.RequestAborted);
    }

    public static Task ErrorAsync(HttpContext context, int status, string error, string? message, string code) =>
        WriteAsync(context, status, new IndexedCpError { Error = error, Message = message, Code = code }, IndexedCpJson.Wire.IndexedCpError);

    /// <summary>A refused key or request: 401 in the protocol's exact shape (clients report "authentication failed"),
    /// otherwise the Depot error's status with its title as <c>error</c>.</summary>
    public static Task DeniedAsync(HttpContext context, DepotError denied)
    {
        if (denied.Code == ErrorCodes.Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"depot\"";
            return ErrorAsync(context, StatusCodes.Status401Unauthorized, InvalidKey, null, denied.Code);
        }

        return FailedAsync(context, denied);
    }

    /// <summary>Any other Depot error: its status, its title as <c>error</c>, its message and code.</summary>
    public static Task FailedAsync(HttpContext context, DepotError error) =>
        ErrorAsync(context, ErrorStatus.For(error.Code), error.Code == ErrorCodes.Forbidden ? "Access denied" : ErrorStatus.Title(error.Code), error.Message, error.Code);
}
