using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Directories;

/// <summary>Remote → local syncs against a real server.</summary>
public sealed class SyncDownloadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SyncDownload_NewTree_CreatesFilesDirectoriesAndRecordedMtimes()
    {
        await using var context = await ClientTestContext.StartAsync();
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("sub/b.txt", "22"), ("empty/", null));
        await context.Client.SyncAsync(source, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        var local = Path.Combine(context.Scratch, "dst");

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, cancellationToken: Ct);

        Assert.True(result.Succeeded, string.Join("\n", result.Failures));
        Assert.Equal((2, 3L), (result.Sent, result.BytesSent));
        Assert.Equal(TreeKit.DescribeLocal(source), TreeKit.DescribeLocal(local));
        Assert.Equal(File.GetLastWriteTimeUtc(Path.Combine(source, "sub/b.txt")), File.GetLastWriteTimeUtc(Path.Combine(local, "sub/b.txt")));
    }

    [Fact]
    public async Task SyncDownload_FilesWithoutMtimeMetadata_GetTheServerTimeAndCompareUnchanged()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("plain"u8.ToArray(), "default/s/plain.txt", cancellationToken: Ct);
        var local = Path.Combine(context.Scratch, "dst");
        var listed = await context.Client.ListAsync("default/s", cancellationToken: Ct).SingleAsync(Ct);

        await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, cancellationToken: Ct);
        var again = await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, cancellationToken: Ct);

        Assert.Equal(listed.Modified.UtcDateTime, File.GetLastWriteTimeUtc(Path.Combine(local, "plain.txt")));
        Assert.Equal((0, 1), (again.Sent, again.Skipped));
    }

    [Fact]
    public async Task SyncDownload_UnchangedTree_SendsNothingWithOneListingRequest()
    {
        await using var context = await ClientTestContext.StartAsync();
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("sub/b.txt", "2"), ("sub/deep/c.txt", "3"));
        await context.Client.SyncAsync(source, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        var local = Path.Combine(context.Scratch, "dst");
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, cancellationToken: Ct);

        var (result, requests) = await TreeKit.CountRequestsAsync(context, () => context.Client.SyncAsync(local, "default/s", SyncDirection.Download, cancellationToken: Ct));

        Assert.Equal((0, 3), (result.Sent, result.Skipped));
        Assert.StartsWith("GET /v1/default/s/", Assert.Single(requests), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SyncDownload_RemoteFileChanged_DownloadsItAndSetsItsMtime()
    {
        await using var context = await ClientTestContext.StartAsync();
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "abc"), ("b.txt", "keep"));
        await context.Client.SyncAsync(source, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        var local = Path.Combine(context.Scratch, "dst");
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, cancellationToken: Ct);
        var newTime = TreeKit.BaseTime.AddDays(3).AddTicks(1234);
        TreeKit.Write(Path.Combine(source, "a.txt"), "xyz", newTime);
        await context.Client.SyncAsync(source, "default/s", SyncDirection.Upload, cancellationToken: Ct);

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, cancellationToken: Ct);

        Assert.Equal(("a.txt", "modification time differs"), (Assert.Single(result.Actions, a => a.Kind == SyncActionKind.Send).RelativePath,
            result.Actions.Single(a => a.Kind == SyncActionKind.Send).Reason));
        Assert.Equal("xyz", File.ReadAllText(Path.Combine(local, "a.txt")));
        Assert.Equal(newTime, File.GetLastWriteTimeUtc(Path.Combine(local, "a.txt")));
    }

    [Fact]
    public async Task SyncDownload_ExtraLocalEntriesWithDelete_RemovedWithoutDelete_Kept()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("1"u8.ToArray(), "default/s/a.txt", cancellationToken: Ct);
        var local = TreeKit.Create(Path.Combine(context.Scratch, "dst"), ("extra.txt", "x"), ("olddir/x.txt", "y"), ("olddir/empty/", null));

        var keeping = await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, cancellationToken: Ct);
        Assert.True(File.Exists(Path.Combine(local, "extra.txt")));
        var deleting = await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, new SyncOptions { Delete = true }, cancellationToken: Ct);

        Assert.Equal(0, keeping.Deleted);
        Assert.Equal("extra.txt,olddir", TreeKit.Paths(deleting.Actions, SyncActionKind.Delete));
        Assert.Equal(2, deleting.Deleted);
        Assert.Equal(["a.txt = " + ClientTestContext.Sha256Of("1"u8.ToArray())], TreeKit.DescribeLocal(local));
    }

    [Fact]
    public async Task SyncDownload_DryRun_ChangesNothingLocally()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("1"u8.ToArray(), "default/s/a.txt", cancellationToken: Ct);
        await context.Client.CreateDirectoryAsync("default/s/emptydir", Ct);
        var local = TreeKit.Create(Path.Combine(context.Scratch, "dst"), ("extra.txt", "x"));
        var before = TreeKit.DescribeLocal(local);

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, new SyncOptions { Delete = true, DryRun = true }, cancellationToken: Ct);

        Assert.Equal("a.txt", TreeKit.Paths(result.Actions, SyncActionKind.Send));
        Assert.Equal("extra.txt", TreeKit.Paths(result.Actions, SyncActionKind.Delete));
        Assert.Equal("emptydir", TreeKit.Paths(result.Actions, SyncActionKind.CreateDirectory));
        Assert.Equal(before, TreeKit.DescribeLocal(local));
    }

    [Fact]
    public async Task SyncDownload_ChecksumMode_DetectsLocalChangeThatKeepsSizeAndMtime()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("abc"u8.ToArray(), "default/s/a.txt", cancellationToken: Ct);
        var local = Path.Combine(context.Scratch, "dst");
        await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, cancellationToken: Ct);
        var path = Path.Combine(local, "a.txt");
        var time = File.GetLastWriteTimeUtc(path);
        File.WriteAllText(path, "xyz");
        File.SetLastWriteTimeUtc(path, time);

        var bySize = await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, new SyncOptions { DryRun = true }, cancellationToken: Ct);
        var byChecksum = await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, new SyncOptions { Compare = SyncCompare.Checksum },
            cancellationToken: Ct);

        Assert.Equal(0, bySize.Sent);
        Assert.Equal(1, byChecksum.Sent);
        Assert.Equal("abc", File.ReadAllText(path));
    }

    [Fact]
    public async Task SyncDownload_LocalSymlinkInTheWay_NotFollowedNorDeleted()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("1"u8.ToArray(), "default/s/sub/a.txt", cancellationToken: Ct);
        var outside = Directory.CreateDirectory(Path.Combine(context.Scratch, "outside")).FullName;
        var local = Directory.CreateDirectory(Path.Combine(context.Scratch, "dst")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(local, "sub"), outside);
        File.CreateSymbolicLink(Path.Combine(local, "extra-link"), Path.Combine(outside, "nothing"));

        var result = await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, new SyncOptions { Delete = true }, cancellationToken: Ct);

        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
        Assert.Equal("sub", Assert.Single(result.Failures).RelativePath);
        Assert.NotNull(new FileInfo(Path.Combine(local, "extra-link")).LinkTarget);
        Assert.NotNull(new DirectoryInfo(Path.Combine(local, "sub")).LinkTarget);
    }

    [Fact]
    public async Task SyncDownload_CancelledMidway_RerunCompletesIdenticalTree()
    {
        await using var context = await ClientTestContext.StartAsync();
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"),
            Enumerable.Range(0, 24).Select(i => ($"d{i % 4}/f{i:D2}.txt", (string?)new string('q', 50 + i))).ToArray());
        await context.Client.SyncAsync(source, "default/s", SyncDirection.Upload, cancellationToken: Ct);
        var local = Path.Combine(context.Scratch, "dst");
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var completed = 0;
        var progress = new RecordingProgress(p =>
        {
            if (p.IsCompleted && Interlocked.Increment(ref completed) == 4)
            {
                cancel.Cancel();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            context.Client.SyncAsync(local, "default/s", SyncDirection.Download, new SyncOptions { Parallelism = 2 }, progress, cancel.Token));
        var inPlace = Directory.EnumerateFiles(local, "*.txt", SearchOption.AllDirectories).Count();
        var rerun = await context.Client.SyncAsync(local, "default/s", SyncDirection.Download, cancellationToken: Ct);

        Assert.True(rerun.Succeeded, string.Join("\n", rerun.Failures));
        Assert.InRange(inPlace, 1, 23);
        Assert.Equal((24 - inPlace, inPlace), (rerun.Sent, rerun.Skipped));
        Assert.Equal(TreeKit.DescribeLocal(source), TreeKit.DescribeLocal(local));
        Assert.DoesNotContain(Directory.EnumerateFiles(local, "*", SearchOption.AllDirectories), p => p.EndsWith(".depot-part", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SyncDownload_MissingRemoteDirectory_ThrowsNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<NotFoundException>(() =>
            context.Client.SyncAsync(Path.Combine(context.Scratch, "dst"), "default/none", SyncDirection.Download, cancellationToken: Ct));
    }
}
