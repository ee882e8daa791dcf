using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Directories;

/// <summary>Local → remote syncs against a real server.</summary>
public sealed class SyncUploadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SyncUpload_NewTree_SendsEverythingAndCreatesEmptyDirectories()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("sub/b.txt", "22"), ("empty/", null));

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);

        Assert.True(result.Succeeded, string.Join("\n", result.Failures));
        Assert.Equal((2, 0, 0, 3L), (result.Sent, result.Skipped, result.Deleted, result.BytesSent));
        Assert.Equal("a.txt,sub/b.txt", TreeKit.Paths(result.Actions, SyncActionKind.Send));
        Assert.Equal(",empty,sub", TreeKit.Paths(result.Actions, SyncActionKind.CreateDirectory));
        Assert.Equal(3, result.DirectoriesCreated);
        Assert.Equal(TreeKit.DescribeLocal(local), await TreeKit.DescribeRemoteAsync(context.Client, "default/s"));
        var metadata = await context.Client.GetMetadataAsync("default/s/sub/b.txt", Ct);
        Assert.Equal(File.GetLastWriteTimeUtc(Path.Combine(local, "sub/b.txt")).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'"), metadata["mtime"]);
    }

    [Fact]
    public async Task SyncUpload_UnchangedTree_SendsNothingWithOneListingRequest()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("sub/b.txt", "2"), ("sub/c.txt", "3"), ("sub/deep/d.txt", "4"), ("e/", null));
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);

        var (result, requests) = await TreeKit.CountRequestsAsync(context, () => context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct));

        Assert.True(result.Succeeded, string.Join("\n", result.Failures));
        Assert.Equal((0, 4, 0L), (result.Sent, result.Skipped, result.BytesSent));
        Assert.All(result.Actions, a => Assert.Equal((SyncActionKind.Skip, "unchanged"), (a.Kind, a.Reason)));
        var request = Assert.Single(requests);
        Assert.StartsWith("GET /v1/default/s/", request, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SyncUpload_UploadDirectoryThenSync_FindsEverythingUnchanged()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("sub/b.txt", "2"));
        await context.Client.UploadDirectoryAsync(local, "default/s", cancellationToken: Ct);

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);

        Assert.Equal((0, 2), (result.Sent, result.Skipped));
    }

    [Fact]
    public async Task SyncUpload_ChangedContentAndSize_SendsOnlyThatFile()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("b.txt", "2"));
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        File.WriteAllText(Path.Combine(local, "b.txt"), "longer now");

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);

        var send = Assert.Single(result.Actions, a => a.Kind == SyncActionKind.Send);
        Assert.Equal(("b.txt", "size differs", 10L), (send.RelativePath, send.Reason, send.Size));
        Assert.Equal("longer now"u8.ToArray(), await context.Client.DownloadBytesAsync("default/s/b.txt", cancellationToken: Ct));
    }

    [Fact]
    public async Task SyncUpload_SameSizeDifferentMtime_Sends()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "abc"));
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        TreeKit.Write(Path.Combine(local, "a.txt"), "xyz", TreeKit.BaseTime.AddHours(1));

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);

        Assert.Equal(("a.txt", "modification time differs"), (Assert.Single(result.Actions).RelativePath, result.Actions[0].Reason));
        Assert.Equal(1, result.Sent);
        Assert.Equal("xyz"u8.ToArray(), await context.Client.DownloadBytesAsync("default/s/a.txt", cancellationToken: Ct));
    }

    [Fact]
    public async Task SyncUpload_DeletedLocalFileWithoutDelete_KeepsRemoteFile()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("b.txt", "2"));
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        File.Delete(Path.Combine(local, "b.txt"));

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);

        Assert.Equal(0, result.Deleted);
        Assert.DoesNotContain(result.Actions, a => a.Kind == SyncActionKind.Delete);
        Assert.NotNull(await context.Client.TryStatAsync("default/s/b.txt", Ct));
    }

    [Fact]
    public async Task SyncUpload_DeletedLocalFileAndDirectoryWithDelete_RemovesThemRemotely()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("b.txt", "2"), ("dir/c.txt", "3"), ("dir/sub/d.txt", "4"));
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        File.Delete(Path.Combine(local, "b.txt"));
        Directory.Delete(Path.Combine(local, "dir"), recursive: true);

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, new SyncOptions { Delete = true }, cancellationToken: Ct);

        Assert.True(result.Succeeded, string.Join("\n", result.Failures));
        Assert.Equal("b.txt,dir", TreeKit.Paths(result.Actions, SyncActionKind.Delete));
        Assert.Equal(2, result.Deleted);
        Assert.Equal(TreeKit.DescribeLocal(local), await TreeKit.DescribeRemoteAsync(context.Client, "default/s"));
    }

    [Fact]
    public async Task SyncUpload_DirectoryReplacedBySymlinkWithDelete_KeepsEverythingBelowItRemotely()
    {
        // The link is skipped (never followed), so what the source holds below it is unknown: "not in source" would
        // be a guess, and --delete must not wipe the backup of a directory that was merely moved behind a link.
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("keep.txt", "k"), ("photos/a.jpg", "1"), ("photos/sub/b.jpg", "22"));
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        var elsewhere = Path.Combine(context.Scratch, "elsewhere");
        Directory.Move(Path.Combine(local, "photos"), elsewhere);
        Directory.CreateSymbolicLink(Path.Combine(local, "photos"), elsewhere);

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, new SyncOptions { Delete = true }, cancellationToken: Ct);

        Assert.Equal("", TreeKit.Paths(result.Actions, SyncActionKind.Delete));
        Assert.Equal(0, result.Deleted);
        Assert.NotNull(await context.Client.TryStatAsync("default/s/photos/a.jpg", Ct));
        Assert.NotNull(await context.Client.TryStatAsync("default/s/photos/sub/b.jpg", Ct));
    }

    [Fact]
    public async Task SyncUpload_DeleteNeverTouchesOutsideTheSyncedDirectory()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("neighbour"u8.ToArray(), "default/s-other/keep.txt", cancellationToken: Ct);
        await context.Client.UploadAsync("parent"u8.ToArray(), "default/keep.txt", cancellationToken: Ct);
        var local = Directory.CreateDirectory(Path.Combine(context.Scratch, "empty")).FullName;

        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, new SyncOptions { Delete = true }, cancellationToken: Ct);

        Assert.NotNull(await context.Client.TryStatAsync("default/s-other/keep.txt", Ct));
        Assert.NotNull(await context.Client.TryStatAsync("default/keep.txt", Ct));
        Assert.Equal(DepotEntryType.Directory, (await context.Client.StatAsync("default/s", Ct)).Type);
    }

    [Fact]
    public async Task SyncUpload_RenamedFileWithDelete_SendsNewNameAndDeletesOld()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("old-name.txt", "content"));
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        File.Move(Path.Combine(local, "old-name.txt"), Path.Combine(local, "new-name.txt"));

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, new SyncOptions { Delete = true }, cancellationToken: Ct);

        Assert.Equal("new-name.txt", TreeKit.Paths(result.Actions, SyncActionKind.Send));
        Assert.Equal("old-name.txt", TreeKit.Paths(result.Actions, SyncActionKind.Delete));
        Assert.Equal(TreeKit.DescribeLocal(local), await TreeKit.DescribeRemoteAsync(context.Client, "default/s"));
    }

    [Fact]
    public async Task SyncUpload_ATransferFails_OthersSentAndNoDeletionMade()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("old"u8.ToArray(), "default/old.txt", cancellationToken: Ct);
        // '.depot' at the top of a bucket is the server's state folder: the upload of that file is refused.
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), (".depot/x.txt", "2"));

        var result = await context.Client.SyncAsync(local, "default", SyncDirection.Upload, new SyncOptions { Delete = true }, cancellationToken: Ct);

        Assert.Equal(1, result.Sent);
        Assert.Equal(0, result.Deleted);
        Assert.Equal([".depot/x.txt", "old.txt"], result.Failures.Select(f => f.RelativePath));
        Assert.IsType<InvalidRequestException>(result.Failures[0].Error);
        Assert.Contains("not deleted", result.Failures[1].Error.Message, StringComparison.Ordinal);
        Assert.NotNull(await context.Client.TryStatAsync("default/old.txt", Ct));
    }

    [Fact]
    public async Task SyncUpload_RemoteFileWhereLocalHasDirectory_FailsWithoutDeleteReplacedWithDelete()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("file"u8.ToArray(), "default/s/x", cancellationToken: Ct);
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("x/inner.txt", "1"));

        var keeping = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        var replacing = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, new SyncOptions { Delete = true }, cancellationToken: Ct);

        Assert.Equal("x", Assert.Single(keeping.Failures).RelativePath);
        Assert.Equal(0, keeping.Sent);
        Assert.True(replacing.Succeeded, string.Join("\n", replacing.Failures));
        Assert.Equal((1, 1), (replacing.Sent, replacing.Deleted));
        Assert.Equal(TreeKit.DescribeLocal(local), await TreeKit.DescribeRemoteAsync(context.Client, "default/s"));
    }

    [Fact]
    public async Task SyncUpload_DryRun_ChangesNothingAndReportsThePlan()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("same.txt", "1"), ("changed.txt", "2"), ("gone.txt", "3"));
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        var remoteBefore = await TreeKit.DescribeRemoteAsync(context.Client, "default/s");
        File.WriteAllText(Path.Combine(local, "changed.txt"), "22");
        File.Delete(Path.Combine(local, "gone.txt"));
        TreeKit.Create(local, ("new/n.txt", "4"), ("new-empty/", null));
        var localBefore = TreeKit.DescribeLocal(local);

        var (result, requests) = await TreeKit.CountRequestsAsync(context, () =>
            context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, new SyncOptions { Delete = true, DryRun = true }, cancellationToken: Ct));

        Assert.True(result.DryRun);
        Assert.Equal("changed.txt,new/n.txt", TreeKit.Paths(result.Actions, SyncActionKind.Send));
        Assert.Equal("same.txt", TreeKit.Paths(result.Actions, SyncActionKind.Skip));
        Assert.Equal("gone.txt", TreeKit.Paths(result.Actions, SyncActionKind.Delete));
        Assert.Equal("new,new-empty", TreeKit.Paths(result.Actions, SyncActionKind.CreateDirectory));
        Assert.Equal((2, 1, 1, 2, 3L), (result.Sent, result.Skipped, result.Deleted, result.DirectoriesCreated, result.BytesSent));
        Assert.Single(requests);
        Assert.Equal(remoteBefore, await TreeKit.DescribeRemoteAsync(context.Client, "default/s"));
        Assert.Equal(localBefore, TreeKit.DescribeLocal(local));
    }

    [Fact]
    public async Task SyncUpload_ChecksumMode_DetectsSameSizeSameMtimeChange()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "abc"), ("b.txt", "def"));
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        var path = Path.Combine(local, "a.txt");
        var time = File.GetLastWriteTimeUtc(path);
        File.WriteAllText(path, "xyz");
        File.SetLastWriteTimeUtc(path, time);

        var bySize = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, new SyncOptions { DryRun = true }, cancellationToken: Ct);
        var byChecksum = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, new SyncOptions { Compare = SyncCompare.Checksum },
            cancellationToken: Ct);

        Assert.Equal(0, bySize.Sent);
        Assert.Equal(("a.txt", "checksum differs"), (Assert.Single(byChecksum.Actions, a => a.Kind == SyncActionKind.Send).RelativePath,
            byChecksum.Actions.Single(a => a.Kind == SyncActionKind.Send).Reason));
        Assert.Equal("xyz"u8.ToArray(), await context.Client.DownloadBytesAsync("default/s/a.txt", cancellationToken: Ct));
    }

    [Fact]
    public async Task SyncUpload_IncludeExclude_NeitherSendsNorDeletesUnselectedEntries()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("remote only"u8.ToArray(), "default/s/cache/x.tmp", cancellationToken: Ct);
        await context.Client.UploadAsync("remote only"u8.ToArray(), "default/s/notes.md", cancellationToken: Ct);
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("b.tmp", "2"), ("cache/y.txt", "3"));
        var options = new SyncOptions { Delete = true, Include = { "*.txt", "*.md" }, Exclude = { "cache/" } };

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, options, cancellationToken: Ct);

        Assert.Equal("a.txt", TreeKit.Paths(result.Actions, SyncActionKind.Send));
        Assert.Equal("notes.md", TreeKit.Paths(result.Actions, SyncActionKind.Delete));
        Assert.NotNull(await context.Client.TryStatAsync("default/s/cache/x.tmp", Ct));
        Assert.Null(await context.Client.TryStatAsync("default/s/b.tmp", Ct));
    }

    [Fact]
    public async Task SyncUpload_CancelledMidway_RerunCompletesIdenticalTree()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.CreateClient(configure: o => { o.ResumableThreshold = 64 * 1024; o.ChunkSize = 16 * 1024; o.ParallelChunks = 2; });
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"),
            Enumerable.Range(0, 30).Select(i => ($"d{i % 3}/f{i:D2}.txt", (string?)new string((char)('a' + (i % 26)), 100 + i))).ToArray());
        File.Copy(context.WriteFile("large.bin", 512 * 1024, seed: 9), Path.Combine(local, "d1", "large.bin"));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var completed = 0;
        var progress = new RecordingProgress(p =>
        {
            if (p.IsCompleted && Interlocked.Increment(ref completed) == 5)
            {
                cancel.Cancel();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            client.SyncAsync(local, "default/s", SyncDirection.Upload, new SyncOptions { Parallelism = 2 }, progress, cancel.Token));
        var rerun = await client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        var third = await client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);

        Assert.True(rerun.Succeeded, string.Join("\n", rerun.Failures));
        Assert.InRange(rerun.Skipped, 5, 30);
        Assert.Equal(31, rerun.Sent + rerun.Skipped);
        Assert.Equal(TreeKit.DescribeLocal(local), await TreeKit.DescribeRemoteAsync(client, "default/s"));
        Assert.Equal((0, 31), (third.Sent, third.Skipped));
    }

    [Fact]
    public async Task SyncUpload_ProgressOverall_CountsSkippedAndSentFiles()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("b.txt", "22"));
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        TreeKit.Create(local, ("c.txt", "333"));
        var progress = new RecordingProgress();

        await context.Client.SyncAsync(local, "default/s", SyncDirection.Upload, progress: progress, cancellationToken: Ct);

        var last = Assert.Single(progress.Reports, r => r.IsCompleted);
        Assert.EndsWith("c.txt", last.Name, StringComparison.Ordinal);
        Assert.Equal(new OverallProgress { FilesDone = 3, FilesTotal = 3, BytesTransferred = 3, TotalBytes = 3 }, last.Overall);
    }

    [Fact]
    public async Task SyncUpload_MissingLocalDirectory_ThrowsDirectoryNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<DirectoryNotFoundException>(() =>
            context.Client.SyncAsync(Path.Combine(context.Scratch, "missing"), "default/s", SyncDirection.Upload, cancellationToken: Ct));
    }
}
