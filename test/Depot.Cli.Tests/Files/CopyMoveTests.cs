using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Files;

public sealed class CopyMoveTests : FilesTestBase
{
    [Fact]
    public async Task Mv_renames_a_file_and_creates_missing_parents()
    {
        await PutAsync("/inbox/report.txt", "report");

        var result = await C.RunAsync("mv", "/inbox/report.txt", "/archive/2024/report.txt");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("moved default/inbox/report.txt -> default/archive/2024/report.txt", result.Stdout.TrimEnd());
        Assert.False(await ExistsAsync("/inbox/report.txt"));
        Assert.Equal("report", await ReadAsync("/archive/2024/report.txt"));
    }

    [Fact]
    public async Task Mv_into_a_directory_keeps_the_name()
    {
        await PutAsync("/a.txt", "a");
        await PutAsync("/b.txt", "b");
        await C.Client.CreateDirectoryAsync("/existing", CliTestContext.Ct);

        var intoExisting = await C.RunAsync("mv", "/a.txt", "/existing");
        var intoNew = await C.RunAsync("mv", "/b.txt", "/fresh/");

        Assert.True(intoExisting.ExitCode == 0, intoExisting.ToString());
        Assert.Equal("a", await ReadAsync("/existing/a.txt"));
        Assert.True(intoNew.ExitCode == 0, intoNew.ToString());
        Assert.Equal("b", await ReadAsync("/fresh/b.txt"));
    }

    [Fact]
    public async Task Mv_of_a_directory_moves_its_tree()
    {
        await PutAsync("/tree/x/1.txt", "1");

        var result = await C.RunAsync("mv", "--json", "/tree", "/moved");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = Json(result.Stdout);
        Assert.Equal("default/tree", json.GetProperty("source").GetString());
        Assert.Equal("default/moved", json.GetProperty("object").GetProperty("path").GetString());
        Assert.Equal("directory", json.GetProperty("object").GetProperty("type").GetString());
        Assert.Equal("1", await ReadAsync("/moved/x/1.txt"));
        Assert.False(await ExistsAsync("/tree"));
    }

    [Fact]
    public async Task Mv_replaces_an_existing_file_unless_no_clobber()
    {
        await PutAsync("/new.txt", "new");
        await PutAsync("/target.txt", "old");
        await PutAsync("/other.txt", "other");

        var refused = await C.RunAsync("mv", "-n", "/other.txt", "/target.txt");
        var replaced = await C.RunAsync("mv", "/new.txt", "/target.txt");

        Assert.True(refused.ExitCode == 4, refused.ToString());
        Assert.Contains("--no-clobber", refused.Stderr, StringComparison.Ordinal);
        Assert.True(await ExistsAsync("/other.txt"));
        Assert.True(replaced.ExitCode == 0, replaced.ToString());
        Assert.Equal("new", await ReadAsync("/target.txt"));
        Assert.False(await ExistsAsync("/new.txt"));
    }

    [Fact]
    public async Task A_directory_at_the_destination_is_never_replaced()
    {
        await PutAsync("/x.txt", "x");
        await C.Client.CreateDirectoryAsync("/d/x.txt", CliTestContext.Ct);

        var mv = await C.RunAsync("mv", "/x.txt", "/d/");
        var cp = await C.RunAsync("cp", "/x.txt", "/d/");

        Assert.True(mv.ExitCode == 4, mv.ToString());
        Assert.Contains("a directory neither replaces nor is replaced", mv.Stderr, StringComparison.Ordinal);
        Assert.True(cp.ExitCode == 6, cp.ToString());
        Assert.Equal("x", await ReadAsync("/x.txt"));
        Assert.False((await C.Client.StatAsync("/d/x.txt", CliTestContext.Ct)).IsFile);
    }

    [Fact]
    public async Task Mv_across_buckets_copies_then_deletes_the_source()
    {
        await PutAsync("/doc.txt", "doc");
        await PutAsync("/dir/f.txt", "f");

        var file = await C.RunAsync("mv", "/doc.txt", "backup/");
        var directory = await C.RunAsync("mv", "/dir", "backup/dir");

        Assert.True(file.ExitCode == 0, file.ToString());
        Assert.Equal("doc", await ReadAsync("backup/doc.txt"));
        Assert.False(await ExistsAsync("/doc.txt"));
        Assert.True(directory.ExitCode == 6, directory.ToString());
        Assert.Contains("default/dir is a directory", directory.Stderr, StringComparison.Ordinal);
        Assert.True(await ExistsAsync("/dir/f.txt"));
    }

