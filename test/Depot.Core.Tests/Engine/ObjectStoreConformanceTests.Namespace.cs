using System.Security.Cryptography;
using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Paths;

namespace Depot.Core.Tests.Engine;

public abstract partial class ObjectStoreConformanceTests
{
    // ---- stat ----

    [Fact]
    public async Task Stat_File_ReturnsItsRecord()
    {
        var body = RandomBytes(123, 20);
        await PutAsync(MainBucket, "s/file.bin", body, new PutOptions { ContentType = "application/x-test" });

        var stat = (await Engine.StatAsync(MainBucket, Key("s/file.bin"), Ct)).Value;

        Assert.False(stat.IsDirectory);
        Assert.Equal("s/file.bin", stat.Key);
        Assert.NotNull(stat.Object);
        Assert.Equal(123, stat.Object.Size);
        Assert.Equal(SHA256.HashData(body), stat.Object.Sha256);
        Assert.Equal("application/x-test", stat.Object.ContentType);
    }

    [Fact]
    public async Task Stat_Directory_IsDirectoryWithoutRecord()
    {
        await PutAsync(MainBucket, "s/file.bin", "x"u8.ToArray());

        var stat = (await Engine.StatAsync(MainBucket, Key("s"), Ct)).Value;

        Assert.True(stat.IsDirectory);
        Assert.Null(stat.Object);
    }

    [Fact]
    public async Task Stat_BucketRoot_IsDirectory() =>
        Assert.True((await Engine.StatAsync(MainBucket, ObjectKey.Root, Ct)).Value.IsDirectory);

