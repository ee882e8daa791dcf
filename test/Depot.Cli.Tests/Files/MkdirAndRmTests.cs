using Depot.Cli.Tests.Infrastructure;
using Depot.Protocol;

namespace Depot.Cli.Tests.Files;

public sealed class MkdirAndRmTests : FilesTestBase
{
    [Fact]
    public async Task Mkdir_creates_a_directory_silently_and_json_describes_it()
    {
        var plain = await C.RunAsync("mkdir", "/photos");
        var json = await C.RunAsync("mkdir", "--json", "backup/archive");

        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Empty(plain.Stdout);
        Assert.False((await C.Client.StatAsync("/photos", CliTestContext.Ct)).IsFile);
        Assert.True(json.ExitCode == 0, json.ToString());
        var created = Json(json.Stdout);
        Assert.Equal("backup/archive", created.GetProperty("path").GetString());
        Assert.Equal("directory", created.GetProperty("type").GetString());
        Assert.False((await C.Client.StatAsync("backup/archive", CliTestContext.Ct)).IsFile);
    }

    [Fact]
    public async Task Mkdir_without_p_needs_the_parent_and_refuses_an_existing_directory()
    {
        var missingParent = await C.RunAsync("mkdir", "/a/b/c");
        await C.Client.CreateDirectoryAsync("/here", CliTestContext.Ct);
        var existing = await C.RunAsync("mkdir", "/here");

        Assert.True(missingParent.ExitCode == 3, missingParent.ToString());
        Assert.Contains("default/a/b", missingParent.Stderr, StringComparison.Ordinal);
        Assert.Contains("-p", missingParent.Stderr, StringComparison.Ordinal);
        Assert.False(await ExistsAsync("/a"));
        Assert.True(existing.ExitCode == 4, existing.ToString());
        Assert.StartsWith("depot mkdir: default/here", existing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mkdir_p_creates_parents_and_accepts_an_existing_directory()
    {
        var first = await C.RunAsync("mkdir", "-p", "/a/b/c");
        var again = await C.RunAsync("mkdir", "-p", "/a/b/c", "/a/b");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.False((await C.Client.StatAsync("/a/b/c", CliTestContext.Ct)).IsFile);
    }

    [Fact]
    public async Task Mkdir_where_a_file_is_exits_4_with_or_without_p()
    {
        await PutAsync("/f.txt", "x");

        var plain = await C.RunAsync("mkdir", "/f.txt");
        var parents = await C.RunAsync("mkdir", "-p", "/f.txt");

        Assert.True(plain.ExitCode == 4, plain.ToString());
        Assert.True(parents.ExitCode == 4, parents.ToString());
        Assert.Contains("default/f.txt: a file exists", parents.Stderr, StringComparison.Ordinal);
        Assert.True((await C.Client.StatAsync("/f.txt", CliTestContext.Ct)).IsFile);
    }

    [Fact]
    public async Task Mkdir_of_several_paths_creates_the_good_ones_and_exits_9()
    {
        await C.Client.CreateDirectoryAsync("/old", CliTestContext.Ct);

        var result = await C.RunAsync("mkdir", "--json", "/new1", "/old", "/new2");

        Assert.True(result.ExitCode == 9, result.ToString());
        Assert.True(await ExistsAsync("/new1"));
        Assert.True(await ExistsAsync("/new2"));
        Assert.Equal(["default/new1", "default/new2"], Json(result.Stdout).EnumerateArray().Select(e => e.GetProperty("path").GetString()));
        var error = Json(Assert.Single(Lines(result.Stderr)));
        Assert.Equal("default/old", error.GetProperty("error").GetProperty("path").GetString());
        Assert.Equal(4, error.GetProperty("error").GetProperty("exitCode").GetInt32());
    }

    [Fact]
    public async Task Rm_deletes_files_and_says_so()
    {
        await PutAsync("/a.txt", "a");
        await PutAsync("backup/b.txt", "b");

        var result = await C.RunAsync("rm", "/a.txt", "backup/b.txt");
        var quiet = await C.RunAsync("rm", "-q", "-f", "/none");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["deleted default/a.txt", "deleted backup/b.txt"], Lines(result.Stdout));
        Assert.False(await ExistsAsync("/a.txt"));
        Assert.False(await ExistsAsync("backup/b.txt"));
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.Empty(quiet.Stdout);
    }

    [Fact]
    public async Task Rm_of_a_missing_path_exits_3_unless_forced()
    {
        var missing = await C.RunAsync("rm", "/nope.txt");
        var forced = await C.RunAsync("rm", "-f", "--json", "/nope.txt");

        Assert.True(missing.ExitCode == 3, missing.ToString());
        Assert.StartsWith("depot rm: ", missing.Stderr, StringComparison.Ordinal);
        Assert.Contains("default/nope.txt", missing.Stderr, StringComparison.Ordinal);
        Assert.True(forced.ExitCode == 0, forced.ToString());
        var json = Json(forced.Stdout);
        Assert.Equal("default/nope.txt", json.GetProperty("path").GetString());
        Assert.False(json.GetProperty("deleted").GetBoolean());
    }

    [Fact]
    public async Task Rm_of_a_non_empty_directory_needs_r()
    {
        await PutAsync("/dir/sub/a.txt", "a");
        await C.Client.CreateDirectoryAsync("/empty", CliTestContext.Ct);

        var refused = await C.RunAsync("rm", "/dir");
        var empty = await C.RunAsync("rm", "/empty");
        var recursive = await C.RunAsync("rm", "-r", "--json", "/dir");

        Assert.True(refused.ExitCode == 6, refused.ToString());
        Assert.Contains("default/dir: the directory is not empty; use -r", refused.Stderr, StringComparison.Ordinal);
        Assert.True(empty.ExitCode == 0, empty.ToString());
        Assert.False(await ExistsAsync("/empty"));
        Assert.True(recursive.ExitCode == 0, recursive.ToString());
        Assert.True(Json(recursive.Stdout).GetProperty("deleted").GetBoolean());
        Assert.False(await ExistsAsync("/dir"));
        Assert.False(await ExistsAsync("/dir/sub/a.txt"));
    }

    [Fact]
    public async Task Rm_of_several_paths_goes_on_after_a_failure_and_exits_9()
    {
        await PutAsync("/a.txt", "a");
        await PutAsync("/c.txt", "c");

        var result = await C.RunAsync("rm", "/a.txt", "/missing.txt", "/c.txt");
        var json = await C.RunAsync("rm", "--json", "-f", "/a.txt", "/gone.txt");

        Assert.True(result.ExitCode == 9, result.ToString());
        Assert.False(await ExistsAsync("/a.txt"));
        Assert.False(await ExistsAsync("/c.txt"));
        Assert.Equal(["deleted default/a.txt", "deleted default/c.txt"], Lines(result.Stdout));
        var error = Assert.Single(Lines(result.Stderr));
        Assert.StartsWith("depot rm: ", error, StringComparison.Ordinal);
        Assert.Contains("default/missing.txt", error, StringComparison.Ordinal);
        Assert.True(json.ExitCode == 0, json.ToString());
        Assert.Equal([false, false], Json(json.Stdout).EnumerateArray().Select(e => e.GetProperty("deleted").GetBoolean()));
    }

    [Fact]
    public async Task Rm_of_several_missing_paths_exits_3()
    {
        var result = await C.RunAsync("rm", "/x", "/y");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Equal(2, Lines(result.Stderr).Length);
    }

    [Fact]
    public async Task Rm_of_several_paths_stops_at_an_unreachable_server_with_one_error()
    {
        var result = await C.RunAsync(["rm", "/x", "/y", "/z"], new Dictionary<string, string?> { ["DEPOT_URL"] = "http://127.0.0.1:9" });

        Assert.True(result.ExitCode == 7, result.ToString());
        Assert.Contains("default/x", Assert.Single(Lines(result.Stderr)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rm_r_of_a_bucket_needs_no_preserve_root()
    {
        await PutAsync("backup/a.txt", "a");
        await PutAsync("backup/d/b.txt", "b");

        var refused = await C.RunAsync("rm", "-r", "backup");
        var allowed = await C.RunAsync("rm", "-r", "--no-preserve-root", "backup/");

        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("--no-preserve-root", refused.Stderr, StringComparison.Ordinal);
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.False(await ExistsAsync("backup/a.txt"));
        Assert.False(await ExistsAsync("backup/d"));
    }

    [Fact]
    public async Task Rm_with_a_key_without_delete_scope_exits_5_and_deletes_nothing()
    {
        await PutAsync("/keep.txt", "k");
        var key = await C.Client.CreateApiKeyAsync(new CreateKeyRequestDto { Name = "ro", Scopes = ["read"] }, CliTestContext.Ct);

        var result = await C.RunAsync(["rm", "/keep.txt"], new Dictionary<string, string?> { ["DEPOT_KEY"] = key.Token });

        Assert.True(result.ExitCode == 5, result.ToString());
        Assert.Contains("default/keep.txt", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(key.Token!, result.Stderr, StringComparison.Ordinal);
        Assert.True(await ExistsAsync("/keep.txt"));
    }

    [Fact]
    public async Task Missing_arguments_and_unknown_options_exit_2()
    {
        var rm = await C.RunAsync("rm");
        var mkdir = await C.RunAsync("mkdir", "--parent", "/x");

        Assert.True(rm.ExitCode == 2, rm.ToString());
        Assert.True(mkdir.ExitCode == 2, mkdir.ToString());
        Assert.False(await ExistsAsync("/x"));
    }
}
