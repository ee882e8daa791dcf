using System.Buffers;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;

namespace Depot.Client.Directories;

/// <summary>
/// One sync: snapshot both sides (one local scan, one recursive listing), plan, then — unless it is a dry run — remove
/// entries of the wrong kind in the way, create directories, send in parallel, and delete extras last.
/// </summary>
internal sealed class SyncRun
{
    private const int HashBufferSize = 1024 * 1024;

    private readonly DepotClient _client;
    private readonly SyncOptions _options;
    private readonly SyncDirection _direction;
    private readonly string _root;
    private readonly DepotPath _remote;
    private readonly Lock _gate = new();
    private readonly List<DirectoryTransferFailure> _failures = [];
    private readonly long _started = Stopwatch.GetTimestamp();
    private Exception? _stop;

    private SyncRun(DepotClient client, string root, DepotPath remote, SyncDirection direction, SyncOptions options)
    {
        _client = client;
        _root = root;
        _remote = remote;
        _direction = direction;
        _options = options;
    }

    public static async Task<SyncResult> RunAsync(DepotClient client, string localDirectory, DepotPath remoteDirectory, SyncDirection direction,
        SyncOptions options, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        DirectoryWork.CheckParallelism(options.Parallelism, nameof(options));
        if (options.Upload?.Encryption is not null || options.Download?.Encryption is not null)
        {
            throw new ArgumentException(
                "Sync compares sizes and checksums with the server's, which sees ciphertext when encrypting: use UploadDirectoryAsync / DownloadDirectoryAsync to transfer encrypted trees.",
                nameof(options));
        }

        if (!Enum.IsDefined(direction))
        {
            throw new ArgumentOutOfRangeException(nameof(direction), direction, "Upload or Download.");
        }

        var run = new SyncRun(client, Path.GetFullPath(localDirectory), remoteDirectory, direction, options);
        var filter = new PathFilter(options.Include, options.Exclude);
        TreeSnapshot source, destination;
        bool destinationExists;
        if (direction == SyncDirection.Upload)
        {
            // The server lists while the local tree is walked: the two are independent, and each is about half the time
            // of a no-op sync.
            var listing = TreeSnapshot.ListRemoteAsync(client, remoteDirectory, filter, checkLocalNames: false, cancellationToken);
            source = await Task.Run(() => TreeSnapshot.ScanLocal(run._root, filter, cancellationToken), cancellationToken).ConfigureAwait(false);
            var listed = await listing.ConfigureAwait(false);
            destinationExists = listed is not null || remoteDirectory.IsRoot;
            destination = listed ?? new TreeSnapshot();
        }
        else
        {
            var listing = TreeSnapshot.ListRemoteAsync(client, remoteDirectory, filter, checkLocalNames: true, cancellationToken);
            destinationExists = Directory.Exists(run._root);
            destination = destinationExists
                ? await Task.Run(() => TreeSnapshot.ScanLocal(run._root, filter, cancellationToken), cancellationToken).ConfigureAwait(false)
                : new TreeSnapshot();
            source = await listing.ConfigureAwait(false)
                ?? throw new NotFoundException($"sync {remoteDirectory} → '{localDirectory}': there is no such remote directory. Check the path (bucket/key).");
        }

        if (options.Compare == SyncCompare.Checksum)
        {
            await HashLocalFilesAsync(source, destination, direction, options.Parallelism, cancellationToken).ConfigureAwait(false);
        }

        var plan = SyncPlanner.Build(source, destination, destinationExists, direction, options);
        run._failures.AddRange(plan.Failures);
        if (options.DryRun)
        {
            return run.Result(plan, plan.Sends.Count, plan.Sends.Sum(s => s.Size), plan.Replacements.Count + plan.Deletes.Count, plan.CreateDirectories.Count);
        }

        var deleted = 0;
        foreach (var entry in plan.Replacements)
        {
            deleted += await run.DeleteAsync(entry, cancellationToken).ConfigureAwait(false) ? 1 : 0;
        }

        var created = await run.CreateDirectoriesAsync(plan, cancellationToken).ConfigureAwait(false);
        var (sent, bytes, populated) = await run.SendAsync(plan, progress, cancellationToken).ConfigureAwait(false);
        var directoriesCreated = created.Count + plan.CreateDirectories.Count(d => !created.Contains(d) && populated.Contains(d));

        var failedTransfers = run._failures.Count - plan.Failures.Count;
        if (plan.Deletes.Count > 0 && failedTransfers > 0)
        {
            foreach (var entry in plan.Deletes)
            {
                run._failures.Add(new DirectoryTransferFailure(entry.RelativePath, new InvalidOperationException(
                    $"'{entry.RelativePath}' was not deleted: {failedTransfers} transfer(s) failed, and deletions run only when every transfer succeeded. Fix them and sync again.")));
            }
        }
        else
        {
            deleted += await run.DeleteExtrasAsync(plan.Deletes, cancellationToken).ConfigureAwait(false);
        }

        return run.Result(plan, sent, bytes, deleted, directoriesCreated);
    }

