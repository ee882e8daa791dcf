using Depot.Client.Tests.Infrastructure;
using static Depot.Client.Tests.Queue.QueueKit;

namespace Depot.Client.Tests.Queue;

public sealed class UploadQueueTests
{
    [Fact]
    public async Task RunAsync_EnqueuedFiles_UploadsAllWithMatchingSha256()
    {
        await using var context = await ClientTestContext.StartAsync();
        // A low threshold so that one item goes through a resumable session.
        var client = context.CreateClient(configure: o => { o.ResumableThreshold = 1024 * 1024; o.ChunkSize = 256 * 1024; });
        await using var queue = await OpenAsync(context, client);
        var sizes = new long[] { 0, 1, 1000, 200_000, 3 * 1024 * 1024 + 5 };
        var files = sizes.Select((size, i) => context.WriteFile($"src/f{i}.bin", size, seed: i + 1)).ToList();
        foreach (var (file, i) in files.Select((f, i) => (f, i)))
        {
            await queue.EnqueueAsync(file, $"default/queued/f{i}.bin", cancellationToken: Token);
        }

        var listed = await queue.ListAsync(Token);
        Assert.Equal(files, listed.Select(i => i.LocalPath));
        Assert.All(listed, i => Assert.Equal(QueuedUploadState.Pending, i.State));
        Assert.Equal(sizes, listed.Select(i => i.Size));
        Assert.True(listed.Zip(listed.Skip(1)).All(p => p.First.Id < p.Second.Id));

        var progress = new RecordingProgress();
        var result = await queue.RunAsync(progress, Token);

        Assert.Equal(files.Count, result.Succeeded);
        Assert.Equal(0, result.Failed);
        var done = await queue.ListAsync(Token);
        foreach (var (item, file) in done.Zip(files))
        {
            Assert.Equal(QueuedUploadState.Done, item.State);
            Assert.Equal(ClientTestContext.Sha256Of(file), item.Sha256);
            Assert.Equal(item.Destination, item.RemotePath);
            Assert.Equal(item.Size, item.BytesUploaded);
            Assert.Equal(1, item.Attempts);
            Assert.NotNull(item.Completed);
            Assert.Null(item.LastError);
            Assert.Null(item.Owner);
            var stored = await client.StatAsync(item.Destination, Token);
            Assert.Equal(item.Sha256, stored.Sha256);
        }

        Assert.All(files, f => Assert.Contains(progress.Reports, r => r.Name == f && r.IsCompleted));
    }

    [Fact]
    public async Task EnqueueAsync_Snapshot_UploadsBytesAsOfEnqueueAfterSourceChangedOrDeleted()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        var changed = context.WriteFile("src/changed.bin", 50_000, seed: 1);
        var deleted = context.WriteFile("src/deleted.bin", 70_000, seed: 2);
        var changedSha = ClientTestContext.Sha256Of(changed);
        var deletedSha = ClientTestContext.Sha256Of(deleted);
        var snapshot = new EnqueueOptions { Snapshot = true };
        var a = await queue.EnqueueAsync(changed, "default/snap/changed.bin", snapshot, Token);
        var b = await queue.EnqueueAsync(deleted, "default/snap/deleted.bin", snapshot, Token);
        Assert.True(a.Snapshot);
        Assert.Equal(50_000, a.Size);
        Assert.Equal(2, Directory.GetFiles(queue.SnapshotDirectory).Length);

        context.WriteFile("src/changed.bin", 10, seed: 99);
        File.Delete(deleted);
        var progress = new RecordingProgress();
        var result = await queue.RunAsync(progress, Token);

