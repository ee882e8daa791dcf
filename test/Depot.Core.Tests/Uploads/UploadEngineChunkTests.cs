using Depot.Core.Errors;
using Depot.Core.Uploads;

namespace Depot.Core.Tests.Uploads;

/// <summary>Chunks by index and by offset: out of order, repeated (same bytes: no-op; different: conflict, stored bytes
/// kept), of the wrong size, past the end, cut short.</summary>
public sealed class UploadEngineChunkTests : UploadEngineTestBase
{
    [Fact]
    public async Task WriteChunk_OutOfOrder_CompletesWithExactBytes()
    {
        var bytes = Bytes(1000, 1);
        var session = await CreateAsync(Declare("ooo.bin", bytes.Length, chunkSize: 64));

        await SendChunksAsync(session.Id, bytes, 64, [15, 3, 0, 7, 1, 2, 14, 4, 5, 6, 13, 8, 12, 9, 10, 11]);
        var finished = await MustCompleteAsync(session.Id);

        Assert.Equal(UploadState.Completed, finished.Session.State);
        Assert.Equal(UploadFacts.Sha256Hex(bytes), finished.Object!.Sha256Hex);
        Assert.Equal(UploadFacts.Sha256Hex(bytes), finished.Session.ResultSha256);
        await AssertPublishedAsync("ooo.bin", bytes);
        Assert.False(File.Exists(Stack.StagedPath(UploadTestStack.Main, session.Id)), "the staged file is renamed into place");
    }

    [Fact]
    public async Task WriteChunk_SameBytesTwice_DuplicateAndNothingChanges()
    {
        var bytes = Bytes(100, 2);
        var session = await CreateAsync(Declare("dup.bin", bytes.Length, chunkSize: 40));
        var first = await MustWriteChunkAsync(session.Id, 1, bytes[40..80]);
        Stack.Clock.Advance(TimeSpan.FromMinutes(5));

        var again = await MustWriteChunkAsync(session.Id, 1, bytes[40..80]);

        Assert.False(first.Duplicate);
        Assert.True(again.Duplicate);
        var now = await SessionAsync(session.Id);
        Assert.Equal([new ByteSpan(40, 80)], now.Received);
        Assert.Equal(first.Session.UpdatedUtc, now.UpdatedUtc);
        Assert.Equal(first.Session.ExpiresUtc, now.ExpiresUtc);
    }

    [Fact]
    public async Task WriteChunk_DifferentBytesOverAReceivedChunk_ConflictAndTheStoredBytesKept()
    {
        var bytes = Bytes(100, 3);
        var session = await CreateAsync(Declare("conflict.bin", bytes.Length, chunkSize: 40));
        await SendChunksAsync(session.Id, bytes, 40, [0, 1, 2]);
        var other = bytes[40..80];
        other[17] ^= 0xFF;

        AssertError(await WriteChunkAsync(session.Id, 1, other), ErrorCodes.Conflict);

        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("conflict.bin", bytes);
    }

    [Fact]
    public async Task WriteAt_NewBytesThenDifferentOverlap_ConflictAndTheNewPartIsNotRecorded()
    {
        var bytes = Bytes(100, 4);
        var session = await CreateAsync(Declare("overlap.bin", bytes.Length));
        Assert.True((await WriteAtAsync(session.Id, 50, bytes[50..])).IsSuccess);
        byte[] wrong = [.. bytes[20..50], .. bytes[50..60].Select(b => (byte)~b)];

        AssertError(await WriteAtAsync(session.Id, 20, wrong), ErrorCodes.Conflict);

        Assert.Equal([new ByteSpan(50, 100)], (await SessionAsync(session.Id)).Received);
        Assert.True((await WriteAtAsync(session.Id, 0, bytes[..50])).IsSuccess);
        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("overlap.bin", bytes);
    }

    [Fact]
    public async Task WriteAt_OverlappingRangeWithSameBytes_AcceptedAndMerged()
    {
        var bytes = Bytes(100, 5);
        var session = await CreateAsync(Declare("merge.bin", bytes.Length));
        Assert.True((await WriteAtAsync(session.Id, 0, bytes[..60])).IsSuccess);

        var written = await WriteAtAsync(session.Id, 40, bytes[40..]);

        Assert.True(written.IsSuccess, written.Error?.Message);
        Assert.False(written.Value.Duplicate, "bytes 60..100 are new");
        Assert.Equal([new ByteSpan(0, 100)], written.Value.Session.Received);
        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("merge.bin", bytes);
    }