    /// <summary>Hashes the local side of every pair of same-size files (other pairs differ anyway), in parallel.</summary>
    private static Task HashLocalFilesAsync(TreeSnapshot source, TreeSnapshot destination, SyncDirection direction, int parallelism,
        CancellationToken cancellationToken)
    {
        var pairs = new List<TreeEntry>();
        foreach (var entry in source.Entries.Values.Where(e => e.Selected && !e.IsDirectory))
        {
            if (destination.Entries.TryGetValue(entry.RelativePath, out var there) && !there.IsDirectory && there.Size == entry.Size)
            {
                var (local, remote) = direction == SyncDirection.Upload ? (entry, there) : (there, entry);
                if (remote.Sha256 is not null)
                {
                    pairs.Add(local);
                }
            }
        }

        return DirectoryWork.ForEachAsync(pairs, parallelism, async (local, ct) =>
        {
            var buffer = ArrayPool<byte>.Shared.Rent(HashBufferSize);
            try
            {
                var stream = new FileStream(local.LocalPath!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1,
                    FileOptions.Asynchronous | FileOptions.SequentialScan);
                await using (stream.ConfigureAwait(false))
                {
                    using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    int read;
                    while ((read = await stream.ReadAsync(buffer.AsMemory(0, HashBufferSize), ct).ConfigureAwait(false)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                    }

                    local.Sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left unhashed: counts as changed, and the transfer then reports what is wrong with the file.
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }, cancellationToken);
    }

    /// <summary>Creates the planned directories; for uploads only those no send will create as a parent.</summary>
    /// <returns>The directories created.</returns>
    private async Task<HashSet<string>> CreateDirectoriesAsync(SyncPlan plan, CancellationToken cancellationToken)
    {
        var created = new HashSet<string>(StringComparer.Ordinal);
        var parents = _direction == SyncDirection.Upload ? DirectoryTransfer.Ancestors(plan.Sends.Select(s => s.RelativePath)) : [];
        foreach (var relative in plan.CreateDirectories.Where(d => !parents.Contains(d)))
        {
            try
            {
                if (_direction == SyncDirection.Upload)
                {
                    await _client.CreateDirectoryAsync(_remote.Combine(relative), cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var path = LocalPath(relative);
                    if (LocalPaths.FindLinkOnTheWay(_root, Path.Combine(path, "x")) is { } link)
                    {
                        throw new InvalidOperationException($"'{relative}': '{link}' is a symbolic link; links are not followed, nothing was created.");
                    }

                    Directory.CreateDirectory(path);
                }

                created.Add(relative);
            }
            catch (Exception e) when (e is DepotException or IOException or UnauthorizedAccessException or InvalidOperationException
                && !DirectoryWork.IsWholeOperationFailure(e))
            {
                AddFailure(relative, e);
            }
        }

        return created;
    }

    /// <returns>Files sent, their bytes, and the directories that now hold at least one of them.</returns>
    private async Task<(int Sent, long Bytes, HashSet<string> Populated)> SendAsync(SyncPlan plan, IProgress<TransferProgress>? progress,
        CancellationToken cancellationToken)
    {
        var sent = new List<TreeEntry>();
        var overall = new DirectoryProgress(progress, plan.Sends.Count + plan.Skipped, plan.Skipped, plan.Sends.Sum(s => s.Size));
        await DirectoryWork.ForEachAsync(plan.Sends, _options.Parallelism, async (entry, ct) =>
        {
            if (Volatile.Read(ref _stop) is not null)
            {
                return;
            }

            var file = overall.ForFile(entry.Size);
            var succeeded = false;
            try
            {
                await SendOneAsync(entry, file.Sink, ct).ConfigureAwait(false);
                succeeded = true;
                lock (_gate)
                {
                    sent.Add(entry);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (DirectoryWork.IsWholeOperationFailure(e))
            {
                Interlocked.CompareExchange(ref _stop, e, null);
            }
            catch (Exception e)
            {
                AddFailure(entry.RelativePath, e);
            }
            finally
            {
                file.Finish(succeeded);
            }
        }, cancellationToken).ConfigureAwait(false);

        if (_stop is { } stop)
        {
            ExceptionDispatchInfo.Capture(stop).Throw();
        }

        return (sent.Count, sent.Sum(s => s.Size), DirectoryTransfer.Ancestors(sent.Select(s => s.RelativePath)));
    }

    private async Task SendOneAsync(TreeEntry entry, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var remotePath = _remote.Combine(entry.RelativePath);
        if (_direction == SyncDirection.Upload)
        {
            var options = DirectoryWork.UploadOptionsFor(_options.Upload, entry.ModifiedUtc, overwrite: true);
            await _client.UploadAsync(entry.LocalPath!, remotePath, options, progress, cancellationToken).ConfigureAwait(false);
            return;
        }

        var path = LocalPath(entry.RelativePath);
        if (LocalPaths.FindLinkOnTheWay(_root, path) is { } link)
        {
            throw new InvalidOperationException($"'{entry.RelativePath}': '{link}' is a symbolic link; links are not followed, nothing was written.");
        }

        var described = await _client.DownloadAsync(remotePath, path, DirectoryWork.DownloadOptionsFor(_options.Download, overwrite: true), progress,
            cancellationToken).ConfigureAwait(false);
        File.SetLastWriteTimeUtc(path, DirectoryTransfer.SourceTime(entry, described));
    }

    private async Task<int> DeleteExtrasAsync(List<TreeEntry> deletes, CancellationToken cancellationToken)
    {
        var deleted = 0;
        await DirectoryWork.ForEachAsync(deletes, _direction == SyncDirection.Upload ? _options.Parallelism : 1, async (entry, ct) =>
        {
            if (await DeleteAsync(entry, ct).ConfigureAwait(false))
            {
                Interlocked.Increment(ref deleted);
            }
        }, cancellationToken).ConfigureAwait(false);
        return deleted;
    }

    /// <summary>Deletes one destination entry (a directory with its contents); records a failure and returns false when
    /// it cannot. Something already gone counts as deleted.</summary>
    private async Task<bool> DeleteAsync(TreeEntry entry, CancellationToken cancellationToken)
    {
        try
        {
            if (_direction == SyncDirection.Upload)
            {
                // A file deleted only in the version listed (If-Match): one replaced since is left, and reported.
                var ifMatch = entry.IsDirectory ? null : entry.Sha256;
                await _client.DeleteAsync(_remote.Combine(entry.RelativePath), recursive: entry.IsDirectory, ifMatch, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                DeleteLocal(entry);
            }

            return true;
        }
        catch (NotFoundException)
        {
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (!DirectoryWork.IsWholeOperationFailure(e))
        {
            AddFailure(entry.RelativePath, e);
            return false;
        }
    }

    private void DeleteLocal(TreeEntry entry)
    {
        var path = LocalPath(entry.RelativePath);
        var link = LocalPaths.FindLinkOnTheWay(_root, path) ?? (LocalPaths.IsLink(path) ? path : null);
        if (link is not null)
        {
            throw new InvalidOperationException($"'{entry.RelativePath}' was not deleted: '{link}' became a symbolic link since the scan.");
        }

        if (entry.IsDirectory)
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        else
        {
            File.Delete(path);
        }
    }

    /// <summary>The local path of a relative key, checked (the plan only holds checked keys; this is the last guard).</summary>
    private string LocalPath(string relative)
    {
        if (relative.Length == 0)
        {
            return _root;
        }

        return LocalPaths.Resolve(_root, relative, out var reason) ?? throw new InvalidOperationException(reason);
    }

    private void AddFailure(string relative, Exception e)
    {
        lock (_gate)
        {
            _failures.Add(new DirectoryTransferFailure(relative, e));
        }
    }

    private SyncResult Result(SyncPlan plan, int sent, long bytes, int deleted, int directoriesCreated)
    {
        lock (_gate)
        {
            return new SyncResult
            {
                Direction = _direction,
                DryRun = _options.DryRun,
                Actions = plan.Actions,
                Sent = sent,
                Skipped = plan.Skipped,
                Deleted = deleted,
                DirectoriesCreated = directoriesCreated,
                BytesSent = bytes,
                Elapsed = Stopwatch.GetElapsedTime(_started),
                Failures = [.. _failures.OrderBy(f => f.RelativePath, StringComparer.Ordinal)],
            };
        }
    }
}
