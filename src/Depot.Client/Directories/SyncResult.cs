namespace Depot.Client;

/// <summary>What a sync does with one path.</summary>
public enum SyncActionKind
{
    /// <summary>Transfer the file from the source to the destination (new or changed).</summary>
    Send,

    /// <summary>Leave it: unchanged, or a symbolic link (never followed).</summary>
    Skip,

    /// <summary>Remove it from the destination (<see cref="SyncOptions.Delete"/>): a file, or a directory with
    /// everything below it.</summary>
    Delete,

    /// <summary>Create the directory at the destination.</summary>
    CreateDirectory,
}

/// <summary>One step of a sync plan.</summary>
/// <param name="Kind">What is done.</param>
/// <param name="RelativePath">The <c>/</c>-separated path below the synced directory.</param>
/// <param name="IsDirectory">True for directories.</param>
/// <param name="Size">Bytes: the source file's size for sends and skips, the destination file's (or the total below a
/// directory) for deletes, 0 for directories created.</param>
/// <param name="Reason">Why, for people: <c>new</c>, <c>size differs</c>, <c>modification time differs</c>,
/// <c>no recorded mtime</c>, <c>checksum differs</c>, <c>remote checksum unknown</c>, <c>unchanged</c>,
/// <c>not in source</c>, <c>symbolic link (not followed)</c>, <c>replaced by a directory</c>/<c>by a file</c>.</param>
public sealed record SyncAction(SyncActionKind Kind, string RelativePath, bool IsDirectory, long Size, string Reason);

/// <summary>What <see cref="DepotClient.SyncAsync"/> planned and did.</summary>
/// <remarks>With <see cref="SyncOptions.DryRun"/> nothing was changed and the counts say what would have been done;
/// otherwise they count what was done (an action that failed is in <see cref="Failures"/> instead).</remarks>
public sealed record SyncResult
{
    /// <summary>The direction of the sync.</summary>
    public SyncDirection Direction { get; init; }

    /// <summary>True when this was a dry run: nothing was changed.</summary>
    public bool DryRun { get; init; }

    /// <summary>The plan, in execution order: directories to create, sends and skips (in path order), then deletions.</summary>
    public required IReadOnlyList<SyncAction> Actions { get; init; }

    /// <summary>Files sent (or, in a dry run, to send).</summary>
    public int Sent { get; init; }

    /// <summary>Files left alone: unchanged, or symbolic links.</summary>
    public int Skipped { get; init; }

    /// <summary>Files and directories deleted (or to delete); a directory removed with its contents counts once.</summary>
    public int Deleted { get; init; }

    /// <summary>Directories created (or to create).</summary>
    public int DirectoriesCreated { get; init; }

    /// <summary>Bytes of the files sent (or to send), counted by file size.</summary>
    public long BytesSent { get; init; }

    /// <summary>Time the whole sync took, the listing, the local scan and any hashing included.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Paths that failed: transfers, deletions (also those not attempted because a transfer failed), unsafe
    /// remote names, and entries of the wrong kind in the way. Everything else was done.</summary>
    public required IReadOnlyList<DirectoryTransferFailure> Failures { get; init; }

    /// <summary>True when nothing failed.</summary>
    public bool Succeeded => Failures.Count == 0;
}
