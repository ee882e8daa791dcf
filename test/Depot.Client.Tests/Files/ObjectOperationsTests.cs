using System.Net;
using System.Text;
using Depot.Client.Tests.Infrastructure;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Client.Tests.Files;

public sealed class ObjectOperationsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<ClientTestContext> StartWithBackupBucketAsync() =>
        ClientTestContext.StartAsync((o, root) => o.Buckets["backup"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "backup") });

    [Fact]
    public async Task Stat_File_DescribesIt()
    {
        await using var context = await ClientTestContext.StartAsync();
        var stored = await context.Client.UploadAsync(Encoding.UTF8.GetBytes("hello"), "default/docs/hello.txt",
            new UploadOptions { ContentType = "text/plain" }, cancellationToken: Ct);

        var stat = await context.Client.StatAsync("default/docs/hello.txt", Ct);

        Assert.True(stat.IsFile);
        Assert.Equal(5, stat.Size);
        Assert.Equal(stored.Sha256, stat.Sha256);
        Assert.Equal(stored.ETag, stat.ETag);
        Assert.Equal("text/plain", stat.ContentType);
        Assert.NotNull(stat.Created);
        Assert.False(stat.Appendable);
        Assert.Null(stat.Expires);
        Assert.Equal(new DepotPath("default", "docs/hello.txt"), stat.Path);
    }

    [Fact]
    public async Task Stat_DirectoryAndBucketRoot_DescribeDirectories()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/docs/a.txt", cancellationToken: Ct);

        var dir = await context.Client.StatAsync("default/docs", Ct);
        var root = await context.Client.StatAsync("default", Ct);

        Assert.Equal(DepotEntryType.Directory, dir.Type);
        Assert.Equal(0, dir.Size);
        Assert.Null(dir.Sha256);
        Assert.Equal(DepotEntryType.Directory, root.Type);
    }

    [Fact]
    public async Task Stat_Missing_ThrowsNotFound_TryStatReturnsNull()
    {
        await using var context = await ClientTestContext.StartAsync();

        var e = await Assert.ThrowsAsync<NotFoundException>(() => context.Client.StatAsync("default/none", Ct));

        Assert.Equal(HttpStatusCode.NotFound, e.StatusCode);
        Assert.Null(await context.Client.TryStatAsync("default/none", Ct));
    }

    [Fact]
    public async Task List_Directory_EntriesInKeyOrderWithTypesAndMetadata()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("bb"), "default/d/b.txt",
            new UploadOptions { Metadata = new Dictionary<string, string> { ["mtime"] = "42" } }, cancellationToken: Ct);
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("a"), "default/d/a.txt", cancellationToken: Ct);
        await context.Client.CreateDirectoryAsync("default/d/c", Ct);

        var entries = await context.Client.ListAsync("default/d", cancellationToken: Ct).ToListAsync(Ct);

        Assert.Equal(["a.txt", "b.txt", "c"], entries.Select(e => e.Name));
        Assert.Equal([DepotEntryType.File, DepotEntryType.File, DepotEntryType.Directory], entries.Select(e => e.Type));
        Assert.Equal(new DepotPath("default", "d/b.txt"), entries[1].Path);
        Assert.Equal(2, entries[1].Size);
        Assert.Equal("42", entries[1].Metadata["mtime"]);
        Assert.Equal(ClientTestContext.Sha256Of(Encoding.UTF8.GetBytes("a")), entries[0].Sha256);
    }

    [Fact]
    public async Task List_RecursiveWithPageSizeTwo_ListsEverythingOnceInKeyOrder()
    {
        await using var context = await ClientTestContext.StartAsync();
        var keys = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            keys.Add($"tree/f{i}.txt");
            keys.Add($"tree/sub{i % 2}/g{i}.txt");
        }

        foreach (var key in keys)
        {
            await context.Client.UploadAsync(Encoding.UTF8.GetBytes(key), new DepotPath("default", key), cancellationToken: Ct);
        }

        var paged = await context.Client.ListAsync("default/tree", new ListOptions { Recursive = true, PageSize = 2 }, Ct).ToListAsync(Ct);
        var whole = await context.Client.ListAsync("default/tree", new ListOptions { Recursive = true }, Ct).ToListAsync(Ct);

        var files = paged.Where(e => e.IsFile).Select(e => e.Path.Key).ToList();
        Assert.Equal(keys.Order(StringComparer.Ordinal), files.Order(StringComparer.Ordinal));
        Assert.Equal(paged.Count, paged.Select(e => e.Path).Distinct().Count());
        Assert.Equal(whole.Select(e => e.Path), paged.Select(e => e.Path));
        Assert.Equal(16, paged.Count);
        // Depth first, each directory right before its children, names in ordinal order.
        Assert.Equal("tree/f0.txt", paged[0].Path.Key);
        var sub0 = paged.FindIndex(e => e.Path.Key == "tree/sub0");
        Assert.Equal(DepotEntryType.Directory, paged[sub0].Type);
        Assert.StartsWith("tree/sub0/", paged[sub0 + 1].Path.Key, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_NonRecursivePagingAcrossManyEntries_AllInOrder()
    {
        await using var context = await ClientTestContext.StartAsync();
        var names = Enumerable.Range(0, 11).Select(i => $"n{i:D2}").ToList();
        foreach (var name in names)
        {
            await context.Client.UploadAsync(Encoding.UTF8.GetBytes(name), new DepotPath("default", "many/" + name), cancellationToken: Ct);
        }

        var entries = await context.Client.ListAsync("default/many", new ListOptions { PageSize = 2 }, Ct).ToListAsync(Ct);

        Assert.Equal(names, entries.Select(e => e.Name));
        Assert.True(await context.WaitForRequestAsync("GET", "/v1/default/many/"));
        Assert.Equal(6, context.Requests("GET", "/v1/default/many/"));
    }

    [Fact]
    public async Task List_BucketRoot_ListsTopLevel()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/top.txt", cancellationToken: Ct);

        var entries = await context.Client.ListAsync("default", cancellationToken: Ct).ToListAsync(Ct);

        Assert.Contains(entries, e => e.Name == "top.txt");
        Assert.DoesNotContain(entries, e => e.Name == ".depot");
    }

    [Fact]
    public async Task List_FileOrMissing_ThrowsConflictOrNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/f.txt", cancellationToken: Ct);

        await Assert.ThrowsAsync<ConflictException>(async () => await context.Client.ListAsync("default/f.txt", cancellationToken: Ct).ToListAsync(Ct));
        await Assert.ThrowsAsync<NotFoundException>(async () => await context.Client.ListAsync("default/nodir", cancellationToken: Ct).ToListAsync(Ct));
    }

    [Fact]
    public async Task CreateDirectory_NestedAndExisting_CreatesParentsAndIsIdempotent()
    {
        await using var context = await ClientTestContext.StartAsync();

        var made = await context.Client.CreateDirectoryAsync("default/a/b/c", Ct);
        var again = await context.Client.CreateDirectoryAsync("default/a/b/c", Ct);

        Assert.Equal(DepotEntryType.Directory, made.Type);
        Assert.Equal(made.Path, again.Path);
        Assert.True(Directory.Exists(Path.Combine(context.Server.DataDirectory, "a", "b", "c")));
    }

    [Fact]
    public async Task CreateDirectory_FileInTheWay_ThrowsConflict()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/f", cancellationToken: Ct);

        await Assert.ThrowsAsync<ConflictException>(() => context.Client.CreateDirectoryAsync("default/f/sub", Ct));
    }

    [Fact]
    public async Task Move_File_RenamesWithinBucket()
    {
        await using var context = await ClientTestContext.StartAsync();
        var stored = await context.Client.UploadAsync(Encoding.UTF8.GetBytes("report"), "default/inbox/r.pdf", cancellationToken: Ct);

        var moved = await context.Client.MoveAsync("default/inbox/r.pdf", "default/archive/2024/r.pdf", cancellationToken: Ct);

        Assert.Equal(new DepotPath("default", "archive/2024/r.pdf"), moved.Path);
        Assert.Equal(stored.Sha256, moved.Sha256);
        Assert.Null(await context.Client.TryStatAsync("default/inbox/r.pdf", Ct));
        Assert.Equal("report", Encoding.UTF8.GetString(context.OnDisk("archive/2024/r.pdf")));
    }

    [Fact]
    public async Task Move_Directory_MovesTree()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/d1/sub/x.txt", cancellationToken: Ct);

        var moved = await context.Client.MoveAsync("default/d1", "default/d2", cancellationToken: Ct);

        Assert.Equal(DepotEntryType.Directory, moved.Type);
        Assert.Equal("x", Encoding.UTF8.GetString(context.OnDisk("d2/sub/x.txt")));
    }

    [Fact]
    public async Task Move_OntoExisting_ThrowsAlreadyExistsUnlessOverwrite()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("src"), "default/a.txt", cancellationToken: Ct);
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("dst"), "default/b.txt", cancellationToken: Ct);

        await Assert.ThrowsAsync<AlreadyExistsException>(() => context.Client.MoveAsync("default/a.txt", "default/b.txt", cancellationToken: Ct));
        Assert.Equal("dst", Encoding.UTF8.GetString(context.OnDisk("b.txt")));
        await context.Client.MoveAsync("default/a.txt", "default/b.txt", overwrite: true, Ct);

        Assert.Equal("src", Encoding.UTF8.GetString(context.OnDisk("b.txt")));
    }

    [Fact]
    public async Task Move_AcrossBuckets_ThrowsArgumentException()
    {
        await using var context = await StartWithBackupBucketAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/a.txt", cancellationToken: Ct);

        await Assert.ThrowsAsync<ArgumentException>(() => context.Client.MoveAsync("default/a.txt", "backup/a.txt", cancellationToken: Ct));
    }

    [Fact]
    public async Task Copy_AcrossBuckets_CopiesBytesTypeAndMetadata()
    {
        await using var context = await StartWithBackupBucketAsync();
        var stored = await context.Client.UploadAsync(Encoding.UTF8.GetBytes("hello"), "default/docs/hello.txt", new UploadOptions
        {
            ContentType = "text/plain",
            Metadata = new Dictionary<string, string> { ["author"] = "zoe" },
        }, cancellationToken: Ct);

        var copy = await context.Client.CopyAsync("default/docs/hello.txt", "backup/docs/hello.txt", cancellationToken: Ct);

        Assert.Equal(new DepotPath("backup", "docs/hello.txt"), copy.Path);
        Assert.Equal(stored.Sha256, copy.Sha256);
        Assert.Equal("text/plain", copy.ContentType);
        Assert.Equal("zoe", copy.Metadata["author"]);
        Assert.Equal("hello"u8.ToArray(), await context.Client.DownloadBytesAsync("backup/docs/hello.txt", cancellationToken: Ct));
        Assert.NotNull(await context.Client.TryStatAsync("default/docs/hello.txt", Ct));
    }

    [Fact]
    public async Task Copy_OntoExisting_ThrowsAlreadyExistsUnlessOverwrite()
    {
        await using var context = await StartWithBackupBucketAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("new"), "default/a.txt", cancellationToken: Ct);
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("old"), "backup/a.txt", cancellationToken: Ct);

        await Assert.ThrowsAsync<AlreadyExistsException>(() => context.Client.CopyAsync("default/a.txt", "backup/a.txt", cancellationToken: Ct));
        Assert.Equal("old"u8.ToArray(), await context.Client.DownloadBytesAsync("backup/a.txt", cancellationToken: Ct));
        await context.Client.CopyAsync("default/a.txt", "backup/a.txt", overwrite: true, Ct);

        Assert.Equal("new"u8.ToArray(), await context.Client.DownloadBytesAsync("backup/a.txt", cancellationToken: Ct));
    }

    [Fact]
    public async Task Copy_Directory_ThrowsConflict()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.CreateDirectoryAsync("default/dir", Ct);

        await Assert.ThrowsAsync<ConflictException>(() => context.Client.CopyAsync("default/dir", "default/dir2", cancellationToken: Ct));
    }

    [Fact]
    public async Task Delete_File_RemovesIt()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/f.txt", cancellationToken: Ct);

        await context.Client.DeleteAsync("default/f.txt", cancellationToken: Ct);

        Assert.False(File.Exists(Path.Combine(context.Server.DataDirectory, "f.txt")));
    }

    [Fact]
    public async Task Delete_EmptyDirectoryNonRecursive_RemovesIt()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.CreateDirectoryAsync("default/empty", Ct);

        await context.Client.DeleteAsync("default/empty", cancellationToken: Ct);

        Assert.Null(await context.Client.TryStatAsync("default/empty", Ct));
    }

    [Fact]
    public async Task Delete_NonEmptyDirectoryNonRecursive_ThrowsConflictAndKeepsTree()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/full/x.txt", cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<ConflictException>(() => context.Client.DeleteAsync("default/full", cancellationToken: Ct));

        Assert.Equal("conflict", e.Code);
        Assert.NotNull(await context.Client.TryStatAsync("default/full/x.txt", Ct));
    }

    [Fact]
    public async Task Delete_NonEmptyDirectoryRecursive_RemovesTree()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/full/a/x.txt", cancellationToken: Ct);
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("y"), "default/full/y.txt", cancellationToken: Ct);

        await context.Client.DeleteAsync("default/full", recursive: true, cancellationToken: Ct);

        Assert.Null(await context.Client.TryStatAsync("default/full", Ct));
        Assert.False(Directory.Exists(Path.Combine(context.Server.DataDirectory, "full")));
    }

    [Fact]
    public async Task Delete_IfMatchStale_ThrowsPreconditionFailedAndKeepsFile()
    {
        await using var context = await ClientTestContext.StartAsync();
        var first = await context.Client.UploadAsync(Encoding.UTF8.GetBytes("v1"), "default/f.txt", cancellationToken: Ct);
        var second = await context.Client.UploadAsync(Encoding.UTF8.GetBytes("v2"), "default/f.txt", cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<PreconditionFailedException>(() => context.Client.DeleteAsync("default/f.txt", ifMatch: first.ETag, cancellationToken: Ct));
        Assert.Equal(second.ETag, e.CurrentETag);
        await context.Client.DeleteAsync("default/f.txt", ifMatch: second.Sha256, cancellationToken: Ct);

        Assert.Null(await context.Client.TryStatAsync("default/f.txt", Ct));
    }

    [Fact]
    public async Task Delete_Missing_ThrowsNotFound_TryDeleteReturnsFalse()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/f.txt", cancellationToken: Ct);

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.DeleteAsync("default/none", cancellationToken: Ct));
        Assert.False(await context.Client.TryDeleteAsync("default/none", cancellationToken: Ct));
        Assert.True(await context.Client.TryDeleteAsync("default/f.txt", cancellationToken: Ct));
        Assert.Null(await context.Client.TryStatAsync("default/f.txt", Ct));
    }

    [Fact]
    public async Task TryDelete_NonEmptyDirectoryWithoutRecursive_ThrowsConflict()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/full/x.txt", cancellationToken: Ct);

        await Assert.ThrowsAsync<ConflictException>(() => context.Client.TryDeleteAsync("default/full", cancellationToken: Ct));
        Assert.True(await context.Client.TryDeleteAsync("default/full", recursive: true, Ct));
    }

    [Fact]
    public async Task Metadata_GetSetOverwriteMergeDelete_EachStepAsExpected()
    {
        await using var context = await ClientTestContext.StartAsync();
        var path = new DepotPath("default", "docs/hello.txt");
        var stored = await context.Client.UploadAsync(Encoding.UTF8.GetBytes("hello"), path,
            new UploadOptions { Metadata = new Dictionary<string, string> { ["author"] = "Zoë" } }, cancellationToken: Ct);

        Assert.Equal(new Dictionary<string, string> { ["author"] = "Zoë" }, await context.Client.GetMetadataAsync(path, Ct));

        var overwritten = await context.Client.SetMetadataAsync(path, new Dictionary<string, string?> { ["Title"] = "Greeting", ["lang"] = "en" }, cancellationToken: Ct);
        Assert.Equal(new Dictionary<string, string> { ["title"] = "Greeting", ["lang"] = "en" }, overwritten);

        var merged = await context.Client.SetMetadataAsync(path, new Dictionary<string, string?> { ["lang"] = null, ["reviewed"] = "yes" },
            MetadataMode.Merge, Ct);
        Assert.Equal(new Dictionary<string, string> { ["title"] = "Greeting", ["reviewed"] = "yes" }, merged);

        var afterDelete = await context.Client.DeleteMetadataAsync(path, ["title", "missing"], Ct);
        Assert.Equal(new Dictionary<string, string> { ["reviewed"] = "yes" }, afterDelete);
        Assert.Equal(afterDelete, await context.Client.GetMetadataAsync(path, Ct));

        var stat = await context.Client.StatAsync(path, Ct);
        Assert.Equal(stored.ETag, stat.ETag);
        Assert.Equal("yes", stat.Metadata["reviewed"]);
    }

    [Fact]
    public async Task Metadata_OverwriteWithEmpty_RemovesAll()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/m.txt",
            new UploadOptions { Metadata = new Dictionary<string, string> { ["a"] = "1" } }, cancellationToken: Ct);

        var result = await context.Client.SetMetadataAsync("default/m.txt", new Dictionary<string, string?>(), cancellationToken: Ct);

        Assert.Empty(result);
        Assert.Empty(await context.Client.GetMetadataAsync("default/m.txt", Ct));
    }

    [Fact]
    public async Task Metadata_OverwriteWithNullValue_ThrowsArgumentException()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => context.Client.SetMetadataAsync("default/m.txt", new Dictionary<string, string?> { ["a"] = null },
            cancellationToken: Ct));
    }

    [Fact]
    public async Task Metadata_InvalidName_ThrowsInvalidRequestAndChangesNothing()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/m.txt",
            new UploadOptions { Metadata = new Dictionary<string, string> { ["a"] = "1" } }, cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<InvalidRequestException>(() => context.Client.SetMetadataAsync("default/m.txt",
            new Dictionary<string, string?> { ["bad name!"] = "x" }, MetadataMode.Merge, Ct));

        Assert.Equal("invalid_request", e.Code);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1" }, await context.Client.GetMetadataAsync("default/m.txt", Ct));
    }

    [Fact]
    public async Task Metadata_OfMissingObject_ThrowsNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.GetMetadataAsync("default/none", Ct));
    }

    [Fact]
    public async Task ShareLink_PlainHttpClientWithoutKey_DownloadsUntilExpiry()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(10_000, seed: 3);
        await context.Client.UploadAsync(bytes, "default/docs/shared.bin", cancellationToken: Ct);
        var before = DateTimeOffset.UtcNow;

        var link = await context.Client.CreateShareLinkAsync("default/docs/shared.bin", TimeSpan.FromHours(2), Ct);

        using var http = new HttpClient();
        Assert.Equal(bytes, await http.GetByteArrayAsync(link.Url, Ct));
        Assert.InRange(link.Expires, before.AddHours(2).AddSeconds(-2), DateTimeOffset.UtcNow.AddHours(2).AddSeconds(2));
        Assert.Equal(context.Server.BaseUrl.Authority, link.Url.Authority);
        using var tampered = await http.GetAsync(link.Url.ToString().Replace("shared.bin", "other.bin", StringComparison.Ordinal), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, tampered.StatusCode);
    }

    [Fact]
    public async Task ShareLink_MissingObject_ThrowsNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.CreateShareLinkAsync("default/none", TimeSpan.FromMinutes(1), Ct));
    }

    [Fact]
    public async Task Cluster_AllAndOneBucket_DescribeBucketsAndServer()
    {
        await using var context = await StartWithBackupBucketAsync();
        await context.Client.UploadAsync(new byte[100], "default/x.bin", cancellationToken: Ct);

        var cluster = await context.Client.GetClusterAsync(cancellationToken: Ct);
        var one = await context.Client.GetClusterAsync("backup", Ct);

        Assert.Equal(["backup", "default"], cluster.Buckets.Select(b => b.Name));
        var server = Assert.Single(cluster.Servers);
        Assert.Equal("active", server.Status);
        Assert.Equal($"127.0.0.1:{context.Server.Port}", server.Address);
        Assert.True(cluster.Buckets.Single(b => b.Name == "default").BytesUsed >= 100);
        Assert.Equal("backup", Assert.Single(one.Buckets).Name);
        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.GetClusterAsync("nosuch", Ct));
    }

    [Fact]
    public async Task ListBuckets_TwoBuckets_ListsBothWithLimits()
    {
        await using var context = await StartWithBackupBucketAsync();

        var buckets = await context.Client.ListBucketsAsync(Ct);

        Assert.Equal(["backup", "default"], buckets.Select(b => b.Name).Order(StringComparer.Ordinal));
        Assert.All(buckets, b => Assert.True(b.MaxObjectSize > 0));
    }

    [Fact]
    public async Task Operations_KeyWithSpacesUnicodeAndReservedCharacters_AddressExactlyThatKey()
    {
        await using var context = await ClientTestContext.StartAsync();
        var path = new DepotPath("default", "sp ace/café #1?&=+%.txt");
        var bytes = Encoding.UTF8.GetBytes("unusual");

        var stored = await context.Client.UploadAsync(bytes, path, new UploadOptions
        {
            Metadata = new Dictionary<string, string> { ["note"] = "50% off & more: ü" },
        }, cancellationToken: Ct);

        Assert.Equal(path, stored.Path);
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(context.Server.DataDirectory, "sp ace", "café #1?&=+%.txt")));
        Assert.Equal(bytes, await context.Client.DownloadBytesAsync(path, cancellationToken: Ct));
        Assert.Equal("50% off & more: ü", (await context.Client.StatAsync(path, Ct)).Metadata["note"]);
        var listed = Assert.Single(await context.Client.ListAsync(path.Parent, cancellationToken: Ct).ToListAsync(Ct));
        Assert.Equal(path, listed.Path);
        await using (var stream = await context.Client.OpenReadAsync(path, cancellationToken: Ct))
        {
            Assert.Equal("50% off & more: ü", stream.Object.Metadata["note"]);
        }

        await context.Client.DeleteAsync(path, cancellationToken: Ct);
        Assert.Null(await context.Client.TryStatAsync(path, Ct));
    }

    [Fact]
    public async Task Health_NoKey_AnswersOk()
    {
        await using var context = await ClientTestContext.StartAsync();
        using var anonymous = new DepotClient(context.Server.BaseUrl.ToString());

        var health = await anonymous.GetHealthAsync(Ct);

        Assert.Equal("ok", health.Status);
    }
}
