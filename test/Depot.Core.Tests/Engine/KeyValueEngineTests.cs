using System.Security.Cryptography;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Storage;
using Depot.Core.Tests.Model;
using Depot.Core.Tests.TestSupport;
using Depot.Storage.Sqlite;

namespace Depot.Core.Tests.Engine;

/// <summary>
/// Key-value and FastDFS semantics on the embedded stack: expiry (with a clock moved by hand), get-and-delete, metadata
/// changes, slave files and bucket usage.
/// </summary>
public sealed class KeyValueEngineTests : IAsyncLifetime
{
    private const string Bucket = "main";

    /// <summary>Default limits; usage is counted per bucket.</summary>
    private const string Other = "other";

    /// <summary>Metadata names of at most 8 bytes, values of at most 16, at most 2 entries.</summary>
    private const string Tight = "tight";

    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(1);
    private readonly TempDirectory _temp = new();
    private readonly ManualClock _clock = new(TimeProvider.System.GetUtcNow());
    private FileSystemEngine? _stack;
    private ObjectEngine? _engine;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FileSystemEngine Stack => _stack ?? throw new InvalidOperationException("Not initialised.");

    private ObjectEngine Engine => _engine ?? throw new InvalidOperationException("Not initialised.");

    private SqliteMetadataStore Metadata => Stack.Metadata;

    public async ValueTask InitializeAsync()
    {
        var roots = new[] { Bucket, Other, Tight }.ToDictionary(b => b, b => _temp.Combine(b), StringComparer.Ordinal);
        foreach (var root in roots.Values)
        {
            Directory.CreateDirectory(root);
        }

        _stack = await FileSystemEngine.OpenAsync(new Dictionary<string, (string, BucketOptions)>(StringComparer.Ordinal)
        {
            [Bucket] = (roots[Bucket], new BucketOptions { Path = roots[Bucket] }),
            [Other] = (roots[Other], new BucketOptions { Path = roots[Other] }),
            [Tight] = (roots[Tight], new BucketOptions { Path = roots[Tight], MaxMetadataNameBytes = 8, MaxMetadataValueBytes = 16, MaxMetadataEntries = 2 }),
        });
        _engine = new ObjectEngine(_stack.Blobs, _stack.Metadata, _stack.Engine.Buckets, _clock);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }

