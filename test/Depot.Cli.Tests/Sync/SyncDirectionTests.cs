using System.Diagnostics;
using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Sync;

public sealed class SyncDirectionTests : IAsyncLifetime
{
    private CliTestContext _c = null!;

    public async ValueTask InitializeAsync() => _c = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _c.DisposeAsync();

    [Theory]
    [InlineData("photos", "backup/photos", "neither")] // neither exists locally
    [InlineData("./a", "./b", "both")]
    public async Task Ambiguous_arguments_exit_2_and_say_how_to_mark_them(string source, string destination, string why)
    {
        var result = await _c.RunAsync("sync", source, destination);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(why, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("./DIR", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(":bucket/dir", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task Both_marked_remote_exits_2()
    {
        var result = await _c.RunAsync("sync", ":a", ":b");

        Assert.True(result.ExitCode == 2, result.ToString());
    }

    [Fact]
    public async Task The_colon_marker_decides_when_both_names_exist_locally()
    {
        var local = SyncTrees.Write(_c, "tree");
        Directory.CreateDirectory(Path.Combine(_c.Scratch, "default", "m")); // "default/m" is also a local directory

        var up = await _c.RunAsync("sync", "tree", ":default/m");

        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.Equal(SyncTrees.Local(local), await SyncTrees.RemoteAsync(_c.Client, "default/m"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_c.Scratch, "default", "m")));

        var down = await _c.RunAsync("sync", ":default/m", "copy"); // "copy" does not exist: only the marker tells

        Assert.True(down.ExitCode == 0, down.ToString());
        Assert.Equal(SyncTrees.Local(local), SyncTrees.Local(Path.Combine(_c.Scratch, "copy")));
    }

    [Fact]
    public async Task An_interrupted_sync_exits_130_and_a_rerun_completes_it()
    {
        // 80 MiB goes through a resumable upload session (64 MiB threshold), so the re-run resumes it.
        var local = Path.GetDirectoryName(_c.WriteFile("big/large.bin", 80L << 20, seed: 7))!;
        for (var i = 0; i < 5; i++)
        {
            _c.WriteText($"big/small/{i}.txt", $"small file {i}");
        }

        using (var process = _c.Start(["sync", "--parallel", "1", "./big", "/big"]))
        {
            var stdout = process.StandardOutput.ReadToEndAsync(CliTestContext.Ct);
            var stderr = process.StandardError.ReadToEndAsync(CliTestContext.Ct);
            await WaitForUploadStateAsync(process);
            var delivered = await SendSigtermAsync(process);
            await process.WaitForExitAsync(CliTestContext.Ct);
            var output = new CliResult(process.ExitCode, await stdout, await stderr);

            // On a busy machine the sync may finish before the signal lands; then only the re-run is checked.
            if (delivered)
            {
                Assert.True(output.ExitCode == 130, output.ToString());
                Assert.Contains("interrupted", output.Stderr, StringComparison.Ordinal);
                Assert.NotEqual(SyncTrees.Local(local), await SyncTrees.RemoteAsync(_c.Client, "/big"));
            }
        }

        var rerun = await _c.RunAsync("sync", "./big", "/big");

        Assert.True(rerun.ExitCode == 0, rerun.ToString());
        Assert.Equal(SyncTrees.Local(local), await SyncTrees.RemoteAsync(_c.Client, "/big"));
        var again = await _c.RunAsync("sync", "./big", "/big");
        Assert.StartsWith("sent 0 files, skipped 6,", SyncTrees.Summary(again), StringComparison.Ordinal);
    }

    /// <summary>Waits until the running sync has started the large file's upload: the SDK's upload state appears in
    /// DEPOT_STATE_DIR.</summary>
    private async Task WaitForUploadStateAsync(Process process)
    {
        var clock = Stopwatch.StartNew();
        var state = Path.Combine(_c.StateDirectory, "uploads.db");
        while (!process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60) && !File.Exists(state))
        {
            await Task.Delay(10, CliTestContext.Ct);
        }
    }

    /// <summary>kill -TERM; false when the process had already ended.</summary>
    private static async Task<bool> SendSigtermAsync(Process process)
    {
        using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync(CliTestContext.Ct);
        return kill.ExitCode == 0;
    }
}
