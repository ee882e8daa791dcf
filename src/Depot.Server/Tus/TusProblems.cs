using System.Text.Json;
using Depot.Core.Errors;
using Depot.Protocol;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Tus;

/// <summary>Error answers of the tus endpoint: problem+json like everywhere else, with the status codes tus prescribes
/// where they differ from Depot's own (460 for a checksum mismatch, 415 for a body of the wrong media type).</summary>
internal static class TusProblems
{
    public static Task WriteAsync(HttpContext context, DepotError error, int? status = null)
    {
        var tusStatus = status ?? (error.Code == ErrorCodes.ChecksumMismatch ? TusProtocol.ChecksumMismatchStatus : null);
        if (tusStatus is not { } overridden || overridden == ErrorStatus.For(error.Code))
        {
            return Problems.WriteAsync(context, error);
        }

        // The same body as Problems writes, with the status tus wants (Problems takes it from the code alone).
        if (context.Response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }

        context.Response.ContentLength = null;
        context.Response.StatusCode = overridden;
        context.Response.ContentType = Problems.ContentType;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return Task.CompletedTask;
        }

        var problem = new ProblemDto
        {
            Title = overridden switch
            {
                TusProtocol.ChecksumMismatchStatus => "Checksum mismatch",
                StatusCodes.Status415UnsupportedMediaType => "Unsupported media type",
                _ => ErrorStatus.Title(error.Code),
            },
            Status = overridden,
            Detail = error.Message,
            Instance = context.Request.Path.Value,
            Code = error.Code,
            Extensions = error.Extensions?.ToDictionary(p => p.Key, p => JsonSerializer.SerializeToElement(p.Value?.ToString(), DepotJson.Wire.String)),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, problem, DepotJson.Wire.ProblemDto, context.RequestAborted);
    }

    public static Task WriteAsync(HttpContext context, string code, string message, int? status = null) =>
        WriteAsync(context, new DepotError(code, message), status);
}
