using System.Diagnostics;
using System.Text;
using Depot.Client;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Cli.Tests.Infrastructure;

/// <summary>What one run of the <c>depot</c> executable did.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// A real Depot server on loopback (in-process, with the admin key) and a way to run the built <c>depot</c> command
/// against it as a separate process, with a private HOME, config file and client state directory, and a scratch
/// directory as working directory. Everything is deleted on dispose.
/// </summary>
public sealed class CliTestContext : IAsyncDisposable
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);
    private readonly List<DepotClient> _clients = [];

    private CliTestContext(DepotTestServer server, string scratch, string home)
    {
        Server = server;
        Scratch = scratch;
        Home = home;
        Client = CreateClient();
    }

    public DepotTestServer Server { get; }

    /// <summary>The test's cancellation token, for SDK calls in tests.</summary>
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The working directory of every run, for local files of the test.</summary>
    public string Scratch { get; }

    /// <summary>HOME of the runs; the config file is <c>Home/.config/depot/config.json</c>.</summary>
    public string Home { get; }

    public string ConfigPath => Path.Combine(Home, ".config", "depot", "config.json");

    /// <summary>The client state directory the runs use (resumable uploads, the queue): DEPOT_STATE_DIR.</summary>
    public string StateDirectory => Path.Combine(Home, "state");

    public string Url => Server.BaseUrl.ToString().TrimEnd('/');

    /// <summary>An SDK client with the admin key, to set up and check what the command did.</summary>
    public DepotClient Client { get; }

    /// <summary>Path of the built depot.dll next to the tests.</summary>
    public static string DepotDll => Path.Combine(AppContext.BaseDirectory, "depot.dll");

    public static async Task<CliTestContext> StartAsync(Action<DepotServerOptions, string>? configure = null)
    {
        var server = await DepotTestServer.StartAsync(configure);
        var scratch = Path.Combine(server.RootDirectory, "work");
        var home = Path.Combine(server.RootDirectory, "home");
        Directory.CreateDirectory(scratch);
        Directory.CreateDirectory(home);
        return new CliTestContext(server, scratch, home);
    }

    public DepotClient CreateClient(string? apiKey = null)
    {
        var options = DepotClientOptions.For(Url, apiKey ?? Server.AdminKey);
        options.StateDirectory = Path.Combine(Home, "sdk-state");
        var client = new DepotClient(options);
        _clients.Add(client);
        return client;
    }

    /// <summary>The environment of a run: the server's URL and admin key, a private HOME; nothing inherited that
    /// starts with DEPOT_. A null value removes the variable.</summary>
    public Dictionary<string, string?> Environment() => new(StringComparer.Ordinal)
    {
        ["DEPOT_URL"] = Url,
        ["DEPOT_KEY"] = Server.AdminKey,
        ["HOME"] = Home,
        ["XDG_CONFIG_HOME"] = null,
        ["DEPOT_STATE_DIR"] = StateDirectory,
        ["NO_COLOR"] = null,
        ["TERM"] = null,
    };

    /// <summary>Runs <c>depot ARGS</c> with the default environment.</summary>
    public Task<CliResult> RunAsync(params string[] args) => RunAsync(args, env: null);

    /// <summary>Runs <c>depot ARGS</c>; <paramref name="env"/> changes the default environment; <paramref name="stdin"/>
    /// is written to its standard input (closed right away otherwise).</summary>
    public async Task<CliResult> RunAsync(string[] args, IReadOnlyDictionary<string, string?>? env = null, byte[]? stdin = null, string? workingDirectory = null)
    {
        var (stdout, stderr, exitCode) = await RunRawAsync(args, env, stdin, workingDirectory);
        return new CliResult(exitCode, Encoding.UTF8.GetString(stdout), stderr);
    }

    /// <summary>As <c>RunAsync</c>, with stdout as bytes (for <c>cat</c>). Cancelled with the test.</summary>
    public async Task<(byte[] Stdout, string Stderr, int ExitCode)> RunRawAsync(string[] args, IReadOnlyDictionary<string, string?>? env = null, byte[]? stdin = null, string? workingDirectory = null)
    {
        using var process = Start(args, env, workingDirectory);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(RunTimeout);
        var stdoutTask = ReadAllAsync(process.StandardOutput.BaseStream, timeout.Token);
        var stderrTask = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            if (stdin is not null)
            {
                await process.StandardInput.BaseStream.WriteAsync(stdin, timeout.Token);
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync(timeout.Token);
            return (await stdoutTask, await stderrTask, process.ExitCode);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"depot {string.Join(' ', args)} did not finish in {RunTimeout.TotalSeconds} s");
        }
    }

    /// <summary>Starts <c>depot ARGS</c> and returns the running process (stdin, stdout and stderr redirected), for
    /// tests that interrupt it or talk to it.</summary>
    public Process Start(string[] args, IReadOnlyDictionary<string, string?>? env = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Scratch,
        };
        info.ArgumentList.Add(DepotDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        ApplyEnvironment(info, env);
        return Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
    }

    /// <summary>
    /// Runs <c>depot ARGS</c> on a pseudo-terminal (util-linux <c>script</c>) with TERM=xterm-256color, and returns all
    /// it wrote to the terminal, escape sequences included.
    /// </summary>
    public async Task<CliResult> RunInTerminalAsync(string[] args, IReadOnlyDictionary<string, string?>? env = null)
    {
        var command = string.Join(' ', new[] { "dotnet", DepotDll }.Concat(args).Select(ShellQuote));
        var info = new ProcessStartInfo("script")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Scratch,
        };
        // -q: no banner; -e: the command's exit code; -f: flush as it comes; the typescript file is discarded.
        foreach (var arg in new[] { "-q", "-e", "-f", "-c", command, "/dev/null" })
        {
            info.ArgumentList.Add(arg);
        }

        var environment = Environment();
        environment["TERM"] = "xterm-256color";
        environment["COLUMNS"] = "120";
        environment["LINES"] = "40";
        foreach (var (name, value) in env ?? new Dictionary<string, string?>())
        {
            environment[name] = value;
        }

        ApplyEnvironment(info, environment, replace: true);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start script");
        using var timeout = new CancellationTokenSource(RunTimeout);
        var stdoutTask = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderrTask = process.StandardError.ReadToEndAsync(timeout.Token);
        process.StandardInput.Close();
        await process.WaitForExitAsync(timeout.Token);
        return new CliResult(process.ExitCode, await stdoutTask, await stderrTask);
    }

    /// <summary>Writes a local file of pseudo-random bytes under <see cref="Scratch"/> and returns its full path.</summary>
    public string WriteFile(string relativePath, long length, int seed = 1) =>
        LocalFiles.WriteRandom(Path.Combine(Scratch, relativePath), length, seed);

    /// <summary>Writes a local text file under <see cref="Scratch"/> and returns its full path.</summary>
    public string WriteText(string relativePath, string text)
    {
        var path = Path.Combine(Scratch, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public static string Sha256Of(string path) => LocalFiles.Sha256Of(path);

    /// <summary>True when <paramref name="text"/> holds a control character other than newline and tab (escape
    /// sequences, carriage returns, backspaces).</summary>
    public static bool HasControlCharacters(string text) => text.Any(c => char.IsControl(c) && c is not '\n' and not '\t');

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        await Server.DisposeAsync();
    }

    private void ApplyEnvironment(ProcessStartInfo info, IReadOnlyDictionary<string, string?>? env, bool replace = false)
    {
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("DEPOT_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        var environment = replace ? new Dictionary<string, string?>() : Environment();
        foreach (var (name, value) in env ?? new Dictionary<string, string?>())
        {
            environment[name] = value;
        }

        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    private static string ShellQuote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
