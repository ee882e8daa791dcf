using System.Text.RegularExpressions;
using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Uploads;
using static Depot.Core.Tests.Uploads.UploadFacts;

namespace Depot.Core.Tests.Uploads;

/// <summary>Starting an upload session: every limit and refusal is answered before any byte moves (issue 4 §1).</summary>
public sealed class UploadEngineCreateTests : UploadEngineTestBase
{
    [Fact]
    public async Task Create_ValidDeclaration_RecordsAnOpenSessionWithExpiryAndNoStagedFile()
    {
        var now = Stack.Clock.GetUtcNow();

        var session = await CreateAsync(Declare("a/b.bin", 100, chunkSize: 10) with { ContentType = "text/plain" });

        Assert.Equal(UploadState.Open, session.State);
        Assert.Equal("a/b.bin", session.Key);
        Assert.Equal(100, session.Length);
        Assert.Equal(10, session.ChunkSize);
        Assert.Equal(now, session.CreatedUtc);
        Assert.Equal(now + UploadTestStack.Expiry, session.ExpiresUtc);
        Assert.Empty(session.Received);
        var stored = await Stack.Sessions.GetSessionAsync(session.Id, Ct);
        Assert.NotNull(stored);
        Assert.Equal(session.ExpiresUtc, stored.ExpiresUtc);
        Assert.False(File.Exists(Stack.StagedPath(UploadTestStack.Main, session.Id)));
        Assert.Matches("^[A-Za-z0-9_-]{20,64}$", session.Id);
    }

    [Fact]
    public async Task Create_UnknownBucket_NotFound()
    {
        AssertError(await Uploads.CreateAsync(Declare("x.bin", 10, bucket: "nosuch"), Ct), ErrorCodes.NotFound);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(UploadTestStack.MinChunk - 1)]
    public async Task Create_ChunkSizeBelowBucketMinimum_InvalidRequest(long chunkSize)
    {
        AssertError(await Uploads.CreateAsync(Declare("x.bin", 100, chunkSize), Ct), ErrorCodes.InvalidRequest);
    }

    [Fact]
    public async Task Create_ChunkSizeAboveBucketMaximum_TooLarge()
    {
        AssertError(await Uploads.CreateAsync(Declare("x.bin", 100, UploadTestStack.MaxChunk + 1), Ct), ErrorCodes.TooLarge);
    }

    [Fact]
    public async Task Create_ChunkSizeAtEitherEndOfTheRange_Accepted()
    {
        await CreateAsync(Declare("lo.bin", 100, UploadTestStack.MinChunk));
        await CreateAsync(Declare("hi.bin", 100, UploadTestStack.MaxChunk));
    }

    [Fact]
    public async Task Create_LengthAboveMaxObjectSize_TooLarge()
    {
        AssertError(await Uploads.CreateAsync(Declare("x.bin", UploadTestStack.MaxObject + 1), Ct), ErrorCodes.TooLarge);
        await CreateAsync(Declare("y.bin", UploadTestStack.MaxObject));
    }

    [Fact]
    public async Task Create_NegativeLength_InvalidRequest()
    {
        AssertError(await Uploads.CreateAsync(Declare("x.bin", -1), Ct), ErrorCodes.InvalidRequest);
    }

    [Theory]
    [InlineData(31, null)]
    [InlineData(33, null)]
    [InlineData(null, 15)]
    [InlineData(null, 17)]
    public async Task Create_ChecksumOfTheWrongSize_InvalidRequest(int? shaLength, int? md5Length)
    {
        var declaration = Declare("x.bin", 10) with
        {
            ExpectedSha256 = shaLength is { } s ? new byte[s] : null,
            ExpectedMd5 = md5Length is { } m ? new byte[m] : null,
        };

        AssertError(await Uploads.CreateAsync(declaration, Ct), ErrorCodes.InvalidRequest);
    }

