using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests;

/// <summary><c>depot --help</c> and every command's help: the reference a user meets first.</summary>
public sealed class HelpTests : IAsyncLifetime
{
    /// <summary>Every command of design §5, and the ones beside serve.</summary>
    private static readonly string[] CommandNames =
    [
        "serve", "stop", "tls", "ls", "stat", "mkdir", "rm", "mv", "cp", "put", "get", "cat", "meta", "append",
        "truncate", "slave", "kv", "share", "sync", "queue", "key", "info", "config",
    ];

    public static TheoryData<string> Commands => new(CommandNames);

    private CliTestContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _context.DisposeAsync();

    [Fact]
    public async Task Root_help_lists_every_command_with_a_description_and_the_exit_codes()
    {
        var result = await _context.RunAsync("--help");

        Assert.True(result.ExitCode == 0, result.ToString());
        var commandsSection = result.Stdout[result.Stdout.IndexOf("Commands:", StringComparison.Ordinal)..];
        foreach (var command in CommandNames)
        {
            var line = commandsSection.Split('\n').FirstOrDefault(l => l.TrimStart().StartsWith(command + " ", StringComparison.Ordinal));
            Assert.True(line is not null, $"'{command}' is not in the help:\n{result.Stdout}");
            Assert.True(line!.Trim().Length > command.Length + 10, $"'{command}' has no description: {line}");
        }

        Assert.Contains("130 interrupted", result.Stdout, StringComparison.Ordinal);
        Assert.False(CliTestContext.HasControlCharacters(result.Stdout));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Each_command_has_help_with_usage(string command)
    {
        var result = await _context.RunAsync(command, "--help");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Usage:", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"depot {command}", result.Stdout, StringComparison.Ordinal);
        Assert.Empty(result.Stderr);
    }

    [Fact]
    public async Task No_arguments_prints_help_and_exits_2_and_version_prints_one()
    {
        var bare = await _context.RunAsync();
        var version = await _context.RunAsync("--version");

        Assert.Equal(2, bare.ExitCode);
        Assert.Contains("Commands:", bare.Stdout, StringComparison.Ordinal);
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Stdout.Trim());
    }
}
