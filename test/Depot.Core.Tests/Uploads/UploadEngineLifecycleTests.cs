using Depot.Core.Errors;
using Depot.Core.Uploads;

namespace Depot.Core.Tests.Uploads;

/// <summary>Abort, expiry (on an injected clock) and the sweep that reclaims expired sessions and orphaned staged files.</summary>
public sealed class UploadEngineLifecycleTests : UploadEngineTestBase
{
    [Fact]
    public async Task Abort_OpenSession_DeletesRecordAndStagedFileAndLaterOperationsAreNotFound()
    {
        var session = await CreateAsync(Declare("abort.bin", 100, chunkSize: 50) with { ClientName = "abort.bin" });
        await MustWriteChunkAsync(session.Id, 1, Bytes(50, 1));
        Assert.True(File.Exists(Stack.StagedPath(UploadTestStack.Main, session.Id)));

        Assert.True((await Uploads.AbortAsync(session.Id, Ct)).IsSuccess);

        Assert.False(File.Exists(Stack.StagedPath(UploadTestStack.Main, session.Id)));
        Assert.Null(await Stack.Sessions.GetSessionAsync(session.Id, Ct));
        AssertError(await Uploads.GetAsync(session.Id, Ct), ErrorCodes.NotFound);
        AssertError(await WriteChunkAsync(session.Id, 0, Bytes(50, 2)), ErrorCodes.NotFound);
        AssertError(await WriteAtAsync(session.Id, 0, Bytes(50, 2)), ErrorCodes.NotFound);
        AssertError(await Uploads.DeclareLengthAsync(session.Id, 100, Ct), ErrorCodes.NotFound);
        AssertError(await Uploads.CompleteAsync(session.Id, Ct), ErrorCodes.NotFound);
        AssertError(await Uploads.AbortAsync(session.Id, Ct), ErrorCodes.NotFound);
        Assert.False(File.Exists(Stack.StagedPath(UploadTestStack.Main, session.Id)), "a chunk after the abort must not recreate the staged file");
        var cancelled = Assert.Single(Stack.Policy.Cancelled);
        Assert.Equal(("aborted", 50L, "abort.bin"), (cancelled.Reason, cancelled.BytesReceived, cancelled.Key));
    }

