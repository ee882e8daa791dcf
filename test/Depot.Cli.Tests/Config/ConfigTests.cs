using System.Text;
using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Config;

public sealed class ConfigTests : IAsyncLifetime
{
    /// <summary>Nothing listens there: a setting that wins with this URL makes the command fail with exit 7.</summary>
    private const string DeadUrl = "http://127.0.0.1:9";

    private CliTestContext _context = null!;

    public async ValueTask InitializeAsync()
    {
        _context = await CliTestContext.StartAsync();
        await _context.Client.UploadAsync("hello"u8.ToArray(), "/seen.txt", cancellationToken: CliTestContext.Ct);
    }

    public ValueTask DisposeAsync() => _context.DisposeAsync();

    /// <summary>The default environment without DEPOT_URL and DEPOT_KEY, so that the profile decides.</summary>
    private static Dictionary<string, string?> ProfileOnly(params (string Name, string? Value)[] more)
    {
        var env = new Dictionary<string, string?> { ["DEPOT_URL"] = null, ["DEPOT_KEY"] = null, ["DEPOT_TIMEOUT"] = "5s" };
        foreach (var (name, value) in more)
        {
            env[name] = value;
        }

        return env;
    }

    private static UnixFileMode ModeOf(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("file modes are a Unix thing");
        }

