using System.Text;
using Depot.Core.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Depot.Server.Http;

/// <summary>
/// The bucket and key of a <c>/v1/{bucket}/{key}</c> request, taken from the raw request target and decoded exactly once.
/// </summary>
/// <remarks>Kestrel normalises dot segments in <c>Request.Path</c> before routing; Depot reads the target as sent so that
/// traversal attempts are refused with <c>invalid_path</c> instead of silently landing somewhere else.</remarks>
public readonly record struct RawKeyPath(string Bucket, string Key, bool TrailingSlash)
{
    public static string RawPath(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            raw = raw[..query];
        }

        if (!raw.StartsWith('/'))
        {
            // absolute-form (http://host/path): keep the path part
            var scheme = raw.IndexOf("//", StringComparison.Ordinal);
            var slash = scheme < 0 ? -1 : raw.IndexOf('/', scheme + 2);
            raw = slash < 0 ? "/" : raw[slash..];
        }

        return raw;
    }

    /// <summary>Strict percent-decoding to UTF-8: malformed escapes and invalid UTF-8 are errors.</summary>
    public static Result<string> Decode(string raw)
    {
        if (raw.IndexOf('%', StringComparison.Ordinal) < 0)
        {
            return raw;
        }

        var bytes = new List<byte>(raw.Length);
        Span<byte> one = stackalloc byte[4];
        for (var i = 0; i < raw.Length; i++)
        {
            var c = raw[i];
            if (c == '%')
            {
                if (i + 2 >= raw.Length || !char.IsAsciiHexDigit(raw[i + 1]) || !char.IsAsciiHexDigit(raw[i + 2]))
                {
                    return DepotError.InvalidPath("The path has a malformed percent-escape.");
                }

                bytes.Add(Convert.ToByte(raw.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                var n = Encoding.UTF8.GetBytes(raw.AsSpan(i, char.IsHighSurrogate(c) && i + 1 < raw.Length ? 2 : 1), one);
                if (char.IsHighSurrogate(c))
                {
                    i++;
                }

                for (var j = 0; j < n; j++)
                {
                    bytes.Add(one[j]);
                }
            }
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString([.. bytes]);
        }
        catch (DecoderFallbackException)
        {
            return DepotError.InvalidPath("The path is not valid UTF-8.");
        }
    }

    /// <summary>Splits <c>/v1/{bucket}/{key}</c>; the key may be empty (the bucket root).</summary>
    public static Result<RawKeyPath> Parse(HttpContext context)
    {
        var raw = RawPath(context);
        const string prefix = "/v1/";
        if (!raw.StartsWith(prefix, StringComparison.Ordinal))
        {
            return DepotError.NotFound("No such route.");
        }

        var rest = raw[prefix.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucketRaw = slash < 0 ? rest : rest[..slash];
        var keyRaw = slash < 0 ? string.Empty : rest[(slash + 1)..];
        if (!Decode(bucketRaw).TryGetValue(out var bucket, out var bucketError))
        {
            return bucketError;
        }

        if (!Decode(keyRaw).TryGetValue(out var key, out var keyError))
        {
            return keyError;
        }

        var trailing = key.EndsWith('/');
        if (trailing)
        {
            key = key[..^1];
        }

        return new RawKeyPath(bucket, key, trailing || slash < 0);
    }
}
