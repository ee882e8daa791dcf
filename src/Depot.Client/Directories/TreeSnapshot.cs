namespace Depot.Client.Directories;

/// <summary>A file or directory of one side of a directory operation.</summary>
internal sealed record TreeEntry
{
    /// <summary>The <c>/</c>-separated path below the directory.</summary>
    public required string RelativePath { get; init; }

    public required bool IsDirectory { get; init; }

    /// <summary>Matched by the include globs and no exclude glob: the operation handles it. Unselected entries are kept
    /// so that their presence is known (a type conflict), never transferred or deleted.</summary>
    public required bool Selected { get; init; }

    public long Size { get; init; }

    /// <summary>Local: the last-write time. Remote: the <c>mtime</c> metadata when valid, else the server's time.</summary>
    public DateTime ModifiedUtc { get; init; }

    /// <summary>Remote: true when <see cref="ModifiedUtc"/> came from <c>mtime</c> metadata.</summary>
    public bool HasRecordedTime { get; init; }

    /// <summary>Remote: the listing's SHA-256 (null when the server does not know it). Local: filled when hashed.</summary>
    public string? Sha256 { get; set; }

    /// <summary>Local: the full path.</summary>
    public string? LocalPath { get; init; }

    /// <summary>Remote: the listing entry.</summary>
    public DepotEntry? Remote { get; init; }
}

/// <summary>
/// One side of a directory operation, as found by one scan (local) or one recursive listing (remote): every reachable
/// entry, what could not be used (links, unsafe names) and which directories hold something the operation does not
/// handle (so they are never deleted as a whole).
/// </summary>
internal sealed class TreeSnapshot
{
    /// <summary>Reachable entries by relative path (ordinal).</summary>
    public Dictionary<string, TreeEntry> Entries { get; } = new(StringComparer.Ordinal);

    /// <summary>Entries that exist but cannot be used, with the reason: symbolic links, unsafe remote names, unreadable
    /// directories. Only those the globs would have selected.</summary>
    public SortedDictionary<string, string> Unusable { get; } = new(StringComparer.Ordinal);

    /// <summary>Directories ("" for the top) below which something is not selected, not reachable or not usable.</summary>
    public HashSet<string> Partial { get; } = new(StringComparer.Ordinal);

    public IEnumerable<TreeEntry> Sorted => Entries.Values.OrderBy(e => e.RelativePath, StringComparer.Ordinal);

    /// <summary>True when <paramref name="relativePath"/> exists on this side in any form (usable or not).</summary>
    public bool Occupies(string relativePath) => Entries.ContainsKey(relativePath) || Unusable.ContainsKey(relativePath);

    public void MarkAncestorsPartial(string relativePath)
    {
        var path = relativePath;
        while (true)
        {
            var slash = path.LastIndexOf('/');
            path = slash < 0 ? "" : path[..slash];
            if (!Partial.Add(path) || path.Length == 0)
            {
                return;
            }
        }
    }

    public static string Join(string parent, string name) => parent.Length == 0 ? name : parent + "/" + name;

    public static string ParentOf(string relativePath) => relativePath.LastIndexOf('/') is var i && i >= 0 ? relativePath[..i] : "";