    [Fact]
    public async Task Stat_Missing_NotFound() =>
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(MainBucket, Key("nothing/here"), Ct)).Error?.Code);

    // ---- mkdir ----

    [Fact]
    public async Task CreateDirectory_Nested_CreatesEveryLevel()
    {
        var made = await Engine.CreateDirectoryAsync(MainBucket, Key("m/n/o"), Ct);

        Assert.True(made.Value.IsDirectory);
        foreach (var key in new[] { "m", "m/n", "m/n/o" })
        {
            Assert.True((await Engine.StatAsync(MainBucket, Key(key), Ct)).Value.IsDirectory, key);
        }

        var listing = await Engine.ListAsync(MainBucket, Key("m/n/o"), new ListOptions(), Ct);
        Assert.Empty(listing.Value.Entries);
    }

    [Fact]
    public async Task CreateDirectory_Existing_SucceedsAndKeepsContents()
    {
        await PutAsync(MainBucket, "e/keep.txt", "k"u8.ToArray());

        var made = await Engine.CreateDirectoryAsync(MainBucket, Key("e"), Ct);

        Assert.True(made.IsSuccess, made.Error?.Message);
        Assert.Equal("k"u8.ToArray(), (await ReadAsync(MainBucket, "e/keep.txt")).Bytes);
    }

    [Fact]
    public async Task CreateDirectory_FileAtKey_ConflictAndFileKept()
    {
        await PutAsync(MainBucket, "f", "file"u8.ToArray());

        var made = await Engine.CreateDirectoryAsync(MainBucket, Key("f"), Ct);

        Assert.Equal(ErrorCodes.Conflict, made.Error?.Code);
        Assert.Equal("file"u8.ToArray(), (await ReadAsync(MainBucket, "f")).Bytes);
    }

    [Fact]
    public async Task CreateDirectory_FileInTheWayOfParent_Conflict()
    {
        await PutAsync(MainBucket, "f", "file"u8.ToArray());

        var made = await Engine.CreateDirectoryAsync(MainBucket, Key("f/sub/deeper"), Ct);

        Assert.Equal(ErrorCodes.Conflict, made.Error?.Code);
        Assert.Equal("file"u8.ToArray(), (await ReadAsync(MainBucket, "f")).Bytes);
    }

    [Fact]
    public async Task CreateDirectory_ReadOnlyBucket_Forbidden() =>
        Assert.Equal(ErrorCodes.Forbidden, (await Engine.CreateDirectoryAsync(FrozenBucket, Key("d"), Ct)).Error?.Code);

    // ---- list ----

    [Fact]
    public async Task List_NonRecursive_ShowsOnlyDirectChildrenWithKnownChecksums()
    {
        var body = RandomBytes(321, 21);
        await PutAsync(MainBucket, "l/a.txt", body);
        await PutAsync(MainBucket, "l/sub/deep.txt", "deep"u8.ToArray());
        await Engine.CreateDirectoryAsync(MainBucket, Key("l/empty"), Ct);

        var page = (await Engine.ListAsync(MainBucket, Key("l"), new ListOptions(), Ct)).Value;

        Assert.Equal(["l/a.txt", "l/empty", "l/sub"], page.Entries.Select(e => e.Key));
        Assert.Null(page.NextCursor);
        var file = page.Entries[0];
        Assert.Equal("a.txt", file.Name);
        Assert.False(file.IsDirectory);
        Assert.Equal(321, file.Size);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), file.Sha256Hex);
        Assert.True(page.Entries[1].IsDirectory);
        Assert.Null(page.Entries[1].Sha256Hex);
    }

    [Fact]
    public async Task List_Files_CarryTheirUserMetadataOmittedWhenNone()
    {
        await PutAsync(MainBucket, "lm/tagged.txt", "t"u8.ToArray(), new PutOptions { Metadata = new Dictionary<string, string> { ["mtime"] = "1700000000" } });
        await PutAsync(MainBucket, "lm/plain.txt", "p"u8.ToArray());
        await Engine.CreateDirectoryAsync(MainBucket, Key("lm/dir"), Ct);

        var page = (await Engine.ListAsync(MainBucket, Key("lm"), new ListOptions(), Ct)).Value;

        var entries = page.Entries.ToDictionary(e => e.Key);
        Assert.Equal("1700000000", entries["lm/tagged.txt"].Metadata!["mtime"]);
        Assert.Null(entries["lm/plain.txt"].Metadata);
        Assert.Null(entries["lm/dir"].Metadata);
    }

    [Fact]
    public async Task List_Recursive_DepthFirstWithDirectoriesBeforeChildren()
    {
        foreach (var key in new[] { "r/b.txt", "r/a.txt", "r/a/x.txt", "r/a/b/y.txt", "r/a-b.txt" })
        {
            await PutAsync(MainBucket, key, "1"u8.ToArray());
        }

        await Engine.CreateDirectoryAsync(MainBucket, Key("r/c"), Ct);

        var page = (await Engine.ListAsync(MainBucket, Key("r"), new ListOptions(Recursive: true), Ct)).Value;

        Assert.Equal(
            ["r/a", "r/a/b", "r/a/b/y.txt", "r/a/x.txt", "r/a-b.txt", "r/a.txt", "r/b.txt", "r/c"],
            page.Entries.Select(e => e.Key));
        Assert.Equal([true, true, false, false, false, false, false, true], page.Entries.Select(e => e.IsDirectory));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task List_PagedByThreeOverTenEntries_CollectsAllExactlyOnceInOrder(bool recursive)
    {
        if (recursive)
        {
            // 10 entries: 3 directories and 7 files at several depths.
            foreach (var key in new[] { "p/d1/x", "p/d1/y", "p/d1/d2/z", "p/d3/w", "p/f1", "p/f2", "p/f3" })
            {
                await PutAsync(MainBucket, key, "1"u8.ToArray());
            }
        }
        else
        {
            for (var i = 0; i < 10; i++)
            {
                await PutAsync(MainBucket, $"p/f{i:00}", "1"u8.ToArray());
            }
        }

        var all = (await Engine.ListAsync(MainBucket, Key("p"), new ListOptions(recursive), Ct)).Value.Entries.Select(e => e.Key).ToList();
        Assert.Equal(10, all.Count);

        var collected = new List<string>();
        var pages = 0;
        string? cursor = null;
        do
        {
            var page = (await Engine.ListAsync(MainBucket, Key("p"), new ListOptions(recursive, Limit: 3, Cursor: cursor), Ct)).Value;
            Assert.InRange(page.Entries.Count, 1, 3);
            collected.AddRange(page.Entries.Select(e => e.Key));
            cursor = page.NextCursor;
            pages++;
            Assert.True(pages <= 10, "pagination does not terminate");
        }
        while (cursor is not null);

        Assert.Equal(all, collected);
        Assert.Equal(4, pages);
    }

    [Fact]
    public async Task List_SameCursorTwice_ReturnsSamePage()
    {
        for (var i = 0; i < 10; i++)
        {
            await PutAsync(MainBucket, $"c/f{i}", "1"u8.ToArray());
        }

        var first = (await Engine.ListAsync(MainBucket, Key("c"), new ListOptions(Limit: 3), Ct)).Value;
        var again = (await Engine.ListAsync(MainBucket, Key("c"), new ListOptions(Limit: 3, Cursor: first.NextCursor), Ct)).Value;
        var once = (await Engine.ListAsync(MainBucket, Key("c"), new ListOptions(Limit: 3, Cursor: first.NextCursor), Ct)).Value;

        Assert.Equal(["c/f3", "c/f4", "c/f5"], again.Entries.Select(e => e.Key));
        Assert.Equal(again.Entries.Select(e => e.Key), once.Entries.Select(e => e.Key));
        Assert.Equal(again.NextCursor, once.NextCursor);
    }

    [Fact]
    public async Task List_CursorAfterDeletedEntry_ContinuesAfterIt()
    {
        for (var i = 0; i < 6; i++)
        {
            await PutAsync(MainBucket, $"c/f{i}", "1"u8.ToArray());
        }

        var first = (await Engine.ListAsync(MainBucket, Key("c"), new ListOptions(Limit: 3), Ct)).Value;
        await Engine.DeleteAsync(MainBucket, Key("c/f2"), null, Ct);
        var next = (await Engine.ListAsync(MainBucket, Key("c"), new ListOptions(Limit: 3, Cursor: first.NextCursor), Ct)).Value;

        Assert.Equal(["c/f3", "c/f4", "c/f5"], next.Entries.Select(e => e.Key));
    }

    [Fact]
    public async Task List_MissingDirectory_NotFound() =>
        Assert.Equal(ErrorCodes.NotFound, (await Engine.ListAsync(MainBucket, Key("nope"), new ListOptions(), Ct)).Error?.Code);

    [Fact]
    public async Task List_File_Conflict()
    {
        await PutAsync(MainBucket, "plain", "x"u8.ToArray());

        Assert.Equal(ErrorCodes.Conflict, (await Engine.ListAsync(MainBucket, Key("plain"), new ListOptions(), Ct)).Error?.Code);
    }

    [Fact]
    public async Task List_EmptyBucketRoot_IsEmpty()
    {
        var page = await Engine.ListAsync(FrozenBucket, ObjectKey.Root, new ListOptions(Recursive: true), Ct);

        Assert.True(page.IsSuccess, page.Error?.Message);
        Assert.Empty(page.Value.Entries);
    }

    // ---- delete ----

    [Fact]
    public async Task Delete_File_RemovesBytesAndRecord()
    {
        await PutAsync(MainBucket, "del/x", "x"u8.ToArray());

        var deleted = await Engine.DeleteAsync(MainBucket, Key("del/x"), null, Ct);

        Assert.True(deleted.IsSuccess, deleted.Error?.Message);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.GetAsync(MainBucket, Key("del/x"), Ct)).Error?.Code);
        Assert.Null(await Fixture.Metadata.GetAsync(MainBucket, "del/x", Ct));
    }

    [Fact]
    public async Task Delete_Missing_NotFound() =>
        Assert.Equal(ErrorCodes.NotFound, (await Engine.DeleteAsync(MainBucket, Key("ghost"), null, Ct)).Error?.Code);

    [Fact]
    public async Task Delete_Directory_Conflict()
    {
        await Engine.CreateDirectoryAsync(MainBucket, Key("dir"), Ct);

        Assert.Equal(ErrorCodes.Conflict, (await Engine.DeleteAsync(MainBucket, Key("dir"), null, Ct)).Error?.Code);
        Assert.True((await Engine.StatAsync(MainBucket, Key("dir"), Ct)).Value.IsDirectory);
    }

    [Fact]
    public async Task Delete_IfMatchStaleETag_PreconditionFailedAndKept()
    {
        await PutAsync(MainBucket, "x", "v1"u8.ToArray());

        var deleted = await Engine.DeleteAsync(MainBucket, Key("x"), new WritePrecondition.ETagMatches(["\"stale\""]), Ct);

        Assert.Equal(ErrorCodes.PreconditionFailed, deleted.Error?.Code);
        Assert.Equal("v1"u8.ToArray(), (await ReadAsync(MainBucket, "x")).Bytes);
    }

    [Fact]
    public async Task Delete_IfMatchCurrentETag_Deletes()
    {
        var current = (await PutAsync(MainBucket, "x", "v1"u8.ToArray())).Value;

        var deleted = await Engine.DeleteAsync(MainBucket, Key("x"), new WritePrecondition.ETagMatches([current.ETag]), Ct);

        Assert.True(deleted.IsSuccess, deleted.Error?.Message);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(MainBucket, Key("x"), Ct)).Error?.Code);
    }

    [Fact]
    public async Task Delete_ReadOnlyBucket_Forbidden() =>
        Assert.Equal(ErrorCodes.Forbidden, (await Engine.DeleteAsync(FrozenBucket, Key("x"), null, Ct)).Error?.Code);

    [Fact]
    public async Task DeleteDirectory_NonEmptyWithoutRecursive_ConflictAndKept()
    {
        await PutAsync(MainBucket, "tree/a.txt", "a"u8.ToArray());

        var deleted = await Engine.DeleteDirectoryAsync(MainBucket, Key("tree"), recursive: false, Ct);

        Assert.Equal(ErrorCodes.Conflict, deleted.Error?.Code);
        Assert.Equal("a"u8.ToArray(), (await ReadAsync(MainBucket, "tree/a.txt")).Bytes);
        Assert.NotNull(await Fixture.Metadata.GetAsync(MainBucket, "tree/a.txt", Ct));
    }

    [Fact]
    public async Task DeleteDirectory_Empty_Deletes()
    {
        await Engine.CreateDirectoryAsync(MainBucket, Key("empty"), Ct);

        var deleted = await Engine.DeleteDirectoryAsync(MainBucket, Key("empty"), recursive: false, Ct);

        Assert.True(deleted.IsSuccess, deleted.Error?.Message);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(MainBucket, Key("empty"), Ct)).Error?.Code);
    }

    [Fact]
    public async Task DeleteDirectory_Recursive_RemovesTreeAndItsRecordsOnly()
    {
        await PutAsync(MainBucket, "tree/a.txt", "a"u8.ToArray());
        await PutAsync(MainBucket, "tree/sub/b.txt", "b"u8.ToArray());
        await PutAsync(MainBucket, "treehouse.txt", "t"u8.ToArray());
        await PutAsync(MainBucket, "tree-sibling/c.txt", "c"u8.ToArray());

        var deleted = await Engine.DeleteDirectoryAsync(MainBucket, Key("tree"), recursive: true, Ct);

        Assert.True(deleted.IsSuccess, deleted.Error?.Message);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(MainBucket, Key("tree"), Ct)).Error?.Code);
        Assert.Null(await Fixture.Metadata.GetAsync(MainBucket, "tree/a.txt", Ct));
        Assert.Null(await Fixture.Metadata.GetAsync(MainBucket, "tree/sub/b.txt", Ct));
        Assert.NotNull(await Fixture.Metadata.GetAsync(MainBucket, "treehouse.txt", Ct));
        Assert.NotNull(await Fixture.Metadata.GetAsync(MainBucket, "tree-sibling/c.txt", Ct));
        Assert.Equal("t"u8.ToArray(), (await ReadAsync(MainBucket, "treehouse.txt")).Bytes);
    }

    [Fact]
    public async Task DeleteDirectory_File_Conflict()
    {
        await PutAsync(MainBucket, "file", "x"u8.ToArray());

        Assert.Equal(ErrorCodes.Conflict, (await Engine.DeleteDirectoryAsync(MainBucket, Key("file"), recursive: true, Ct)).Error?.Code);
        Assert.Equal("x"u8.ToArray(), (await ReadAsync(MainBucket, "file")).Bytes);
    }

    [Fact]
    public async Task DeleteDirectory_Missing_NotFound() =>
        Assert.Equal(ErrorCodes.NotFound, (await Engine.DeleteDirectoryAsync(MainBucket, Key("ghost"), recursive: true, Ct)).Error?.Code);

    [Fact]
    public async Task DeleteDirectory_ReadOnlyBucket_Forbidden() =>
        Assert.Equal(ErrorCodes.Forbidden, (await Engine.DeleteDirectoryAsync(FrozenBucket, ObjectKey.Root, recursive: true, Ct)).Error?.Code);

    // ---- move ----

    [Fact]
    public async Task Move_File_BytesAndRecordFollow()
    {
        var body = RandomBytes(777, 22);
        await PutAsync(MainBucket, "src/file.bin", body, new PutOptions { ContentType = "image/png", Metadata = new Dictionary<string, string> { ["k"] = "v" } });

        var moved = await Engine.MoveAsync(MainBucket, Key("src/file.bin"), Key("dst/deeper/file.bin"), overwrite: false, Ct);

        Assert.True(moved.IsSuccess, moved.Error?.Message);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(MainBucket, Key("src/file.bin"), Ct)).Error?.Code);
        Assert.Null(await Fixture.Metadata.GetAsync(MainBucket, "src/file.bin", Ct));
        var (record, bytes) = await ReadAsync(MainBucket, "dst/deeper/file.bin");
        Assert.Equal(body, bytes);
        Assert.Equal(SHA256.HashData(body), record.Sha256);
        Assert.Equal("image/png", record.ContentType);
        Assert.Equal("v", record.Metadata["k"]);
    }

    [Fact]
    public async Task Move_File_ChecksumKnownWithoutRehash()
    {
        var body = RandomBytes(100, 23);
        await PutAsync(MainBucket, "a.bin", body);

        await Engine.MoveAsync(MainBucket, Key("a.bin"), Key("b.bin"), overwrite: false, Ct);

        // A listing never hashes: a non-null checksum proves the record moved with the bytes.
        var entry = Assert.Single((await Engine.ListAsync(MainBucket, ObjectKey.Root, new ListOptions(), Ct)).Value.Entries);
        Assert.Equal("b.bin", entry.Key);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), entry.Sha256Hex);
    }

    [Theory]
    [InlineData("dir", "moved")]
    [InlineData("dir", "a/b/moved")]
    [InlineData("caf\u00E9", "th\u00E9")]
    [InlineData("\U0001F600", "x")]
    [InlineData("x", "\U0001F600\U0001F600")]
    public async Task Move_Directory_TreeAndChecksumsFollow(string from, string to)
    {
        var files = new Dictionary<string, byte[]>
        {
            ["one.txt"] = RandomBytes(10, 24),
            ["sub/two.txt"] = RandomBytes(20, 25),
            ["sub/deeper/three.txt"] = RandomBytes(30, 26),
        };
        foreach (var (name, body) in files)
        {
            await PutAsync(MainBucket, $"{from}/{name}", body, new PutOptions { ContentType = "text/plain" });
        }

        var moved = await Engine.MoveAsync(MainBucket, Key(from), Key(to), overwrite: false, Ct);

        Assert.True(moved.IsSuccess, moved.Error?.Message);
        Assert.True(moved.Value.IsDirectory);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(MainBucket, Key(from), Ct)).Error?.Code);
        var listing = (await Engine.ListAsync(MainBucket, Key(to), new ListOptions(Recursive: true), Ct)).Value.Entries
            .Where(e => !e.IsDirectory).ToDictionary(e => e.Key, e => e.Sha256Hex);
        Assert.Equal(files.Count, listing.Count);
        foreach (var (name, body) in files)
        {
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(body)), listing[$"{to}/{name}"]);
            Assert.Null(await Fixture.Metadata.GetAsync(MainBucket, $"{from}/{name}", Ct));
            Assert.Equal("text/plain", (await Fixture.Metadata.GetAsync(MainBucket, $"{to}/{name}", Ct))?.ContentType);
        }
    }

    [Fact]
    public async Task Move_OntoExistingFileWithoutOverwrite_AlreadyExistsAndBothKept()
    {
        await PutAsync(MainBucket, "a", "A"u8.ToArray());
        await PutAsync(MainBucket, "b", "B"u8.ToArray());

        var moved = await Engine.MoveAsync(MainBucket, Key("a"), Key("b"), overwrite: false, Ct);

        Assert.Equal(ErrorCodes.AlreadyExists, moved.Error?.Code);
        Assert.Equal("A"u8.ToArray(), (await ReadAsync(MainBucket, "a")).Bytes);
        Assert.Equal("B"u8.ToArray(), (await ReadAsync(MainBucket, "b")).Bytes);
    }

    [Fact]
    public async Task Move_OntoExistingFileWithOverwrite_ReplacesIt()
    {
        await PutAsync(MainBucket, "a", "A"u8.ToArray(), new PutOptions { ContentType = "text/a" });
        await PutAsync(MainBucket, "b", "B"u8.ToArray(), new PutOptions { ContentType = "text/b" });

        var moved = await Engine.MoveAsync(MainBucket, Key("a"), Key("b"), overwrite: true, Ct);

        Assert.True(moved.IsSuccess, moved.Error?.Message);
        var (record, bytes) = await ReadAsync(MainBucket, "b");
        Assert.Equal("A"u8.ToArray(), bytes);
        Assert.Equal(SHA256.HashData("A"u8.ToArray()), record.Sha256);
        Assert.Equal("text/a", record.ContentType);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(MainBucket, Key("a"), Ct)).Error?.Code);
    }

    [Fact]
    public async Task Move_FileOntoItselfWithOverwrite_KeepsBytesAndRecord()
    {
        await PutAsync(MainBucket, "same", "S"u8.ToArray(), new PutOptions { ContentType = "text/s", Metadata = new Dictionary<string, string> { ["k"] = "v" } });

        await Engine.MoveAsync(MainBucket, Key("same"), Key("same"), overwrite: true, Ct);

        var (record, bytes) = await ReadAsync(MainBucket, "same");
        Assert.Equal("S"u8.ToArray(), bytes);
        Assert.Equal("text/s", record.ContentType);
        Assert.Equal("v", record.Metadata.GetValueOrDefault("k"));
    }

    [Fact]
    public async Task Move_DirectoryOntoExistingDirectory_AlreadyExists()
    {
        await PutAsync(MainBucket, "d1/a", "a"u8.ToArray());
        await PutAsync(MainBucket, "d2/b", "b"u8.ToArray());

        var moved = await Engine.MoveAsync(MainBucket, Key("d1"), Key("d2"), overwrite: true, Ct);

        Assert.Equal(ErrorCodes.AlreadyExists, moved.Error?.Code);
        Assert.Equal("a"u8.ToArray(), (await ReadAsync(MainBucket, "d1/a")).Bytes);
        Assert.Equal("b"u8.ToArray(), (await ReadAsync(MainBucket, "d2/b")).Bytes);
    }

    [Theory]
    [InlineData("d", "d/sub")]
    [InlineData("d", "d/sub/deeper")]
    [InlineData("d", "d")]
    public async Task Move_DirectoryIntoItself_Conflict(string from, string to)
    {
        await PutAsync(MainBucket, "d/a", "a"u8.ToArray());

        var moved = await Engine.MoveAsync(MainBucket, Key(from), Key(to), overwrite: false, Ct);

        Assert.Equal(ErrorCodes.Conflict, moved.Error?.Code);
        Assert.Equal("a"u8.ToArray(), (await ReadAsync(MainBucket, "d/a")).Bytes);
    }

    [Fact]
    public async Task Move_Missing_NotFound() =>
        Assert.Equal(ErrorCodes.NotFound, (await Engine.MoveAsync(MainBucket, Key("ghost"), Key("x"), overwrite: false, Ct)).Error?.Code);

    [Fact]
    public async Task Move_DestinationBelowAFile_ConflictAndSourceKept()
    {
        await PutAsync(MainBucket, "a", "A"u8.ToArray());
        await PutAsync(MainBucket, "file", "F"u8.ToArray());

        var moved = await Engine.MoveAsync(MainBucket, Key("a"), Key("file/a"), overwrite: false, Ct);

        Assert.Equal(ErrorCodes.Conflict, moved.Error?.Code);
        Assert.Equal("A"u8.ToArray(), (await ReadAsync(MainBucket, "a")).Bytes);
    }

    [Fact]
    public async Task Move_BucketRoot_NotFound() =>
        Assert.False((await Engine.MoveAsync(MainBucket, ObjectKey.Root, Key("x"), overwrite: false, Ct)).IsSuccess);

    [Fact]
    public async Task Move_ReadOnlyBucket_Forbidden() =>
        Assert.Equal(ErrorCodes.Forbidden, (await Engine.MoveAsync(FrozenBucket, Key("a"), Key("b"), overwrite: false, Ct)).Error?.Code);

    // ---- copy ----

    [Fact]
    public async Task Copy_WithinBucket_CopiesBytesChecksumAndProperties()
    {
        var body = RandomBytes(50_000, 27);
        await PutAsync(MainBucket, "orig.bin", body, new PutOptions { ContentType = "application/x-orig", Metadata = new Dictionary<string, string> { ["m"] = "1" } });

        var copied = await Engine.CopyAsync(MainBucket, Key("orig.bin"), MainBucket, Key("copies/copy.bin"), overwrite: false, Ct);

        Assert.True(copied.IsSuccess, copied.Error?.Message);
        var (record, bytes) = await ReadAsync(MainBucket, "copies/copy.bin");
        Assert.Equal(body, bytes);
        Assert.Equal(SHA256.HashData(body), record.Sha256);
        Assert.Equal("application/x-orig", record.ContentType);
        Assert.Equal("1", record.Metadata["m"]);
        Assert.Equal(body, (await ReadAsync(MainBucket, "orig.bin")).Bytes);
    }

    [Fact]
    public async Task Copy_AcrossBuckets_CopiesBytesAndChecksum()
    {
        var body = RandomBytes(2 << 20, 28);
        await PutAsync(MainBucket, "orig.bin", body);

        var copied = await Engine.CopyAsync(MainBucket, Key("orig.bin"), OtherBucket, Key("from-main/orig.bin"), overwrite: false, Ct);

        Assert.True(copied.IsSuccess, copied.Error?.Message);
        var (record, bytes) = await ReadAsync(OtherBucket, "from-main/orig.bin");
        Assert.Equal(body, bytes);
        Assert.Equal(SHA256.HashData(body), record.Sha256);
        Assert.Equal(OtherBucket, record.Bucket);
        Assert.Null(await Fixture.Metadata.GetAsync(MainBucket, "from-main/orig.bin", Ct));
        Assert.Equal(0, Fixture.CountStagedBlobs(OtherBucket));
    }

    [Fact]
    public async Task Copy_OntoExistingWithoutOverwrite_AlreadyExistsAndKept()
    {
        await PutAsync(MainBucket, "a", "A"u8.ToArray());
        await PutAsync(MainBucket, "b", "B"u8.ToArray());

        var copied = await Engine.CopyAsync(MainBucket, Key("a"), MainBucket, Key("b"), overwrite: false, Ct);

        Assert.Equal(ErrorCodes.AlreadyExists, copied.Error?.Code);
        Assert.Equal("B"u8.ToArray(), (await ReadAsync(MainBucket, "b")).Bytes);
    }

    [Fact]
    public async Task Copy_OntoExistingWithOverwrite_Replaces()
    {
        await PutAsync(MainBucket, "a", "A"u8.ToArray());
        await PutAsync(MainBucket, "b", "B"u8.ToArray());

        var copied = await Engine.CopyAsync(MainBucket, Key("a"), MainBucket, Key("b"), overwrite: true, Ct);

        Assert.True(copied.IsSuccess, copied.Error?.Message);
        Assert.Equal("A"u8.ToArray(), (await ReadAsync(MainBucket, "b")).Bytes);
    }

    [Fact]
    public async Task Copy_Missing_NotFound() =>
        Assert.Equal(ErrorCodes.NotFound, (await Engine.CopyAsync(MainBucket, Key("ghost"), MainBucket, Key("x"), overwrite: false, Ct)).Error?.Code);

    [Fact]
    public async Task Copy_IntoReadOnlyBucket_ForbiddenAndNothingStaged()
    {
        await PutAsync(MainBucket, "a", "A"u8.ToArray());

        var copied = await Engine.CopyAsync(MainBucket, Key("a"), FrozenBucket, Key("a"), overwrite: false, Ct);

        Assert.Equal(ErrorCodes.Forbidden, copied.Error?.Code);
        Assert.Equal(0, Fixture.CountStagedBlobs(FrozenBucket));
    }

    [Fact]
    public async Task Copy_IntoBucketWithSmallerLimit_TooLarge()
    {
        await PutAsync(MainBucket, "big", RandomBytes((int)SmallMaxObjectSize * 2, 29));

        var copied = await Engine.CopyAsync(MainBucket, Key("big"), SmallBucket, Key("big"), overwrite: false, Ct);

        Assert.Equal(ErrorCodes.TooLarge, copied.Error?.Code);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(SmallBucket, Key("big"), Ct)).Error?.Code);
    }
}
