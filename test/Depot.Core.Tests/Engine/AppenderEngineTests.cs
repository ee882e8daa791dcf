using System.Security.Cryptography;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Hashing;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Storage;
using Depot.Core.Tests.TestSupport;

namespace Depot.Core.Tests.Engine;

/// <summary>
/// Appender objects on the embedded stack (plain files + SQLite): append in place, modify and truncate by atomic rewrite,
/// crash undo at start. After every change the recorded SHA-256 is the hash of the bytes on disk and of the bytes a
/// reader gets, whatever the change did to the resumable hash state and its 16 MiB checkpoints.
/// </summary>
public sealed class AppenderEngineTests : IAsyncLifetime
{
    private const string Bucket = "main";

    /// <summary>Objects of at most <see cref="SmallMaxObjectSize"/> bytes.</summary>
    private const string Small = "small";

    private const long SmallMaxObjectSize = 4096;
    private const int Checkpoint = (int)AppenderHash.CheckpointInterval;
    private readonly TempDirectory _temp = new();
    private FileSystemEngine? _stack;
    private ObjectEngine? _rewriting;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FileSystemEngine Stack => _stack ?? throw new InvalidOperationException("Not initialised.");

    /// <summary>The stack's engine, or one over the same stores that cannot write in place (see <see cref="UseRewriteOnly"/>).</summary>
    private ObjectEngine Engine => _rewriting ?? Stack.Engine;

    public async ValueTask InitializeAsync() => _stack = await OpenStackAsync();

    public async ValueTask DisposeAsync()
    {
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }

