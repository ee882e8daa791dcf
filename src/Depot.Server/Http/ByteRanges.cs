using System.Globalization;

namespace Depot.Server.Http;

/// <summary>Parses a <c>Range: bytes=...</c> header (RFC 9110 §14.1.2) against a representation's length.</summary>
public static class ByteRanges
{
    // More ranges than this (after coalescing) is treated as abuse: the whole representation is sent instead.
    private const int MaxRanges = 64;

    public enum Kind
    {
        /// <summary>No usable Range header: send the whole representation (200).</summary>
        Whole,

        /// <summary>Ranges that can be satisfied (206).</summary>
        Satisfiable,

        /// <summary>A valid bytes range set none of which overlaps the representation (416).</summary>
        Unsatisfiable,
    }

    /// <summary>Inclusive-exclusive range.</summary>
    public readonly record struct Range(long Start, long End)
    {
        public long Length => End - Start;
    }

    public static (Kind Kind, IReadOnlyList<Range> Ranges) Parse(string? header, long length)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return (Kind.Whole, []);
        }

        var text = header.Trim();
        if (!text.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return (Kind.Whole, []); // unknown range unit: ignore (§14.2)
        }

        var ranges = new List<Range>();
        var any = false;
        foreach (var part in text[6..].Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Length == 0)
            {
                continue;
            }

            var dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                return (Kind.Whole, []); // syntactically invalid: ignore the header
            }

            var first = part[..dash].Trim();
            var last = part[(dash + 1)..].Trim();
            if (first.Length == 0)
            {
                // suffix-byte-range-spec: the last N bytes
                if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var suffix))
                {
                    return (Kind.Whole, []);
                }

                any = true;
                if (suffix > 0 && length > 0)
                {
                    ranges.Add(new Range(Math.Max(0, length - suffix), length));
                }

                continue;
            }

            if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var start))
            {
                return (Kind.Whole, []);
            }

            long end;
            if (last.Length == 0)
            {
                end = length;
            }
            else if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var lastPos) || lastPos < start)
            {
                return (Kind.Whole, []);
            }
            else
            {
                end = lastPos >= length - 1 ? length : lastPos + 1; // no overflow for last-pos = long.MaxValue
            }

            any = true;
            if (start < length)
            {
                ranges.Add(new Range(start, end));
            }
        }

        if (!any)
        {
            return (Kind.Whole, []);
        }

        if (ranges.Count == 0)
        {
            return (Kind.Unsatisfiable, []);
        }

        var merged = Coalesce(ranges);
        return merged.Count > MaxRanges ? (Kind.Whole, []) : (Kind.Satisfiable, merged);
    }

    /// <summary>Merges overlapping or adjacent ranges, keeping the client's order for disjoint ones.</summary>
    private static List<Range> Coalesce(List<Range> ranges)
    {
        if (ranges.Count == 1)
        {
            return ranges;
        }

        var sorted = ranges.OrderBy(r => r.Start).ToList();
        var overlaps = false;
        for (var i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Start <= sorted[i - 1].End)
            {
                overlaps = true;
                break;
            }
        }

        if (!overlaps)
        {
            return ranges;
        }

        var merged = new List<Range> { sorted[0] };
        foreach (var r in sorted.Skip(1))
        {
            var lastRange = merged[^1];
            if (r.Start <= lastRange.End)
            {
                merged[^1] = new Range(lastRange.Start, Math.Max(lastRange.End, r.End));
            }
            else
            {
                merged.Add(r);
            }
        }

        return merged;
    }
}
