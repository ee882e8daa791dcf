using System.Text;
using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;
using Depot.Client;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Cli.Tests.KeyValue;

public sealed class KvTests : IAsyncLifetime
{
    private CliTestContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await CliTestContext.StartAsync((options, root) =>
        options.Buckets["other"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "other") });

    public ValueTask DisposeAsync() => _context.DisposeAsync();

    private DepotKeyValue Kv => _context.Client.KeyValue();

    [Fact]
    public async Task Put_from_stdin_and_get_round_trip_binary_bytes_exactly()
    {
        byte[] value = [0, 1, 2, 0xff, 0xfe, (byte)'\n', (byte)'\r', 0x1b, 0x80, 0];

        var put = await _context.RunAsync(["kv", "put", "bin/blob"], stdin: value);
        var (stdout, stderr, exitCode) = await _context.RunRawAsync(["kv", "get", "bin/blob"]);

        Assert.True(put.ExitCode == 0, put.ToString());
        Assert.True(exitCode == 0, stderr);
        Assert.Equal(value, stdout);
        Assert.Equal(value, (await Kv.GetAsync("bin/blob", CliTestContext.Ct)).Value);
    }

    [Fact]
    public async Task Put_of_an_existing_key_exits_4_and_keeps_the_value()
    {
        await Kv.PutAsync("cfg/mode", "old"u8.ToArray(), cancellationToken: CliTestContext.Ct);

        var result = await _context.RunAsync("kv", "put", "cfg/mode", "new");

        Assert.Equal(4, result.ExitCode);
        Assert.StartsWith("depot kv put: ", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("old"u8.ToArray(), (await Kv.GetAsync("cfg/mode", CliTestContext.Ct)).Value);
    }

    [Fact]
    public async Task Put_json_reports_the_etag_of_the_value_and_ttl_sets_the_expiry()
    {
        var result = await _context.RunAsync("kv", "put", "session/abc", "hello", "--ttl", "1h", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.Equal(DepotKeyValue.ETagOf("hello"u8), json.RootElement.GetProperty("etag").GetString());
        Assert.Equal("session/abc", json.RootElement.GetProperty("key").GetString());
        Assert.Equal(5, json.RootElement.GetProperty("size").GetInt64());
        var expires = await Kv.GetExpiryAsync("session/abc", CliTestContext.Ct);
        Assert.NotNull(expires);
        Assert.InRange(expires.Value, DateTimeOffset.UtcNow.AddMinutes(58), DateTimeOffset.UtcNow.AddMinutes(61));
    }

    [Fact]
    public async Task Update_replaces_a_value_and_without_ttl_makes_it_permanent()
    {
        await Kv.PutAsync("counter", "1"u8.ToArray(), new KeyValueWriteOptions { TimeToLive = TimeSpan.FromHours(1) }, CliTestContext.Ct);

        var result = await _context.RunAsync("kv", "update", "/counter", "2");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("stored default/counter", result.Stdout, StringComparison.Ordinal);
        var entry = await Kv.GetAsync("counter", CliTestContext.Ct);
        Assert.Equal("2"u8.ToArray(), entry.Value);
        Assert.Null(entry.Expires);
    }

    [Fact]
    public async Task Get_json_gives_text_values_as_text_and_binary_ones_as_base64()
    {
        await Kv.PutAsync("text", Encoding.UTF8.GetBytes("grüße"), cancellationToken: CliTestContext.Ct);
        await Kv.PutAsync("binary", new byte[] { 0xff, 0x00, 0xc3 }, cancellationToken: CliTestContext.Ct);

        var text = await _context.RunAsync("kv", "get", "text", "--json");
        var binary = await _context.RunAsync("kv", "get", "binary", "--json");

        Assert.True(text.ExitCode == 0, text.ToString());
        using var textJson = JsonDocument.Parse(text.Stdout);
        Assert.Equal("grüße", textJson.RootElement.GetProperty("value").GetString());
        Assert.False(textJson.RootElement.TryGetProperty("encoding", out _));
        Assert.Equal(DepotKeyValue.ETagOf(Encoding.UTF8.GetBytes("grüße")), textJson.RootElement.GetProperty("etag").GetString());
        using var binaryJson = JsonDocument.Parse(binary.Stdout);
        Assert.Equal("base64", binaryJson.RootElement.GetProperty("encoding").GetString());
        Assert.Equal(new byte[] { 0xff, 0x00, 0xc3 }, Convert.FromBase64String(binaryJson.RootElement.GetProperty("value").GetString()!));
    }

    [Fact]
    public async Task Get_of_a_missing_key_exits_3_naming_it()
    {
        var result = await _context.RunAsync("kv", "get", "nope/missing");

        Assert.Equal(3, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.Contains("default/nope/missing", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cas_swaps_over_the_current_etag_and_a_stale_one_exits_6_naming_the_current()
    {
        await Kv.PutAsync("lock", "a"u8.ToArray(), cancellationToken: CliTestContext.Ct);
        var etag = await _context.RunAsync("kv", "get", "--etag", "lock");
        Assert.True(etag.ExitCode == 0, etag.ToString());
        var first = etag.Stdout.Trim();
        Assert.Equal(DepotKeyValue.ETagOf("a"u8), first);

        var swapped = await _context.RunAsync("kv", "cas", "lock", "b", "--expect", first);
        var stale = await _context.RunAsync("kv", "cas", "lock", "c", "--expect", first);
        var missing = await _context.RunAsync("kv", "cas", "nothing-here", "c", "--expect", first);

        Assert.True(swapped.ExitCode == 0, swapped.ToString());
        Assert.Equal(6, stale.ExitCode);
        Assert.Contains(DepotKeyValue.ETagOf("b"u8), stale.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, missing.ExitCode);
        Assert.Equal("b"u8.ToArray(), (await Kv.GetAsync("lock", CliTestContext.Ct)).Value);
    }

    [Fact]
    public async Task Rm_removes_honours_if_match_and_exits_3_when_missing()
    {
        await Kv.PutAsync("gone", "x"u8.ToArray(), cancellationToken: CliTestContext.Ct);

        var wrongEtag = await _context.RunAsync("kv", "rm", "gone", "--if-match", DepotKeyValue.ETagOf("y"u8));
        var kept = await Kv.TryGetAsync("gone", CliTestContext.Ct);
        var removed = await _context.RunAsync("kv", "rm", "gone", "--if-match", DepotKeyValue.ETagOf("x"u8));
        var again = await _context.RunAsync("kv", "rm", "gone");

        Assert.Equal(6, wrongEtag.ExitCode);
        Assert.NotNull(kept);
        Assert.True(removed.ExitCode == 0, removed.ToString());
        Assert.Null(await Kv.TryGetAsync("gone", CliTestContext.Ct));
        Assert.Equal(3, again.ExitCode);
    }

    [Fact]
    public async Task Bucket_option_addresses_another_bucket()
    {
        var put = await _context.RunAsync("kv", "--bucket", "other", "put", "k", "in-other");
        var get = await _context.RunAsync("kv", "get", "k", "-b", "other");

        Assert.True(put.ExitCode == 0, put.ToString());
        Assert.Equal("in-other", get.Stdout);
        Assert.Equal("in-other"u8.ToArray(), (await _context.Client.KeyValue("other").GetAsync("k", CliTestContext.Ct)).Value);
        Assert.Null(await Kv.TryGetAsync("k", CliTestContext.Ct));
    }

    [Fact]
    public async Task Update_without_a_value_reads_stdin_and_quiet_prints_nothing()
    {
        var result = await _context.RunAsync(["kv", "update", "notes/today", "-q"], stdin: "line 1\nline 2\n"u8.ToArray());

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Empty(result.Stdout);
        Assert.Equal("line 1\nline 2\n"u8.ToArray(), (await Kv.GetAsync("notes/today", CliTestContext.Ct)).Value);
    }

    [Fact]
    public async Task A_bad_ttl_or_empty_key_exits_2_and_writes_nothing()
    {
        var ttl = await _context.RunAsync("kv", "put", "t", "v", "--ttl", "forever");
        var emptyKey = await _context.RunAsync("kv", "put", "/", "v");
        var noExpect = await _context.RunAsync("kv", "cas", "t", "v");

        Assert.Equal(2, ttl.ExitCode);
        Assert.Contains("--ttl", ttl.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, emptyKey.ExitCode);
        Assert.Equal(2, noExpect.ExitCode);
        Assert.Null(await Kv.TryGetAsync("t", CliTestContext.Ct));
    }
}
