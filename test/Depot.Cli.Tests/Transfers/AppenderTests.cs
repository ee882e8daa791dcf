using System.Text;
using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Transfers;

public sealed class AppenderTests : IAsyncLifetime
{
    private CliTestContext _c = null!;

    public async ValueTask InitializeAsync() => _c = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _c.DisposeAsync();

    private async Task<string> RemoteTextAsync(string path) =>
        Encoding.UTF8.GetString(await _c.Client.DownloadBytesAsync(path, cancellationToken: CliTestContext.Ct));

    [Fact]
    public async Task Append_create_makes_an_appender_file_then_appends_stdin_and_files()
    {
        _c.WriteText("more.txt", "world\n");

        var first = await _c.RunAsync(["append", "--create", "/log.txt"], stdin: "hello\n"u8.ToArray());
        var second = await _c.RunAsync("append", "/log.txt", "more.txt");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal("- -> default/log.txt (appended 6 B, now 6 B)\n", first.Stdout);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal("more.txt -> default/log.txt (appended 6 B, now 12 B)\n", second.Stdout);
        Assert.Equal("hello\nworld\n", await RemoteTextAsync("/log.txt"));
        Assert.True((await _c.Client.StatAsync("/log.txt", CliTestContext.Ct)).Appendable);
    }

    [Fact]
    public async Task Append_without_create_to_a_missing_file_exits_3_and_to_a_plain_file_exits_6()
    {
        await _c.Client.UploadAsync("plain"u8.ToArray(), "/plain.txt", cancellationToken: CliTestContext.Ct);

        var missing = await _c.RunAsync(["append", "/none.txt", "-"], stdin: "x"u8.ToArray());
        var plain = await _c.RunAsync(["append", "/plain.txt"], stdin: "x"u8.ToArray());
        var noLocal = await _c.RunAsync("append", "/plain.txt", "absent.txt");

        Assert.Equal(3, missing.ExitCode);
        Assert.Null(await _c.Client.TryStatAsync("/none.txt", CliTestContext.Ct));
        Assert.Equal(6, plain.ExitCode);
        Assert.StartsWith("depot append: ", plain.Stderr, StringComparison.Ordinal);
        Assert.Equal("plain", await RemoteTextAsync("/plain.txt"));
        Assert.Equal(3, noLocal.ExitCode);
        Assert.Contains("absent.txt", noLocal.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Append_json_is_the_object_after_the_append()
    {
        var result = await _c.RunAsync(["append", "--create", "--json", "/j.log"], stdin: "abc"u8.ToArray());

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("default/j.log", json.RootElement.GetProperty("path").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("size").GetInt64());
        Assert.True(json.RootElement.GetProperty("appendable").GetBoolean());
    }

    [Fact]
    public async Task Truncate_cuts_an_appender_file_down_to_zero()
    {
        await _c.Client.CreateAppenderAsync("/t.log", cancellationToken: CliTestContext.Ct);
        await _c.Client.AppendAsync("/t.log", "0123456789"u8.ToArray(), CliTestContext.Ct);

        var cut = await _c.RunAsync("truncate", "/t.log", "4");
        var json = await _c.RunAsync("truncate", "--json", "/t.log", "0");

        Assert.True(cut.ExitCode == 0, cut.ToString());
        Assert.Equal("default/t.log truncated to 4 bytes\n", cut.Stdout);
        Assert.True(json.ExitCode == 0, json.ToString());
        using var document = JsonDocument.Parse(json.Stdout);
        Assert.Equal(0, document.RootElement.GetProperty("size").GetInt64());
        Assert.Equal(0, (await _c.Client.StatAsync("/t.log", CliTestContext.Ct)).Size);
    }

    [Fact]
    public async Task Truncate_refuses_a_bad_size_and_a_missing_file()
    {
        var bad = await _c.RunAsync("truncate", "/t.log", "lots");
        var missing = await _c.RunAsync("truncate", "/none.log", "0");

        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("SIZE", bad.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, missing.ExitCode);
    }

    [Fact]
    public async Task Slave_uploads_next_to_the_master_and_prints_its_path()
    {
        var master = await _c.Client.UploadWithIdAsync("big picture"u8.ToArray(), "default", "jpg", cancellationToken: CliTestContext.Ct);
        _c.WriteText("thumb.jpg", "small");

        var result = await _c.RunAsync("slave", master.Path.ToString(), "thumb.jpg", "--prefix", "_150x150");
        var again = await _c.RunAsync("slave", "-n", master.Path.ToString(), "thumb.jpg", "--prefix", "_150x150");
        var json = await _c.RunAsync(["slave", "--json", master.Path.ToString(), "-", "--prefix", "_s", "--ext", "png"], stdin: "png!"u8.ToArray());

        Assert.True(result.ExitCode == 0, result.ToString());
        var slave = result.Stdout.TrimEnd('\n');
        Assert.Equal(master.Path.ToString()[..^4] + "_150x150.jpg", slave);
        Assert.Equal("small", await RemoteTextAsync(slave));
        Assert.Equal(4, again.ExitCode);
        Assert.True(json.ExitCode == 0, json.ToString());
        using var document = JsonDocument.Parse(json.Stdout);
        var pngPath = document.RootElement.GetProperty("path").GetString()!;
        Assert.EndsWith("_s.png", pngPath, StringComparison.Ordinal);
        Assert.Equal("png!", await RemoteTextAsync(pngPath));
    }

    [Fact]
    public async Task Slave_of_a_missing_master_exits_3()
    {
        _c.WriteText("thumb.jpg", "small");

        var result = await _c.RunAsync("slave", "default/M00/00/00/nothing.jpg", "thumb.jpg", "--prefix", "_t");

        Assert.Equal(3, result.ExitCode);
        Assert.StartsWith("depot slave: ", result.Stderr, StringComparison.Ordinal);
    }
}
