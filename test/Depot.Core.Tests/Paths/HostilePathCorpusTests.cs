using System.Security.Cryptography;
using System.Text;
using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Tests.TestSupport;

namespace Depot.Core.Tests.Paths;

/// <summary>
/// Invariant 6: no request can read or write outside a bucket's root. First wall: <see cref="ObjectKey.Parse"/>
/// refuses every hostile key. Second wall: the engine over the filesystem store never follows a symbolic link,
/// proven against a real directory with links pointing outside the bucket.
/// </summary>
public sealed class HostilePathCorpusTests : IAsyncLifetime
{
    private const string Bucket = "default";
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("top secret, outside the bucket");
    private static readonly byte[] Pwned = Encoding.UTF8.GetBytes("pwned");
    private readonly TempDirectory _temp = new();
    private FileSystemEngine _stack = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Outside => _temp.Combine("outside");

    private string BucketRoot => _temp.Combine("bucket");

    /// <summary>Valid keys whose path crosses a symbolic link (relative, absolute, dangling; to files and directories).</summary>
    public static TheoryData<string> KeysThroughLinks => new()
    {
        "link",
        "link/secret.txt",
        "link/sub/deeper.txt",
        "link/new.txt",
        "link/sub",
        "f",
        "dir/inner",
        "dir/inner/secret.txt",
        "dir/inner/new.txt",
        "dangling",
        "abs",
        "abs/secret.txt",
    };

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(Outside, "sub"));
        await File.WriteAllBytesAsync(Path.Combine(Outside, "secret.txt"), Secret, Ct);
        await File.WriteAllBytesAsync(Path.Combine(Outside, "sub", "deeper.txt"), Secret, Ct);

        Directory.CreateDirectory(Path.Combine(BucketRoot, "dir"));
        await File.WriteAllTextAsync(Path.Combine(BucketRoot, "ok.txt"), "ok", Ct);
        await File.WriteAllTextAsync(Path.Combine(BucketRoot, "dir", "plain.txt"), "plain", Ct);
        File.CreateSymbolicLink(Path.Combine(BucketRoot, "link"), "../outside");
        File.CreateSymbolicLink(Path.Combine(BucketRoot, "f"), "../outside/secret.txt");
        File.CreateSymbolicLink(Path.Combine(BucketRoot, "dir", "inner"), "../../outside");
        File.CreateSymbolicLink(Path.Combine(BucketRoot, "dangling"), "../outside/created-through-link.txt");
        File.CreateSymbolicLink(Path.Combine(BucketRoot, "abs"), Outside);

        _stack = await FileSystemEngine.OpenAsync(Bucket, BucketRoot);
    }

    public async ValueTask DisposeAsync()
    {
        await _stack.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public void Corpus_HasAtLeast110Keys() => Assert.True(HostileKeys.All.Count >= 110, $"only {HostileKeys.All.Count} keys");

    [Theory]
    [MemberData(nameof(HostileKeys.Names), MemberType = typeof(HostileKeys))]
    public void Parse_HostileKey_IsInvalidPath(string caseName)
    {
        var result = ObjectKey.Parse(HostileKeys.All[caseName]);

        Assert.False(result.IsSuccess, $"'{caseName}' was accepted as '{(result.IsSuccess ? Escape(result.Value.Value) : "")}'");
        Assert.Equal(ErrorCodes.InvalidPath, result.Error!.Code);
    }

    [Theory]
    [MemberData(nameof(HostileKeys.Names), MemberType = typeof(HostileKeys))]
    public void Parse_HostileKeyAsDirectoryWithAllowRoot_IsInvalidPath(string caseName)
    {
        var key = HostileKeys.All[caseName];
        if (key.Length == 0)
        {
            return; // the empty key is the root by definition when allowed
        }

        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse(key, allowRoot: true).Error?.Code);
    }

    [Fact]
    public async Task Engine_EveryCorpusKeyThatParses_NeitherReadsWritesNorListsOutside()
    {
        var before = Snapshot(Outside);
        foreach (var (name, raw) in HostileKeys.All)
        {
            if (ObjectKey.Parse(raw).TryGetValue(out var key, out _))
            {
                await TryEverythingAsync(key, name);
            }
        }

        Assert.Equal(before, Snapshot(Outside));
        await AssertRootListingCleanAsync();
    }

    [Theory]
    [MemberData(nameof(KeysThroughLinks))]
    public async Task Engine_KeyThroughSymlink_ReadsAsNotFound(string raw)
    {
        var key = ObjectKey.Parse(raw).Value;

        AssertNotFound((await _stack.Engine.GetAsync(Bucket, key, Ct)).Error, "get");
        AssertNotFound((await _stack.Engine.StatAsync(Bucket, key, Ct)).Error, "stat");
        AssertNotFound((await _stack.Engine.OpenReadAsync(Bucket, key, Ct)).Error, "open");
        AssertNotFound((await _stack.Engine.ListAsync(Bucket, key, new ListOptions(), Ct)).Error, "list");
        AssertNotFound((await _stack.Engine.ListAsync(Bucket, key, new ListOptions(Recursive: true), Ct)).Error, "list recursive");
        AssertNotFound((await _stack.Engine.CopyAsync(Bucket, key, Bucket, Key("stolen-copy"), overwrite: true, Ct)).Error, "copy from");
        Assert.Null(_stack.Blobs.GetFilePath(Bucket, key));
        Assert.False((await _stack.Engine.StatAsync(Bucket, Key("stolen-copy"), Ct)).IsSuccess);
    }

    [Theory]
    [MemberData(nameof(KeysThroughLinks))]
    public async Task Engine_KeyThroughSymlink_ChangesAsNotFound(string raw)
    {
        var key = ObjectKey.Parse(raw).Value;
        var before = Snapshot(Outside);

        AssertNotFound((await _stack.Engine.MoveAsync(Bucket, key, Key("stolen-move"), overwrite: true, Ct)).Error, "move from");
        AssertNotFound((await _stack.Engine.DeleteAsync(Bucket, key, null, Ct)).Error, "delete");
        AssertNotFound((await _stack.Engine.DeleteDirectoryAsync(Bucket, key, recursive: true, Ct)).Error, "delete directory");

        Assert.Equal(before, Snapshot(Outside));
        AssertLinksIntact();
    }

    [Theory]
    [MemberData(nameof(KeysThroughLinks))]
    public async Task Engine_WriteThroughSymlink_IsRefusedAndOutsideUnchanged(string raw)
    {
        var key = ObjectKey.Parse(raw).Value;
        var before = Snapshot(Outside);

        Assert.False((await _stack.Engine.PutAsync(Bucket, key, new MemoryStream(Pwned), new PutOptions(), Ct)).IsSuccess, "put");
        Assert.False((await _stack.Engine.CopyAsync(Bucket, Key("ok.txt"), Bucket, key, overwrite: true, Ct)).IsSuccess, "copy to");
        Assert.False((await _stack.Engine.MoveAsync(Bucket, Key("ok.txt"), key, overwrite: true, Ct)).IsSuccess, "move to");
        Assert.False((await _stack.Engine.CreateDirectoryAsync(Bucket, key.Child("sub"), Ct)).IsSuccess, "mkdir below");

        Assert.Equal(before, Snapshot(Outside));
        Assert.Equal("ok", await File.ReadAllTextAsync(Path.Combine(BucketRoot, "ok.txt"), Ct));
        AssertLinksIntact();
        Assert.Equal(0, _stack.Blobs.CountStagedFiles(Bucket));
    }

    [Theory]
    [MemberData(nameof(KeysThroughLinks))]
    public async Task Engine_CreateDirectoryAtSymlink_DoesNotCreateOutside(string raw)
    {
        var before = Snapshot(Outside);

        var result = await _stack.Engine.CreateDirectoryAsync(Bucket, Key(raw), Ct);

        Assert.Equal(before, Snapshot(Outside));
        if (result.IsSuccess)
        {
            // Only acceptable if a real directory now exists inside the bucket (never a link's target).
            Assert.Null(new DirectoryInfo(Path.Combine(BucketRoot, raw)).LinkTarget);
        }
    }

    [Fact]
    public async Task List_BucketRootRecursive_ShowsNoSymlinksNorStateFolder()
    {
        var page = await _stack.Engine.ListAsync(Bucket, ObjectKey.Root, new ListOptions(Recursive: true), Ct);

        Assert.Equal(["dir", "dir/plain.txt", "ok.txt"], page.Value.Entries.Select(e => e.Key));
        Assert.Null(page.Value.NextCursor);
    }

    [Fact]
    public async Task List_BucketRootFlat_ShowsNoSymlinksNorStateFolder()
    {
        Assert.True(Directory.Exists(Path.Combine(BucketRoot, ".depot")), "the state folder should exist for this test to mean something");

        var page = await _stack.Engine.ListAsync(Bucket, ObjectKey.Root, new ListOptions(), Ct);

        Assert.Equal(["dir", "ok.txt"], page.Value.Entries.Select(e => e.Key));
    }

    [Fact]
    public async Task DeleteDirectory_BucketRootRecursive_RemovesBucketContentButNothingOutside()
    {
        var before = Snapshot(Outside);

        var result = await _stack.Engine.DeleteDirectoryAsync(Bucket, ObjectKey.Root, recursive: true, Ct);

        Assert.True(result.IsSuccess, result.Error?.Message);
        Assert.Equal(before, Snapshot(Outside));
        Assert.False(File.Exists(Path.Combine(BucketRoot, "ok.txt")));
        Assert.True(File.Exists(Path.Combine(BucketRoot, ".depot", "depot.db")), "the state folder must survive");
    }

    [Fact]
    public async Task DeleteDirectory_DirectoryContainingSymlink_RemovesLinkNotTarget()
    {
        var before = Snapshot(Outside);

        var result = await _stack.Engine.DeleteDirectoryAsync(Bucket, Key("dir"), recursive: true, Ct);

        Assert.True(result.IsSuccess, result.Error?.Message);
        Assert.False(Directory.Exists(Path.Combine(BucketRoot, "dir")));
        Assert.Equal(before, Snapshot(Outside));
    }

    [Fact]
    public async Task Move_DirectoryContainingSymlink_DoesNotTouchTarget()
    {
        var before = Snapshot(Outside);

        var moved = await _stack.Engine.MoveAsync(Bucket, Key("dir"), Key("elsewhere/dir"), overwrite: false, Ct);

        Assert.True(moved.IsSuccess, moved.Error?.Message);
        Assert.Equal(before, Snapshot(Outside));
        Assert.False((await _stack.Engine.GetAsync(Bucket, Key("elsewhere/dir/inner/secret.txt"), Ct)).IsSuccess);
    }

    private async Task TryEverythingAsync(ObjectKey key, string caseName)
    {
        var e = _stack.Engine;
        var reads = new List<byte[]>();
        if ((await e.OpenReadAsync(Bucket, key, Ct)).TryGetValue(out var opened, out _))
        {
            await using (opened.Content)
            {
                var buffer = new MemoryStream();
                await opened.Content.CopyToAsync(buffer, Ct);
                reads.Add(buffer.ToArray());
            }
        }

        await e.GetAsync(Bucket, key, Ct);
        await e.StatAsync(Bucket, key, Ct);
        await e.ListAsync(Bucket, key, new ListOptions(Recursive: true), Ct);
        await e.PutAsync(Bucket, key, new MemoryStream(Pwned), new PutOptions(), Ct);
        await e.CopyAsync(Bucket, key, Bucket, Key("stolen-copy"), overwrite: true, Ct);
        await e.CopyAsync(Bucket, Key("ok.txt"), Bucket, key, overwrite: true, Ct);
        await e.MoveAsync(Bucket, key, Key("stolen-move"), overwrite: true, Ct);
        await e.CreateDirectoryAsync(Bucket, key, Ct);
        await e.DeleteAsync(Bucket, key, null, Ct);
        await e.DeleteDirectoryAsync(Bucket, key, recursive: true, Ct);
        Assert.DoesNotContain(reads, r => r.AsSpan().SequenceEqual(Secret));
        _ = caseName;
    }

    private async Task AssertRootListingCleanAsync()
    {
        var page = await _stack.Engine.ListAsync(Bucket, ObjectKey.Root, new ListOptions(Recursive: true), Ct);
        var forbidden = new[] { "link", "f", "dangling", "abs", ".depot", "dir/inner" };
        foreach (var entry in page.Value.Entries)
        {
            Assert.DoesNotContain(forbidden, f => entry.Key == f || entry.Key.StartsWith(f + "/", StringComparison.Ordinal));
        }
    }

    private static void AssertNotFound(DepotError? error, string operation)
    {
        Assert.True(error is not null, $"{operation} succeeded through a symbolic link");
        Assert.True(error.Code == ErrorCodes.NotFound, $"{operation}: expected not_found, got {error.Code}: {error.Message}");
    }

    private void AssertLinksIntact()
    {
        foreach (var link in new[] { "link", "f", "dir/inner", "dangling", "abs" })
        {
            Assert.NotNull(new FileInfo(Path.Combine(BucketRoot, link)).LinkTarget);
        }
    }

    private static ObjectKey Key(string key) => ObjectKey.Parse(key).Value;

    /// <summary>Every entry below <paramref name="root"/>: relative name, kind, and for files the SHA-256 of the bytes.</summary>
    private static List<string> Snapshot(string root)
    {
        var entries = new List<string>();
        foreach (var info in new DirectoryInfo(root).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, info.FullName);
            entries.Add(info is FileInfo file
                ? $"file {relative} {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file.FullName)))}"
                : $"dir {relative}");
        }

        entries.Sort(StringComparer.Ordinal);
        return entries;
    }

    private static string Escape(string s) =>
        string.Concat(s.Select(c => c is < ' ' or > '~' ? $"\\u{(int)c:X4}" : c.ToString()));
}
