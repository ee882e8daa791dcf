using System.Globalization;

namespace Depot.Cli.Shell;

/// <summary>Sizes, durations and <c>name=value</c> pairs as people type and read them.</summary>
internal static class Units
{
    /// <summary>Sizes like 1024, 500K, 10M, 2G, 1T (binary multiples; a trailing B or iB is allowed).</summary>
    /// <exception cref="FormatException">Not a positive size.</exception>
    public static long ParseSize(string text, bool allowZero = false)
    {
        var original = text;
        text = text.Trim().ToUpperInvariant();
        if (text.EndsWith("IB", StringComparison.Ordinal))
        {
            text = text[..^2];
        }
        else if (text.EndsWith('B'))
        {
            text = text[..^1];
        }

        var multiplier = text.Length > 0 ? text[^1] switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, 'T' => 1L << 40, _ => 1L } : 1L;
        var number = multiplier == 1 ? text : text[..^1];
        if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || (value == 0 && !allowZero))
        {
            throw new FormatException($"'{original}' is not a size; use e.g. 4096, 500M or 10G.");
        }

        try
        {
            return checked(value * multiplier);
        }
        catch (OverflowException)
        {
            throw new FormatException($"'{original}' is too large a size.");
        }
    }

    /// <summary>A duration like 90s, 30m, 24h, 7d or 1w; null when it is not one.</summary>
    public static TimeSpan? ParseDuration(string text)
    {
        text = text.Trim().ToLowerInvariant();
        var unitLength = text.EndsWith("ms", StringComparison.Ordinal) ? 2 : 1;
        if (text.Length <= unitLength || !long.TryParse(text[..^unitLength], NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0 || value > 3650L * 24 * 3600)
        {
            return null;
        }

        return unitLength == 2 ? TimeSpan.FromMilliseconds(value) : text[^1] switch
        {
            's' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMinutes(value),
            'h' => TimeSpan.FromHours(value),
            'd' => TimeSpan.FromDays(Math.Min(value, 3650)),
            'w' => TimeSpan.FromDays(Math.Min(value * 7, 3650)),
            _ => null,
        };
    }

    /// <summary>As <see cref="ParseDuration"/>, but a usage error names the option when the text is not a duration.</summary>
    public static TimeSpan RequireDuration(string text, string option) =>
        ParseDuration(text) ?? throw CliException.Usage($"{option} takes a duration such as 90s, 30m, 24h or 7d (got '{text}').");

    /// <summary>As <see cref="ParseSize"/>, but a usage error names the option.</summary>
    public static long RequireSize(string text, string option, bool allowZero = false)
    {
        try
        {
            return ParseSize(text, allowZero);
        }
        catch (FormatException e)
        {
            throw CliException.Usage($"{option}: {e.Message}");
        }
    }

    /// <summary><c>name=value</c> pairs (repeatable options such as <c>--meta</c>); an empty value is kept.</summary>
    public static Dictionary<string, string> ParsePairs(IEnumerable<string>? pairs, string option)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs ?? [])
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw CliException.Usage($"{option} takes NAME=VALUE (got '{pair}').");
            }

            result[pair[..eq]] = pair[(eq + 1)..];
        }

        return result;
    }

    /// <summary>1536 → "1.5 KiB"; exact bytes below 1 KiB.</summary>
    public static string FormatSize(long bytes)
    {
        if (bytes < 1024)
        {
            return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        }

        string[] units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        double value = bytes;
        var unit = -1;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return value.ToString(value < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    public static string FormatRate(double bytesPerSecond) =>
        double.IsFinite(bytesPerSecond) && bytesPerSecond > 0 ? FormatSize((long)bytesPerSecond) + "/s" : "-";

    /// <summary>"850 ms", "12.3 s", "4m05s", "2h03m".</summary>
    public static string FormatDuration(TimeSpan duration) => duration.TotalSeconds switch
    {
        < 1 => ((int)duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + " ms",
        < 60 => duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s",
        < 3600 => string.Create(CultureInfo.InvariantCulture, $"{(int)duration.TotalMinutes}m{duration.Seconds:00}s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{(int)duration.TotalHours}h{duration.Minutes:00}m"),
    };

    /// <summary>A time in UTC, to the second, as ISO 8601 (stable for scripts and people in any zone).</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
