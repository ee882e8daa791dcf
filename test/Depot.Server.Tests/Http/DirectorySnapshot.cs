using System.Security.Cryptography;

namespace Depot.Server.Tests.Http;

/// <summary>Every entry below a directory with its kind, link target and content hash: two equal snapshots mean the
/// tree is byte-for-byte the same.</summary>
internal sealed record DirectorySnapshot(IReadOnlyDictionary<string, string> Entries)
{
    /// <param name="exclude">Relative paths (with '/') to leave out, e.g. SQLite's shared-memory index, which readers write.</param>
    public static DirectorySnapshot Take(string root, Func<string, bool>? exclude = null)
    {
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        Walk(root, root, entries, exclude);
        return new DirectorySnapshot(entries);
    }

    /// <summary>A bucket's directory without the SQLite files (reads and key lookups touch them) and the server's
    /// exclusive lock file (which cannot be opened while the server runs).</summary>
    public static DirectorySnapshot TakeData(string dataDirectory) =>
        Take(dataDirectory, rel => rel.StartsWith(".depot/depot.db", StringComparison.Ordinal) || rel == ".depot/lock");

    public void AssertSame(DirectorySnapshot after, string because)
    {
        var added = after.Entries.Keys.Except(Entries.Keys).ToList();
        var removed = Entries.Keys.Except(after.Entries.Keys).ToList();
        var changed = Entries.Keys.Intersect(after.Entries.Keys).Where(k => Entries[k] != after.Entries[k]).ToList();
        Assert.True(added.Count + removed.Count + changed.Count == 0,
            $"{because}: added [{string.Join(", ", added)}], removed [{string.Join(", ", removed)}], changed [{string.Join(", ", changed)}]");
    }

    private static void Walk(string root, string dir, SortedDictionary<string, string> into, Func<string, bool>? exclude)
    {
        foreach (var info in new DirectoryInfo(dir).EnumerateFileSystemInfos())
        {
            var rel = Path.GetRelativePath(root, info.FullName).Replace('\\', '/');
            if (exclude?.Invoke(rel) == true)
            {
                continue;
            }

            if (info.LinkTarget is { } target)
            {
                into[rel] = "link:" + target;
            }
            else if (info is DirectoryInfo)
            {
                into[rel] = "dir";
                Walk(root, info.FullName, into, exclude);
            }
            else
            {
                using var stream = new FileStream(info.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                into[rel] = "file:" + Convert.ToHexStringLower(SHA256.HashData(stream));
            }
        }
    }
}
