using System.Security.Cryptography;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Storage.FileSystem;
using Depot.Core.Tests.TestSupport;

namespace Depot.Core.Tests.Engine;

/// <summary>
/// Design §3, embedded default: the bucket is a plain directory that other programs also write. Files Depot did not
/// write are served with a correct checksum (described lazily or by a scan), files changed behind its back are
/// described again and never served with a stale checksum, and a crash's staged leftovers are reclaimed (invariant 3).
/// </summary>
public sealed class ExternalChangeTests : IAsyncLifetime
{
    private const string Bucket = "default";
    private readonly TempDirectory _temp = new();
    private FileSystemEngine? _stack;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Root => _temp.Combine("data");

    private ObjectEngine Engine => (_stack ?? throw new InvalidOperationException("open the engine first")).Engine;

    public ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }

        _temp.Dispose();
    }

    [Fact]
    public async Task List_FilesPlacedBeforeOpen_AreListedWithoutChecksumYet()
    {
        var a = await PlaceAsync("a.txt", 100, 1);
        await PlaceAsync("photos/2024/cat.jpg", 5000, 2);
        await OpenAsync();

        var page = (await Engine.ListAsync(Bucket, ObjectKey.Root, new ListOptions(Recursive: true), Ct)).Value;

        Assert.Equal(["a.txt", "photos", "photos/2024", "photos/2024/cat.jpg"], page.Entries.Select(e => e.Key));
        Assert.Equal(a.Length, page.Entries[0].Size);
        Assert.All(page.Entries, e => Assert.Null(e.Sha256Hex)); // never guessed, never stale
    }

    [Fact]
    public async Task Get_FilePlacedBeforeOpen_DescribesItWithCorrectSha256()
    {
        var body = await PlaceAsync("photos/2024/cat.jpg", (1 << 20) + 17, 3);
        await OpenAsync();

        var record = (await Engine.GetAsync(Bucket, Key("photos/2024/cat.jpg"), Ct)).Value;

        Assert.Equal(SHA256.HashData(body), record.Sha256);
        Assert.Equal(body.Length, record.Size);
        var listed = (await Engine.ListAsync(Bucket, Key("photos/2024"), new ListOptions(), Ct)).Value.Entries.Single();
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), listed.Sha256Hex);
    }

    [Fact]
    public async Task Get_FileWrittenJustNowBehindDepotsBack_IsServedCorrectlyButRecordedAsUnsettled()
    {
        var body = await PlaceAsync("fresh.bin", 5000, 30, justNow: true);
        await OpenAsync();

        var record = (await Engine.GetAsync(Bucket, Key("fresh.bin"), Ct)).Value;

        Assert.Equal(SHA256.HashData(body), record.Sha256);
        // Within the filesystem's timestamp granularity a further rewrite might keep the same version, so the stored
        // record must not match any version yet: the next read hashes the file again.
        var stored = await _stack!.Metadata.GetAsync(Bucket, "fresh.bin", Ct);
        Assert.NotNull(stored);
        Assert.StartsWith("unsettled:", stored.BlobVersion, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenRead_FilePlacedBeforeOpen_ServesBytesWithTheirSha256()
    {
        var body = await PlaceAsync("doc.bin", 70_000, 4);
        await OpenAsync();

        var (record, bytes) = await ReadAsync("doc.bin");

        Assert.Equal(body, bytes);
        Assert.Equal(SHA256.HashData(body), record.Sha256);
    }

    [Fact]
    public async Task DescribeAll_FilesPlacedBeforeOpen_DescribesEachOnceWithCorrectSha256()
    {
        var files = new Dictionary<string, byte[]>
        {
            ["one.bin"] = await PlaceAsync("one.bin", 0, 5),
            ["dir/two.bin"] = await PlaceAsync("dir/two.bin", 1, 6),
            ["dir/sub/three.bin"] = await PlaceAsync("dir/sub/three.bin", 300_000, 7),
        };
        await OpenAsync();

        var described = await Engine.DescribeAllAsync(Bucket, Ct);

        Assert.Equal(3, described);
        foreach (var (key, body) in files)
        {
            var record = await _stack!.Metadata.GetAsync(Bucket, key, Ct);
            Assert.NotNull(record);
            Assert.Equal(SHA256.HashData(body), record.Sha256);
        }

        var listed = (await Engine.ListAsync(Bucket, ObjectKey.Root, new ListOptions(Recursive: true), Ct)).Value.Entries.Where(e => !e.IsDirectory);
        Assert.All(listed, e => Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(files[e.Key])), e.Sha256Hex));
        Assert.Equal(0, await Engine.DescribeAllAsync(Bucket, Ct));
    }

    [Fact]
    public async Task DescribeAll_FileChangedSinceLastScan_DescribesOnlyThatOne()
    {
        await PlaceAsync("same.bin", 10, 8);
        await PlaceAsync("changed.bin", 10, 9);
        await OpenAsync();
        await Engine.DescribeAllAsync(Bucket, Ct);
        var rewritten = await PlaceAsync("changed.bin", 11, 10);

        var described = await Engine.DescribeAllAsync(Bucket, Ct);

        Assert.Equal(1, described);
        Assert.Equal(SHA256.HashData(rewritten), (await _stack!.Metadata.GetAsync(Bucket, "changed.bin", Ct))!.Sha256);
    }

    [Fact]
    public async Task Get_FileRewrittenBehindDepotsBack_ReturnsNewShaAndETag()
    {
        await OpenAsync();
        var old = (await PutAsync("report.csv", TestData(4096, 11))).Value;
        var changed = TestData(5000, 12);
        await File.WriteAllBytesAsync(Path.Combine(Root, "report.csv"), changed, Ct);

        var record = (await Engine.GetAsync(Bucket, Key("report.csv"), Ct)).Value;

        Assert.Equal(SHA256.HashData(changed), record.Sha256);
        Assert.NotEqual(old.ETag, record.ETag);
        Assert.Equal("\"" + Convert.ToHexStringLower(SHA256.HashData(changed)) + "\"", record.ETag);
        var (served, bytes) = await ReadAsync("report.csv");
        Assert.Equal(changed, bytes);
        Assert.Equal(SHA256.HashData(changed), served.Sha256);
    }

    [Fact]
    public async Task Get_SameSizeRewriteWithDifferentMtime_ReturnsNewShaAndETag()
    {
        await OpenAsync();
        var original = TestData(4096, 13);
        var old = (await PutAsync("same-size.bin", original)).Value;
        var path = Path.Combine(Root, "same-size.bin");
        var changed = TestData(4096, 14);
        await File.WriteAllBytesAsync(path, changed, Ct);
        File.SetLastWriteTimeUtc(path, old.ModifiedUtc.UtcDateTime.AddSeconds(-90));

        var record = (await Engine.GetAsync(Bucket, Key("same-size.bin"), Ct)).Value;

        Assert.Equal(SHA256.HashData(changed), record.Sha256);
        Assert.NotEqual(old.ETag, record.ETag);
        var stat = (await Engine.StatAsync(Bucket, Key("same-size.bin"), Ct)).Value;
        Assert.Equal(SHA256.HashData(changed), stat.Object!.Sha256);
    }

    [Fact]
    public async Task OpenRead_SameSizeRewriteWithDifferentMtime_ServesNewBytesWithNewSha()
    {
        await OpenAsync();
        await PutAsync("same-size.bin", TestData(4096, 15));
        await ReadAsync("same-size.bin"); // warm every cache
        var path = Path.Combine(Root, "same-size.bin");
        var changed = TestData(4096, 16);
        await File.WriteAllBytesAsync(path, changed, Ct);
        File.SetLastWriteTimeUtc(path, new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc));

        var (record, bytes) = await ReadAsync("same-size.bin");

        Assert.Equal(changed, bytes);
        Assert.Equal(SHA256.HashData(changed), record.Sha256);
    }

    [Fact]
    public async Task List_FileRewrittenBehindDepotsBack_NeverShowsStaleChecksum()
    {
        await OpenAsync();
        await PutAsync("x.bin", TestData(100, 17));
        var changed = TestData(200, 18);
        await File.WriteAllBytesAsync(Path.Combine(Root, "x.bin"), changed, Ct);

        var entry = (await Engine.ListAsync(Bucket, ObjectKey.Root, new ListOptions(), Ct)).Value.Entries.Single();

        Assert.True(entry.Sha256Hex is null || entry.Sha256Hex == Convert.ToHexStringLower(SHA256.HashData(changed)), $"stale checksum {entry.Sha256Hex}");
        Assert.Equal(200, entry.Size);
    }

    [Fact]
    public async Task Put_IfMatchAfterExternalRewrite_ComparesAgainstNewBytes()
    {
        await OpenAsync();
        var old = (await PutAsync("cas.bin", TestData(100, 19))).Value;
        await File.WriteAllBytesAsync(Path.Combine(Root, "cas.bin"), TestData(150, 20), Ct);

        var put = await PutAsync("cas.bin", TestData(10, 21), new PutOptions { Precondition = new WritePrecondition.ETagMatches([old.ETag]) });

        Assert.Equal(ErrorCodes.PreconditionFailed, put.Error?.Code);
        Assert.Equal(TestData(150, 20), (await ReadAsync("cas.bin")).Bytes);
    }

    [Fact]
    public async Task Get_FileDeletedBehindDepotsBack_NotFound()
    {
        await OpenAsync();
        await PutAsync("gone.bin", TestData(10, 22));
        await ReadAsync("gone.bin");
        File.Delete(Path.Combine(Root, "gone.bin"));

        Assert.Equal(ErrorCodes.NotFound, (await Engine.GetAsync(Bucket, Key("gone.bin"), Ct)).Error?.Code);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.OpenReadAsync(Bucket, Key("gone.bin"), Ct)).Error?.Code);
    }

    [Fact]
    public async Task Constructor_CrashLeftoverInStagingFolder_IsDeleted()
    {
        var staging = Path.Combine(Root, ".depot", "tmp");
        Directory.CreateDirectory(staging);
        var leftover = Path.Combine(staging, Guid.NewGuid().ToString("N") + ".part");
        await File.WriteAllBytesAsync(leftover, TestData(10_000, 23), Ct);
        var other = Path.Combine(staging, "other.part");
        await File.WriteAllBytesAsync(other, TestData(1, 24), Ct);

        var blobs = new FileSystemBlobStore(new Dictionary<string, string> { [Bucket] = Root });

        Assert.False(File.Exists(leftover));
        Assert.False(File.Exists(other));
        Assert.Equal(0, blobs.CountStagedFiles(Bucket));
        Assert.True(Directory.Exists(staging), "the staging folder itself stays for new writes");
    }

    [Fact]
    public async Task Open_AfterCrashLeftover_ListingAndPutsUnaffected()
    {
        var staging = Path.Combine(Root, ".depot", "tmp");
        Directory.CreateDirectory(staging);
        await File.WriteAllBytesAsync(Path.Combine(staging, "abc.part"), TestData(10, 25), Ct);
        await OpenAsync();

        var put = await PutAsync("after.bin", TestData(10, 26));

        Assert.True(put.IsSuccess, put.Error?.Message);
        var page = (await Engine.ListAsync(Bucket, ObjectKey.Root, new ListOptions(Recursive: true), Ct)).Value;
        Assert.Equal(["after.bin"], page.Entries.Select(e => e.Key));
        Assert.Equal(0, _stack!.Blobs.CountStagedFiles(Bucket));
    }

    [Fact]
    public async Task Get_PublishedFileWithoutRecordAfterRestart_IsDescribedAgain()
    {
        // A crash between publish and record leaves a file without a record: simulate it by dropping the row.
        await OpenAsync();
        var body = TestData(123_456, 27);
        await PutAsync("orphan.bin", body);
        await _stack!.Metadata.DeleteAsync(Bucket, "orphan.bin", Ct);
        await ReopenAsync();

        var record = (await Engine.GetAsync(Bucket, Key("orphan.bin"), Ct)).Value;

        Assert.Equal(SHA256.HashData(body), record.Sha256);
        Assert.Equal(body.Length, record.Size);
        var stored = await _stack!.Metadata.GetAsync(Bucket, "orphan.bin", Ct);
        Assert.NotNull(stored);
        Assert.Equal(SHA256.HashData(body), stored.Sha256);
    }

    [Fact]
    public async Task Get_PublishedFileWithoutRecordSameEngine_ServesCorrectSha()
    {
        await OpenAsync();
        var body = TestData(1000, 28);
        await PutAsync("orphan.bin", body);
        await _stack!.Metadata.DeleteAsync(Bucket, "orphan.bin", Ct);

        var (record, bytes) = await ReadAsync("orphan.bin");

        Assert.Equal(body, bytes);
        Assert.Equal(SHA256.HashData(body), record.Sha256);
    }

    [Fact]
    public async Task Get_RecordStaleAfterRestart_IsDescribedAgainNotServedFromDatabase()
    {
        await OpenAsync();
        await PutAsync("restart.bin", TestData(100, 29));
        await _stack!.DisposeAsync();
        _stack = null;
        var changed = TestData(101, 30);
        await File.WriteAllBytesAsync(Path.Combine(Root, "restart.bin"), changed, Ct);
        await OpenAsync();

        var record = (await Engine.GetAsync(Bucket, Key("restart.bin"), Ct)).Value;

        Assert.Equal(SHA256.HashData(changed), record.Sha256);
    }

    private async Task OpenAsync() => _stack = await FileSystemEngine.OpenAsync(Bucket, Root);

    private async Task ReopenAsync()
    {
        await _stack!.DisposeAsync();
        await OpenAsync();
    }

    /// <summary>Places a file as another program would have, a while ago (older than the engine's unsettled window).</summary>
    private async Task<byte[]> PlaceAsync(string key, int size, int seed, bool justNow = false)
    {
        var path = Path.Combine(Root, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var body = TestData(size, seed);
        await File.WriteAllBytesAsync(path, body, Ct);
        if (!justNow)
        {
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(-1).AddTicks(seed));
        }

        return body;
    }

    private Task<Errors.Result<ObjectRecord>> PutAsync(string key, byte[] body, PutOptions? options = null) =>
        Engine.PutAsync(Bucket, Key(key), new MemoryStream(body), options ?? new PutOptions(), Ct);

    private async Task<(ObjectRecord Record, byte[] Bytes)> ReadAsync(string key)
    {
        var opened = await Engine.OpenReadAsync(Bucket, Key(key), Ct);
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        await using var content = opened.Value.Content;
        var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, Ct);
        return (opened.Value.Record, buffer.ToArray());
    }

    private static ObjectKey Key(string key) => ObjectKey.Parse(key).Value;

    private static byte[] TestData(int length, int seed) => TestBytes.Seeded(length, seed);
}
