using Depot.Cli.Tests.Infrastructure;
using Depot.Client;

namespace Depot.Cli.Tests.Files;

public sealed class MetaShareInfoTests : FilesTestBase
{
    private Task<DepotObject> PutWithMetaAsync(string path, Dictionary<string, string> metadata) =>
        C.Client.UploadAsync("data"u8.ToArray(), path, new UploadOptions { Metadata = metadata }, cancellationToken: CliTestContext.Ct);

    [Fact]
    public async Task Meta_get_prints_sorted_pairs_or_one_value()
    {
        await PutWithMetaAsync("/m.txt", new() { ["owner"] = "ann", ["color"] = "blue" });

        var all = await C.RunAsync("meta", "get", "/m.txt");
        var one = await C.RunAsync("meta", "get", "/m.txt", "OWNER");
        var missing = await C.RunAsync("meta", "get", "/m.txt", "size");

        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Equal(["color=blue", "owner=ann"], Lines(all.Stdout));
        Assert.True(one.ExitCode == 0, one.ToString());
        Assert.Equal("ann\n", one.Stdout);
        Assert.True(missing.ExitCode == 3, missing.ToString());
        Assert.Contains("default/m.txt has no metadata entry 'size'", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Meta_get_json_shapes()
    {
        await PutWithMetaAsync("/m.txt", new() { ["owner"] = "ann" });

        var all = await C.RunAsync("meta", "get", "--json", "/m.txt");
        var one = await C.RunAsync("meta", "get", "/m.txt", "owner", "--json");

        var allJson = Json(all.Stdout);
        Assert.Equal("default/m.txt", allJson.GetProperty("path").GetString());
        Assert.Equal("ann", allJson.GetProperty("metadata").GetProperty("owner").GetString());
        var oneJson = Json(one.Stdout);
        Assert.Equal("owner", oneJson.GetProperty("name").GetString());
        Assert.Equal("ann", oneJson.GetProperty("value").GetString());
    }

    [Fact]
    public async Task Meta_set_replaces_by_default_and_merges_with_merge()
    {
        await PutWithMetaAsync("/m.txt", new() { ["owner"] = "ann", ["color"] = "blue" });

        var replaced = await C.RunAsync("meta", "set", "/m.txt", "owner=bob", "note=a=b");
        var afterReplace = await C.Client.GetMetadataAsync("/m.txt", CliTestContext.Ct);
        var merged = await C.RunAsync("meta", "set", "--merge", "--json", "/m.txt", "color=red");
        var afterMerge = await C.Client.GetMetadataAsync("/m.txt", CliTestContext.Ct);

        Assert.True(replaced.ExitCode == 0, replaced.ToString());
        Assert.Equal(["note=a=b", "owner=bob"], Lines(replaced.Stdout));
        Assert.Equal(new Dictionary<string, string> { ["owner"] = "bob", ["note"] = "a=b" }, afterReplace);
        Assert.True(merged.ExitCode == 0, merged.ToString());
        Assert.Equal(new Dictionary<string, string> { ["owner"] = "bob", ["note"] = "a=b", ["color"] = "red" }, afterMerge);
        Assert.Equal("red", Json(merged.Stdout).GetProperty("metadata").GetProperty("color").GetString());
    }

    [Fact]
    public async Task Meta_rm_removes_names_or_everything()
    {
        await PutWithMetaAsync("/m.txt", new() { ["a"] = "1", ["b"] = "2", ["c"] = "3" });

        var some = await C.RunAsync("meta", "rm", "/m.txt", "a", "B", "nothere");
        var afterSome = await C.Client.GetMetadataAsync("/m.txt", CliTestContext.Ct);
        var everything = await C.RunAsync("meta", "rm", "--all", "--json", "/m.txt");

        Assert.True(some.ExitCode == 0, some.ToString());
        Assert.Equal(new Dictionary<string, string> { ["c"] = "3" }, afterSome);
        Assert.True(everything.ExitCode == 0, everything.ToString());
        Assert.Empty(Json(everything.Stdout).GetProperty("metadata").EnumerateObject());
        Assert.Empty(await C.Client.GetMetadataAsync("/m.txt", CliTestContext.Ct));
    }

    [Fact]
    public async Task Meta_errors_have_their_exit_codes()
    {
        await PutWithMetaAsync("/m.txt", new() { ["a"] = "1" });

        var missingFile = await C.RunAsync("meta", "get", "/none.txt");
        var badPair = await C.RunAsync("meta", "set", "/m.txt", "novalue");
        var badName = await C.RunAsync("meta", "set", "/m.txt", "bad name=x");
        var neither = await C.RunAsync("meta", "rm", "/m.txt");
        var noSubcommand = await C.RunAsync("meta", "/m.txt");

        Assert.True(missingFile.ExitCode == 3, missingFile.ToString());
        Assert.Contains("default/none.txt", missingFile.Stderr, StringComparison.Ordinal);
        Assert.True(badPair.ExitCode == 2, badPair.ToString());
        Assert.Contains("NAME=VALUE", badPair.Stderr, StringComparison.Ordinal);
        Assert.True(badName.ExitCode == 2, badName.ToString());
        Assert.True(neither.ExitCode == 2, neither.ToString());
        Assert.True(noSubcommand.ExitCode == 2, noSubcommand.ToString());
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1" }, await C.Client.GetMetadataAsync("/m.txt", CliTestContext.Ct));
    }

    [Fact]
    public async Task Share_prints_a_link_that_downloads_without_a_key()
    {
        await PutAsync("/shared.txt", "shared bytes");

        var plain = await C.RunAsync("share", "/shared.txt");
        var json = await C.RunAsync("share", "/shared.txt", "--expires", "2d", "--json");

        Assert.True(plain.ExitCode == 0, plain.ToString());
        var url = Assert.Single(Lines(plain.Stdout));
        using var http = new HttpClient();
        Assert.Equal("shared bytes", await http.GetStringAsync(new Uri(url), CliTestContext.Ct));
        Assert.True(json.ExitCode == 0, json.ToString());
        var link = Json(json.Stdout);
        Assert.Equal("default/shared.txt", link.GetProperty("path").GetString());
        Assert.StartsWith(C.Url, link.GetProperty("url").GetString(), StringComparison.Ordinal);
        var expires = link.GetProperty("expires").GetDateTimeOffset();
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddDays(2).AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(2).AddMinutes(1));
    }

    [Fact]
    public async Task Share_errors_have_their_exit_codes()
    {
        await PutAsync("/s.txt", "s");

        var missing = await C.RunAsync("share", "/nope.txt");
        var badDuration = await C.RunAsync("share", "/s.txt", "--expires", "soon");
        var tooLong = await C.RunAsync("share", "/s.txt", "--expires", "31d");

        Assert.True(missing.ExitCode == 3, missing.ToString());
        Assert.Contains("default/nope.txt", missing.Stderr, StringComparison.Ordinal);
        Assert.True(badDuration.ExitCode == 2, badDuration.ToString());
        Assert.Contains("--expires", badDuration.Stderr, StringComparison.Ordinal);
        Assert.True(tooLong.ExitCode == 2, tooLong.ToString());
    }

    [Fact]
    public async Task Info_shows_the_server_its_nodes_and_the_buckets()
    {
        await PutAsync("/a.txt", "hello");
        await PutAsync("/b.txt", "world!");

        var result = await C.RunAsync("info");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.False(CliTestContext.HasControlCharacters(result.Stdout));
        var lines = Lines(result.Stdout);
        Assert.StartsWith("server:", lines[0], StringComparison.Ordinal);
        Assert.Contains(C.Url, lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("version:", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("NODE", StringComparison.Ordinal));
        var defaultRow = Assert.Single(lines, l => l.StartsWith("default ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["default", "2", "11", "B"], defaultRow[..4]);
        Assert.Contains(lines, l => l.StartsWith("backup ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Info_json_has_health_nodes_and_bucket_usage()
    {
        await PutAsync("backup/a.txt", "hello");

        var result = await C.RunAsync("info", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = Json(result.Stdout);
        Assert.StartsWith(C.Url, json.GetProperty("server").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(json.GetProperty("version").GetString()));
        Assert.False(string.IsNullOrEmpty(json.GetProperty("status").GetString()));
        var node = Assert.Single(json.GetProperty("servers").EnumerateArray());
        Assert.False(string.IsNullOrEmpty(node.GetProperty("address").GetString()));
        var backup = Assert.Single(json.GetProperty("buckets").EnumerateArray(), b => b.GetProperty("name").GetString() == "backup");
        Assert.Equal(1, backup.GetProperty("objectCount").GetInt64());
        Assert.Equal(5, backup.GetProperty("bytesUsed").GetInt64());
        Assert.True(backup.GetProperty("maxKeyLength").GetInt32() > 0);
        Assert.False(backup.GetProperty("readOnly").GetBoolean());
    }

    [Fact]
    public async Task Info_with_a_wrong_key_exits_5()
    {
        var result = await C.RunAsync(["info"], new Dictionary<string, string?> { ["DEPOT_KEY"] = "dpk_wrong_key_000000000000000000" });

        Assert.True(result.ExitCode == 5, result.ToString());
        Assert.Empty(result.Stdout);
    }
}
