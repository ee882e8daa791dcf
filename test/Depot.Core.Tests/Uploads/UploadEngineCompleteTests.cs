using System.Security.Cryptography;
using Depot.Core.Errors;
using Depot.Core.Hashing;
using Depot.Core.Model;
using Depot.Core.Uploads;
using static Depot.Core.Tests.Uploads.UploadFacts;

#pragma warning disable CA5351 // MD5 is what clients declare (Content-MD5, tus); it is verified, not trusted for security

namespace Depot.Core.Tests.Uploads;

/// <summary>Completion: size and checksums verified, one atomic publication, idempotent; deferred lengths.</summary>
public sealed class UploadEngineCompleteTests : UploadEngineTestBase
{
    [Fact]
    public async Task Complete_MissingBytes_UploadIncompleteNamingWhatIsMissing()
    {
        var bytes = Bytes(100, 1);
        var session = await CreateAsync(Declare("gap.bin", bytes.Length, chunkSize: 25));
        await SendChunksAsync(session.Id, bytes, 25, [0, 2]);

        var result = await Uploads.CompleteAsync(session.Id, Ct);

        AssertError(result, ErrorCodes.UploadIncomplete);
        Assert.Contains("50 of 100", result.Error!.Message, StringComparison.Ordinal);
        Assert.Contains("25-50", result.Error.Message, StringComparison.Ordinal);
        Assert.Contains("75-100", result.Error.Message, StringComparison.Ordinal);
        Assert.Equal(50L, result.Error.Extensions!["received"]);
        Assert.False(File.Exists(Stack.FilePath(UploadTestStack.Main, "gap.bin")));
        Assert.Equal(UploadState.Open, (await SessionAsync(session.Id)).State);
    }

    [Fact]
    public async Task Chunk_AfterTheStagedFileVanished_ConflictAndNeverPublishesZeros()
    {
        // The staged file of a session with recorded bytes is gone (a completion a crash interrupted after its rename, or
        // lost data): a later chunk must not create an empty one whose holes would be hashed and published as zeros.
        var bytes = Bytes(200, 4);
        var session = await CreateAsync(Declare("vanished.bin", bytes.Length, chunkSize: 100));
        await MustWriteChunkAsync(session.Id, 0, bytes[..100]);
        File.Delete(Stack.StagedPath(UploadTestStack.Main, session.Id));

        AssertError(await WriteChunkAsync(session.Id, 1, bytes[100..]), ErrorCodes.Conflict);
        Assert.False(File.Exists(Stack.StagedPath(UploadTestStack.Main, session.Id)));
        AssertError(await Uploads.CompleteAsync(session.Id, Ct), ErrorCodes.UploadIncomplete);
        Assert.False(File.Exists(Stack.FilePath(UploadTestStack.Main, "vanished.bin")));
    }

    [Fact]
    public async Task Complete_NothingSent_UploadIncomplete()
    {
        var session = await CreateAsync(Declare("nothing.bin", 10));

        AssertError(await Uploads.CompleteAsync(session.Id, Ct), ErrorCodes.UploadIncomplete);
    }

