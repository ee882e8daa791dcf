using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Files;

public sealed class SmokeTests
{
    [Fact]
    public async Task UploadDownload_SmallAndResumableFiles_RoundTripVerified()
    {
        await using var context = await ClientTestContext.StartAsync();
        var client = context.CreateClient(configure: o => { o.ResumableThreshold = 1024 * 1024; o.ChunkSize = 256 * 1024; });
        var small = context.WriteFile("small.bin", 1000, seed: 1);
        var large = context.WriteFile("large.bin", 3 * 1024 * 1024 + 17, seed: 2);

        var a = await client.UploadAsync(small, "default/a/small.bin", cancellationToken: TestContext.Current.CancellationToken);
        var b = await client.UploadAsync(large, "default/a/large.bin", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(ClientTestContext.Sha256Of(small), a.Sha256);
        Assert.Equal(ClientTestContext.Sha256Of(large), b.Sha256);
        var back = Path.Combine(context.Scratch, "back", "large.bin");
        var got = await client.DownloadAsync("default/a/large.bin", back, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(b.Sha256, ClientTestContext.Sha256Of(back));
        Assert.Equal(b.Size, got.Size);
        var entries = await client.ListAsync("default/a", cancellationToken: TestContext.Current.CancellationToken).ToListAsync(TestContext.Current.CancellationToken);
        Assert.Equal(["large.bin", "small.bin"], entries.Select(e => e.Name));
    }
}
