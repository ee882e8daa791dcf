using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;

namespace Depot.Client;

public sealed partial class UploadQueue
{
    /// <summary>Progress is written to the queue at most this often per item.</summary>
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>Task.Delay cannot wait longer than about 49 days; waking once a day and looking again is the same.</summary>
    private static readonly TimeSpan LongestWait = TimeSpan.FromDays(1);

    /// <summary>
    /// Uploads the queue's due items, <see cref="UploadQueueOptions.Parallelism"/> at a time, oldest first, through
    /// <see cref="DepotClient.UploadAsync(string, DepotPath, UploadOptions?, IProgress{TransferProgress}?, CancellationToken)"/>,
    /// until none is left that this run can do (or, with <see cref="UploadQueueOptions.Watch"/>, until cancelled).
    /// </summary>
    /// <remarks>
    /// <para>Due items: pending ones (not waiting out a retry delay), items left uploading by a runner whose lease ran
    /// out or whose process on this machine has ended, and, at the start of each run, failed items whose attempts were
    /// used up by transient failures (they get a fresh set). Items another live runner is uploading are left to it, and
    /// the run does not wait for them.</para>
    /// <para>A transient failure (<see cref="DepotException.IsTransient"/>: network, timeout, 429, 503) puts the item
    /// back to pending with a retry delay, which the run waits out, until <see cref="UploadQueueOptions.MaxAttempts"/>
    /// attempts are used, then fails it. Any other failure, a missing source file included, fails the item at once. A
    /// failed item does not stop the others; failures are recorded on the item and in the result, not thrown.</para>
    /// <para>Snapshot copies of uploaded items are deleted. Cancelling stops the uploads in flight and puts their items
    /// back to pending (a large file resumes where it stopped, through the client's upload state); the run then throws
    /// <see cref="OperationCanceledException"/>, except a watching run, which returns what it did.</para>
    /// <para>Several runs (of this instance, other instances, other processes) may go at once; they split the items.</para>
    /// </remarks>
    /// <param name="progress">Per-file progress of every upload of the run, from the uploads' threads, several files
    /// interleaved; <see cref="TransferProgress.Name"/> is the item's <see cref="QueuedUpload.LocalPath"/>.</param>
    /// <returns>What the run did with each item it worked on.</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled or the queue disposed (not in watch mode).</exception>
    /// <exception cref="SqliteException">The queue file could not be read or written (e.g. disk full); uploads in flight
    /// are stopped first.</exception>
    /// <exception cref="ObjectDisposedException">The queue was disposed.</exception>
    public Task<UploadQueueRunResult> RunAsync(IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var run = RunCoreAsync(progress, cancellationToken);
        lock (_runs)
        {
            _runs.RemoveWhere(t => t.IsCompleted);
            _runs.Add(run);
        }

        return run;
    }

