using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests;

/// <summary>How the command line is read, the same for every command.</summary>
public sealed class CommandLineTests : IAsyncLifetime
{
    private CliTestContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _context.DisposeAsync();

    [Fact]
    public async Task Connection_options_before_the_command_work_like_after_it()
    {
        await _context.Client.UploadAsync("x"u8.ToArray(), "/g/a.txt", cancellationToken: CliTestContext.Ct);
        var env = new Dictionary<string, string?> { ["DEPOT_URL"] = "http://127.0.0.1:9", ["DEPOT_KEY"] = null };

        var before = await _context.RunAsync(["--url", _context.Url, "--key", _context.Server.AdminKey, "--json", "ls", "/g"], env);
        var after = await _context.RunAsync(["ls", "/g", "--url", _context.Url, "--key", _context.Server.AdminKey, "--json"], env);

        Assert.True(before.ExitCode == 0, before.ToString());
        Assert.Equal(after.Stdout, before.Stdout);
        Assert.Contains("default/g/a.txt", before.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_on_a_mistyped_command_line_is_never_echoed()
    {
        var result = await _context.RunAsync("ls", "--key", "dpk_do_not_print_me_0123456789", "/", "--bogus");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--bogus", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("dpk_do_not_print_me", result.Stderr + result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_option_value_may_start_with_a_dash_and_a_path_may_after_double_dash()
    {
        await _context.Client.UploadAsync("x"u8.ToArray(), "/-odd.txt", cancellationToken: CliTestContext.Ct);
        var remoteOdd = await _context.RunAsync("stat", "/-odd.txt");
        Assert.True(remoteOdd.ExitCode == 0, remoteOdd.ToString());

        var key = await _context.RunAsync("key", "create", "--scope", "read", "--prefix", "-tmp/", "--json");
        var stat = await _context.RunAsync("stat", "--", "-odd.txt-is-a-bucket-name");
        var refused = await _context.RunAsync("rm", "-odd.txt");

        Assert.True(key.ExitCode == 0, key.ToString());
        Assert.Contains("\"prefix\":\"-tmp/\"", key.Stdout, StringComparison.Ordinal);
        // After --, "-odd…" reaches the server as a path (and is refused there as a bucket name), not as an option.
        Assert.True(stat.ExitCode == 2, stat.ToString());
        Assert.Contains("bucket name", stat.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("Unrecognized option '-odd.txt'", refused.Stderr, StringComparison.Ordinal);
        Assert.NotNull(await _context.Client.TryStatAsync("/-odd.txt", CliTestContext.Ct));
    }

    [Fact]
    public async Task A_write_only_key_puts_a_file_under_a_new_name()
    {
        var created = await _context.Client.CreateApiKeyAsync(new Depot.Protocol.CreateKeyRequestDto { Name = "wo", Scopes = ["write"] }, CliTestContext.Ct);
        var file = _context.WriteText("w.txt", "written");

        var result = await _context.RunAsync(["put", file, "/w1.txt"], new Dictionary<string, string?> { ["DEPOT_KEY"] = created.Token });

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("written"u8.ToArray(), await _context.Client.DownloadBytesAsync("/w1.txt", cancellationToken: CliTestContext.Ct));
    }
}