    [Fact]
    public async Task Mv_of_two_sources_with_one_name_into_a_directory_never_loses_the_first()
    {
        await PutAsync("/da/x.txt", "one");
        await PutAsync("/db/x.txt", "two");
        await PutAsync("/dst/keep.txt", "k");

        var result = await C.RunAsync("mv", "/da/x.txt", "/db/x.txt", "/dst/");

        Assert.True(result.ExitCode == 9, result.ToString());
        Assert.Contains("will not replace default/dst/x.txt", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("one", await ReadAsync("/dst/x.txt"));
        Assert.Equal("two", await ReadAsync("/db/x.txt"));
    }

    [Fact]
    public async Task Mv_of_a_missing_source_exits_3_naming_it()
    {
        var result = await C.RunAsync("mv", "/ghost.txt", "/x.txt");

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.StartsWith("depot mv: ", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("default/ghost.txt", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mv_of_several_sources_needs_a_directory_and_reports_each_failure()
    {
        await PutAsync("/1.txt", "1");
        await PutAsync("/2.txt", "2");
        await PutAsync("/file.txt", "f");

        var notADirectory = await C.RunAsync("mv", "/1.txt", "/2.txt", "/file.txt");
        var partial = await C.RunAsync("mv", "/1.txt", "/missing.txt", "/2.txt", "/dest/");

        Assert.True(notADirectory.ExitCode == 2, notADirectory.ToString());
        Assert.Contains("not a directory", notADirectory.Stderr, StringComparison.Ordinal);
        Assert.True(partial.ExitCode == 9, partial.ToString());
        Assert.Equal("1", await ReadAsync("/dest/1.txt"));
        Assert.Equal("2", await ReadAsync("/dest/2.txt"));
        var error = Assert.Single(Lines(partial.Stderr));
        Assert.StartsWith("depot mv: ", error, StringComparison.Ordinal);
        Assert.Contains("default/missing.txt", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cp_copies_a_file_and_keeps_the_source()
    {
        await C.Client.UploadAsync("hello"u8.ToArray(), "/a.txt", new Depot.Client.UploadOptions { Metadata = new Dictionary<string, string> { ["owner"] = "ann" } }, cancellationToken: CliTestContext.Ct);

        var result = await C.RunAsync("cp", "--json", "/a.txt", "backup/copies/a.txt");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = Json(result.Stdout);
        Assert.Equal("default/a.txt", json.GetProperty("source").GetString());
        Assert.Equal("backup/copies/a.txt", json.GetProperty("object").GetProperty("path").GetString());
        Assert.Equal(5, json.GetProperty("object").GetProperty("size").GetInt64());
        Assert.Equal("hello", await ReadAsync("backup/copies/a.txt"));
        Assert.Equal("hello", await ReadAsync("/a.txt"));
        Assert.Equal("ann", (await C.Client.StatAsync("backup/copies/a.txt", CliTestContext.Ct)).Metadata["owner"]);
    }

    [Fact]
    public async Task Cp_replaces_by_default_and_refuses_with_no_clobber()
    {
        await PutAsync("/src.txt", "new");
        await PutAsync("/dst.txt", "old");

        var refused = await C.RunAsync("cp", "--no-clobber", "/src.txt", "/dst.txt");
        var unchanged = await ReadAsync("/dst.txt");
        var replaced = await C.RunAsync("cp", "/src.txt", "/dst.txt");

        Assert.True(refused.ExitCode == 4, refused.ToString());
        Assert.Equal("old", unchanged);
        Assert.True(replaced.ExitCode == 0, replaced.ToString());
        Assert.Equal("copied default/src.txt -> default/dst.txt", replaced.Stdout.TrimEnd());
        Assert.Equal("new", await ReadAsync("/dst.txt"));
    }

    [Fact]
    public async Task Cp_of_several_files_into_a_bucket_root_keeps_their_names()
    {
        await PutAsync("/x/1.txt", "1");
        await PutAsync("/x/2.txt", "2");

        var result = await C.RunAsync("cp", "--json", "/x/1.txt", "/x/2.txt", "backup");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["backup/1.txt", "backup/2.txt"], Json(result.Stdout).EnumerateArray().Select(e => e.GetProperty("object").GetProperty("path").GetString()));
        Assert.Equal("1", await ReadAsync("backup/1.txt"));
        Assert.Equal("2", await ReadAsync("backup/2.txt"));
    }

    [Fact]
    public async Task Cp_of_a_directory_or_onto_itself_is_refused()
    {
        await PutAsync("/d/f.txt", "f");

        var directory = await C.RunAsync("cp", "/d", "/e");
        var itself = await C.RunAsync("cp", "/d/f.txt", "/d/");

        Assert.True(directory.ExitCode == 6, directory.ToString());
        Assert.Contains("default/d is a directory", directory.Stderr, StringComparison.Ordinal);
        Assert.False(await ExistsAsync("/e"));
        Assert.True(itself.ExitCode == 2, itself.ToString());
        Assert.Contains("same path", itself.Stderr, StringComparison.Ordinal);
        Assert.Equal("f", await ReadAsync("/d/f.txt"));
    }

    [Fact]
    public async Task Cp_and_mv_need_a_source_and_a_destination()
    {
        var cp = await C.RunAsync("cp", "/only.txt");
        var mv = await C.RunAsync("mv");

        Assert.True(cp.ExitCode == 2, cp.ToString());
        Assert.True(mv.ExitCode == 2, mv.ToString());
    }
}