        _temp.Dispose();
    }

    // ---- expiry ----

    [Fact]
    public async Task Expiry_BeforeAndAfter_VisibleThenInvisibleEverywhere()
    {
        var expires = _clock.GetUtcNow() + Ttl;
        await PutAsync("kv/session", [1, 2, 3], new PutOptions { ExpiresUtc = expires });
        await PutAsync("kv/forever", [4]);

        _clock.Advance(Ttl - TimeSpan.FromTicks(1));
        Assert.Equal(expires, (await Engine.GetAsync(Bucket, Key("kv/session"), Ct)).Value.ExpiresUtc);
        Assert.True((await Engine.StatAsync(Bucket, Key("kv/session"), Ct)).IsSuccess);
        var open = await Engine.OpenReadAsync(Bucket, Key("kv/session"), Ct);
        await open.Value.Content.DisposeAsync();
        Assert.Equal(["kv/forever", "kv/session"], await ListAsync("kv"));

        _clock.Advance(TimeSpan.FromTicks(1)); // exactly the expiry instant: expired from then on

        AssertError(ErrorCodes.NotFound, (await Engine.GetAsync(Bucket, Key("kv/session"), Ct)).Error);
        AssertError(ErrorCodes.NotFound, (await Engine.StatAsync(Bucket, Key("kv/session"), Ct)).Error);
        AssertError(ErrorCodes.NotFound, (await Engine.OpenReadAsync(Bucket, Key("kv/session"), Ct)).Error);
        Assert.Equal(["kv/forever"], await ListAsync("kv"));
        Assert.True((await Engine.GetAsync(Bucket, Key("kv/forever"), Ct)).IsSuccess);
        Assert.True(File.Exists(PathOf("kv/session"))); // invisible at once, reclaimed later
    }

    [Fact]
    public async Task Put_CreateOnlyOverExpiredEntry_SucceedsAsAFreshObject()
    {
        var first = await PutAsync("kv/k", [1], new PutOptions
        {
            ExpiresUtc = _clock.GetUtcNow() + Ttl,
            ContentType = "text/old",
            Metadata = new Dictionary<string, string> { ["old"] = "1" },
        });
        AssertError(ErrorCodes.AlreadyExists, (await TryPutAsync("kv/k", [2], new PutOptions { Precondition = new WritePrecondition.MustNotExist() })).Error);
        _clock.Advance(Ttl + TimeSpan.FromHours(1));

        var second = await TryPutAsync("kv/k", [2, 2], new PutOptions { Precondition = new WritePrecondition.MustNotExist() });

        Assert.True(second.IsSuccess, second.Error?.Message);
        Assert.Null(second.Value.ExpiresUtc);
        Assert.Equal(_clock.GetUtcNow(), second.Value.CreatedUtc);
        Assert.NotEqual(first.CreatedUtc, second.Value.CreatedUtc);
        Assert.Null(second.Value.ContentType); // nothing of the expired entry carries over
        Assert.Empty(second.Value.Metadata);
        var got = (await Engine.GetAsync(Bucket, Key("kv/k"), Ct)).Value;
        Assert.Equal(SHA256.HashData([2, 2]), got.Sha256);
        Assert.Null((await Metadata.GetAsync(Bucket, "kv/k", Ct))!.ExpiresUtc);
        Assert.Equal(0, await Engine.ReclaimExpiredAsync(100, Ct));
        Assert.Equal(SHA256.HashData([2, 2]), (await Engine.GetAsync(Bucket, Key("kv/k"), Ct)).Value.Sha256);
    }

    [Fact]
    public async Task Put_IfMatchOnExpiredEntry_PreconditionFailed()
    {
        var first = await PutAsync("kv/k", [1], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl });
        _clock.Advance(Ttl);

        var cas = await TryPutAsync("kv/k", [2], new PutOptions { Precondition = new WritePrecondition.ETagMatches([first.ETag]) });
        var ifExists = await TryPutAsync("kv/k", [2], new PutOptions { Precondition = new WritePrecondition.MustExist() });

        AssertError(ErrorCodes.PreconditionFailed, cas.Error);
        AssertError(ErrorCodes.PreconditionFailed, ifExists.Error);
    }

    [Fact]
    public async Task ReclaimExpired_ExpiredEntries_DeletesFilesAndRecordsUpToTheLimit()
    {
        for (var i = 0; i < 3; i++)
        {
            await PutAsync($"kv/{i}", [(byte)i], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl + TimeSpan.FromSeconds(i) });
        }

        await PutAsync("kv/later", [9], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + TimeSpan.FromDays(1) });
        await PutAsync("kv/never", [9]);
        Assert.Equal(0, await Engine.ReclaimExpiredAsync(100, Ct));
        _clock.Advance(Ttl + TimeSpan.FromSeconds(10));

        Assert.Equal(2, await Engine.ReclaimExpiredAsync(2, Ct));
        Assert.Equal(1, await Engine.ReclaimExpiredAsync(2, Ct));
        Assert.Equal(0, await Engine.ReclaimExpiredAsync(2, Ct));

        for (var i = 0; i < 3; i++)
        {
            Assert.False(File.Exists(PathOf($"kv/{i}")));
            Assert.Null(await Metadata.GetAsync(Bucket, $"kv/{i}", Ct));
        }

        Assert.Equal(["kv/later", "kv/never"], await ListAsync("kv"));
    }

    [Fact]
    public async Task ReclaimExpired_EntryReplacedAfterItWasListed_IsNotDeleted()
    {
        await PutAsync("kv/k", [1], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl });
        _clock.Advance(Ttl);
        // The sweeper's list was read before a client replaced the entry with one that never expires.
        var listed = await Metadata.GetExpiredAsync(Bucket, _clock.GetUtcNow(), 10, Ct);
        Assert.Single(listed);
        await PutAsync("kv/k", [2, 2]);
        var sweeper = new ObjectEngine(Stack.Blobs, new StaleExpiryList(Metadata, listed), Engine.Buckets, _clock);

        var reclaimed = await sweeper.ReclaimExpiredAsync(10, Ct);

        Assert.Equal(0, reclaimed);
        var (record, content) = (await Engine.OpenReadAsync(Bucket, Key("kv/k"), Ct)).Value;
        await using (content)
        {
            Assert.Equal([2, 2], await ReadAllAsync(content));
            Assert.Null(record.ExpiresUtc);
        }
    }

    [Fact]
    public async Task Move_OverAMasterWithSlaves_IsAConflictAndChangesNothing()
    {
        await PutAsync("img/a.jpg", [1]);
        var slave = await Engine.PutSlaveAsync(Bucket, Key("img/a.jpg"), "_s", null, overwrite: false, new MemoryStream([2]), new PutOptions(), Ct);
        await PutAsync("img/b.jpg", [3]);

        var other = await Engine.MoveAsync(Bucket, Key("img/b.jpg"), Key("img/a.jpg"), overwrite: true, Ct);
        var own = await Engine.MoveAsync(Bucket, Key(slave.Value!.Key), Key("img/a.jpg"), overwrite: true, Ct);

        Assert.Equal(ErrorCodes.Conflict, other.Error?.Code);
        Assert.Equal(ErrorCodes.Conflict, own.Error?.Code);
        Assert.Equal([1], await File.ReadAllBytesAsync(PathOf("img/a.jpg"), Ct));
        Assert.Equal([slave.Value.Key], await Metadata.GetSlaveKeysAsync(Bucket, "img/a.jpg", Ct));
    }

    [Fact]
    public async Task ReclaimExpired_KeyBusyWithALongAppend_IsSkippedNotWaitedFor()
    {
        await PutAsync("kv/busy", [1], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl, Appendable = true });
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var append = Task.Run(() => Engine.AppendAsync(Bucket, Key("kv/busy"), new StalledBody(started, release.Task), new ChangeOptions(), Ct), Ct);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        _clock.Advance(Ttl); // it expires while the append streams

        var sweep = Engine.ReclaimExpiredAsync(10, Ct);
        var finished = await Task.WhenAny(sweep, Task.Delay(TimeSpan.FromSeconds(20), Ct));

        Assert.Same(sweep, finished); // the sweeper moved on instead of waiting behind the append
        Assert.Equal(0, await sweep);
        release.TrySetResult();
        await append.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(1, await Engine.ReclaimExpiredAsync(10, Ct)); // the next round takes it
        Assert.False(File.Exists(PathOf("kv/busy")));
    }

    /// <summary>A body that signals its first read, then blocks until released and ends.</summary>
    private sealed class StalledBody(TaskCompletionSource started, Task release) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => 0; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            started.TrySetResult();
            await release.WaitAsync(cancellationToken);
            return 0;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Expiry_FileReplacedBehindDepotsBack_DoesNotCarryOver()
    {
        await PutAsync("kv/r", [1], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl });
        // An operator moves another file into place (a new inode): it is not the entry that was given a TTL.
        var replacement = PathOf("kv/r") + ".new";
        await File.WriteAllBytesAsync(replacement, [7, 7, 7], Ct);
        File.Move(replacement, PathOf("kv/r"), overwrite: true);
        _clock.Advance(Ttl);

        var record = await Engine.GetAsync(Bucket, Key("kv/r"), Ct);
        var reclaimed = await Engine.ReclaimExpiredAsync(10, Ct);

        Assert.True(record.IsSuccess);
        Assert.Null(record.Value!.ExpiresUtc);
        Assert.Equal(0, reclaimed);
        Assert.Equal([7, 7, 7], await File.ReadAllBytesAsync(PathOf("kv/r"), Ct));
    }

    [Fact]
    public async Task Expiry_FileChangedInPlaceBehindDepotsBack_StillExpires()
    {
        await PutAsync("kv/p", [1], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl });
        await using (var stream = new FileStream(PathOf("kv/p"), FileMode.Append))
        {
            stream.Write([2, 3]);
        }

        _clock.Advance(Ttl);

        Assert.Equal(ErrorCodes.NotFound, (await Engine.GetAsync(Bucket, Key("kv/p"), Ct)).Error?.Code);
    }

    [Fact]
    public async Task ReclaimExpired_FileDeletedBehindDepotsBack_RemovesTheRecord()
    {
        await PutAsync("kv/k", [1], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl });
        File.Delete(PathOf("kv/k"));
        _clock.Advance(Ttl);

        await Engine.ReclaimExpiredAsync(10, Ct);

        Assert.Null(await Metadata.GetAsync(Bucket, "kv/k", Ct));
        Assert.Empty(await Metadata.GetExpiredAsync(Bucket, _clock.GetUtcNow(), 10, Ct));
    }

    [Fact]
    public async Task ReclaimExpired_MasterWithSlaves_DeletesBoth()
    {
        await PutAsync("img/photo.jpg", [1], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl });
        Assert.True((await PutSlaveAsync("img/photo.jpg", "_s", null, [2])).IsSuccess);
        _clock.Advance(Ttl);

        Assert.Equal(1, await Engine.ReclaimExpiredAsync(10, Ct));

        Assert.False(File.Exists(PathOf("img/photo.jpg")));
        Assert.False(File.Exists(PathOf("img/photo_s.jpg")));
        Assert.Null(await Metadata.GetAsync(Bucket, "img/photo_s.jpg", Ct));
    }

    [Fact]
    public async Task Delete_ExpiredEntry_NotFoundButFileAndRecordGone()
    {
        await PutAsync("kv/k", [1], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl });
        _clock.Advance(Ttl);

        var deleted = await Engine.DeleteAsync(Bucket, Key("kv/k"), null, Ct);

        AssertError(ErrorCodes.NotFound, deleted.Error);
        Assert.False(File.Exists(PathOf("kv/k")));
        Assert.Null(await Metadata.GetAsync(Bucket, "kv/k", Ct));
    }

    [Fact]
    public async Task Changes_ToExpiredEntry_NotFound()
    {
        await PutAsync("kv/k", [1], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl, Appendable = true });
        _clock.Advance(Ttl);

        AssertError(ErrorCodes.NotFound, (await Engine.AppendAsync(Bucket, Key("kv/k"), new MemoryStream([2]), new ChangeOptions(), Ct)).Error);
        AssertError(ErrorCodes.NotFound, (await Engine.TruncateAsync(Bucket, Key("kv/k"), 0, new ChangeOptions(), Ct)).Error);
        AssertError(ErrorCodes.NotFound, (await UpdateMetadataAsync("kv/k", new Dictionary<string, string> { ["a"] = "b" })).Error);
        AssertError(ErrorCodes.NotFound, (await PutSlaveAsync("kv/k", "_s", null, [3])).Error);
        Assert.Equal([1], await File.ReadAllBytesAsync(PathOf("kv/k"), Ct));
    }

    [Fact]
    public async Task Changes_ToExpiringEntry_KeepItsExpiry()
    {
        var expires = _clock.GetUtcNow() + Ttl;
        await PutAsync("kv/k", [1], new PutOptions { ExpiresUtc = expires, Appendable = true });

        var appended = await Engine.AppendAsync(Bucket, Key("kv/k"), new MemoryStream([2]), new ChangeOptions(), Ct);
        var updated = await UpdateMetadataAsync("kv/k", new Dictionary<string, string> { ["a"] = "b" });

        Assert.Equal(expires, appended.Value.ExpiresUtc);
        Assert.Equal(expires, updated.Value.ExpiresUtc);
        Assert.Equal(expires, (await Metadata.GetAsync(Bucket, "kv/k", Ct))!.ExpiresUtc);
    }

    // ---- take (get-and-delete) ----

    [Fact]
    public async Task Take_Existing_ReturnsExactBytesAndRecordThenObjectIsGone()
    {
        var bytes = TestBytes.Seeded(100_000, seed: 1);
        var put = await PutAsync("kv/take", bytes, new PutOptions { ContentType = "application/octet-stream" });

        var taken = await Engine.TakeAsync(Bucket, Key("kv/take"), null, Ct);

        Assert.True(taken.IsSuccess, taken.Error?.Message);
        var (record, content) = taken.Value;
        await using (content)
        {
            Assert.Equal(bytes, await ReadAllAsync(content));
        }

        Assert.Equal(put.ETag, record.ETag);
        Assert.Equal(SHA256.HashData(bytes), record.Sha256);
        Assert.Equal(bytes.Length, record.Size);
        Assert.Equal("application/octet-stream", record.ContentType);
        AssertError(ErrorCodes.NotFound, (await Engine.GetAsync(Bucket, Key("kv/take"), Ct)).Error);
        Assert.False(File.Exists(PathOf("kv/take")));
        Assert.Null(await Metadata.GetAsync(Bucket, "kv/take", Ct));
        AssertError(ErrorCodes.NotFound, (await Engine.TakeAsync(Bucket, Key("kv/take"), null, Ct)).Error);
    }

    [Fact]
    public async Task Take_Missing_NotFound() =>
        AssertError(ErrorCodes.NotFound, (await Engine.TakeAsync(Bucket, Key("kv/missing"), null, Ct)).Error);

    [Fact]
    public async Task Take_Directory_Conflict()
    {
        await PutAsync("dir/inside", [1]);

        AssertError(ErrorCodes.Conflict, (await Engine.TakeAsync(Bucket, Key("dir"), null, Ct)).Error);
        Assert.True(File.Exists(PathOf("dir/inside")));
    }

    [Fact]
    public async Task Take_Expired_NotFound()
    {
        await PutAsync("kv/k", [1], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl });
        _clock.Advance(Ttl);

        AssertError(ErrorCodes.NotFound, (await Engine.TakeAsync(Bucket, Key("kv/k"), null, Ct)).Error);
    }

    [Fact]
    public async Task Take_MasterWithSlaves_ConflictAndBothIntact()
    {
        await PutAsync("img/a.jpg", [1]);
        Assert.True((await PutSlaveAsync("img/a.jpg", "_s", null, [2])).IsSuccess);

        AssertError(ErrorCodes.Conflict, (await Engine.TakeAsync(Bucket, Key("img/a.jpg"), null, Ct)).Error);

        Assert.True((await Engine.GetAsync(Bucket, Key("img/a.jpg"), Ct)).IsSuccess);
        Assert.True((await Engine.GetAsync(Bucket, Key("img/a_s.jpg"), Ct)).IsSuccess);
        Assert.Equal(["img/a_s.jpg"], await Metadata.GetSlaveKeysAsync(Bucket, "img/a.jpg", Ct));
    }

    [Fact]
    public async Task Take_Slave_LeavesMasterWithoutSlaves()
    {
        await PutAsync("img/a.jpg", [1]);
        await PutSlaveAsync("img/a.jpg", "_s", null, [2]);

        var taken = await Engine.TakeAsync(Bucket, Key("img/a_s.jpg"), null, Ct);

        Assert.True(taken.IsSuccess, taken.Error?.Message);
        await taken.Value.Content.DisposeAsync();
        Assert.Equal("img/a.jpg", taken.Value.Record.Master);
        Assert.Empty(await Metadata.GetSlaveKeysAsync(Bucket, "img/a.jpg", Ct));
        Assert.True((await Engine.GetAsync(Bucket, Key("img/a.jpg"), Ct)).IsSuccess);
    }

    [Fact]
    public async Task Take_IfMatchOtherETag_PreconditionFailedAndIntact()
    {
        var put = await PutAsync("kv/k", [1, 2, 3]);

        var taken = await Engine.TakeAsync(Bucket, Key("kv/k"), new WritePrecondition.ETagMatches(["\"" + new string('a', 64) + "\""]), Ct);

        AssertError(ErrorCodes.PreconditionFailed, taken.Error);
        Assert.Equal(put.ETag, taken.Error!.Extensions!["etag"]);
        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(PathOf("kv/k"), Ct));
        Assert.Equal(put.Sha256, (await Engine.GetAsync(Bucket, Key("kv/k"), Ct)).Value.Sha256);
    }

    [Fact]
    public async Task Take_IfMatchCurrentETag_Takes()
    {
        var put = await PutAsync("kv/k", [1, 2, 3]);

        var taken = await Engine.TakeAsync(Bucket, Key("kv/k"), new WritePrecondition.ETagMatches([put.ETag]), Ct);

        Assert.True(taken.IsSuccess, taken.Error?.Message);
        await using (taken.Value.Content)
        {
            Assert.Equal([1, 2, 3], await ReadAllAsync(taken.Value.Content));
        }

        Assert.False(File.Exists(PathOf("kv/k")));
    }

    // ---- metadata ----

    [Fact]
    public async Task UpdateMetadata_Replace_ChangesOnlyMetadata()
    {
        var put = await PutAsync("doc.txt", [1, 2, 3], new PutOptions
        {
            ContentType = "text/plain",
            Metadata = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" },
        });
        var replacement = new Dictionary<string, string> { ["c"] = "3", ["name.with-all_chars"] = "ünïcödé 😀" };

        var updated = await UpdateMetadataAsync("doc.txt", replacement);

        Assert.True(updated.IsSuccess, updated.Error?.Message);
        Assert.Equal(replacement.OrderBy(p => p.Key), updated.Value.Metadata.OrderBy(p => p.Key));
        var got = (await Engine.GetAsync(Bucket, Key("doc.txt"), Ct)).Value;
        var stored = (await Metadata.GetAsync(Bucket, "doc.txt", Ct))!;
        foreach (var record in new[] { updated.Value, got, stored })
        {
            Assert.Equal(replacement.OrderBy(p => p.Key), record.Metadata.OrderBy(p => p.Key));
            Assert.Equal(put.ETag, record.ETag);
            Assert.Equal(put.Size, record.Size);
            Assert.Equal(put.BlobVersion, record.BlobVersion);
            Assert.Equal(put.CreatedUtc, record.CreatedUtc);
            Assert.Equal("text/plain", record.ContentType);
        }

        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(PathOf("doc.txt"), Ct));
    }

    [Fact]
    public async Task UpdateMetadata_ChangeSeesCurrentMetadata()
    {
        await PutAsync("doc.txt", [1], new PutOptions { Metadata = new Dictionary<string, string> { ["a"] = "1" } });

        var updated = await Engine.UpdateMetadataAsync(Bucket, Key("doc.txt"), current =>
            new Dictionary<string, string>(current) { ["b"] = current["a"] + "+" }, null, Ct);

        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "1+" }.OrderBy(p => p.Key), updated.Value.Metadata.OrderBy(p => p.Key));
    }

    [Fact]
    public async Task UpdateMetadata_ChangeReturnsError_ReturnedAsIsAndUnchanged()
    {
        await PutAsync("doc.txt", [1], new PutOptions { Metadata = new Dictionary<string, string> { ["a"] = "1" } });

        var updated = await Engine.UpdateMetadataAsync(Bucket, Key("doc.txt"), _ => DepotError.InvalidRequest("no thanks"), null, Ct);

        Assert.Equal("no thanks", updated.Error?.Message);
        Assert.Equal("1", (await Metadata.GetAsync(Bucket, "doc.txt", Ct))!.Metadata["a"]);
    }

    [Theory]
    [MemberData(nameof(InvalidMetadata.Names), MemberType = typeof(InvalidMetadata))]
    public async Task UpdateMetadata_InvalidEntry_InvalidRequestAndUnchanged(string caseName)
    {
        var (name, value) = InvalidMetadata.All[caseName];
        await PutAsync("doc.txt", [1], new PutOptions { Metadata = new Dictionary<string, string> { ["keep"] = "me" } });

        var updated = await UpdateMetadataAsync("doc.txt", new Dictionary<string, string> { [name] = value });

        AssertError(ErrorCodes.InvalidRequest, updated.Error);
        Assert.Equal(["keep"], (await Metadata.GetAsync(Bucket, "doc.txt", Ct))!.Metadata.Keys);
        Assert.Equal(["keep"], (await Engine.GetAsync(Bucket, Key("doc.txt"), Ct)).Value.Metadata.Keys);
    }

    [Theory]
    [MemberData(nameof(InvalidMetadata.Names), MemberType = typeof(InvalidMetadata))]
    public async Task Put_InvalidMetadataEntry_InvalidRequestAndNothingStored(string caseName)
    {
        var (name, value) = InvalidMetadata.All[caseName];

        var put = await TryPutAsync("doc.txt", [1], new PutOptions { Metadata = new Dictionary<string, string> { [name] = value } });

        AssertError(ErrorCodes.InvalidRequest, put.Error);
        Assert.False(File.Exists(PathOf("doc.txt")));
    }

    [Fact]
    public async Task UpdateMetadata_TooManyEntries_InvalidRequest()
    {
        await PutAsync("doc.txt", [1]);

        var updated = await UpdateMetadataAsync("doc.txt", Enumerable.Range(0, 65).ToDictionary(i => $"k{i}", i => "v"));

        AssertError(ErrorCodes.InvalidRequest, updated.Error);
        Assert.Empty((await Metadata.GetAsync(Bucket, "doc.txt", Ct))!.Metadata);
    }

    [Fact]
    public async Task UpdateMetadata_EverythingAtTheDefaultLimits_Accepted()
    {
        await PutAsync("doc.txt", [1]);
        var metadata = Enumerable.Range(0, 63).ToDictionary(i => $"k{i}", i => "v");
        metadata[new string('n', 64)] = new string('é', 128); // 64-byte name, 256-byte value

        var updated = await UpdateMetadataAsync("doc.txt", metadata);

        Assert.True(updated.IsSuccess, updated.Error?.Message);
        Assert.Equal(64, (await Metadata.GetAsync(Bucket, "doc.txt", Ct))!.Metadata.Count);
    }

    [Theory]
    [InlineData("eightchr", "sixteen-bytes-ok", true)]
    [InlineData("ninechars", "v", false)]
    [InlineData("name", "seventeen-bytes-x", false)]
    [InlineData("name", "éééééééé", true)] // 16 bytes
    [InlineData("name", "ééééééééa", false)] // 17 bytes, 9 characters
    public async Task UpdateMetadata_BucketWithCustomLimits_UsesThem(string name, string value, bool accepted)
    {
        await PutAsync("doc.txt", [1], bucket: Tight);

        var updated = await UpdateMetadataAsync("doc.txt", new Dictionary<string, string> { [name] = value }, Tight);

        if (accepted)
        {
            Assert.True(updated.IsSuccess, updated.Error?.Message);
        }
        else
        {
            AssertError(ErrorCodes.InvalidRequest, updated.Error);
        }

        // The same name and value are fine in a bucket with default limits.
        await PutAsync("doc.txt", [1]);
        Assert.True((await UpdateMetadataAsync("doc.txt", new Dictionary<string, string> { [name] = value })).IsSuccess);
    }

    [Fact]
    public async Task Metadata_BucketWithCustomEntryLimit_RefusesAThirdOnUpdateAndPut()
    {
        await PutAsync("doc.txt", [1], bucket: Tight);
        var two = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" };
        var three = new Dictionary<string, string>(two) { ["c"] = "3" };

        Assert.True((await UpdateMetadataAsync("doc.txt", two, Tight)).IsSuccess);
        AssertError(ErrorCodes.InvalidRequest, (await UpdateMetadataAsync("doc.txt", three, Tight)).Error);
        AssertError(ErrorCodes.InvalidRequest, (await TryPutAsync("other.txt", [1], new PutOptions { Metadata = three }, Tight)).Error);
        Assert.False(File.Exists(_temp.Combine(Tight, "other.txt")));
    }

    [Fact]
    public async Task UpdateMetadata_Missing_NotFound() =>
        AssertError(ErrorCodes.NotFound, (await UpdateMetadataAsync("missing.txt", new Dictionary<string, string>())).Error);

    [Fact]
    public async Task UpdateMetadata_Directory_Conflict()
    {
        await PutAsync("dir/inside", [1]);

        AssertError(ErrorCodes.Conflict, (await UpdateMetadataAsync("dir", new Dictionary<string, string>())).Error);
    }

    [Fact]
    public async Task UpdateMetadata_IfMatchOtherETag_PreconditionFailedAndUnchanged()
    {
        var put = await PutAsync("doc.txt", [1], new PutOptions { Metadata = new Dictionary<string, string> { ["a"] = "1" } });

        var updated = await Engine.UpdateMetadataAsync(Bucket, Key("doc.txt"), _ => new Dictionary<string, string>(),
            new WritePrecondition.ETagMatches(["\"" + new string('f', 64) + "\""]), Ct);

        AssertError(ErrorCodes.PreconditionFailed, updated.Error);
        Assert.Equal(put.ETag, updated.Error!.Extensions!["etag"]);
        Assert.Equal("1", (await Metadata.GetAsync(Bucket, "doc.txt", Ct))!.Metadata["a"]);
    }

    // ---- slave files ----

    public static TheoryData<string, string, string?, string> SlaveKeys => new()
    {
        { "M00/00/0A/photo.jpg", "_150x150", null, "M00/00/0A/photo_150x150.jpg" },
        { "M00/00/0A/photo.jpg", "_150x150", "png", "M00/00/0A/photo_150x150.png" },
        { "M00/00/0A/photo", "-small", null, "M00/00/0A/photo-small" },
        { "M00/00/0A/photo", "-small", "webp", "M00/00/0A/photo-small.webp" },
        { "a.b/c.d/archive.tar.gz", "_x", null, "a.b/c.d/archive.tar_x.gz" },
        { "top.txt", "_v2", null, "top_v2.txt" },
    };

    [Theory]
    [MemberData(nameof(SlaveKeys))]
    public async Task PutSlave_Master_StoredAtDerivedKeyAndLinked(string master, string prefix, string? extension, string expected)
    {
        await PutAsync(master, [1]);
        var bytes = TestBytes.Seeded(5000, seed: 2);

        var slave = await PutSlaveAsync(master, prefix, extension, bytes);

        Assert.True(slave.IsSuccess, slave.Error?.Message);
        Assert.Equal(expected, slave.Value.Key);
        Assert.Equal(master, slave.Value.Master);
        Assert.Equal(SHA256.HashData(bytes), slave.Value.Sha256);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(PathOf(expected), Ct));
        Assert.Equal(master, (await Metadata.GetAsync(Bucket, expected, Ct))!.Master);
        Assert.Equal([expected], await Metadata.GetSlaveKeysAsync(Bucket, master, Ct));
    }

    [Fact]
    public async Task PutSlave_MasterMissing_NotFoundAndNothingStored()
    {
        var slave = await PutSlaveAsync("img/none.jpg", "_s", null, [1]);

        AssertError(ErrorCodes.NotFound, slave.Error);
        Assert.False(File.Exists(_temp.Combine(Bucket, "img", "none_s.jpg")));
        Assert.Equal(0, Stack.Blobs.CountStagedFiles(Bucket));
    }

    [Fact]
    public async Task PutSlave_MasterIsASlave_Conflict()
    {
        await PutAsync("img/a.jpg", [1]);
        await PutSlaveAsync("img/a.jpg", "_s", null, [2]);

        var slave = await PutSlaveAsync("img/a_s.jpg", "_t", null, [3]);

        AssertError(ErrorCodes.Conflict, slave.Error);
        Assert.False(File.Exists(_temp.Combine(Bucket, "img", "a_s_t.jpg")));
    }

    [Fact]
    public async Task PutSlave_OverwritingAFileThatHasSlaves_ConflictAndUnchanged()
    {
        // "a_s.jpg" is an ordinary master with a slave of its own; making it a slave of "a.jpg" would chain slaves.
        await PutAsync("img/a.jpg", [1]);
        await PutAsync("img/a_s.jpg", [2]);
        await PutSlaveAsync("img/a_s.jpg", "_t", null, [3]);

        var slave = await PutSlaveAsync("img/a.jpg", "_s", null, [4], overwrite: true);

        AssertError(ErrorCodes.Conflict, slave.Error);
        Assert.Equal([2], await File.ReadAllBytesAsync(PathOf("img/a_s.jpg"), Ct));
        Assert.Null((await Metadata.GetAsync(Bucket, "img/a_s.jpg", Ct))!.Master);
        Assert.Empty(await Metadata.GetSlaveKeysAsync(Bucket, "img/a.jpg", Ct));
        Assert.Equal(["img/a_s_t.jpg"], await Metadata.GetSlaveKeysAsync(Bucket, "img/a_s.jpg", Ct));
    }

    [Fact]
    public async Task PutSlave_Existing_AlreadyExistsUnlessOverwrite()
    {
        await PutAsync("img/a.jpg", [1]);
        await PutSlaveAsync("img/a.jpg", "_s", null, [2]);

        var again = await PutSlaveAsync("img/a.jpg", "_s", null, [3]);
        AssertError(ErrorCodes.AlreadyExists, again.Error);
        Assert.Equal([2], await File.ReadAllBytesAsync(PathOf("img/a_s.jpg"), Ct));

        var overwritten = await PutSlaveAsync("img/a.jpg", "_s", null, [4], overwrite: true);
        Assert.True(overwritten.IsSuccess, overwritten.Error?.Message);
        Assert.Equal([4], await File.ReadAllBytesAsync(PathOf("img/a_s.jpg"), Ct));
        Assert.Equal(["img/a_s.jpg"], await Metadata.GetSlaveKeysAsync(Bucket, "img/a.jpg", Ct));
    }

    [Theory]
    [InlineData("", null, ErrorCodes.InvalidPath)]
    [InlineData("/x", null, ErrorCodes.InvalidPath)]
    [InlineData("..", null, ErrorCodes.InvalidPath)]
    [InlineData("_s", "p/g", ErrorCodes.InvalidRequest)]
    [InlineData("_s", "toolong", ErrorCodes.InvalidRequest)]
    public async Task PutSlave_BadPrefixOrExtension_RefusedAndNothingStored(string prefix, string? extension, string code)
    {
        await PutAsync("img/a.jpg", [1]);

        var slave = await PutSlaveAsync("img/a.jpg", prefix, extension, [2]);

        AssertError(code, slave.Error);
        Assert.Equal(["a.jpg"], Directory.EnumerateFileSystemEntries(_temp.Combine(Bucket, "img")).Select(Path.GetFileName));
        Assert.Empty(await Metadata.GetSlaveKeysAsync(Bucket, "img/a.jpg", Ct));
    }

    [Fact]
    public async Task Delete_Master_DeletesItsSlavesToo()
    {
        await PutAsync("img/a.jpg", [1]);
        await PutAsync("img/b.jpg", [1]);
        await PutSlaveAsync("img/a.jpg", "_s", null, [2]);
        await PutSlaveAsync("img/a.jpg", "_m", "png", [3]);
        await PutSlaveAsync("img/b.jpg", "_s", null, [4]);

        var deleted = await Engine.DeleteAsync(Bucket, Key("img/a.jpg"), null, Ct);

        Assert.True(deleted.IsSuccess, deleted.Error?.Message);
        foreach (var key in new[] { "img/a.jpg", "img/a_s.jpg", "img/a_m.png" })
        {
            Assert.False(File.Exists(_temp.Combine(Bucket, key)), key);
            Assert.Null(await Metadata.GetAsync(Bucket, key, Ct));
        }

        Assert.Empty(await Metadata.GetSlaveKeysAsync(Bucket, "img/a.jpg", Ct));
        Assert.Equal(["img/b.jpg", "img/b_s.jpg"], await ListAsync("img")); // another master's slaves stay
    }

    [Fact]
    public async Task Delete_MasterWithOtherETag_PreconditionFailedAndSlavesKept()
    {
        await PutAsync("img/a.jpg", [1]);
        await PutSlaveAsync("img/a.jpg", "_s", null, [2]);

        var deleted = await Engine.DeleteAsync(Bucket, Key("img/a.jpg"), new WritePrecondition.ETagMatches(["\"" + new string('0', 64) + "\""]), Ct);

        AssertError(ErrorCodes.PreconditionFailed, deleted.Error);
        Assert.Equal(["img/a.jpg", "img/a_s.jpg"], await ListAsync("img"));
    }

    [Fact]
    public async Task Delete_Slave_KeepsMaster()
    {
        await PutAsync("img/a.jpg", [1]);
        await PutSlaveAsync("img/a.jpg", "_s", null, [2]);

        Assert.True((await Engine.DeleteAsync(Bucket, Key("img/a_s.jpg"), null, Ct)).IsSuccess);

        Assert.Equal(["img/a.jpg"], await ListAsync("img"));
        Assert.Empty(await Metadata.GetSlaveKeysAsync(Bucket, "img/a.jpg", Ct));
    }

    [Fact]
    public async Task Move_Master_SlavesFollowToTheNewKey()
    {
        await PutAsync("img/a.jpg", [1]);
        await PutSlaveAsync("img/a.jpg", "_s", null, [2]);

        var moved = await Engine.MoveAsync(Bucket, Key("img/a.jpg"), Key("archive/renamed.jpg"), overwrite: false, Ct);

        Assert.True(moved.IsSuccess, moved.Error?.Message);
        Assert.Equal(["img/a_s.jpg"], await Metadata.GetSlaveKeysAsync(Bucket, "archive/renamed.jpg", Ct));
        Assert.Empty(await Metadata.GetSlaveKeysAsync(Bucket, "img/a.jpg", Ct));
        Assert.Equal("archive/renamed.jpg", (await Engine.GetAsync(Bucket, Key("img/a_s.jpg"), Ct)).Value.Master);
        // Deleting the master under its new key still takes the slave with it.
        Assert.True((await Engine.DeleteAsync(Bucket, Key("archive/renamed.jpg"), null, Ct)).IsSuccess);
        Assert.False(File.Exists(_temp.Combine(Bucket, "img", "a_s.jpg")));
    }

    [Fact]
    public async Task Move_DirectoryHoldingMasterAndSlaves_LinksFollow()
    {
        await PutAsync("album/photo.jpg", [1]);
        await PutAsync("albums/photo.jpg", [1]);
        await PutSlaveAsync("album/photo.jpg", "_s", null, [2]);
        await PutSlaveAsync("albums/photo.jpg", "_s", null, [3]);

        var moved = await Engine.MoveAsync(Bucket, Key("album"), Key("archive/2024"), overwrite: false, Ct);

        Assert.True(moved.IsSuccess, moved.Error?.Message);
        Assert.Equal(["archive/2024/photo_s.jpg"], await Metadata.GetSlaveKeysAsync(Bucket, "archive/2024/photo.jpg", Ct));
        Assert.Empty(await Metadata.GetSlaveKeysAsync(Bucket, "album/photo.jpg", Ct));
        Assert.Equal(["albums/photo_s.jpg"], await Metadata.GetSlaveKeysAsync(Bucket, "albums/photo.jpg", Ct)); // a sibling with a longer name is untouched
    }

    // ---- usage ----

    [Fact]
    public async Task GetUsage_CountsAndSumsPerBucket()
    {
        Assert.Equal(new BucketUsage(0, 0), await Engine.GetUsageAsync(Bucket, Ct));
        await PutAsync("a", new byte[10]);
        await PutAsync("dir/b", new byte[20]);
        await PutAsync("dir/c", new byte[30], new PutOptions { Appendable = true });
        await PutAsync("x", new byte[1000], bucket: Other);

        Assert.Equal(new BucketUsage(3, 60), await Engine.GetUsageAsync(Bucket, Ct));
        Assert.Equal(new BucketUsage(1, 1000), await Engine.GetUsageAsync(Other, Ct));

        await PutAsync("a", new byte[15]);
        await Engine.AppendAsync(Bucket, Key("dir/c"), new MemoryStream(new byte[5]), new ChangeOptions(), Ct);
        Assert.Equal(new BucketUsage(3, 70), await Engine.GetUsageAsync(Bucket, Ct));

        await Engine.DeleteAsync(Bucket, Key("dir/b"), null, Ct);
        Assert.Equal(new BucketUsage(2, 50), await Engine.GetUsageAsync(Bucket, Ct));
        await (await Engine.TakeAsync(Bucket, Key("a"), null, Ct)).Value.Content.DisposeAsync();
        Assert.Equal(new BucketUsage(1, 35), await Engine.GetUsageAsync(Bucket, Ct));
    }

    [Fact]
    public async Task GetUsage_ExpiredEntries_CountUntilReclaimed()
    {
        await PutAsync("kv/a", new byte[7], new PutOptions { ExpiresUtc = _clock.GetUtcNow() + Ttl });
        await PutAsync("kv/b", new byte[3]);
        _clock.Advance(Ttl);

        Assert.Equal(new BucketUsage(2, 10), await Engine.GetUsageAsync(Bucket, Ct));
        await Engine.ReclaimExpiredAsync(10, Ct);
        Assert.Equal(new BucketUsage(1, 3), await Engine.GetUsageAsync(Bucket, Ct));
    }

    // ---- helpers ----

    private static ObjectKey Key(string key) => ObjectKey.Parse(key).Value;

    private string PathOf(string key, string bucket = Bucket) => Path.Combine([_temp.Combine(bucket), .. key.Split('/')]);

    private Task<Result<ObjectRecord>> TryPutAsync(string key, byte[] bytes, PutOptions? options = null, string bucket = Bucket) =>
        Engine.PutAsync(bucket, Key(key), new MemoryStream(bytes), options ?? new PutOptions(), Ct);

    private async Task<ObjectRecord> PutAsync(string key, byte[] bytes, PutOptions? options = null, string bucket = Bucket)
    {
        var put = await TryPutAsync(key, bytes, options, bucket);
        Assert.True(put.IsSuccess, put.Error?.Message);
        return put.Value;
    }

    private Task<Result<ObjectRecord>> PutSlaveAsync(string master, string prefix, string? extension, byte[] bytes, bool overwrite = false) =>
        Engine.PutSlaveAsync(Bucket, Key(master), prefix, extension, overwrite, new MemoryStream(bytes), new PutOptions(), Ct);

    private Task<Result<ObjectRecord>> UpdateMetadataAsync(string key, IReadOnlyDictionary<string, string> metadata, string bucket = Bucket) =>
        Engine.UpdateMetadataAsync(bucket, Key(key), _ => Result(metadata), null, Ct);

    // A result holds a concrete dictionary: C# has no user-defined conversion from an interface type.
    private static Result<IReadOnlyDictionary<string, string>> Result(IReadOnlyDictionary<string, string> metadata) =>
        new Dictionary<string, string>(metadata, StringComparer.Ordinal);

    /// <summary>The keys of a directory's files, recursively.</summary>
    private async Task<List<string>> ListAsync(string directory)
    {
        var page = await Engine.ListAsync(Bucket, Key(directory), new ListOptions(Recursive: true), Ct);
        Assert.True(page.IsSuccess, page.Error?.Message);
        return [.. page.Value.Entries.Where(e => !e.IsDirectory).Select(e => e.Key)];
    }

    private static async Task<byte[]> ReadAllAsync(Stream content)
    {
        using var copy = new MemoryStream();
        await content.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }

    private static void AssertError(string code, DepotError? error)
    {
        Assert.NotNull(error);
        Assert.Equal(code, error.Code);
    }

    /// <summary>A clock that moves only when told to.</summary>
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }

    /// <summary>A metadata store whose expired list is one read earlier (a sweeper racing a client's put).</summary>
    private sealed class StaleExpiryList(IMetadataStore inner, IReadOnlyList<ObjectRecord> expired) : IMetadataStore
    {
        public Task<IReadOnlyList<ObjectRecord>> GetExpiredAsync(string bucket, DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
            Task.FromResult(expired);

        public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

        public Task<ObjectRecord?> GetAsync(string bucket, string key, CancellationToken cancellationToken) => inner.GetAsync(bucket, key, cancellationToken);

        public Task<IReadOnlyDictionary<string, ObjectRecord>> GetManyAsync(string bucket, IReadOnlyCollection<string> keys, CancellationToken cancellationToken) =>
            inner.GetManyAsync(bucket, keys, cancellationToken);

        public Task PutAsync(ObjectRecord record, CancellationToken cancellationToken) => inner.PutAsync(record, cancellationToken);

        public Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken) => inner.DeleteAsync(bucket, key, cancellationToken);

        public Task DeleteTreeAsync(string bucket, string key, CancellationToken cancellationToken) => inner.DeleteTreeAsync(bucket, key, cancellationToken);

        public Task<IReadOnlyList<string>> GetSlaveKeysAsync(string bucket, string masterKey, CancellationToken cancellationToken) =>
            inner.GetSlaveKeysAsync(bucket, masterKey, cancellationToken);

        public Task<BucketUsage> GetUsageAsync(string bucket, CancellationToken cancellationToken) => inner.GetUsageAsync(bucket, cancellationToken);

        public Task BeginAppendAsync(PendingAppend append, CancellationToken cancellationToken) => inner.BeginAppendAsync(append, cancellationToken);

        public Task CompleteAppendAsync(string bucket, string key, ObjectRecord? record, CancellationToken cancellationToken) =>
            inner.CompleteAppendAsync(bucket, key, record, cancellationToken);

        public Task<IReadOnlyList<PendingAppend>> GetPendingAppendsAsync(CancellationToken cancellationToken) => inner.GetPendingAppendsAsync(cancellationToken);

        public Task MoveTreeAsync(string bucket, string from, string to, CancellationToken cancellationToken) => inner.MoveTreeAsync(bucket, from, to, cancellationToken);

        // The inner store belongs to the test's stack, which disposes it.
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
