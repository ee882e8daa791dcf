using System.Text;
using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Files;

public sealed class UploadDownloadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UploadPath_SmallFile_SinglePutStoresExactBytes()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var local = context.WriteFile("small.bin", 1000, seed: 1);

        var stored = await client.UploadAsync(local, "default/up/small.bin", cancellationToken: Ct);

        Assert.Equal(new DepotPath("default", "up/small.bin"), stored.Path);
        Assert.Equal(1000, stored.Size);
        Assert.Equal(ClientTestContext.Sha256Of(local), stored.Sha256);
        Assert.Equal("\"" + stored.Sha256 + "\"", stored.ETag);
        Assert.Equal(File.ReadAllBytes(local), context.OnDisk("up/small.bin"));
        Assert.Equal(0, context.Requests("POST", "/v1/_uploads"));
    }

    [Fact]
    public async Task UploadPath_AboveResumableThreshold_UsesSessionAndStoresExactBytes()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var local = context.WriteFile("large.bin", 3 * 1024 * 1024 + 17, seed: 2);

        var stored = await client.UploadAsync(local, "default/up/large.bin", cancellationToken: Ct);

        Assert.Equal(ClientTestContext.Sha256Of(local), stored.Sha256);
        Assert.Equal(new FileInfo(local).Length, stored.Size);
        Assert.Equal(File.ReadAllBytes(local), context.OnDisk("up/large.bin"));
        Assert.True(await context.WaitForRequestAsync("POST", "/v1/_uploads"));
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(2 * 1024 * 1024 + 3)]
    public async Task UploadStream_Seekable_StoresFromCurrentPositionAndLeavesStreamOpen(int length)
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var bytes = ClientTestContext.RandomBytes(length, seed: 3);
        using var stream = new MemoryStream(bytes);
        stream.Position = 10;

        var stored = await client.UploadAsync(stream, "default/s/seekable.bin", cancellationToken: Ct);

        Assert.Equal(bytes[10..], context.OnDisk("s/seekable.bin"));
        Assert.Equal(length - 10, stored.Size);
        Assert.True(stream.CanRead);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData(2 * 1024 * 1024 + 3)]
    public async Task UploadStream_NonSeekable_StoresExactBytes(int length)
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var bytes = ClientTestContext.RandomBytes(length, seed: 4);

        var stored = await client.UploadAsync(new NonSeekableStream(new MemoryStream(bytes), maxRead: 70_000), "default/s/pipe.bin", cancellationToken: Ct);

        Assert.Equal(length, stored.Size);
        Assert.Equal(ClientTestContext.Sha256Of(bytes), stored.Sha256);
        Assert.Equal(bytes, context.OnDisk("s/pipe.bin"));
    }

    [Fact]
    public async Task UploadStream_NonSeekableWithResumableFalse_UsesSinglePut()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var bytes = ClientTestContext.RandomBytes(300_000, seed: 5);

        var stored = await client.UploadAsync(new NonSeekableStream(new MemoryStream(bytes)), "default/s/put.bin",
            new UploadOptions { Resumable = false }, cancellationToken: Ct);

        Assert.Equal(bytes, context.OnDisk("s/put.bin"));
        Assert.Equal(ClientTestContext.Sha256Of(bytes), stored.Sha256);
        Assert.Equal(0, context.Requests("POST", "/v1/_uploads"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData(2 * 1024 * 1024 + 3)]
    public async Task UploadBytes_SmallAndLarge_StoresExactBytes(int length)
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var bytes = ClientTestContext.RandomBytes(length, seed: 6);

        var stored = await client.UploadAsync(bytes, "default/b/bytes.bin", cancellationToken: Ct);

        Assert.Equal(bytes, context.OnDisk("b/bytes.bin"));
        Assert.Equal(ClientTestContext.Sha256Of(bytes), stored.Sha256);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(2 * 1024 * 1024)]
    public async Task Upload_ContentTypeAndMetadata_AreStored(int length)
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var local = context.WriteFile("meta.bin", length, seed: 7);
        var options = new UploadOptions
        {
            ContentType = "image/png",
            Metadata = new Dictionary<string, string> { ["author"] = "Zoë", ["Lang"] = "en" },
        };

        await client.UploadAsync(local, "default/m/meta.bin", options, cancellationToken: Ct);
        var stat = await client.StatAsync("default/m/meta.bin", Ct);

        Assert.Equal("image/png", stat.ContentType);
        Assert.Equal("Zoë", stat.Metadata["author"]);
        Assert.Equal("en", stat.Metadata["lang"]);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(2 * 1024 * 1024)]
    public async Task Upload_OverwriteFalseOnExisting_ThrowsAlreadyExistsAndKeepsObject(int length)
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        await client.UploadAsync(Encoding.UTF8.GetBytes("original"), "default/o/taken.bin", cancellationToken: Ct);
        var local = context.WriteFile("new.bin", length, seed: 8);

        var e = await Assert.ThrowsAsync<AlreadyExistsException>(
            () => client.UploadAsync(local, "default/o/taken.bin", new UploadOptions { Overwrite = false }, cancellationToken: Ct));

        Assert.Equal("already_exists", e.Code);
        Assert.False(e.IsTransient);
        Assert.Equal("original", Encoding.UTF8.GetString(context.OnDisk("o/taken.bin")));
    }

    [Fact]
    public async Task Upload_OverwriteFalseOnFreeKey_Creates()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();

        await client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/o/free.bin", new UploadOptions { Overwrite = false }, cancellationToken: Ct);

        Assert.Equal("x", Encoding.UTF8.GetString(context.OnDisk("o/free.bin")));
    }

    [Fact]
    public async Task Upload_IfMatchCurrentETag_Replaces()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.Client;
        var first = await client.UploadAsync(Encoding.UTF8.GetBytes("v1"), "default/cas.txt", cancellationToken: Ct);

        var second = await client.UploadAsync(Encoding.UTF8.GetBytes("v2"), "default/cas.txt", new UploadOptions { IfMatch = first.ETag }, cancellationToken: Ct);

        Assert.NotEqual(first.ETag, second.ETag);
        Assert.Equal("v2", Encoding.UTF8.GetString(context.OnDisk("cas.txt")));
    }

    [Fact]
    public async Task Upload_IfMatchStaleETag_ThrowsPreconditionFailedWithCurrentETag()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.Client;
        var first = await client.UploadAsync(Encoding.UTF8.GetBytes("v1"), "default/cas.txt", cancellationToken: Ct);
        var second = await client.UploadAsync(Encoding.UTF8.GetBytes("v2"), "default/cas.txt", cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<PreconditionFailedException>(
            () => client.UploadAsync(Encoding.UTF8.GetBytes("v3"), "default/cas.txt", new UploadOptions { IfMatch = first.Sha256 }, cancellationToken: Ct));

        Assert.Equal(second.ETag, e.CurrentETag);
        Assert.Equal("v2", Encoding.UTF8.GetString(context.OnDisk("cas.txt")));
    }

    [Fact]
    public async Task Upload_IfMatchLargeFile_ForcesSinglePutAndSwaps()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var first = await client.UploadAsync(Encoding.UTF8.GetBytes("v1"), "default/cas.bin", cancellationToken: Ct);
        var local = context.WriteFile("big.bin", 2 * 1024 * 1024, seed: 9);

        var stored = await client.UploadAsync(local, "default/cas.bin", new UploadOptions { IfMatch = first.ETag }, cancellationToken: Ct);

        Assert.Equal(ClientTestContext.Sha256Of(local), stored.Sha256);
        Assert.Equal(0, context.Requests("POST", "/v1/_uploads"));
    }

    [Fact]
    public async Task Upload_IfMatchWithResumableTrue_ThrowsArgumentException()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/x",
            new UploadOptions { IfMatch = "\"abc\"", Resumable = true }, cancellationToken: Ct));
    }

    [Fact]
    public async Task Upload_TimeToLive_SetsExpiry()
    {
        await using var context = await ClientTestContext.StartAsync();
        var before = DateTimeOffset.UtcNow;

        var stored = await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/ttl.txt",
            new UploadOptions { TimeToLive = TimeSpan.FromMinutes(30) }, cancellationToken: Ct);
        var stat = await context.Client.StatAsync("default/ttl.txt", Ct);

        Assert.NotNull(stat.Expires);
        Assert.InRange(stat.Expires.Value, before.AddMinutes(30).AddSeconds(-1), DateTimeOffset.UtcNow.AddMinutes(30).AddSeconds(1));
        Assert.Equal(stat.Expires, stored.Expires);
    }

    [Fact]
    public async Task Upload_ExpiresAt_SetsThatExpiry()
    {
        await using var context = await ClientTestContext.StartAsync();
        var at = DateTimeOffset.UtcNow.AddHours(3);

        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/exp.txt", new UploadOptions { Expires = at }, cancellationToken: Ct);
        var stat = await context.Client.StatAsync("default/exp.txt", Ct);

        Assert.NotNull(stat.Expires);
        Assert.InRange((stat.Expires.Value - at).Duration(), TimeSpan.Zero, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task Upload_ToBucketRoot_ThrowsArgumentException()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default", cancellationToken: Ct));
    }

    [Fact]
    public async Task UploadPath_MissingLocalFile_ThrowsFileNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<FileNotFoundException>(
            () => context.Client.UploadAsync(Path.Combine(context.Scratch, "nope.bin"), "default/x", cancellationToken: Ct));
    }

    [Fact]
    public async Task DownloadPath_WholeObject_VerifiedAndModifiedTimePreserved()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var local = context.WriteFile("src.bin", 3 * 1024 * 1024 + 1, seed: 10);
        await client.UploadAsync(local, "default/d/src.bin", cancellationToken: Ct);
        var stat = await client.StatAsync("default/d/src.bin", Ct);
        var target = Path.Combine(context.Scratch, "out", "nested", "copy.bin");

        var described = await client.DownloadAsync("default/d/src.bin", target, cancellationToken: Ct);

        Assert.Equal(File.ReadAllBytes(local), File.ReadAllBytes(target));
        Assert.Equal(stat.Sha256, described.Sha256);
        Assert.Equal(stat.Size, described.Size);
        var expected = new DateTimeOffset(stat.Modified.UtcTicks - (stat.Modified.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        Assert.Equal(expected.UtcDateTime, File.GetLastWriteTimeUtc(target));
        Assert.Empty(FileTestSupport.PartFiles(Path.Combine(context.Scratch, "out")));
    }

    [Fact]
    public async Task DownloadPath_PreserveModifiedTimeFalse_LeavesLocalTimeNow()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/t.txt", cancellationToken: Ct);
        File.SetLastWriteTimeUtc(Path.Combine(context.Server.DataDirectory, "t.txt"), new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var target = Path.Combine(context.Scratch, "t.txt");
        var before = DateTime.UtcNow.AddSeconds(-2);

        await context.Client.DownloadAsync("default/t.txt", target, new DownloadOptions { PreserveModifiedTime = false }, cancellationToken: Ct);

        Assert.True(File.GetLastWriteTimeUtc(target) >= before);
    }

    [Fact]
    public async Task DownloadPath_OffsetAndLength_WritesThatRange()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(1000, seed: 11);
        await context.Client.UploadAsync(bytes, "default/r.bin", cancellationToken: Ct);
        var target = Path.Combine(context.Scratch, "r.part");

        var described = await context.Client.DownloadAsync("default/r.bin", target, new DownloadOptions { Offset = 10, Length = 100 }, cancellationToken: Ct);

        Assert.Equal(bytes[10..110], File.ReadAllBytes(target));
        Assert.Equal(1000, described.Size);
    }

    [Fact]
    public async Task DownloadBytes_OffsetToEnd_LengthPastEnd_AndWhole()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(1000, seed: 12);
        await context.Client.UploadAsync(bytes, "default/r.bin", cancellationToken: Ct);

        Assert.Equal(bytes, await context.Client.DownloadBytesAsync("default/r.bin", cancellationToken: Ct));
        Assert.Equal(bytes[990..], await context.Client.DownloadBytesAsync("default/r.bin", new DownloadOptions { Offset = 990 }, Ct));
        Assert.Equal(bytes[900..], await context.Client.DownloadBytesAsync("default/r.bin", new DownloadOptions { Offset = 900, Length = 500 }, Ct));
        Assert.Equal(bytes[..5], await context.Client.DownloadBytesAsync("default/r.bin", new DownloadOptions { Length = 5 }, Ct));
        Assert.Equal(bytes[999..], await context.Client.DownloadBytesAsync("default/r.bin", new DownloadOptions { Offset = 999, Length = 1 }, Ct));
        Assert.Equal(bytes[990..], await context.Client.DownloadBytesAsync("default/r.bin", new DownloadOptions { Offset = 990, Length = 0 }, Ct));
    }

    [Fact]
    public async Task DownloadBytes_OffsetAtEnd_ThrowsRangeNotSatisfiable()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(new byte[1000], "default/r.bin", cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<InvalidRequestException>(
            () => context.Client.DownloadBytesAsync("default/r.bin", new DownloadOptions { Offset = 1000 }, Ct));

        Assert.Equal("range_not_satisfiable", e.Code);
        Assert.Equal(416, (int)e.StatusCode);
        Assert.False(e.IsTransient);
    }

    [Fact]
    public async Task DownloadBytes_ZeroByteObject_ReturnsEmpty()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(ReadOnlyMemory<byte>.Empty, "default/empty", cancellationToken: Ct);

        Assert.Empty(await context.Client.DownloadBytesAsync("default/empty", cancellationToken: Ct));
    }

    [Fact]
    public async Task DownloadBytes_LengthOnZeroByteObject_ReturnsEmptyLikeOffsetLengthQuery()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(ReadOnlyMemory<byte>.Empty, "default/empty", cancellationToken: Ct);

        // §3.19: offset 0 with any length on a 0-byte object is 200 with an empty body, as it is for a 5-byte one.
        Assert.Empty(await context.Client.DownloadBytesAsync("default/empty", new DownloadOptions { Length = 10 }, Ct));
    }

    [Fact]
    public async Task DownloadPath_OverwriteFalseOnExistingLocalFile_ThrowsLocalExistsAndKeepsFile()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("remote"), "default/f.txt", cancellationToken: Ct);
        var target = Path.Combine(context.Scratch, "f.txt");
        await File.WriteAllTextAsync(target, "local", Ct);

        var e = await Assert.ThrowsAsync<DepotException>(
            () => context.Client.DownloadAsync("default/f.txt", target, new DownloadOptions { Overwrite = false }, cancellationToken: Ct));

        Assert.Equal(ClientErrorCodes.LocalExists, e.Code);
        Assert.False(e.IsTransient);
        Assert.Equal("local", await File.ReadAllTextAsync(target, Ct));
    }

    [Fact]
    public async Task DownloadPath_OverwriteTrueOnExistingLocalFile_Replaces()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("remote"), "default/f.txt", cancellationToken: Ct);
        var target = Path.Combine(context.Scratch, "f.txt");
        await File.WriteAllTextAsync(target, "local, and longer than remote", Ct);

        await context.Client.DownloadAsync("default/f.txt", target, cancellationToken: Ct);

        Assert.Equal("remote", await File.ReadAllTextAsync(target, Ct));
    }

    [Fact]
    public async Task DownloadPath_MissingObject_ThrowsNotFoundAndLeavesDestinationUntouched()
    {
        await using var context = await ClientTestContext.StartAsync();
        var target = Path.Combine(context.Scratch, "keep.txt");
        await File.WriteAllTextAsync(target, "precious", Ct);

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.DownloadAsync("default/missing.txt", target, cancellationToken: Ct));

        Assert.Equal("precious", await File.ReadAllTextAsync(target, Ct));
        Assert.Empty(FileTestSupport.PartFiles(context.Scratch));
    }

    [Fact]
    public async Task DownloadPath_MissingObjectToNewFile_CreatesNoFile()
    {
        await using var context = await ClientTestContext.StartAsync();
        var target = Path.Combine(context.Scratch, "new.txt");

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.DownloadAsync("default/missing.txt", target, cancellationToken: Ct));

        Assert.False(File.Exists(target));
        Assert.Empty(FileTestSupport.PartFiles(context.Scratch));
    }

    [Fact]
    public async Task DownloadStream_WritesFromCurrentPositionAndLeavesStreamOpen()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(5000, seed: 13);
        await context.Client.UploadAsync(bytes, "default/s.bin", cancellationToken: Ct);
        using var destination = new MemoryStream();
        destination.Write("head"u8);

        var described = await context.Client.DownloadAsync("default/s.bin", destination, cancellationToken: Ct);

        Assert.True(destination.CanWrite);
        Assert.Equal([.. "head"u8.ToArray(), .. bytes], destination.ToArray());
        Assert.Equal(5000, described.Size);
    }

    [Fact]
    public async Task DownloadStream_Range_WritesOnlyThoseBytes()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(5000, seed: 14);
        await context.Client.UploadAsync(bytes, "default/s.bin", cancellationToken: Ct);
        using var destination = new MemoryStream();

        await context.Client.DownloadAsync("default/s.bin", destination, new DownloadOptions { Offset = 10, Length = 100 }, cancellationToken: Ct);

        Assert.Equal(bytes[10..110], destination.ToArray());
    }

    [Fact]
    public async Task DownloadStream_MissingObject_ThrowsNotFoundAndWritesNothing()
    {
        await using var context = await ClientTestContext.StartAsync();
        using var destination = new MemoryStream();

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.DownloadAsync("default/nope", destination, cancellationToken: Ct));

        Assert.Equal(0, destination.Length);
    }

    [Fact]
    public async Task Download_Directory_ThrowsConflict()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.CreateDirectoryAsync("default/dir", Ct);

        var e = await Assert.ThrowsAsync<ConflictException>(() => context.Client.DownloadBytesAsync("default/dir", cancellationToken: Ct));

        Assert.Equal("conflict", e.Code);
    }

    [Fact]
    public async Task UploadProgress_SinglePut_EndsCompletedWithFullSize()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var local = context.WriteFile("p.bin", 700_000, seed: 15);
        var log = new ProgressLog();

        await client.UploadAsync(local, "default/p.bin", progress: log, cancellationToken: Ct);

        var last = log.Reports[^1];
        Assert.True(last.IsCompleted);
        Assert.Equal(700_000, last.BytesTransferred);
        Assert.Equal(700_000, last.TotalBytes);
        Assert.Single(log.Reports, r => r.IsCompleted);
        Assert.All(log.Reports, r => Assert.InRange(r.BytesTransferred, 0, 700_000));
    }

    [Fact]
    public async Task UploadProgress_Session_EndsCompletedWithFullSize()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        var local = context.WriteFile("p.bin", 3 * 1024 * 1024 + 5, seed: 16);
        var log = new ProgressLog();

        await client.UploadAsync(local, "default/p.bin", progress: log, cancellationToken: Ct);

        var last = log.Reports[^1];
        Assert.True(last.IsCompleted);
        Assert.Equal(3 * 1024 * 1024 + 5, last.BytesTransferred);
        Assert.Equal(local, last.Name);
        Assert.All(log.Reports, r => Assert.InRange(r.BytesTransferred, 0, 3 * 1024 * 1024 + 5));
    }

    [Fact]
    public async Task DownloadProgress_ToPath_EndsCompletedWithFullSize()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(3 * 1024 * 1024, seed: 17);
        await context.Client.UploadAsync(bytes, "default/p.bin", cancellationToken: Ct);
        var log = new ProgressLog();

        await context.Client.DownloadAsync("default/p.bin", Path.Combine(context.Scratch, "p.bin"), progress: log, cancellationToken: Ct);

        var last = log.Reports[^1];
        Assert.True(last.IsCompleted);
        Assert.Equal(bytes.Length, last.BytesTransferred);
        Assert.Equal(bytes.Length, last.TotalBytes);
    }

    [Fact]
    public async Task DownloadProgress_Range_TotalIsRangeLength()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(new byte[1000], "default/p.bin", cancellationToken: Ct);
        var log = new ProgressLog();
        using var sink = new MemoryStream();

        await context.Client.DownloadAsync("default/p.bin", sink, new DownloadOptions { Offset = 10, Length = 100 }, log, Ct);

        var last = log.Reports[^1];
        Assert.True(last.IsCompleted);
        Assert.Equal(100, last.BytesTransferred);
        Assert.Equal(100, last.TotalBytes);
    }

    [Fact]
    public async Task UploadCancellation_SinglePutOfSlowStream_StopsPromptlyAndPublishesNothing()
    {
        await using var context = await ClientTestContext.StartAsync();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var source = new SlowEndlessStream(TimeSpan.FromMilliseconds(5));
        var log = new ProgressLog { OnReport = r => { if (r.BytesTransferred > 256 * 1024) { cancel.Cancel(); } } };
        var started = DateTime.UtcNow;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => context.Client.UploadAsync(source, "default/cancel.bin",
            new UploadOptions { Resumable = false }, log, cancel.Token));

        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        var after = source.BytesRead;
        await Task.Delay(200, Ct);
        Assert.Equal(after, source.BytesRead);
        Assert.Null(await context.Client.TryStatAsync("default/cancel.bin", Ct));
    }

    [Fact]
    public async Task UploadCancellation_Session_StopsPromptlyAndPublishesNothing()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.SessionClient();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var source = new SlowEndlessStream(TimeSpan.FromMilliseconds(5));
        var log = new ProgressLog { OnReport = r => { if (r.BytesTransferred > 512 * 1024) { cancel.Cancel(); } } };
        var started = DateTime.UtcNow;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.UploadAsync(source, "default/cancel.bin", null, log, cancel.Token));

        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.Null(await client.TryStatAsync("default/cancel.bin", Ct));
    }

    [Fact]
    public async Task UploadCancellation_AlreadyCancelledToken_ThrowsWithoutRequest()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = context.WriteFile("c.bin", 1000);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => context.Client.UploadAsync(local, "default/c.bin", cancellationToken: new CancellationToken(canceled: true)));

        Assert.Null(await context.Client.TryStatAsync("default/c.bin", Ct));
    }
}
