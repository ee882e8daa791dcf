namespace Depot.Core.Uploads;

/// <summary>Sorted, merged lists of byte ranges (what a session has received).</summary>
internal static class ByteSpans
{
    /// <summary>The ranges with <paramref name="added"/> merged in (overlapping and touching ranges join).</summary>
    public static IReadOnlyList<ByteSpan> Add(IReadOnlyList<ByteSpan> ranges, ByteSpan added)
    {
        if (added.Length <= 0)
        {
            return ranges;
        }

        var result = new List<ByteSpan>(ranges.Count + 1);
        var merged = added;
        var placed = false;
        foreach (var range in ranges)
        {
            if (range.End < merged.Start)
            {
                result.Add(range);
            }
            else if (range.Start > merged.End)
            {
                if (!placed)
                {
                    result.Add(merged);
                    placed = true;
                }

                result.Add(range);
            }
            else
            {
                merged = new ByteSpan(Math.Min(range.Start, merged.Start), Math.Max(range.End, merged.End));
            }
        }

        if (!placed)
        {
            result.Add(merged);
        }

        return result;
    }

    /// <summary>The end of the received range that contains <paramref name="position"/>, or -1 when it is not received.</summary>
    public static long ReceivedUntil(IReadOnlyList<ByteSpan> ranges, long position)
    {
        foreach (var range in ranges)
        {
            if (range.Start <= position && position < range.End)
            {
                return range.End;
            }

            if (range.Start > position)
            {
                break;
            }
        }

        return -1;
    }

    /// <summary>The start of the first received range after <paramref name="position"/>, or <see cref="long.MaxValue"/>.</summary>
    public static long NextReceived(IReadOnlyList<ByteSpan> ranges, long position)
    {
        foreach (var range in ranges)
        {
            if (range.Start > position)
            {
                return range.Start;
            }
        }

        return long.MaxValue;
    }

    /// <summary>The gaps in [0, <paramref name="length"/>) (for error messages).</summary>
    public static IReadOnlyList<ByteSpan> Missing(IReadOnlyList<ByteSpan> ranges, long length)
    {
        var missing = new List<ByteSpan>();
        var position = 0L;
        foreach (var range in ranges)
        {
            if (range.Start > position)
            {
                missing.Add(new ByteSpan(position, Math.Min(range.Start, length)));
            }

            position = Math.Max(position, range.End);
            if (position >= length)
            {
                break;
            }
        }

        if (position < length)
        {
            missing.Add(new ByteSpan(position, length));
        }

        return missing;
    }
}
