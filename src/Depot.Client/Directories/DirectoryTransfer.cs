using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Depot.Client.Directories;

/// <summary>Whole-tree uploads and downloads: one scan, one listing (when needed), then files in parallel.</summary>
internal sealed class DirectoryTransfer
{
    private const string LinkReason = "symbolic link (not followed)";
    private const string ExistsReason = "exists";

    private readonly DepotClient _client;
    private readonly DirectoryTransferOptions _options;
    private readonly Lock _gate = new();
    private readonly List<DirectoryTransferEntry> _transferred = [];
    private readonly List<DirectoryTransferEntry> _skipped = [];
    private readonly List<DirectoryTransferFailure> _failed = [];
    private readonly List<DirectoryTransferEntry> _directories = [];
    private readonly long _started = Stopwatch.GetTimestamp();
    private Exception? _stop;

    private DirectoryTransfer(DepotClient client, DirectoryTransferOptions options)
    {
        _client = client;
        _options = options;
    }

    public static async Task<DirectoryTransferResult> UploadAsync(DepotClient client, string localDirectory, DepotPath remoteDirectory,
        DirectoryTransferOptions options, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        DirectoryWork.CheckParallelism(options.Parallelism, nameof(options));
        var filter = new PathFilter(options.Include, options.Exclude);
        var root = Path.GetFullPath(localDirectory);
        var local = TreeSnapshot.ScanLocal(root, filter, cancellationToken);
        var run = new DirectoryTransfer(client, options);

        // Only Skip and Fail need to know what is there: one recursive listing, instead of a request per file.
        var remote = options.Conflict == ConflictMode.Overwrite
            ? null
            : await TreeSnapshot.ListRemoteAsync(client, remoteDirectory, PathFilter.All, checkLocalNames: false, cancellationToken).ConfigureAwait(false);
        run.AddUnusable(local, rel => Path.Combine(root, rel.Replace('/', Path.DirectorySeparatorChar)), remoteDirectory);

        var files = new List<TreeEntry>();
        foreach (var entry in local.Sorted.Where(e => e.Selected && !e.IsDirectory))
        {
            if (remote is not null && remote.Occupies(entry.RelativePath))
            {
                if (options.Conflict == ConflictMode.Fail)
                {
                    throw new AlreadyExistsException(
                        $"upload directory {remoteDirectory}: '{remoteDirectory.Combine(entry.RelativePath)}' already exists; nothing was transferred. " +
                        "Use ConflictMode.Skip to keep existing files or ConflictMode.Overwrite to replace them.");
                }

                run._skipped.Add(new DirectoryTransferEntry(entry.RelativePath, entry.LocalPath, remoteDirectory.Combine(entry.RelativePath), entry.Size, ExistsReason));
                continue;
            }

            files.Add(entry);
        }

        // Uploads create their parents; only directories that receive no file are created explicitly.
        var filled = Ancestors(files.Select(f => f.RelativePath).Concat(run._skipped.Select(s => s.RelativePath)));
        var directories = local.Sorted.Where(e => e.IsDirectory && e.Selected && !filled.Contains(e.RelativePath)).Select(e => e.RelativePath).ToList();
        if (!remoteDirectory.IsRoot && files.Count == 0 && run._skipped.Count == 0 && directories.Count == 0)
        {
            directories.Add("");
        }

        foreach (var relative in directories)
        {
            var path = remoteDirectory.Combine(relative);
            if (remote is not null && remote.Entries.TryGetValue(relative, out var there) && there.IsDirectory)
            {
                run._directories.Add(new DirectoryTransferEntry(relative, Path.Combine(root, relative), path, 0));
                continue;
            }

            try
            {
                await client.CreateDirectoryAsync(path, cancellationToken).ConfigureAwait(false);
                run._directories.Add(new DirectoryTransferEntry(relative, Path.Combine(root, relative), path, 0));
            }
            catch (DepotException e) when (!DirectoryWork.IsWholeOperationFailure(e))
            {
                run._failed.Add(new DirectoryTransferFailure(relative, e));
            }
        }

        var overall = new DirectoryProgress(progress, files.Count + run._skipped.Count, run._skipped.Count, files.Sum(f => f.Size));
        var overwrite = options.Conflict == ConflictMode.Overwrite;
        await run.RunAsync(files, f => f.RelativePath, async (entry, ct) =>
        {
            var destination = remoteDirectory.Combine(entry.RelativePath);
            var file = overall.ForFile(entry.Size);
            var succeeded = false;
            try
            {
                var uploadOptions = DirectoryWork.UploadOptionsFor(options.Upload, entry.ModifiedUtc, overwrite);
                await client.UploadAsync(entry.LocalPath!, destination, uploadOptions, file.Sink, ct).ConfigureAwait(false);
                succeeded = true;
                run.Add(run._transferred, new DirectoryTransferEntry(entry.RelativePath, entry.LocalPath, destination, entry.Size));
            }
            catch (AlreadyExistsException) when (options.Conflict == ConflictMode.Skip)
            {
                run.Add(run._skipped, new DirectoryTransferEntry(entry.RelativePath, entry.LocalPath, destination, entry.Size, ExistsReason));
            }
            catch (AlreadyExistsException e) when (options.Conflict == ConflictMode.Fail)
            {
                run.Stop(e);
            }
            finally
            {
                file.Finish(succeeded);
            }
        }, cancellationToken).ConfigureAwait(false);
        return run.Result();
    }

