using System.Text;
using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;
using Depot.Client;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Cli.Tests.Transfers;

public sealed class PutGetTests : IAsyncLifetime
{
    private CliTestContext _c = null!;

    public async ValueTask InitializeAsync() => _c = await CliTestContext.StartAsync((options, root) =>
        options.Buckets["photos"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "photos") });

    public ValueTask DisposeAsync() => _c.DisposeAsync();

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private async Task<List<string>> RemoteKeysAsync(string directory)
    {
        var keys = new List<string>();
        await foreach (var entry in _c.Client.ListAsync(directory, new ListOptions { Recursive = true }, CliTestContext.Ct))
        {
            if (entry.IsFile)
            {
                keys.Add(entry.Path.ToString());
            }
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    [Fact]
    public async Task Put_then_get_round_trips_a_file_byte_for_byte()
    {
        var local = _c.WriteFile("a.bin", (3 * 1024 * 1024) + 17, seed: 7);

        var put = await _c.RunAsync("put", "a.bin", "/dir/a.bin");
        var get = await _c.RunAsync("get", "/dir/a.bin", "copy.bin");

        Assert.True(put.ExitCode == 0, put.ToString());
        Assert.Equal("a.bin -> default/dir/a.bin (3.0 MiB)\n", put.Stdout);
        Assert.True(get.ExitCode == 0, get.ToString());
        Assert.Equal("default/dir/a.bin -> copy.bin (3.0 MiB)\n", get.Stdout);
        Assert.Equal(CliTestContext.Sha256Of(local), CliTestContext.Sha256Of(Path.Combine(_c.Scratch, "copy.bin")));
        Assert.Equal(CliTestContext.Sha256Of(local), (await _c.Client.StatAsync("/dir/a.bin", CliTestContext.Ct)).Sha256);
        Assert.Empty(put.Stderr + get.Stderr);
    }

    [Fact]
    public async Task Put_of_several_files_goes_into_the_directory_keeping_names()
    {
        _c.WriteText("one.txt", "1");
        _c.WriteText("sub/two.txt", "22");

        var result = await _c.RunAsync("put", "one.txt", "sub/two.txt", "/inbox");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["default/inbox/one.txt", "default/inbox/two.txt"], await RemoteKeysAsync("/inbox"));
        var lines = Lines(result.Stdout);
        Assert.Equal(["one.txt -> default/inbox/one.txt (1 B)", "sub/two.txt -> default/inbox/two.txt (2 B)"], lines[..2]);
        Assert.Matches(@"^uploaded 2 files \(3 B\) in [0-9.]+ (ms|s)$", lines[2]);
        Assert.Equal(3, lines.Length);
    }

    [Fact]
    public async Task Put_to_an_existing_remote_directory_or_a_trailing_slash_keeps_the_name()
    {
        await _c.Client.UploadAsync("x"u8.ToArray(), "/existing/x.txt", cancellationToken: CliTestContext.Ct);
        _c.WriteText("a.txt", "a");

        var intoExisting = await _c.RunAsync("put", "a.txt", "/existing");
        var intoSlash = await _c.RunAsync("put", "a.txt", "photos/new/");
        var toPath = await _c.RunAsync("put", "a.txt", "/renamed.txt");

        Assert.True(intoExisting.ExitCode == 0 && intoSlash.ExitCode == 0 && toPath.ExitCode == 0, intoExisting + "\n" + intoSlash + "\n" + toPath);
        Assert.Equal("a", Encoding.UTF8.GetString(await _c.Client.DownloadBytesAsync("/existing/a.txt", cancellationToken: CliTestContext.Ct)));
        Assert.Equal("a", Encoding.UTF8.GetString(await _c.Client.DownloadBytesAsync("photos/new/a.txt", cancellationToken: CliTestContext.Ct)));
        Assert.Equal("a", Encoding.UTF8.GetString(await _c.Client.DownloadBytesAsync("/renamed.txt", cancellationToken: CliTestContext.Ct)));
    }

    [Fact]
    public async Task Put_r_uploads_nested_directories_and_leaves_out_excluded_paths()
    {
        _c.WriteText("tree/a.txt", "a");
        _c.WriteText("tree/x/b.txt", "bb");
        _c.WriteText("tree/x/y/c.txt", "ccc");
        _c.WriteText("tree/x/debug.log", "log");
        _c.WriteText("tree/cache/big.bin", "cache");

        var result = await _c.RunAsync("put", "-r", "--exclude", "*.log", "--exclude", "cache", "--parallel", "2", "tree", "/backup");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["default/backup/a.txt", "default/backup/x/b.txt", "default/backup/x/y/c.txt"], await RemoteKeysAsync("/backup"));
        Assert.Contains("tree/x/y/c.txt -> default/backup/x/y/c.txt (3 B)", Lines(result.Stdout));
        Assert.Equal(4, Lines(result.Stdout).Length);
        Assert.StartsWith("uploaded 3 files (6 B) in ", Lines(result.Stdout)[^1], StringComparison.Ordinal);
        Assert.False(CliTestContext.HasControlCharacters(result.Stdout + result.Stderr));
    }

    [Fact]
    public async Task Put_r_into_an_existing_directory_nests_the_source_by_name()
    {
        await _c.Client.CreateDirectoryAsync("/backup", CliTestContext.Ct);
        _c.WriteText("site/index.html", "<html/>");

        var result = await _c.RunAsync("put", "-r", "site", "/backup");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["default/backup/site/index.html"], await RemoteKeysAsync("/backup"));
    }

    [Fact]
    public async Task Put_expands_quoted_globs_including_double_star()
    {
        _c.WriteText("logs/a.log", "a");
        _c.WriteText("logs/b.log", "b");
        _c.WriteText("logs/c.txt", "c");
        _c.WriteText("logs/old/d.log", "d");
        _c.WriteText("logs/.hidden.log", "h");

        var star = await _c.RunAsync("put", "logs/*.log", "/flat/");
        var deep = await _c.RunAsync("put", "logs/**/?.log", "/deep/");

        Assert.True(star.ExitCode == 0, star.ToString());
        Assert.Equal(["default/flat/a.log", "default/flat/b.log"], await RemoteKeysAsync("/flat"));
        Assert.True(deep.ExitCode == 0, deep.ToString());
        Assert.Equal(["default/deep/a.log", "default/deep/b.log", "default/deep/d.log"], await RemoteKeysAsync("/deep"));
    }

    [Fact]
    public async Task Put_of_a_glob_that_matches_nothing_exits_3()
    {
        var result = await _c.RunAsync("put", "*.nothing", "/x/");

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("depot put: no local file matches '*.nothing'.\n", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task Put_of_a_missing_local_file_exits_3_and_of_a_directory_without_r_exits_2()
    {
        Directory.CreateDirectory(Path.Combine(_c.Scratch, "folder"));

        var missing = await _c.RunAsync("put", "nope.txt", "/nope.txt");
        var folder = await _c.RunAsync("put", "folder", "/folder");

        Assert.Equal(3, missing.ExitCode);
        Assert.StartsWith("depot put: nope.txt: ", missing.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, folder.ExitCode);
        Assert.Contains("use -r", folder.Stderr, StringComparison.Ordinal);
        Assert.Null(await _c.Client.TryStatAsync("/nope.txt", CliTestContext.Ct));
    }

    [Fact]
    public async Task Options_that_need_another_option_are_refused_without_it()
    {
        _c.WriteText("a.txt", "a");

        var exclude = await _c.RunAsync("put", "--exclude", "*.log", "a.txt", "/a.txt");
        var parallel = await _c.RunAsync("get", "--parallel", "8", "/a.txt", "a2.txt");
        var extension = await _c.RunAsync("put", "--ext", "png", "a.txt", "/a.txt");

        Assert.Equal(2, exclude.ExitCode);
        Assert.Contains("--exclude works with -r", exclude.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, parallel.ExitCode);
        Assert.Equal(2, extension.ExitCode);
        Assert.Null(await _c.Client.TryStatAsync("/a.txt", CliTestContext.Ct));
    }

    [Fact]
    public async Task Put_of_several_files_with_one_missing_uploads_the_others_and_exits_9()
    {
        _c.WriteText("good.txt", "ok");

        var result = await _c.RunAsync("put", "missing.txt", "good.txt", "/mixed/");

        Assert.Equal(9, result.ExitCode);
        Assert.Matches(@"^good.txt -> default/mixed/good.txt \(2 B\)\nuploaded 1 file \(2 B\) in [0-9.]+ m?s, 1 failed\n$", result.Stdout);
        Assert.Equal("depot put: missing.txt: no such local file or directory.\n", result.Stderr);
        Assert.NotNull(await _c.Client.TryStatAsync("/mixed/good.txt", CliTestContext.Ct));
    }

    [Fact]
    public async Task Put_id_prints_the_assigned_path_of_an_existing_object()
    {
        _c.WriteText("cat.jpg", "meow");

        var result = await _c.RunAsync("put", "--id", "cat.jpg", "photos");
        var withExtension = await _c.RunAsync("put", "--id", "--ext", "png", "cat.jpg", "/");

        Assert.True(result.ExitCode == 0, result.ToString());
        var id = result.Stdout.TrimEnd('\n');
        Assert.Matches(@"^photos/M00/[0-9A-F]{2}/[0-9A-F]{2}/[^/]+\.jpg$", id);
        Assert.Equal("meow", Encoding.UTF8.GetString(await _c.Client.DownloadBytesAsync(id, cancellationToken: CliTestContext.Ct)));
        Assert.True(withExtension.ExitCode == 0, withExtension.ToString());
        Assert.Matches(@"^default/M00/.+\.png$", withExtension.Stdout.TrimEnd('\n'));
    }

    [Fact]
    public async Task Put_id_refuses_a_path_that_is_not_a_bucket()
    {
        _c.WriteText("cat.jpg", "meow");

        var result = await _c.RunAsync("put", "--id", "cat.jpg", "photos/cats/x.jpg");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--id takes a bucket", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_stores_metadata_content_type_appendable_and_ttl()
    {
        _c.WriteText("doc.bin", "data");

        var result = await _c.RunAsync("put", "--meta", "author=zoë", "--meta", "lang=en", "--content-type", "text/x-test", "--appendable", "--ttl", "2h", "doc.bin", "/doc.bin");

        Assert.True(result.ExitCode == 0, result.ToString());
        var stat = await _c.Client.StatAsync("/doc.bin", CliTestContext.Ct);
        Assert.Equal("zoë", stat.Metadata!["author"]);
        Assert.Equal("en", stat.Metadata["lang"]);
        Assert.Equal("text/x-test", stat.ContentType);
        Assert.True(stat.Appendable);
        Assert.NotNull(stat.Expires);
        Assert.InRange(stat.Expires!.Value - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(110), TimeSpan.FromMinutes(121));
    }

    [Fact]
    public async Task Put_from_stdin_then_get_to_stdout_and_cat_are_byte_exact_for_binary_content()
    {
        var bytes = new byte[300_000];
        new Random(3).NextBytes(bytes);
        bytes[0] = 0x1b;
        bytes[^1] = (byte)'\n';

        var put = await _c.RunAsync(["put", "-", "/bin/blob"], stdin: bytes);
        var get = await _c.RunRawAsync(["get", "/bin/blob", "-"]);
        var cat = await _c.RunRawAsync(["cat", "/bin/blob"]);

        Assert.True(put.ExitCode == 0, put.ToString());
        Assert.Equal("- -> default/bin/blob (293 KiB)\n", put.Stdout);
        Assert.Equal(bytes, await _c.Client.DownloadBytesAsync("/bin/blob", cancellationToken: CliTestContext.Ct));
        Assert.True(get.ExitCode == 0, get.Stderr);
        Assert.Equal(bytes, get.Stdout);
        Assert.True(cat.ExitCode == 0, cat.Stderr);
        Assert.Equal(bytes, cat.Stdout);
        Assert.Empty(get.Stderr + cat.Stderr);
    }

    [Fact]
    public async Task Put_from_stdin_into_a_directory_is_a_usage_error()
    {
        var result = await _c.RunAsync(["put", "-", "/dir/"], stdin: "x"u8.ToArray());

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("full remote path", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_and_cat_read_a_range_with_offset_and_length()
    {
        await _c.Client.UploadAsync("0123456789abcdef"u8.ToArray(), "/range.txt", cancellationToken: CliTestContext.Ct);

        var get = await _c.RunAsync("get", "--offset", "4", "--length", "6", "/range.txt", "part.txt");
        var cat = await _c.RunRawAsync(["cat", "--offset", "10", "/range.txt"]);

        Assert.True(get.ExitCode == 0, get.ToString());
        Assert.Equal("456789", File.ReadAllText(Path.Combine(_c.Scratch, "part.txt")));
        Assert.Equal("abcdef", Encoding.UTF8.GetString(cat.Stdout));
    }

    [Fact]
    public async Task No_clobber_refuses_an_existing_destination_with_exit_4_both_ways()
    {
        await _c.Client.UploadAsync("remote"u8.ToArray(), "/keep.txt", cancellationToken: CliTestContext.Ct);
        _c.WriteText("keep.txt", "local");

        var put = await _c.RunAsync("put", "-n", "keep.txt", "/keep.txt");
        var get = await _c.RunAsync("get", "--no-clobber", "/keep.txt", "keep.txt");

        Assert.Equal(4, put.ExitCode);
        Assert.StartsWith("depot put: ", put.Stderr, StringComparison.Ordinal);
        Assert.Equal("remote", Encoding.UTF8.GetString(await _c.Client.DownloadBytesAsync("/keep.txt", cancellationToken: CliTestContext.Ct)));
        Assert.Equal(4, get.ExitCode);
        Assert.Contains("--no-clobber", get.Stderr, StringComparison.Ordinal);
        Assert.Equal("local", File.ReadAllText(Path.Combine(_c.Scratch, "keep.txt")));
    }

    [Fact]
    public async Task Get_of_a_missing_remote_file_exits_3_and_creates_nothing()
    {
        var result = await _c.RunAsync("get", "/missing.txt", "out.txt");

        Assert.Equal(3, result.ExitCode);
        Assert.StartsWith("depot get: ", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("default/missing.txt", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(_c.Scratch));
    }

    [Fact]
    public async Task Get_of_several_files_goes_into_a_directory_and_reports_a_missing_one()
    {
        await _c.Client.UploadAsync("one"u8.ToArray(), "/g/one.txt", cancellationToken: CliTestContext.Ct);
        await _c.Client.UploadAsync("two"u8.ToArray(), "photos/two.txt", cancellationToken: CliTestContext.Ct);

        var result = await _c.RunAsync("get", "/g/one.txt", "/g/none.txt", "photos/two.txt", "out/");

        Assert.Equal(9, result.ExitCode);
        Assert.Equal("one", File.ReadAllText(Path.Combine(_c.Scratch, "out", "one.txt")));
        Assert.Equal("two", File.ReadAllText(Path.Combine(_c.Scratch, "out", "two.txt")));
        var error = Assert.Single(Lines(result.Stderr));
        Assert.StartsWith("depot get: ", error, StringComparison.Ordinal);
        Assert.Contains("default/g/none.txt", error, StringComparison.Ordinal);
        Assert.Equal(["default/g/one.txt -> out/one.txt (3 B)", "photos/two.txt -> out/two.txt (3 B)"], Lines(result.Stdout)[..2]);
        Assert.Matches(@"^downloaded 2 files \(6 B\) in .+, 1 failed$", Lines(result.Stdout)[2]);
    }

    [Fact]
    public async Task Get_refuses_several_files_to_a_missing_directory_and_a_directory_without_r()
    {
        await _c.Client.UploadAsync("d"u8.ToArray(), "/folder/d.txt", cancellationToken: CliTestContext.Ct);

        var several = await _c.RunAsync("get", "/a.txt", "/b.txt", "nodir");
        var folder = await _c.RunAsync("get", "/folder", "local");

        Assert.Equal(2, several.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_c.Scratch, "nodir")));
        Assert.Equal(2, folder.ExitCode);
        Assert.Equal("depot get: default/folder is a directory; use -r to download it with everything below it.\n", folder.Stderr);
    }

    [Fact]
    public async Task Get_r_downloads_a_tree_and_leaves_out_excluded_paths()
    {
        await _c.Client.UploadAsync("a"u8.ToArray(), "/site/a.html", cancellationToken: CliTestContext.Ct);
        await _c.Client.UploadAsync("b"u8.ToArray(), "/site/css/b.css", cancellationToken: CliTestContext.Ct);
        await _c.Client.UploadAsync("t"u8.ToArray(), "/site/tmp/t.tmp", cancellationToken: CliTestContext.Ct);

        var result = await _c.RunAsync("get", "-r", "--exclude", "*.tmp", "/site", "mirror");
        Directory.CreateDirectory(Path.Combine(_c.Scratch, "styles"));
        var into = await _c.RunAsync("get", "-r", "/site/css", "styles");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("a", File.ReadAllText(Path.Combine(_c.Scratch, "mirror", "a.html")));
        Assert.Equal("b", File.ReadAllText(Path.Combine(_c.Scratch, "mirror", "css", "b.css")));
        Assert.False(File.Exists(Path.Combine(_c.Scratch, "mirror", "tmp", "t.tmp")));
        Assert.Contains("default/site/css/b.css -> mirror/css/b.css (1 B)", Lines(result.Stdout));
        Assert.True(into.ExitCode == 0, into.ToString());
        Assert.Equal("b", File.ReadAllText(Path.Combine(_c.Scratch, "styles", "css", "b.css")));
    }

    [Fact]
    public async Task Put_json_is_one_object_for_one_file_and_an_array_for_several()
    {
        _c.WriteText("j1.txt", "one");
        _c.WriteText("j2.txt", "two!");

        var one = await _c.RunAsync("put", "--json", "--meta", "k=v", "j1.txt", "/j/j1.txt");
        var several = await _c.RunAsync("put", "--json", "j1.txt", "j2.txt", "/j/many/");

        Assert.True(one.ExitCode == 0, one.ToString());
        using var single = JsonDocument.Parse(one.Stdout);
        Assert.Equal("default/j/j1.txt", single.RootElement.GetProperty("path").GetString());
        Assert.Equal("file", single.RootElement.GetProperty("type").GetString());
        Assert.Equal(3, single.RootElement.GetProperty("size").GetInt64());
        Assert.Equal(64, single.RootElement.GetProperty("sha256").GetString()!.Length);
        Assert.Equal("v", single.RootElement.GetProperty("metadata").GetProperty("k").GetString());
        using var array = JsonDocument.Parse(several.Stdout);
        Assert.Equal(["default/j/many/j1.txt", "default/j/many/j2.txt"], array.RootElement.EnumerateArray().Select(e => e.GetProperty("path").GetString()));
        Assert.Empty(one.Stderr + several.Stderr);
    }

    [Fact]
    public async Task Put_r_json_lists_the_uploaded_files()
    {
        _c.WriteText("jt/a.txt", "a");
        _c.WriteText("jt/d/b.txt", "bb");

        var result = await _c.RunAsync("put", "-r", "--json", "jt", "/jt");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(["default/jt/a.txt", "default/jt/d/b.txt"], json.RootElement.EnumerateArray().Select(e => e.GetProperty("path").GetString()).Order(StringComparer.Ordinal));
        Assert.Equal([1L, 2L], json.RootElement.EnumerateArray().Select(e => e.GetProperty("size").GetInt64()).Order());
    }

    [Fact]
    public async Task Get_json_says_where_each_file_went()
    {
        await _c.Client.UploadAsync("hello"u8.ToArray(), "/gj/h.txt", cancellationToken: CliTestContext.Ct);

        var result = await _c.RunAsync("get", "--json", "/gj/h.txt", "h.txt");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal("default/gj/h.txt", json.RootElement.GetProperty("path").GetString());
        Assert.Equal(Path.Combine(_c.Scratch, "h.txt"), json.RootElement.GetProperty("local").GetString());
        Assert.Equal(5, json.RootElement.GetProperty("size").GetInt64());
        Assert.Equal(64, json.RootElement.GetProperty("sha256").GetString()!.Length);
    }

    [Fact]
    public async Task Cat_writes_several_files_in_order_and_reports_a_missing_one()
    {
        await _c.Client.UploadAsync("first\n"u8.ToArray(), "/c/1", cancellationToken: CliTestContext.Ct);
        await _c.Client.UploadAsync("second"u8.ToArray(), "/c/2", cancellationToken: CliTestContext.Ct);

        var both = await _c.RunRawAsync(["cat", "/c/1", "/c/2"]);
        var partial = await _c.RunRawAsync(["cat", "/c/1", "/c/none", "/c/2"]);
        var missing = await _c.RunRawAsync(["cat", "/c/none"]);

        Assert.Equal("first\nsecond", Encoding.UTF8.GetString(both.Stdout));
        Assert.Equal(0, both.ExitCode);
        Assert.Equal(9, partial.ExitCode);
        Assert.Equal("first\nsecond", Encoding.UTF8.GetString(partial.Stdout));
        Assert.Contains("default/c/none", partial.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, missing.ExitCode);
    }
}
