using System.Globalization;

namespace Depot.Client.Directories;

/// <summary>
/// The <c>mtime</c> user metadata that directory uploads and syncs store with each file: the local file's last-write
/// time, UTC, as RFC 3339 with exactly seven fractional digits and <c>Z</c> (<c>2026-11-21T14:58:29.7782063Z</c>) —
/// the full 100 ns precision of .NET times, so it round-trips exactly. Reading accepts any RFC 3339 time (0–9
/// fractional digits, digits beyond the seventh are dropped; <c>Z</c> or an offset). Times are compared at whole
/// milliseconds, which every common file system keeps.
/// </summary>
internal static class ModifiedTime
{
    private const string WriteFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    private static readonly string[] ReadFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ssK",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
    ];

    /// <summary>The metadata value for a local last-write time.</summary>
    public static string Format(DateTime utc) =>
        DateTime.SpecifyKind(utc, DateTimeKind.Utc).ToString(WriteFormat, CultureInfo.InvariantCulture);

    /// <summary>Reads an <c>mtime</c> value; false for anything that is not an RFC 3339 time.</summary>
    public static bool TryParse(string? value, out DateTime utc)
    {
        utc = default;
        if (string.IsNullOrEmpty(value) || value.Length > 40)
        {
            return false;
        }

        // RFC 3339 needs a zone; without one .NET would assume the local one.
        if (!HasZone(value))
        {
            return false;
        }

        var text = TrimExtraFraction(value);
        if (!DateTimeOffset.TryParseExact(text, ReadFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            return false;
        }

        utc = parsed.UtcDateTime;
        return true;
    }

    /// <summary>The time a remote file's source had: its <c>mtime</c> metadata when it has a valid one, else null.</summary>
    public static DateTime? FromMetadata(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(SyncOptions.ModifiedTimeMetadata, out var value) && TryParse(value, out var utc) ? utc : null;

    /// <summary>Equal at whole milliseconds (truncated, not rounded, on both sides).</summary>
    public static bool SameMillisecond(DateTime a, DateTime b) =>
        a.ToUniversalTime().Ticks / TimeSpan.TicksPerMillisecond == b.ToUniversalTime().Ticks / TimeSpan.TicksPerMillisecond;

    private static bool HasZone(string value)
    {
        if (value[^1] is 'Z' or 'z')
        {
            return true;
        }

        // ±hh:mm after the time.
        return value.Length >= 25 && value[^6] is '+' or '-' && value[^3] == ':';
    }

    /// <summary>Nanosecond times (9 digits, as Go and rclone write them) have more digits than .NET parses: drop the extra ones.</summary>
    private static string TrimExtraFraction(string value)
    {
        var dot = value.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return value;
        }

        var end = dot + 1;
        while (end < value.Length && char.IsAsciiDigit(value[end]))
        {
            end++;
        }

        return end - dot - 1 > 7 ? string.Concat(value.AsSpan(0, dot + 8), value.AsSpan(end)) : value;
    }
}
