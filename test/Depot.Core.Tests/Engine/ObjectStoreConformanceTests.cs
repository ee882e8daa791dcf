using System.Security.Cryptography;
using System.Text;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Paths;

using Depot.Core.Tests.TestSupport;

namespace Depot.Core.Tests.Engine;

/// <summary>
/// The behaviour every pair of blob and metadata stores must show through <see cref="ObjectEngine"/>
/// (design §3: one conformance suite for every backend). A backend subclasses this class unchanged and implements
/// <see cref="CreateAsync"/> over the four standard buckets.
/// </summary>
/// <remarks>Split by aspect: writes here, the namespace (stat, mkdir, list, delete, move, copy) in
/// <c>.Namespace.cs</c>, concurrency in <c>.Concurrency.cs</c>.</remarks>
public abstract partial class ObjectStoreConformanceTests : IAsyncLifetime
{
    /// <summary>Default limits.</summary>
    public const string MainBucket = "main";

    /// <summary>Default limits; the target of cross-bucket copies.</summary>
    public const string OtherBucket = "other";

    /// <summary>Objects of at most <see cref="SmallMaxObjectSize"/> bytes, keys of at most <see cref="SmallMaxKeyLength"/>.</summary>
    public const string SmallBucket = "small";

    /// <summary>Read-only.</summary>
    public const string FrozenBucket = "frozen";

    public const long SmallMaxObjectSize = 1024;
    public const int SmallMaxKeyLength = 32;

    private ConformanceFixture? _fixture;

    protected ConformanceFixture Fixture => _fixture ?? throw new InvalidOperationException("Not initialised.");

    protected ObjectEngine Engine => Fixture.Engine;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The buckets every backend provides, with these exact limits.</summary>
    public static BucketRegistry StandardBuckets() => new(new Dictionary<string, BucketOptions>(StringComparer.Ordinal)
    {
        [MainBucket] = new BucketOptions(),
        [OtherBucket] = new BucketOptions(),
        [SmallBucket] = new BucketOptions { MaxObjectSize = SmallMaxObjectSize, MaxKeyLength = SmallMaxKeyLength },
        [FrozenBucket] = new BucketOptions { ReadOnly = true },
    });

    /// <summary>Creates empty stores holding exactly the buckets of <paramref name="buckets"/>.</summary>
    protected abstract Task<ConformanceFixture> CreateAsync(BucketRegistry buckets);

    public async ValueTask InitializeAsync() => _fixture = await CreateAsync(StandardBuckets());