    private async Task<UploadQueueRunResult> RunCoreAsync(IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        var token = stop.Token;
        var results = new Dictionary<long, QueuedUploadResult>();
        var order = new List<long>();
        var running = new List<Task<QueuedUploadResult>>();
        Exception? failure = null;
        var cancelled = false;
        try
        {
            // Items that used up their attempts on transient failures get a fresh set with every run.
            await _database.RenewTransientFailuresAsync(DateTimeOffset.MaxValue, token).ConfigureAwait(false);
            var lastRenewal = _time.GetUtcNow();
            while (true)
            {
                var enqueued = Volatile.Read(ref _enqueued).Task;
                DateTimeOffset? wake = null;
                if (running.Count < _settings.Parallelism)
                {
                    await ReleaseDeadOwnersAsync(token).ConfigureAwait(false);
                    var now = _time.GetUtcNow();
                    if (_settings.Watch && now - lastRenewal >= _settings.PollInterval)
                    {
                        await _database.RenewTransientFailuresAsync(now - _settings.MaxRetryDelay, token).ConfigureAwait(false);
                        lastRenewal = now;
                    }

                    while (running.Count < _settings.Parallelism
                        && await _database.ClaimAsync(_owner, now, now + _settings.LeaseDuration, token).ConfigureAwait(false) is { } item)
                    {
                        if (!results.ContainsKey(item.Id))
                        {
                            order.Add(item.Id);
                        }

                        results[item.Id] = Outcome(item, QueuedUploadState.Uploading, null, item.LastError);
                        running.Add(Task.Run(() => UploadItemAsync(item, progress, token), CancellationToken.None));
                        now = _time.GetUtcNow();
                    }

                    if (running.Count < _settings.Parallelism)
                    {
                        var due = await _database.NextDueAsync(token).ConfigureAwait(false);
                        if (running.Count == 0 && due is null && !_settings.Watch)
                        {
                            break;
                        }

                        wake = _settings.Watch ? Earliest(due, now + _settings.PollInterval) : due;
                    }
                }

                await WaitAsync(running, wake, enqueued, token).ConfigureAwait(false);
                failure ??= Harvest(running, results);
                if (failure is not null)
                {
                    await stop.CancelAsync().ConfigureAwait(false);
                    break;
                }

                token.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            cancelled = true;
        }
        catch (Exception e)
        {
            // The queue file failed (e.g. disk full): stop the uploads in flight before reporting it.
            failure = e;
            await stop.CancelAsync().ConfigureAwait(false);
        }

        // Uploads in flight see the cancellation and give their items back.
        await ((Task)Task.WhenAll(running)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        failure ??= Harvest(running, results);
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        if (cancelled && !_settings.Watch)
        {
            throw new OperationCanceledException("The upload queue run was cancelled; items in flight are pending again.", null,
                cancellationToken.IsCancellationRequested ? cancellationToken : _disposing.Token);
        }

        var items = order.Select(id => results[id]).ToList();
        return new UploadQueueRunResult
        {
            Items = items,
            Succeeded = items.Count(i => i.State == QueuedUploadState.Done),
            Failed = items.Count(i => i.State == QueuedUploadState.Failed),
        };
    }

    /// <summary>Waits until an upload ends, <paramref name="wake"/> comes, an item is enqueued through this instance,
    /// or the run is cancelled.</summary>
    private async Task WaitAsync(List<Task<QueuedUploadResult>> running, DateTimeOffset? wake, Task enqueued, CancellationToken token)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(token);
        var waits = new List<Task>(running) { enqueued };
        var delay = wake is { } at ? at - _time.GetUtcNow() : Timeout.InfiniteTimeSpan;
        if (delay != Timeout.InfiniteTimeSpan)
        {
            delay = delay < TimeSpan.Zero ? TimeSpan.Zero : delay > LongestWait ? LongestWait : delay;
        }

        waits.Add(Task.Delay(delay, _time, done.Token));
        await Task.WhenAny(waits).ConfigureAwait(false);
        await done.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>Takes the finished uploads out of <paramref name="running"/> into <paramref name="results"/>; returns
    /// the first infrastructure failure (the queue file), if any.</summary>
    private static Exception? Harvest(List<Task<QueuedUploadResult>> running, Dictionary<long, QueuedUploadResult> results)
    {
        Exception? failure = null;
        foreach (var task in running.Where(t => t.IsCompleted).ToList())
        {
            running.Remove(task);
            if (task.IsCompletedSuccessfully)
            {
                results[task.Result.Id] = task.Result;
            }
            else
            {
                failure ??= task.Exception?.InnerException ?? new OperationCanceledException();
            }
        }

        return failure;
    }

    /// <summary>One attempt at one claimed item, with a heartbeat renewing its lease and writing its progress; the
    /// outcome is recorded on the item. Throws only when the queue file cannot be written.</summary>
    private async Task<QueuedUploadResult> UploadItemAsync(QueuedUpload item, IProgress<TransferProgress>? progress, CancellationToken token)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(token);
        var tracker = new ItemProgress(progress, item.LocalPath);
        var lease = new LeaseWatch();
        Attempt outcome;
        using (var heartbeatStop = new CancellationTokenSource())
        {
            var heartbeat = HeartbeatAsync(item, tracker, attempt, lease, heartbeatStop.Token);
            try
            {
                outcome = await AttemptAsync(item, tracker, attempt.Token).ConfigureAwait(false);
            }
            finally
            {
                await heartbeatStop.CancelAsync().ConfigureAwait(false);
                await heartbeat.ConfigureAwait(false);
            }
        }

        var now = _time.GetUtcNow();
        if (lease.Lost)
        {
            // Another runner took the item over after our lease ran out (this process stalled); whatever we did, the
            // item is theirs now.
            var error = new QueuedUploadError(UploadQueueErrorCodes.LeaseLost,
                $"This runner's lease on item {item.Id} ran out while it uploaded; another runner took the item over.", true);
            return Outcome(item, QueuedUploadState.Uploading, null, error);
        }

        if (outcome.Stored is { } stored)
        {
            if (!await _database.CompleteAsync(item.Id, _owner, stored, now, CancellationToken.None).ConfigureAwait(false))
            {
                // Our lease ran out just before the record: the runner that took the item over still needs its snapshot.
                return Outcome(item, QueuedUploadState.Uploading, stored, new QueuedUploadError(UploadQueueErrorCodes.LeaseLost,
                    $"This runner's lease on item {item.Id} ran out before the upload was recorded; another runner took the item over.", true));
            }

            _snapshots.Delete(item.Blob);
            return Outcome(item, QueuedUploadState.Done, stored, null);
        }

        if (outcome.Error is not { } failed)
        {
            await _database.ReleaseAsync(item.Id, _owner, CancellationToken.None).ConfigureAwait(false);
            return Outcome(item with { Attempts = Math.Max(0, item.Attempts - 1) }, QueuedUploadState.Pending, null, item.LastError);
        }

        DateTimeOffset? next = failed.IsTransient && item.Attempts < _settings.MaxAttempts ? now + Backoff(item.Attempts, outcome.RetryAfter) : null;
        await _database.FailAsync(item.Id, _owner, failed, now, next, CancellationToken.None).ConfigureAwait(false);
        return Outcome(item, next is null ? QueuedUploadState.Failed : QueuedUploadState.Pending, null, failed);
    }

    /// <summary>Uploads the item; failures become values. Null stored and null error: cancelled.</summary>
    private async Task<Attempt> AttemptAsync(QueuedUpload item, IProgress<TransferProgress> tracker, CancellationToken token)
    {
        var source = item.Snapshot && item.Blob is { } blob ? _snapshots.PathOf(blob) : item.LocalPath;
        if (item.Snapshot && (item.Blob is null || !File.Exists(source)))
        {
            return new Attempt(null, new QueuedUploadError(UploadQueueErrorCodes.SnapshotMissing,
                $"The queue's copy of '{item.LocalPath}' (taken when it was enqueued) is gone from {SnapshotDirectory}. Enqueue the file again.", false));
        }

        var options = new UploadOptions
        {
            ContentType = item.ContentType,
            Metadata = item.Metadata,
            Overwrite = item.Overwrite,
            Appendable = item.Appendable,
        };
        try
        {
            return new Attempt(await _client.UploadAsync(source, item.Destination, options, tracker, token).ConfigureAwait(false), null);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return new Attempt(null, null);
        }
        catch (AlreadyExistsException e) when (!item.Overwrite && item.Attempts > 1)
        {
            // An earlier attempt may have published the object and died before recording it: then it is done.
            try
            {
                return await FindEarlierUploadAsync(item, source, token).ConfigureAwait(false) is { } stored
                    ? new Attempt(stored, null)
                    : new Attempt(null, Describe(e, item));
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return new Attempt(null, null);
            }
            catch (Exception inner)
            {
                return new Attempt(null, Describe(inner, item)) { RetryAfter = (inner as DepotUnavailableException)?.RetryAfter };
            }
        }
        catch (Exception e)
        {
            return new Attempt(null, Describe(e, item)) { RetryAfter = (e as DepotUnavailableException)?.RetryAfter };
        }
    }

    /// <summary>The object at the destination, when its SHA-256 is that of the item's bytes.</summary>
    private async Task<DepotObject?> FindEarlierUploadAsync(QueuedUpload item, string source, CancellationToken token)
    {
        var existing = await _client.TryStatAsync(item.Destination, token).ConfigureAwait(false);
        if (existing?.Sha256 is not { } remote)
        {
            return null;
        }

        var stream = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1,
            FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (stream.ConfigureAwait(false))
        {
            var local = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, token).ConfigureAwait(false));
            return string.Equals(local, remote, StringComparison.OrdinalIgnoreCase) ? existing : null;
        }
    }

    /// <summary>Renews the lease every third of its duration and writes progress at most every
    /// <see cref="ProgressInterval"/>, until stopped. Cancels the attempt when the item turns out to be taken over.</summary>
    private async Task HeartbeatAsync(QueuedUpload item, ItemProgress tracker, CancellationTokenSource attempt, LeaseWatch lease, CancellationToken stop)
    {
        var renewEvery = _settings.LeaseDuration / 3;
        var interval = renewEvery < ProgressInterval ? renewEvery : ProgressInterval;
        var renewed = _time.GetUtcNow();
        long written = 0;
        using var timer = new PeriodicTimer(interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                var now = _time.GetUtcNow();
                var bytes = tracker.Bytes;
                var renew = now - renewed >= renewEvery;
                if (!renew && bytes == written)
                {
                    continue;
                }

                try
                {
                    if (!await _database.HeartbeatAsync(item.Id, _owner, bytes, renew ? now + _settings.LeaseDuration : null, stop).ConfigureAwait(false))
                    {
                        lease.Lost = true;
                        await attempt.CancelAsync().ConfigureAwait(false);
                        return;
                    }
                }
                catch (SqliteException)
                {
                    // The file is busy or briefly unwritable: try again at the next tick, well before the lease runs out.
                    continue;
                }

                written = bytes;
                if (renew)
                {
                    renewed = now;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The attempt ended.
        }
    }

    private TimeSpan Backoff(int attempts, TimeSpan? retryAfter)
    {
        var exponent = Math.Clamp(attempts - 1, 0, 30);
        var ceiling = _settings.MaxRetryDelay.TotalMilliseconds;
        var delay = Math.Min(ceiling, _settings.RetryDelay.TotalMilliseconds * Math.Pow(2, exponent));
        // Jitter: items (and clients) that failed together should not all come back at the same moment.
        delay *= 1 - (0.5 * Random.Shared.NextDouble());
        if (retryAfter is { } asked && asked.TotalMilliseconds > delay)
        {
            delay = Math.Min(ceiling, asked.TotalMilliseconds);
        }

        return TimeSpan.FromMilliseconds(delay);
    }

    private static QueuedUploadError Describe(Exception e, QueuedUpload item) => e switch
    {
        DepotException depot => new QueuedUploadError(depot.Code, depot.Message, depot.IsTransient),
        FileNotFoundException or DirectoryNotFoundException when item.Snapshot => new QueuedUploadError(UploadQueueErrorCodes.SnapshotMissing,
            $"The queue's copy of '{item.LocalPath}' is gone. Enqueue the file again.", false),
        FileNotFoundException or DirectoryNotFoundException => new QueuedUploadError(UploadQueueErrorCodes.SourceMissing,
            $"'{item.LocalPath}' no longer exists (it had {item.Size} bytes when it was enqueued). Put it back and requeue the item, or remove it; " +
            "enqueue with Snapshot = true to keep a copy of files that may go away.", false),
        IOException or UnauthorizedAccessException => new QueuedUploadError(UploadQueueErrorCodes.LocalIo,
            $"Cannot read '{item.LocalPath}': {e.Message} Fix it and requeue the item.", false),
        OperationCanceledException => new QueuedUploadError(ClientErrorCodes.Timeout, $"The upload of '{item.LocalPath}' timed out: {e.Message}", true),
        _ => new QueuedUploadError(UploadQueueErrorCodes.Unexpected, $"The upload of '{item.LocalPath}' failed: {e.GetType().Name}: {e.Message}", false),
    };

    private static QueuedUploadResult Outcome(QueuedUpload item, QueuedUploadState state, DepotObject? stored, QueuedUploadError? error) => new()
    {
        Id = item.Id,
        LocalPath = item.LocalPath,
        Destination = item.Destination,
        State = state,
        Attempts = item.Attempts,
        Object = stored,
        Error = error,
    };

    private static DateTimeOffset Earliest(DateTimeOffset? a, DateTimeOffset b) => a is { } value && value < b ? value : b;

    /// <summary>How an attempt ended: stored, failed, or (both null) cancelled.</summary>
    private sealed record Attempt(DepotObject? Stored, QueuedUploadError? Error)
    {
        public TimeSpan? RetryAfter { get; init; }
    }

    private sealed class LeaseWatch
    {
        public volatile bool Lost;
    }

    /// <summary>Remembers the bytes acknowledged so far and passes reports on under the item's own name (a snapshot
    /// is read from the queue's copy, whose path means nothing to the caller).</summary>
    private sealed class ItemProgress(IProgress<TransferProgress>? inner, string name) : IProgress<TransferProgress>
    {
        private long _bytes;

        public long Bytes => Interlocked.Read(ref _bytes);

        public void Report(TransferProgress value)
        {
            Interlocked.Exchange(ref _bytes, value.BytesTransferred);
            inner?.Report(value with { Name = name });
        }
    }
}
