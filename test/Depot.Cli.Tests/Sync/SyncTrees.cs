using Depot.Cli.Tests.Infrastructure;
using Depot.Client;

namespace Depot.Cli.Tests.Sync;

/// <summary>Both sides of a sync as comparable maps: relative path → SHA-256 for files, "dir" for directories.</summary>
internal static class SyncTrees
{
    public const string Directory = "dir";

    /// <summary>The remote tree below <paramref name="directory"/> (empty when there is no such directory).</summary>
    public static async Task<SortedDictionary<string, string>> RemoteAsync(DepotClient client, DepotPath directory)
    {
        var tree = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var prefix = directory.IsRoot ? "" : directory.Key + "/";
        try
        {
            await foreach (var entry in client.ListAsync(directory, new ListOptions { Recursive = true }, CliTestContext.Ct))
            {
                tree[entry.Path.Key[prefix.Length..]] = entry.IsFile ? entry.Sha256 ?? "?" : Directory;
            }
        }
        catch (NotFoundException)
        {
            // No directory yet: an empty tree.
        }

        return tree;
    }

    public static SortedDictionary<string, string> Local(string root)
    {
        var tree = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in System.IO.Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, path).Replace('\\', '/');
            tree[relative] = System.IO.Directory.Exists(path) ? Directory : CliTestContext.Sha256Of(path);
        }

        return tree;
    }

    /// <summary>A small tree under Scratch/<paramref name="name"/>: files at three depths and an empty directory.</summary>
    public static string Write(CliTestContext c, string name)
    {
        c.WriteText($"{name}/a.txt", "alpha");
        c.WriteFile($"{name}/sub/b.bin", 10_000, seed: 2);
        c.WriteText($"{name}/sub/deep/c.txt", "gamma gamma");
        System.IO.Directory.CreateDirectory(Path.Combine(c.Scratch, name, "empty"));
        return Path.Combine(c.Scratch, name);
    }

    /// <summary>The summary line (the last line of stdout).</summary>
    public static string Summary(CliResult result) => result.Stdout.TrimEnd('\n').Split('\n')[^1];
}
