using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Sync;

public sealed class SyncUploadTests : IAsyncLifetime
{
    private CliTestContext _c = null!;

    public async ValueTask InitializeAsync() => _c = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _c.DisposeAsync();

    [Fact]
    public async Task First_sync_uploads_the_tree_and_a_second_sends_nothing()
    {
        var local = SyncTrees.Write(_c, "tree");

        var first = await _c.RunAsync("sync", "./tree", "/t");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(SyncTrees.Local(local), await SyncTrees.RemoteAsync(_c.Client, "/t"));
        Assert.StartsWith("sent 3 files, skipped 0, deleted 0, dirs created 4, ", SyncTrees.Summary(first), StringComparison.Ordinal);
        Assert.Contains("sent a.txt (", first.Stdout, StringComparison.Ordinal); // a progress line per file in a pipe
        Assert.False(CliTestContext.HasControlCharacters(first.Stdout + first.Stderr));

        var second = await _c.RunAsync("sync", "tree", "/t");

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.StartsWith("sent 0 files, skipped 3, deleted 0, dirs created 0, 0 B in ", second.Stdout, StringComparison.Ordinal);
        Assert.Single(second.Stdout.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task A_changed_file_is_sent_again()
    {
        var local = SyncTrees.Write(_c, "tree");
        Assert.Equal(0, (await _c.RunAsync("sync", "./tree", "/t")).ExitCode);
        _c.WriteText("tree/sub/deep/c.txt", "gamma, longer now");

        var result = await _c.RunAsync("sync", "./tree", "/t");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("sent 1 file, skipped 2,", SyncTrees.Summary(result), StringComparison.Ordinal);
        Assert.Equal(SyncTrees.Local(local), await SyncTrees.RemoteAsync(_c.Client, "/t"));
    }

    [Fact]
    public async Task Same_size_and_restored_time_is_missed_by_default_but_caught_by_checksum()
    {
        var local = SyncTrees.Write(_c, "tree");
        Assert.Equal(0, (await _c.RunAsync("sync", "./tree", "/t")).ExitCode);
        var path = Path.Combine(local, "a.txt");
        var time = File.GetLastWriteTimeUtc(path);
        File.WriteAllText(path, "ALPHA");
        File.SetLastWriteTimeUtc(path, time);
        var before = await SyncTrees.RemoteAsync(_c.Client, "/t");

        var plain = await _c.RunAsync("sync", "./tree", "/t");

        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.StartsWith("sent 0 files, skipped 3,", SyncTrees.Summary(plain), StringComparison.Ordinal);
        Assert.Equal(before, await SyncTrees.RemoteAsync(_c.Client, "/t"));

        var checksum = await _c.RunAsync("sync", "--checksum", "./tree", "/t");

        Assert.True(checksum.ExitCode == 0, checksum.ToString());
        Assert.StartsWith("sent 1 file, skipped 2,", SyncTrees.Summary(checksum), StringComparison.Ordinal);
        Assert.Equal(SyncTrees.Local(local), await SyncTrees.RemoteAsync(_c.Client, "/t"));
    }

    [Fact]
    public async Task A_deleted_file_is_deleted_remotely_only_with_delete()
    {
        var local = SyncTrees.Write(_c, "tree");
        Assert.Equal(0, (await _c.RunAsync("sync", "./tree", "/t")).ExitCode);
        File.Delete(Path.Combine(local, "a.txt"));

        var kept = await _c.RunAsync("sync", "./tree", "/t");

        Assert.True(kept.ExitCode == 0, kept.ToString());
        Assert.Contains("a.txt", (await SyncTrees.RemoteAsync(_c.Client, "/t")).Keys);

        var deleted = await _c.RunAsync("sync", "--delete", "./tree", "/t");

        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Contains("deleted a.txt\n", deleted.Stdout, StringComparison.Ordinal);
        Assert.StartsWith("sent 0 files, skipped 2, deleted 1,", SyncTrees.Summary(deleted), StringComparison.Ordinal);
        Assert.Equal(SyncTrees.Local(local), await SyncTrees.RemoteAsync(_c.Client, "/t"));
    }

    [Fact]
    public async Task A_renamed_file_is_sent_under_its_new_name_and_the_old_one_deleted()
    {
        var local = SyncTrees.Write(_c, "tree");
        Assert.Equal(0, (await _c.RunAsync("sync", "./tree", "/t")).ExitCode);
        File.Move(Path.Combine(local, "sub", "b.bin"), Path.Combine(local, "sub", "renamed.bin"));

        var result = await _c.RunAsync("sync", "./tree", "/t", "--delete");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("sent 1 file, skipped 2, deleted 1,", SyncTrees.Summary(result), StringComparison.Ordinal);
        var remote = await SyncTrees.RemoteAsync(_c.Client, "/t");
        Assert.DoesNotContain("sub/b.bin", remote.Keys);
        Assert.Equal(SyncTrees.Local(local), remote);
    }

    [Fact]
    public async Task Dry_run_prints_the_plan_and_changes_nothing()
    {
        var local = SyncTrees.Write(_c, "tree");
        Assert.Equal(0, (await _c.RunAsync("sync", "./tree", "/t")).ExitCode);
        _c.WriteText("tree/a.txt", "alpha, changed");
        _c.WriteText("tree/new/n.txt", "new");
        File.Delete(Path.Combine(local, "sub", "deep", "c.txt"));
        var before = await SyncTrees.RemoteAsync(_c.Client, "/t");

        var result = await _c.RunAsync("sync", "--dry-run", "--delete", "./tree", "/t");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(before, await SyncTrees.RemoteAsync(_c.Client, "/t"));
        var lines = result.Stdout.TrimEnd('\n').Split('\n');
        Assert.Contains("send a.txt (size differs)", lines);
        Assert.Contains("send new/n.txt (new)", lines);
        Assert.Contains("delete sub/deep/c.txt (not in source)", lines);
        Assert.Contains(lines, l => l.StartsWith("mkdir new/ (", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("b.bin", StringComparison.Ordinal)); // unchanged: counted, not listed
        Assert.Equal("dry run, nothing changed: would send 2 files (17 B), skip 1, delete 1, create 1 dirs", lines[^1]);
    }

    [Fact]
    public async Task Exclude_leaves_matching_files_and_directories_out_and_never_deletes_them()
    {
        var local = SyncTrees.Write(_c, "tree");
        _c.WriteText("tree/x.tmp", "scratch");
        _c.WriteText("tree/sub/y.tmp", "scratch");
        _c.WriteText("tree/cache/z.txt", "cached");
        await _c.Client.UploadAsync("remote only"u8.ToArray(), "/t/keep.tmp", cancellationToken: CliTestContext.Ct);

        var result = await _c.RunAsync("sync", "./tree", "/t", "--delete", "--exclude", "*.tmp", "--exclude", "cache/");

        Assert.True(result.ExitCode == 0, result.ToString());
        var remote = await SyncTrees.RemoteAsync(_c.Client, "/t");
        Assert.Equal(["a.txt", "empty", "keep.tmp", "sub", "sub/b.bin", "sub/deep", "sub/deep/c.txt"], remote.Keys);
    }

    [Fact]
    public async Task Include_syncs_only_matching_files()
    {
        SyncTrees.Write(_c, "tree");

        var result = await _c.RunAsync("sync", "./tree", "/t", "--include", "*.txt");

        Assert.True(result.ExitCode == 0, result.ToString());
        var files = (await SyncTrees.RemoteAsync(_c.Client, "/t")).Where(e => e.Value != SyncTrees.Directory).Select(e => e.Key);
        Assert.Equal(["a.txt", "sub/deep/c.txt"], files);
    }

    [Fact]
    public async Task Json_prints_one_summary_object()
    {
        SyncTrees.Write(_c, "tree");

        var result = await _c.RunAsync("sync", "--json", "./tree", "/t");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        var root = json.RootElement;
        Assert.Equal("upload", root.GetProperty("direction").GetString());
        Assert.False(root.GetProperty("dryRun").GetBoolean());
        Assert.Equal(3, root.GetProperty("sent").GetInt32());
        Assert.Equal(0, root.GetProperty("skipped").GetInt32());
        Assert.Equal(0, root.GetProperty("deleted").GetInt32());
        Assert.Equal(4, root.GetProperty("directoriesCreated").GetInt32()); // the target, sub, sub/deep, empty
        Assert.Equal(5 + 10_000 + 11, root.GetProperty("bytes").GetInt64());
        Assert.True(root.GetProperty("elapsedMs").GetInt64() >= 0);
        Assert.Empty(root.GetProperty("failures").EnumerateArray());
        var actions = root.GetProperty("actions").EnumerateArray().ToList();
        Assert.Contains(actions, a => a.GetProperty("kind").GetString() == "mkdir" && a.GetProperty("path").GetString() == "empty" && a.GetProperty("directory").GetBoolean());
        var send = Assert.Single(actions, a => a.GetProperty("path").GetString() == "sub/b.bin");
        Assert.Equal("send", send.GetProperty("kind").GetString());
        Assert.Equal(10_000, send.GetProperty("size").GetInt64());
        Assert.Equal("new", send.GetProperty("reason").GetString());
        Assert.Equal("", result.Stderr);
    }

    [Fact]
    public async Task A_file_in_the_way_of_a_directory_fails_that_path_exit_9_and_the_rest_is_sent()
    {
        SyncTrees.Write(_c, "tree");
        await _c.Client.UploadAsync("a file where a directory goes"u8.ToArray(), "/t/sub", cancellationToken: CliTestContext.Ct);

        var result = await _c.RunAsync("sync", "./tree", "/t");

        Assert.True(result.ExitCode == 9, result.ToString());
        Assert.Contains("depot sync: sub", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("failed", SyncTrees.Summary(result), StringComparison.Ordinal);
        var remote = await SyncTrees.RemoteAsync(_c.Client, "/t");
        Assert.Contains("a.txt", remote.Keys);

        var json = await _c.RunAsync("sync", "--json", "./tree", "/t");

        Assert.True(json.ExitCode == 9, json.ToString());
        using var document = JsonDocument.Parse(json.Stdout);
        var failure = document.RootElement.GetProperty("failures").EnumerateArray().First();
        Assert.StartsWith("sub", failure.GetProperty("path").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(failure.GetProperty("code").GetString()));
    }

    [Fact]
    public async Task A_missing_local_directory_written_as_local_exits_3()
    {
        var result = await _c.RunAsync("sync", "./nope", "/t");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.StartsWith("depot sync: ", result.Stderr, StringComparison.Ordinal);
    }
}
