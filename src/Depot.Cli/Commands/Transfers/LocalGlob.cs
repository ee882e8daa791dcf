namespace Depot.Cli.Commands.Transfers;

/// <summary>
/// Expands a quoted local pattern (<c>'*.log'</c>, <c>'logs/**/*.gz'</c>) the way a shell would have: <c>*</c> and
/// <c>?</c> within a segment, <c>**</c> as a whole segment for any number of directories. Hidden names are matched only
/// by a segment that starts with a dot, as in shells; symbolic links to directories are not followed by <c>**</c>
/// (a link loop would never end).
/// </summary>
internal static class LocalGlob
{
    /// <summary>True when <paramref name="text"/> holds a wildcard (and so is expanded unless it names an existing file).</summary>
    public static bool IsPattern(string text) => text.AsSpan().IndexOfAny('*', '?') >= 0;

    /// <summary>The paths that match, in ordinal order, written as the pattern was (relative to the working
    /// directory when it is relative).</summary>
    /// <param name="includeDirectories">Match directories too (recursive transfers); otherwise files only.</param>
    public static IReadOnlyList<string> Expand(string pattern, bool includeDirectories)
    {
        var matches = new SortedSet<string>(StringComparer.Ordinal);
        var segments = pattern.Split('/', StringSplitOptions.RemoveEmptyEntries);
        Walk(pattern.StartsWith('/') ? "/" : "", segments, 0, includeDirectories, matches);
        return [.. matches];
    }

    private static void Walk(string prefix, string[] segments, int index, bool includeDirectories, SortedSet<string> matches)
    {
        var here = prefix.Length == 0 ? "." : prefix;
        if (index == segments.Length)
        {
            if (prefix.Length > 0 && (File.Exists(here) || (includeDirectories && Directory.Exists(here))))
            {
                matches.Add(prefix);
            }

            return;
        }

        var segment = segments[index];
        if (segment == "**")
        {
            Walk(prefix, segments, index + 1, includeDirectories, matches);
            foreach (var directory in Entries(here, directoriesOnly: true))
            {
                if (!IsHidden(directory) && directory.LinkTarget is null)
                {
                    Walk(Join(prefix, directory.Name), segments, index, includeDirectories, matches);
                }
            }

            return;
        }

        if (!IsPattern(segment))
        {
            Walk(Join(prefix, segment), segments, index + 1, includeDirectories, matches);
            return;
        }

        foreach (var entry in Entries(here, directoriesOnly: index < segments.Length - 1))
        {
            if ((!IsHidden(entry) || segment.StartsWith('.')) && Matches(segment, entry.Name))
            {
                Walk(Join(prefix, entry.Name), segments, index + 1, includeDirectories, matches);
            }
        }
    }

    private static IEnumerable<FileSystemInfo> Entries(string directory, bool directoriesOnly)
    {
        var info = new DirectoryInfo(directory);
        if (!info.Exists)
        {
            return [];
        }

        try
        {
            return directoriesOnly ? info.GetDirectories() : info.GetFileSystemInfos();
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return []; // an unreadable directory matches nothing, as in shells
        }
    }

    private static bool IsHidden(FileSystemInfo entry) => entry.Name.StartsWith('.');

    private static string Join(string prefix, string name) => prefix switch
    {
        "" => name,
        "/" => "/" + name,
        _ => prefix + "/" + name,
    };

    /// <summary><c>*</c> (any run of characters) and <c>?</c> (one character) against one name; ordinal.</summary>
    internal static bool Matches(string pattern, string name)
    {
        int p = 0, n = 0, starAt = -1, resumeAt = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == name[n]))
            {
                p++;
                n++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                starAt = p++;
                resumeAt = n;
            }
            else if (starAt >= 0)
            {
                p = starAt + 1;
                n = ++resumeAt;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
