using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Paths;
using Depot.Core.Security;
using Depot.Core.Storage;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>API key management (<c>/v1/_keys</c>, admin only) and the bucket list (<c>GET /v1/</c>).</summary>
public sealed class AdminHandlers(IApiKeyStore keys, AccessGuard guard, BucketRegistry buckets, IBlobStore blobs, TimeProvider time)
{
    /// <summary>"POST /v1/_keys creates a key with scopes, optionally limited to a bucket and a key prefix, with an optional
    /// expiry and rate limit; the answer holds the secret token once, and only its hash is stored."</summary>
    public async Task CreateKeyAsync(HttpContext context)
    {
        if (await DenyUnlessAdminAsync(context))
        {
            return;
        }

        if (!(await JsonBodies.ReadAsync(context, DepotJson.Wire.CreateKeyRequestDto)).TryGetValue(out var body, out var bodyError))
        {
            await Problems.WriteAsync(context, bodyError);
            return;
        }

        if (body is null || body.Scopes is not { Count: > 0 } || !ScopeNames.TryParse(string.Join(',', body.Scopes), out var scopes))
        {
            await Problems.WriteAsync(context, ErrorCodes.InvalidRequest, "Give scopes: any of \"read\", \"write\", \"delete\", \"admin\".");
            return;
        }

        if (body.Bucket is not null && (!BucketName.Validate(body.Bucket).IsSuccess || buckets.Find(body.Bucket) is null))
        {
            await Problems.WriteAsync(context, ErrorCodes.InvalidRequest, $"There is no bucket named '{body.Bucket}'.");
            return;
        }

        if (body.Prefix is { Length: > 0 } prefix && !ObjectKey.Parse(prefix.TrimEnd('/')).IsSuccess)
        {
            await Problems.WriteAsync(context, ErrorCodes.InvalidPath, "The prefix is not a valid key prefix.");
            return;
        }

        var now = time.GetUtcNow();
        if (body.Expires is { } expires && expires <= now)
        {
            await Problems.WriteAsync(context, ErrorCodes.InvalidRequest, "The expiry is in the past.");
            return;
        }

        if (body.RateLimit < 0)
        {
            await Problems.WriteAsync(context, ErrorCodes.InvalidRequest, "rateLimit is requests per second, 0 for the server default.");
            return;
        }

        var (id, token) = ApiKeyTokens.Generate();
        var record = new ApiKeyRecord(id, body.Name ?? "", ApiKeyTokens.Hash(token), scopes, body.Bucket, string.IsNullOrEmpty(body.Prefix) ? null : body.Prefix, now, body.Expires, null, body.RateLimit);
        await keys.AddKeyAsync(record, context.RequestAborted);
        await JsonBodies.WriteAsync(context, ToDto(record) with { Token = token }, DepotJson.Wire.ApiKeyDto, StatusCodes.Status201Created);
    }

    /// <summary>"GET /v1/_keys lists keys without their secrets."</summary>
    public async Task ListKeysAsync(HttpContext context)
    {
        if (await DenyUnlessAdminAsync(context))
        {
            return;
        }

        var all = await keys.ListKeysAsync(context.RequestAborted);
        await JsonBodies.WriteAsync(context, new ApiKeyListDto { Keys = all.Select(ToDto).ToList() }, DepotJson.Wire.ApiKeyListDto);
    }

    /// <summary>"DELETE /v1/_keys/{id} revokes a key at once."</summary>
    public async Task RevokeKeyAsync(HttpContext context, string id)
    {
        if (await DenyUnlessAdminAsync(context))
        {
            return;
        }

        if (!await keys.RevokeKeyAsync(id, time.GetUtcNow(), context.RequestAborted))
        {
            await Problems.WriteAsync(context, ErrorCodes.NotFound, $"There is no key with id '{id}'.");
            return;
        }

        guard.Evict(id);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>"GET /v1/ lists the buckets the key may see, with their limits and the space on their device."</summary>
    public async Task ListBucketsAsync(HttpContext context)
    {
        var denied = await guard.CheckAsync(context, Scopes.Read, null, null);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        var identity = await guard.AuthenticateAsync(context);
        var list = buckets.Buckets
            .Where(b => identity!.Bucket is null || identity.Bucket == b.Key)
            .OrderBy(b => b.Key, StringComparer.Ordinal)
            .Select(b =>
            {
                var space = (blobs as IStorageSpace)?.GetSpace(b.Key);
                return new BucketDto { Name = b.Key, MaxObjectSize = b.Value.MaxObjectSize, MaxKeyLength = b.Value.MaxKeyLength, ReadOnly = b.Value.ReadOnly, TotalBytes = space?.TotalBytes, FreeBytes = space?.FreeBytes };
            })
            .ToList();
        await JsonBodies.WriteAsync(context, new BucketListDto { Buckets = list }, DepotJson.Wire.BucketListDto);
    }

    private async Task<bool> DenyUnlessAdminAsync(HttpContext context)
    {
        var denied = await guard.CheckAsync(context, Scopes.Admin, null, null);
        if (denied is null && !(await guard.AuthenticateAsync(context))!.IsUnrestrictedAdmin)
        {
            denied = new DepotError(ErrorCodes.Forbidden, "Managing keys needs an admin key that is not limited to a bucket or prefix.");
        }

        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return true;
        }

        return false;
    }

    private static ApiKeyDto ToDto(ApiKeyRecord r) => new()
    {
        Id = r.Id,
        Name = r.Name,
        Scopes = ScopeNames.ToNames(r.Scopes),
        Bucket = r.Bucket,
        Prefix = r.Prefix,
        Created = r.CreatedUtc,
        Expires = r.ExpiresUtc,
        Revoked = r.RevokedUtc,
        RateLimit = r.RateLimitPerSecond,
    };
}