        _temp.Dispose();
    }

    // ---- append ----

    [Fact]
    public async Task Put_Appendable_RecordIsAppendableWithHashStateOfItsBytes()
    {
        var bytes = TestBytes.Seeded(5000, seed: 1);

        var record = await CreateAsync("a.log", bytes);

        Assert.True(record.Appendable);
        Assert.NotNull(record.HashState);
        Assert.Equal(SHA256.HashData(bytes), AppenderHash.Import(record.HashState).Digest());
        await AssertObjectIsAsync("a.log", bytes);
    }

    [Fact]
    public async Task Put_AppendableEmptyBody_AcceptsAppends()
    {
        await CreateAsync("empty.log", []);
        var chunk = TestBytes.Seeded(10, seed: 2);

        var appended = await AppendAsync("empty.log", chunk);

        Assert.True(appended.IsSuccess, appended.Error?.Message);
        await AssertObjectIsAsync("empty.log", chunk);
    }

    [Fact]
    public async Task Append_ManyRandomSizesPast16MiB_Sha256MatchesBytesAfterEveryChange()
    {
        var model = new MemoryStream();
        var initial = TestBytes.Seeded(1000, seed: 3);
        await CreateAsync("big.log", initial);
        model.Write(initial);
        await AssertObjectIsAsync("big.log", Written(model));

        // Small random appends (one empty), one large one to just below the 16 MiB checkpoint, small ones that land
        // exactly on it, then one past it. Only steps near 16 MiB cost time, so there are few of them.
        var random = new Random(4);
        var seed = 100;
        for (var i = 0; i < 10; i++)
        {
            await AppendAndCheckAsync("big.log", model, i == 3 ? 0 : random.Next(1, 64 << 10), seed++);
        }

        await AppendAndCheckAsync("big.log", model, (int)(Checkpoint - 50_000 - model.Length), seed++);
        while (model.Length < Checkpoint)
        {
            await AppendAndCheckAsync("big.log", model, (int)Math.Min(random.Next(1, 32 << 10), Checkpoint - model.Length), seed++);
        }

        var landedOnCheckpoint = model.Length == Checkpoint;
        await AppendAndCheckAsync("big.log", model, random.Next(1, 256 << 10), seed++);

        Assert.True(landedOnCheckpoint);
        Assert.Equal(1, AppenderHash.Import((await Engine.GetAsync(Bucket, Key("big.log"), Ct)).Value.HashState!).CheckpointCount);

        // Changes before, at, across and after the checkpoint; then growth past it again from a truncated state.
        await ModifyAndCheckAsync("big.log", model, offset: 100, TestBytes.Seeded(1000, seed: 200), extend: false);
        await ModifyAndCheckAsync("big.log", model, offset: Checkpoint, TestBytes.Seeded(10, seed: 201), extend: false);
        await ModifyAndCheckAsync("big.log", model, offset: Checkpoint - 5, TestBytes.Seeded(10, seed: 202), extend: false);
        await ModifyAndCheckAsync("big.log", model, offset: model.Length - 10, TestBytes.Seeded(1 << 20, seed: 203), extend: true);
        foreach (var size in new long[] { Checkpoint + 1, Checkpoint, Checkpoint - 1 })
        {
            await TruncateAndCheckAsync("big.log", model, size);
        }

        await AppendAndCheckAsync("big.log", model, (1 << 20) + 10, seed: 204);
        await TruncateAndCheckAsync("big.log", model, 5);
        await AppendAndCheckAsync("big.log", model, 100, seed: 205);
    }

    [Theory]
    [InlineData(5, 10)]
    [InlineData(10, 5)]
    public async Task Append_BodyLengthDiffersFromDeclared_InvalidRequestAndUnchanged(int declared, int actual)
    {
        var bytes = TestBytes.Seeded(3000, seed: 5);
        await CreateAsync("declared.log", bytes);

        var appended = await AppendAsync("declared.log", TestBytes.Seeded(actual, seed: 6), new ChangeOptions { ExpectedLength = declared });

        AssertError(ErrorCodes.InvalidRequest, appended.Error);
        await AssertObjectIsAsync("declared.log", bytes);
    }

    [Fact]
    public async Task Append_EightConcurrentChunks_EachChunkAppearsWholeExactlyOnce()
    {
        var initial = TestBytes.Seeded(777, seed: 7);
        await CreateAsync("concurrent.log", initial);
        // Distinct sizes from 1 KiB to 64 KiB, distinct contents.
        var chunks = Enumerable.Range(0, 8).Select(i => TestBytes.Seeded(1024 + (i * 9216), seed: 70 + i)).ToArray();

        var results = await Task.WhenAll(chunks.Select(chunk => Task.Run(() => AppendAsync("concurrent.log", chunk), Ct)));

        Assert.All(results, r => Assert.True(r.IsSuccess, r.Error?.Message));
        var record = (await Engine.GetAsync(Bucket, Key("concurrent.log"), Ct)).Value;
        Assert.Equal(initial.Length + chunks.Sum(c => c.Length), record.Size);
        var bytes = await File.ReadAllBytesAsync(FilePath("concurrent.log"), Ct);
        Assert.Equal(SHA256.HashData(bytes), record.Sha256);
        Assert.Equal(initial, bytes[..initial.Length]);
        var remaining = Enumerable.Range(0, chunks.Length).ToList();
        var position = initial.Length;
        while (position < bytes.Length)
        {
            var at = position;
            var matches = remaining.Where(i => at + chunks[i].Length <= bytes.Length && bytes.AsSpan(at, chunks[i].Length).SequenceEqual(chunks[i])).ToList();
            var match = Assert.Single(matches);
            remaining.Remove(match);
            position += chunks[match].Length;
        }

        Assert.Empty(remaining);
        // Every reported size is one of the intermediate states, all different: the appends were serialized.
        Assert.Equal(results.Length, results.Select(r => r.Value.Size).Distinct().Count());
        await AssertObjectIsAsync("concurrent.log", bytes);
    }

    [Fact]
    public async Task DirectoryMoveAndDelete_DuringAnAppendInside_AreRefusedAndTheAppendCompletes()
    {
        var old = TestBytes.Seeded(1_000, seed: 21);
        await CreateAsync("d/app.log", old);
        var first = TestBytes.Seeded(20_000, seed: 22);
        var second = TestBytes.Seeded(30_000, seed: 23);
        var body = new GateStream(first, second);

        var append = Task.Run(() => Engine.AppendAsync(Bucket, Key("d/app.log"), body, new ChangeOptions(), Ct), Ct);
        await body.Paused.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        // Moving or deleting the directory would leave the append's record and crash note at a key its file left.
        Assert.Equal(ErrorCodes.Conflict, (await Engine.MoveAsync(Bucket, Key("d"), Key("e"), overwrite: false, Ct)).Error?.Code);
        Assert.Equal(ErrorCodes.Conflict, (await Engine.DeleteDirectoryAsync(Bucket, Key("d"), recursive: true, Ct)).Error?.Code);
        body.Release();
        var appended = await append.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.True(appended.IsSuccess);
        var expected = old.Concat(first).Concat(second).ToArray();
        Assert.Equal(expected, await File.ReadAllBytesAsync(FilePath("d/app.log"), Ct));
        Assert.Equal(SHA256.HashData(expected), appended.Value!.Sha256);
        Assert.True((await Engine.MoveAsync(Bucket, Key("d"), Key("e"), overwrite: false, Ct)).IsSuccess); // free again
    }

    [Fact]
    public async Task DirectoryMove_DuringAModifyInside_IsRefusedAndTheModifyCompletes()
    {
        var old = TestBytes.Seeded(3_000, seed: 25);
        await CreateAsync("m/data.bin", old);
        var first = TestBytes.Seeded(500, seed: 26);
        var second = TestBytes.Seeded(700, seed: 27);
        var body = new GateStream(first, second);

        var modify = Task.Run(() => Engine.ModifyAsync(Bucket, Key("m/data.bin"), 100, extend: false, body, new ChangeOptions(), Ct), Ct);
        await body.Paused.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(ErrorCodes.Conflict, (await Engine.MoveAsync(Bucket, Key("m"), Key("n"), overwrite: false, Ct)).Error?.Code);
        body.Release();
        var modified = await modify.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.True(modified.IsSuccess);
        var expected = old.ToArray();
        first.Concat(second).ToArray().CopyTo(expected, 100);
        Assert.Equal(expected, await File.ReadAllBytesAsync(FilePath("m/data.bin"), Ct));
        Assert.Equal(SHA256.HashData(expected), modified.Value!.Sha256);
    }

    [Fact]
    public async Task Recovery_NoteForAnotherFileAtTheKey_DoesNotCutIt()
    {
        var bytes = TestBytes.Seeded(5_000, seed: 24);
        await CreateAsync("swap.log", bytes);
        // A note written for some earlier file at this key (another inode): the file there now must be left alone.
        await Stack.Metadata.BeginAppendAsync(new PendingAppend(Bucket, "swap.log", 10, "0:0:deadbeef"), Ct);

        await Engine.RecoverAppendsAsync(Ct);

        Assert.Equal(bytes, await File.ReadAllBytesAsync(FilePath("swap.log"), Ct));
        Assert.Empty(await Stack.Metadata.GetPendingAppendsAsync(Ct));
    }

    [Fact]
    public async Task OpenRead_DuringAppend_GetsOldVersionWithoutWaiting()
    {
        var old = TestBytes.Seeded(100_000, seed: 8);
        await CreateAsync("live.log", old);
        var first = TestBytes.Seeded(50_000, seed: 9);
        var second = TestBytes.Seeded(70_000, seed: 10);
        var body = new GateStream(first, second);

        var append = Task.Run(() => Engine.AppendAsync(Bucket, Key("live.log"), body, new ChangeOptions(), Ct), Ct);
        await body.Paused.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        // The first half is already in the file, past the committed end.
        Assert.Equal(old.Length + first.Length, new FileInfo(FilePath("live.log")).Length);

        var open = Engine.OpenReadAsync(Bucket, Key("live.log"), Ct);
        var winner = await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(30), Ct));
        Assert.Same(open, winner); // it did not wait for the append's lock
        Assert.False(append.IsCompleted);
        var (record, content) = (await open).Value;
        await using (content)
        {
            Assert.Equal(old.Length, record.Size);
            Assert.Equal(SHA256.HashData(old), record.Sha256);
            Assert.Equal(old, await ReadAllAsync(content));
        }

        var stat = (await Engine.StatAsync(Bucket, Key("live.log"), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct)).Value;
        Assert.Equal(SHA256.HashData(old), stat.Object!.Sha256);
        Assert.Equal(old.Length, (await Engine.GetAsync(Bucket, Key("live.log"), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct)).Value.Size);

        // A reader opened before the append commits still reads the old version after it has committed.
        var (heldRecord, held) = (await Engine.OpenReadAsync(Bucket, Key("live.log"), Ct)).Value;
        await using (held)
        {
            Assert.False(append.IsCompleted);
            body.Release();
            var appended = await append;
            Assert.True(appended.IsSuccess, appended.Error?.Message);
            Assert.Equal(old.Length, heldRecord.Size);
            Assert.Equal(old, await ReadAllAsync(held));
        }

        await AssertObjectIsAsync("live.log", [.. old, .. first, .. second]);
    }

    [Fact]
    public async Task Append_IfMatchCurrentETag_SucceedsOnceThenTheOldETagFails()
    {
        var bytes = TestBytes.Seeded(100, seed: 11);
        var created = await CreateAsync("cas.log", bytes);
        var chunk = TestBytes.Seeded(10, seed: 12);
        var ifMatch = new ChangeOptions { Precondition = new WritePrecondition.ETagMatches([created.ETag]) };

        var first = await AppendAsync("cas.log", chunk, ifMatch);
        var second = await AppendAsync("cas.log", chunk, ifMatch);

        Assert.True(first.IsSuccess, first.Error?.Message);
        AssertError(ErrorCodes.PreconditionFailed, second.Error);
        Assert.Equal(first.Value.ETag, second.Error!.Extensions!["etag"]);
        await AssertObjectIsAsync("cas.log", [.. bytes, .. chunk]);
    }

    // ---- refusals that change nothing ----

    public static TheoryData<string> Changes => new() { "append", "modify", "truncate" };

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task Change_OrdinaryObject_ConflictAndUnchanged(string change)
    {
        var bytes = TestBytes.Seeded(100, seed: 13);
        var put = await Engine.PutAsync(Bucket, Key("plain.bin"), new MemoryStream(bytes), new PutOptions(), Ct);
        Assert.False(put.Value.Appendable);

        var result = await ChangeAsync(change, "plain.bin", new ChangeOptions());

        AssertError(ErrorCodes.Conflict, result.Error);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(FilePath("plain.bin"), Ct));
        Assert.Equal(put.Value.Sha256, (await Engine.GetAsync(Bucket, Key("plain.bin"), Ct)).Value.Sha256);
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task Change_Directory_Conflict(string change)
    {
        Assert.True((await Engine.CreateDirectoryAsync(Bucket, Key("folder"), Ct)).IsSuccess);

        var result = await ChangeAsync(change, "folder", new ChangeOptions());

        AssertError(ErrorCodes.Conflict, result.Error);
        Assert.True(Directory.Exists(_temp.Combine(Bucket, "folder")));
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task Change_Missing_NotFoundAndNothingCreated(string change)
    {
        var result = await ChangeAsync(change, "missing.log", new ChangeOptions());

        AssertError(ErrorCodes.NotFound, result.Error);
        Assert.False(File.Exists(_temp.Combine(Bucket, "missing.log")));
        Assert.Empty(await Stack.Metadata.GetPendingAppendsAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task Change_IfMatchCurrentETag_Succeeds(string change)
    {
        var created = await CreateAsync("if-match.log", TestBytes.Seeded(100, seed: 14));

        var result = await ChangeAsync(change, "if-match.log", new ChangeOptions { Precondition = new WritePrecondition.ETagMatches(["\"other\"", created.ETag]) });

        Assert.True(result.IsSuccess, result.Error?.Message);
        Assert.NotEqual(created.ETag, result.Value.ETag);
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task Change_IfMatchOtherETag_PreconditionFailedWithCurrentETagAndUnchanged(string change)
    {
        var bytes = TestBytes.Seeded(100, seed: 15);
        var created = await CreateAsync("if-match.log", bytes);

        var result = await ChangeAsync(change, "if-match.log", new ChangeOptions
        {
            Precondition = new WritePrecondition.ETagMatches(["\"" + new string('0', 64) + "\""]),
        });

        AssertError(ErrorCodes.PreconditionFailed, result.Error);
        Assert.Equal(created.ETag, result.Error!.Extensions!["etag"]);
        await AssertObjectIsAsync("if-match.log", bytes);
    }

    // ---- modify ----

    [Fact]
    public async Task Modify_InsideObject_ReplacesThoseBytesOnly()
    {
        var bytes = TestBytes.Seeded(1000, seed: 16);
        await CreateAsync("m.log", bytes);
        var patch = TestBytes.Seeded(50, seed: 17);

        var modified = await ModifyAsync("m.log", 200, patch, extend: false);

        Assert.True(modified.IsSuccess, modified.Error?.Message);
        var expected = (byte[])bytes.Clone();
        patch.CopyTo(expected, 200);
        Assert.Equal(1000, modified.Value.Size);
        Assert.True(modified.Value.Appendable);
        await AssertObjectIsAsync("m.log", expected);
    }

    [Theory]
    [InlineData(1000, 1, false)]
    [InlineData(1000, 1, true)]
    [InlineData(998, 5, false)]
    [InlineData(998, 5, true)]
    [InlineData(0, 1001, false)]
    [InlineData(0, 1001, true)]
    public async Task Modify_PastEndWithoutExtend_RangeNotSatisfiableAndUnchanged(long offset, int length, bool declared)
    {
        var bytes = TestBytes.Seeded(1000, seed: 18);
        var created = await CreateAsync("m.log", bytes);

        var modified = await ModifyAsync("m.log", offset, TestBytes.Seeded(length, seed: 19), extend: false, declared ? length : null);

        AssertError(ErrorCodes.RangeNotSatisfiable, modified.Error);
        await AssertObjectIsAsync("m.log", bytes);
        Assert.Equal(0, Stack.Blobs.CountStagedFiles(Bucket));
        Assert.Equal(created.Sha256, (await Stack.Metadata.GetAsync(Bucket, "m.log", Ct))!.Sha256);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(998)]
    [InlineData(0)]
    public async Task Modify_PastEndWithExtend_Grows(long offset)
    {
        var bytes = TestBytes.Seeded(1000, seed: 20);
        await CreateAsync("m.log", bytes);
        var patch = TestBytes.Seeded(1500, seed: 21);

        var modified = await ModifyAsync("m.log", offset, patch, extend: true);

        Assert.True(modified.IsSuccess, modified.Error?.Message);
        byte[] expected = [.. bytes.AsSpan(0, (int)offset), .. patch];
        Assert.Equal(expected.Length, modified.Value.Size);
        await AssertObjectIsAsync("m.log", expected);
    }

    [Theory]
    [InlineData(1001, false)]
    [InlineData(1001, true)]
    [InlineData(5000, true)]
    [InlineData(-1, false)]
    [InlineData(-1, true)]
    public async Task Modify_OffsetOutsideObject_RangeNotSatisfiableAndUnchanged(long offset, bool extend)
    {
        var bytes = TestBytes.Seeded(1000, seed: 22);
        await CreateAsync("m.log", bytes);

        var modified = await ModifyAsync("m.log", offset, TestBytes.Seeded(10, seed: 23), extend);

        AssertError(ErrorCodes.RangeNotSatisfiable, modified.Error);
        await AssertObjectIsAsync("m.log", bytes);
    }

    // ---- truncate ----

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(617)]
    [InlineData(999)]
    public async Task Truncate_ToSmallerSize_KeepsThatPrefix(long size)
    {
        var bytes = TestBytes.Seeded(1000, seed: 24);
        await CreateAsync("t.log", bytes);

        var truncated = await Engine.TruncateAsync(Bucket, Key("t.log"), size, new ChangeOptions(), Ct);

        Assert.True(truncated.IsSuccess, truncated.Error?.Message);
        Assert.Equal(size, truncated.Value.Size);
        await AssertObjectIsAsync("t.log", bytes[..(int)size]);
        // The truncated state resumes correctly.
        var tail = TestBytes.Seeded(33, seed: 25);
        Assert.True((await AppendAsync("t.log", tail)).IsSuccess);
        await AssertObjectIsAsync("t.log", [.. bytes[..(int)size], .. tail]);
    }

    [Fact]
    public async Task Truncate_ToSameSize_ChangesNothing()
    {
        var bytes = TestBytes.Seeded(1000, seed: 26);
        var created = await CreateAsync("t.log", bytes);

        var truncated = await Engine.TruncateAsync(Bucket, Key("t.log"), 1000, new ChangeOptions(), Ct);

        Assert.True(truncated.IsSuccess, truncated.Error?.Message);
        Assert.Equal(created.Sha256, truncated.Value.Sha256);
        Assert.Equal(created.BlobVersion, (await Stack.Blobs.StatAsync(Bucket, Key("t.log"), Ct))!.Version);
        await AssertObjectIsAsync("t.log", bytes);
    }

    [Theory]
    [InlineData(1001)]
    [InlineData(long.MaxValue)]
    [InlineData(-1)]
    public async Task Truncate_OutsideObject_RangeNotSatisfiableAndUnchanged(long size)
    {
        var bytes = TestBytes.Seeded(1000, seed: 27);
        await CreateAsync("t.log", bytes);

        var truncated = await Engine.TruncateAsync(Bucket, Key("t.log"), size, new ChangeOptions(), Ct);

        AssertError(ErrorCodes.RangeNotSatisfiable, truncated.Error);
        await AssertObjectIsAsync("t.log", bytes);
    }

    // ---- limits ----

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Append_PastMaxObjectSize_TooLargeAndUnchanged(bool declared)
    {
        var bytes = TestBytes.Seeded(4000, seed: 28);
        await CreateAsync("cap.log", bytes, Small);
        var chunk = TestBytes.Seeded(97, seed: 29);

        var appended = await AppendAsync("cap.log", chunk, new ChangeOptions { ExpectedLength = declared ? chunk.Length : null }, Small);

        AssertError(ErrorCodes.TooLarge, appended.Error);
        await AssertObjectIsAsync("cap.log", bytes, Small);
        Assert.Equal(bytes.Length, new FileInfo(FilePath("cap.log", Small)).Length);
    }

    [Fact]
    public async Task Append_UpToExactlyMaxObjectSize_Succeeds()
    {
        var bytes = TestBytes.Seeded(4000, seed: 30);
        await CreateAsync("cap.log", bytes, Small);
        var chunk = TestBytes.Seeded((int)SmallMaxObjectSize - 4000, seed: 31);

        var appended = await AppendAsync("cap.log", chunk, null, Small);

        Assert.True(appended.IsSuccess, appended.Error?.Message);
        await AssertObjectIsAsync("cap.log", [.. bytes, .. chunk], Small);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Modify_ExtendPastMaxObjectSize_TooLargeAndUnchanged(bool declared)
    {
        var bytes = TestBytes.Seeded(4000, seed: 32);
        await CreateAsync("cap.log", bytes, Small);
        var patch = TestBytes.Seeded(200, seed: 33);

        var modified = await Engine.ModifyAsync(Small, Key("cap.log"), 3950, extend: true, new MemoryStream(patch), new ChangeOptions { ExpectedLength = declared ? patch.Length : null }, Ct);

        AssertError(ErrorCodes.TooLarge, modified.Error);
        await AssertObjectIsAsync("cap.log", bytes, Small);
        Assert.Equal(0, Stack.Blobs.CountStagedFiles(Small));
    }

    [Fact]
    public async Task Put_AppendableLargerThanMaxObjectSize_TooLarge()
    {
        var put = await Engine.PutAsync(Small, Key("cap.log"), new MemoryStream(TestBytes.Seeded(5000, seed: 34)), new PutOptions { Appendable = true }, Ct);

        AssertError(ErrorCodes.TooLarge, put.Error);
        Assert.False(File.Exists(_temp.Combine(Small, "cap.log")));
    }

    // ---- failures part-way ----

    [Fact]
    public async Task Append_BodyThrowsPartWay_ObjectExactlyAsBeforeAndNoPendingAppend()
    {
        var bytes = TestBytes.Seeded(5000, seed: 35);
        var created = await CreateAsync("torn.log", bytes);
        var body = new FailingStream(TestBytes.Seeded(200_000, seed: 36), failAfter: 100_000);

        await Assert.ThrowsAsync<IOException>(() => Engine.AppendAsync(Bucket, Key("torn.log"), body, new ChangeOptions(), Ct));

        Assert.True(body.Delivered >= 100_000); // bytes did reach the file before the failure
        await AssertObjectIsAsync("torn.log", bytes);
        Assert.Equal(bytes.Length, new FileInfo(FilePath("torn.log")).Length);
        Assert.Equal(created.Sha256, (await Stack.Metadata.GetAsync(Bucket, "torn.log", Ct))!.Sha256);
        // The next append starts from the restored state.
        var chunk = TestBytes.Seeded(10, seed: 37);
        Assert.True((await AppendAsync("torn.log", chunk)).IsSuccess);
        await AssertObjectIsAsync("torn.log", [.. bytes, .. chunk]);
    }

    [Fact]
    public async Task Append_CancelledPartWay_ObjectExactlyAsBeforeAndNoPendingAppend()
    {
        var bytes = TestBytes.Seeded(5000, seed: 38);
        await CreateAsync("cancelled.log", bytes);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var body = new FailingStream(TestBytes.Seeded(200_000, seed: 39), failAfter: 100_000, cancel);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Engine.AppendAsync(Bucket, Key("cancelled.log"), body, new ChangeOptions(), cancel.Token));

        await AssertObjectIsAsync("cancelled.log", bytes);
        Assert.Equal(bytes.Length, new FileInfo(FilePath("cancelled.log")).Length);
    }

    [Fact]
    public async Task Modify_BodyThrowsPartWay_ObjectExactlyAsBefore()
    {
        var bytes = TestBytes.Seeded(300_000, seed: 40);
        await CreateAsync("torn.log", bytes);
        var body = new FailingStream(TestBytes.Seeded(200_000, seed: 41), failAfter: 100_000);

        await Assert.ThrowsAsync<IOException>(() => Engine.ModifyAsync(Bucket, Key("torn.log"), 1000, extend: true, body, new ChangeOptions(), Ct));

        await AssertObjectIsAsync("torn.log", bytes);
        Assert.Equal(0, Stack.Blobs.CountStagedFiles(Bucket));
    }

    // ---- blob stores without in-place writes (object stores): append rewrites through a staged blob ----

    [Fact]
    public async Task Append_StoreWithoutInPlaceWrites_RewritesAndSha256MatchesAfterEveryChange()
    {
        UseRewriteOnly();
        var model = new MemoryStream();
        var initial = TestBytes.Seeded(100, seed: 60);
        await CreateAsync("object.log", initial);
        model.Write(initial);
        var random = new Random(61);
        for (var i = 0; i < 8; i++)
        {
            await AppendAndCheckAsync("object.log", model, random.Next(0, 200_000), seed: 62 + i);
        }

        await ModifyAndCheckAsync("object.log", model, offset: 50, TestBytes.Seeded(100, seed: 70), extend: false);
        await ModifyAndCheckAsync("object.log", model, offset: model.Length - 1, TestBytes.Seeded(100, seed: 71), extend: true);
        await TruncateAndCheckAsync("object.log", model, 1234);
        await AppendAndCheckAsync("object.log", model, 4321, seed: 72);
        Assert.Equal(0, Stack.Blobs.CountStagedFiles(Bucket));
    }

    [Fact]
    public async Task Append_StoreWithoutInPlaceWrites_EightConcurrentAppendsAllKept()
    {
        UseRewriteOnly();
        await CreateAsync("object.log", []);
        var chunks = Enumerable.Range(0, 8).Select(i => TestBytes.Seeded(1024 + (i * 9216), seed: 80 + i)).ToArray();

        var results = await Task.WhenAll(chunks.Select(chunk => Task.Run(() => AppendAsync("object.log", chunk), Ct)));

        Assert.All(results, r => Assert.True(r.IsSuccess, r.Error?.Message));
        var bytes = await File.ReadAllBytesAsync(FilePath("object.log"), Ct);
        Assert.Equal(chunks.Sum(c => c.Length), bytes.Length);
        Assert.All(chunks, chunk => Assert.True(bytes.AsSpan().IndexOf(chunk) >= 0, "A chunk is missing."));
        await AssertObjectIsAsync("object.log", bytes);
    }

    [Theory]
    [InlineData("throws")]
    [InlineData("too large")]
    [InlineData("shorter than declared")]
    public async Task Append_StoreWithoutInPlaceWrites_FailedAppendChangesNothing(string failure)
    {
        UseRewriteOnly();
        var bytes = TestBytes.Seeded(4000, seed: 90);
        await CreateAsync("object.log", bytes, Small);
        var body = TestBytes.Seeded(3000, seed: 91);

        switch (failure)
        {
            case "throws":
                await Assert.ThrowsAsync<IOException>(() => Engine.AppendAsync(Small, Key("object.log"), new FailingStream(body, failAfter: 50), new ChangeOptions(), Ct));
                break;
            case "too large":
                AssertError(ErrorCodes.TooLarge, (await AppendAsync("object.log", body, null, Small)).Error);
                break;
            default:
                AssertError(ErrorCodes.InvalidRequest, (await AppendAsync("object.log", body[..10], new ChangeOptions { ExpectedLength = 20 }, Small)).Error);
                break;
        }

        await AssertObjectIsAsync("object.log", bytes, Small);
        Assert.Equal(0, Stack.Blobs.CountStagedFiles(Small));
    }

    // ---- recovery ----

    [Fact]
    public async Task RecoverAppends_CrashAfterBytesWritten_CutsBackAndRecordStaysValid()
    {
        var bytes = TestBytes.Seeded(70_000, seed: 42);
        await CreateAsync("crash.log", bytes);
        // What a crash in the middle of an in-place append leaves: the durable note, and part of the new bytes.
        await Stack.Metadata.BeginAppendAsync(new PendingAppend(Bucket, "crash.log", bytes.Length), Ct);
        await using (var file = new FileStream(FilePath("crash.log"), FileMode.Append, FileAccess.Write))
        {
            await file.WriteAsync(TestBytes.Seeded(12_345, seed: 43), Ct);
        }

        await RestartAsync();
        Assert.Equal(new PendingAppend(Bucket, "crash.log", bytes.Length), Assert.Single(await Stack.Metadata.GetPendingAppendsAsync(Ct)));

        var undone = await Engine.RecoverAppendsAsync(Ct);

        Assert.Equal(1, undone);
        Assert.Empty(await Stack.Metadata.GetPendingAppendsAsync(Ct));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(FilePath("crash.log"), Ct));
        // Recovery re-recorded the restored bytes: the stored record matches the file without hashing it again.
        var stored = await Stack.Metadata.GetAsync(Bucket, "crash.log", Ct);
        Assert.Equal((await Stack.Blobs.StatAsync(Bucket, Key("crash.log"), Ct))!.Version, stored!.BlobVersion);
        Assert.Equal(SHA256.HashData(bytes), stored.Sha256);
        var record = (await Engine.GetAsync(Bucket, Key("crash.log"), Ct)).Value;
        Assert.Equal(bytes.Length, record.Size);
        Assert.Equal(SHA256.HashData(bytes), record.Sha256);
        await AssertObjectIsAsync("crash.log", bytes);
        var chunk = TestBytes.Seeded(500, seed: 44);
        Assert.True((await AppendAsync("crash.log", chunk)).IsSuccess);
        await AssertObjectIsAsync("crash.log", [.. bytes, .. chunk]);
    }

    [Fact]
    public async Task RecoverAppends_CrashBeforeAnyByteWritten_ClearsNoteAndKeepsObject()
    {
        var bytes = TestBytes.Seeded(1000, seed: 45);
        await CreateAsync("crash.log", bytes);
        await Stack.Metadata.BeginAppendAsync(new PendingAppend(Bucket, "crash.log", bytes.Length), Ct);
        await RestartAsync();

        var undone = await Engine.RecoverAppendsAsync(Ct);

        Assert.Equal(0, undone);
        Assert.Empty(await Stack.Metadata.GetPendingAppendsAsync(Ct));
        await AssertObjectIsAsync("crash.log", bytes);
    }

    [Fact]
    public async Task RecoverAppends_FileOrBucketGone_ClearsNotes()
    {
        await Stack.Metadata.BeginAppendAsync(new PendingAppend(Bucket, "never-existed.log", 10), Ct);
        await Stack.Metadata.BeginAppendAsync(new PendingAppend("no-such-bucket", "x.log", 10), Ct);

        var undone = await Engine.RecoverAppendsAsync(Ct);

        Assert.Equal(0, undone);
        Assert.Empty(await Stack.Metadata.GetPendingAppendsAsync(Ct));
        Assert.False(File.Exists(_temp.Combine(Bucket, "never-existed.log")));
    }

    public static TheoryData<string> BadHashStates => new() { "missing", "garbage", "cut short", "other bytes" };

    [Theory]
    [MemberData(nameof(BadHashStates))]
    public async Task Change_RecordWithUnusableHashState_RebuildsFromBytes(string state)
    {
        var model = new MemoryStream();
        var bytes = TestBytes.Seeded(3000, seed: 46);
        await CreateAsync("state.log", bytes);
        model.Write(bytes);

        foreach (var change in new[] { "append", "modify", "truncate", "append" })
        {
            await SpoilHashStateAsync("state.log", state);
            switch (change)
            {
                case "append":
                    var chunk = TestBytes.Seeded(700, seed: 47);
                    Assert.True((await AppendAsync("state.log", chunk)).IsSuccess);
                    model.Write(chunk);
                    break;
                case "modify":
                    await ModifyAndCheckAsync("state.log", model, offset: 10, TestBytes.Seeded(20, seed: 48), extend: false);
                    break;
                default:
                    await TruncateAndCheckAsync("state.log", model, model.Length - 100);
                    break;
            }

            await AssertObjectIsAsync("state.log", Written(model));
        }
    }

    [Fact]
    public async Task Append_AfterAppenderChangedBehindDepotsBack_HashesTheBytesOnDisk()
    {
        var bytes = TestBytes.Seeded(2000, seed: 49);
        await CreateAsync("outside.log", bytes);
        var outside = TestBytes.Seeded(300, seed: 50);
        await using (var file = new FileStream(FilePath("outside.log"), FileMode.Append, FileAccess.Write))
        {
            await file.WriteAsync(outside, Ct);
        }

        var chunk = TestBytes.Seeded(400, seed: 51);
        var appended = await AppendAsync("outside.log", chunk);

        Assert.True(appended.IsSuccess, appended.Error?.Message);
        await AssertObjectIsAsync("outside.log", [.. bytes, .. outside, .. chunk]);
    }

    [Fact]
    public async Task Put_OrdinaryOverAppender_StopsAcceptingAppends()
    {
        await CreateAsync("switch.log", TestBytes.Seeded(10, seed: 52));
        var plain = await Engine.PutAsync(Bucket, Key("switch.log"), new MemoryStream(TestBytes.Seeded(20, seed: 53)), new PutOptions(), Ct);
        Assert.False(plain.Value.Appendable);

        var appended = await AppendAsync("switch.log", [1]);

        AssertError(ErrorCodes.Conflict, appended.Error);
    }

    // ---- helpers ----

    private Task<FileSystemEngine> OpenStackAsync()
    {
        var main = _temp.Combine(Bucket);
        var small = _temp.Combine(Small);
        Directory.CreateDirectory(main);
        Directory.CreateDirectory(small);
        return FileSystemEngine.OpenAsync(new Dictionary<string, (string, BucketOptions)>(StringComparer.Ordinal)
        {
            [Bucket] = (main, new BucketOptions { Path = main }),
            [Small] = (small, new BucketOptions { Path = small, MaxObjectSize = SmallMaxObjectSize }),
        });
    }

    /// <summary>From now on, the engine runs over a blob store that cannot write in place (as over an object store).</summary>
    private void UseRewriteOnly() => _rewriting = new ObjectEngine(new RewriteOnlyBlobs(Stack.Blobs), Stack.Metadata, Stack.Engine.Buckets);

    /// <summary>A new process over the same directories and database.</summary>
    private async Task RestartAsync()
    {
        await Stack.DisposeAsync();
        _stack = null;
        _stack = await OpenStackAsync();
    }

    /// <summary>Replaces the stored hash state, and drops the engine's cached records by opening another engine.</summary>
    private async Task SpoilHashStateAsync(string key, string state)
    {
        var record = (await Stack.Metadata.GetAsync(Bucket, key, Ct))!;
        var good = record.HashState!;
        byte[]? spoiled = state switch
        {
            "missing" => null,
            "garbage" => [9, 9, 9, 9],
            "cut short" => good[..^1],
            _ => Longer(),
        };
        await Stack.Metadata.PutAsync(record with { HashState = spoiled }, Ct);
        await Stack.DisposeAsync();
        _stack = null;
        _stack = await OpenStackAsync();

        byte[] Longer()
        {
            var other = AppenderHash.Start();
            other.Append(TestBytes.Seeded((int)record.Size + 64, seed: 99));
            return other.Export();
        }
    }

    private static ObjectKey Key(string key) => ObjectKey.Parse(key).Value;

    private string FilePath(string key, string bucket = Bucket) =>
        Stack.Blobs.GetFilePath(bucket, Key(key)) ?? throw new InvalidOperationException($"No file at '{key}'.");

    private async Task<ObjectRecord> CreateAsync(string key, byte[] bytes, string bucket = Bucket)
    {
        var put = await Engine.PutAsync(bucket, Key(key), new MemoryStream(bytes), new PutOptions { Appendable = true }, Ct);
        Assert.True(put.IsSuccess, put.Error?.Message);
        Assert.True(put.Value.Appendable);
        return put.Value;
    }

    private Task<Result<ObjectRecord>> AppendAsync(string key, byte[] bytes, ChangeOptions? options = null, string bucket = Bucket) =>
        Engine.AppendAsync(bucket, Key(key), new MemoryStream(bytes), options ?? new ChangeOptions(), Ct);

    private Task<Result<ObjectRecord>> ModifyAsync(string key, long offset, byte[] bytes, bool extend, long? declared = null) =>
        Engine.ModifyAsync(Bucket, Key(key), offset, extend, new MemoryStream(bytes), new ChangeOptions { ExpectedLength = declared }, Ct);

    private Task<Result<ObjectRecord>> ChangeAsync(string change, string key, ChangeOptions options) => change switch
    {
        "append" => Engine.AppendAsync(Bucket, Key(key), new MemoryStream([1, 2, 3]), options, Ct),
        "modify" => Engine.ModifyAsync(Bucket, Key(key), 1, extend: false, new MemoryStream([4, 5]), options, Ct),
        _ => Engine.TruncateAsync(Bucket, Key(key), 7, options, Ct),
    };

    /// <summary>Seeded bytes; large bodies repeat a seeded 1 MiB block, each copy stamped with its offset (seeding
    /// 16 MiB byte by byte takes a second).</summary>
    private static byte[] Body(int size, int seed)
    {
        if (size <= 1 << 20)
        {
            return TestBytes.Seeded(size, seed);
        }

        var block = TestBytes.Seeded(1 << 20, seed);
        var body = new byte[size];
        for (var at = 0; at < size; at += block.Length)
        {
            block.AsSpan(0, Math.Min(block.Length, size - at)).CopyTo(body.AsSpan(at));
            BitConverter.TryWriteBytes(body.AsSpan(at, Math.Min(sizeof(int), size - at)), at);
        }

        return body;
    }

    /// <summary>The model's bytes, without copying them.</summary>
    private static ReadOnlyMemory<byte> Written(MemoryStream model) => model.GetBuffer().AsMemory(0, (int)model.Length);

    private async Task AppendAndCheckAsync(string key, MemoryStream model, int size, int seed)
    {
        var chunk = Body(size, seed);
        var appended = await AppendAsync(key, chunk);
        Assert.True(appended.IsSuccess, appended.Error?.Message);
        model.Write(chunk);
        Assert.Equal(model.Length, appended.Value.Size);
        await AssertObjectIsAsync(key, Written(model), returned: appended.Value);
    }

    private async Task ModifyAndCheckAsync(string key, MemoryStream model, long offset, byte[] bytes, bool extend)
    {
        var modified = await ModifyAsync(key, offset, bytes, extend);
        Assert.True(modified.IsSuccess, modified.Error?.Message);
        model.Position = offset;
        model.Write(bytes);
        model.Position = model.Length;
        Assert.Equal(model.Length, modified.Value.Size);
        await AssertObjectIsAsync(key, Written(model), returned: modified.Value);
    }

    private async Task TruncateAndCheckAsync(string key, MemoryStream model, long size)
    {
        var truncated = await Engine.TruncateAsync(Bucket, Key(key), size, new ChangeOptions(), Ct);
        Assert.True(truncated.IsSuccess, truncated.Error?.Message);
        model.SetLength(size);
        model.Position = size;
        Assert.Equal(size, truncated.Value.Size);
        await AssertObjectIsAsync(key, Written(model), returned: truncated.Value);
    }

    /// <summary>The engine's record (and <paramref name="returned"/>, the one the change returned), the stored record,
    /// the file on disk and what a reader gets all are exactly <paramref name="expected"/>, and no append is pending.</summary>
    /// <remarks>Streamed in blocks, so checking a 16 MiB object after every change stays cheap. The bytes on disk are
    /// hashed; the reader's bytes are compared with them (equal bytes have the same SHA-256).</remarks>
    private async Task AssertObjectIsAsync(string key, ReadOnlyMemory<byte> expected, string bucket = Bucket, ObjectRecord? returned = null)
    {
        byte[] sha;
        await using (var file = new FileStream(FilePath(key, bucket), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1))
        {
            sha = await CompareAsync(file, expected, "The file on disk");
        }

        var got = await Engine.GetAsync(bucket, Key(key), Ct);
        Assert.True(got.IsSuccess, got.Error?.Message);
        Assert.True(got.Value.Appendable);
        Assert.Equal(expected.Length, got.Value.Size);
        Assert.Equal(sha, got.Value.Sha256);
        if (returned is not null)
        {
            Assert.Equal(sha, returned.Sha256);
            Assert.Equal(got.Value.ETag, returned.ETag);
        }

        var stored = await Stack.Metadata.GetAsync(bucket, key, Ct);
        Assert.NotNull(stored);
        Assert.Equal(sha, stored.Sha256);
        Assert.Equal(expected.Length, stored.Size);

        var opened = await Engine.OpenReadAsync(bucket, Key(key), Ct);
        Assert.True(opened.IsSuccess, opened.Error?.Message);
        await using (opened.Value.Content)
        {
            Assert.Equal(sha, opened.Value.Record.Sha256);
            await CompareAsync(opened.Value.Content, expected, "What a reader gets", hash: false);
        }

        Assert.Empty(await Stack.Metadata.GetPendingAppendsAsync(Ct));
    }

    private Task AssertObjectIsAsync(string key, byte[] expected, string bucket = Bucket) =>
        AssertObjectIsAsync(key, expected.AsMemory(), bucket);

    /// <summary>Reads <paramref name="content"/> to its end, asserting it is <paramref name="expected"/>; its SHA-256.</summary>
    private static async Task<byte[]> CompareAsync(Stream content, ReadOnlyMemory<byte> expected, string what, bool hash = true)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        var at = 0;
        int n;
        while ((n = await content.ReadAsync(buffer, Ct)) > 0)
        {
            Assert.True(at + n <= expected.Length, $"{what} is longer than the expected {expected.Length} bytes.");
            Assert.True(buffer.AsSpan(0, n).SequenceEqual(expected.Span.Slice(at, n)), $"{what} differs from the expected bytes within [{at}, {at + n}).");
            if (hash)
            {
                sha.AppendData(buffer, 0, n);
            }

            at += n;
        }

        Assert.True(at == expected.Length, $"{what} has {at} bytes, not the expected {expected.Length}.");
        return sha.GetHashAndReset();
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

    /// <summary>A request body read asynchronously in small pieces.</summary>
    private abstract class BodyStream : Stream
    {
        protected const int Piece = 16 << 10;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() { }

        // The engine reads bodies asynchronously, as the server does.
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read this body asynchronously.");

        public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Delivers <paramref name="failAfter"/> bytes of <paramref name="data"/>, then fails as a dropped connection
    /// does (IOException), or cancels <paramref name="cancel"/> when given.</summary>
    private sealed class FailingStream(byte[] data, int failAfter, CancellationTokenSource? cancel = null) : BodyStream
    {
        public int Delivered { get; private set; }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            if (Delivered >= failAfter)
            {
                if (cancel is null)
                {
                    throw new IOException("The client went away.");
                }

                await cancel.CancelAsync();
                cancellationToken.ThrowIfCancellationRequested();
            }

            var n = Math.Min(Math.Min(buffer.Length, Piece), Math.Min(failAfter, data.Length) - Delivered);
            data.AsMemory(Delivered, n).CopyTo(buffer);
            Delivered += n;
            return n;
        }
    }

    /// <summary>Delivers <paramref name="first"/>, then waits at <see cref="Paused"/> until <see cref="Release"/>, then
    /// delivers <paramref name="second"/>.</summary>
    private sealed class GateStream(byte[] first, byte[] second) : BodyStream
    {
        private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _position;

        public Task Paused => _paused.Task;

        public void Release() => _released.TrySetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == first.Length)
            {
                _paused.TrySetResult();
                await _released.Task.WaitAsync(cancellationToken);
            }

            var (source, at) = _position < first.Length ? (first, _position) : (second, _position - first.Length);
            var n = Math.Min(Math.Min(buffer.Length, Piece), source.Length - at);
            source.AsMemory(at, n).CopyTo(buffer);
            _position += n;
            return n;
        }
    }

    /// <summary>The same files, through <see cref="IBlobStore"/> alone: no in-place appends, no version probe.</summary>
    private sealed class RewriteOnlyBlobs(IBlobStore inner) : DelegatingBlobStore(inner);
}
