using Depot.Cli.Tests.Infrastructure;
using Depot.Client;

namespace Depot.Cli.Tests.Transfers;

/// <summary>Bars on a terminal, plain lines (or nothing) in a pipe.</summary>
public sealed class ProgressTests : IAsyncLifetime
{
    private CliTestContext _c = null!;

    public async ValueTask InitializeAsync() => _c = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _c.DisposeAsync();

    [Fact]
    public async Task Put_of_a_big_file_draws_a_bar_on_a_terminal_and_nothing_in_a_pipe()
    {
        var local = _c.WriteFile("big.bin", 64L * 1024 * 1024, seed: 5);

        var terminal = await _c.RunInTerminalAsync(["put", "big.bin", "/big"]);
        var pipe = await _c.RunAsync("put", "big.bin", "/big2");

        Assert.True(terminal.ExitCode == 0, terminal.ToString());
        Assert.Contains("\u001b[", terminal.Stdout, StringComparison.Ordinal);
        Assert.Contains("100%", terminal.Stdout, StringComparison.Ordinal);
        Assert.Contains("big.bin -> default/big (64 MiB)", terminal.Stdout, StringComparison.Ordinal);
        Assert.True(pipe.ExitCode == 0, pipe.ToString());
        Assert.False(CliTestContext.HasControlCharacters(pipe.Stdout + pipe.Stderr), pipe.ToString());
        Assert.Equal("big.bin -> default/big2 (64 MiB)\n", pipe.Stdout);
        var sha = CliTestContext.Sha256Of(local);
        Assert.Equal(sha, (await _c.Client.StatAsync("/big", CliTestContext.Ct)).Sha256);
        Assert.Equal(sha, (await _c.Client.StatAsync("/big2", CliTestContext.Ct)).Sha256);
    }

    [Fact]
    public async Task Put_r_draws_bars_on_a_terminal_and_one_line_per_file_in_a_pipe()
    {
        for (var i = 0; i < 5; i++)
        {
            _c.WriteFile($"many/f{i}.bin", 8L * 1024 * 1024, seed: i);
        }

        var terminal = await _c.RunInTerminalAsync(["put", "-r", "many", "/t"]);
        var pipe = await _c.RunAsync("put", "-r", "many", "/p");

        Assert.True(terminal.ExitCode == 0, terminal.ToString());
        Assert.Contains("\u001b[", terminal.Stdout, StringComparison.Ordinal);
        Assert.Contains("%", terminal.Stdout, StringComparison.Ordinal);
        Assert.Contains("many/f4.bin -> default/t/f4.bin (8.0 MiB)", terminal.Stdout, StringComparison.Ordinal);
        Assert.True(pipe.ExitCode == 0, pipe.ToString());
        Assert.False(CliTestContext.HasControlCharacters(pipe.Stdout + pipe.Stderr), pipe.ToString());
        var lines = pipe.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"many/f{i}.bin -> default/p/f{i}.bin (8.0 MiB)"), lines[..5].Order(StringComparer.Ordinal));
        Assert.StartsWith("uploaded 5 files (40 MiB) in ", lines[5], StringComparison.Ordinal);
        Assert.Equal(6, lines.Length);
        var remote = new List<string>();
        await foreach (var entry in _c.Client.ListAsync("/p", new ListOptions(), CliTestContext.Ct))
        {
            remote.Add(entry.Name);
        }

        Assert.Equal(5, remote.Count);
    }

    [Fact]
    public async Task Put_quiet_prints_neither_bars_nor_lines_on_a_terminal()
    {
        _c.WriteFile("q.bin", 2L * 1024 * 1024);

        var quiet = await _c.RunInTerminalAsync(["put", "-q", "q.bin", "/q.bin"]);

        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.DoesNotContain("%", quiet.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("->", quiet.Stdout, StringComparison.Ordinal);
    }
}
