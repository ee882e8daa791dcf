using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Admin;

public sealed class KeyTests : IAsyncLifetime
{
    private CliTestContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await CliTestContext.StartAsync();

    public ValueTask DisposeAsync() => _context.DisposeAsync();

    [Fact]
    public async Task Create_prints_the_secret_once_and_list_never_shows_it()
    {
        var created = await _context.RunAsync("key", "create", "--scope", "read", "--name", "ci-reader", "-q");
        var list = await _context.RunAsync("key", "list");
        var listJson = await _context.RunAsync("key", "list", "--json");

        Assert.True(created.ExitCode == 0, created.ToString());
        var token = Assert.Single(created.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("dpk_", token, StringComparison.Ordinal);
        var id = token.Split('_')[1];
        var key = Assert.Single(await _context.Client.ListApiKeysAsync(CliTestContext.Ct));
        Assert.Equal(id, key.Id);
        Assert.Equal("ci-reader", key.Name);

        Assert.True(list.ExitCode == 0, list.ToString());
        var lines = list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("ID", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith(id, StringComparison.Ordinal) && l.Contains("ci-reader", StringComparison.Ordinal) && l.Contains(" read ", StringComparison.Ordinal));
        Assert.DoesNotContain(token, list.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(token["dpk_0123456789abcdef_".Length..], listJson.Stdout, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(listJson.Stdout);
        var entry = Assert.Single(json.RootElement.EnumerateArray());
        Assert.False(entry.TryGetProperty("token", out _));
        Assert.Equal("read", Assert.Single(entry.GetProperty("scopes").EnumerateArray()).GetString());
    }

    [Fact]
    public async Task A_read_only_key_reads_but_writing_exits_5()
    {
        await _context.Client.UploadAsync("hello"u8.ToArray(), "/docs/a.txt", cancellationToken: CliTestContext.Ct);
        var created = await _context.RunAsync("key", "create", "--scope", "read", "-q");
        var token = created.Stdout.Trim();
        var asReader = new Dictionary<string, string?> { ["DEPOT_KEY"] = token };

        var read = await _context.RunAsync(["ls", "/docs"], asReader);
        var write = await _context.RunAsync(["kv", "put", "k", "v"], asReader);
        var manage = await _context.RunAsync(["key", "list"], asReader);

        Assert.True(read.ExitCode == 0, read.ToString());
        Assert.Equal("a.txt", read.Stdout.Trim());
        Assert.Equal(5, write.ExitCode);
        Assert.Equal(5, manage.ExitCode);
        Assert.Null(await _context.Client.KeyValue().TryGetAsync("k", CliTestContext.Ct));
    }

    [Fact]
    public async Task A_revoked_key_exits_5_and_revoking_an_unknown_id_exits_3()
    {
        var created = await _context.RunAsync("key", "create", "--scope", "read,write", "--json");
        using var json = JsonDocument.Parse(created.Stdout);
        var id = json.RootElement.GetProperty("id").GetString()!;
        var token = json.RootElement.GetProperty("token").GetString()!;
        var asKey = new Dictionary<string, string?> { ["DEPOT_KEY"] = token };
        var before = await _context.RunAsync(["kv", "put", "k", "v"], asKey);

        var revoke = await _context.RunAsync("key", "revoke", id);
        var after = await _context.RunAsync(["ls", "/"], asKey);
        var unknown = await _context.RunAsync("key", "revoke", "no-such-id");

        Assert.True(before.ExitCode == 0, before.ToString());
        Assert.True(revoke.ExitCode == 0, revoke.ToString());
        Assert.Equal(5, after.ExitCode);
        Assert.Equal(3, unknown.ExitCode);
        Assert.NotNull(Assert.Single(await _context.Client.ListApiKeysAsync(CliTestContext.Ct)).Revoked);
    }

    [Fact]
    public async Task Create_passes_bucket_prefix_expiry_and_rate_limit()
    {
        var result = await _context.RunAsync("key", "create", "--scope", "write", "--scope", "read", "--bucket", "default", "--prefix", "uploads/",
            "--expires", "30d", "--rate-limit", "7", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var key = Assert.Single(await _context.Client.ListApiKeysAsync(CliTestContext.Ct));
        Assert.Equal(["read", "write"], key.Scopes.Order(StringComparer.Ordinal));
        Assert.Equal("default", key.Bucket);
        Assert.Equal("uploads/", key.Prefix);
        Assert.Equal(7, key.RateLimit);
        Assert.NotNull(key.Expires);
        Assert.InRange(key.Expires.Value, DateTimeOffset.UtcNow.AddDays(29.9), DateTimeOffset.UtcNow.AddDays(30.1));

        var dated = await _context.RunAsync("key", "create", "--scope", "read", "--expires", "2099-01-31", "-q");
        Assert.True(dated.ExitCode == 0, dated.ToString());
        var keys = await _context.Client.ListApiKeysAsync(CliTestContext.Ct);
        Assert.Contains(keys, k => k.Expires == new DateTimeOffset(2099, 1, 31, 0, 0, 0, TimeSpan.Zero));
    }

    [Fact]
    public async Task Bad_scopes_or_expiry_exit_2_without_creating_a_key()
    {
        var scope = await _context.RunAsync("key", "create", "--scope", "read,sudo");
        var expiry = await _context.RunAsync("key", "create", "--scope", "read", "--expires", "yesterday");
        var past = await _context.RunAsync("key", "create", "--scope", "read", "--expires", "2001-01-01");

        Assert.Equal(2, scope.ExitCode);
        Assert.Contains("sudo", scope.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, expiry.ExitCode);
        Assert.Equal(2, past.ExitCode);
        Assert.Empty(await _context.Client.ListApiKeysAsync(CliTestContext.Ct));
    }
}
