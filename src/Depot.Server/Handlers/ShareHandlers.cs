using System.Globalization;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Security;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>Share links: <c>POST /v1/{bucket}/{key}?share</c> and <c>POST /v1/_share/rotate</c> (see <see cref="ShareLinks"/>).</summary>
public sealed class ShareHandlers(ObjectEngine engine, AccessGuard guard, ShareLinks links, TimeProvider time)
{
    /// <summary>"POST /v1/{bucket}/{key}?share creates a link that downloads the file without an API key until it
    /// expires: ?ttl=seconds (default 3600, at most 30 days) or ?expires=an RFC 3339 time. Needs an API key with the
    /// read scope on the object; the file must exist."</summary>
    public async Task CreateAsync(HttpContext context, ObjectTarget target)
    {
        var denied = await guard.CheckAsync(context, Scopes.Read, target.Bucket, target.Key.Value);
        if (denied is null && await guard.AuthenticateAsync(context) == CallerIdentity.Anonymous)
        {
            // Anonymous read mode lets anyone read, but a link outlives that setting: making one takes a key.
            denied = new DepotError(ErrorCodes.Unauthorized, "Creating a share link needs an API key: send 'Authorization: Bearer <key>'.");
        }

        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        var now = time.GetUtcNow();
        if (!ParseExpiry(context.Request.Query, now).TryGetValue(out var expires, out var queryError))
        {
            await Problems.WriteAsync(context, queryError);
            return;
        }

        var stat = await engine.StatAsync(target.Bucket, target.Key, context.RequestAborted);
        if (!stat.TryGetValue(out var found, out var statError))
        {
            await Problems.WriteAsync(context, statError);
            return;
        }

        if (found.IsDirectory || target.DirectoryForm)
        {
            await Problems.WriteAsync(context, DepotError.Conflict($"'{target.Key}' is a directory; share links download files."));
            return;
        }

        var path = links.CreatePath(target.Bucket, target.Key.Value, expires);
        var request = context.Request;
        // The link is as good as a key for this object until it expires: no cache keeps the answer.
        context.Response.Headers.CacheControl = "no-store";
        var dto = new ShareLinkDto { Url = $"{request.Scheme}://{request.Host}{path}", Path = path, Expires = expires };
        await JsonBodies.WriteAsync(context, dto, DepotJson.Wire.ShareLinkDto, StatusCodes.Status201Created);
    }

    /// <summary>"POST /v1/_share/rotate replaces the share-link secret: every link made before answers link_invalid
    /// from then on. Needs an admin key without bucket or prefix limits."</summary>
    public async Task RotateAsync(HttpContext context)
    {
        var denied = await guard.CheckAsync(context, Scopes.Admin, null, null);
        if (denied is null && !(await guard.AuthenticateAsync(context))!.IsUnrestrictedAdmin)
        {
            denied = new DepotError(ErrorCodes.Forbidden, "Rotating the share-link secret needs an admin key that is not limited to a bucket or prefix.");
        }

        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        links.Rotate();
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>The link's expiry in whole seconds (UTC) from ?ttl or ?expires; <c>invalid_request</c> when malformed,
    /// not in the future, or more than <see cref="ShareLinks.MaxLifetime"/> ahead.</summary>
    private static Result<DateTimeOffset> ParseExpiry(IQueryCollection query, DateTimeOffset now)
    {
        var maxSeconds = (long)ShareLinks.MaxLifetime.TotalSeconds;
        var hasTtl = query.TryGetValue(DepotQuery.Ttl, out var ttlValues);
        var hasExpires = query.TryGetValue(DepotQuery.Expires, out var expiresValues);
        var start = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        if (hasTtl && hasExpires)
        {
            return DepotError.InvalidRequest("Give either ttl or expires, not both.");
        }

        if (hasTtl)
        {
            if (ttlValues.Count != 1 || !long.TryParse(ttlValues[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ttl) || ttl < 1 || ttl > maxSeconds)
            {
                return DepotError.InvalidRequest($"ttl must be a whole number of seconds from 1 to {maxSeconds} (30 days).");
            }

            return start.AddSeconds(ttl);
        }

        if (hasExpires)
        {
            if (expiresValues.Count != 1 || !Rfc3339.TryParse(expiresValues[0], out var parsed))
            {
                return DepotError.InvalidRequest("expires must be an RFC 3339 time with an offset, e.g. 2026-12-01T12:00:00Z.");
            }

            var expires = DateTimeOffset.FromUnixTimeSeconds(parsed.ToUnixTimeSeconds());
            if (expires <= now || expires > start.AddSeconds(maxSeconds))
            {
                return DepotError.InvalidRequest("expires must lie in the future, at most 30 days ahead.");
            }

            return expires;
        }

        return start.Add(ShareLinks.DefaultLifetime);
    }
}
