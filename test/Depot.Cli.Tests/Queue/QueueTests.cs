using System.Diagnostics;
using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;
using Depot.Client;

namespace Depot.Cli.Tests.Queue;

public sealed class QueueTests : IAsyncLifetime
{
    private CliTestContext _c = null!;

    public async ValueTask InitializeAsync() => _c = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _c.DisposeAsync();

    /// <summary>No server at all: add, list, rm and clear must not need one.</summary>
    private static readonly Dictionary<string, string?> Offline = new() { ["DEPOT_URL"] = "http://127.0.0.1:1", ["DEPOT_KEY"] = null };

    private static string[] Lines(CliResult result) => result.Stdout.TrimEnd('\n').Split('\n');

    private async Task<JsonElement[]> ListJsonAsync()
    {
        var result = await _c.RunAsync(["queue", "list", "--json"], Offline);
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        return [.. json.RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    [Fact]
    public async Task Add_list_run_list_clear_across_invocations()
    {
        var a = _c.WriteText("a.txt", "first file");
        var b = _c.WriteFile("data/b.bin", 200_000, seed: 3);

        var add = await _c.RunAsync(["queue", "add", "a.txt", "data/b.bin", "--to", "/in/", "--meta", "site=7"], Offline);

        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.Equal($"queued #1 {a} -> default/in/a.txt (10 B)", Lines(add)[0]);
        Assert.Equal($"queued #2 {b} -> default/in/b.bin (195 KiB)", Lines(add)[1]);

        var pending = await _c.RunAsync(["queue", "list"], Offline);

        Assert.True(pending.ExitCode == 0, pending.ToString());
        var rows = Lines(pending);
        Assert.Equal(3, rows.Length);
        Assert.StartsWith("ID  STATE  ", rows[0], StringComparison.Ordinal);
        Assert.Matches(@"^1 +pending +10 B +0% +0 +/.*/a\.txt +default/in/a\.txt +-$", rows[1]);
        Assert.Matches(@"^2 +pending +195 KiB +0% +0 +/.*/b\.bin +default/in/b\.bin +-$", rows[2]);

        var run = await _c.RunAsync("queue", "run");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith("uploaded 2 files (195 KiB) in ", Lines(run)[^1], StringComparison.Ordinal);
        Assert.EndsWith(", 0 failed", Lines(run)[^1], StringComparison.Ordinal);
        Assert.Equal(CliTestContext.Sha256Of(a), (await _c.Client.StatAsync("/in/a.txt", CliTestContext.Ct)).Sha256);
        var stored = await _c.Client.StatAsync("/in/b.bin", CliTestContext.Ct);
        Assert.Equal(CliTestContext.Sha256Of(b), stored.Sha256);
        Assert.Equal("7", stored.Metadata!["site"]);

        var done = await _c.RunAsync(["queue", "list"], Offline);

        Assert.Matches(@"^1 +done +10 B +100% +1 +/", Lines(done)[1]);
        Assert.Matches(@"^2 +done +195 KiB +100% +1 +/", Lines(done)[2]);

        var clear = await _c.RunAsync(["queue", "clear"], Offline);

        Assert.True(clear.ExitCode == 0, clear.ToString());
        Assert.Equal("removed 2 done items", clear.Stdout.TrimEnd('\n'));
        Assert.Empty(await ListJsonAsync());
    }

    [Fact]
    public async Task A_single_file_goes_to_the_exact_path_and_the_default_queue_is_in_the_state_directory()
    {
        _c.WriteText("report.csv", "x,y\n1,2\n");

        var add = await _c.RunAsync(["queue", "add", "report.csv", "--to", "reports/2026.csv"], Offline);

        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.True(File.Exists(Path.Combine(_c.StateDirectory, "queue.db")));
        var item = Assert.Single(await ListJsonAsync());
        Assert.Equal("reports/2026.csv", item.GetProperty("destination").GetString());
    }

    [Fact]
    public async Task Failing_items_exit_9_and_list_shows_their_errors()
    {
        _c.WriteText("ok.txt", "fine");
        _c.WriteText("gone.txt", "deleted before the run");
        _c.WriteText("taken.txt", "create only");
        await _c.Client.UploadAsync("already here"u8.ToArray(), "/q/taken.txt", cancellationToken: CliTestContext.Ct);
        Assert.Equal(0, (await _c.RunAsync(["queue", "add", "ok.txt", "gone.txt", "--to", "/q/"], Offline)).ExitCode);
        Assert.Equal(0, (await _c.RunAsync(["queue", "add", "-n", "taken.txt", "--to", "/q/taken.txt"], Offline)).ExitCode);
        File.Delete(Path.Combine(_c.Scratch, "gone.txt"));

        var run = await _c.RunAsync("queue", "run");

        Assert.True(run.ExitCode == 9, run.ToString());
        Assert.StartsWith("uploaded 1 file", Lines(run)[^1], StringComparison.Ordinal);
        Assert.EndsWith(", 2 failed", Lines(run)[^1], StringComparison.Ordinal);
        Assert.Contains("depot queue run: " + Path.Combine(_c.Scratch, "gone.txt") + " (#2): source_missing: ", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("(#3): already_exists: ", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("fine", System.Text.Encoding.UTF8.GetString(await _c.Client.DownloadBytesAsync("/q/ok.txt", cancellationToken: CliTestContext.Ct)));

        var list = await _c.RunAsync(["queue", "list"], Offline);

        Assert.Matches(@"^2 +failed .* source_missing: .+$", Lines(list)[2]);
        Assert.Matches(@"^3 +failed .* already_exists: .+$", Lines(list)[3]);
        Assert.Contains("run 'depot queue retry ID'", Lines(list)[2], StringComparison.Ordinal); // the SDK's advice in CLI terms
        var items = await ListJsonAsync();
        Assert.Equal("failed", items[1].GetProperty("state").GetString());
        Assert.Equal("source_missing", items[1].GetProperty("lastError").GetProperty("code").GetString());
        Assert.False(items[1].GetProperty("lastError").GetProperty("transient").GetBoolean());

        var clear = await _c.RunAsync(["queue", "clear", "--failed"], Offline);

        Assert.Equal("removed 2 failed items", clear.Stdout.TrimEnd('\n'));
        Assert.Equal(["done"], (await ListJsonAsync()).Select(i => i.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task A_snapshot_uploads_the_bytes_as_they_were_when_added()
    {
        var path = _c.WriteText("note.txt", "as added");
        Assert.Equal(0, (await _c.RunAsync(["queue", "add", "--snapshot", "note.txt", "--to", "/s/"], Offline)).ExitCode);
        File.WriteAllText(path, "changed afterwards");

        var run = await _c.RunAsync("queue", "run");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("as added", System.Text.Encoding.UTF8.GetString(await _c.Client.DownloadBytesAsync("/s/note.txt", cancellationToken: CliTestContext.Ct)));
    }

    [Fact]
    public async Task Rm_removes_items_and_a_missing_id_exits_3()
    {
        _c.WriteText("a.txt", "a");
        _c.WriteText("b.txt", "b");
        Assert.Equal(0, (await _c.RunAsync(["queue", "add", "a.txt", "b.txt", "--to", "/r/"], Offline)).ExitCode);

        var rm = await _c.RunAsync(["queue", "rm", "1"], Offline);

        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.Equal("removed #1\n", rm.Stdout);
        Assert.Equal([2L], (await ListJsonAsync()).Select(i => i.GetProperty("id").GetInt64()));

        var missing = await _c.RunAsync(["queue", "rm", "1"], Offline);

        Assert.True(missing.ExitCode == 3, missing.ToString());
        Assert.Contains("#1 is not in the queue", missing.Stderr, StringComparison.Ordinal);

        var partial = await _c.RunAsync(["queue", "rm", "7", "2"], Offline);

        Assert.True(partial.ExitCode == 9, partial.ToString());
        Assert.Equal("removed #2\n", partial.Stdout);
        Assert.Empty(await ListJsonAsync());
    }

    [Fact]
    public async Task Add_of_a_missing_file_exits_3_and_of_some_missing_files_exits_9()
    {
        _c.WriteText("here.txt", "here");

        var missing = await _c.RunAsync(["queue", "add", "nope.txt", "--to", "/x/"], Offline);

        Assert.True(missing.ExitCode == 3, missing.ToString());
        Assert.StartsWith("depot queue add: ", missing.Stderr, StringComparison.Ordinal);
        Assert.Contains("nope.txt", missing.Stderr, StringComparison.Ordinal);
        Assert.Empty(await ListJsonAsync());

        var some = await _c.RunAsync(["queue", "add", "nope.txt", "here.txt", "--to", "/x/"], Offline);

        Assert.True(some.ExitCode == 9, some.ToString());
        Assert.Contains("nope.txt", some.Stderr, StringComparison.Ordinal);
        Assert.Equal("default/x/here.txt", Assert.Single(await ListJsonAsync()).GetProperty("destination").GetString());
    }

    [Fact]
    public async Task Add_refuses_a_directory_and_a_missing_to()
    {
        Directory.CreateDirectory(Path.Combine(_c.Scratch, "dir"));

        var directory = await _c.RunAsync(["queue", "add", "dir", "--to", "/x/"], Offline);
        var noDestination = await _c.RunAsync(["queue", "add", "dir"], Offline);

        Assert.True(directory.ExitCode == 2, directory.ToString());
        Assert.Contains("is a directory", directory.Stderr, StringComparison.Ordinal);
        Assert.True(noDestination.ExitCode == 2, noDestination.ToString());
    }

    [Fact]
    public async Task List_json_has_the_item_fields_and_the_queue_option_picks_the_file()
    {
        var path = _c.WriteText("a.txt", "hello");
        var queue = Path.Combine(_c.Scratch, "my", "uploads.db");

        var add = await _c.RunAsync(["queue", "add", "a.txt", "--to", "/j/a.txt", "--queue", queue, "--content-type", "text/plain", "--json"], Offline);

        Assert.True(add.ExitCode == 0, add.ToString());
        using (var added = JsonDocument.Parse(add.Stdout))
        {
            Assert.Equal(1, Assert.Single(added.RootElement.EnumerateArray()).GetProperty("id").GetInt64());
        }

        Assert.Empty(await ListJsonAsync()); // the default queue is another file

        var list = await _c.RunAsync(["queue", "list", "--json", "--queue", queue], Offline);

        Assert.True(list.ExitCode == 0, list.ToString());
        using var json = JsonDocument.Parse(list.Stdout);
        var item = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal(1, item.GetProperty("id").GetInt64());
        Assert.Equal("pending", item.GetProperty("state").GetString());
        Assert.Equal(path, item.GetProperty("localPath").GetString());
        Assert.Equal("default/j/a.txt", item.GetProperty("destination").GetString());
        Assert.Equal(5, item.GetProperty("size").GetInt64());
        Assert.Equal(0, item.GetProperty("bytesUploaded").GetInt64());
        Assert.Equal(0, item.GetProperty("progress").GetDouble());
        Assert.Equal(0, item.GetProperty("attempts").GetInt32());
        Assert.False(item.GetProperty("snapshot").GetBoolean());
        Assert.Equal("text/plain", item.GetProperty("contentType").GetString());
        Assert.False(item.TryGetProperty("lastError", out _));
        Assert.True(item.TryGetProperty("enqueued", out _));

        var run = await _c.RunAsync("queue", "run", "--json", "--queue", queue);

        Assert.True(run.ExitCode == 0, run.ToString());
        using var result = JsonDocument.Parse(run.Stdout);
        Assert.Equal(1, result.RootElement.GetProperty("succeeded").GetInt32());
        Assert.Equal(0, result.RootElement.GetProperty("failed").GetInt32());
        var done = Assert.Single(result.RootElement.GetProperty("items").EnumerateArray());
        Assert.Equal("done", done.GetProperty("state").GetString());
        Assert.Equal(CliTestContext.Sha256Of(path), done.GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task Watch_uploads_items_added_later_and_exits_0_on_sigterm()
    {
        using var process = _c.Start(["queue", "run", "--watch", "--poll", "200ms"]);
        var stdout = process.StandardOutput.ReadToEndAsync(CliTestContext.Ct);
        var stderr = process.StandardError.ReadToEndAsync(CliTestContext.Ct);
        _c.WriteText("late.txt", "added while watching");
        Assert.Equal(0, (await _c.RunAsync(["queue", "add", "late.txt", "--to", "/w/"], Offline)).ExitCode);

        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60) && !(await ListJsonAsync()).All(i => i.GetProperty("state").GetString() == "done"))
        {
            await Task.Delay(100, CliTestContext.Ct);
        }

        Assert.False(process.HasExited, "the watching run ended by itself");
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(CliTestContext.Ct);
        }

        await process.WaitForExitAsync(CliTestContext.Ct);
        var result = new CliResult(process.ExitCode, await stdout, await stderr);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("uploaded 1 file", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("added while watching", System.Text.Encoding.UTF8.GetString(await _c.Client.DownloadBytesAsync("/w/late.txt", cancellationToken: CliTestContext.Ct)));
    }

    [Fact]
    public async Task Two_concurrent_runs_split_the_queue_and_upload_each_item_once()
    {
        var files = Enumerable.Range(0, 8).Select(i => _c.WriteFile($"c/{i}.bin", 300_000, seed: i)).ToArray();
        Assert.Equal(0, (await _c.RunAsync(["queue", "add", .. files, "--to", "/c/", "-n"], Offline)).ExitCode);

        var runs = await Task.WhenAll(_c.RunAsync("queue", "run", "--json"), _c.RunAsync("queue", "run", "--json"));

        var uploaded = new List<long>();
        foreach (var run in runs)
        {
            Assert.True(run.ExitCode == 0, run.ToString());
            using var json = JsonDocument.Parse(run.Stdout);
            uploaded.AddRange(json.RootElement.GetProperty("items").EnumerateArray()
                .Where(i => i.GetProperty("state").GetString() == "done").Select(i => i.GetProperty("id").GetInt64()));
        }

        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), uploaded.Order());
        var items = await ListJsonAsync();
        Assert.All(items, i => Assert.Equal(1, i.GetProperty("attempts").GetInt32()));
        foreach (var file in files)
        {
            Assert.Equal(CliTestContext.Sha256Of(file), (await _c.Client.StatAsync(new DepotPath("default", "c/" + Path.GetFileName(file)), CliTestContext.Ct)).Sha256);
        }
    }

    [Fact]
    public async Task Retry_makes_a_failed_item_pending_again_after_the_cause_is_fixed()
    {
        var path = _c.WriteText("later.txt", "put back");
        Assert.Equal(0, (await _c.RunAsync(["queue", "add", "later.txt", "--to", "/t/"], Offline)).ExitCode);
        File.Move(path, path + ".away");
        Assert.Equal(9, (await _c.RunAsync("queue", "run")).ExitCode);
        File.Move(path + ".away", path);

        var unknown = await _c.RunAsync(["queue", "retry", "42"], Offline);
        var retry = await _c.RunAsync(["queue", "retry"], Offline);

        Assert.True(unknown.ExitCode == 3, unknown.ToString());
        Assert.True(retry.ExitCode == 0, retry.ToString());
        Assert.Equal("1 item pending again\n", retry.Stdout);
        var item = Assert.Single(await ListJsonAsync());
        Assert.Equal("pending", item.GetProperty("state").GetString());
        Assert.Equal(0, item.GetProperty("attempts").GetInt32());

        var run = await _c.RunAsync("queue", "run");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("put back", System.Text.Encoding.UTF8.GetString(await _c.Client.DownloadBytesAsync("/t/later.txt", cancellationToken: CliTestContext.Ct)));
    }

    [Fact]
    public async Task Run_of_an_empty_queue_succeeds_and_clear_refuses_two_modes()
    {
        var run = await _c.RunAsync("queue", "run");
        var clear = await _c.RunAsync(["queue", "clear", "--failed", "--all"], Offline);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith("uploaded 0 files (0 B) in ", run.Stdout, StringComparison.Ordinal);
        Assert.True(clear.ExitCode == 2, clear.ToString());
    }
}
