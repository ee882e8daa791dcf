using System.Reflection;
using Depot.Core.Errors;
using Depot.Protocol;
using Depot.Server.Handlers;
using Depot.Server.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Depot.Server.Hosting;

/// <summary>The route table of the HTTP surface (see docs/http-api.md).</summary>
public static class DepotEndpoints
{
    public static IEndpointRouteBuilder MapDepot(this IEndpointRouteBuilder app)
    {
        var version = typeof(DepotEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        app.MapGet(DepotRoutes.Health, (HttpContext context) =>
            context.Response.WriteAsJsonAsync(new HealthDto { Status = "ok", Version = version }, DepotJson.Wire.HealthDto));
        app.MapGet(DepotRoutes.OpenApi, async (HttpContext context) =>
        {
            await using var stream = typeof(DepotEndpoints).Assembly.GetManifestResourceStream("Depot.Server.openapi.json")!;
            context.Response.ContentType = "application/json";
            await stream.CopyToAsync(context.Response.Body, context.RequestAborted);
        });

        app.MapGet(DepotRoutes.Buckets, (HttpContext c, AdminHandlers h) => h.ListBucketsAsync(c));
        app.MapPost(DepotRoutes.Keys, (HttpContext c, AdminHandlers h) => h.CreateKeyAsync(c));
        app.MapGet(DepotRoutes.Keys, (HttpContext c, AdminHandlers h) => h.ListKeysAsync(c));
        app.MapDelete(DepotRoutes.Keys + "/{id}", (HttpContext c, string id, AdminHandlers h) => h.RevokeKeyAsync(c, id));

        // Bucket and key come from the raw target (see RawKeyPath), so one catch-all serves every object route.
        app.Map("/v1/{bucket}/{**key}", DispatchObjectAsync);
        app.Map("/v1/{bucket}", DispatchObjectAsync);
        // "{**path}", not the default "{*path:nonfile}": paths that look like file names (favicon.ico) get problems too.
        app.MapFallback("{**path}", (HttpContext context) => Problems.WriteAsync(context, ErrorCodes.NotFound, $"There is no route {context.Request.Method} {context.Request.Path}; see {DepotRoutes.OpenApi}."));
        return app;
    }

    private static Task DispatchObjectAsync(HttpContext context)
    {
        if (!ObjectTarget.From(context).TryGetValue(out var target, out var error))
        {
            return Problems.WriteAsync(context, error);
        }

        var services = context.RequestServices;
        var method = context.Request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            return services.GetRequiredService<ReadHandlers>().HandleAsync(context, target);
        }

        if (HttpMethods.IsPut(method))
        {
            return services.GetRequiredService<WriteHandlers>().PutAsync(context, target);
        }

        if (HttpMethods.IsDelete(method))
        {
            return services.GetRequiredService<WriteHandlers>().DeleteAsync(context, target);
        }

        if (HttpMethods.IsPost(method))
        {
            return services.GetRequiredService<WriteHandlers>().TransferAsync(context, target);
        }

        context.Response.Headers.Allow = "GET, HEAD, PUT, DELETE, POST";
        return Problems.WriteAsync(context, ErrorCodes.MethodNotAllowed, $"{method} is not supported on objects.");
    }
}
