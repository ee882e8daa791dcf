using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Depot.Server.IndexedCp;

/// <summary>The routes of the IndexedCP door: <c>/upload</c> and <c>/upload/status</c>.</summary>
public static class IndexedCpEndpoints
{
    public const string Upload = "/upload";
    public const string Status = "/upload/status";

    /// <summary>Maps the door. One endpoint per path that dispatches on the method, so every answer of these paths (also
    /// 405) carries the CORS headers browsers need.</summary>
    public static IEndpointRouteBuilder MapIndexedCp(this IEndpointRouteBuilder app)
    {
        var handlers = app.ServiceProvider.GetRequiredService<IndexedCpHandlers>();
        app.Map(Upload, (HttpContext context) =>
            HttpMethods.IsPost(context.Request.Method) ? handlers.UploadAsync(context)
            : HttpMethods.IsOptions(context.Request.Method) ? IndexedCpHandlers.PreflightAsync(context)
            : IndexedCpHandlers.MethodNotAllowedAsync(context, "POST, OPTIONS"));
        app.Map(Status, (HttpContext context) =>
            HttpMethods.IsGet(context.Request.Method) ? handlers.StatusAsync(context)
            : HttpMethods.IsOptions(context.Request.Method) ? IndexedCpHandlers.PreflightAsync(context)
            : IndexedCpHandlers.MethodNotAllowedAsync(context, "GET, OPTIONS"));
        return app;
    }
}
