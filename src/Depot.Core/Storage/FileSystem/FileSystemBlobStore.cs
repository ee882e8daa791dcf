using Depot.Core.Model;
using Depot.Core.Paths;

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
public sealed partial class FileSystemBlobStore : IBlobStore, ILocalFileBlobStore
{
    internal const string StateFolder = ObjectKey.ReservedRootSegment;
    private const string TempFolder = "tmp";
    private readonly Dictionary<string, string> _roots = new(StringComparer.Ordinal);

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
            var temp = TempDirectory(root);
            if (Directory.Exists(temp))
            {
                foreach (var leftover in Directory.EnumerateFiles(temp))
                {
                    File.Delete(leftover);
                }
            }

            Directory.CreateDirectory(temp);
        }
    }

    /// <summary>The number of staged files (used by tests to prove nothing is left behind).</summary>
    public int CountStagedFiles(string bucket) => Directory.EnumerateFiles(TempDirectory(Root(bucket))).Count();

    public string Root(string bucket) =>
        _roots.TryGetValue(bucket, out var root) ? root : throw new ArgumentException($"Unknown bucket '{bucket}'.", nameof(bucket));

    public ValueTask<IBlobWriter> BeginWriteAsync(string bucket, CancellationToken cancellationToken)
    {
        var root = Root(bucket);
        var tempPath = Path.Combine(TempDirectory(root), Guid.NewGuid().ToString("N") + ".part");
        return ValueTask.FromResult<IBlobWriter>(new FileBlobWriter(this, bucket, root, tempPath));
    }

    public ValueTask<BlobStat?> StatAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var path = ResolveExisting(bucket, key);
        return ValueTask.FromResult(path is null ? null : StatPath(path));
    }

    public ValueTask<BlobRead?> OpenReadAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var path = ResolveExisting(bucket, key);
        if (path is null)
        {
            return ValueTask.FromResult<BlobRead?>(null);
        }

        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            return ValueTask.FromResult<BlobRead?>(null); // gone, or a directory
        }

        // fstat the open descriptor: the stat describes exactly the bytes this stream reads.
        var handle = stream.SafeFileHandle;
        BlobStat Fstat()
        {
            var length = RandomAccess.GetLength(handle);
            var modified = new DateTimeOffset(File.GetLastWriteTimeUtc(handle), TimeSpan.Zero);
            return new BlobStat(false, length, modified, VersionOf(length, modified));
        }

        return ValueTask.FromResult<BlobRead?>(new BlobRead(stream, Fstat(), Fstat));
    }

    public string? GetFilePath(string bucket, ObjectKey key)
    {
        var path = ResolveExisting(bucket, key);
        return path is not null && File.Exists(path) ? path : null;
    }

    public ValueTask<bool> DeleteFileAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
    {
        var path = ResolveExisting(bucket, key);
        if (path is null || !File.Exists(path))
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

        if (!Directory.Exists(path))
        {
            return ValueTask.FromResult(DirectoryDeleteResult.NotADirectory);
        }

        var isRoot = key.IsRoot;
        var hasEntries = EnumerateVisible(path, isRoot).Any();
        if (hasEntries && !recursive)
        {
            return ValueTask.FromResult(DirectoryDeleteResult.NotEmpty);
        }

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

        var sourceIsDirectory = Directory.Exists(source);
        if (sourceIsDirectory && to.IsSameOrUnder(from))
        {
            return ValueTask.FromResult(MoveResult.IntoItself);
        }

        if (to.Parent is { } parent && !EnsureDirectory(root, parent))
        {
            return ValueTask.FromResult(MoveResult.DestinationParentIsFile);
        }

        var destination = Combine(root, to);
        var existing = StatNoFollow(destination);
        if (existing is not null)
        {
            if (!overwrite || sourceIsDirectory || existing is DirectoryInfo || existing.LinkTarget is not null)
            {
                return ValueTask.FromResult(MoveResult.DestinationExists);
            }
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
        if (path is null || !Directory.Exists(path))
        {
            return ValueTask.FromResult<BlobListPage?>(null);
        }

        var after = ListCursor.Decode(options.Cursor).TryGetValue(out var cursorKey, out _)
            ? cursorKey
            : throw new ArgumentException("Invalid cursor.", nameof(options));
        var limit = Math.Clamp(options.Limit, 1, ListOptions.MaxLimit);
        var entries = new List<BlobListEntry>(Math.Min(limit + 1, 1024));
        Walk(path, directory, options.Recursive, after, limit + 1, entries, cancellationToken);
        string? next = null;
        if (entries.Count > limit)
        {
            entries.RemoveAt(entries.Count - 1);
            next = ListCursor.Encode(entries[^1].Key);
        }

        return ValueTask.FromResult<BlobListPage?>(new BlobListPage(entries, next));
    }

    private static void Walk(string path, ObjectKey dirKey, bool recursive, ObjectKey? after, int want, List<BlobListEntry> into, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var children = new List<(string Name, FileSystemInfo Info)>();
        foreach (var info in EnumerateVisible(path, dirKey.IsRoot))
        {
            if (ObjectKey.ValidateSegment(info.Name, dirKey.IsRoot) is null)
            {
                children.Add((info.Name, info));
            }
        }

        children.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        foreach (var (name, info) in children)
        {
            if (into.Count >= want)
            {
                return;
            }

            var key = dirKey.Child(name);
            var isDirectory = info is DirectoryInfo;
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
                into.Add(new BlobListEntry(key, ToStat(info)));
            }

            if (recursive && isDirectory)
            {
                Walk(info.FullName, key, recursive: true, emit ? null : after, want, into, cancellationToken);
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
            var info = StatNoFollow(current);
            if (info is null || info.LinkTarget is not null)
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
            var info = StatNoFollow(current);
            if (info is null)
            {
                try
                {
                    Directory.CreateDirectory(current);
                }
                catch (IOException) when (File.Exists(current))
                {
                    return false;
                }

                PosixIo.FlushDirectory(parent);
            }
            else if (info is not DirectoryInfo || info.LinkTarget is not null)
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

    private static FileSystemInfo? StatNoFollow(string path)
    {
        FileSystemInfo info = new FileInfo(path);
        if (!info.Exists)
        {
            info = new DirectoryInfo(path);
            if (!info.Exists)
            {
                // A dangling link exists but reports !Exists; it still blocks the name.
                var link = new FileInfo(path);
                return link.LinkTarget is not null ? link : null;
            }
        }

        return info;
    }

    private static BlobStat? StatPath(string path) => StatNoFollow(path) is { } info ? ToStat(info) : null;

    internal static BlobStat ToStat(FileSystemInfo info)
    {
        var modified = new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero);
        if (info is FileInfo file)
        {
            return new BlobStat(false, file.Length, modified, VersionOf(file.Length, modified));
        }

        return new BlobStat(true, 0, modified, "dir");
    }

    /// <summary>A file's version token: size and modification time in 100 ns ticks. A rename-published file always
    /// gets a new mtime, and so does any rewrite through the filesystem.</summary>
    private static string VersionOf(long length, DateTimeOffset modified) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{length}:{modified.UtcTicks}");

    private static string TempDirectory(string root) => Path.Combine(root, StateFolder, TempFolder);
}
