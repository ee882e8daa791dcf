using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Ids;
using Depot.Core.Model;
using Depot.Core.Security;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Hosting;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>FastDFS-style uploads: a body stored under a server-assigned id, and slave files of an existing id.</summary>
public sealed class FileIdHandlers(ObjectEngine engine, AccessGuard guard, TimeProvider time, NodeInfo node)
{
    /// <summary>"POST /v1/{bucket} stores the body under a new id {bucket}/M00/HH/HH/{opaque}.{ext} (?ext=, ?appendable)
    /// and answers with the id, size, SHA-256 and the node that stored it."</summary>
    public async Task UploadWithNewIdAsync(HttpContext context, ObjectTarget target)
    {
        // Who is asking comes first: a caller without a valid key learns nothing about the request's shape.
        if (await guard.CheckAsync(context, Scopes.None, null, null) is { } unauthenticated)
        {
            await Problems.WriteAsync(context, unauthenticated);
            return;
        }

        var extension = context.Request.Query[DepotQuery.Ext].ToString();
        var validExtension = FileIds.ValidateExtension(extension);
        if (!validExtension.IsSuccess)
        {
            await Problems.WriteAsync(context, validExtension.Error!);
            return;
        }

        var key = FileIds.NewKey(extension);
        var denied = await guard.CheckAsync(context, Scopes.Write, target.Bucket, key.Value);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        if (!WriteHandlers.ParsePutOptions(context.Request, time).TryGetValue(out var options, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        // Create-only: with 128 random bits a collision is not expected, and would be refused rather than overwrite.
        var put = await WriteHandlers.StoreAsync(() => engine.PutAsync(target.Bucket, key, context.Request.Body, options with { Precondition = new WritePrecondition.MustNotExist() }, context.RequestAborted));
        await AnswerAsync(context, put);
    }

    /// <summary>"POST /v1/{bucket}/{master}?slave=PREFIX[&amp;ext=][&amp;overwrite=true] stores the body as a slave file
    /// of the master, at the master's name plus the prefix (and the given or the master's extension)."</summary>
    public async Task UploadSlaveAsync(HttpContext context, ObjectTarget target)
    {
        if (await guard.CheckAsync(context, Scopes.None, null, null) is { } unauthenticated)
        {
            await Problems.WriteAsync(context, unauthenticated);
            return;
        }

        var query = context.Request.Query;
        var prefix = query[DepotQuery.Slave].ToString();
        var extension = query.ContainsKey(DepotQuery.Ext) ? query[DepotQuery.Ext].ToString() : null;
        if (target.DirectoryForm)
        {
            await Problems.WriteAsync(context, DepotError.InvalidPath("A slave file needs a master file, not a directory."));
            return;
        }

        if (!FileIds.SlaveKey(target.Key, prefix, extension).TryGetValue(out var slave, out var keyError))
        {
            await Problems.WriteAsync(context, keyError);
            return;
        }

        var denied = await guard.CheckAsync(context, Scopes.Read, target.Bucket, target.Key.Value)
            ?? await guard.CheckAsync(context, Scopes.Write, target.Bucket, slave.Value);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        if (!WriteHandlers.ParsePutOptions(context.Request, time).TryGetValue(out var options, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        var overwrite = ReadHandlers.IsTrue(query, DepotQuery.Overwrite);
        var put = await WriteHandlers.StoreAsync(() => engine.PutSlaveAsync(target.Bucket, target.Key, prefix, extension, overwrite, context.Request.Body, options, context.RequestAborted));
        await AnswerAsync(context, put);
    }

    private async Task AnswerAsync(HttpContext context, Result<ObjectRecord> put)
    {
        if (!put.TryGetValue(out var record, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        var dto = Mapping.ToDto(record) with { Id = record.Bucket + "/" + record.Key, Node = node.AddressSeenBy(context) };
        await WriteHandlers.WriteInfoAsync(context, dto, record, record.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }
}
