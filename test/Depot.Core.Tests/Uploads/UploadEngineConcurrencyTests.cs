using System.Security.Cryptography;
using Depot.Core.Errors;
using Depot.Core.Uploads;

namespace Depot.Core.Tests.Uploads;

/// <summary>Chunks in parallel, overlapping writes, and operations that race a chunk still streaming in.</summary>
public sealed class UploadEngineConcurrencyTests : UploadEngineTestBase
{
    [Fact]
    public async Task WriteChunk_ManyChunksInParallel_AllRecordedAndPublishedExactly()
    {
        const int ChunkSize = 64 << 10;
        var bytes = Bytes((40 * ChunkSize) + 123, 1);
        var session = await CreateAsync(Declare("parallel.bin", bytes.Length, ChunkSize) with { ExpectedSha256 = SHA256.HashData(bytes) });
        var order = Enumerable.Range(0, 41).OrderBy(i => (i * 7919) % 41).ToArray();

        var writes = await Task.WhenAll(order.Select(i => Task.Run(() => WriteChunkAsync(session.Id, i, bytes[(i * ChunkSize)..Math.Min(bytes.Length, (i + 1) * ChunkSize)]), Ct)));

        Assert.All(writes, w => Assert.True(w.IsSuccess, w.Error?.Message));
        Assert.All(writes, w => Assert.False(w.Value.Duplicate));
        var now = await SessionAsync(session.Id);
        Assert.Equal([new ByteSpan(0, bytes.Length)], now.Received);
        Assert.Equal(Enumerable.Range(0, 41).Select(i => (long)i), now.ReceivedChunks());
        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("parallel.bin", bytes);
    }

