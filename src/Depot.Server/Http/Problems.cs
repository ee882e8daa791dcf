using System.Text.Json;
using Depot.Core.Errors;
using Depot.Protocol;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Http;

/// <summary>The one place where errors become RFC 9457 problem+json responses.</summary>
public static class Problems
{
    public const string ContentType = "application/problem+json";

    public static Task WriteAsync(HttpContext context, DepotError error)
    {
        var status = ErrorStatus.For(error.Code);
        if (context.Response.HasStarted)
        {
            context.Abort(); // too late for a problem body: make the failure visible to the client
            return Task.CompletedTask;
        }

        // Not Response.Clear(): headers set on purpose before the error (Retry-After, Content-Range, Allow) must stay.
        context.Response.ContentLength = null;
        context.Response.Headers.ContentDisposition = default;
        context.Response.StatusCode = status;
        context.Response.ContentType = ContentType;
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"depot\"";
        }

        var problem = new ProblemDto
        {
            Title = ErrorStatus.Title(error.Code),
            Status = status,
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