    [Fact]
    public async Task Create_CreateOnlyOverAnExistingObject_AlreadyExists()
    {
        await Stack.Objects.PutAsync(UploadTestStack.Main, Key("taken.bin"), new MemoryStream([1, 2, 3]), new PutOptions(), Ct);

        AssertError(await Uploads.CreateAsync(Declare("taken.bin", 10) with { CreateOnly = true }, Ct), ErrorCodes.AlreadyExists);
        await CreateAsync(Declare("taken.bin", 10)); // without createOnly it may replace
    }

    [Fact]
    public async Task Create_ReadOnlyBucket_Forbidden()
    {
        AssertError(await Uploads.CreateAsync(Declare("x.bin", 10, bucket: UploadTestStack.Frozen), Ct), ErrorCodes.Forbidden);
    }

    [Fact]
    public async Task Create_KeyIsADirectory_Conflict()
    {
        Directory.CreateDirectory(Stack.FilePath(UploadTestStack.Main, "dir"));

        AssertError(await Uploads.CreateAsync(Declare("dir", 10), Ct), ErrorCodes.Conflict);
    }

    [Fact]
    public async Task Create_PolicyRefuses_ForbiddenWithTheReasonAndNothingRecorded()
    {
        Stack.Policy.Decide = _ => UploadDecision.Reject("no videos");

        var result = await Uploads.CreateAsync(Declare("v.mp4", 10) with { ClientName = "v.mp4" }, Ct);

        AssertError(result, ErrorCodes.Forbidden);
        Assert.Contains("no videos", result.Error!.Message, StringComparison.Ordinal);
        var proposal = Assert.Single(Stack.Policy.Proposals);
        Assert.Equal(("tester", "v.mp4", 10L, "v.mp4"), (proposal.Identity, proposal.Key, proposal.Length!.Value, proposal.ClientName));
        Assert.False(Directory.Exists(Stack.UploadsFolder(UploadTestStack.Main)));
    }

    [Fact]
    public async Task Create_PolicyChoosesTheKey_PublishedThere()
    {
        Stack.Policy.Decide = _ => UploadDecision.AllowAt("chosen/by-policy.bin");
        var bytes = Bytes(20, 1);

        var session = await CreateAsync(Declare("asked.bin", bytes.Length));
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);
        await MustCompleteAsync(session.Id);

        Assert.Equal("chosen/by-policy.bin", session.Key);
        await AssertPublishedAsync("chosen/by-policy.bin", bytes);
        Assert.False(File.Exists(Stack.FilePath(UploadTestStack.Main, "asked.bin")));
    }

    [Fact]
    public async Task Create_PolicyChoosesAnInvalidKey_InvalidPath()
    {
        Stack.Policy.Decide = _ => UploadDecision.AllowAt("../escape.bin");

        AssertError(await Uploads.CreateAsync(Declare("asked.bin", 10), Ct), ErrorCodes.InvalidPath);
    }

    [Fact]
    public async Task Create_NoKey_AssignsAFileIdWithTheExtensionThatIsCreateOnly()
    {
        var session = await CreateAsync(Declare("", 10) with { Extension = "jpg" });

        Assert.Matches(new Regex(@"^M00/[0-9A-Fa-f]{2}/[0-9A-Fa-f]{2}/[^/]+\.jpg$"), session.Key);
        Assert.True(session.CreateOnly);
    }

    [Fact]
    public async Task Create_NoKeyAndABadExtension_InvalidRequest()
    {
        var result = await Uploads.CreateAsync(Declare("", 10) with { Extension = "../x" }, Ct);

        Assert.False(result.IsSuccess);
    }

    [Fact]
    public async Task Create_BadMetadata_InvalidRequest()
    {
        var declaration = Declare("m.bin", 10) with { Metadata = new Dictionary<string, string> { ["Not Valid"] = "x" } };

        AssertError(await Uploads.CreateAsync(declaration, Ct), ErrorCodes.InvalidRequest);
    }
}