    [Theory]
    [InlineData("")]
    [InlineData("../../etc/passwd")]
    [InlineData("nosuchsession")]
    [InlineData("a/b")]
    public async Task Operations_UnknownOrMalformedId_NotFound(string id)
    {
        AssertError(await Uploads.GetAsync(id, Ct), ErrorCodes.NotFound);
        AssertError(await Uploads.AbortAsync(id, Ct), ErrorCodes.NotFound);
        AssertError(await Uploads.CompleteAsync(id, Ct), ErrorCodes.NotFound);
        AssertError(await WriteAtAsync(id, 0, [1]), ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Abort_CompletedSession_KeepsTheObjectAndTellsNoCancellation()
    {
        var bytes = Bytes(10, 3);
        var session = await CreateAsync(Declare("keep.bin", bytes.Length));
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);
        await MustCompleteAsync(session.Id);

        Assert.True((await Uploads.AbortAsync(session.Id, Ct)).IsSuccess);

        await AssertPublishedAsync("keep.bin", bytes);
        Assert.Empty(Stack.Policy.Cancelled);
    }

    [Fact]
    public async Task Expiry_UntouchedPastTheExpiry_EveryOperationAnswersUploadExpired()
    {
        var session = await CreateAsync(Declare("expire.bin", 100, chunkSize: 50));
        await MustWriteChunkAsync(session.Id, 0, Bytes(50, 4));

        Stack.Clock.Advance(UploadTestStack.Expiry + TimeSpan.FromSeconds(1));

        AssertError(await Uploads.GetAsync(session.Id, Ct), ErrorCodes.UploadExpired);
        AssertError(await WriteChunkAsync(session.Id, 1, Bytes(50, 5)), ErrorCodes.UploadExpired);
        AssertError(await WriteAtAsync(session.Id, 50, Bytes(50, 5)), ErrorCodes.UploadExpired);
        AssertError(await Uploads.DeclareLengthAsync(session.Id, 100, Ct), ErrorCodes.UploadExpired);
        AssertError(await Uploads.CompleteAsync(session.Id, Ct), ErrorCodes.UploadExpired);
    }

    [Fact]
    public async Task Expiry_EachChunkPushesItBack()
    {
        var bytes = Bytes(100, 6);
        var session = await CreateAsync(Declare("alive.bin", bytes.Length, chunkSize: 25));
        for (var i = 0; i < 4; i++)
        {
            Stack.Clock.Advance(UploadTestStack.Expiry - TimeSpan.FromMinutes(1));
            await MustWriteChunkAsync(session.Id, i, bytes[(i * 25)..((i + 1) * 25)]);
        }

        Stack.Clock.Advance(UploadTestStack.Expiry - TimeSpan.FromMinutes(1));
        Assert.Equal(0, await Uploads.ReclaimExpiredAsync(Ct));
        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("alive.bin", bytes);
    }

    [Fact]
    public async Task Expiry_AtTheExactInstant_Expired()
    {
        var session = await CreateAsync(Declare("edge.bin", 10));

        Stack.Clock.Advance(UploadTestStack.Expiry);

        AssertError(await Uploads.GetAsync(session.Id, Ct), ErrorCodes.UploadExpired);
    }

    [Fact]
    public async Task ReclaimExpired_DeletesExpiredSessionsAndTheirFilesKeepsLiveOnes()
    {
        var old = await CreateAsync(Declare("old.bin", 100, chunkSize: 50) with { ClientName = "old.bin" });
        await MustWriteChunkAsync(old.Id, 0, Bytes(50, 7));
        Stack.Clock.Advance(UploadTestStack.Expiry - TimeSpan.FromMinutes(5));
        var young = await CreateAsync(Declare("young.bin", 100, chunkSize: 50));
        await MustWriteChunkAsync(young.Id, 0, Bytes(50, 8));
        Stack.Clock.Advance(TimeSpan.FromMinutes(10));

        var reclaimed = await Uploads.ReclaimExpiredAsync(Ct);

        Assert.Equal(1, reclaimed);
        Assert.False(File.Exists(Stack.StagedPath(UploadTestStack.Main, old.Id)));
        Assert.Null(await Stack.Sessions.GetSessionAsync(old.Id, Ct));
        AssertError(await Uploads.GetAsync(old.Id, Ct), ErrorCodes.NotFound);
        Assert.True(File.Exists(Stack.StagedPath(UploadTestStack.Main, young.Id)));
        Assert.Equal(50, (await SessionAsync(young.Id)).BytesReceived);
        var cancelled = Assert.Single(Stack.Policy.Cancelled);
        Assert.Equal((old.Id, "expired"), (cancelled.SessionId, cancelled.Reason));
    }

    [Fact]
    public async Task ReclaimExpired_CompletedSessionPastExpiry_ForgetsTheSessionKeepsTheObject()
    {
        var bytes = Bytes(10, 9);
        var session = await CreateAsync(Declare("done.bin", bytes.Length));
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);
        await MustCompleteAsync(session.Id);
        Stack.Clock.Advance(UploadTestStack.Expiry + TimeSpan.FromSeconds(1));

        Assert.Equal(1, await Uploads.ReclaimExpiredAsync(Ct));

        await AssertPublishedAsync("done.bin", bytes);
        Assert.Empty(Stack.Policy.Cancelled);
    }

    [Fact]
    public async Task ReclaimExpired_StagedFileNoSessionKnows_Deleted()
    {
        var session = await CreateAsync(Declare("live.bin", 100));
        Assert.True((await WriteAtAsync(session.Id, 0, Bytes(10, 10))).IsSuccess);
        var orphan = Stack.StagedPath(UploadTestStack.Main, "orphan_0123456789abcdef");
        await File.WriteAllBytesAsync(orphan, Bytes(10, 11), Ct);
        Directory.CreateDirectory(Stack.UploadsFolder(UploadTestStack.Wide));
        var orphanWide = Stack.StagedPath(UploadTestStack.Wide, "orphan_wide");
        await File.WriteAllBytesAsync(orphanWide, Bytes(10, 12), Ct);

        await Uploads.ReclaimExpiredAsync(Ct);

        Assert.False(File.Exists(orphan));
        Assert.False(File.Exists(orphanWide));
        Assert.True(File.Exists(Stack.StagedPath(UploadTestStack.Main, session.Id)));
    }

