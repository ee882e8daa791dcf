using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Tests.TestSupport;
using Depot.Core.Uploads;
using static Depot.Core.Tests.Uploads.UploadFacts;

namespace Depot.Core.Tests.Uploads;

/// <summary>A fresh <see cref="UploadTestStack"/> per test and the helpers every upload engine test uses.</summary>
public abstract class UploadEngineTestBase : IAsyncLifetime
{
    private UploadTestStack? _stack;

    internal static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal UploadTestStack Stack => _stack ?? throw new InvalidOperationException("Not initialised.");

    internal UploadEngine Uploads => Stack.Uploads;

    public async ValueTask InitializeAsync() => _stack = await UploadTestStack.OpenAsync();

    public async ValueTask DisposeAsync()
    {
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    internal static UploadDeclaration Declare(string key, long? length, long? chunkSize = null, string bucket = UploadTestStack.Main) => new()
    {
        Bucket = bucket,
        Key = key.Length == 0 ? null : Key(key),
        Length = length,
        ChunkSize = chunkSize,
        Identity = "tester",
    };

    internal async Task<UploadSession> CreateAsync(UploadDeclaration declaration)
    {
        var created = await Uploads.CreateAsync(declaration, Ct);
        Assert.True(created.IsSuccess, created.Error?.Message);
        return created.Value;
    }

    internal Task<Result<ChunkWritten>> WriteAtAsync(string id, long offset, byte[] bytes, bool declareLength = true) =>
        Uploads.WriteAsync(id, offset, new MemoryStream(bytes), new ChunkOptions { ExpectedLength = declareLength ? bytes.Length : null }, Ct);

    internal Task<Result<ChunkWritten>> WriteChunkAsync(string id, long index, byte[] bytes, bool declareLength = true) =>
        Uploads.WriteChunkAsync(id, index, new MemoryStream(bytes), new ChunkOptions { ExpectedLength = declareLength ? bytes.Length : null }, Ct);

    internal async Task<ChunkWritten> MustWriteChunkAsync(string id, long index, byte[] bytes)
    {
        var written = await WriteChunkAsync(id, index, bytes);
        Assert.True(written.IsSuccess, $"chunk {index}: {written.Error?.Code} {written.Error?.Message}");
        return written.Value;
    }

    internal async Task<UploadFinished> MustCompleteAsync(string id)
    {
        var finished = await Uploads.CompleteAsync(id, Ct);
        Assert.True(finished.IsSuccess, $"complete: {finished.Error?.Code} {finished.Error?.Message}");
        return finished.Value;
    }

    internal async Task<UploadSession> SessionAsync(string id)
    {
        var found = await Uploads.GetAsync(id, Ct);
        Assert.True(found.IsSuccess, found.Error?.Message);
        return found.Value;
    }

    /// <summary>Sends <paramref name="bytes"/> in chunks of <paramref name="chunkSize"/> in the given order of indices.</summary>
    internal async Task SendChunksAsync(string id, byte[] bytes, int chunkSize, IEnumerable<int> order)
    {
        foreach (var index in order)
        {
            var start = index * chunkSize;
            await MustWriteChunkAsync(id, index, bytes[start..Math.Min(bytes.Length, start + chunkSize)]);
        }
    }

    internal static void AssertError<T>(Result<T> result, string code)
    {
        Assert.False(result.IsSuccess, $"expected {code}, but it succeeded");
        Assert.True(code == result.Error!.Code, $"expected {code}, got {result.Error.Code}: {result.Error.Message}");
    }

    internal static void AssertError(Outcome result, string code)
    {
        Assert.False(result.IsSuccess, $"expected {code}, but it succeeded");
        Assert.True(code == result.Error!.Code, $"expected {code}, got {result.Error.Code}: {result.Error.Message}");
    }

    /// <summary>The object at the key is exactly <paramref name="expected"/>: the plain file, the record's SHA-256 and size,
    /// and what a reader gets.</summary>
    internal async Task<ObjectRecord> AssertPublishedAsync(string key, byte[] expected, string bucket = UploadTestStack.Main)
    {
        var path = Stack.FilePath(bucket, key);
        Assert.True(File.Exists(path), $"no file at {path}");
        var onDisk = await File.ReadAllBytesAsync(path, Ct);
        Assert.True(expected.AsSpan().SequenceEqual(onDisk), $"the file at '{key}' has {onDisk.Length} bytes (sha256 {Sha256Hex(onDisk)}), expected {expected.Length} (sha256 {Sha256Hex(expected)})");
        var record = await Stack.Objects.GetAsync(bucket, Key(key), Ct);
        Assert.True(record.IsSuccess, record.Error?.Message);
        Assert.Equal(expected.Length, record.Value.Size);
        Assert.Equal(Sha256Hex(expected), record.Value.Sha256Hex);
        var read = await Stack.Objects.OpenReadAsync(bucket, Key(key), Ct);
        Assert.True(read.IsSuccess, read.Error?.Message);
        await using (var content = read.Value.Content)
        {
            var copy = new MemoryStream();
            await content.CopyToAsync(copy, Ct);
            Assert.True(expected.AsSpan().SequenceEqual(copy.ToArray()), "a reader gets other bytes than were uploaded");
        }

        return record.Value;
    }

    internal static byte[] Bytes(int length, int seed) => TestBytes.Seeded(length, seed);
}
