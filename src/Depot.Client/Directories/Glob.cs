namespace Depot.Client.Directories;

/// <summary>
/// One include/exclude pattern, matched against a <c>/</c>-separated path relative to the synced directory
/// (docs/client-sync.md, "Globs"): <c>*</c> any characters within a segment, <c>**</c> any characters across
/// segments (<c>**/</c> also none: <c>a/**/b</c> matches <c>a/b</c>), <c>?</c> one character, <c>[abc]</c>,
/// <c>[a-z]</c>, <c>[!abc]</c> (or <c>[^abc]</c>) one character of (not of) a set. None of them matches <c>/</c>
/// except <c>**</c>. A pattern without <c>/</c> matches the name at any depth; one with a <c>/</c> (a leading one
/// included) matches from the top. A trailing <c>/</c> makes it match directories only. Matching is ordinal
/// (case-sensitive), like keys.
/// </summary>
internal sealed class Glob
{
    private readonly Token[] _tokens;

    private Glob(string pattern, Token[] tokens, bool directoryOnly)
    {
        Pattern = pattern;
        _tokens = tokens;
        DirectoryOnly = directoryOnly;
    }

    /// <summary>The pattern as given.</summary>
    public string Pattern { get; }

    /// <summary>True when the pattern ended with <c>/</c>.</summary>
    public bool DirectoryOnly { get; }

    /// <exception cref="ArgumentException">The pattern is empty (or only slashes).</exception>
    public static Glob Parse(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var text = pattern;
        var directoryOnly = text.EndsWith('/');
        text = text.TrimEnd('/');
        var anchored = text.Contains('/', StringComparison.Ordinal);
        text = text.TrimStart('/');
        if (text.Length == 0)
        {
            throw new ArgumentException($"The glob '{pattern}' matches nothing: give a name or path (e.g. '*.tmp', 'build/').", nameof(pattern));
        }

        var tokens = new List<Token>();
        if (!anchored)
        {
            // A bare name matches at any depth: the same as '**/name'.
            tokens.Add(new Token(TokenKind.AnySegments));
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '*' when i + 1 < text.Length && text[i + 1] == '*':
                    var atSegmentStart = i == 0 || text[i - 1] == '/';
                    var j = i;
                    while (j < text.Length && text[j] == '*')
                    {
                        j++;
                    }

                    if (atSegmentStart && j < text.Length && text[j] == '/')
                    {
                        tokens.Add(new Token(TokenKind.AnySegments));
                        i = j;
                    }
                    else
                    {
                        tokens.Add(new Token(TokenKind.AnyAcross));
                        i = j - 1;
                    }

                    break;
                case '*':
                    tokens.Add(new Token(TokenKind.AnyInSegment));
                    break;
                case '?':
                    tokens.Add(new Token(TokenKind.OneChar));
                    break;
                case '[' when TryParseClass(text, i, out var set, out var negated, out var end):
                    tokens.Add(new Token(TokenKind.Class) { Set = set, Negated = negated });
                    i = end;
                    break;
                default:
                    tokens.Add(new Token(TokenKind.Literal) { Char = c });
                    break;
            }
        }

