using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Paths;
using Microsoft.Win32.SafeHandles;

namespace Depot.Core.Storage.FileSystem;

/// <summary>
/// The embedded default blob store: each object is a plain file at its key path under the bucket's directory.
/// </summary>
/// <remarks>
/// Writes are staged in <c>{bucket}/.depot/tmp</c> (same filesystem, so publishing is one atomic rename), fsync'd,
/// renamed into place and the parent directory fsync'd. Symbolic links are never followed: a key whose path
/// crosses a link is treated as absent, and listings skip links. The staging folder is emptied when the store opens,
/// which reclaims whatever a crash left behind (invariant 3).
/// </remarks>
public sealed partial class FileSystemBlobStore : IBlobStore, IStorageSpace, IBlobVersionProbe, IUploadStaging
{
    internal const string StateFolder = ObjectKey.ReservedRootSegment;
    private const string TempFolder = "tmp";
    private readonly Dictionary<string, string> _roots = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GroupFlusher> _flushers = new(StringComparer.Ordinal);
    // Path handles of the bucket roots, for openat2 (null where it is unavailable).
    private readonly Dictionary<string, SafeFileHandle?> _rootHandles = new(StringComparer.Ordinal);

    /// <param name="bucketRoots">Bucket name to directory. Directories are created when missing.</param>
    public FileSystemBlobStore(IReadOnlyDictionary<string, string> bucketRoots)
    {
        foreach (var (bucket, dir) in bucketRoots)
        {
            var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
            Directory.CreateDirectory(root);
            // Resolve a root that is itself a link once, here: the jail is the real directory.
            var info = new DirectoryInfo(root);
            if (info.LinkTarget is not null)
            {
                root = Path.TrimEndingDirectorySeparator(info.ResolveLinkTarget(returnFinalTarget: true)!.FullName);
            }

            _roots[bucket] = root;
            _rootHandles[bucket] = PosixIo.OpenDirectoryPath(root);
            var temp = TempDirectory(root);
            if (Directory.Exists(temp))
            {
                foreach (var leftover in Directory.EnumerateFiles(temp))
                {
                    File.Delete(leftover);
                }
            }

            Directory.CreateDirectory(temp);
            if (OperatingSystem.IsLinux())
            {
                _flushers[root] = new GroupFlusher(root);
            }
        }
    }

    /// <summary>The group flusher of a bucket root's filesystem (Linux), or null.</summary>
    internal GroupFlusher? FlusherFor(string root) => _flushers.GetValueOrDefault(root);

    /// <summary>The number of staged files (used by tests to prove nothing is left behind).</summary>
    public int CountStagedFiles(string bucket) => Directory.EnumerateFiles(TempDirectory(Root(bucket))).Count();

    public string Root(string bucket) =>
        _roots.TryGetValue(bucket, out var root) ? root : throw new ArgumentException($"Unknown bucket '{bucket}'.", nameof(bucket));

    public ValueTask<IBlobWriter> BeginWriteAsync(string bucket, CancellationToken cancellationToken)
    {
        var root = Root(bucket);
        var tempPath = Path.Combine(TempDirectory(root), Guid.NewGuid().ToString("N") + ".part");
        return ValueTask.FromResult<IBlobWriter>(new FileBlobWriter(this, root, tempPath));
    }

