namespace Depot.Client.Directories;

/// <summary>A sync's plan: what to delete first (entries of the wrong kind in the way), which directories to create,
/// what to send, what to delete last. Computed from the two snapshots alone, without any request.</summary>
internal sealed class SyncPlan
{
    /// <summary>The plan for people, in execution order.</summary>
    public List<SyncAction> Actions { get; } = [];

    /// <summary>Destination entries of the wrong kind, removed before anything is sent (only with Delete).</summary>
    public List<TreeEntry> Replacements { get; } = [];

    /// <summary>Directories missing at the destination, parents first ("" for the synced directory itself).</summary>
    public List<string> CreateDirectories { get; } = [];

    /// <summary>Source files to send.</summary>
    public List<TreeEntry> Sends { get; } = [];

    /// <summary>Destination files and directories the source does not have (only with Delete).</summary>
    public List<TreeEntry> Deletes { get; } = [];

    /// <summary>Failures found while planning: unsafe names, unreadable directories, entries in the way.</summary>
    public List<DirectoryTransferFailure> Failures { get; } = [];

    public int Skipped { get; set; }
}

/// <summary>Compares two snapshots as docs/client-sync.md says.</summary>
internal static class SyncPlanner
{
    public const string LinkReason = "symbolic link (not followed)";

    /// <param name="source">The side that is copied.</param>
    /// <param name="destination">The side that is made like it.</param>
    /// <param name="destinationExists">False when the destination directory itself is missing (it is created).</param>
    public static SyncPlan Build(TreeSnapshot source, TreeSnapshot destination, bool destinationExists, SyncDirection direction, SyncOptions options)
    {
        var plan = new SyncPlan();
        var blocked = new HashSet<string>(StringComparer.Ordinal);
        var transfers = new List<SyncAction>();
        if (!destinationExists)
        {
            plan.CreateDirectories.Add("");
        }

        foreach (var (relative, reason) in source.Unusable)
        {
            if (IsBelow(relative, blocked))
            {
                continue;
            }

            if (string.Equals(reason, LinkReason, StringComparison.Ordinal))
            {
                transfers.Add(new SyncAction(SyncActionKind.Skip, relative, false, 0, reason));
                plan.Skipped++;
            }
            else
            {
                plan.Failures.Add(Failure(relative, $"'{relative}': {reason}."));
            }
        }

        foreach (var entry in source.Sorted)
        {
            var relative = entry.RelativePath;
            if (IsBelow(relative, blocked) || (!entry.Selected && !entry.IsDirectory))
            {
                continue;
            }

            if (destination.Unusable.TryGetValue(relative, out var inTheWay))
            {
                plan.Failures.Add(Failure(relative, $"'{relative}': the destination has a {inTheWay} there, which is left alone; nothing was synced to it."));
                if (entry.IsDirectory)
                {
                    blocked.Add(relative);
                }

                continue;
            }

            destination.Entries.TryGetValue(relative, out var there);
            if (entry.IsDirectory)
            {
                if (there is null)
                {
                    // A directory the globs do not select is created only as the parent of what is sent into it.
                    if (entry.Selected)
                    {
                        plan.CreateDirectories.Add(relative);
                    }
                }
                else if (!there.IsDirectory)
                {
                    if (options.Delete && there.Selected)
                    {
                        plan.Replacements.Add(there);
                        transfers.Add(new SyncAction(SyncActionKind.Delete, relative, false, there.Size, "replaced by a directory"));
                        plan.CreateDirectories.Add(relative);
                    }
                    else
                    {
                        plan.Failures.Add(Failure(relative,
                            $"'{relative}' is a directory in the source but a file at the destination; sync with Delete to replace the file. Nothing below it was synced."));
                        blocked.Add(relative);
                    }
                }

                continue;
            }

            if (there is null)
            {
                Send(plan, transfers, entry, "new");
                continue;
            }

            if (there.IsDirectory)
            {
                if (options.Delete && there.Selected && !destination.Partial.Contains(relative))
                {
                    plan.Replacements.Add(there);
                    transfers.Add(new SyncAction(SyncActionKind.Delete, relative, true, 0, "replaced by a file"));
                    Send(plan, transfers, entry, "new");
                }
                else
                {
                    plan.Failures.Add(Failure(relative,
                        $"'{relative}' is a file in the source but a directory at the destination; sync with Delete to replace the directory (it must hold only what the globs select)."));
                }

                continue;
            }

            if (Changed(entry, there, direction, options.Compare) is { } why)
            {
                Send(plan, transfers, entry, why);
            }
            else
            {
                transfers.Add(new SyncAction(SyncActionKind.Skip, relative, false, entry.Size, "unchanged"));
                plan.Skipped++;
            }
        }

        foreach (var relative in plan.CreateDirectories)
        {
            plan.Actions.Add(new SyncAction(SyncActionKind.CreateDirectory, relative, true, 0, relative.Length == 0 ? "the synced directory is missing" : "new"));
        }

        // Deletions of the wrong kind come first in execution; list them with the sends of their paths, in path order.
        plan.Actions.AddRange(transfers.OrderBy(a => a.RelativePath, StringComparer.Ordinal).ThenBy(a => a.Kind == SyncActionKind.Delete ? 0 : 1));
        if (options.Delete)
        {
            PlanDeletes(plan, source, destination);
        }

        return plan;
    }

