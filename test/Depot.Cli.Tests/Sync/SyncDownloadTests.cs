using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Sync;

public sealed class SyncDownloadTests : IAsyncLifetime
{
    private CliTestContext _c = null!;

    public async ValueTask InitializeAsync() => _c = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _c.DisposeAsync();

    private async Task SeedAsync()
    {
        await _c.Client.UploadAsync("alpha"u8.ToArray(), "/r/a.txt", cancellationToken: CliTestContext.Ct);
        await _c.Client.UploadAsync(new byte[10_000], "/r/sub/b.bin", cancellationToken: CliTestContext.Ct);
        await _c.Client.UploadAsync("gamma"u8.ToArray(), "/r/sub/deep/c.txt", cancellationToken: CliTestContext.Ct);
        await _c.Client.CreateDirectoryAsync("/r/empty", CliTestContext.Ct);
    }

    private string Out => Path.Combine(_c.Scratch, "out");

    [Fact]
    public async Task First_sync_downloads_the_tree_and_a_second_receives_nothing()
    {
        await SeedAsync();

        var first = await _c.RunAsync("sync", "/r", "./out");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(await SyncTrees.RemoteAsync(_c.Client, "/r"), SyncTrees.Local(Out));
        Assert.StartsWith("received 3 files, skipped 0, deleted 0,", SyncTrees.Summary(first), StringComparison.Ordinal);

        var second = await _c.RunAsync("sync", "default/r", "out");

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.StartsWith("received 0 files, skipped 3, deleted 0, dirs created 0, 0 B", SyncTrees.Summary(second), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_remote_change_is_received_and_a_remote_deletion_applied_only_with_delete()
    {
        await SeedAsync();
        Assert.Equal(0, (await _c.RunAsync("sync", "/r", "./out")).ExitCode);
        await _c.Client.UploadAsync("alpha, changed"u8.ToArray(), "/r/a.txt", cancellationToken: CliTestContext.Ct);
        await _c.Client.DeleteAsync("/r/sub/deep/c.txt", cancellationToken: CliTestContext.Ct);

        var changed = await _c.RunAsync("sync", "/r", "./out");

        Assert.True(changed.ExitCode == 0, changed.ToString());
        Assert.StartsWith("received 1 file, skipped 1, deleted 0,", SyncTrees.Summary(changed), StringComparison.Ordinal);
        Assert.Equal("alpha, changed", File.ReadAllText(Path.Combine(Out, "a.txt")));
        Assert.True(File.Exists(Path.Combine(Out, "sub", "deep", "c.txt")));

        var deleted = await _c.RunAsync("sync", "--delete", "/r", "./out");

        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Contains("deleted sub/deep/c.txt\n", deleted.Stdout, StringComparison.Ordinal);
        Assert.Equal(await SyncTrees.RemoteAsync(_c.Client, "/r"), SyncTrees.Local(Out));
    }

    [Fact]
    public async Task A_local_change_with_the_same_size_and_time_is_restored_only_with_checksum()
    {
        await SeedAsync();
        Assert.Equal(0, (await _c.RunAsync("sync", "/r", "./out")).ExitCode);
        var path = Path.Combine(Out, "a.txt");
        var time = File.GetLastWriteTimeUtc(path);
        File.WriteAllText(path, "ALPHA");
        File.SetLastWriteTimeUtc(path, time);

        var plain = await _c.RunAsync("sync", "/r", "./out");

        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Equal("ALPHA", File.ReadAllText(path));

        var checksum = await _c.RunAsync("sync", "/r", "./out", "--checksum");

        Assert.True(checksum.ExitCode == 0, checksum.ToString());
        Assert.StartsWith("received 1 file,", SyncTrees.Summary(checksum), StringComparison.Ordinal);
        Assert.Equal("alpha", File.ReadAllText(path));
    }

    [Fact]
    public async Task Dry_run_changes_nothing_locally_and_prints_the_plan()
    {
        await SeedAsync();
        Directory.CreateDirectory(Out);
        _c.WriteText("out/extra.txt", "local only");
        var before = SyncTrees.Local(Out);

        var result = await _c.RunAsync("sync", "--dry-run", "--delete", "--json", "/r", "./out");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(before, SyncTrees.Local(Out));
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("download", json.RootElement.GetProperty("direction").GetString());
        Assert.True(json.RootElement.GetProperty("dryRun").GetBoolean());
        var actions = json.RootElement.GetProperty("actions").EnumerateArray()
            .Select(a => $"{a.GetProperty("kind").GetString()} {a.GetProperty("path").GetString()} ({a.GetProperty("reason").GetString()})").ToList();
        Assert.Contains("send a.txt (new)", actions);
        Assert.Contains(actions, a => a.StartsWith("mkdir empty (", StringComparison.Ordinal));
        Assert.Contains("delete extra.txt (not in source)", actions);

        var text = await _c.RunAsync("sync", "--dry-run", "/r", "./out");

        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("send sub/deep/c.txt (new)\n", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("mkdir empty/ (", text.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("would receive 3 files (9.8 KiB), skip 0, delete 0, create 3 dirs\n", text.Stdout, StringComparison.Ordinal);
        Assert.Equal(before, SyncTrees.Local(Out));
    }

    [Fact]
    public async Task Exclude_applies_to_downloads()
    {
        await SeedAsync();

        var result = await _c.RunAsync("sync", "/r", "./out", "--exclude", "sub/");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["a.txt", "empty"], SyncTrees.Local(Out).Keys);
    }
}
