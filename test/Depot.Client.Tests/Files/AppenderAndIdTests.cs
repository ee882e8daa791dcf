using System.Text;
using System.Text.RegularExpressions;
using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Files;

public sealed partial class AppenderAndIdTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [GeneratedRegex("^M00/[0-9A-F]{2}/[0-9A-F]{2}/[A-Za-z0-9_-]{22}\\.jpg$")]
    private static partial Regex JpgId();

    [GeneratedRegex("^M00/[0-9A-F]{2}/[0-9A-F]{2}/[A-Za-z0-9_-]{22}$")]
    private static partial Regex BareId();

    [Fact]
    public async Task UploadWithIdPath_FileExtension_IdHasFastDfsShapeAndFileExtension()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = context.WriteFile("cat.jpg", 5000, seed: 1);

        var stored = await context.Client.UploadWithIdAsync(local, "default", cancellationToken: Ct);

        Assert.Equal("default", stored.Path.Bucket);
        Assert.Matches(JpgId(), stored.Path.Key);
        Assert.NotNull(stored.Node);
        Assert.Equal(File.ReadAllBytes(local), context.OnDisk(stored.Path.Key));
        Assert.Equal(ClientTestContext.Sha256Of(local), stored.Sha256);
    }

    [Fact]
    public async Task UploadWithIdPath_AboveThreshold_IdHasFileExtension()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = context.WriteFile("big.jpg", 2 * 1024 * 1024 + 1, seed: 2);

        var stored = await context.SessionClient().UploadWithIdAsync(local, "default", cancellationToken: Ct);

        Assert.Matches(JpgId(), stored.Path.Key);
        Assert.Equal(File.ReadAllBytes(local), context.OnDisk(stored.Path.Key));
    }

    [Fact]
    public async Task UploadWithIdPath_SameFileTwice_GetsTwoIds()
    {
        await using var context = await ClientTestContext.StartAsync();
        var local = context.WriteFile("twice.jpg", 1000, seed: 3);

        var first = await context.Client.UploadWithIdAsync(local, "default", cancellationToken: Ct);
        var second = await context.Client.UploadWithIdAsync(local, "default", cancellationToken: Ct);

        Assert.NotEqual(first.Path, second.Path);
    }

    [Fact]
    public async Task UploadWithIdBytesAndStream_ExplicitOrNoExtension_IdShape()
    {
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(3000, seed: 4);

        var fromBytes = await context.Client.UploadWithIdAsync(bytes, "default", "jpg", cancellationToken: Ct);
        var fromStream = await context.Client.UploadWithIdAsync(new NonSeekableStream(new MemoryStream(bytes)), "default", cancellationToken: Ct);

        Assert.Matches(JpgId(), fromBytes.Path.Key);
        Assert.Matches(BareId(), fromStream.Path.Key);
        Assert.Equal(bytes, await context.Client.DownloadBytesAsync(fromStream.Path, cancellationToken: Ct));
    }

    [Fact]
    public async Task UploadWithId_OtherBucket_StoresThere()
    {
        await using var context = await ClientTestContext.StartAsync((o, root) =>
            o.Buckets["photos"] = new Depot.Server.Hosting.BucketConfig { Path = Depot.Server.Tests.Infrastructure.DepotTestServer.BucketDirectory(root, "photos") });

        var stored = await context.Client.UploadWithIdAsync(Encoding.UTF8.GetBytes("x"), "photos", "png", cancellationToken: Ct);

        Assert.Equal("photos", stored.Path.Bucket);
        Assert.Equal("x"u8.ToArray(), await context.Client.DownloadBytesAsync(stored.Path, cancellationToken: Ct));
    }

    [Fact]
    public async Task UploadSlave_OfMaster_DerivedIdLinkedToMaster()
    {
        await using var context = await ClientTestContext.StartAsync();
        var master = await context.Client.UploadWithIdAsync(ClientTestContext.RandomBytes(2000, 5), "default", "jpg", cancellationToken: Ct);
        var thumb = context.WriteFile("thumb.jpg", 300, seed: 6);

        var slave = await context.Client.UploadSlaveAsync(thumb, master.Path, "_150x150", cancellationToken: Ct);

        Assert.Equal(master.Path.Key[..^4] + "_150x150.jpg", slave.Path.Key);
        Assert.Equal(master.Path.Key, slave.Master);
        Assert.Equal(File.ReadAllBytes(thumb), context.OnDisk(slave.Path.Key));
        Assert.Equal(master.Path.Key, (await context.Client.StatAsync(slave.Path, Ct)).Master);
    }

    [Fact]
    public async Task UploadSlaveBytes_OtherExtension_UsesIt()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("master"), "default/photos/cat.jpeg", cancellationToken: Ct);

        var slave = await context.Client.UploadSlaveAsync(Encoding.UTF8.GetBytes("small"), "default/photos/cat.jpeg", "_small", "webp", cancellationToken: Ct);

        Assert.Equal("photos/cat_small.webp", slave.Path.Key);
        Assert.Equal("small", Encoding.UTF8.GetString(context.OnDisk("photos/cat_small.webp")));
    }

    [Fact]
    public async Task UploadSlave_MissingMaster_ThrowsNotFoundAndStoresNothing()
    {
        await using var context = await ClientTestContext.StartAsync();

        var e = await Assert.ThrowsAsync<NotFoundException>(
            () => context.Client.UploadSlaveAsync(Encoding.UTF8.GetBytes("s"), "default/none.jpg", "_t", cancellationToken: Ct));

        Assert.Equal("not_found", e.Code);
        Assert.Null(await context.Client.TryStatAsync("default/none_t.jpg", Ct));
    }

    [Fact]
    public async Task UploadSlave_ExistingWithoutOverwrite_ThrowsAlreadyExists_WithOverwriteReplaces()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("m"), "default/a.png", cancellationToken: Ct);
        await context.Client.UploadSlaveAsync(Encoding.UTF8.GetBytes("one"), "default/a.png", "_t", cancellationToken: Ct);

        await Assert.ThrowsAsync<AlreadyExistsException>(
            () => context.Client.UploadSlaveAsync(Encoding.UTF8.GetBytes("two"), "default/a.png", "_t", cancellationToken: Ct));
        Assert.Equal("one", Encoding.UTF8.GetString(context.OnDisk("a_t.png")));
        await context.Client.UploadSlaveAsync(Encoding.UTF8.GetBytes("two"), "default/a.png", "_t", overwrite: true, cancellationToken: Ct);

        Assert.Equal("two", Encoding.UTF8.GetString(context.OnDisk("a_t.png")));
    }

    [Fact]
    public async Task UploadSlave_WithEncryption_StoresCiphertextThatDecrypts()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("master"), "default/enc.png", cancellationToken: Ct);
        var key = EncryptionKey.Generate();
        var secret = Encoding.UTF8.GetBytes("the thumbnail's secret bytes");

        var slave = await context.Client.UploadSlaveAsync(secret, "default/enc.png", "_t", options: new UploadOptions { Encryption = key }, cancellationToken: Ct);

        Assert.NotEqual(secret, context.OnDisk(slave.Path.Key));
        Assert.Equal(secret, await context.Client.DownloadBytesAsync(slave.Path, new DownloadOptions { Encryption = key }, Ct));
    }

    [Fact]
    public async Task Appender_CreateAppendModifyTruncate_ContentExactAfterEachStep()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.Client;
        var path = new DepotPath("default", "logs/app.log");

        var created = await client.CreateAppenderAsync(path, cancellationToken: Ct);
        Assert.True(created.Appendable);
        Assert.Equal(0, created.Size);

        var appended = await client.AppendAsync(path, Encoding.UTF8.GetBytes("line 1\n"), Ct);
        appended = await client.AppendAsync(path, new NonSeekableStream(new MemoryStream(Encoding.UTF8.GetBytes("line 2\n"))), cancellationToken: Ct);
        Assert.Equal("line 1\nline 2\n", Encoding.UTF8.GetString(context.OnDisk("logs/app.log")));
        Assert.Equal(14, appended.Size);
        Assert.Equal(ClientTestContext.Sha256Of(context.OnDisk("logs/app.log")), appended.Sha256);

        var modified = await client.ModifyAsync(path, 7, Encoding.UTF8.GetBytes("LINE"), cancellationToken: Ct);
        Assert.Equal("line 1\nLINE 2\n", Encoding.UTF8.GetString(context.OnDisk("logs/app.log")));
        Assert.Equal(14, modified.Size);

        var extended = await client.ModifyAsync(path, 7, new MemoryStream(Encoding.UTF8.GetBytes("LINE 2 extended\n")), extend: true, Ct);
        Assert.Equal("line 1\nLINE 2 extended\n", Encoding.UTF8.GetString(context.OnDisk("logs/app.log")));
        Assert.Equal(23, extended.Size);

        var truncated = await client.TruncateAsync(path, 7, Ct);
        Assert.Equal("line 1\n", Encoding.UTF8.GetString(context.OnDisk("logs/app.log")));
        Assert.Equal(7, truncated.Size);
        Assert.Equal(ClientTestContext.Sha256Of(Encoding.UTF8.GetBytes("line 1\n")), truncated.Sha256);
        Assert.True(truncated.Appendable);
    }

    [Fact]
    public async Task AppendProgress_Stream_EndsCompleted()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.CreateAppenderAsync("default/p.log", cancellationToken: Ct);
        var log = new ProgressLog();

        await context.Client.AppendAsync("default/p.log", new MemoryStream(new byte[100_000]), log, Ct);

        Assert.True(log.Reports[^1].IsCompleted);
        Assert.Equal(100_000, log.Reports[^1].BytesTransferred);
    }

    [Fact]
    public async Task CreateAppender_CreateOnlyOnExisting_ThrowsAlreadyExists()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/a.log", cancellationToken: Ct);

        await Assert.ThrowsAsync<AlreadyExistsException>(() => context.Client.CreateAppenderAsync("default/a.log", createOnly: true, Ct));

        Assert.Equal("x", Encoding.UTF8.GetString(context.OnDisk("a.log")));
    }

    [Fact]
    public async Task Append_OrdinaryObject_ThrowsConflictAndKeepsBytes()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("plain"), "default/plain.txt", cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<ConflictException>(() => context.Client.AppendAsync("default/plain.txt", Encoding.UTF8.GetBytes("x"), Ct));

        Assert.Equal("conflict", e.Code);
        Assert.Equal("plain", Encoding.UTF8.GetString(context.OnDisk("plain.txt")));
    }

    [Fact]
    public async Task Append_MissingObject_ThrowsNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.AppendAsync("default/none.log", Encoding.UTF8.GetBytes("x"), Ct));
    }

    [Fact]
    public async Task Modify_PastEndWithoutExtend_ThrowsRangeNotSatisfiable()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("abc"), "default/a.log", new UploadOptions { Appendable = true }, cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<InvalidRequestException>(() => context.Client.ModifyAsync("default/a.log", 2, Encoding.UTF8.GetBytes("xyz"), cancellationToken: Ct));

        Assert.Equal("range_not_satisfiable", e.Code);
        Assert.Equal("abc", Encoding.UTF8.GetString(context.OnDisk("a.log")));
    }

    [Fact]
    public async Task Truncate_BeyondSize_ThrowsRangeNotSatisfiable()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("abc"), "default/a.log", new UploadOptions { Appendable = true }, cancellationToken: Ct);

        var e = await Assert.ThrowsAsync<InvalidRequestException>(() => context.Client.TruncateAsync("default/a.log", 4, Ct));

        Assert.Equal("range_not_satisfiable", e.Code);
    }

    [Fact]
    public async Task OpenAppend_WritesAcrossSeveralFlushes_ObjectContentExact()
    {
        await using var context = await ClientTestContext.StartAsync();
        var expected = new MemoryStream();
        var random = new Random(7);

        var stream = await context.Client.OpenAppendAsync("default/stream.log", create: true, bufferSize: 4096, Ct);
        await using (stream)
        {
            for (var i = 0; i < 25; i++)
            {
                var piece = new byte[random.Next(1, 3000)];
                random.NextBytes(piece);
                await stream.WriteAsync(piece, Ct);
                expected.Write(piece);
                if (i % 7 == 0)
                {
                    await stream.FlushAsync(Ct);
                    Assert.Equal(expected.Length, (await context.Client.StatAsync("default/stream.log", Ct)).Size);
                }
            }

            Assert.Equal(expected.Length, stream.Position);
        }

        Assert.Equal(expected.ToArray(), context.OnDisk("stream.log"));
        Assert.Equal(ClientTestContext.Sha256Of(expected.ToArray()), stream.Object.Sha256);
    }

    [Fact]
    public async Task OpenAppend_ExistingAppender_ContinuesAtItsEnd()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("head|"), "default/a.log", new UploadOptions { Appendable = true }, cancellationToken: Ct);

        var stream = await context.Client.OpenAppendAsync("default/a.log", cancellationToken: Ct);
        await using (stream)
        {
            Assert.Equal(5, stream.Position);
            await stream.WriteAsync(Encoding.UTF8.GetBytes("tail"), Ct);
        }

        Assert.Equal("head|tail", Encoding.UTF8.GetString(context.OnDisk("a.log")));
    }

    [Fact]
    public async Task OpenAppend_SyncWritesAndDispose_FlushLastBytes()
    {
        await using var context = await ClientTestContext.StartAsync();

        using (var stream = await context.Client.OpenAppendAsync("default/sync.log", create: true, cancellationToken: Ct))
        {
            stream.Write(Encoding.UTF8.GetBytes("sync"));
        }

        Assert.Equal("sync", Encoding.UTF8.GetString(context.OnDisk("sync.log")));
    }

    [Fact]
    public async Task OpenAppend_MissingWithoutCreate_ThrowsNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.OpenAppendAsync("default/none.log", cancellationToken: Ct));
    }

    [Fact]
    public async Task OpenAppend_OrdinaryObject_ThrowsConflict()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("plain"), "default/plain.log", cancellationToken: Ct);

        await Assert.ThrowsAsync<ConflictException>(() => context.Client.OpenAppendAsync("default/plain.log", create: true, cancellationToken: Ct));
    }
}
