using System.Security.Cryptography;
using Depot.Core.Errors;
using Depot.Core.Uploads;

#pragma warning disable CA5351 // MD5 is what clients declare (Content-MD5, tus); it is verified, not trusted for security

namespace Depot.Core.Tests.Uploads;

/// <summary>Checksums declared at completion (<see cref="UploadEngine.CompleteAsync(string, UploadChecksums?, CancellationToken)"/>):
/// verified like those of the creation, recorded once they verify.</summary>
public sealed class UploadEngineCompletionChecksumTests : UploadEngineTestBase
{
    [Fact]
    public async Task CompleteWithChecksums_Md5DeclaredOnlyNow_ComputedFromTheStagedBytes()
    {
        var bytes = Bytes(3 << 20, 1);
        var session = await CreateAsync(Declare("md5-now.bin", bytes.Length, chunkSize: 1 << 20));
        await SendChunksAsync(session.Id, bytes, 1 << 20, [2, 0, 1]);

        var wrong = await Uploads.CompleteAsync(session.Id, new UploadChecksums(null, MD5.HashData(bytes[1..])), Ct);
        var right = await Uploads.CompleteAsync(session.Id, new UploadChecksums(null, MD5.HashData(bytes)), Ct);

        AssertError(wrong, ErrorCodes.ChecksumMismatch);
        Assert.True(right.IsSuccess, right.Error?.Message);
        await AssertPublishedAsync("md5-now.bin", bytes);
        Assert.Equal(MD5.HashData(bytes), (await SessionAsync(session.Id)).ExpectedMd5);
    }

    [Fact]
    public async Task CompleteWithChecksums_AfterARestart_VerifiedAgainstTheRehashedBytes()
    {
        var bytes = Bytes(2 << 20, 2);
        var session = await CreateAsync(Declare("restart-now.bin", bytes.Length, chunkSize: 1 << 20));
        await SendChunksAsync(session.Id, bytes, 1 << 20, [1, 0]);
        await Stack.RestartAsync();

        var wrong = await Uploads.CompleteAsync(session.Id, new UploadChecksums(SHA256.HashData(bytes[1..]), null), Ct);
        var right = await Uploads.CompleteAsync(session.Id, new UploadChecksums(SHA256.HashData(bytes), MD5.HashData(bytes)), Ct);

        AssertError(wrong, ErrorCodes.ChecksumMismatch);
        Assert.True(right.IsSuccess, right.Error?.Message);
        await AssertPublishedAsync("restart-now.bin", bytes);
    }

    [Fact]
    public async Task CompleteWithChecksums_VerifiedOnes_RecordedOnTheCompletedSessionAndCheckedOnARetry()
    {
        var bytes = Bytes(1000, 3);
        var session = await CreateAsync(Declare("recorded.bin", bytes.Length));
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);

        var done = await Uploads.CompleteAsync(session.Id, new UploadChecksums(SHA256.HashData(bytes), MD5.HashData(bytes)), Ct);

        Assert.True(done.IsSuccess, done.Error?.Message);
        var completed = await SessionAsync(session.Id);
        Assert.Equal(UploadState.Completed, completed.State);
        Assert.Equal(SHA256.HashData(bytes), completed.ExpectedSha256);
        Assert.Equal(MD5.HashData(bytes), completed.ExpectedMd5);
        AssertError(await Uploads.CompleteAsync(session.Id, new UploadChecksums(null, MD5.HashData(bytes[1..])), Ct), ErrorCodes.ChecksumMismatch);
        AssertError(await Uploads.CompleteAsync(session.Id, new UploadChecksums(SHA256.HashData(bytes[1..]), null), Ct), ErrorCodes.ChecksumMismatch);
        Assert.True((await Uploads.CompleteAsync(session.Id, new UploadChecksums(SHA256.HashData(bytes), null), Ct)).IsSuccess);
    }

    [Fact]
    public async Task CompleteWithChecksums_OtherThanAtCreation_InvalidRequestAndSessionStillOpen()
    {
        var bytes = Bytes(1000, 4);
        var session = await CreateAsync(Declare("conflict.bin", bytes.Length) with { ExpectedSha256 = SHA256.HashData(bytes) });
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);

        AssertError(await Uploads.CompleteAsync(session.Id, new UploadChecksums(SHA256.HashData(bytes[1..]), null), Ct), ErrorCodes.InvalidRequest);
        Assert.Equal(UploadState.Open, (await SessionAsync(session.Id)).State);
        Assert.False(File.Exists(Stack.FilePath(UploadTestStack.Main, "conflict.bin")));
    }

    [Theory]
    [InlineData(31, null)]
    [InlineData(null, 15)]
    public async Task CompleteWithChecksums_WrongDigestLength_InvalidRequest(int? shaLength, int? md5Length)
    {
        var bytes = Bytes(100, 5);
        var session = await CreateAsync(Declare("length.bin", bytes.Length));
        Assert.True((await WriteAtAsync(session.Id, 0, bytes)).IsSuccess);

        var declared = new UploadChecksums(shaLength is { } s ? new byte[s] : null, md5Length is { } m ? new byte[m] : null);

        AssertError(await Uploads.CompleteAsync(session.Id, declared, Ct), ErrorCodes.InvalidRequest);
        Assert.Equal(UploadState.Open, (await SessionAsync(session.Id)).State);
    }
}