    public ValueTask<BlobStat?> StatAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var path = ResolveExisting(bucket, key);
        return ValueTask.FromResult(path is null ? null : StatPath(path));
    }

    public ValueTask<BlobRead?> OpenReadAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var opened = OpenFile(bucket, key, write: false, out var path);
        if (opened is null)
        {
            return ValueTask.FromResult<BlobRead?>(null);
        }

        // The fstat of the open descriptor: the stat describes exactly the bytes this stream reads.
        var handle = opened.Handle;
        BlobStat Fstat() => ToBlobStat(PosixIo.StatHandle(handle, path));
        var stat = ToBlobStat(opened.Stat);
        var stream = new HandleReadStream(handle, stat.Size);
        return ValueTask.FromResult<BlobRead?>(new BlobRead(stream, stat, Fstat));
    }

    /// <remarks>One lstat of the full path (a link in the last segment is not followed). A link swapped into a parent
    /// segment is followed, but it can only lead to an inode whose version differs from any version read safely before,
    /// unless it leads back to that very file, unchanged: either way no other bytes are served.</remarks>
    public string? ProbeVersion(string bucket, ObjectKey key) =>
        key.IsRoot ? null : PosixIo.StatNoFollow(Combine(Root(bucket), key)) is { Kind: FileKind.File } stat ? stat.Version : null;

    /// <remarks>Versions start with the inode number (decision 0002).</remarks>
    public bool IsSameFile(string version, BlobStat current)
    {
        var a = version.IndexOf('-', StringComparison.Ordinal);
        var b = current.Version.IndexOf('-', StringComparison.Ordinal);
        return a <= 0 || b <= 0 || version.AsSpan(0, a).SequenceEqual(current.Version.AsSpan(0, b));
    }

    public StorageSpace? GetSpace(string bucket)
    {
        try
        {
            var drive = new DriveInfo(Root(bucket));
            return new StorageSpace(drive.TotalSize, drive.AvailableFreeSpace);
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Opens the regular file at a key without following links: in one openat2 call beneath the bucket's root where
    /// the kernel has it, otherwise by checking each segment and opening with O_NOFOLLOW.</summary>
    internal OpenedFile? OpenFile(string bucket, ObjectKey key, bool write, out string path)
    {
        path = Combine(Root(bucket), key);
        if (!key.IsRoot && _rootHandles.TryGetValue(bucket, out var root) && root is not null
            && PosixIo.TryOpenBeneath(root, key.Value, write, out var file))
        {
            return file;
        }

        var resolved = ResolveExisting(bucket, key);
        // O_NOFOLLOW: a link swapped in after the check above is refused, not followed.
        return resolved is null ? null : write ? PosixIo.OpenWriteNoFollow(resolved) : PosixIo.OpenReadNoFollow(resolved);
    }

    /// <summary>The absolute path of the file at <paramref name="key"/>, or null if it is not a reachable regular file.</summary>
    public string? GetFilePath(string bucket, ObjectKey key)
    {
        var path = ResolveExisting(bucket, key);
        return path is not null && PosixIo.StatNoFollow(path)?.Kind == FileKind.File ? path : null;
    }

    public ValueTask<bool> DeleteFileAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var path = ResolveExisting(bucket, key);
        if (path is null || PosixIo.StatNoFollow(path)?.Kind != FileKind.File)
        {
            return ValueTask.FromResult(false);
        }

        File.Delete(path);
        PosixIo.FlushDirectory(Path.GetDirectoryName(path)!);
        return ValueTask.FromResult(true);
    }

    public ValueTask<bool> CreateDirectoryAsync(string bucket, ObjectKey key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(EnsureDirectory(Root(bucket), key));

    public ValueTask<DirectoryDeleteResult> DeleteDirectoryAsync(string bucket, ObjectKey key, bool recursive, CancellationToken cancellationToken)
    {
        var path = ResolveExisting(bucket, key);
        if (path is null)
        {
            return ValueTask.FromResult(DirectoryDeleteResult.NotFound);
        }

        if (PosixIo.StatNoFollow(path)?.Kind != FileKind.Directory)
        {
            return ValueTask.FromResult(DirectoryDeleteResult.NotADirectory);
        }

        var isRoot = key.IsRoot;
        var hasEntries = EnumerateVisible(path, isRoot).Any();
        if (hasEntries && !recursive)
        {
            return ValueTask.FromResult(DirectoryDeleteResult.NotEmpty);
        }

        try
        {
            if (isRoot)
            {
                // The bucket root stays (it holds the state folder); its contents go.
                foreach (var entry in EnumerateVisible(path, isRoot: true))
                {
                    DeleteEntryNoFollow(entry);
                }

                PosixIo.FlushDirectory(path);
            }
            else
            {
                DeleteEntryNoFollow(new DirectoryInfo(path));
                PosixIo.FlushDirectory(Path.GetDirectoryName(path)!);
            }
        }
        catch (IOException e) when (!StorageFullException.IsDiskFull(e))
        {
            // Something was written into the tree while it was being deleted (ENOTEMPTY).
            return ValueTask.FromResult(DirectoryDeleteResult.ChangedDuringDelete);
        }

        return ValueTask.FromResult(DirectoryDeleteResult.Deleted);
    }

    public ValueTask<MoveResult> MoveAsync(string bucket, ObjectKey from, ObjectKey to, bool overwrite, CancellationToken cancellationToken)
    {
        var root = Root(bucket);
        var source = ResolveExisting(bucket, from);
        if (source is null || from.IsRoot)
        {
            return ValueTask.FromResult(MoveResult.SourceNotFound);
        }

        var sourceIsDirectory = PosixIo.StatNoFollow(source)?.Kind == FileKind.Directory;
        if (sourceIsDirectory && to.IsSameOrUnder(from))
        {
            return ValueTask.FromResult(MoveResult.IntoItself);
        }

        if (to.Parent is { } parent && !EnsureDirectory(root, parent))
        {
            return ValueTask.FromResult(MoveResult.DestinationParentIsFile);
        }

        var destination = Combine(root, to);
        var existing = PosixIo.StatNoFollow(destination);
        if (existing is not null && (!overwrite || sourceIsDirectory || existing.Kind != FileKind.File))
        {
            return ValueTask.FromResult(MoveResult.DestinationExists);
        }

        if (sourceIsDirectory)
        {
            Directory.Move(source, destination);
        }
        else
        {
            File.Move(source, destination, overwrite);
        }

        PosixIo.FlushDirectory(Path.GetDirectoryName(destination)!);
        var sourceParent = Path.GetDirectoryName(source)!;
        if (sourceParent != Path.GetDirectoryName(destination))
        {
            PosixIo.FlushDirectory(sourceParent);
        }

        return ValueTask.FromResult(MoveResult.Moved);
    }

    public ValueTask<BlobListPage?> ListAsync(string bucket, ObjectKey directory, ListOptions options, CancellationToken cancellationToken)
    {
        var path = ResolveExisting(bucket, directory);
        if (path is null || PosixIo.StatNoFollow(path)?.Kind != FileKind.Directory)
        {
            return ValueTask.FromResult<BlobListPage?>(null);
        }

        var after = ListCursor.Decode(options.Cursor).TryGetValue(out var cursorKey, out _)
            ? cursorKey
            : throw new ArgumentException("Invalid cursor.", nameof(options));
        var limit = Math.Clamp(options.Limit, 1, ListOptions.MaxLimit);
        var entries = new List<BlobListEntry>(Math.Min(limit + 1, 1024));
        Walk(path, directory, options.Recursive, after, limit + 1, options.Filter, entries, cancellationToken);
        string? next = null;
        if (entries.Count > limit)
        {
            entries.RemoveAt(entries.Count - 1);
            next = ListCursor.Encode(entries[^1].Key);
        }

        return ValueTask.FromResult<BlobListPage?>(new BlobListPage(entries, next));
    }

    private static void Walk(string path, ObjectKey dirKey, bool recursive, ObjectKey? after, int want, Func<string, bool, bool>? filter, List<BlobListEntry> into, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var children = new List<(string Name, string Path, FileStat Stat)>();
        foreach (var info in EnumerateVisible(path, dirKey.IsRoot))
        {
            if (ObjectKey.ValidateSegment(info.Name, dirKey.IsRoot) is null && PosixIo.StatNoFollow(info.FullName) is { Kind: FileKind.File or FileKind.Directory } stat)
            {
                children.Add((info.Name, info.FullName, stat));
            }
        }

        children.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        foreach (var (name, childPath, stat) in children)
        {
            if (into.Count >= want)
            {
                return;
            }

            var key = dirKey.Child(name);
            var isDirectory = stat.Kind == FileKind.Directory;
            if (filter is not null && !filter(key.Value, isDirectory))
            {
                continue; // invisible to this caller: neither listed nor descended into, and never a cursor
            }

            var emit = true;
            if (after is not null)
            {
                var cmp = key.CompareTo(after);
                if (cmp <= 0)
                {
                    // Before or at the cursor: skip it, but descend if the cursor lies inside this directory.
                    emit = false;
                    if (!(recursive && isDirectory && after.IsSameOrUnder(key)))
                    {
                        continue;
                    }
                }
            }

            if (emit)
            {
                into.Add(new BlobListEntry(key, ToBlobStat(stat)));
            }

            if (recursive && isDirectory)
            {
                Walk(childPath, key, recursive: true, emit ? null : after, want, filter, into, cancellationToken);
            }
        }
    }

    private static IEnumerable<FileSystemInfo> EnumerateVisible(string path, bool isRoot)
    {
        foreach (var info in new DirectoryInfo(path).EnumerateFileSystemInfos())
        {
            if (info.LinkTarget is not null || (isRoot && info.Name == StateFolder))
            {
                continue; // never follow links; never show the state folder
            }

            if (info is FileInfo or DirectoryInfo)
            {
                yield return info;
            }
        }
    }

    private static void DeleteEntryNoFollow(FileSystemInfo entry)
    {
        if (entry is DirectoryInfo dir && entry.LinkTarget is null)
        {
            foreach (var child in dir.EnumerateFileSystemInfos())
            {
                DeleteEntryNoFollow(child);
            }

            dir.Delete(recursive: false);
        }
        else
        {
            entry.Delete(); // a file, or a link itself (never its target)
        }
    }

    /// <summary>Absolute path of <paramref name="key"/> if every component exists and none is a symbolic link.</summary>
    internal string? ResolveExisting(string bucket, ObjectKey key)
    {
        var current = Root(bucket);
        foreach (var segment in key.Segments)
        {
            current = Path.Join(current, segment);
            var stat = PosixIo.StatNoFollow(current);
            if (stat is null or { Kind: FileKind.Link or FileKind.Other })
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>Creates each missing directory along <paramref name="key"/>, refusing links and files in the way.</summary>
    internal static bool EnsureDirectory(string root, ObjectKey key)
    {
        var current = root;
        foreach (var segment in key.Segments)
        {
            var parent = current;
            current = Path.Join(current, segment);
            var stat = PosixIo.StatNoFollow(current);
            if (stat is null)
            {
                try
                {
                    Directory.CreateDirectory(current);
                }
                catch (IOException e) when (!StorageFullException.IsDiskFull(e) && PosixIo.StatNoFollow(current)?.Kind is not FileKind.Directory)
                {
                    return false;
                }

                PosixIo.FlushDirectory(parent);
            }
            else if (stat.Kind != FileKind.Directory)
            {
                return false;
            }
        }

        return true;
    }

    internal static string Combine(string root, ObjectKey key)
    {
        var path = key.IsRoot ? root : Path.Join(root, key.Value);
        // Defence in depth: validated keys cannot escape, and this proves it before any I/O.
        if (!key.IsRoot && !path.StartsWith(root + "/", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("A key resolved outside its bucket.");
        }

        return path;
    }

    private static BlobStat? StatPath(string path) =>
        PosixIo.StatNoFollow(path) is { Kind: FileKind.File or FileKind.Directory } stat ? ToBlobStat(stat) : null;

    internal static BlobStat ToBlobStat(FileStat stat) =>
        stat.Kind == FileKind.Directory
            ? new BlobStat(true, 0, stat.ModifiedUtc, "dir")
            : new BlobStat(false, stat.Size, stat.ModifiedUtc, stat.Version) { Identity = stat.Identity };

    private static string TempDirectory(string root) => Path.Combine(root, StateFolder, TempFolder);
}
