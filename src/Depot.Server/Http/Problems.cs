using System.Text.Json;
using Depot.Core.Errors;
using Depot.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Depot.Server.Http;

/// <summary>The one place where errors become RFC 9457 problem+json responses.</summary>
public static class Problems
{
    public const string ContentType = "application/problem+json";

    /// <param name="status">The status to answer with instead of the code's own (protocols that prescribe another, e.g.
    /// tus's 460 for a checksum mismatch); the body keeps the code.</param>
    public static Task WriteAsync(HttpContext context, DepotError error, int? status = null)
    {
        var ownStatus = ErrorStatus.For(error.Code);
        var statusCode = status ?? ownStatus;
        if (context.Response.HasStarted)
        {
            context.Abort(); // too late for a problem body: make the failure visible to the client
            return Task.CompletedTask;
        }

        // Not Response.Clear(): headers set on purpose before the error (Retry-After, Content-Range, Allow) must stay.
        context.Response.ContentLength = null;
        context.Response.Headers.ContentDisposition = default;
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = ContentType;
        if (statusCode == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"depot\"";
        }

        var problem = new ProblemDto
        {
            Title = statusCode == ownStatus ? ErrorStatus.Title(error.Code) : ReasonPhrases.GetReasonPhrase(statusCode) is { Length: > 0 } phrase ? phrase : ErrorStatus.Title(error.Code),
            Status = statusCode,
            Detail = error.Message,
            Instance = context.Request.Path.Value,
            Code = error.Code,
            Extensions = error.Extensions?.ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value?.ToString(), DepotJson.Wire.String)),
        };
        if (context.Request.Method == HttpMethods.Head)
        {
            return Task.CompletedTask;
        }

        return JsonSerializer.SerializeAsync(context.Response.Body, problem, DepotJson.Wire.ProblemDto, context.RequestAborted);
    }

    public static Task WriteAsync(HttpContext context, string code, string message) => WriteAsync(context, new DepotError(code, message));
}
