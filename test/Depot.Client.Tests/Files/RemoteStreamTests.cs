using System.Text;
using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Files;

public sealed class RemoteStreamTests
{
    private const int Size = 3 * 1024 * 1024 + 12_345;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<int> ReadFullyAsync(Stream stream, Memory<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer[total..], Ct);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    [Fact]
    public async Task OpenRead_RandomSeeksAndOddReads_MatchFileBytes()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(Size, seed: 21);
        await context.Client.UploadAsync(bytes, "default/r.bin", cancellationToken: Ct);
        var random = new Random(5);

        await using var stream = await context.Client.OpenReadAsync("default/r.bin", new RemoteStreamOptions { MaxReadAhead = 512 * 1024 }, Ct);
        Assert.Equal(Size, stream.Length);
        Assert.True(stream.CanSeek);
        for (var i = 0; i < 200; i++)
        {
            var position = random.NextInt64(0, Size);
            var count = random.Next(1, 70_001);
            stream.Seek(position, SeekOrigin.Begin);
            var buffer = new byte[count];
            var read = await ReadFullyAsync(stream, buffer);
            var expected = (int)Math.Min(count, Size - position);
            Assert.Equal(expected, read);
            Assert.True(bytes.AsSpan((int)position, expected).SequenceEqual(buffer.AsSpan(0, read)), $"bytes at {position}+{read}");
            Assert.Equal(position + read, stream.Position);
        }
    }

    [Fact]
    public async Task OpenRead_SequentialOddReadsAcrossReadAheadWindows_EqualWholeFile()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(Size, seed: 22);
        await context.Client.UploadAsync(bytes, "default/r.bin", cancellationToken: Ct);

        await using var stream = await context.Client.OpenReadAsync("default/r.bin", new RemoteStreamOptions { MaxReadAhead = 300_000 }, Ct);
        using var copy = new MemoryStream();
        var buffer = new byte[7_777];
        int n;
        while ((n = await stream.ReadAsync(buffer, Ct)) > 0)
        {
            copy.Write(buffer, 0, n);
        }

        Assert.Equal(bytes, copy.ToArray());
        Assert.True(stream.Requests > 1);
        Assert.True(stream.Requests < Size / 7_777, "read-ahead should fetch more than one read at a time");
    }

    [Fact]
    public async Task OpenRead_SeekFromEndAndCurrent_ReadsRightBytes()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(100_000, seed: 23);
        await context.Client.UploadAsync(bytes, "default/r.bin", cancellationToken: Ct);

        await using var stream = await context.Client.OpenReadAsync("default/r.bin", cancellationToken: Ct);
        stream.Seek(-10, SeekOrigin.End);
        var tail = new byte[20];
        Assert.Equal(10, await ReadFullyAsync(stream, tail));
        Assert.Equal(bytes[^10..], tail[..10]);
        Assert.Equal(0, await stream.ReadAsync(tail, Ct));

        stream.Position = 50;
        stream.Seek(25, SeekOrigin.Current);
        var middle = new byte[5];
        Assert.Equal(5, await ReadFullyAsync(stream, middle));
        Assert.Equal(bytes[75..80], middle);
    }

    [Fact]
    public async Task OpenRead_SyncReadAndCopyTo_MatchFileBytes()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(600_000, seed: 24);
        await context.Client.UploadAsync(bytes, "default/r.bin", cancellationToken: Ct);

        await using var stream = await context.Client.OpenReadAsync("default/r.bin", cancellationToken: Ct);
        var first = new byte[3];
        Assert.Equal(3, stream.Read(first, 0, 3));
        using var rest = new MemoryStream();
        await stream.CopyToAsync(rest, Ct);

        Assert.Equal(bytes[..3], first);
        Assert.Equal(bytes[3..], rest.ToArray());
    }

    [Fact]
    public async Task OpenRead_ObjectReplacedAfterOpening_NextFetchThrowsConflict()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(Size, seed: 25);
        await context.Client.UploadAsync(bytes, "default/r.bin", cancellationToken: Ct);

        await using var stream = await context.Client.OpenReadAsync("default/r.bin", cancellationToken: Ct);
        var buffer = new byte[100];
        Assert.Equal(100, await stream.ReadAtLeastAsync(buffer, 100, cancellationToken: Ct));
        await context.Client.UploadAsync(ClientTestContext.RandomBytes(Size, seed: 26), "default/r.bin", cancellationToken: Ct);
        stream.Seek(Size - 1000, SeekOrigin.Begin);

        var e = await Assert.ThrowsAsync<ConflictException>(async () => await stream.ReadExactlyAsync(buffer, Ct));

        Assert.Equal("conflict", e.Code);
    }

    [Fact]
    public async Task OpenRead_ZeroByteObject_ReadsNothing()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(ReadOnlyMemory<byte>.Empty, "default/empty", cancellationToken: Ct);

        await using var stream = await context.Client.OpenReadAsync("default/empty", cancellationToken: Ct);

        Assert.Equal(0, stream.Length);
        Assert.Equal(0, await stream.ReadAsync(new byte[10], Ct));
    }

    [Fact]
    public async Task OpenRead_DescribesObject()
    {
        await using var context = await ClientTestContext.StartAsync();
        var stored = await context.Client.UploadAsync(Encoding.UTF8.GetBytes("hello"), "default/h.txt", new UploadOptions
        {
            ContentType = "text/plain",
            Metadata = new Dictionary<string, string> { ["author"] = "Zoë" },
        }, cancellationToken: Ct);

        await using var stream = await context.Client.OpenReadAsync("default/h.txt", cancellationToken: Ct);

        Assert.Equal(stored.ETag, stream.Object.ETag);
        Assert.Equal(stored.Sha256, stream.Object.Sha256);
        Assert.Equal("Zoë", stream.Object.Metadata["author"]);
        Assert.StartsWith("text/plain", stream.Object.ContentType, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenRead_Missing_ThrowsNotFound_Directory_ThrowsConflict()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.CreateDirectoryAsync("default/dir", Ct);

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.OpenReadAsync("default/none", cancellationToken: Ct));
        await Assert.ThrowsAsync<ConflictException>(() => context.Client.OpenReadAsync("default/dir", cancellationToken: Ct));
    }
}
