// The body mirrors README code, which (like most application code) passes no cancellation tokens.
#pragma warning disable xUnit1051

using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Api;

/// <summary>The C# samples of README.md, run against a real server, so the README cannot drift from the SDK. Keep the
/// body in step with the README's "Using it from C#" block (only the setup lines differ).</summary>
public sealed class ReadmeSamplesTests
{
    [Fact]
    public async Task ReadmeSamples_AgainstRealServer_Work()
    {
        await using var context = await ClientTestContext.StartAsync();
        var dir = context.Scratch;
        context.WriteFile("talk.mp4", 3 * 1024 * 1024, seed: 1);
        context.WriteFile("cat.jpg", 10_000, seed: 2);
        context.WriteFile("thumb.jpg", 1_000, seed: 3);
        context.WriteFile("site/index.html", 500, seed: 4);
        context.WriteFile("report.pdf", 5_000, seed: 5);
        context.WriteFile("diary.txt", 50, seed: 6);
        var cwd = Environment.CurrentDirectory;
        Environment.CurrentDirectory = dir;
        try
        {
            await using var depot = context.CreateClient();

            var progress = new Progress<TransferProgress>(p => Console.Write($"\r{p.Name} {p.BytesTransferred}/{p.TotalBytes}"));
            DepotObject video = await depot.UploadAsync("talk.mp4", "default/videos/talk.mp4", progress: progress);
            await depot.DownloadAsync("default/videos/talk.mp4", "copy.mp4");
            await foreach (var e in depot.ListAsync("default/videos", new ListOptions { Recursive = true }))
            {
                Console.WriteLine($"{e.Path} {e.Size}");
            }

            DepotObject id = await depot.UploadWithIdAsync("cat.jpg", "default");
            await depot.UploadSlaveAsync("thumb.jpg", id.Path, "_150x150");
            await depot.CreateAppenderAsync("default/logs/app.log");
            await depot.AppendAsync("default/logs/app.log", "started\n"u8.ToArray());

            SyncResult sync = await depot.SyncAsync("./site", "default/site", SyncDirection.Upload, new SyncOptions { Delete = true });

            var kv = depot.KeyValue();
            await kv.PutAsync("jobs/1", "payload"u8.ToArray(), new KeyValueWriteOptions { TimeToLive = TimeSpan.FromMinutes(5) });
            var job = await kv.GetAsync("jobs/1");
            await kv.CompareAndSwapAsync("jobs/1", "done"u8.ToArray(), job.ETag);

            await using (var remote = await depot.OpenReadAsync("default/videos/talk.mp4"))
            {
                remote.Seek(1 << 20, SeekOrigin.Begin);
            }

            await using var queue = await UploadQueue.OpenAsync("uploads.queue", depot);
            await queue.EnqueueAsync("report.pdf", "default/reports/report.pdf", new EnqueueOptions { Snapshot = true });
            await queue.RunAsync();
            var secret = EncryptionKey.FromPassphrase("correct horse battery staple", iterations: EncryptionKey.MinIterations);
            await depot.UploadAsync("diary.txt", "default/private/diary.txt", new UploadOptions { Encryption = secret });

            Assert.Equal(ClientTestContext.Sha256Of(Path.Combine(dir, "copy.mp4")), video.Sha256);
            Assert.StartsWith("default/M00/", id.Path.ToString(), StringComparison.Ordinal);
            Assert.Equal(1, sync.Sent);
            Assert.Equal("done"u8.ToArray(), (await kv.GetAsync("jobs/1")).Value);
            Assert.Equal(5_000, (await depot.StatAsync("default/reports/report.pdf")).Size);
            Assert.Equal("started\n"u8.ToArray(), await depot.DownloadBytesAsync("default/logs/app.log"));
            var diary = await depot.DownloadBytesAsync("default/private/diary.txt", new DownloadOptions { Encryption = secret });
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(dir, "diary.txt")), diary);
        }
        finally
        {
            Environment.CurrentDirectory = cwd;
        }
    }
}
