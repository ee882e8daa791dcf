using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Paths;
using Depot.Core.Security;
using Depot.Core.Storage;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Hosting;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>Cluster info (FastDFS list groups, one group, servers): buckets with space and usage, and the nodes.</summary>
/// <remarks>One node today; every node of a scale-out deployment serves every bucket, so each bucket lists all nodes.</remarks>
public sealed class ClusterHandlers(ObjectEngine engine, IBlobStore blobs, AccessGuard guard, NodeInfo node)
{
    /// <summary>"GET /v1/_cluster lists the buckets the key may see, with total and free space, object count and bytes
    /// used, and the servers with address, version, uptime and status."</summary>
    public async Task ListAsync(HttpContext context)
    {
        var identity = await AuthenticateAsync(context);
        if (identity is null)
        {
            return;
        }

        var buckets = new List<ClusterBucketDto>();
        foreach (var name in engine.Buckets.Buckets.Keys.Order(StringComparer.Ordinal))
        {
            if (identity.Bucket is null || identity.Bucket == name)
            {
                buckets.Add(await DescribeAsync(context, name));
            }
        }

        await JsonBodies.WriteAsync(context, new ClusterDto { Buckets = buckets, Servers = [Node(context)] }, DepotJson.Wire.ClusterDto);
    }

    /// <summary>"GET /v1/_cluster/{bucket} describes one bucket and its servers."</summary>
    public async Task GetBucketAsync(HttpContext context, string bucket)
    {
        var identity = await AuthenticateAsync(context);
        if (identity is null)
        {
            return;
        }

        if (!BucketName.Validate(bucket).IsSuccess || engine.Buckets.Find(bucket) is null || (identity.Bucket is not null && identity.Bucket != bucket))
        {
            await Problems.WriteAsync(context, DepotError.NotFound($"There is no bucket named '{bucket}'."));
            return;
        }

        await JsonBodies.WriteAsync(context, new ClusterDto { Buckets = [await DescribeAsync(context, bucket)], Servers = [Node(context)] }, DepotJson.Wire.ClusterDto);
    }

    /// <summary>Any valid key may look (as FastDFS's monitor can); keys limited to a bucket see only theirs.</summary>
    private async Task<CallerIdentity?> AuthenticateAsync(HttpContext context)
    {
        var denied = await guard.CheckAsync(context, Scopes.None, null, null);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return null;
        }

        return await guard.AuthenticateAsync(context);
    }

    private async Task<ClusterBucketDto> DescribeAsync(HttpContext context, string name)
    {
        var cancellationToken = context.RequestAborted;
        var options = engine.Buckets.Find(name)!;
        var space = (blobs as IStorageSpace)?.GetSpace(name);
        var usage = await engine.GetUsageAsync(name, cancellationToken);
        return new ClusterBucketDto
        {
            Name = name,
            TotalBytes = space?.TotalBytes,
            FreeBytes = space?.FreeBytes,
            ObjectCount = usage.ObjectCount,
            BytesUsed = usage.BytesUsed,
            MaxObjectSize = options.MaxObjectSize,
            ReadOnly = options.ReadOnly,
            Servers = [node.AddressSeenBy(context)],
        };
    }

    private NodeDto Node(HttpContext context) => new()
    {
        Id = node.Id,
        Address = node.AddressSeenBy(context),
        Version = NodeInfo.Version,
        Started = node.StartedUtc,
        UptimeSeconds = (long)node.Uptime.TotalSeconds,
        Status = "active",
    };
}
