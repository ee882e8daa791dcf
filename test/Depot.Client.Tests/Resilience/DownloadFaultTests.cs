using Depot.Client.Tests.Infrastructure;
using static Depot.Client.Tests.Resilience.ResilienceKit;

namespace Depot.Client.Tests.Resilience;

/// <summary>
/// Downloads through a fault-injecting proxy from a real server on loopback: dropped connections and stalls resume
/// from the next byte; an object replaced mid-download never yields a mix of versions; remote random reads survive
/// drops.
/// </summary>
public sealed class DownloadFaultTests
{
    private const long Length = (48L * MiB) + 4_321;
    private const string Remote = "default/d/big.bin";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory(Timeout = TestTimeout)]
    [InlineData(DropMode.Reset)]
    [InlineData(DropMode.Fin)]
    public async Task DownloadToPath_ConnectionsDropSeveralTimes_FinishesByteIdenticalAndAppearsOnlyWhenComplete(DropMode mode)
    {
        await using var context = await ClientTestContext.StartAsync();
        var source = await UploadDirectAsync(context, seed: 31);
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy);
        var directory = Path.Combine(context.Scratch, "down");
        Directory.CreateDirectory(directory);
        var destination = Path.Combine(directory, "big.bin");
        var seenBeforeCompletion = 0;
        var reports = 0;
        var progress = new SynchronousProgress(p =>
        {
            Interlocked.Increment(ref reports);
            if (!p.IsCompleted && File.Exists(destination))
            {
                Interlocked.Increment(ref seenBeforeCompletion);
            }
        });
        proxy.DropAfter(ProxyDirection.Download, (5L * MiB) + 999, connections: 4, mode: mode);

        var described = await client.DownloadAsync(Remote, destination, progress: progress, cancellationToken: Ct);

        Assert.Equal(4, proxy.FaultsInjected(FaultKind.Drop));
        Assert.Equal(Sha256Of(source), Sha256Of(destination));
        Assert.Equal(Length, new FileInfo(destination).Length);
        Assert.Equal(Sha256Of(source), described.Sha256);
        Assert.True(reports > 0);
        Assert.Equal(0, seenBeforeCompletion);
        Assert.Equal([destination], Directory.GetFiles(directory));
        // Resumed, not restarted: each drop costs at most the bytes in flight, never the whole object again.
        Assert.InRange(proxy.BytesDownloaded, Length, Length + (4L * MiB));
    }

    [Theory(Timeout = TestTimeout)]
    [InlineData(DropMode.Reset)]
    [InlineData(DropMode.Fin)]
    public async Task DownloadToStream_ConnectionsDropSeveralTimes_WritesExactlyTheObject(DropMode mode)
    {
        await using var context = await ClientTestContext.StartAsync();
        var source = await UploadDirectAsync(context, seed: 32);
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy);
        var target = Path.Combine(context.Scratch, "stream-target.bin");
        proxy.DropAfter(ProxyDirection.Download, (7L * MiB) + 1, connections: 3, mode: mode);

        await using (var stream = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
        {
            await client.DownloadAsync(Remote, stream, cancellationToken: Ct);
        }

        Assert.Equal(3, proxy.FaultsInjected(FaultKind.Drop));
        Assert.Equal(Length, new FileInfo(target).Length);
        Assert.Equal(Sha256Of(source), Sha256Of(target));
    }

    [Fact(Timeout = TestTimeout)]
    public async Task DownloadToPath_StalledLongerThanStallTimeout_ResumesAndFinishesByteIdentical()
    {
        await using var context = await ClientTestContext.StartAsync();
        var source = await UploadDirectAsync(context, seed: 33);
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        // Only the stall watch can end the held attempt in time: the answer timeout is beyond the test's limit.
        var client = context.ProxyClient(proxy, configure: o =>
        {
            o.StallTimeout = TimeSpan.FromSeconds(2);
            o.Timeout = TimeSpan.FromMinutes(10);
        });
        var destination = Path.Combine(context.Scratch, "stalled.bin");
        proxy.Stall(ProxyDirection.Download, afterBytes: 6L * MiB, duration: null, connections: 1);

        await client.DownloadAsync(Remote, destination, cancellationToken: Ct);

        Assert.Equal(1, proxy.FaultsInjected(FaultKind.Stall));
        Assert.True(proxy.ConnectionsAccepted >= 2, proxy.ToString());
        Assert.Equal(Sha256Of(source), Sha256Of(destination));
        Assert.Empty(Directory.GetFiles(context.Scratch, "*.depot-part"));
    }

    /// <summary>The object is replaced while the download is held; then its connection drops. Resuming on the old
    /// version is impossible (If-Range), so the download starts over: the destination ends up the whole new version,
    /// never a mix of the two.</summary>
    [Fact(Timeout = TestTimeout)]
    public async Task DownloadToPath_ObjectReplacedBetweenDrops_EndsAsTheWholeNewVersion()
    {
        await using var context = await ClientTestContext.StartAsync();
        var first = await UploadDirectAsync(context, seed: 34);
        var second = context.WriteFile("second.bin", Length, seed: 35);
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        // Only the test releases the held connection: the client must not give up on it by itself first.
        var client = context.ProxyClient(proxy, configure: o => o.StallTimeout = TimeSpan.FromMinutes(2));
        var directory = Path.Combine(context.Scratch, "replaced");
        Directory.CreateDirectory(directory);
        var destination = Path.Combine(directory, "big.bin");
        proxy.Stall(ProxyDirection.Download, afterBytes: 10L * MiB, duration: null, connections: 1);

        var download = client.DownloadAsync(Remote, destination, cancellationToken: Ct);
        await proxy.WaitForFaultsAsync(FaultKind.Stall, 1, TimeSpan.FromMinutes(1), Ct);
        var replaced = await context.Client.UploadAsync(second, Remote, cancellationToken: Ct);
        proxy.DisconnectAll();
        var described = await download;

        Assert.NotEqual(Sha256Of(first), Sha256Of(second));
        Assert.Equal(Sha256Of(second), Sha256Of(destination));
        Assert.Equal(replaced.Sha256, described.Sha256);
        Assert.Equal([destination], Directory.GetFiles(directory));
    }

    /// <summary>A stream cannot be taken back: replaced mid-download, the download fails with a conflict instead of
    /// going on with the new version's bytes after the old one's.</summary>
    [Fact(Timeout = TestTimeout)]
    public async Task DownloadToStream_ObjectReplacedBetweenDrops_FailsWithConflictWithoutMixing()
    {
        await using var context = await ClientTestContext.StartAsync();
        var first = await UploadDirectAsync(context, seed: 36);
        var second = context.WriteFile("second.bin", Length, seed: 37);
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy, configure: o => o.StallTimeout = TimeSpan.FromMinutes(2));
        proxy.Stall(ProxyDirection.Download, afterBytes: 10L * MiB, duration: null, connections: 1);
        using var received = new MemoryStream();

        var download = client.DownloadAsync(Remote, received, cancellationToken: Ct);
        await proxy.WaitForFaultsAsync(FaultKind.Stall, 1, TimeSpan.FromMinutes(1), Ct);
        await context.Client.UploadAsync(second, Remote, cancellationToken: Ct);
        proxy.DisconnectAll();

        await Assert.ThrowsAsync<ConflictException>(() => download);
        // What was written is a prefix of the old version, nothing of the new one.
        var written = received.ToArray();
        Assert.InRange(written.Length, 1, 10L * MiB);
        var old = await File.ReadAllBytesAsync(first, Ct);
        Assert.True(old.AsSpan(0, written.Length).SequenceEqual(written));
    }

    /// <summary>Random reads through <see cref="DepotClient.OpenReadAsync"/> while the first connections die in the
    /// middle of ranged answers: each read returns exactly the object's bytes.</summary>
    [Theory(Timeout = TestTimeout)]
    [InlineData(DropMode.Reset)]
    [InlineData(DropMode.Fin)]
    public async Task OpenRead_RandomReadsWhileConnectionsDrop_ReturnExactBytes(DropMode mode)
    {
        const int Size = 16 * MiB;
        await using var context = await ClientTestContext.StartAsync();
        var bytes = ClientTestContext.RandomBytes(Size, seed: 38);
        await context.Client.UploadAsync(bytes, "default/d/random.bin", cancellationToken: Ct);
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var client = context.ProxyClient(proxy);
        await using var stream = await client.OpenReadAsync("default/d/random.bin", cancellationToken: Ct);
        // Set after opening: the drops hit ranged GETs, in the middle of their bodies.
        proxy.DropAfter(ProxyDirection.Download, 300_001, connections: 3, mode: mode);

        var random = new Random(39);
        for (var i = 0; i < 40; i++)
        {
            var position = random.NextInt64(0, Size - 1);
            var count = (int)Math.Min(Size - position, random.Next(1, 2 * MiB));
            var buffer = new byte[count];
            stream.Position = position;
            await stream.ReadExactlyAsync(buffer, Ct);
            Assert.True(bytes.AsSpan((int)position, count).SequenceEqual(buffer), $"read {i}: {count} bytes at {position} differ.");
        }

        Assert.Equal(3, proxy.FaultsInjected(FaultKind.Drop));
    }

    /// <summary>Uploads the object the downloads read (directly, not through the proxy); returns the local file.</summary>
    private static async Task<string> UploadDirectAsync(ClientTestContext context, int seed)
    {
        var local = context.WriteFile($"source-{seed}.bin", Length, seed);
        var stored = await context.Client.UploadAsync(local, Remote, cancellationToken: Ct);
        Assert.Equal(Sha256Of(local), stored.Sha256);
        return local;
    }
}