    public async ValueTask DisposeAsync()
    {
        if (_fixture is not null)
        {
            await _fixture.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    // ---- put / get ----

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData((1 << 20) + 1)]
    [InlineData(5 << 20)]
    public async Task Put_BodyOfSize_RoundTripsBytesAndSha256(int size)
    {
        var body = RandomBytes(size, seed: size);

        var put = await PutAsync(MainBucket, "blob.bin", body);

        Assert.True(put.IsSuccess, put.Error?.Message);
        Assert.Equal(size, put.Value.Size);
        Assert.Equal(SHA256.HashData(body), put.Value.Sha256);
        var (record, bytes) = await ReadAsync(MainBucket, "blob.bin");
        Assert.Equal(body, bytes);
        Assert.Equal(SHA256.HashData(body), record.Sha256);
        Assert.Equal(size, record.Size);
        Assert.Equal(SHA256.HashData(body), (await Engine.GetAsync(MainBucket, Key("blob.bin"), Ct)).Value.Sha256);
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Fact]
    public async Task Put_Any_ETagIsQuotedSha256Hex()
    {
        var body = Encoding.UTF8.GetBytes("abc");

        var record = (await PutAsync(MainBucket, "abc.txt", body)).Value;

        Assert.Equal("\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"", record.ETag);
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", record.Sha256Hex);
    }

    [Fact]
    public async Task Put_WithContentTypeAndMetadata_KeepsBoth()
    {
        var metadata = new Dictionary<string, string> { ["author"] = "ada", ["note"] = "ünïcödé value" };

        await PutAsync(MainBucket, "doc.json", "{}"u8.ToArray(), new PutOptions { ContentType = "application/json", Metadata = metadata });

        var record = (await Engine.GetAsync(MainBucket, Key("doc.json"), Ct)).Value;
        Assert.Equal("application/json", record.ContentType);
        Assert.Equal(metadata.OrderBy(p => p.Key), record.Metadata.OrderBy(p => p.Key));
    }

    [Fact]
    public async Task Put_NestedKeyWithoutParents_CreatesParentDirectories()
    {
        await PutAsync(MainBucket, "x/y/z/leaf.txt", "leaf"u8.ToArray());

        var stat = await Engine.StatAsync(MainBucket, Key("x/y"), Ct);
        Assert.True(stat.Value.IsDirectory);
        Assert.Equal("leaf"u8.ToArray(), (await ReadAsync(MainBucket, "x/y/z/leaf.txt")).Bytes);
    }

    [Fact]
    public async Task Put_Overwrite_ReplacesBytesAndSha256()
    {
        await PutAsync(MainBucket, "k", RandomBytes(3000, 1));
        var second = RandomBytes(1000, 2);

        var put = await PutAsync(MainBucket, "k", second);

        Assert.True(put.IsSuccess, put.Error?.Message);
        var (record, bytes) = await ReadAsync(MainBucket, "k");
        Assert.Equal(second, bytes);
        Assert.Equal(SHA256.HashData(second), record.Sha256);
        Assert.Equal(1000, record.Size);
    }

    [Fact]
    public async Task Put_MustNotExistOnMissingKey_Succeeds()
    {
        var put = await PutAsync(MainBucket, "new", "1"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.MustNotExist() });

        Assert.True(put.IsSuccess, put.Error?.Message);
    }

    [Fact]
    public async Task Put_MustNotExistOnExistingKey_AlreadyExistsAndKeepsOld()
    {
        await PutAsync(MainBucket, "once", "first"u8.ToArray());

        var put = await PutAsync(MainBucket, "once", "second"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.MustNotExist() });

        Assert.Equal(ErrorCodes.AlreadyExists, put.Error?.Code);
        Assert.Equal("first"u8.ToArray(), (await ReadAsync(MainBucket, "once")).Bytes);
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Fact]
    public async Task Put_MustNotExistOnDirectory_AlreadyExists()
    {
        await Engine.CreateDirectoryAsync(MainBucket, Key("d"), Ct);

        var put = await PutAsync(MainBucket, "d", "x"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.MustNotExist() });