    [Fact]
    public async Task Complete_WrongDeclaredSha256_ChecksumMismatchNothingPublishedSessionStillOpen()
    {
        var bytes = Bytes(300, 2);
        var wrong = SHA256.HashData(Bytes(300, 3));
        var session = await CreateAsync(Declare("badsha.bin", bytes.Length, chunkSize: 100) with { ExpectedSha256 = wrong });
        await SendChunksAsync(session.Id, bytes, 100, [2, 1, 0]);

        var result = await Uploads.CompleteAsync(session.Id, Ct);

        AssertError(result, ErrorCodes.ChecksumMismatch);
        Assert.Contains(Sha256Hex(bytes), result.Error!.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Stack.FilePath(UploadTestStack.Main, "badsha.bin")));
        AssertError(await Stack.Objects.GetAsync(UploadTestStack.Main, Key("badsha.bin"), Ct), ErrorCodes.NotFound);
        Assert.Equal(UploadState.Open, (await SessionAsync(session.Id)).State);
        Assert.True(File.Exists(Stack.StagedPath(UploadTestStack.Main, session.Id)));
        AssertError(await Uploads.CompleteAsync(session.Id, Ct), ErrorCodes.ChecksumMismatch); // asked again: same answer
        Assert.True((await Uploads.AbortAsync(session.Id, Ct)).IsSuccess);
        Assert.False(File.Exists(Stack.StagedPath(UploadTestStack.Main, session.Id)));
    }

    [Fact]
    public async Task Complete_RightSha256AndMd5_Publishes()
    {
        var bytes = Bytes(5000, 4);
        var session = await CreateAsync(Declare("sums.bin", bytes.Length, chunkSize: 1024) with
        {
            ExpectedSha256 = SHA256.HashData(bytes),
            ExpectedMd5 = MD5.HashData(bytes),
        });
        await SendChunksAsync(session.Id, bytes, 1024, [4, 0, 3, 1, 2]);

        await MustCompleteAsync(session.Id);

        await AssertPublishedAsync("sums.bin", bytes);
    }

    [Fact]
    public async Task Complete_WrongDeclaredMd5_ChecksumMismatchAndNothingPublished()
    {
        var bytes = Bytes(5000, 5);
        var session = await CreateAsync(Declare("badmd5.bin", bytes.Length) with { ExpectedMd5 = MD5.HashData(Bytes(5000, 6)) });
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);

        var result = await Uploads.CompleteAsync(session.Id, Ct);

        AssertError(result, ErrorCodes.ChecksumMismatch);
        Assert.Contains("MD5", result.Error!.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Stack.FilePath(UploadTestStack.Main, "badmd5.bin")));
    }

    [Fact]
    public async Task Complete_Twice_AnswersTheSameOutcome()
    {
        var bytes = Bytes(100, 7);
        var session = await CreateAsync(Declare("twice.bin", bytes.Length));
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);

        var first = await MustCompleteAsync(session.Id);
        var second = await MustCompleteAsync(session.Id);

        Assert.Equal(UploadState.Completed, second.Session.State);
        Assert.Equal(first.Session.ResultSha256, second.Session.ResultSha256);
        Assert.Equal(first.Object!.Sha256Hex, second.Object!.Sha256Hex);
        Assert.Equal(first.Object.BlobVersion, second.Object.BlobVersion);
        Assert.Single(Stack.Policy.Completed);
        AssertError(await WriteAtAsync(session.Id, 0, bytes), ErrorCodes.Conflict); // a completed session takes no bytes
    }

    [Fact]
    public async Task Complete_ManyConcurrentCalls_PublishOnceAndAllAnswerTheSame()
    {
        var bytes = Bytes(256 << 10, 8);
        var session = await CreateAsync(Declare("race.bin", bytes.Length));
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Uploads.CompleteAsync(session.Id, Ct), Ct)));

        Assert.All(results, r => Assert.True(r.IsSuccess, r.Error?.Message));
        Assert.Single(results.Select(r => r.Value.Object!.BlobVersion).Distinct());
        Assert.Single(Stack.Policy.Completed);
        await AssertPublishedAsync("race.bin", bytes);
    }

    [Fact]
    public async Task Complete_CreateOnlyTargetTakenMeanwhile_AlreadyExistsAndTheOtherObjectKept()
    {
        var bytes = Bytes(100, 9);
        var other = Bytes(50, 10);
        var session = await CreateAsync(Declare("race-create.bin", bytes.Length) with { CreateOnly = true });
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);
        Assert.True((await Stack.Objects.PutAsync(UploadTestStack.Main, Key("race-create.bin"), new MemoryStream(other), new PutOptions(), Ct)).IsSuccess);

        AssertError(await Uploads.CompleteAsync(session.Id, Ct), ErrorCodes.AlreadyExists);

        await AssertPublishedAsync("race-create.bin", other);
    }

    [Fact]
    public async Task Complete_OverAnExistingObject_ReplacesItAtomically()
    {
        var old = Bytes(70, 11);
        var bytes = Bytes(100, 12);
        Assert.True((await Stack.Objects.PutAsync(UploadTestStack.Main, Key("replace.bin"), new MemoryStream(old), new PutOptions(), Ct)).IsSuccess);
        var session = await CreateAsync(Declare("replace.bin", bytes.Length));
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);
        await AssertPublishedAsync("replace.bin", old); // nothing shows before completion

        await MustCompleteAsync(session.Id);

        await AssertPublishedAsync("replace.bin", bytes);
    }

    [Fact]
    public async Task Complete_ZeroByteUpload_PublishesAnEmptyObject()
    {
        var session = await CreateAsync(Declare("empty.bin", 0, chunkSize: 16));

        var finished = await MustCompleteAsync(session.Id);

        Assert.Equal(0, finished.Object!.Size);
        await AssertPublishedAsync("empty.bin", []);
        AssertError(await WriteAtAsync(session.Id, 0, [1]), ErrorCodes.Conflict);
    }

    [Fact]
    public async Task Complete_ZeroByteUploadWithDeclaredSha256_Publishes()
    {
        var session = await CreateAsync(Declare("empty-sha.bin", 0) with { ExpectedSha256 = SHA256.HashData([]), ExpectedMd5 = MD5.HashData([]) });

        await MustCompleteAsync(session.Id);

        await AssertPublishedAsync("empty-sha.bin", []);
    }

    [Fact]
    public async Task Complete_Appendable_PublishesAnAppenderObjectThatTakesAppends()
    {
        var bytes = Bytes(3000, 13);
        var more = Bytes(500, 14);
        var session = await CreateAsync(Declare("log/app.log", bytes.Length, chunkSize: 1000) with { Appendable = true });
        await SendChunksAsync(session.Id, bytes, 1000, [1, 2, 0]);

        var finished = await MustCompleteAsync(session.Id);

        Assert.True(finished.Object!.Appendable);
        Assert.NotNull(finished.Object.HashState);
        Assert.Equal(SHA256.HashData(bytes), AppenderHash.Import(finished.Object.HashState).Digest());
        var appended = await Stack.Objects.AppendAsync(UploadTestStack.Main, Key("log/app.log"), new MemoryStream(more), new ChangeOptions(), Ct);
        Assert.True(appended.IsSuccess, appended.Error?.Message);
        await AssertPublishedAsync("log/app.log", [.. bytes, .. more]);
    }

    [Fact]
    public async Task Complete_MetadataAndContentType_CarriedToTheObject()
    {
        var bytes = Bytes(10, 15);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["origin"] = "camera-7", ["take"] = "3" };
        var session = await CreateAsync(Declare("meta.jpg", bytes.Length) with { ContentType = "image/jpeg", Metadata = metadata });
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);

        await MustCompleteAsync(session.Id);

        var record = await AssertPublishedAsync("meta.jpg", bytes);
        Assert.Equal("image/jpeg", record.ContentType);
        Assert.Equal(metadata, record.Metadata.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Complete_ServerAssignedId_PublishedAtTheAssignedKey()
    {
        var bytes = Bytes(10, 16);
        var session = await CreateAsync(Declare("", bytes.Length) with { Extension = "bin" });
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);

        var finished = await MustCompleteAsync(session.Id);

        Assert.Equal(session.Key, finished.Object!.Key);
        await AssertPublishedAsync(session.Key, bytes);
    }

    [Fact]
    public async Task Complete_PolicyIsToldWhatWasPublished()
    {
        var bytes = Bytes(10, 17);
        var session = await CreateAsync(Declare("told.bin", bytes.Length) with { ClientName = "told.bin" });
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);

        await MustCompleteAsync(session.Id);

        var completed = Assert.Single(Stack.Policy.Completed);
        Assert.Equal((session.Id, "tester", UploadProtocols.Native, "told.bin"), (completed.SessionId, completed.Identity, completed.Protocol, completed.ClientName));
        Assert.Equal(Sha256Hex(bytes), completed.Object.Sha256Hex);
    }

    [Fact]
    public async Task Complete_AfterARestart_RehashesTheStagedBytesAndPublishes()
    {
        var bytes = Bytes(3 << 20, 18);
        var session = await CreateAsync(Declare("restart.bin", bytes.Length, chunkSize: 1 << 20) with { ExpectedSha256 = SHA256.HashData(bytes), ExpectedMd5 = MD5.HashData(bytes) });
        await SendChunksAsync(session.Id, bytes, 1 << 20, [0, 2]);

        await Stack.RestartAsync();
        var resumed = await SessionAsync(session.Id);
        Assert.Equal([new ByteSpan(0, 1 << 20), new ByteSpan(2 << 20, 3 << 20)], resumed.Received);
        await SendChunksAsync(session.Id, bytes, 1 << 20, [1]);
        await MustCompleteAsync(session.Id);

        await AssertPublishedAsync("restart.bin", bytes);
    }

    // ---- deferred length ----

    [Fact]
    public async Task DeclareLength_ThenComplete_Publishes()
    {
        var bytes = Bytes(1000, 19);
        var session = await CreateAsync(Declare("deferred.bin", null));
        Assert.True((await WriteAtAsync(session.Id, 600, bytes[600..])).IsSuccess);
        Assert.True((await WriteAtAsync(session.Id, 0, bytes[..600], declareLength: false)).IsSuccess);
        AssertError(await Uploads.CompleteAsync(session.Id, Ct), ErrorCodes.UploadIncomplete);

        var declared = await Uploads.DeclareLengthAsync(session.Id, bytes.Length, Ct);

        Assert.True(declared.IsSuccess, declared.Error?.Message);
        Assert.Equal(bytes.Length, declared.Value.Length);
        await MustCompleteAsync(session.Id);
        await AssertPublishedAsync("deferred.bin", bytes);
    }

    [Fact]
    public async Task DeclareLength_Rules_ShorterThanReceivedConflictSameAgainFineOtherConflictTooBigTooLarge()
    {
        var session = await CreateAsync(Declare("rules.bin", null));
        Assert.True((await WriteAtAsync(session.Id, 0, Bytes(100, 20))).IsSuccess);

        AssertError(await Uploads.DeclareLengthAsync(session.Id, 99, Ct), ErrorCodes.Conflict);
        AssertError(await Uploads.DeclareLengthAsync(session.Id, UploadTestStack.MaxObject + 1, Ct), ErrorCodes.TooLarge);
        AssertError(await Uploads.DeclareLengthAsync(session.Id, -1, Ct), ErrorCodes.InvalidRequest);
        Assert.True((await Uploads.DeclareLengthAsync(session.Id, 150, Ct)).IsSuccess);
        Assert.True((await Uploads.DeclareLengthAsync(session.Id, 150, Ct)).IsSuccess);
        AssertError(await Uploads.DeclareLengthAsync(session.Id, 151, Ct), ErrorCodes.Conflict);
        AssertError(await WriteAtAsync(session.Id, 140, Bytes(20, 21)), ErrorCodes.TooLarge);
    }

    [Fact]
    public async Task DeclareLength_Zero_PublishesAnEmptyObject()
    {
        var session = await CreateAsync(Declare("deferred-empty.bin", null));

        Assert.True((await Uploads.DeclareLengthAsync(session.Id, 0, Ct)).IsSuccess);
        await MustCompleteAsync(session.Id);

        await AssertPublishedAsync("deferred-empty.bin", []);
    }
}
