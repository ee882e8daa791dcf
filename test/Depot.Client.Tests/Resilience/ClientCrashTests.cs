using Depot.Client.Tests.Infrastructure;
using static Depot.Client.Tests.Resilience.ResilienceKit;

namespace Depot.Client.Tests.Resilience;

/// <summary>
/// A client process is SIGKILLed in the middle of an upload session (its progress is in its SQLite state directory);
/// the next upload of the same file with the same state directory resumes the session instead of starting over,
/// unless the file changed meanwhile, and never publishes a mix of old and new bytes.
/// </summary>
/// <remarks>Both clients reach the server through the same proxy URL, because the saved state is keyed by the server
/// URL. The proxy throttles the killed process so that its upload takes several seconds; the throttle is removed
/// before the resume.</remarks>
public sealed class ClientCrashTests
{
    private const long Length = (48L * MiB) + 777;
    private const int Chunk = MiB;
    private const long BytesPerSecond = 4_000_000;
    private const string Remote = "default/crash/big.bin";
    private const string StoredKey = "crash/big.bin";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = TestTimeout)]
    public async Task ClientKilledMidUpload_SameFileUploadedAgain_ResumesTheSessionAndStoresExactBytes()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var local = context.WriteFile("big.bin", Length, seed: 41);
        var state = Path.Combine(context.Scratch, "host-state");
        await KillMidUploadAsync(context, proxy, local, state);

        var before = proxy.BytesUploaded;
        var client = context.ProxyClient(proxy, configure: o => o.StateDirectory = state);
        var stored = await client.UploadAsync(local, Remote, cancellationToken: Ct);
        var resent = proxy.BytesUploaded - before;
        Log($"before the kill: {before} bytes through the proxy; the resumed upload sent {resent} of {Length}.");

        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Length, stored.Size);
        Assert.Equal(Sha256Of(local), context.StoredSha256(StoredKey));
        // The killed process had more than half of the file through to the server: resuming sends well under the
        // whole file again, and completes the session the killed process created.
        Assert.InRange(resent, 1, Length * 3 / 4);
        var session = Assert.Single(context.SessionIds());
        await context.AssertSessionAccountingAsync(session, Length, Chunk, faults: 1, Ct);
    }

    [Fact(Timeout = TestTimeout)]
    public async Task ClientKilledMidUpload_FileRewrittenWithSameSize_NextUploadStartsANewSessionWithTheNewBytes()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var local = context.WriteFile("big.bin", Length, seed: 42);
        var state = Path.Combine(context.Scratch, "host-state");
        await KillMidUploadAsync(context, proxy, local, state);
        var oldSha256 = Sha256Of(local);
        var oldModified = File.GetLastWriteTimeUtc(local);
        context.WriteFile("big.bin", Length, seed: 43);
        File.SetLastWriteTimeUtc(local, oldModified.AddSeconds(10));

        var before = proxy.BytesUploaded;
        var client = context.ProxyClient(proxy, configure: o => o.StateDirectory = state);
        var stored = await client.UploadAsync(local, Remote, cancellationToken: Ct);
        var resent = proxy.BytesUploaded - before;

        Assert.NotEqual(oldSha256, Sha256Of(local));
        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Sha256Of(local), context.StoredSha256(StoredKey));
        Assert.True(resent >= Length, $"Only {resent} of {Length} bytes were sent: the old session was resumed.");
        Assert.Equal(2, context.SessionIds().Count);
    }

    /// <summary>The file is changed where the server already has its bytes, keeping size, modification time and the
    /// fingerprinted head and tail: the resume cannot notice, but the completion's SHA-256 check refuses the mix;
    /// nothing is published and the next upload starts over.</summary>
    [Fact(Timeout = TestTimeout)]
    public async Task ClientKilledMidUpload_MiddleChangedWithTimeRestored_ResumeRefusedAtCompletionThenNextUploadStartsOver()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        var local = context.WriteFile("big.bin", Length, seed: 44);
        var state = Path.Combine(context.Scratch, "host-state");
        await KillMidUploadAsync(context, proxy, local, state);
        var modified = File.GetLastWriteTimeUtc(local);
        await using (var file = new FileStream(local, FileMode.Open, FileAccess.Write))
        {
            file.Position = (2L * MiB) + 5;
            await file.WriteAsync(ClientTestContext.RandomBytes(1000, seed: 45), Ct);
        }

        File.SetLastWriteTimeUtc(local, modified);
        var client = context.ProxyClient(proxy, configure: o => o.StateDirectory = state);

        var failure = await Record.ExceptionAsync(() => client.UploadAsync(local, Remote, cancellationToken: Ct));

        Assert.IsType<ChecksumMismatchException>(failure);
        Assert.Null(await context.Client.TryStatAsync(Remote, Ct));
        var stored = await client.UploadAsync(local, Remote, cancellationToken: Ct);
        Assert.Equal(Sha256Of(local), stored.Sha256);
        Assert.Equal(Sha256Of(local), context.StoredSha256(StoredKey));
        Assert.Equal(2, context.SessionIds().Count);
    }

    /// <summary>Starts the client process on <paramref name="local"/> through the throttled proxy, SIGKILLs it once it
    /// reported a quarter of the file and the proxy has passed half of it to the server, then lifts the throttle.</summary>
    private static async Task KillMidUploadAsync(ClientTestContext context, FaultProxy proxy, string local, string state)
    {
        proxy.Throttle(ProxyDirection.Upload, BytesPerSecond);
        var host = ClientHostProcess.Start(proxy.Url, context.Server.AdminKey, state, local, Remote, Chunk);
        try
        {
            await host.WaitForProgressAsync(Length / 4, TimeSpan.FromMinutes(2), Ct);
            await proxy.WaitForBytesAsync(ProxyDirection.Upload, Length / 2, TimeSpan.FromMinutes(2), Ct);
            Assert.False(host.HasExited, "The client process ended before it was killed.\n" + host.Output);
            await host.KillAsync();
            Log($"killed at progress {host.Progress}, {proxy.BytesUploaded} bytes through the proxy.");
        }
        finally
        {
            await host.DisposeAsync();
        }

        Assert.DoesNotContain("done ", host.StandardOutput, StringComparison.Ordinal);
        Assert.Null(await context.Client.TryStatAsync(Remote, Ct));
        proxy.Clear(FaultKind.Throttle);
    }
}
