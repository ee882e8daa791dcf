using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Depot.Server.Webhooks;

/// <summary>
/// The <c>X-Depot-Signature</c> header: <c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256(secret, "&lt;t&gt;.&lt;body&gt;")&gt;</c>.
/// Signing the time with the body lets a receiver refuse replays of an old delivery.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The header value for <paramref name="body"/> (the exact bytes sent, UTF-8) sent at <paramref name="unixSeconds"/>.</summary>
    public static string Create(string secret, long unixSeconds, string body)
    {
        var timestamp = unixSeconds.ToString(CultureInfo.InvariantCulture);
        return $"t={timestamp},v1={Convert.ToHexStringLower(Mac(secret, timestamp, body))}";
    }

    /// <summary>True when <paramref name="header"/> signs <paramref name="body"/> with <paramref name="secret"/> and its
    /// time lies within <paramref name="tolerance"/> of <paramref name="now"/>.</summary>
    public static bool Verify(string secret, string? header, string body, DateTimeOffset now, TimeSpan tolerance)
    {
        string? timestamp = null;
        string? mac = null;
        foreach (var part in (header ?? "").Split(','))
        {
            var (name, value) = part.IndexOf('=', StringComparison.Ordinal) is var eq and > 0 ? (part[..eq].Trim(), part[(eq + 1)..].Trim()) : ("", "");
            if (name == "t")
            {
                timestamp = value;
            }
            else if (name == "v1")
            {
                mac = value;
            }
        }

        if (timestamp is null || mac is null || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || Math.Abs(now.ToUnixTimeSeconds() - seconds) > tolerance.TotalSeconds)
        {
            return false;
        }

        byte[] given;
        try
        {
            given = Convert.FromHexString(mac);
        }
        catch (FormatException)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(given, Mac(secret, timestamp, body));
    }

    private static byte[] Mac(string secret, string timestamp, string body) =>
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(timestamp + "." + body));
}

/// <summary>When to try a failed delivery again: exponential backoff with jitter.</summary>
public static class WebhookBackoff
{
    /// <summary>The wait after <paramref name="failedAttempts"/> failures (1 or more): the first delay doubled per further
    /// failure, capped at the maximum, plus up to 25 % (<paramref name="jitter"/> in [0, 1)) so that many deliveries
    /// failing together do not all come back at the same moment.</summary>
    public static TimeSpan Delay(int failedAttempts, WebhookDeliveryOptions options, double jitter)
    {
        var exponent = Math.Clamp(failedAttempts - 1, 0, 40);
        var seconds = Math.Min(options.FirstRetryDelay.TotalSeconds * Math.Pow(2, exponent), options.MaxRetryDelay.TotalSeconds);
        return TimeSpan.FromSeconds(seconds * (1 + (0.25 * Math.Clamp(jitter, 0, 1))));
    }
}