    public static async Task<DirectoryTransferResult> DownloadAsync(DepotClient client, DepotPath remoteDirectory, string localDirectory,
        DirectoryTransferOptions options, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        DirectoryWork.CheckParallelism(options.Parallelism, nameof(options));
        var filter = new PathFilter(options.Include, options.Exclude);
        var root = Path.GetFullPath(localDirectory);
        var remote = await TreeSnapshot.ListRemoteAsync(client, remoteDirectory, filter, checkLocalNames: true, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"download directory {remoteDirectory}: there is no such remote directory. Check the path (bucket/key).");
        var run = new DirectoryTransfer(client, options);
        run.AddUnusable(remote, _ => null, remoteDirectory);

        var files = new List<(TreeEntry Entry, string LocalPath)>();
        foreach (var entry in remote.Sorted.Where(e => e.Selected && !e.IsDirectory))
        {
            // Checked by the listing already; resolved again here so that no path is ever joined unchecked.
            if (LocalPaths.Resolve(root, entry.RelativePath, out var reason) is not { } path)
            {
                run._failed.Add(new DirectoryTransferFailure(entry.RelativePath, new InvalidOperationException(reason)));
                continue;
            }

            if (options.Conflict != ConflictMode.Overwrite && Path.Exists(path))
            {
                if (options.Conflict == ConflictMode.Fail)
                {
                    throw new DepotException(ClientErrorCodes.LocalExists, 0,
                        $"download directory {remoteDirectory}: '{path}' already exists; nothing was transferred. " +
                        "Use ConflictMode.Skip to keep existing files or ConflictMode.Overwrite to replace them.");
                }

                run._skipped.Add(new DirectoryTransferEntry(entry.RelativePath, path, remoteDirectory.Combine(entry.RelativePath), entry.Size, ExistsReason));
                continue;
            }

            files.Add((entry, path));
        }

        Directory.CreateDirectory(root);
        foreach (var entry in remote.Sorted.Where(e => e.Selected && e.IsDirectory))
        {
            var path = LocalPaths.Resolve(root, entry.RelativePath, out var reason);
            try
            {
                if (path is null || LocalPaths.FindLinkOnTheWay(root, Path.Combine(path, "x")) is not null)
                {
                    throw new InvalidOperationException(reason ?? $"'{entry.RelativePath}': a symbolic link is on the way; links are not followed.");
                }

                Directory.CreateDirectory(path);
                run._directories.Add(new DirectoryTransferEntry(entry.RelativePath, path, remoteDirectory.Combine(entry.RelativePath), 0));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                run._failed.Add(new DirectoryTransferFailure(entry.RelativePath, e));
            }
        }

        var overall = new DirectoryProgress(progress, files.Count + run._skipped.Count, run._skipped.Count, files.Sum(f => f.Entry.Size));
        var overwrite = options.Conflict == ConflictMode.Overwrite;
        var preserveTime = options.Download?.PreserveModifiedTime ?? true;
        await run.RunAsync(files, f => f.Entry.RelativePath, async (item, ct) =>
        {
            var (entry, path) = item;
            var source = remoteDirectory.Combine(entry.RelativePath);
            var file = overall.ForFile(entry.Size);
            var succeeded = false;
            try
            {
                if (LocalPaths.FindLinkOnTheWay(root, path) is { } link)
                {
                    throw new InvalidOperationException($"'{entry.RelativePath}': '{link}' is a symbolic link; links are not followed, nothing was written.");
                }

                var described = await client.DownloadAsync(source, path, DirectoryWork.DownloadOptionsFor(options.Download, overwrite), file.Sink, ct)
                    .ConfigureAwait(false);
                if (preserveTime)
                {
                    File.SetLastWriteTimeUtc(path, SourceTime(entry, described));
                }

                succeeded = true;
                run.Add(run._transferred, new DirectoryTransferEntry(entry.RelativePath, path, source, entry.Size));
            }
            catch (DepotException e) when (e.Code == ClientErrorCodes.LocalExists && options.Conflict == ConflictMode.Skip)
            {
                run.Add(run._skipped, new DirectoryTransferEntry(entry.RelativePath, path, source, entry.Size, ExistsReason));
            }
            catch (DepotException e) when (e.Code == ClientErrorCodes.LocalExists && options.Conflict == ConflictMode.Fail)
            {
                run.Stop(e);
            }
            finally
            {
                file.Finish(succeeded);
            }
        }, cancellationToken).ConfigureAwait(false);
        return run.Result();
    }