        Assert.Equal(ErrorCodes.AlreadyExists, put.Error?.Code);
    }

    [Fact]
    public async Task Put_IfMatchCurrentETag_Succeeds()
    {
        var first = (await PutAsync(MainBucket, "cas", "v1"u8.ToArray())).Value;

        var put = await PutAsync(MainBucket, "cas", "v2"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.ETagMatches([first.ETag]) });

        Assert.True(put.IsSuccess, put.Error?.Message);
        Assert.Equal("v2"u8.ToArray(), (await ReadAsync(MainBucket, "cas")).Bytes);
    }

    [Fact]
    public async Task Put_IfMatchStaleETag_PreconditionFailedWithCurrentETag()
    {
        var first = (await PutAsync(MainBucket, "cas", "v1"u8.ToArray())).Value;
        var second = (await PutAsync(MainBucket, "cas", "v2"u8.ToArray())).Value;

        var put = await PutAsync(MainBucket, "cas", "v3"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.ETagMatches([first.ETag]) });

        Assert.Equal(ErrorCodes.PreconditionFailed, put.Error?.Code);
        Assert.Equal(second.ETag, put.Error!.Extensions?["etag"]);
        Assert.Equal("v2"u8.ToArray(), (await ReadAsync(MainBucket, "cas")).Bytes);
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Fact]
    public async Task Put_IfMatchOneOfSeveralETags_Succeeds()
    {
        var current = (await PutAsync(MainBucket, "cas", "v1"u8.ToArray())).Value;

        var put = await PutAsync(MainBucket, "cas", "v2"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.ETagMatches(["\"00\"", current.ETag]) });

        Assert.True(put.IsSuccess, put.Error?.Message);
    }

    [Fact]
    public async Task Put_IfMatchWeakTag_PreconditionFailed()
    {
        // RFC 9110 §13.1.1: If-Match uses the strong comparison, and a weak tag never matches strongly.
        var current = (await PutAsync(MainBucket, "cas", "v1"u8.ToArray())).Value;

        var put = await PutAsync(MainBucket, "cas", "v2"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.ETagMatches(["W/" + current.ETag]) });

        Assert.Equal(ErrorCodes.PreconditionFailed, put.Error?.Code);
        Assert.Equal("v1"u8.ToArray(), (await ReadAsync(MainBucket, "cas")).Bytes);
    }

    [Fact]
    public async Task Put_IfMatchOnMissingKey_PreconditionFailed()
    {
        var put = await PutAsync(MainBucket, "missing", "x"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.ETagMatches(["\"abc\""]) });

        Assert.Equal(ErrorCodes.PreconditionFailed, put.Error?.Code);
        Assert.False((await Engine.StatAsync(MainBucket, Key("missing"), Ct)).IsSuccess);
    }

    [Fact]
    public async Task Put_MustExistOnMissingKey_PreconditionFailed()
    {
        var put = await PutAsync(MainBucket, "missing", "x"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.MustExist() });

        Assert.Equal(ErrorCodes.PreconditionFailed, put.Error?.Code);
        Assert.False((await Engine.StatAsync(MainBucket, Key("missing"), Ct)).IsSuccess);
    }

    [Fact]
    public async Task Put_MustExistOnExistingKey_Succeeds()
    {
        await PutAsync(MainBucket, "there", "1"u8.ToArray());

        var put = await PutAsync(MainBucket, "there", "2"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.MustExist() });

        Assert.True(put.IsSuccess, put.Error?.Message);
        Assert.Equal("2"u8.ToArray(), (await ReadAsync(MainBucket, "there")).Bytes);
    }

    [Fact]
    public async Task Put_ETagDiffersMatchingCurrent_PreconditionFailedWithCurrentETag()
    {
        var current = (await PutAsync(MainBucket, "inm", "v1"u8.ToArray())).Value;

        var put = await PutAsync(MainBucket, "inm", "v2"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.ETagDiffers([current.ETag]) });

        Assert.Equal(ErrorCodes.PreconditionFailed, put.Error?.Code);
        Assert.Equal(current.ETag, put.Error!.Extensions?["etag"]);
        Assert.Equal("v1"u8.ToArray(), (await ReadAsync(MainBucket, "inm")).Bytes);
    }

    [Fact]
    public async Task Put_ETagDiffersFromCurrent_Succeeds()
    {
        await PutAsync(MainBucket, "inm", "v1"u8.ToArray());

        var put = await PutAsync(MainBucket, "inm", "v2"u8.ToArray(), new PutOptions { Precondition = new WritePrecondition.ETagDiffers(["\"0000\""]) });

        Assert.True(put.IsSuccess, put.Error?.Message);
        Assert.Equal("v2"u8.ToArray(), (await ReadAsync(MainBucket, "inm")).Bytes);
    }

    [Fact]
    public async Task Put_ExpectedSha256Matches_Succeeds()
    {
        var body = RandomBytes(4096, 7);

        var put = await PutAsync(MainBucket, "verified", body, new PutOptions { ExpectedSha256 = SHA256.HashData(body) });

        Assert.True(put.IsSuccess, put.Error?.Message);
    }

    [Fact]
    public async Task Put_ExpectedSha256Mismatch_ChecksumMismatchAndNothingPublished()
    {
        var body = RandomBytes(200_000, 8);
        var wrong = SHA256.HashData(RandomBytes(10, 9));

        var put = await PutAsync(MainBucket, "bad", body, new PutOptions { ExpectedSha256 = wrong });

        Assert.Equal(ErrorCodes.ChecksumMismatch, put.Error?.Code);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(MainBucket, Key("bad"), Ct)).Error?.Code);
        Assert.Null(await Fixture.Metadata.GetAsync(MainBucket, "bad", Ct));
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Fact]
    public async Task Put_ExpectedSha256MismatchOnOverwrite_KeepsPreviousVersion()
    {
        var original = RandomBytes(5000, 10);
        await PutAsync(MainBucket, "keep", original);

        var put = await PutAsync(MainBucket, "keep", RandomBytes(5000, 11), new PutOptions { ExpectedSha256 = new byte[32] });

        Assert.Equal(ErrorCodes.ChecksumMismatch, put.Error?.Code);
        var (record, bytes) = await ReadAsync(MainBucket, "keep");
        Assert.Equal(original, bytes);
        Assert.Equal(SHA256.HashData(original), record.Sha256);
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Fact]
    public async Task Put_ExpectedMd5Matches_Succeeds()
    {
        var body = RandomBytes(4096, 12);

        var put = await PutAsync(MainBucket, "md5ok", body, new PutOptions { ExpectedMd5 = Md5(body) });

        Assert.True(put.IsSuccess, put.Error?.Message);
        Assert.Equal(SHA256.HashData(body), put.Value.Sha256);
    }

    [Fact]
    public async Task Put_ExpectedMd5Mismatch_ChecksumMismatchAndNothingPublished()
    {
        var body = RandomBytes(70_000, 13);

        var put = await PutAsync(MainBucket, "md5bad", body, new PutOptions { ExpectedMd5 = Md5("other"u8.ToArray()) });

        Assert.Equal(ErrorCodes.ChecksumMismatch, put.Error?.Code);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(MainBucket, Key("md5bad"), Ct)).Error?.Code);
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Theory]
    [InlineData(99)]
    [InlineData(101)]
    public async Task Put_ExpectedLengthMismatch_InvalidRequestAndNothingPublished(int declared)
    {
        var put = await PutAsync(MainBucket, "short", RandomBytes(100, 14), new PutOptions { ExpectedLength = declared });

        Assert.Equal(ErrorCodes.InvalidRequest, put.Error?.Code);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(MainBucket, Key("short"), Ct)).Error?.Code);
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Fact]
    public async Task Put_ExpectedLengthMatches_Succeeds()
    {
        var put = await PutAsync(MainBucket, "exact", RandomBytes(100, 15), new PutOptions { ExpectedLength = 100 });

        Assert.True(put.IsSuccess, put.Error?.Message);
    }

    [Fact]
    public async Task Put_BodyOverMaxObjectSize_TooLargeAndNothingStored()
    {
        var put = await PutAsync(SmallBucket, "big", RandomBytes((int)SmallMaxObjectSize + 1, 16));

        Assert.Equal(ErrorCodes.TooLarge, put.Error?.Code);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(SmallBucket, Key("big"), Ct)).Error?.Code);
        Assert.Equal(0, Fixture.CountStagedBlobs(SmallBucket));
    }

    [Fact]
    public async Task Put_BodyOverMaxObjectSizeInOneLargeStream_TooLargeAndNothingStored()
    {
        var put = await PutAsync(SmallBucket, "big", RandomBytes(3 << 20, 17));

        Assert.Equal(ErrorCodes.TooLarge, put.Error?.Code);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(SmallBucket, Key("big"), Ct)).Error?.Code);
        Assert.Equal(0, Fixture.CountStagedBlobs(SmallBucket));
    }

    [Fact]
    public async Task Put_DeclaredLengthOverMaxObjectSize_TooLargeAndNothingStored()
    {
        var put = await PutAsync(SmallBucket, "big", RandomBytes(10, 18), new PutOptions { ExpectedLength = SmallMaxObjectSize + 1 });

        Assert.Equal(ErrorCodes.TooLarge, put.Error?.Code);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(SmallBucket, Key("big"), Ct)).Error?.Code);
    }

    [Fact]
    public async Task Put_BodyOfExactlyMaxObjectSize_Succeeds()
    {
        var body = RandomBytes((int)SmallMaxObjectSize, 19);

        var put = await PutAsync(SmallBucket, "edge", body);

        Assert.True(put.IsSuccess, put.Error?.Message);
        Assert.Equal(body, (await ReadAsync(SmallBucket, "edge")).Bytes);
    }

    [Fact]
    public async Task Put_KeyOverMaxKeyLength_TooLarge()
    {
        var key = new string('k', SmallMaxKeyLength + 1);

        var put = await PutAsync(SmallBucket, key, "x"u8.ToArray());

        Assert.Equal(ErrorCodes.TooLarge, put.Error?.Code);
        Assert.Equal(0, Fixture.CountStagedBlobs(SmallBucket));
    }

    [Fact]
    public async Task Put_KeyOfExactlyMaxKeyLengthInMultiByteChars_Succeeds()
    {
        var key = new string('é', SmallMaxKeyLength / 2); // 32 UTF-8 bytes in 16 chars

        var put = await PutAsync(SmallBucket, key, "x"u8.ToArray());

        Assert.True(put.IsSuccess, put.Error?.Message);
    }

    [Fact]
    public async Task Put_KeyOverMaxKeyLengthInBytesButNotChars_TooLarge()
    {
        var key = new string('é', (SmallMaxKeyLength / 2) + 1); // 17 chars, 34 bytes

        var put = await PutAsync(SmallBucket, key, "x"u8.ToArray());

        Assert.Equal(ErrorCodes.TooLarge, put.Error?.Code);
    }

    [Fact]
    public async Task Put_ReadOnlyBucket_Forbidden()
    {
        var put = await PutAsync(FrozenBucket, "nope", "x"u8.ToArray());

        Assert.Equal(ErrorCodes.Forbidden, put.Error?.Code);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.StatAsync(FrozenBucket, Key("nope"), Ct)).Error?.Code);
    }

    [Fact]
    public async Task Put_UnknownBucket_NotFound()
    {
        var put = await PutAsync("no-such-bucket", "k", "x"u8.ToArray());

        Assert.Equal(ErrorCodes.NotFound, put.Error?.Code);
    }

    [Fact]
    public async Task Put_WhereDirectoryIs_ConflictAndDirectoryKept()
    {
        await PutAsync(MainBucket, "d/child", "c"u8.ToArray());

        var put = await PutAsync(MainBucket, "d", "x"u8.ToArray());

        Assert.Equal(ErrorCodes.Conflict, put.Error?.Code);
        Assert.True((await Engine.StatAsync(MainBucket, Key("d"), Ct)).Value.IsDirectory);
        Assert.Equal("c"u8.ToArray(), (await ReadAsync(MainBucket, "d/child")).Bytes);
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Fact]
    public async Task Put_BelowAFile_ConflictAndFileKept()
    {
        await PutAsync(MainBucket, "file", "f"u8.ToArray());

        var put = await PutAsync(MainBucket, "file/child", "x"u8.ToArray());

        Assert.Equal(ErrorCodes.Conflict, put.Error?.Code);
        Assert.Equal("f"u8.ToArray(), (await ReadAsync(MainBucket, "file")).Bytes);
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Fact]
    public async Task Get_MissingKey_NotFound() =>
        Assert.Equal(ErrorCodes.NotFound, (await Engine.GetAsync(MainBucket, Key("missing"), Ct)).Error?.Code);

    [Fact]
    public async Task Get_Directory_NotFound()
    {
        await Engine.CreateDirectoryAsync(MainBucket, Key("dir"), Ct);

        Assert.Equal(ErrorCodes.NotFound, (await Engine.GetAsync(MainBucket, Key("dir"), Ct)).Error?.Code);
        Assert.Equal(ErrorCodes.NotFound, (await Engine.OpenReadAsync(MainBucket, Key("dir"), Ct)).Error?.Code);
    }

    // ---- helpers ----

    protected static ObjectKey Key(string key) => ObjectKey.Parse(key, allowRoot: true).Value;

    protected Task<Result<ObjectRecord>> PutAsync(string bucket, string key, byte[] body, PutOptions? options = null) =>
        Engine.PutAsync(bucket, Key(key), new MemoryStream(body, writable: false), options ?? new PutOptions(), Ct);

    /// <summary>Opens and reads a whole object, failing the test when it cannot be read.</summary>
    protected async Task<(ObjectRecord Record, byte[] Bytes)> ReadAsync(string bucket, string key)
    {
        var opened = await Engine.OpenReadAsync(bucket, Key(key), Ct);
        Assert.True(opened.IsSuccess, $"cannot read {bucket}/{key}: {opened.Error?.Code} {opened.Error?.Message}");
        await using var content = opened.Value.Content;
        var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, Ct);
        return (opened.Value.Record, buffer.ToArray());
    }

    /// <summary>MD5 as <c>Content-MD5</c> carries it (an integrity check the protocol asks for, not security).</summary>
#pragma warning disable CA5351
    protected static byte[] Md5(byte[] data) => MD5.HashData(data);
#pragma warning restore CA5351

    protected static byte[] RandomBytes(int length, int seed) => TestBytes.Seeded(length, seed);
}
