using System.Globalization;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Security;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>POST ?append, ?modify and ?truncate on appender objects (FastDFS appender files).</summary>
public sealed class AppenderHandlers(ObjectEngine engine, AccessGuard guard)
{
    /// <summary>"POST ?append appends the streamed body; POST ?modify&amp;offset=N[&amp;extend=true] writes it at N; POST
    /// ?truncate=N cuts the object to N bytes. Each is atomic and durable; If-Match makes it conditional."</summary>
    public async Task HandleAsync(HttpContext context, ObjectTarget target)
    {
        var denied = await guard.CheckAsync(context, Scopes.Write, target.Bucket, target.Key.Value);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        if (target.DirectoryForm)
        {
            await Problems.WriteAsync(context, DepotError.Conflict($"'{target.Key}' names a directory, not an appender object."));
            return;
        }

        var request = context.Request;
        if (!WriteHandlers.ParsePrecondition(request).TryGetValue(out var precondition, out var preError))
        {
            await Problems.WriteAsync(context, preError);
            return;
        }

        var options = new ChangeOptions { ExpectedLength = request.ContentLength, Precondition = precondition };
        var query = request.Query;
        Result<ObjectRecord> changed;
        if (query.ContainsKey(DepotQuery.Append))
        {
            changed = await WriteHandlers.StoreAsync(() => engine.AppendAsync(target.Bucket, target.Key, request.Body, options, context.RequestAborted));
        }
        else if (query.ContainsKey(DepotQuery.Modify))
        {
            if (!TryReadSize(query, DepotQuery.Offset, out var offset))
            {
                await Problems.WriteAsync(context, DepotError.InvalidRequest("?modify needs offset=N, a whole number of bytes."));
                return;
            }

            var extend = ReadHandlers.IsTrue(query, DepotQuery.Extend);
            changed = await WriteHandlers.StoreAsync(() => engine.ModifyAsync(target.Bucket, target.Key, offset, extend, request.Body, options, context.RequestAborted));
        }
        else
        {
            if (!TryReadSize(query, DepotQuery.Truncate, out var size))
            {
                await Problems.WriteAsync(context, DepotError.InvalidRequest("?truncate=N needs N, the new size in bytes."));
                return;
            }

            // A chunked body has no Content-Length: one byte read tells whether it has any.
            if (request.ContentLength > 0 || (request.ContentLength is null && await request.Body.ReadAsync(new byte[1], context.RequestAborted) > 0))
            {
                await Problems.WriteAsync(context, DepotError.InvalidRequest("?truncate takes no body."));
                return;
            }

            changed = await engine.TruncateAsync(target.Bucket, target.Key, size, options, context.RequestAborted);
        }

        if (!changed.TryGetValue(out var record, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        await WriteHandlers.WriteInfoAsync(context, Mapping.ToDto(record), record, StatusCodes.Status200OK);
    }

    private static bool TryReadSize(IQueryCollection query, string name, out long value) =>
        long.TryParse(query[name].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
