using System.Globalization;

namespace Depot.Client.Directories;

/// <summary>
/// Turns relative keys from a listing into local paths without ever leaving the local directory: a key is joined only
/// after every segment was checked, and the result is checked again to lie below the root.
/// </summary>
internal static class LocalPaths
{
    /// <summary>The reason recorded for a remote name that cannot be a local path.</summary>
    public const string UnsafeName = "unsafe name";

    /// <summary>Suffix of the temporary files of <see cref="DepotClient.DownloadAsync(DepotPath, string, DownloadOptions?, IProgress{TransferProgress}?, CancellationToken)"/>;
    /// such files are never uploaded, compared or deleted.</summary>
    public const string PartialDownloadSuffix = ".depot-part";

    /// <summary>The full local path of <paramref name="relativeKey"/> below <paramref name="root"/> (a full path), or
    /// null with the reason when the key could name something outside it or something the local system cannot hold:
    /// empty, absolute, <c>.</c>/<c>..</c> (or any all-dots) segment, empty segment, backslash, NUL or other control
    /// character, a drive letter, and on Windows a colon.</summary>
    public static string? Resolve(string root, string relativeKey, out string? reason)
    {
        reason = Check(relativeKey);
        if (reason is not null)
        {
            return null;
        }

        var full = Path.GetFullPath(Path.Combine(root, relativeKey.Replace('/', Path.DirectorySeparatorChar)));
        var prefix = Path.TrimEndingDirectorySeparator(root) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
        {
            reason = $"{UnsafeName}: '{relativeKey}' resolves outside the local directory";
            return null;
        }

        return full;
    }

    /// <summary>Null when <paramref name="relativeKey"/> is safe to join below a local directory, else why not.</summary>
    public static string? Check(string relativeKey)
    {
        ArgumentNullException.ThrowIfNull(relativeKey);
        if (relativeKey.Length == 0)
        {
            return $"{UnsafeName}: empty";
        }

        if (relativeKey[0] == '/' || Path.IsPathRooted(relativeKey))
        {
            return $"{UnsafeName}: '{relativeKey}' is absolute";
        }

        if (relativeKey.Length >= 2 && char.IsAsciiLetter(relativeKey[0]) && relativeKey[1] == ':')
        {
            return $"{UnsafeName}: '{relativeKey}' starts with a drive letter";
        }

        foreach (var c in relativeKey)
        {
            if (c == '\\')
            {
                return $"{UnsafeName}: '{relativeKey}' contains a backslash";
            }

            if (char.IsControl(c))
            {
                return $"{UnsafeName}: '{Printable(relativeKey)}' contains a control character";
            }

            if (c == ':' && OperatingSystem.IsWindows())
            {
                return $"{UnsafeName}: '{relativeKey}' contains a colon (an alternate data stream on Windows)";
            }
        }

        foreach (var segment in relativeKey.Split('/'))
        {
            if (segment.Length == 0)
            {
                return $"{UnsafeName}: '{relativeKey}' has an empty segment";
            }

            if (segment.AsSpan().TrimStart('.').IsEmpty)
            {
                return $"{UnsafeName}: '{relativeKey}' has a '{segment}' segment";
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="path"/> is a symbolic link (or junction), without following it.</summary>
    public static bool IsLink(string path)
    {
        try
        {
            // LinkTarget reads the link itself (readlink / the reparse point), also of a link whose target is missing.
            return new FileInfo(path).LinkTarget is not null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Null when every existing directory from <paramref name="root"/> down to the parent of
    /// <paramref name="fullPath"/> is a real directory; else the first one that is a link or a file. Checked right
    /// before writing, so that a link planted after the scan does not redirect the write out of the root.</summary>
    public static string? FindLinkOnTheWay(string root, string fullPath)
    {
        var rootTrimmed = Path.TrimEndingDirectorySeparator(root);
        var parent = Path.GetDirectoryName(fullPath);
        var chain = new Stack<string>();
        while (parent is not null && parent.Length > rootTrimmed.Length)
        {
            chain.Push(parent);
            parent = Path.GetDirectoryName(parent);
        }

        foreach (var directory in chain)
        {
            if (IsLink(directory))
            {
                return directory;
            }

            if (!Directory.Exists(directory))
            {
                // A file in the way is caught by the write itself; nothing below a missing directory can be a link.
                return null;
            }
        }

        return null;
    }

    private static string Printable(string text) => string.Concat(text.Select(c => char.IsControl(c) ? "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture) : c.ToString()));
}
