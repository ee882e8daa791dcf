using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace Depot.Server.Tests.Infrastructure;

/// <summary>
/// A real <c>depot serve DIR</c> process (the built <c>depot.dll</c> next to the tests, run by <c>dotnet</c>) on a free
/// loopback port, for what only a separate process can show: kill -9, SIGTERM, exit codes, what is printed, restarts on
/// the same data directory.
/// </summary>
/// <remarks>Standard output and error are captured line by line. Disposing kills the process if it is still running.
/// Not thread-safe except for the output accessors.</remarks>
public sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>The admin key passed in <c>DEPOT_ADMIN_KEY</c> unless a test asks for none.</summary>
    public const string DefaultAdminKey = "depot-process-tests-admin-key-0123456789";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private readonly System.Diagnostics.Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly object _outputLock = new();
    private TaskCompletionSource _lineArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(System.Diagnostics.Process process, string dataDirectory, int port, bool https, string? adminKey)
    {
        _process = process;
        DataDirectory = dataDirectory;
        Port = port;
        BaseUrl = $"{(https ? "https" : "http")}://127.0.0.1:{port}";
        AdminKey = adminKey;
    }

    public string DataDirectory { get; }

    public int Port { get; }

    /// <summary><c>http://127.0.0.1:PORT</c> (or https), without a trailing slash.</summary>
    public string BaseUrl { get; }

    /// <summary>The key given in the environment, or null when the server was started without one.</summary>
    public string? AdminKey { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string StandardOutput
    {
        get
        {
            lock (_outputLock)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StandardError
    {
        get
        {
            lock (_outputLock)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Both streams, for failure messages.</summary>
    public string Output => $"--- stdout ---\n{StandardOutput}--- stderr ---\n{StandardError}";

    /// <summary>Starts a server and waits until it answers <c>GET /healthz</c> with 200 and has printed where it serves.</summary>
    /// <param name="adminKey">Sent as <c>DEPOT_ADMIN_KEY</c>; null starts the server without any (it then generates one).</param>
    /// <param name="extraArgs">More arguments after <c>serve DIR --listen ... --no-scan</c> (e.g. <c>--tls-self-signed</c>).</param>
    /// <param name="https">Whether the server speaks TLS (readiness then accepts any certificate; tests pin their own).</param>
    /// <param name="environment">More environment variables for the process (e.g. <c>DEPOT_CRASH_AT</c>); they override
    /// inherited ones.</param>
    public static async Task<ServerProcess> StartAsync(string dataDirectory, string? adminKey = DefaultAdminKey, IEnumerable<string>? extraArgs = null, bool https = false, IReadOnlyDictionary<string, string>? environment = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var server = Launch(dataDirectory, adminKey, extraArgs, https, environment: environment);
            try
            {
                await server.WaitUntilHealthyAsync(StartTimeout);
                return server;
            }
            catch (InvalidOperationException) when (attempt < 3 && server.StandardError.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                // Someone took the free port between FreePort() and the server's bind: try another one.
                await server.DisposeAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Starts the process without waiting for it to become ready (for starts that are expected to fail).</summary>
    /// <param name="port">The port to listen on; by default a free one.</param>
    /// <param name="environment">More environment variables for the process; they override inherited ones.</param>
    public static ServerProcess Launch(string dataDirectory, string? adminKey = DefaultAdminKey, IEnumerable<string>? extraArgs = null, bool https = false, int? port = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var listenPort = port ?? FreePort();
        var depotDll = Path.Combine(AppContext.BaseDirectory, "depot.dll");
        if (!File.Exists(depotDll))
        {
            throw new InvalidOperationException($"{depotDll} is missing; the test project must reference Depot.Cli.");
        }

        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory, // not the data directory: a test may unmount it
        };
        info.ArgumentList.Add(depotDll);
        info.ArgumentList.Add("serve");
        info.ArgumentList.Add(dataDirectory);
        info.ArgumentList.Add("--listen");
        info.ArgumentList.Add($"127.0.0.1:{listenPort}");
        info.ArgumentList.Add("--no-scan");
        foreach (var arg in extraArgs ?? [])
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Remove("DEPOT_ADMIN_KEY");
        if (adminKey is not null)
        {
            info.Environment["DEPOT_ADMIN_KEY"] = adminKey;
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var process = new System.Diagnostics.Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new ServerProcess(process, dataDirectory, listenPort, https, adminKey);
        process.OutputDataReceived += (_, e) => server.Append(server._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(server._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>Polls <c>/healthz</c> until it answers 200 and the "Depot is serving" line has been printed.</summary>
    public async Task WaitUntilHealthyAsync(TimeSpan timeout)
    {
        using var client = new HttpClient(InsecureHandler()) { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync();
                throw new InvalidOperationException($"depot serve exited with code {_process.ExitCode} before it was healthy.\n{Output}");
            }

            try
            {
                using var response = await client.GetAsync("/healthz");
                if (response.StatusCode == HttpStatusCode.OK && StandardOutput.Contains("Depot is serving", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"depot serve did not become healthy within {timeout} at {BaseUrl} (last error: {last?.Message}).\n{Output}");
    }

    /// <summary>Waits until standard output holds a line that satisfies <paramref name="match"/>, and returns it.</summary>
    public async Task<string> WaitForOutputLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            Task arrived;
            lock (_outputLock)
            {
                var line = _stdout.ToString().Split('\n').FirstOrDefault(match);
                if (line is not null)
                {
                    return line;
                }

                arrived = _lineArrived.Task;
            }

            try
            {
                await arrived.WaitAsync(TimeSpan.FromMilliseconds(200), cts.Token);
            }
            catch (TimeoutException)
            {
                // Re-check: the process may have exited, or the line came between check and wait.
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No matching output line within {timeout}.\n{Output}");
            }
        }
    }

    /// <summary>An HttpClient for this server with the admin key (or <paramref name="bearer"/>) as bearer token.</summary>
    /// <param name="handler">Defaults to one that accepts any certificate on an https server; pass a pinning one to test
    /// TLS.</param>
    public HttpClient CreateClient(string? bearer = null, HttpMessageHandler? handler = null, TimeSpan? timeout = null)
    {
        var client = new HttpClient(handler ?? InsecureHandler()) { BaseAddress = new Uri(BaseUrl), Timeout = timeout ?? TimeSpan.FromSeconds(100) };
        var token = bearer ?? AdminKey;
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>SIGKILL: the process gets no chance to clean up (what a crash or the OOM killer does).</summary>
    public void KillHard()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>SIGTERM, as <c>kill PID</c> or systemd sends it: the server shuts down gracefully.</summary>
    public void SendSigterm()
    {
        using var kill = System.Diagnostics.Process.Start(new ProcessStartInfo("kill")
        {
            ArgumentList = { "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            UseShellExecute = false,
        })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0 && !_process.HasExited)
        {
            throw new InvalidOperationException($"kill -TERM {_process.Id} failed with exit code {kill.ExitCode}.");
        }
    }

    /// <summary>SIGTERM, then waits for the exit; returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan? timeout = null)
    {
        SendSigterm();
        return await WaitForExitAsync(timeout ?? TimeSpan.FromSeconds(60));
    }

    /// <summary>Waits for the process to exit and its output to be read to the end; returns the exit code.</summary>
    /// <exception cref="TimeoutException">It is still running after <paramref name="timeout"/>.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            // With redirected output this also waits for both streams to reach end of file.
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"depot serve (pid {_process.Id}) did not exit within {timeout}.\n{Output}");
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Never started, already gone or stuck: nothing more a test can do about it.
        }
        finally
        {
            _process.Dispose();
        }
    }

    /// <summary>Binds port 0, reads the port the OS chose, and releases it for the server.</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>Accepts any server certificate: for readiness probes and tests that do not look at TLS.</summary>
    private static SocketsHttpHandler InsecureHandler() => new()
    {
#pragma warning disable CA5359 // Readiness and plain-HTTP tests only; TLS tests pass their own pinning handler.
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
#pragma warning restore CA5359
    };

    private void Append(StringBuilder into, string? line)
    {
        if (line is null)
        {
            return;
        }

        TaskCompletionSource arrived;
        lock (_outputLock)
        {
            into.Append(line).Append('\n');
            arrived = _lineArrived;
            _lineArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        arrived.TrySetResult();
    }
}