    /// <summary>Scans a local directory without following symbolic links. Excluded directories are not entered.</summary>
    /// <exception cref="DirectoryNotFoundException">No such local directory.</exception>
    public static TreeSnapshot ScanLocal(string root, PathFilter filter, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"The local directory '{root}' does not exist.");
        }

        var tree = new TreeSnapshot();
        var pending = new Stack<(string Full, string Relative)>();
        pending.Push((root, ""));
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = false,
            IgnoreInaccessible = false,
            AttributesToSkip = 0,
            ReturnSpecialDirectories = false,
        };
        while (pending.TryPop(out var directory))
        {
            cancellationToken.ThrowIfCancellationRequested();
            List<FileSystemInfo> children;
            try
            {
                children = new DirectoryInfo(directory.Full).EnumerateFileSystemInfos("*", options).ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException && directory.Relative.Length > 0)
            {
                tree.Entries.Remove(directory.Relative);
                tree.Unusable[directory.Relative] = "cannot be read: " + e.Message;
                tree.MarkAncestorsPartial(directory.Relative);
                continue;
            }

            foreach (var info in children)
            {
                var relative = Join(directory.Relative, info.Name);
                var isDirectory = info is DirectoryInfo;
                if (!isDirectory && info.Name.StartsWith('.') && info.Name.EndsWith(LocalPaths.PartialDownloadSuffix, StringComparison.Ordinal))
                {
                    // A download's temporary file, left by a crash: neither source nor destination material.
                    continue;
                }

                if (filter.IsExcluded(relative, isDirectory))
                {
                    tree.MarkAncestorsPartial(relative);
                    continue;
                }

                if (info.LinkTarget is not null)
                {
                    tree.Unusable[relative] = "symbolic link (not followed)";
                    tree.MarkAncestorsPartial(relative);
                    continue;
                }

                var selected = filter.IsIncluded(relative, isDirectory);
                if (!selected)
                {
                    tree.MarkAncestorsPartial(relative);
                }

                if (isDirectory)
                {
                    tree.Entries[relative] = new TreeEntry
                    {
                        RelativePath = relative,
                        IsDirectory = true,
                        Selected = selected,
                        ModifiedUtc = info.LastWriteTimeUtc,
                        LocalPath = info.FullName,
                    };
                    pending.Push((info.FullName, relative));
                }
                else
                {
                    var file = (FileInfo)info;
                    tree.Entries[relative] = new TreeEntry
                    {
                        RelativePath = relative,
                        IsDirectory = false,
                        Selected = selected,
                        Size = file.Length,
                        ModifiedUtc = file.LastWriteTimeUtc,
                        LocalPath = file.FullName,
                    };
                }
            }
        }

        return tree;
    }

    /// <summary>Lists a remote directory recursively: one request per 10,000 entries. Null when the directory does
    /// not exist. With <paramref name="checkLocalNames"/>, keys that cannot safely become local paths are unusable
    /// (and not descended into).</summary>
    /// <exception cref="ConflictException">The remote path is a file.</exception>
    public static async Task<TreeSnapshot?> ListRemoteAsync(DepotClient client, DepotPath directory, PathFilter filter, bool checkLocalNames,
        CancellationToken cancellationToken)
    {
        var tree = new TreeSnapshot();
        var pruned = new HashSet<string>(StringComparer.Ordinal);
        var prefix = directory.Key.Length == 0 ? "" : directory.Key + "/";
        try
        {
            var listing = client.ListAsync(directory, new ListOptions { Recursive = true, PageSize = 10_000 }, cancellationToken);
            await foreach (var entry in listing.ConfigureAwait(false))
            {
                Add(tree, pruned, prefix, entry, filter, checkLocalNames);
            }
        }
        catch (NotFoundException)
        {
            return null;
        }

        return tree;
    }

    private static void Add(TreeSnapshot tree, HashSet<string> pruned, string prefix, DepotEntry entry, PathFilter filter, bool checkLocalNames)
    {
        var key = entry.Path.Key;
        if (!key.StartsWith(prefix, StringComparison.Ordinal) || key.Length == prefix.Length)
        {
            return;
        }

        var relative = key[prefix.Length..];
        var isDirectory = !entry.IsFile;
        var parent = ParentOf(relative);
        if (parent.Length > 0 && pruned.Contains(parent))
        {
            // Below an excluded or unusable directory (the listing names each directory before its children).
            pruned.Add(relative);
            return;
        }

        if (filter.IsExcluded(relative, isDirectory))
        {
            tree.MarkAncestorsPartial(relative);
            pruned.Add(relative);
            return;
        }

        if (checkLocalNames && LocalPaths.Check(relative) is { } unsafeName)
        {
            tree.Unusable[relative] = unsafeName;
            tree.MarkAncestorsPartial(relative);
            pruned.Add(relative);
            return;
        }

        var selected = filter.IsIncluded(relative, isDirectory);
        if (!selected)
        {
            tree.MarkAncestorsPartial(relative);
        }

        var recorded = isDirectory ? null : ModifiedTime.FromMetadata(entry.Metadata);
        tree.Entries[relative] = new TreeEntry
        {
            RelativePath = relative,
            IsDirectory = isDirectory,
            Selected = selected,
            Size = entry.Size,
            ModifiedUtc = recorded ?? entry.Modified.UtcDateTime,
            HasRecordedTime = recorded is not null,
            Sha256 = entry.Sha256,
            Remote = entry,
        };
    }
}

/// <summary>Helpers shared by the directory operations.</summary>
internal static class DirectoryWork
{
    /// <summary>Runs <paramref name="body"/> for each item, <paramref name="parallelism"/> at a time, in order of
    /// start. Exceptions of <paramref name="body"/> propagate (the caller records per-item failures itself).</summary>
    public static Task ForEachAsync<T>(IEnumerable<T> items, int parallelism, Func<T, CancellationToken, ValueTask> body,
        CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(parallelism, 1, 64), CancellationToken = cancellationToken },
            body);

    /// <summary>Failures that concern the whole operation (no server, no access, full disk): every other file would
    /// fail the same way, so the operation stops and throws.</summary>
    public static bool IsWholeOperationFailure(Exception e) =>
        e is DepotUnavailableException or UnauthorizedException or InsufficientStorageException;

    public static void CheckParallelism(int parallelism, string name)
    {
        if (parallelism is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(name, parallelism, "Parallelism is 1 to 64 files at once.");
        }
    }

    /// <summary>Upload options for one file: the template's, the <c>mtime</c> metadata merged in.</summary>
    public static UploadOptions UploadOptionsFor(UploadOptions? template, DateTime lastWriteUtc, bool overwrite)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (template?.Metadata is { } given)
        {
            foreach (var (name, value) in given)
            {
                metadata[name.ToLowerInvariant()] = value;
            }
        }

        metadata[SyncOptions.ModifiedTimeMetadata] = ModifiedTime.Format(lastWriteUtc);
        return new UploadOptions
        {
            ContentType = template?.ContentType,
            Metadata = metadata,
            Overwrite = overwrite,
            TimeToLive = template?.TimeToLive,
            Expires = template?.Expires,
            Appendable = template?.Appendable ?? false,
            Verify = template?.Verify ?? true,
            Resumable = template?.Resumable,
            Encryption = template?.Encryption,
        };
    }

    /// <summary>Download options for one whole file; the modification time is set by the caller.</summary>
    public static DownloadOptions DownloadOptionsFor(DownloadOptions? template, bool overwrite) => new()
    {
        Overwrite = overwrite,
        Verify = template?.Verify ?? true,
        PreserveModifiedTime = false,
        Encryption = template?.Encryption,
    };
}
