using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Depot.Core.Errors;
using Depot.Core.Security;
using Depot.Server.Hosting;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Auth;

/// <summary>
/// Authenticates the bearer key, applies its rate limit and checks that its scopes, bucket and prefix cover the request.
/// </summary>
/// <remarks>Keys are looked up by id and compared by SHA-256 in constant time; secrets are never logged or kept in
/// memory beyond the request. Key records are cached briefly; revoking a key through this node evicts it at once.</remarks>
public sealed class AccessGuard
{
    public const string IdentityItem = "depot.identity";
    private const string RateChargedItem = "depot.rate-charged";
    private const int MaxCachedKeys = 10_000;
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(10);
    private readonly IApiKeyStore _keys;
    private readonly DepotServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ShareLinks _links;
    private readonly byte[]? _adminKeyHash;
    private readonly ConcurrentDictionary<string, (ApiKeyRecord? Record, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);
    // Idle partitions are dropped by the partitioned limiter itself, so many clients do not grow memory forever.
    private readonly PartitionedRateLimiter<(string Partition, int PerSecond)> _limiter = PartitionedRateLimiter.Create<(string Partition, int PerSecond), (string, int)>(
        key => RateLimitPartition.GetTokenBucketLimiter(key, k => new TokenBucketRateLimiterOptions
        {
            TokenLimit = k.Item2,
            TokensPerPeriod = k.Item2,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    public AccessGuard(IApiKeyStore keys, DepotServerOptions options, TimeProvider time, ShareLinks links)
    {
        _keys = keys;
        _options = options;
        _time = time;
        _links = links;
        if (!string.IsNullOrEmpty(options.AdminKey))
        {
            _adminKeyHash = ApiKeyTokens.Hash(options.AdminKey);
        }
    }

    /// <summary>Authenticates, rate-limits and authorizes. Null when allowed; otherwise the error to answer with.</summary>
    public async ValueTask<DepotError?> CheckAsync(HttpContext context, Scopes scope, string? bucket, string? key, bool asDirectoryAncestor = false)
    {
        var identity = await AuthenticateAsync(context);
        if (identity is null)
        {
            return new DepotError(ErrorCodes.Unauthorized, context.Request.Headers.Authorization.Count == 0
                ? "This request needs an API key: send 'Authorization: Bearer <key>'."
                : "The API key is unknown, expired or revoked.");
        }

        // One request costs one token, however many checks it makes (move and copy check source and destination).
        if (!context.Items.ContainsKey(RateChargedItem) && !TryAcquire(identity, context))
        {
            return new DepotError(ErrorCodes.RateLimited, "Too many requests for this API key; slow down and retry after the time in Retry-After.");
        }

        if (identity == CallerIdentity.Anonymous && scope != Scopes.Read)
        {
            return new DepotError(ErrorCodes.Unauthorized, "Anonymous callers may only read: send 'Authorization: Bearer <key>'.");
        }

        if (scope != Scopes.None && !identity.Has(scope))
        {
            return new DepotError(ErrorCodes.Forbidden, $"This API key lacks the '{ScopeNames.ToNames(scope)[0]}' scope.");
        }

        if (bucket is not null && !identity.Covers(bucket, key ?? string.Empty, asDirectoryAncestor))
        {
            return new DepotError(ErrorCodes.Forbidden, "This API key is not valid for that bucket or path.");
        }

        return null;
    }

    /// <summary>Like <see cref="CheckAsync"/> with the read scope, except that a request without an Authorization header
    /// that carries a share link (<c>?expires=..&amp;sig=..</c>) is decided by the link alone: it may download exactly the
    /// object it was signed for when <paramref name="download"/> is true, and nothing else (see
    /// <see cref="ShareLinks.Authorize"/>). Link requests are rate-limited like anonymous ones, per client address.</summary>
    public ValueTask<DepotError?> CheckReadAsync(HttpContext context, string bucket, string key, bool download, bool asDirectoryAncestor = false)
    {
        if (!ShareLinks.IsLinkRequest(context))
        {
            return CheckAsync(context, Scopes.Read, bucket, key, asDirectoryAncestor);
        }

        var identity = ShareLinks.Identity(bucket, key);
        if (!TryAcquire(identity, context))
        {
            return ValueTask.FromResult<DepotError?>(new DepotError(ErrorCodes.RateLimited, "Too many requests from this address; slow down and retry after the time in Retry-After."));
        }

        var denied = _links.Authorize(context, bucket, key, download);
        if (denied is null)
        {
            context.Items[IdentityItem] = identity;
        }

        return ValueTask.FromResult(denied);
    }

    /// <summary>The caller, or null when the key is missing (and anonymous reading is off), malformed or not valid.</summary>
    public async ValueTask<CallerIdentity?> AuthenticateAsync(HttpContext context)
    {
        if (context.Items.TryGetValue(IdentityItem, out var cached))
        {
            return cached as CallerIdentity;
        }

        var identity = await ResolveAsync(context);
        context.Items[IdentityItem] = identity;
        return identity;
    }

    /// <summary>Forgets a cached key (after revocation).</summary>
    public void Evict(string keyId) => _cache.TryRemove(keyId, out _);

    private async ValueTask<CallerIdentity?> ResolveAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization;
        if (header.Count == 0)
        {
            return _options.AnonymousRead ? CallerIdentity.Anonymous : null;
        }

        var value = header.ToString();
        if (header.Count != 1 || !value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var token = value["Bearer ".Length..].Trim();
        if (token.Length == 0)
        {
            return null;
        }

        if (_adminKeyHash is not null && ApiKeyTokens.Matches(token, _adminKeyHash))
        {
            return new CallerIdentity("admin", Scopes.All, null, null, 0);
        }

        var id = ApiKeyTokens.TryGetId(token);
        if (id is null)
        {
            return null;
        }

        var now = _time.GetUtcNow();
        ApiKeyRecord? record;
        if (_cache.TryGetValue(id, out var entry) && entry.Until > now)
        {
            record = entry.Record;
        }
        else
        {
            record = await _keys.GetKeyAsync(id, context.RequestAborted);
            if (record is not null)
            {
                // Only real keys are cached (random ids must not grow memory), and the cache is bounded.
                if (_cache.Count >= MaxCachedKeys)
                {
                    _cache.Clear();
                }

                _cache[id] = (record, now + CacheFor);
            }
        }

        if (record is null || record.RevokedUtc is not null || (record.ExpiresUtc is { } expires && expires <= now)
            || !ApiKeyTokens.Matches(token, record.SecretHash))
        {
            return null;
        }

        return new CallerIdentity(record.Id, record.Scopes, record.Bucket, record.Prefix, record.RateLimitPerSecond);
    }

    private bool TryAcquire(CallerIdentity identity, HttpContext context)
    {
        var perSecond = identity.RateLimitPerSecond > 0 ? identity.RateLimitPerSecond : _options.RateLimitPerSecond;
        if (perSecond <= 0)
        {
            return true;
        }

        // Anonymous callers and share links are limited per client address, keys per key.
        var partition = identity == CallerIdentity.Anonymous || identity.KeyId == ShareLinks.KeyId ? "anon:" + context.Connection.RemoteIpAddress : identity.KeyId;
        using var lease = _limiter.AttemptAcquire((partition, perSecond));
        if (lease.IsAcquired)
        {
            context.Items[RateChargedItem] = true;
            return true;
        }

        context.Response.Headers.RetryAfter = "1";
        return false;
    }
}
