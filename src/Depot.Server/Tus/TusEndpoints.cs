using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Depot.Server.Tus;

/// <summary>The routes of the tus endpoint: the creation URL <c>/tus/</c> and the uploads <c>/tus/{id}</c>.</summary>
public static class TusEndpoints
{
    public static IEndpointRouteBuilder MapTus(this IEndpointRouteBuilder app)
    {
        // Every method reaches the dispatcher: tus answers unsupported ones itself (with its headers and CORS), and
        // X-HTTP-Method-Override may turn a POST into anything. The handlers are resolved per request (a singleton, so
        // only the first request builds it) rather than at startup.
        app.Map(TusProtocol.BasePath, (HttpContext context, TusHandlers handlers) => handlers.DispatchAsync(context, null));
        app.Map(TusProtocol.BasePath + "/{id}", (HttpContext context, string id, TusHandlers handlers) => handlers.DispatchAsync(context, id));
        return app;
    }
}