    [Fact]
    public async Task WriteChunk_SameChunkEightTimesAtOnce_OneWriteTheRestDuplicates()
    {
        var bytes = Bytes(200_000, 2);
        var session = await CreateAsync(Declare("same.bin", bytes.Length, chunkSize: 100_000));

        var writes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => WriteChunkAsync(session.Id, 1, bytes[100_000..]), Ct)));

        Assert.All(writes, w => Assert.True(w.IsSuccess, w.Error?.Message));
        Assert.Equal(1, writes.Count(w => !w.Value.Duplicate));
        await MustWriteChunkAsync(session.Id, 0, bytes[..100_000]);
        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("same.bin", bytes);
    }

    [Fact]
    public async Task WriteChunk_SameChunkWithDifferentBytesAtOnce_OneWinsTheOthersConflictAndTheWinnerIsPublished()
    {
        var session = await CreateAsync(Declare("contest.bin", 50_000, chunkSize: 50_000));
        var candidates = Enumerable.Range(0, 6).Select(i => Bytes(50_000, 100 + i)).ToArray();

        var writes = await Task.WhenAll(candidates.Select(c => Task.Run(() => WriteChunkAsync(session.Id, 0, c), Ct)));

        Assert.Equal(1, writes.Count(w => w.IsSuccess));
        Assert.All(writes.Where(w => !w.IsSuccess), w => Assert.Equal(ErrorCodes.Conflict, w.Error!.Code));
        var winner = candidates[Array.FindIndex(writes, w => w.IsSuccess)];
        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("contest.bin", winner);
    }

    [Fact]
    public async Task DeclareLength_WhileAChunkPastItStreams_TheSessionCanStillBeCompleted()
    {
        // Deferred length: a chunk of 100 bytes is streaming (no Content-Length) when the client declares 50. Either the
        // chunk is refused or the declaration is; the session must not end up with bytes past its length and never complete.
        var bytes = Bytes(100, 3);
        var session = await CreateAsync(Declare("declare-race.bin", null));
        var body = new GatedStream(bytes[..10], bytes[10..]);
        var write = Uploads.WriteAsync(session.Id, 0, body, new ChunkOptions(), Ct);
        await body.Waiting.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        var declared = await Uploads.DeclareLengthAsync(session.Id, 50, Ct);
        body.Release();
        var written = await write;

        var now = await SessionAsync(session.Id);
        Assert.True(now.Length is null || now.ReceivedEnd <= now.Length, $"the session's length is {now.Length} but it recorded bytes up to {now.ReceivedEnd}");
        if (declared.IsSuccess)
        {
            Assert.False(written.IsSuccess, "the chunk went past the length declared while it streamed");
            Assert.True((await WriteAtAsync(session.Id, 0, bytes[..50])).IsSuccess);
            await MustCompleteAsync(session.Id);
            await AssertPublishedAsync("declare-race.bin", bytes[..50]);
        }
        else
        {
            Assert.True(written.IsSuccess, written.Error?.Message);
            Assert.True((await Uploads.DeclareLengthAsync(session.Id, 100, Ct)).IsSuccess);
            await MustCompleteAsync(session.Id);
            await AssertPublishedAsync("declare-race.bin", bytes);
        }
    }

    [Fact]
    public async Task Complete_WhileAChunkPastTheLengthStreams_ThePublishedFileIsNeverTouched()
    {
        // Deferred length: [0, 50) has arrived; a chunk at 50 is streaming when the client declares 50 and completes. The
        // chunk's bytes must never land in the published object (its open handle points at the renamed file).
        var bytes = Bytes(50, 4);
        var session = await CreateAsync(Declare("publish-race.bin", null));
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);
        var body = new GatedStream(Bytes(10, 5), Bytes(10, 6));
        var write = Uploads.WriteAsync(session.Id, 50, body, new ChunkOptions(), Ct);
        await body.Waiting.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True((await Uploads.DeclareLengthAsync(session.Id, 50, Ct)).IsSuccess);

        var complete = Uploads.CompleteAsync(session.Id, Ct);
        // Give completion a head start (if it does not wait for the chunk it finishes now); correctness never depends on it.
        await Task.WhenAny(complete, Task.Delay(TimeSpan.FromMilliseconds(500), Ct));
        body.Release();
        var written = await write;
        var finished = await complete;

        Assert.True(finished.IsSuccess, finished.Error?.Message);
        Assert.False(written.IsSuccess, "a chunk past the declared length was acknowledged");
        await AssertPublishedAsync("publish-race.bin", bytes);
    }

    [Fact]
    public async Task Abort_WhileAChunkStreams_TheChunkIsNotAcknowledgedAndNoStagedFileRemainsAfterTheSweep()
    {
        var session = await CreateAsync(Declare("abort-race.bin", 100));
        var body = new GatedStream(Bytes(10, 7), Bytes(10, 8));
        var write = Uploads.WriteAsync(session.Id, 0, body, new ChunkOptions { ExpectedLength = 20 }, Ct);
        await body.Waiting.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.True((await Uploads.AbortAsync(session.Id, Ct)).IsSuccess);
        body.Release();
        var written = await write;

        AssertError(written, ErrorCodes.NotFound);
        await Uploads.ReclaimExpiredAsync(Ct);
        Assert.False(File.Exists(Stack.StagedPath(UploadTestStack.Main, session.Id)));
    }

    [Fact]
    public async Task WriteAt_OverlappingRangesAtOnce_RunOneAfterTheOther()
    {
        var bytes = Bytes(1 << 20, 9);
        var session = await CreateAsync(Declare("overlaps.bin", bytes.Length));
        var ranges = Enumerable.Range(0, 16).Select(i => (Start: i * 60_000, End: Math.Min(bytes.Length, (i * 60_000) + 200_000))).ToArray();

        var writes = await Task.WhenAll(ranges.Select(r => Task.Run(() => WriteAtAsync(session.Id, r.Start, bytes[r.Start..r.End]), Ct)));

        Assert.All(writes, w => Assert.True(w.IsSuccess, w.Error?.Message));
        Assert.Equal([new ByteSpan(0, bytes.Length)], (await SessionAsync(session.Id)).Received);
        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("overlaps.bin", bytes);
    }
}
