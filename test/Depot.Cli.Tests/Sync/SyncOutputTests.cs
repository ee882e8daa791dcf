using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Sync;

public sealed class SyncOutputTests : IAsyncLifetime
{
    private CliTestContext _c = null!;

    public async ValueTask InitializeAsync() => _c = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _c.DisposeAsync();

    [Fact]
    public async Task Quiet_prints_nothing_and_still_syncs()
    {
        var local = SyncTrees.Write(_c, "tree");

        var result = await _c.RunAsync("sync", "-q", "./tree", "/t");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Stdout + result.Stderr);
        Assert.Equal(SyncTrees.Local(local), await SyncTrees.RemoteAsync(_c.Client, "/t"));
    }

    [Fact]
    public async Task A_bad_parallel_value_exits_2_before_anything_is_sent()
    {
        SyncTrees.Write(_c, "tree");

        var result = await _c.RunAsync("sync", "--parallel", "0", "./tree", "/t");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--parallel", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(await SyncTrees.RemoteAsync(_c.Client, "/t"));
    }

    [Fact]
    public async Task A_terminal_gets_progress_bars_and_the_summary()
    {
        _c.WriteFile("tree/big.bin", 4 << 20, seed: 5);

        var result = await _c.RunInTerminalAsync(["sync", "./tree", "/t"]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(CliTestContext.HasControlCharacters(result.Stdout), result.ToString());
        Assert.Contains("sent 1 file, skipped 0, deleted 0,", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("sent big.bin (", result.Stdout, StringComparison.Ordinal); // bars, not lines
    }
}
