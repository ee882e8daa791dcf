using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Server;

/// <summary><c>serve --detach</c> and <c>stop</c> as real processes: a background server on a free port, then the CLI
/// against it. Every server a test started is killed on cleanup, whatever the test did.</summary>
public sealed partial class DetachTests : IAsyncLifetime
{
    private const string AdminKey = "detach-tests-admin-key-0123456789";
    private readonly List<string> _pidFiles = [];
    private readonly List<Process> _strangers = [];
    private CliTestContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await CliTestContext.StartAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var pidFile in _pidFiles)
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture, out var pid))
            {
                KillQuietly(pid);
            }
        }

        foreach (var stranger in _strangers)
        {
            KillQuietly(stranger.Id);
            stranger.Dispose();
        }

        await _context.DisposeAsync();
    }

    [Fact]
    public async Task Detach_returns_once_the_server_listens_and_stop_ends_it_gracefully()
    {
        var (port, dir, pidFile) = Prepare();

        var start = await _context.RunAsync(["serve", "--detach", "--listen", $"127.0.0.1:{port}", "--pidfile", pidFile, "--no-scan", dir], Env(port, adminKey: null));

        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.Contains($"at http://127.0.0.1:{port}/v1/default/", start.Stdout, StringComparison.Ordinal);
        var generated = GeneratedKey().Match(start.Stdout);
        Assert.True(generated.Success, start.Stdout);
        var pid = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        Assert.Contains($"pid {pid}", start.Stdout, StringComparison.Ordinal);
        Assert.Contains("serve", File.ReadAllText($"/proc/{pid}/cmdline"), StringComparison.Ordinal);
        var log = Path.Combine(dir, ".depot", "depot.log");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, ModeOf(log));

        var put = await _context.RunAsync(["kv", "put", "hello", "world"], Env(port, generated.Groups[1].Value));
        var ls = await _context.RunAsync(["ls"], Env(port, generated.Groups[1].Value));
        Assert.True(put.ExitCode == 0, put.ToString());
        Assert.Equal("hello", ls.Stdout.Trim());

        var stop = await _context.RunAsync("stop", "--pidfile", pidFile);

        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Contains($"pid {pid}", stop.Stdout, StringComparison.Ordinal);
        Assert.False(IsRunning(pid), "the server still runs");
        Assert.False(File.Exists(pidFile));
        Assert.Equal("world", File.ReadAllText(Path.Combine(dir, "hello")));
    }

    [Fact]
    public async Task A_second_start_with_the_same_pidfile_is_refused_with_exit_4()
    {
        var (port, dir, pidFile) = Prepare();
        var first = await _context.RunAsync(["serve", "--detach", "--listen", $"127.0.0.1:{port}", "--pidfile", pidFile, dir], Env(port));
        Assert.True(first.ExitCode == 0, first.ToString());
        var pid = File.ReadAllText(pidFile).Trim();

        var second = await _context.RunAsync(["serve", "--detach", "--listen", $"127.0.0.1:{FreePort()}", "--pidfile", pidFile, dir], Env(port));

        Assert.Equal(4, second.ExitCode);
        Assert.Contains("already running", second.Stderr, StringComparison.Ordinal);
        Assert.Equal(pid, File.ReadAllText(pidFile).Trim());
        var stop = await _context.RunAsync("stop", dir);
        Assert.True(stop.ExitCode == 0, stop.ToString());
    }

    [Fact]
    public async Task A_server_that_fails_to_start_makes_detach_exit_1_with_its_output()
    {
        var (_, dir, pidFile) = Prepare();

        var result = await _context.RunAsync(["serve", "--detach", "--listen", $"127.0.0.1:{_context.Server.Port}", "--pidfile", pidFile, dir], Env(_context.Server.Port));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot listen", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(pidFile));
    }

    [Fact]
    public async Task Stop_without_a_pidfile_or_with_a_stale_one_exits_3()
    {
        var (_, _, pidFile) = Prepare();

        var missing = await _context.RunAsync("stop", "--pidfile", pidFile);
        using var exited = Process.Start("true")!;
        await exited.WaitForExitAsync(CliTestContext.Ct);
        File.WriteAllText(pidFile, exited.Id.ToString(CultureInfo.InvariantCulture));
        var stale = await _context.RunAsync("stop", "--pidfile", pidFile);

        Assert.Equal(3, missing.ExitCode);
        Assert.Contains(pidFile, missing.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, stale.ExitCode);
        Assert.False(File.Exists(pidFile));
    }

    [Fact]
    public async Task Stop_never_signals_a_process_that_is_not_depot_and_serve_replaces_such_a_pidfile()
    {
        var (port, dir, pidFile) = Prepare();
        var stranger = Process.Start("sleep", "60")!;
        _strangers.Add(stranger);
        File.WriteAllText(pidFile, stranger.Id.ToString(CultureInfo.InvariantCulture));

        var refused = await _context.RunAsync("stop", "--pidfile", pidFile);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("not the depot server that wrote", refused.Stderr, StringComparison.Ordinal);
        Assert.False(stranger.HasExited);

        var start = await _context.RunAsync(["serve", "--detach", "--listen", $"127.0.0.1:{port}", "--pidfile", pidFile, dir], Env(port));
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.NotEqual(stranger.Id.ToString(CultureInfo.InvariantCulture), File.ReadAllText(pidFile).Trim());
        var stop = await _context.RunAsync("stop", "--pidfile", pidFile, "--json");
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Contains("\"stopped\":true", stop.Stdout, StringComparison.Ordinal);
        Assert.False(stranger.HasExited);
    }

    [Fact]
    public async Task A_foreground_server_with_a_pidfile_writes_it_and_removes_it_on_stop()
    {
        var (port, dir, pidFile) = Prepare();
        using var server = _context.Start(["serve", "--listen", $"127.0.0.1:{port}", "--pidfile", pidFile, dir], Env(port));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(pidFile) && !server.HasExited && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, CliTestContext.Ct);
        }

        Assert.Equal(server.Id.ToString(CultureInfo.InvariantCulture), File.ReadAllText(pidFile).Trim());
        var ls = await _context.RunAsync(["ls"], Env(port));
        var stop = await _context.RunAsync("stop", "--pidfile", pidFile);
        await server.WaitForExitAsync(CliTestContext.Ct);

        Assert.True(ls.ExitCode == 0, ls.ToString());
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Equal(0, server.ExitCode);
        Assert.False(File.Exists(pidFile));
    }

    [Fact]
    public async Task A_stale_pidfile_naming_another_depot_server_neither_stops_it_nor_blocks_a_start()
    {
        // A server of another directory runs; a pidfile left over from before it started (a crash, a reboot) names
        // its pid. That server did not write the file and must be left alone.
        var (port, dir, pidFile) = Prepare();
        var (_, otherDir, otherPidFile) = Prepare();
        using var other = _context.Start(["serve", "--listen", $"127.0.0.1:{port}", "--pidfile", otherPidFile, otherDir], Env(port));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(otherPidFile) && !other.HasExited && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, CliTestContext.Ct);
        }

        File.WriteAllText(pidFile, other.Id.ToString(CultureInfo.InvariantCulture) + "\n");
        File.SetLastWriteTimeUtc(pidFile, DateTime.UtcNow.AddHours(-1));

        var stop = await _context.RunAsync("stop", "--pidfile", pidFile);

        Assert.True(stop.ExitCode == 1, stop.ToString());
        Assert.Contains("not the depot server that wrote", stop.Stderr, StringComparison.Ordinal);
        Assert.False(other.HasExited, "a stranger server was stopped");

        var stopOther = await _context.RunAsync("stop", "--pidfile", otherPidFile);
        Assert.True(stopOther.ExitCode == 0, stopOther.ToString());
        _ = dir;
    }

    [Fact]
    public async Task Detach_appends_to_the_given_log_and_log_without_detach_is_refused()
    {
        var (port, dir, pidFile) = Prepare();
        var log = Path.Combine(_context.Scratch, "logs", "server.log");
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        File.WriteAllText(log, "an earlier line\n");

        var refused = await _context.RunAsync(["serve", "--log", log, "--listen", $"127.0.0.1:{port}", dir], Env(port));
        var start = await _context.RunAsync(["serve", "-d", "--log", log, "--listen", $"127.0.0.1:{port}", "--pidfile", pidFile, dir], Env(port));

        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--detach", refused.Stderr, StringComparison.Ordinal);
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.DoesNotContain("an earlier line", start.Stdout, StringComparison.Ordinal);
        var text = File.ReadAllText(log);
        Assert.StartsWith("an earlier line\n", text, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", text, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, ".depot", "depot.log")));
        var stop = await _context.RunAsync("stop", "--pidfile", pidFile);
        Assert.True(stop.ExitCode == 0, stop.ToString());
    }

    [Fact]
    public async Task Stop_gives_up_after_its_timeout_with_advice_when_the_server_does_not_exit()
    {
        var (_, _, pidFile) = Prepare();
        // Looks like a depot server to stop (argv: sh .../depot serve) but ignores SIGTERM.
        var script = _context.WriteText("fake/depot", "trap '' TERM\nsleep 60\n");
        var stubborn = Process.Start("/bin/sh", [script, "serve"])!;
        _strangers.Add(stubborn);
        File.WriteAllText(pidFile, stubborn.Id.ToString(CultureInfo.InvariantCulture));
        await Task.Delay(200, CliTestContext.Ct); // let the shell set its trap

        var stop = await _context.RunAsync("stop", "--pidfile", pidFile, "--timeout", "1s");

        Assert.Equal(1, stop.ExitCode);
        Assert.Contains("still running", stop.Stderr, StringComparison.Ordinal);
        Assert.Contains($"kill -9 {stubborn.Id}", stop.Stderr, StringComparison.Ordinal);
        Assert.False(stubborn.HasExited);
        Assert.True(File.Exists(pidFile));
    }

    private (int Port, string Dir, string PidFile) Prepare()
    {
        var dir = Path.Combine(_context.Scratch, "served-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var pidFile = Path.Combine(dir, ".depot", "depot.pid");
        Directory.CreateDirectory(Path.GetDirectoryName(pidFile)!);
        _pidFiles.Add(pidFile);
        return (FreePort(), dir, pidFile);
    }

    private static UnixFileMode ModeOf(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("file modes are a Unix thing");
        }

        return File.GetUnixFileMode(path);
    }

    private static Dictionary<string, string?> Env(int port, string? adminKey = AdminKey) => new()
    {
        ["DEPOT_URL"] = $"http://127.0.0.1:{port}",
        ["DEPOT_KEY"] = adminKey,
        ["DEPOT_ADMIN_KEY"] = adminKey,
    };

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The process exists and is not a zombie (an orphan may wait for a reaper that never comes in a container).</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() is not 'Z' and not 'X';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void KillQuietly(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    [GeneratedRegex(@"Admin key \(shown once; keep it safe\): (\S+)")]
    private static partial Regex GeneratedKey();
}