        Assert.Equal(2, result.Succeeded);
        Assert.Equal(changedSha, (await context.Client.StatAsync("default/snap/changed.bin", Token)).Sha256);
        Assert.Equal(deletedSha, (await context.Client.StatAsync("default/snap/deleted.bin", Token)).Sha256);
        Assert.Equal(changed, (await queue.GetAsync(a.Id, Token))!.LocalPath);
        Assert.Equal(QueuedUploadState.Done, (await queue.GetAsync(b.Id, Token))!.State);
        Assert.Empty(Directory.GetFiles(queue.SnapshotDirectory));
        // Progress names the file the caller enqueued, not the queue's copy.
        Assert.Equal([changed, deleted], progress.Reports.Where(r => r.IsCompleted).Select(r => r.Name).Order());
    }

    [Fact]
    public async Task RunAsync_PathItemWhoseSourceWasDeleted_FailsWithSourceMissingWhileOthersSucceed()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        var first = context.WriteFile("src/1.bin", 1000, seed: 1);
        var gone = context.WriteFile("src/2.bin", 1000, seed: 2);
        var third = context.WriteFile("src/3.bin", 1000, seed: 3);
        await queue.EnqueueAsync(first, "default/p/1.bin", cancellationToken: Token);
        var missing = await queue.EnqueueAsync(gone, "default/p/2.bin", cancellationToken: Token);
        await queue.EnqueueAsync(third, "default/p/3.bin", cancellationToken: Token);
        Assert.False(missing.Snapshot);
        Assert.NotNull(missing.SourceModified);
        File.Delete(gone);

        var result = await queue.RunAsync(cancellationToken: Token);

        Assert.Equal(2, result.Succeeded);
        Assert.Equal(1, result.Failed);
        var failed = Assert.Single(result.Items, i => i.State == QueuedUploadState.Failed);
        Assert.Equal(missing.Id, failed.Id);
        Assert.Equal(UploadQueueErrorCodes.SourceMissing, failed.Error!.Code);
        var item = (await queue.GetAsync(missing.Id, Token))!;
        Assert.Equal(QueuedUploadState.Failed, item.State);
        Assert.Equal(UploadQueueErrorCodes.SourceMissing, item.LastError!.Code);
        Assert.False(item.LastError.IsTransient);
        Assert.Contains(gone, item.LastError.Message, StringComparison.Ordinal);
        Assert.Equal(1, item.Attempts);
        Assert.Null(await context.Client.TryStatAsync("default/p/2.bin", Token));

        // A permanent failure is not retried by the next run, only after a requeue.
        Assert.Empty((await queue.RunAsync(cancellationToken: Token)).Items);
        context.WriteFile("src/2.bin", 1000, seed: 2);
        Assert.Equal(1, await queue.RequeueAsync(missing.Id, Token));
        Assert.Equal(1, (await queue.RunAsync(cancellationToken: Token)).Succeeded);
        Assert.Equal(QueuedUploadState.Done, (await queue.GetAsync(missing.Id, Token))!.State);
    }

    [Fact]
    public async Task OpenAsync_ReopenedQueue_KeepsItemsAndOptionsAndRunsThem()
    {
        await using var context = await ClientTestContext.StartAsync();
        var file = context.WriteFile("src/doc.txt", 5000, seed: 4);
        var upload = new UploadOptions
        {
            ContentType = "text/x-queued",
            Metadata = new Dictionary<string, string> { ["origin"] = "field-7", ["batch"] = "42" },
            Overwrite = false,
        };
        long id;
        await using (var queue = await OpenAsync(context))
        {
            id = (await queue.EnqueueAsync(file, "default/re/doc.txt", new EnqueueOptions { Upload = upload }, Token)).Id;
        }

        await using (var reopened = await OpenAsync(context))
        {
            var item = Assert.Single(await reopened.ListAsync(Token));
            Assert.Equal(id, item.Id);
            Assert.Equal(QueuedUploadState.Pending, item.State);
            Assert.Equal(new DepotPath("default", "re/doc.txt"), item.Destination);
            Assert.Equal("text/x-queued", item.ContentType);
            Assert.Equal("field-7", item.Metadata!["origin"]);
            Assert.False(item.Overwrite);

            var result = await reopened.RunAsync(cancellationToken: Token);

            Assert.Equal(1, result.Succeeded);
        }

        var stored = await context.Client.StatAsync("default/re/doc.txt", Token);
        Assert.Equal(ClientTestContext.Sha256Of(file), stored.Sha256);
        Assert.Equal("text/x-queued", stored.ContentType);
        Assert.Equal("42", stored.Metadata["batch"]);
        await using var third = await OpenAsync(context);
        Assert.Equal(QueuedUploadState.Done, (await third.GetAsync(id, Token))!.State);
    }

    [Fact]
    public async Task RunAsync_ItemLeftUploadingByDeadProcessOnThisMachine_IsUploadedAgain()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        var file = context.WriteFile("src/crash.bin", 20_000, seed: 5);
        var item = await queue.EnqueueAsync(file, "default/crash.bin", cancellationToken: Token);
        // The lease would last another hour, but its process is gone.
        await MarkUploadingAsync(queue.DatabasePath, item.Id, DeadOwnerOnThisMachine, DateTimeOffset.UtcNow.AddHours(1));
        Assert.Equal(QueuedUploadState.Uploading, (await queue.GetAsync(item.Id, Token))!.State);

        var result = await queue.RunAsync(cancellationToken: Token);

        var done = Assert.Single(result.Items);
        Assert.Equal(QueuedUploadState.Done, done.State);
        var after = (await queue.GetAsync(item.Id, Token))!;
        Assert.Equal(QueuedUploadState.Done, after.State);
        Assert.Equal(2, after.Attempts); // the crashed attempt counts
        Assert.Equal(ClientTestContext.Sha256Of(file), after.Sha256);
    }

    [Fact]
    public async Task RunAsync_ItemWithExpiredLeaseOfAnotherMachine_IsUploadedAgain()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        var file = context.WriteFile("src/expired.bin", 20_000, seed: 6);
        var item = await queue.EnqueueAsync(file, "default/expired.bin", cancellationToken: Token);
        await MarkUploadingAsync(queue.DatabasePath, item.Id, OwnerElsewhere, DateTimeOffset.UtcNow.AddSeconds(-1));

        var result = await queue.RunAsync(cancellationToken: Token);

        Assert.Equal(1, result.Succeeded);
        Assert.Equal(QueuedUploadState.Done, (await queue.GetAsync(item.Id, Token))!.State);
    }

    [Fact]
    public async Task RunAsync_ItemHeldByLiveLeaseOfAnotherMachine_IsLeftAlone()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        var held = await queue.EnqueueAsync(context.WriteFile("src/held.bin", 1000, seed: 7), "default/held.bin", cancellationToken: Token);
        var free = await queue.EnqueueAsync(context.WriteFile("src/free.bin", 1000, seed: 8), "default/free.bin", cancellationToken: Token);
        await MarkUploadingAsync(queue.DatabasePath, held.Id, OwnerElsewhere, DateTimeOffset.UtcNow.AddHours(1));

        var result = await queue.RunAsync(cancellationToken: Token);

        Assert.Equal(free.Id, Assert.Single(result.Items).Id);
        var item = (await queue.GetAsync(held.Id, Token))!;
        Assert.Equal(QueuedUploadState.Uploading, item.State);
        Assert.Equal(OwnerElsewhere, item.Owner);
        Assert.Null(await context.Client.TryStatAsync("default/held.bin", Token));
    }

    [Fact]
    public async Task RunAsync_ReclaimedItemWhoseUploadHadBeenPublished_IsMarkedDone()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        var file = context.WriteFile("src/published.bin", 30_000, seed: 9);
        var item = await queue.EnqueueAsync(file, "default/published.bin",
            new EnqueueOptions { Upload = new UploadOptions { Overwrite = false } }, Token);
        // The crashed runner got as far as publishing, but not as recording it.
        await context.Client.UploadAsync(file, "default/published.bin", cancellationToken: Token);
        await MarkUploadingAsync(queue.DatabasePath, item.Id, DeadOwnerOnThisMachine, DateTimeOffset.UtcNow.AddHours(1));

        var result = await queue.RunAsync(cancellationToken: Token);

        Assert.Equal(1, result.Succeeded);
        var after = (await queue.GetAsync(item.Id, Token))!;
        Assert.Equal(QueuedUploadState.Done, after.State);
        Assert.Equal(ClientTestContext.Sha256Of(file), after.Sha256);
    }

    [Fact]
    public async Task RunAsync_CreateOnlyItemWhoseDestinationHoldsOtherBytes_FailsAlreadyExists()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        var file = context.WriteFile("src/taken.bin", 3000, seed: 10);
        await context.Client.UploadAsync(context.WriteFile("src/other.bin", 3000, seed: 11), "default/taken.bin", cancellationToken: Token);
        var item = await queue.EnqueueAsync(file, "default/taken.bin", new EnqueueOptions { Upload = new UploadOptions { Overwrite = false } }, Token);
        await MarkUploadingAsync(queue.DatabasePath, item.Id, DeadOwnerOnThisMachine, DateTimeOffset.UtcNow.AddHours(1));

        var result = await queue.RunAsync(cancellationToken: Token);

        Assert.Equal(1, result.Failed);
        var after = (await queue.GetAsync(item.Id, Token))!;
        Assert.Equal(QueuedUploadState.Failed, after.State);
        Assert.Equal("already_exists", after.LastError!.Code);
    }

    [Fact]
    public async Task RunAsync_TwoQueuesOnSameFileAtOnce_UploadEachItemExactlyOnce()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var first = await OpenAsync(context, options: new UploadQueueOptions { Parallelism = 3 });
        await using var second = await OpenAsync(context, context.CreateClient(), new UploadQueueOptions { Parallelism = 3 });
        var createOnly = new EnqueueOptions { Upload = new UploadOptions { Overwrite = false } };
        var files = new List<string>();
        for (var i = 0; i < 24; i++)
        {
            var file = context.WriteFile($"src/many/{i}.bin", 2000 + (i * 1000), seed: 100 + i);
            files.Add(file);
            // Half enqueued through each instance.
            await (i % 2 == 0 ? first : second).EnqueueAsync(file, $"default/many/{i}.bin", createOnly, Token);
        }

        var progress = new RecordingProgress();
        var results = await Task.WhenAll(first.RunAsync(progress, Token), second.RunAsync(progress, Token));

        var ids = results.SelectMany(r => r.Items).Select(i => i.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(files.Count, ids.Count);
        Assert.Equal(files.Count, results.Sum(r => r.Succeeded));
        Assert.Equal(0, results.Sum(r => r.Failed));
        Assert.All(await first.ListAsync(Token), i =>
        {
            Assert.Equal(QueuedUploadState.Done, i.State);
            Assert.Equal(1, i.Attempts);
        });
        // Every file was sent to completion exactly once, across both runners.
        var completions = progress.Reports.Where(r => r.IsCompleted).GroupBy(r => r.Name).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(files.Order(), completions.Keys.Order());
        Assert.All(completions.Values, count => Assert.Equal(1, count));
    }

    [Fact]
    public async Task RunAsync_UnreachableServer_RetriesThenFailsTransientAndNextRunRetries()
    {
        await using var context = await ClientTestContext.StartAsync();
        var offline = context.CreateClient(url: new Uri("http://127.0.0.1:1/"), configure: o => o.Retry.MaxAttempts = 1);
        var file = context.WriteFile("src/offline.bin", 4000, seed: 12);
        long id;
        await using (var queue = await OpenAsync(context, offline,
            new UploadQueueOptions { MaxAttempts = 3, RetryDelay = TimeSpan.FromMilliseconds(10), MaxRetryDelay = TimeSpan.FromMilliseconds(50) }))
        {
            id = (await queue.EnqueueAsync(file, "default/offline.bin", cancellationToken: Token)).Id;

            var result = await queue.RunAsync(cancellationToken: Token);

            Assert.Equal(1, result.Failed);
            var item = (await queue.GetAsync(id, Token))!;
            Assert.Equal(QueuedUploadState.Failed, item.State);
            Assert.Equal(3, item.Attempts);
            Assert.Equal(ClientErrorCodes.Network, item.LastError!.Code);
            Assert.True(item.LastError.IsTransient);
        }

        // Items that used up their attempts on transient failures get a fresh set with the next run.
        await using var online = await OpenAsync(context);
        var second = await online.RunAsync(cancellationToken: Token);

        Assert.Equal(1, second.Succeeded);
        var done = (await online.GetAsync(id, Token))!;
        Assert.Equal(QueuedUploadState.Done, done.State);
        Assert.Equal(1, done.Attempts);
        Assert.Null(done.LastError);
    }

    [Fact]
    public async Task RunAsync_CancelledDuringRetryDelay_LeavesItemPending()
    {
        await using var context = await ClientTestContext.StartAsync();
        var offline = context.CreateClient(url: new Uri("http://127.0.0.1:1/"), configure: o => o.Retry.MaxAttempts = 1);
        await using var queue = await OpenAsync(context, offline, new UploadQueueOptions { RetryDelay = TimeSpan.FromHours(1), MaxRetryDelay = TimeSpan.FromHours(1) });
        var item = await queue.EnqueueAsync(context.WriteFile("src/later.bin", 4000, seed: 13), "default/later.bin", cancellationToken: Token);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Token);

        var run = queue.RunAsync(cancellationToken: cancel.Token);
        var waiting = await WaitForAsync(queue, item.Id, i => i.State == QueuedUploadState.Pending && i.Attempts == 1);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(ClientErrorCodes.Network, waiting.LastError!.Code);
        Assert.True(waiting.NextAttempt > DateTimeOffset.UtcNow.AddMinutes(20));
        var after = (await queue.GetAsync(item.Id, Token))!;
        Assert.Equal(QueuedUploadState.Pending, after.State);
        Assert.Equal(1, after.Attempts);

        // Requeuing skips the delay.
        await using var online = await OpenAsync(context);
        Assert.Equal(1, await online.RequeueAsync(cancellationToken: Token));
        Assert.Equal(1, (await online.RunAsync(cancellationToken: Token)).Succeeded);
    }

    [Fact]
    public async Task RunAsync_CancelledWhileUploading_LeavesItemPendingWithAttemptUncounted()
    {
        await using var context = await ClientTestContext.StartAsync();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Token);
        using var started = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        // Holds the upload inside its first progress report until the test has cancelled the run.
        var progress = new RecordingProgress(_ =>
        {
            started.Set();
            gate.Wait(TimeSpan.FromSeconds(30));
        });
        await using var queue = await OpenAsync(context);
        var item = await queue.EnqueueAsync(context.WriteFile("src/big.bin", 8 * 1024 * 1024, seed: 14), "default/big.bin", cancellationToken: Token);

        var run = queue.RunAsync(progress, cancel.Token);
        Assert.True(started.Wait(TimeSpan.FromSeconds(30), Token));
        await cancel.CancelAsync();
        gate.Set();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        var after = (await queue.GetAsync(item.Id, Token))!;
        Assert.Equal(QueuedUploadState.Pending, after.State);
        Assert.Equal(0, after.Attempts);
        Assert.Null(after.Owner);
        Assert.Equal(1, (await queue.RunAsync(cancellationToken: Token)).Succeeded);
    }

    [Fact]
    public async Task DisposeAsync_DuringRun_StopsRunAndLeavesItemPending()
    {
        await using var context = await ClientTestContext.StartAsync();
        using var started = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        var progress = new RecordingProgress(_ =>
        {
            started.Set();
            gate.Wait(TimeSpan.FromSeconds(30));
        });
        var queue = await OpenAsync(context);
        var item = await queue.EnqueueAsync(context.WriteFile("src/d.bin", 8 * 1024 * 1024, seed: 25), "default/d.bin", cancellationToken: Token);
        var run = queue.RunAsync(progress, Token);
        Assert.True(started.Wait(TimeSpan.FromSeconds(30), Token));

        var disposing = queue.DisposeAsync().AsTask();
        gate.Set();
        await disposing;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => queue.ListAsync(Token));
        await using var reopened = await OpenAsync(context);
        var after = (await reopened.GetAsync(item.Id, Token))!;
        Assert.Equal(QueuedUploadState.Pending, after.State);
        Assert.Null(after.Owner);
    }

    [Fact]
    public async Task RunAsync_UploadLongerThanLease_RenewsLeaseAndWritesProgress()
    {
        await using var context = await ClientTestContext.StartAsync();
        using var started = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        var progress = new RecordingProgress(r =>
        {
            if (r.BytesTransferred > 0 && !started.IsSet)
            {
                started.Set();
                gate.Wait(TimeSpan.FromSeconds(30));
            }
        });
        var lease = new UploadQueueOptions { LeaseDuration = TimeSpan.FromSeconds(2) };
        await using var holder = await OpenAsync(context, options: lease);
        await using var rival = await OpenAsync(context, context.CreateClient(),
            new UploadQueueOptions { LeaseDuration = TimeSpan.FromSeconds(2), Watch = true, PollInterval = TimeSpan.FromMilliseconds(50) });
        var item = await holder.EnqueueAsync(context.WriteFile("src/slow.bin", 4 * 1024 * 1024, seed: 15), "default/slow.bin",
            new EnqueueOptions { Upload = new UploadOptions { Overwrite = false } }, Token);

        var run = holder.RunAsync(progress, Token);
        Assert.True(started.Wait(TimeSpan.FromSeconds(30), Token));
        using var stopRival = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var rivalRun = rival.RunAsync(cancellationToken: stopRival.Token);
        var uploading = await WaitForAsync(holder, item.Id, i => i.BytesUploaded > 0);
        // Stalled for several lease durations (2 s leases: shorter ones can miss a renewal on a loaded 2-core machine): the lease must be renewed all along, so the watching rival leaves it alone.
        await Task.Delay(TimeSpan.FromSeconds(5), Token);
        var later = (await holder.GetAsync(item.Id, Token))!;
        gate.Set();
        var result = await run;
        await stopRival.CancelAsync();
        var rivalResult = await rivalRun;

        Assert.Equal(QueuedUploadState.Uploading, uploading.State);
        Assert.Equal(QueuedUploadState.Uploading, later.State);
        Assert.Equal(uploading.Owner, later.Owner);
        Assert.True(later.LeaseExpires > uploading.LeaseExpires);
        Assert.Equal(1, result.Succeeded);
        Assert.Empty(rivalResult.Items);
        Assert.Equal(QueuedUploadState.Done, (await holder.GetAsync(item.Id, Token))!.State);
    }

    [Fact]
    public async Task RunAsync_Watch_UploadsItemsEnqueuedWhileRunningUntilCancelled()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var watcher = await OpenAsync(context, options: new UploadQueueOptions { Watch = true, PollInterval = TimeSpan.FromMilliseconds(100) });
        await using var producer = await OpenAsync(context, context.CreateClient());
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);

        var run = watcher.RunAsync(cancellationToken: stop.Token);
        await Task.Delay(200, Token);
        Assert.False(run.IsCompleted);
        // One through another instance (noticed by polling), one through the watching instance itself.
        var a = await producer.EnqueueAsync(context.WriteFile("src/w1.bin", 1000, seed: 16), "default/w/1.bin", cancellationToken: Token);
        var b = await watcher.EnqueueAsync(context.WriteFile("src/w2.bin", 1000, seed: 17), "default/w/2.bin", cancellationToken: Token);
        await WaitForAsync(watcher, a.Id, i => i.State == QueuedUploadState.Done);
        await WaitForAsync(watcher, b.Id, i => i.State == QueuedUploadState.Done);
        await stop.CancelAsync();
        var result = await run;

        Assert.Equal(2, result.Succeeded);
        Assert.Equal([a.Id, b.Id], result.Items.Select(i => i.Id).Order());
    }

    [Fact]
    public async Task RemoveAsync_PendingSnapshotItem_RemovesItemAndCopy()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        var item = await queue.EnqueueAsync(context.WriteFile("src/r.bin", 1000, seed: 18), "default/r.bin", new EnqueueOptions { Snapshot = true }, Token);
        Assert.Single(Directory.GetFiles(queue.SnapshotDirectory));

        Assert.True(await queue.RemoveAsync(item.Id, Token));

        Assert.Empty(await queue.ListAsync(Token));
        Assert.Empty(Directory.GetFiles(queue.SnapshotDirectory));
        Assert.False(await queue.RemoveAsync(item.Id, Token));
        Assert.Empty((await queue.RunAsync(cancellationToken: Token)).Items);
    }

    [Fact]
    public async Task RemoveAsync_ItemHeldByLiveLease_ThrowsAndKeepsItem()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        var item = await queue.EnqueueAsync(context.WriteFile("src/busy.bin", 1000, seed: 19), "default/busy.bin", cancellationToken: Token);
        await MarkUploadingAsync(queue.DatabasePath, item.Id, OwnerElsewhere, DateTimeOffset.UtcNow.AddHours(1));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => queue.RemoveAsync(item.Id, Token));

        Assert.Contains(OwnerElsewhere, error.Message, StringComparison.Ordinal);
        Assert.NotNull(await queue.GetAsync(item.Id, Token));
        // Once its process is known dead, it can go.
        await MarkUploadingAsync(queue.DatabasePath, item.Id, DeadOwnerOnThisMachine, DateTimeOffset.UtcNow.AddHours(1));
        Assert.True(await queue.RemoveAsync(item.Id, Token));
    }

    [Fact]
    public async Task ClearAsync_EachMode_RemovesOnlyTheSelectedItems()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        await queue.EnqueueAsync(context.WriteFile("src/ok.bin", 1000, seed: 20), "default/c/ok.bin", cancellationToken: Token);
        var gone = context.WriteFile("src/gone.bin", 1000, seed: 21);
        await queue.EnqueueAsync(gone, "default/c/gone.bin", cancellationToken: Token);
        File.Delete(gone);
        await queue.RunAsync(cancellationToken: Token);
        var pending = await queue.EnqueueAsync(context.WriteFile("src/p.bin", 1000, seed: 22), "default/c/p.bin", new EnqueueOptions { Snapshot = true }, Token);
        var held = await queue.EnqueueAsync(context.WriteFile("src/h.bin", 1000, seed: 23), "default/c/h.bin", cancellationToken: Token);
        await MarkUploadingAsync(queue.DatabasePath, held.Id, OwnerElsewhere, DateTimeOffset.UtcNow.AddHours(1));

        Assert.Equal(1, await queue.ClearAsync(cancellationToken: Token));
        Assert.DoesNotContain(await queue.ListAsync(Token), i => i.State == QueuedUploadState.Done);
        Assert.Equal(1, await queue.ClearAsync(QueueClearMode.Failed, Token));
        Assert.Equal([pending.Id, held.Id], (await queue.ListAsync(Token)).Select(i => i.Id));
        Assert.Equal(1, await queue.ClearAsync(QueueClearMode.All, Token));

        Assert.Equal(held.Id, Assert.Single(await queue.ListAsync(Token)).Id);
        Assert.Empty(Directory.GetFiles(queue.SnapshotDirectory));
    }

    [Fact]
    public async Task EnqueueAsync_MissingFile_ThrowsFileNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);

        await Assert.ThrowsAsync<FileNotFoundException>(() => queue.EnqueueAsync(Path.Combine(context.Scratch, "nope.bin"), "default/nope.bin", cancellationToken: Token));
        await Assert.ThrowsAsync<FileNotFoundException>(() =>
            queue.EnqueueAsync(Path.Combine(context.Scratch, "nope.bin"), "default/nope.bin", new EnqueueOptions { Snapshot = true }, Token));

        Assert.Empty(await queue.ListAsync(Token));
    }

    [Fact]
    public async Task EnqueueAsync_OptionsThatCannotBeQueued_ThrowArgumentException()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);
        var file = context.WriteFile("src/e.bin", 100, seed: 24);

        var encrypted = await Assert.ThrowsAsync<ArgumentException>(() => queue.EnqueueAsync(file, "default/e.bin",
            new EnqueueOptions { Upload = new UploadOptions { Encryption = EncryptionKey.FromBytes(new byte[32]) } }, Token));
        await Assert.ThrowsAsync<ArgumentException>(() => queue.EnqueueAsync(file, "default/e.bin",
            new EnqueueOptions { Upload = new UploadOptions { TimeToLive = TimeSpan.FromHours(1) } }, Token));
        await Assert.ThrowsAsync<ArgumentException>(() => queue.EnqueueAsync(file, "default", cancellationToken: Token));

        Assert.Contains("Encryption", encrypted.Message, StringComparison.Ordinal);
        Assert.Empty(await queue.ListAsync(Token));
    }

    [Fact]
    public async Task OpenAsync_NewFile_WritesSchemaVersion1InWalMode()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var queue = await OpenAsync(context);

        Assert.Equal(1, await ScalarAsync(queue.DatabasePath, "PRAGMA user_version"));
        Assert.Equal(0x44505155, await ScalarAsync(queue.DatabasePath, "PRAGMA application_id"));
        Assert.True(File.Exists(queue.DatabasePath + "-wal") || await ScalarAsync(queue.DatabasePath, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1);
    }

    [Fact]
    public async Task OpenAsync_FileFromNewerClient_ThrowsNotSupported()
    {
        await using var context = await ClientTestContext.StartAsync();
        var path = QueuePath(context);
        await (await OpenAsync(context)).DisposeAsync();
        await ExecuteAsync(path, "PRAGMA user_version = 2");

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => OpenAsync(context));

        Assert.Contains("newer", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_OtherSqliteDatabase_ThrowsInvalidData()
    {
        await using var context = await ClientTestContext.StartAsync();
        var path = QueuePath(context);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await ExecuteAsync(path, "CREATE TABLE notes (body TEXT)");

        await Assert.ThrowsAsync<InvalidDataException>(() => OpenAsync(context));
    }
}
