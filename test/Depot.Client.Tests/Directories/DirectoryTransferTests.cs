using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Directories;

public sealed class DirectoryTransferTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UploadThenDownloadDirectory_Tree_RoundTripsBytesStructureEmptyDirectoriesAndTimes()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.CreateClient(configure: o => { o.ResumableThreshold = 256 * 1024; o.ChunkSize = 64 * 1024; });
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"),
            ("a.txt", "alpha"), ("sub/b.txt", "bravo"), ("sub/deeper/c.txt", "charlie"), ("empty/", null), ("sub/empty-too/", null),
            ("caf\u00e9 & spaces.txt", "unicode"));
        File.Copy(context.WriteFile("big.bin", 700 * 1024, seed: 3), Path.Combine(source, "sub", "big.bin"));
        var progress = new RecordingProgress();

        var up = await client.UploadDirectoryAsync(source, "default/tree", progress: progress, cancellationToken: Ct);
        var target = Path.Combine(context.Scratch, "back");
        var down = await client.DownloadDirectoryAsync("default/tree", target, cancellationToken: Ct);

        Assert.True(up.Succeeded, string.Join("\n", up.Failed));
        Assert.True(down.Succeeded, string.Join("\n", down.Failed));
        Assert.Equal(5, up.Transferred.Count);
        Assert.Equal(TreeKit.DescribeLocal(source), TreeKit.DescribeLocal(target));
        Assert.Equal(TreeKit.DescribeLocal(source), await TreeKit.DescribeRemoteAsync(client, "default/tree"));
        Assert.Equal(File.GetLastWriteTimeUtc(Path.Combine(source, "sub/deeper/c.txt")), File.GetLastWriteTimeUtc(Path.Combine(target, "sub/deeper/c.txt")));
        Assert.Equal(up.Transferred.Sum(t => t.Size), up.BytesTransferred);
        var last = progress.Reports.Where(r => r.IsCompleted).MaxBy(r => r.Overall!.FilesDone)!;
        Assert.Equal(new OverallProgress { FilesDone = 5, FilesTotal = 5, BytesTransferred = up.BytesTransferred, TotalBytes = up.BytesTransferred }, last.Overall);
    }

    [Fact]
    public async Task UploadDirectory_IncludeAndExclude_TransfersOnlySelectedFilesAndSkipsExcludedDirectories()
    {
        await using var context = await ClientTestContext.StartAsync();
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"),
            ("keep.txt", "1"), ("drop.bin", "2"), ("docs/guide.txt", "3"), ("docs/secret.txt", "4"), ("node_modules/x.txt", "5"), ("deep/node_modules/y.txt", "6"));
        var options = new DirectoryTransferOptions { Include = { "*.txt" }, Exclude = { "node_modules/", "docs/secret*" } };

        var result = await context.Client.UploadDirectoryAsync(source, "default/filtered", options, cancellationToken: Ct);

        Assert.Equal(["docs/guide.txt", "keep.txt"], result.Transferred.Select(t => t.RelativePath));
        Assert.Equal(["docs/", "docs/guide.txt = " + Sha("3"), "keep.txt = " + Sha("1")], await TreeKit.DescribeRemoteAsync(context.Client, "default/filtered"));
    }

    [Fact]
    public async Task DownloadDirectory_Exclude_LeavesExcludedFilesOut()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadDirectoryAsync(
            TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("b.log", "2"), ("logs/c.txt", "3")), "default/d", cancellationToken: Ct);
        var target = Path.Combine(context.Scratch, "back");

        var result = await context.Client.DownloadDirectoryAsync("default/d", target, new DirectoryTransferOptions { Exclude = { "*.log", "logs/" } }, cancellationToken: Ct);

        Assert.Equal(["a.txt"], result.Transferred.Select(t => t.RelativePath));
        Assert.Equal(["a.txt = " + Sha("1")], TreeKit.DescribeLocal(target));
    }

    [Fact]
    public async Task UploadDirectory_ConflictSkip_LeavesExistingRemoteFile()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("remote"u8.ToArray(), "default/c/a.txt", cancellationToken: Ct);
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "local"), ("b.txt", "new"));

        var result = await context.Client.UploadDirectoryAsync(source, "default/c", new DirectoryTransferOptions { Conflict = ConflictMode.Skip }, cancellationToken: Ct);

        Assert.Equal(("a.txt", "exists"), (Assert.Single(result.Skipped).RelativePath, result.Skipped[0].Reason));
        Assert.Equal(["b.txt"], result.Transferred.Select(t => t.RelativePath));
        Assert.Equal("remote"u8.ToArray(), await context.Client.DownloadBytesAsync("default/c/a.txt", cancellationToken: Ct));
    }

    [Fact]
    public async Task UploadDirectory_ConflictFail_ThrowsBeforeTransferringAnything()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("remote"u8.ToArray(), "default/c/m.txt", cancellationToken: Ct);
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("m.txt", "2"), ("z.txt", "3"));

        await Assert.ThrowsAsync<AlreadyExistsException>(() =>
            context.Client.UploadDirectoryAsync(source, "default/c", new DirectoryTransferOptions { Conflict = ConflictMode.Fail }, cancellationToken: Ct));

        Assert.Null(await context.Client.TryStatAsync("default/c/a.txt", Ct));
        Assert.Null(await context.Client.TryStatAsync("default/c/z.txt", Ct));
    }

    [Fact]
    public async Task UploadDirectory_ConflictOverwrite_ReplacesExistingRemoteFile()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync("remote"u8.ToArray(), "default/c/a.txt", cancellationToken: Ct);
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "local"));

        var result = await context.Client.UploadDirectoryAsync(source, "default/c", cancellationToken: Ct);

        Assert.Equal(["a.txt"], result.Transferred.Select(t => t.RelativePath));
        Assert.Equal("local"u8.ToArray(), await context.Client.DownloadBytesAsync("default/c/a.txt", cancellationToken: Ct));
    }

    [Fact]
    public async Task DownloadDirectory_ConflictSkipAndFail_KeepLocalFile()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadDirectoryAsync(TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "remote"), ("b.txt", "new")), "default/c",
            cancellationToken: Ct);
        var target = TreeKit.Create(Path.Combine(context.Scratch, "dst"), ("a.txt", "local"));

        var failing = await Assert.ThrowsAnyAsync<DepotException>(() =>
            context.Client.DownloadDirectoryAsync("default/c", target, new DirectoryTransferOptions { Conflict = ConflictMode.Fail }, cancellationToken: Ct));
        Assert.False(File.Exists(Path.Combine(target, "b.txt")));
        var skipping = await context.Client.DownloadDirectoryAsync("default/c", target, new DirectoryTransferOptions { Conflict = ConflictMode.Skip }, cancellationToken: Ct);

        Assert.Equal(ClientErrorCodes.LocalExists, failing.Code);
        Assert.Equal(["a.txt"], skipping.Skipped.Select(s => s.RelativePath));
        Assert.Equal("local", File.ReadAllText(Path.Combine(target, "a.txt")));
        Assert.Equal("new", File.ReadAllText(Path.Combine(target, "b.txt")));
    }

    [Fact]
    public async Task UploadDirectory_OneFileFails_OthersTransferredAndFailureReported()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.CreateDirectoryAsync("default/f/b.txt", Ct);
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("a.txt", "1"), ("b.txt", "2"), ("c.txt", "3"));

        var result = await context.Client.UploadDirectoryAsync(source, "default/f", cancellationToken: Ct);

        Assert.Equal(["a.txt", "c.txt"], result.Transferred.Select(t => t.RelativePath));
        var failure = Assert.Single(result.Failed);
        Assert.Equal("b.txt", failure.RelativePath);
        Assert.IsType<ConflictException>(failure.Error);
        Assert.False(result.Succeeded);
    }

    [Fact]
    public async Task UploadDirectory_SymbolicLinks_SkippedNotFollowed()
    {
        await using var context = await ClientTestContext.StartAsync();
        var source = TreeKit.Create(Path.Combine(context.Scratch, "src"), ("real.txt", "1"));
        var outside = TreeKit.Create(Path.Combine(context.Scratch, "outside"), ("secret.txt", "do not upload"));
        File.CreateSymbolicLink(Path.Combine(source, "file-link"), Path.Combine(outside, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(source, "dir-link"), outside);

        var result = await context.Client.UploadDirectoryAsync(source, "default/l", cancellationToken: Ct);

        Assert.Equal(["real.txt"], result.Transferred.Select(t => t.RelativePath));
        Assert.Equal(["dir-link", "file-link"], result.Skipped.Select(s => s.RelativePath));
        Assert.All(result.Skipped, s => Assert.Equal("symbolic link (not followed)", s.Reason));
        Assert.Equal(["real.txt = " + Sha("1")], await TreeKit.DescribeRemoteAsync(context.Client, "default/l"));
    }

    [Fact]
    public async Task DownloadDirectory_LocalDirectoryLinkOnTheWay_NothingWrittenThroughIt()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadDirectoryAsync(TreeKit.Create(Path.Combine(context.Scratch, "src"), ("sub/a.txt", "1"), ("b.txt", "2")), "default/t",
            cancellationToken: Ct);
        var outside = Directory.CreateDirectory(Path.Combine(context.Scratch, "outside")).FullName;
        var target = Directory.CreateDirectory(Path.Combine(context.Scratch, "dst")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(target, "sub"), outside);

        var result = await context.Client.DownloadDirectoryAsync("default/t", target, cancellationToken: Ct);

        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
        Assert.Contains(result.Failed, f => f.RelativePath == "sub/a.txt");
        Assert.Equal("2", File.ReadAllText(Path.Combine(target, "b.txt")));
    }

    [Fact]
    public async Task DownloadDirectory_MissingRemoteDirectory_ThrowsNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<NotFoundException>(() =>
            context.Client.DownloadDirectoryAsync("default/nothing-here", Path.Combine(context.Scratch, "x"), cancellationToken: Ct));
    }

    [Fact]
    public async Task UploadDirectory_MissingLocalDirectory_ThrowsDirectoryNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<DirectoryNotFoundException>(() =>
            context.Client.UploadDirectoryAsync(Path.Combine(context.Scratch, "missing"), "default/x", cancellationToken: Ct));
    }

    [Fact]
    public async Task UploadDirectory_EmptyLocalDirectory_CreatesEmptyRemoteDirectory()
    {
        await using var context = await ClientTestContext.StartAsync();
        var source = Directory.CreateDirectory(Path.Combine(context.Scratch, "empty")).FullName;

        var result = await context.Client.UploadDirectoryAsync(source, "default/made/here", cancellationToken: Ct);

        Assert.Empty(result.Transferred);
        Assert.Equal(DepotEntryType.Directory, (await context.Client.StatAsync("default/made/here", Ct)).Type);
    }

    private static string Sha(string content) => ClientTestContext.Sha256Of(System.Text.Encoding.UTF8.GetBytes(content));
}
