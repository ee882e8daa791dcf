using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Files;

public sealed class ListAndStatTests : IAsyncLifetime
{
    private CliTestContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _context.DisposeAsync();

    [Fact]
    public async Task Ls_prints_names_with_directories_marked()
    {
        await _context.Client.UploadAsync("hello"u8.ToArray(), "/docs/a.txt", cancellationToken: CliTestContext.Ct);
        await _context.Client.UploadAsync("world!"u8.ToArray(), "/docs/sub/b.txt", cancellationToken: CliTestContext.Ct);

        var result = await _context.RunAsync("ls", "/docs");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["a.txt", "sub/"], result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.False(CliTestContext.HasControlCharacters(result.Stdout));
    }

    [Fact]
    public async Task Ls_recursive_long_shows_sizes_and_relative_paths()
    {
        await _context.Client.UploadAsync("hello"u8.ToArray(), "/docs/a.txt", cancellationToken: CliTestContext.Ct);
        await _context.Client.UploadAsync("world!"u8.ToArray(), "/docs/sub/b.txt", cancellationToken: CliTestContext.Ct);

        var result = await _context.RunAsync("ls", "-l", "-r", "default/docs");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("file", StringComparison.Ordinal) && l.Contains(" 5 ", StringComparison.Ordinal) && l.EndsWith("a.txt", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(" 6 ", StringComparison.Ordinal) && l.EndsWith("sub/b.txt", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("dir", StringComparison.Ordinal) && l.EndsWith("sub/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Ls_json_is_an_array_of_entries()
    {
        await _context.Client.UploadAsync("hello"u8.ToArray(), "/j/a.txt", cancellationToken: CliTestContext.Ct);

        var result = await _context.RunAsync("ls", "--json", "/j");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var entry = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal("default/j/a.txt", entry.GetProperty("path").GetString());
        Assert.Equal("file", entry.GetProperty("type").GetString());
        Assert.Equal(5, entry.GetProperty("size").GetInt64());
        Assert.Equal(64, entry.GetProperty("sha256").GetString()!.Length);
    }

    [Fact]
    public async Task Stat_of_a_missing_path_exits_3_with_one_line_naming_it()
    {
        var result = await _context.RunAsync("stat", "/nope/missing.txt");

        Assert.Equal(3, result.ExitCode);
        Assert.Empty(result.Stdout);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("depot stat: ", line, StringComparison.Ordinal);
        Assert.Contains("default/nope/missing.txt", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stat_json_error_goes_to_stderr_as_an_object()
    {
        var result = await _context.RunAsync("stat", "--json", "/nope.txt");

        Assert.Equal(3, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stderr);
        Assert.Equal("not_found", json.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("error").GetProperty("exitCode").GetInt32());
    }

    [Fact]
    public async Task Stat_shows_size_checksum_and_metadata()
    {
        await _context.Client.UploadAsync("hello"u8.ToArray(), "/s.txt", new Depot.Client.UploadOptions { Metadata = new Dictionary<string, string> { ["owner"] = "ann" } }, cancellationToken: CliTestContext.Ct);

        var result = await _context.RunAsync("stat", "/s.txt");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("5 (5 B)", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("owner=ann", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_key_exits_5_and_an_unreachable_server_exits_7()
    {
        var wrongKey = await _context.RunAsync(["ls", "/"], new Dictionary<string, string?> { ["DEPOT_KEY"] = "dpk_wrong_key_000000000000000000" });
        var noServer = await _context.RunAsync(["ls", "/"], new Dictionary<string, string?> { ["DEPOT_URL"] = "http://127.0.0.1:9" });

        Assert.True(wrongKey.ExitCode == 5, wrongKey.ToString());
        Assert.Contains("DEPOT_KEY", wrongKey.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("dpk_wrong_key", wrongKey.Stderr, StringComparison.Ordinal);
        Assert.True(noServer.ExitCode == 7, noServer.ToString());
        Assert.Contains("127.0.0.1:9", noServer.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_errors_exit_2()
    {
        var unknownOption = await _context.RunAsync("ls", "--bogus", "/");
        var missingArgument = await _context.RunAsync("stat");

        Assert.Equal(2, unknownOption.ExitCode);
        Assert.Contains("--bogus", unknownOption.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, missingArgument.ExitCode);
    }
}
