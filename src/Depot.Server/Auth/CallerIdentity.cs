using Depot.Core.Security;

namespace Depot.Server.Auth;

/// <summary>Who is calling: an API key's grant, the admin key, or the anonymous reader.</summary>
/// <param name="KeyId">The key id (safe to log), "admin" for the bootstrap admin key, or "anonymous".</param>
public sealed record CallerIdentity(string KeyId, Scopes Scopes, string? Bucket, string? Prefix, int RateLimitPerSecond)
{
    public static CallerIdentity Anonymous { get; } = new("anonymous", Scopes.Read, null, null, 0);

    public bool IsUnrestrictedAdmin => Scopes.HasFlag(Scopes.Admin) && Bucket is null && Prefix is null;

    public bool Has(Scopes scope) => Scopes.HasFlag(Scopes.Admin) || Scopes.HasFlag(scope);

    /// <summary>True when the grant covers <paramref name="key"/> in <paramref name="bucket"/>. A directory key also
    /// passes when it lies above the prefix (so a caller can list its way down to what it may see).</summary>
    public bool Covers(string bucket, string key, bool asDirectoryAncestor = false)
    {
        if (Bucket is not null && !string.Equals(Bucket, bucket, StringComparison.Ordinal))
        {
            return false;
        }

        if (string.IsNullOrEmpty(Prefix))
        {
            return true;
        }

        if (key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return true;
        }

        // "photos/" covers the directory "photos" itself.
        if (Prefix.EndsWith('/') && key == Prefix[..^1])
        {
            return true;
        }

        return asDirectoryAncestor && (key.Length == 0 || Prefix.StartsWith(key + "/", StringComparison.Ordinal));
    }
}