    [Fact]
    public async Task WriteChunk_LastChunkOfTheWrongSize_InvalidRequestAndNothingRecorded()
    {
        var bytes = Bytes(100, 6);
        var session = await CreateAsync(Declare("last.bin", bytes.Length, chunkSize: 40));

        AssertError(await WriteChunkAsync(session.Id, 2, bytes[80..99]), ErrorCodes.InvalidRequest);
        AssertError(await WriteChunkAsync(session.Id, 2, bytes[80..99], declareLength: false), ErrorCodes.InvalidRequest);
        AssertError(await WriteChunkAsync(session.Id, 0, bytes[..39], declareLength: false), ErrorCodes.InvalidRequest);

        Assert.Empty((await SessionAsync(session.Id)).Received);
    }

    [Fact]
    public async Task WriteChunk_MiddleChunkTooLongWithoutContentLength_RefusedAndNothingRecorded()
    {
        var bytes = Bytes(100, 7);
        var session = await CreateAsync(Declare("long.bin", bytes.Length, chunkSize: 40));

        var written = await WriteChunkAsync(session.Id, 0, bytes[..60], declareLength: false);

        Assert.False(written.IsSuccess);
        Assert.Empty((await SessionAsync(session.Id)).Received);
    }

    [Fact]
    public async Task WriteChunk_IndexPastTheEnd_TooLarge()
    {
        var session = await CreateAsync(Declare("past.bin", 100, chunkSize: 40));

        AssertError(await WriteChunkAsync(session.Id, 3, Bytes(40, 8)), ErrorCodes.TooLarge);
        AssertError(await WriteChunkAsync(session.Id, -1, Bytes(40, 8)), ErrorCodes.InvalidRequest);
    }

    [Fact]
    public async Task WriteChunk_SessionWithoutChunkSize_InvalidRequest()
    {
        var session = await CreateAsync(Declare("nochunks.bin", 100));

        AssertError(await WriteChunkAsync(session.Id, 0, Bytes(10, 9)), ErrorCodes.InvalidRequest);
    }

    [Fact]
    public async Task WriteChunk_DeferredLengthChunkLongerThanTheChunkSize_RefusedAndNothingRecorded()
    {
        // "By index, every chunk but the last must be exactly chunkSize bytes" — with a deferred length too.
        var session = await CreateAsync(Declare("deferred-chunks.bin", null, chunkSize: 40));

        var declared = await WriteChunkAsync(session.Id, 0, Bytes(80, 10));
        var streamed = await WriteChunkAsync(session.Id, 1, Bytes(80, 10), declareLength: false);

        Assert.False(declared.IsSuccess, "an 80-byte chunk 0 of a 40-byte chunk size was accepted (it overwrites chunk 1's range)");
        Assert.False(streamed.IsSuccess, "an 80-byte chunk 1 (no Content-Length) of a 40-byte chunk size was accepted");
        Assert.Empty((await SessionAsync(session.Id)).Received);
    }

    [Fact]
    public async Task WriteAt_PastTheDeclaredLength_TooLargeAndNothingRecorded()
    {
        var session = await CreateAsync(Declare("over.bin", 100));

        AssertError(await WriteAtAsync(session.Id, 90, Bytes(20, 11)), ErrorCodes.TooLarge);
        AssertError(await WriteAtAsync(session.Id, 90, Bytes(20, 11), declareLength: false), ErrorCodes.TooLarge);
        AssertError(await WriteAtAsync(session.Id, -1, Bytes(1, 11)), ErrorCodes.InvalidRequest);

        Assert.Empty((await SessionAsync(session.Id)).Received);
    }

    [Fact]
    public async Task WriteAt_ChunkAboveTheBucketMaximum_TooLarge()
    {
        var session = await CreateAsync(Declare("bigchunk.bin", 4 * UploadTestStack.MaxChunk));

        AssertError(await WriteAtAsync(session.Id, 0, new byte[UploadTestStack.MaxChunk + 1]), ErrorCodes.TooLarge);
        AssertError(await WriteAtAsync(session.Id, 0, new byte[UploadTestStack.MaxChunk + 1], declareLength: false), ErrorCodes.TooLarge);
        Assert.True((await WriteAtAsync(session.Id, 0, new byte[UploadTestStack.MaxChunk])).IsSuccess);
    }

    [Fact]
    public async Task WriteAt_BodyShorterThanDeclared_InvalidRequestAndNothingRecorded()
    {
        var session = await CreateAsync(Declare("short.bin", 100));
        var options = new ChunkOptions { ExpectedLength = 50 };

        var written = await Uploads.WriteAsync(session.Id, 0, new MemoryStream(Bytes(30, 12)), options, Ct);

        AssertError(written, ErrorCodes.InvalidRequest);
        Assert.Empty((await SessionAsync(session.Id)).Received);
    }

