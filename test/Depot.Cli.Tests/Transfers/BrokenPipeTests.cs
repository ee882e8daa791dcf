using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Transfers;

/// <summary><c>depot cat big | head</c>: when stdout's reader goes away the command ends at once (exit 141, as a Unix
/// tool killed by SIGPIPE), instead of downloading the rest for nobody.</summary>
public sealed class BrokenPipeTests : IAsyncLifetime
{
    private CliTestContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _context.DisposeAsync();

    [Theory]
    [InlineData("cat")]
    [InlineData("get")]
    public async Task A_reader_that_closes_the_pipe_ends_the_command_with_141_and_no_message(string verb)
    {
        var file = _context.WriteFile("big.bin", 64L << 20, seed: 7);
        await _context.Client.UploadAsync(file, "/big.bin", cancellationToken: CliTestContext.Ct);
        string[] args = verb == "cat" ? ["cat", "/big.bin"] : ["get", "/big.bin", "-"];

        using var process = _context.Start(args);
        var stderr = process.StandardError.ReadToEndAsync(CliTestContext.Ct);
        var first = new byte[10];
        await process.StandardOutput.BaseStream.ReadExactlyAsync(first, CliTestContext.Ct);
        process.StandardOutput.Close(); // the reader goes away, as `head -c 10` does
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(CliTestContext.Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(141, process.ExitCode);
        Assert.Equal("", await stderr);
        Assert.Equal(File.ReadAllBytes(file).AsSpan(0, 10).ToArray(), first);
    }
}
