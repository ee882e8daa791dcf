using System.Text;
using Depot.Core.Errors;

namespace Depot.Core.Paths;

/// <summary>
/// A validated, canonical object key: <c>/</c>-separated segments inside a bucket, e.g. <c>photos/2024/cat.jpg</c>.
/// </summary>
/// <remarks>
/// Keys are the first wall of the path jail: every key that reaches a store went through <see cref="Parse"/>.
/// The rules are deliberately strict so that a key means the same thing on every backend and every client OS:
/// no empty, <c>.</c> or <c>..</c> segments (nor any all-dots segment), no backslashes, no drive letters,
/// no control characters (C0, C1, DEL) or bidirectional overrides, no percent-escapes left after decoding
/// (double-encoding), no unpaired surrogates, segments of at most 255 UTF-8 bytes, keys of at most
/// <see cref="AbsoluteMaxBytes"/> bytes, and never the reserved state folder <c>.depot</c> at the root.
/// Keys are byte-exact: no case folding or Unicode normalisation (files on disk keep their names).
/// </remarks>
public sealed class ObjectKey : IEquatable<ObjectKey>, IComparable<ObjectKey>
{
    /// <summary>Longest segment in UTF-8 bytes (Linux NAME_MAX).</summary>
    public const int MaxSegmentBytes = 255;

    /// <summary>Longest key in UTF-8 bytes regardless of bucket limits (Linux PATH_MAX less room for the root).</summary>
    public const int AbsoluteMaxBytes = 3072;

    /// <summary>The hidden state folder at each bucket root; never addressable.</summary>
    public const string ReservedRootSegment = ".depot";

    private ObjectKey(string value, string[] segments)
    {
        Value = value;
        Segments = segments;
    }

    /// <summary>The bucket root itself (the empty key): only valid where a directory is meant.</summary>
    public static ObjectKey Root { get; } = new(string.Empty, []);

    public string Value { get; }

    public IReadOnlyList<string> Segments { get; }

    public bool IsRoot => Segments.Count == 0;

    /// <summary>The last segment, or empty for the root.</summary>
    public string Name => IsRoot ? string.Empty : Segments[^1];

    /// <summary>The key's UTF-8 length in bytes, the unit of every key-length limit.</summary>
    public int ByteLength => Encoding.UTF8.GetByteCount(Value);

    /// <summary>The parent directory key, or null for the root.</summary>
    public ObjectKey? Parent => IsRoot ? null : Segments.Count == 1 ? Root : new ObjectKey(Value[..Value.LastIndexOf('/')], [.. Segments.Take(Segments.Count - 1)]);

    public ObjectKey Child(string segment)
    {
        var error = ValidateSegment(segment, isFirst: IsRoot);
        if (error is not null)
        {
            throw new ArgumentException(error, nameof(segment));
        }

        return new ObjectKey(IsRoot ? segment : Value + "/" + segment, [.. Segments, segment]);
    }

    /// <summary>True when this key is <paramref name="ancestor"/> or lies below it.</summary>
    public bool IsSameOrUnder(ObjectKey ancestor) =>
        ancestor.IsRoot || Value == ancestor.Value || Value.StartsWith(ancestor.Value + "/", StringComparison.Ordinal);

    /// <summary>Parses an already percent-decoded key. An empty string is the root only when <paramref name="allowRoot"/>.</summary>
    public static Result<ObjectKey> Parse(string? key, bool allowRoot = false)
    {
        if (string.IsNullOrEmpty(key))
        {
            return allowRoot ? Root : DepotError.InvalidPath("The key is empty.");
        }

        if (key.Length > AbsoluteMaxBytes || Encoding.UTF8.GetByteCount(key) > AbsoluteMaxBytes)
        {
            return DepotError.InvalidPath($"The key is longer than {AbsoluteMaxBytes} bytes.");
        }

        if (key[0] == '/')
        {
            return DepotError.InvalidPath("The key must not start with '/'.");
        }

        if (key.Length >= 2 && char.IsAsciiLetter(key[0]) && key[1] == ':')
        {
            return DepotError.InvalidPath("The key must not start with a drive letter.");
        }

        var segments = key.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var error = ValidateSegment(segments[i], isFirst: i == 0);
            if (error is not null)
            {
                return DepotError.InvalidPath(error);
            }
        }

        return new ObjectKey(key, segments);
    }

    /// <summary>Why a single path segment is not acceptable, or null when it is.</summary>
    public static string? ValidateSegment(string segment, bool isFirst)
    {
        if (segment.Length == 0)
        {
            return "The key has an empty segment ('//' or a trailing '/').";
        }

        if (segment.Contains('/', StringComparison.Ordinal))
        {
            return "A segment must not contain '/'.";
        }

        if (segment.AsSpan().IndexOfAnyExcept('.') < 0)
        {
            return $"The segment '{segment}' is made of dots only ('.' and '..' are not allowed).";
        }

        if (isFirst && segment == ReservedRootSegment)
        {
            return $"'{ReservedRootSegment}' is Depot's reserved state folder.";
        }

        if (Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes)
        {
            return $"A segment is longer than {MaxSegmentBytes} bytes.";
        }

        for (var i = 0; i < segment.Length; i++)
        {
            var c = segment[i];
            if (c == '\\')
            {
                return "The key must not contain a backslash.";
            }

            if (char.IsControl(c))
            {
                return "The key must not contain control characters.";
            }

            if (IsDirectionalMark(c))
            {
                return "The key must not contain bidirectional or byte-order marks.";
            }

            if (char.IsSurrogate(c))
            {
                if (char.IsHighSurrogate(c) && i + 1 < segment.Length && char.IsLowSurrogate(segment[i + 1]))
                {
                    i++;
                    continue;
                }

                return "The key is not valid UTF-8 (unpaired surrogate).";
            }

            if (c == '%' && i + 2 < segment.Length && char.IsAsciiHexDigit(segment[i + 1]) && char.IsAsciiHexDigit(segment[i + 2]))
            {
                return "The key still contains a percent-escape after decoding (double encoding is not allowed).";
            }

            if (c == '\uFFFD')
            {
                return "The key is not valid UTF-8.";
            }
        }

        return null;
    }

    /// <summary>Bidirectional controls and the byte-order mark: invisible characters that make text read differently
    /// from what it is (never allowed in keys, escaped in logs).</summary>
    public static bool IsDirectionalMark(char c) =>
        c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\uFEFF';

    public bool Equals(ObjectKey? other) => other is not null && string.Equals(Value, other.Value, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is ObjectKey other && Equals(other);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>Listing order: segment by segment, ordinal; a directory sorts right before its children.</summary>
    public int CompareTo(ObjectKey? other)
    {
        if (other is null)
        {
            return 1;
        }

        var n = Math.Min(Segments.Count, other.Segments.Count);
        for (var i = 0; i < n; i++)
        {
            var c = string.CompareOrdinal(Segments[i], other.Segments[i]);
            if (c != 0)
            {
                return c;
            }
        }

        return Segments.Count.CompareTo(other.Segments.Count);
    }

    public override string ToString() => Value;

    public static bool operator ==(ObjectKey? left, ObjectKey? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(ObjectKey? left, ObjectKey? right) => !(left == right);

    public static bool operator <(ObjectKey left, ObjectKey right) => left.CompareTo(right) < 0;

    public static bool operator <=(ObjectKey left, ObjectKey right) => left.CompareTo(right) <= 0;

    public static bool operator >(ObjectKey left, ObjectKey right) => left.CompareTo(right) > 0;

    public static bool operator >=(ObjectKey left, ObjectKey right) => left.CompareTo(right) >= 0;
}