        return new Glob(pattern, [.. tokens], directoryOnly);
    }

    /// <summary>Whether the pattern matches <paramref name="relativePath"/> (no leading or trailing <c>/</c>).</summary>
    public bool IsMatch(string relativePath, bool isDirectory)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        if (DirectoryOnly && !isDirectory)
        {
            return false;
        }

        // memo[t, p]: 0 unknown, 1 no, 2 yes. Patterns and paths are short; this keeps '*'-heavy patterns linear-ish.
        var memo = new byte[_tokens.Length + 1, relativePath.Length + 1];
        return Match(0, 0, relativePath, memo);
    }

    private bool Match(int t, int p, string path, byte[,] memo)
    {
        if (memo[t, p] != 0)
        {
            return memo[t, p] == 2;
        }

        bool result;
        if (t == _tokens.Length)
        {
            result = p == path.Length;
        }
        else
        {
            var token = _tokens[t];
            switch (token.Kind)
            {
                case TokenKind.Literal:
                    result = p < path.Length && path[p] == token.Char && Match(t + 1, p + 1, path, memo);
                    break;
                case TokenKind.OneChar:
                    result = p < path.Length && path[p] != '/' && Match(t + 1, p + 1, path, memo);
                    break;
                case TokenKind.Class:
                    result = p < path.Length && path[p] != '/' && token.Matches(path[p]) && Match(t + 1, p + 1, path, memo);
                    break;
                case TokenKind.AnyInSegment:
                    result = Match(t + 1, p, path, memo) || (p < path.Length && path[p] != '/' && Match(t, p + 1, path, memo));
                    break;
                case TokenKind.AnyAcross:
                    result = Match(t + 1, p, path, memo) || (p < path.Length && Match(t, p + 1, path, memo));
                    break;
                case TokenKind.AnySegments:
                    // Zero segments, or skip to just after any later '/'.
                    result = Match(t + 1, p, path, memo);
                    for (var q = p; !result && q < path.Length; q++)
                    {
                        result = path[q] == '/' && Match(t + 1, q + 1, path, memo);
                    }

                    break;
                default:
                    throw new InvalidOperationException("Unknown glob token.");
            }
        }

        memo[t, p] = result ? (byte)2 : (byte)1;
        return result;
    }

    /// <summary>Reads <c>[...]</c> starting at <paramref name="start"/>; false (a literal '[') when it is not closed.</summary>
    private static bool TryParseClass(string text, int start, out List<(char From, char To)> set, out bool negated, out int end)
    {
        set = [];
        negated = false;
        end = start;
        var i = start + 1;
        if (i < text.Length && text[i] is '!' or '^')
        {
            negated = true;
            i++;
        }

        var first = true;
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (c == ']' && !first)
            {
                end = i;
                return set.Count > 0;
            }

            if (c == '/')
            {
                return false;
            }

            first = false;
            if (i + 2 < text.Length && text[i + 1] == '-' && text[i + 2] != ']')
            {
                var to = text[i + 2];
                set.Add(c <= to ? (c, to) : (to, c));
                i += 2;
            }
            else
            {
                set.Add((c, c));
            }
        }

        return false;
    }

    /// <inheritdoc />
    public override string ToString() => Pattern;

    private enum TokenKind
    {
        Literal,
        OneChar,
        Class,
        AnyInSegment,
        AnyAcross,
        AnySegments,
    }

    private sealed record Token(TokenKind Kind)
    {
        public char Char { get; init; }

        public List<(char From, char To)>? Set { get; init; }

        public bool Negated { get; init; }

        public bool Matches(char c)
        {
            var inSet = Set!.Exists(r => c >= r.From && c <= r.To);
            return inSet != Negated;
        }
    }
}

/// <summary>
/// The include and exclude globs of a directory operation. An entry is selected when it matches an include glob (or
/// there are none) and no exclude glob. An excluded directory is not descended into; a directory that matches no
/// include glob is still searched for files that do, but is itself neither created when empty nor deleted.
/// </summary>
internal sealed class PathFilter
{
    private readonly Glob[] _include;
    private readonly Glob[] _exclude;

    public PathFilter(IEnumerable<string>? include, IEnumerable<string>? exclude)
    {
        _include = (include ?? []).Select(Glob.Parse).ToArray();
        _exclude = (exclude ?? []).Select(Glob.Parse).ToArray();
    }

    public static PathFilter All { get; } = new(null, null);

    public bool IsExcluded(string relativePath, bool isDirectory) => Array.Exists(_exclude, g => g.IsMatch(relativePath, isDirectory));

    public bool IsIncluded(string relativePath, bool isDirectory) =>
        _include.Length == 0 || Array.Exists(_include, g => g.IsMatch(relativePath, isDirectory));

    public bool Selects(string relativePath, bool isDirectory) =>
        IsIncluded(relativePath, isDirectory) && !IsExcluded(relativePath, isDirectory);
}