    /// <summary>The time a downloaded file gets: the <c>mtime</c> metadata the download answered with, else the
    /// listing's (<c>mtime</c> or the server's time, to the sub-second) while the bytes are the listed ones, else the
    /// download's own (whole seconds: a later sync sees the difference and fetches again, which is safe).</summary>
    internal static DateTime SourceTime(TreeEntry listed, DepotObject downloaded)
    {
        if (ModifiedTime.FromMetadata(downloaded.Metadata) is { } recorded)
        {
            return recorded;
        }

        return listed.Sha256 is null || string.Equals(listed.Sha256, downloaded.Sha256, StringComparison.OrdinalIgnoreCase)
            ? listed.ModifiedUtc
            : downloaded.Modified.UtcDateTime;
    }

    /// <summary>The directories that are ancestors of the given relative paths ("" included).</summary>
    internal static HashSet<string> Ancestors(IEnumerable<string> relativePaths)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var relative in relativePaths)
        {
            var path = relative;
            while (path.Length > 0)
            {
                path = TreeSnapshot.ParentOf(path);
                if (!result.Add(path))
                {
                    break;
                }
            }
        }

        return result;
    }

    private void AddUnusable(TreeSnapshot tree, Func<string, string?> localPath, DepotPath remoteDirectory)
    {
        foreach (var (relative, reason) in tree.Unusable)
        {
            if (string.Equals(reason, LinkReason, StringComparison.Ordinal))
            {
                _skipped.Add(new DirectoryTransferEntry(relative, localPath(relative), remoteDirectory.Combine(relative), 0, reason));
            }
            else
            {
                _failed.Add(new DirectoryTransferFailure(relative, new InvalidOperationException($"'{relative}': {reason}.")));
            }
        }
    }

    /// <summary>Runs the per-file work in parallel; records per-file failures, stops at whole-operation ones.</summary>
    private async Task RunAsync<T>(IEnumerable<T> items, Func<T, string> relativePathOf, Func<T, CancellationToken, Task> body,
        CancellationToken cancellationToken)
    {
        await DirectoryWork.ForEachAsync(items, _options.Parallelism, async (item, ct) =>
        {
            if (Volatile.Read(ref _stop) is not null)
            {
                return;
            }

            try
            {
                await body(item, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (DirectoryWork.IsWholeOperationFailure(e))
            {
                Stop(e);
            }
            catch (Exception e)
            {
                Add(_failed, new DirectoryTransferFailure(relativePathOf(item), e));
            }
        }, cancellationToken).ConfigureAwait(false);

        if (_stop is { } stop)
        {
            ExceptionDispatchInfo.Capture(stop).Throw();
        }
    }

    private void Stop(Exception e) => Interlocked.CompareExchange(ref _stop, e, null);

    private void Add<T>(List<T> list, T item)
    {
        lock (_gate)
        {
            list.Add(item);
        }
    }

    private DirectoryTransferResult Result()
    {
        lock (_gate)
        {
            return new DirectoryTransferResult
            {
                Transferred = [.. _transferred.OrderBy(e => e.RelativePath, StringComparer.Ordinal)],
                Skipped = [.. _skipped.OrderBy(e => e.RelativePath, StringComparer.Ordinal)],
                Failed = [.. _failed.OrderBy(e => e.RelativePath, StringComparer.Ordinal)],
                Directories = [.. _directories.OrderBy(e => e.RelativePath, StringComparer.Ordinal)],
                BytesTransferred = _transferred.Sum(e => e.Size),
                Elapsed = Stopwatch.GetElapsedTime(_started),
            };
        }
    }
}