    /// <summary>Null when <paramref name="source"/> and <paramref name="destination"/> are the same file by the
    /// comparison; else the reason they differ.</summary>
    public static string? Changed(TreeEntry source, TreeEntry destination, SyncDirection direction, SyncCompare compare)
    {
        if (source.Size != destination.Size)
        {
            return "size differs";
        }

        if (compare == SyncCompare.Checksum)
        {
            var (remote, local) = direction == SyncDirection.Upload ? (destination, source) : (source, destination);
            if (remote.Sha256 is null)
            {
                return "remote checksum unknown";
            }

            return local.Sha256 is not null && string.Equals(remote.Sha256, local.Sha256, StringComparison.OrdinalIgnoreCase)
                ? null
                : "checksum differs";
        }

        if (direction == SyncDirection.Upload && !destination.HasRecordedTime)
        {
            return "no recorded mtime";
        }

        return ModifiedTime.SameMillisecond(source.ModifiedUtc, destination.ModifiedUtc) ? null : "modification time differs";
    }

    private static void PlanDeletes(SyncPlan plan, TreeSnapshot source, TreeSnapshot destination)
    {
        var replaced = new HashSet<string>(plan.Replacements.Select(r => r.RelativePath), StringComparer.Ordinal);
        var removed = new HashSet<string>(StringComparer.Ordinal);
        // What the source has below an entry it could not use (a symbolic link, an unreadable directory, an unsafe
        // remote name) is unknown: nothing below it on the destination may be called "not in source".
        var unknown = new HashSet<string>(source.Unusable.Keys, StringComparer.Ordinal);
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var entry in destination.Entries.Values.Where(e => !e.IsDirectory))
        {
            var path = entry.RelativePath;
            while (path.Length > 0)
            {
                path = TreeSnapshot.ParentOf(path);
                sizes[path] = sizes.GetValueOrDefault(path) + entry.Size;
            }
        }

        foreach (var entry in destination.Sorted)
        {
            var relative = entry.RelativePath;
            if (!entry.Selected || source.Occupies(relative) || replaced.Contains(relative) || IsBelow(relative, removed) || IsBelow(relative, unknown))
            {
                continue;
            }

            if (entry.IsDirectory)
            {
                if (destination.Partial.Contains(relative))
                {
                    // Holds something the sync does not handle: keep it, delete what it may inside.
                    continue;
                }

                removed.Add(relative);
            }

            plan.Deletes.Add(entry);
            var size = entry.IsDirectory ? sizes.GetValueOrDefault(relative) : entry.Size;
            plan.Actions.Add(new SyncAction(SyncActionKind.Delete, relative, entry.IsDirectory, size, "not in source"));
        }
    }

    private static void Send(SyncPlan plan, List<SyncAction> transfers, TreeEntry entry, string reason)
    {
        plan.Sends.Add(entry);
        transfers.Add(new SyncAction(SyncActionKind.Send, entry.RelativePath, false, entry.Size, reason));
    }

    /// <summary>True when a proper ancestor of <paramref name="relative"/> is in <paramref name="directories"/>.</summary>
    private static bool IsBelow(string relative, HashSet<string> directories)
    {
        if (directories.Count == 0)
        {
            return false;
        }

        var path = relative;
        while (path.Length > 0)
        {
            path = TreeSnapshot.ParentOf(path);
            if (path.Length > 0 && directories.Contains(path))
            {
                return true;
            }
        }

        return false;
    }

    private static DirectoryTransferFailure Failure(string relative, string message) => new(relative, new InvalidOperationException(message));
}