    [Fact]
    public async Task WriteAt_BodyBrokenMidway_NothingRecordedAndTheChunkCanBeSentAgain()
    {
        var bytes = Bytes(100, 13);
        var session = await CreateAsync(Declare("broken.bin", bytes.Length));

        await Assert.ThrowsAsync<IOException>(() => Uploads.WriteAsync(session.Id, 0, new BreakingStream(bytes, 60), new ChunkOptions { ExpectedLength = 100 }, Ct));

        Assert.Empty((await SessionAsync(session.Id)).Received);
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);
        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("broken.bin", bytes);
    }

    [Fact]
    public async Task WriteAt_BodyLongerThanItsDeclaredLength_NeverOverwritesAnAcknowledgedChunk()
    {
        // A chunk declared as 10 bytes at offset 0 only holds [0, 10): its extra bytes must not land on [10, 20), which
        // another request wrote and had acknowledged meanwhile.
        var bytes = Bytes(20, 14);
        var session = await CreateAsync(Declare("cap.bin", bytes.Length));
        var liar = new GatedStream(bytes[..10], Bytes(10, 99));
        var first = Uploads.WriteAsync(session.Id, 0, liar, new ChunkOptions { ExpectedLength = 10 }, Ct);
        await liar.Waiting.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.True((await WriteAtAsync(session.Id, 10, bytes[10..])).IsSuccess);
        liar.Release();
        var lied = await first;

        Assert.False(lied.IsSuccess, "a body longer than declared must be refused");
        Assert.True((await WriteAtAsync(session.Id, 0, bytes[..10])).IsSuccess);
        var finished = await Uploads.CompleteAsync(session.Id, Ct);
        Assert.True(finished.IsSuccess, $"{finished.Error?.Code}: {finished.Error?.Message} — the acknowledged bytes 10..20 were overwritten");
        await AssertPublishedAsync("cap.bin", bytes);
    }

    [Fact]
    public async Task WriteAt_ZeroBytes_NotADuplicateAndNothingRecorded()
    {
        var session = await CreateAsync(Declare("empty-chunk.bin", 10));

        var written = await WriteAtAsync(session.Id, 3, []);

        Assert.True(written.IsSuccess, written.Error?.Message);
        Assert.False(written.Value.Duplicate);
        Assert.Empty(written.Value.Session.Received);
    }

    [Fact]
    public async Task Session_AfterChunks_ReportsRangesChunksBytesOffsetAndPushedBackExpiry()
    {
        var bytes = Bytes(100, 15);
        var session = await CreateAsync(Declare("state.bin", bytes.Length, chunkSize: 30));
        Stack.Clock.Advance(TimeSpan.FromMinutes(10));

        await SendChunksAsync(session.Id, bytes, 30, [0, 3, 2]);
        var now = await SessionAsync(session.Id);

        Assert.Equal([new ByteSpan(0, 30), new ByteSpan(60, 100)], now.Received);
        Assert.Equal([0L, 2L, 3L], now.ReceivedChunks());
        Assert.Equal(70, now.BytesReceived);
        Assert.Equal(30, now.ContiguousLength);
        Assert.Equal(100, now.ReceivedEnd);
        Assert.False(now.IsFullyReceived);
        Assert.Equal(Stack.Clock.GetUtcNow() + UploadTestStack.Expiry, now.ExpiresUtc);
        Assert.Equal(session.CreatedUtc, now.CreatedUtc);
    }

    [Fact]
    public async Task WriteAt_ManySmallPieces_RangesStayMergedAndSorted()
    {
        var bytes = Bytes(64, 16);
        var session = await CreateAsync(Declare("pieces.bin", bytes.Length));
        int[] order = [7, 0, 5, 2, 6, 1, 3, 4];

        foreach (var piece in order)
        {
            Assert.True((await WriteAtAsync(session.Id, piece * 8, bytes[(piece * 8)..((piece * 8) + 8)])).IsSuccess);
            var received = (await SessionAsync(session.Id)).Received;
            for (var i = 1; i < received.Count; i++)
            {
                Assert.True(received[i - 1].End < received[i].Start, $"ranges {received[i - 1]} and {received[i]} are not merged and sorted");
            }
        }

        Assert.Equal([new ByteSpan(0, 64)], (await SessionAsync(session.Id)).Received);
        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("pieces.bin", bytes);
    }
}
