using Depot.Core.Errors;
using Depot.Protocol;
using Depot.Server.Handlers;
using Depot.Server.Http;
using Depot.Server.IndexedCp;
using Depot.Server.Tus;
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
        app.MapGet(DepotRoutes.Health, (HttpContext context) =>
            context.Response.WriteAsJsonAsync(new HealthDto { Status = "ok", Version = NodeInfo.Version }, DepotJson.Wire.HealthDto));
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
        app.MapGet(DepotRoutes.Cluster, (HttpContext c, ClusterHandlers h) => h.ListAsync(c));
        app.MapGet(DepotRoutes.Cluster + "/{bucket}", (HttpContext c, string bucket, ClusterHandlers h) => h.GetBucketAsync(c, bucket));
        app.MapPost(DepotRoutes.ShareRotate, (HttpContext c, ShareHandlers h) => h.RotateAsync(c));
        app.MapPost(DepotRoutes.Uploads, (HttpContext c, UploadHandlers h) => h.CreateAsync(c));
        app.MapGet(DepotRoutes.Uploads + "/{id}", (HttpContext c, string id, UploadHandlers h) => h.GetAsync(c, id));
        app.MapPut(DepotRoutes.Uploads + "/{id}", (HttpContext c, string id, UploadHandlers h) => h.PutChunkAsync(c, id, null));
        app.MapPut(DepotRoutes.Uploads + "/{id}/chunks/{index}", (HttpContext c, string id, string index, UploadHandlers h) => h.PutChunkAsync(c, id, index));
        app.MapPatch(DepotRoutes.Uploads + "/{id}", (HttpContext c, string id, UploadHandlers h) => h.UpdateAsync(c, id));
        app.MapPost(DepotRoutes.Uploads + "/{id}/complete", (HttpContext c, string id, UploadHandlers h) => h.CompleteAsync(c, id));
        app.MapDelete(DepotRoutes.Uploads + "/{id}", (HttpContext c, string id, UploadHandlers h) => h.AbortAsync(c, id));
        app.MapPost(DepotRoutes.Manifests, (HttpContext c, Manifests.ManifestHandlers h) => h.CreateAsync(c));
        app.MapGet(DepotRoutes.Manifests + "/{id}", (HttpContext c, string id, Manifests.ManifestHandlers h) => h.GetAsync(c, id));
        app.MapDelete(DepotRoutes.Manifests + "/{id}", (HttpContext c, string id, Manifests.ManifestHandlers h) => h.DeleteAsync(c, id));

        // Bucket and key come from the raw target (see RawKeyPath), so one catch-all serves every object route.
        // The handlers are singletons: resolved once here rather than from each request's scope.
        var handlers = new ObjectHandlers(app.ServiceProvider);
        app.Map("/v1/{bucket}/{**key}", (HttpContext context) => DispatchObjectAsync(context, handlers));
        app.Map("/v1/{bucket}", (HttpContext context) => DispatchObjectAsync(context, handlers));
        app.MapTus();
        app.MapIndexedCp();
        // "{**path}", not the default "{*path:nonfile}": paths that look like file names (favicon.ico) get problems too.
        app.MapFallback("{**path}", (HttpContext context) => Problems.WriteAsync(context, ErrorCodes.NotFound, $"There is no route {context.Request.Method} {context.Request.Path}; see {DepotRoutes.OpenApi}."));
        return app;
    }

    private static Task DispatchObjectAsync(HttpContext context, ObjectHandlers services)
    {
        if (!ObjectTarget.From(context).TryGetValue(out var target, out var error))
        {
            return Problems.WriteAsync(context, error);
        }

        var method = context.Request.Method;
        var query = context.Request.Query;
        var meta = query.ContainsKey(DepotQuery.Meta);
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            return meta
                ? services.Metadata.GetAsync(context, target)
                : services.Read.HandleAsync(context, target);
        }

        if (HttpMethods.IsPut(method))
        {
            return meta
                ? services.Metadata.ReplaceAsync(context, target)
                : services.Write.PutAsync(context, target);
        }

        if (HttpMethods.IsPatch(method) && meta)
        {
            return services.Metadata.MergeAsync(context, target);
        }

        if (HttpMethods.IsDelete(method))
        {
            return meta ? services.Metadata.DeleteNamesAsync(context, target)
                : query.ContainsKey(DepotQuery.Take) ? services.Write.TakeAsync(context, target)
                : services.Write.DeleteAsync(context, target);
        }

        if (HttpMethods.IsPost(method))
        {
            if (query.ContainsKey(DepotQuery.Share))
            {
                return services.Share.CreateAsync(context, target);
            }

            if (query.ContainsKey(DepotQuery.Slave))
            {
                return services.FileId.UploadSlaveAsync(context, target);
            }

            if (query.ContainsKey(DepotQuery.Append) || query.ContainsKey(DepotQuery.Modify) || query.ContainsKey(DepotQuery.Truncate))
            {
                return services.Appender.HandleAsync(context, target);
            }

            if (target.Key.IsRoot && !query.ContainsKey(DepotQuery.Move) && !query.ContainsKey(DepotQuery.Copy))
            {
                return services.FileId.UploadWithNewIdAsync(context, target);
            }

            return services.Write.TransferAsync(context, target);
        }

        context.Response.Headers.Allow = "GET, HEAD, PUT, PATCH, DELETE, POST";
        return Problems.WriteAsync(context, ErrorCodes.MethodNotAllowed, $"{method} is not supported here (PATCH only with ?meta).");
    }

    /// <summary>The object-route handlers, resolved once.</summary>
    private sealed class ObjectHandlers(IServiceProvider services)
    {
        public ReadHandlers Read { get; } = services.GetRequiredService<ReadHandlers>();
        public WriteHandlers Write { get; } = services.GetRequiredService<WriteHandlers>();
        public MetadataHandlers Metadata { get; } = services.GetRequiredService<MetadataHandlers>();
        public FileIdHandlers FileId { get; } = services.GetRequiredService<FileIdHandlers>();
        public AppenderHandlers Appender { get; } = services.GetRequiredService<AppenderHandlers>();
        public ShareHandlers Share { get; } = services.GetRequiredService<ShareHandlers>();
    }
}