    [Fact]
    public async Task ReclaimExpired_MoreThanOneBatch_ReclaimsThemAll()
    {
        var ids = new List<string>();
        for (var i = 0; i < 130; i++)
        {
            ids.Add((await CreateAsync(Declare($"many/{i}.bin", 10))).Id);
        }

        Stack.Clock.Advance(UploadTestStack.Expiry + TimeSpan.FromSeconds(1));

        Assert.Equal(130, await Uploads.ReclaimExpiredAsync(Ct));
        Assert.Empty(await Stack.Sessions.GetExpiredSessionsAsync(Stack.Clock.GetUtcNow(), 1000, Ct));
    }

    [Fact]
    public async Task Sessions_SurviveARestartWithEveryField()
    {
        var created = await CreateAsync(Declare("fields.bin", 100, chunkSize: 20) with
        {
            ContentType = "application/x-test",
            Metadata = new Dictionary<string, string> { ["a"] = "1" },
            ExpectedSha256 = new byte[32],
            ExpectedMd5 = new byte[16],
            Appendable = true,
            CreateOnly = true,
            ClientName = "client-name",
        });
        await MustWriteChunkAsync(created.Id, 2, Bytes(20, 13));

        await Stack.RestartAsync();
        var session = await SessionAsync(created.Id);

        Assert.Equal((created.Bucket, created.Key, created.Length, created.ChunkSize), (session.Bucket, session.Key, session.Length, session.ChunkSize));
        Assert.Equal((created.ContentType, created.Appendable, created.CreateOnly, created.ClientName, created.Identity), (session.ContentType, session.Appendable, session.CreateOnly, session.ClientName, session.Identity));
        Assert.Equal(created.ExpectedSha256, session.ExpectedSha256);
        Assert.Equal(created.ExpectedMd5, session.ExpectedMd5);
        Assert.Equal("1", session.Metadata["a"]);
        Assert.Equal([new ByteSpan(40, 60)], session.Received);
        Assert.Equal(created.CreatedUtc, session.CreatedUtc);
    }

    [Fact]
    public async Task Complete_CrashAfterThePublishingRenameBeforeTheRecord_RecognisesThePublishedObject()
    {
        // What a crash between the rename into place and the session update leaves: no staged file, the bytes at the key,
        // the session still open. Completing again must answer the outcome, not "the bytes are gone".
        var bytes = Bytes(1000, 20);
        var session = await CreateAsync(Declare("recovered.bin", bytes.Length) with { ExpectedSha256 = System.Security.Cryptography.SHA256.HashData(bytes) });
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);
        File.Move(Stack.StagedPath(UploadTestStack.Main, session.Id), Stack.FilePath(UploadTestStack.Main, "recovered.bin"));
        await Stack.RestartAsync();

        var finished = await MustCompleteAsync(session.Id);

        Assert.Equal(UploadState.Completed, finished.Session.State);
        Assert.Equal(UploadFacts.Sha256Hex(bytes), finished.Object!.Sha256Hex);
        await AssertPublishedAsync("recovered.bin", bytes);
    }

    [Fact]
    public async Task Complete_StagedBytesGoneAndNothingPublished_ConflictAndTheSessionCanBeAborted()
    {
        var session = await CreateAsync(Declare("vanished.bin", 10));
        Assert.True((await WriteAtAsync(session.Id, 0, Bytes(10, 21))).IsSuccess);
        File.Delete(Stack.StagedPath(UploadTestStack.Main, session.Id));

        AssertError(await Uploads.CompleteAsync(session.Id, Ct), ErrorCodes.Conflict);

        Assert.True((await Uploads.AbortAsync(session.Id, Ct)).IsSuccess);
        Assert.False(File.Exists(Stack.FilePath(UploadTestStack.Main, "vanished.bin")));
    }

    [Fact]
    public async Task Create_AFileWhereADirectoryOfTheKeyMustBe_RefusedBeforeAnyByteMoves()
    {
        await Stack.Objects.PutAsync(UploadTestStack.Main, UploadFacts.Key("file.bin"), new MemoryStream([1, 2, 3]), new Depot.Core.Model.PutOptions(), Ct);

        var result = await Uploads.CreateAsync(Declare("file.bin/child.bin", 10), Ct);

        AssertError(result, ErrorCodes.Conflict);
    }
}