        return File.GetUnixFileMode(path);
    }

    private Task<CliResult> Config(params string[] args) => _context.RunAsync(["config", .. args], ProfileOnly());

    [Fact]
    public async Task Set_and_get_store_settings_in_a_private_file_and_mask_the_key()
    {
        var key = _context.Server.AdminKey;
        var setUrl = await Config("set", "url", _context.Url);
        var setKey = await _context.RunAsync(["config", "set", "key", "-"], ProfileOnly(), stdin: Encoding.UTF8.GetBytes("dpk_" + key + "\n"));
        var getUrl = await Config("get", "url");
        var getKey = await Config("get", "key");
        var shownKey = await Config("get", "key", "--show-key");

        Assert.True(setUrl.ExitCode == 0, setUrl.ToString());
        Assert.True(setKey.ExitCode == 0, setKey.ToString());
        Assert.DoesNotContain(key, setKey.Stdout, StringComparison.Ordinal);
        Assert.Equal(_context.Url, getUrl.Stdout.Trim());
        Assert.Equal("dpk_…(set)", getKey.Stdout.Trim());
        Assert.Equal("dpk_" + key, shownKey.Stdout.Trim());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, ModeOf(_context.ConfigPath));
        using var file = JsonDocument.Parse(File.ReadAllText(_context.ConfigPath));
        Assert.Equal(_context.Url, file.RootElement.GetProperty("profiles").GetProperty("default").GetProperty("url").GetString());
    }

    [Fact]
    public async Task Show_and_list_never_print_the_key()
    {
        var key = _context.Server.AdminKey;
        await Config("set", "key", key);
        await Config("set", "url", _context.Url);
        await Config("set", "timeout", "30s");

        var show = await Config("show");
        var showJson = await Config("show", "--json");
        var list = await Config("list");
        var listJson = await Config("list", "--json");

        Assert.True(show.ExitCode == 0, show.ToString());
        foreach (var output in new[] { show, showJson, list, listJson })
        {
            Assert.DoesNotContain(key, output.Stdout + output.Stderr, StringComparison.Ordinal);
        }

        Assert.Contains(_context.ConfigPath, show.Stdout, StringComparison.Ordinal);
        Assert.Contains("…(set)", show.Stdout, StringComparison.Ordinal);
        Assert.Contains("30s", show.Stdout, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(showJson.Stdout);
        Assert.Equal("default", json.RootElement.GetProperty("profile").GetString());
        Assert.Equal(_context.Url, json.RootElement.GetProperty("url").GetString());
        Assert.Equal(_context.ConfigPath, json.RootElement.GetProperty("path").GetString());
    }

    [Fact]
    public async Task The_profile_is_used_when_no_flag_or_variable_is_given()
    {
        await Config("set", "url", _context.Url);
        await Config("set", "key", _context.Server.AdminKey);

        var result = await _context.RunAsync(["ls"], ProfileOnly());

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("seen.txt", result.Stdout.Trim());
    }

    [Fact]
    public async Task Environment_wins_over_the_profile_and_flags_win_over_the_environment()
    {
        await Config("set", "url", DeadUrl);
        await Config("set", "key", "wrong-key-from-the-profile");

        var envOverProfile = await _context.RunAsync(["ls"], ProfileOnly(("DEPOT_URL", _context.Url), ("DEPOT_KEY", _context.Server.AdminKey)));
        var flagOverEnv = await _context.RunAsync(["ls", "--url", _context.Url, "--key", _context.Server.AdminKey],
            ProfileOnly(("DEPOT_URL", DeadUrl), ("DEPOT_KEY", "wrong-key-from-the-environment")));
        var keyFromEnvOnly = await _context.RunAsync(["ls", "--url", _context.Url], ProfileOnly(("DEPOT_KEY", "wrong-key-from-the-environment")));
        var profileAlone = await _context.RunAsync(["ls", "--timeout", "3s"], ProfileOnly());

        Assert.True(envOverProfile.ExitCode == 0, envOverProfile.ToString());
        Assert.True(flagOverEnv.ExitCode == 0, flagOverEnv.ToString());
        Assert.Equal(5, keyFromEnvOnly.ExitCode);
        Assert.Equal(7, profileAlone.ExitCode);
    }

    [Fact]
    public async Task Profiles_are_listed_used_and_removed()
    {
        await Config("set", "url", DeadUrl);
        var setProd = await Config("set", "url", _context.Url, "--profile", "prod");
        await Config("set", "key", _context.Server.AdminKey, "--profile", "prod");

        var listBefore = await Config("list");
        var viaFlag = await _context.RunAsync(["ls", "--profile", "prod"], ProfileOnly());
        var viaVariable = await _context.RunAsync(["ls"], ProfileOnly(("DEPOT_PROFILE", "prod")));
        var use = await Config("use", "prod");
        var viaCurrent = await _context.RunAsync(["ls"], ProfileOnly());
        var listAfter = await Config("list", "--json");
        var remove = await Config("rm", "prod");
        var listRemoved = await Config("list");

        Assert.Contains("not the current profile", setProd.Stdout, StringComparison.Ordinal);
        Assert.Contains(listBefore.Stdout.Split('\n'), l => l.StartsWith('*') && l.Contains("default", StringComparison.Ordinal));
        Assert.Contains(listBefore.Stdout.Split('\n'), l => l.StartsWith(' ') && l.Contains("prod", StringComparison.Ordinal));
        Assert.True(viaFlag.ExitCode == 0, viaFlag.ToString());
        Assert.True(viaVariable.ExitCode == 0, viaVariable.ToString());
        Assert.True(use.ExitCode == 0, use.ToString());
        Assert.True(viaCurrent.ExitCode == 0, viaCurrent.ToString());
        using var json = JsonDocument.Parse(listAfter.Stdout);
        Assert.Equal("prod", Assert.Single(json.RootElement.EnumerateArray(), p => p.GetProperty("current").GetBoolean()).GetProperty("profile").GetString());
        Assert.True(remove.ExitCode == 0, remove.ToString());
        Assert.DoesNotContain("prod", listRemoved.Stdout, StringComparison.Ordinal);
        Assert.Contains(listRemoved.Stdout.Split('\n'), l => l.StartsWith('*') && l.Contains("default", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_missing_named_profile_exits_2()
    {
        await Config("set", "url", _context.Url);

        var flag = await _context.RunAsync("ls", "--profile", "nope");
        var variable = await _context.RunAsync(["ls"], new Dictionary<string, string?> { ["DEPOT_PROFILE"] = "nope" });
        var show = await Config("show", "--profile", "nope");

        Assert.Equal(2, flag.ExitCode);
        Assert.Contains("'nope'", flag.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, variable.ExitCode);
        Assert.Equal(2, show.ExitCode);
    }

    [Fact]
    public async Task Invalid_values_and_names_exit_2_and_write_nothing()
    {
        var url = await Config("set", "url", "ftp://example.com");
        var timeout = await Config("set", "timeout", "soon");
        var fingerprint = await Config("set", "fingerprint", "AB:CD");
        var name = await Config("set", "colour", "blue");
        var getName = await Config("get", "colour");

        Assert.All(new[] { url, timeout, fingerprint, name, getName }, r => Assert.True(r.ExitCode == 2, r.ToString()));
        Assert.False(File.Exists(_context.ConfigPath));
    }

    [Fact]
    public async Task Missing_things_exit_3_and_unset_removes_a_setting()
    {
        await Config("set", "url", _context.Url);
        await Config("set", "timeout", "20s");

        var unset = await Config("unset", "timeout");
        var getUnset = await Config("get", "timeout");
        var use = await Config("use", "nope");
        var remove = await Config("rm", "nope");

        Assert.True(unset.ExitCode == 0, unset.ToString());
        Assert.Equal(3, getUnset.ExitCode);
        Assert.Equal(3, use.ExitCode);
        Assert.Equal(3, remove.ExitCode);
        Assert.Equal(_context.Url, (await Config("get", "url")).Stdout.Trim());
    }

    [Fact]
    public async Task Path_follows_DEPOT_CONFIG()
    {
        var custom = Path.Combine(_context.Scratch, "elsewhere", "depot.json");

        var standard = await Config("path");
        var moved = await _context.RunAsync(["config", "path"], ProfileOnly(("DEPOT_CONFIG", custom)));
        var set = await _context.RunAsync(["config", "set", "url", _context.Url], ProfileOnly(("DEPOT_CONFIG", custom)));

        Assert.Equal(_context.ConfigPath, standard.Stdout.Trim());
        Assert.Equal(custom, moved.Stdout.Trim());
        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.True(File.Exists(custom));
        Assert.False(File.Exists(_context.ConfigPath));
    }

    [Fact]
    public async Task Json_answers_mask_the_key_unless_it_is_asked_for()
    {
        var key = "dpk_0123456789abcdef_secret-part-of-the-key";

        var set = await Config("set", "key", key, "--json");
        var get = await Config("get", "key", "--json");
        var shown = await Config("get", "key", "--show-key", "--json");

        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.DoesNotContain("secret-part", set.Stdout + get.Stdout, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(get.Stdout);
        Assert.Equal("dpk_…(set)", json.RootElement.GetProperty("value").GetString());
        using var shownJson = JsonDocument.Parse(shown.Stdout);
        Assert.Equal(key, shownJson.RootElement.GetProperty("value").GetString());
    }
}
