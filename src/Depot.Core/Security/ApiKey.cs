using System.Security.Cryptography;
using System.Text;

namespace Depot.Core.Security;

/// <summary>A stored API key: never the secret, only its SHA-256.</summary>
/// <param name="Id">Public identifier (also the first part of the token).</param>
/// <param name="Name">A label for people ("ci uploader").</param>
/// <param name="SecretHash">SHA-256 of the whole token. Tokens carry 256 random bits, so a fast hash is enough.</param>
/// <param name="Scopes">What the key may do.</param>
/// <param name="Bucket">Limit to one bucket, or null for all.</param>
/// <param name="Prefix">Limit to keys under this prefix, or null for all.</param>
/// <param name="CreatedUtc">When the key was created.</param>
/// <param name="ExpiresUtc">After this the key is refused, or null for never.</param>
/// <param name="RevokedUtc">When the key was revoked, or null.</param>
/// <param name="RateLimitPerSecond">Requests per second for this key (0 = the server's default).</param>
public sealed record ApiKeyRecord(
    string Id,
    string Name,
    byte[] SecretHash,
    Scopes Scopes,
    string? Bucket,
    string? Prefix,
    DateTimeOffset CreatedUtc,
    DateTimeOffset? ExpiresUtc,
    DateTimeOffset? RevokedUtc,
    int RateLimitPerSecond = 0);

/// <summary>Token format and hashing. A token reads <c>dpk_{id}_{secret}</c>: the id finds the record,
/// the whole token is hashed and compared in constant time.</summary>
public static class ApiKeyTokens
{
    private const string Prefix = "dpk_";

    public static (string Id, string Token) Generate()
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var secret = Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        return (id, $"{Prefix}{id}_{secret}");
    }

    /// <summary>The id part of a well-formed token, or null.</summary>
    public static string? TryGetId(string token)
    {
        if (!token.StartsWith(Prefix, StringComparison.Ordinal) || token.Length < Prefix.Length + 18)
        {
            return null;
        }

        var rest = token.AsSpan(Prefix.Length);
        var sep = rest.IndexOf('_');
        return sep is 16 ? rest[..sep].ToString() : null;
    }

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    public static bool Matches(string token, byte[] storedHash) =>
        CryptographicOperations.FixedTimeEquals(Hash(token), storedHash);

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>Where API keys are kept.</summary>
public interface IApiKeyStore
{
    Task<ApiKeyRecord?> GetKeyAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(CancellationToken cancellationToken);

    Task AddKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken);

    /// <summary>Marks a key revoked. False when there is no such key.</summary>
    Task<bool> RevokeKeyAsync(string id, DateTimeOffset when, CancellationToken cancellationToken);
}
