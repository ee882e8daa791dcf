using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Depot.Client.Tests.Resilience;

/// <summary>
/// A client process (<c>depot-client-testhost.dll</c>, built next to the tests, run by <c>dotnet</c>) uploading one
/// file through an upload session, so that a test can SIGKILL it mid-upload. Its output is read asynchronously;
/// disposing kills it if it still runs.
/// </summary>
internal sealed class ClientHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly object _gate = new();
    private long _progress = -1;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ClientHostProcess(Process process) => _process = process;

    /// <summary>The highest <c>progress N</c> printed so far (-1 before the first).</summary>
    public long Progress => Interlocked.Read(ref _progress);

    public bool HasExited => _process.HasExited;

    /// <summary>Both output streams, for assertion messages.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return $"--- stdout ---\n{_stdout}--- stderr ---\n{_stderr}";
            }
        }
    }

    public string StandardOutput
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>Starts <c>dotnet depot-client-testhost.dll URL KEY STATE_DIR LOCAL_FILE REMOTE_PATH CHUNK_SIZE</c>.</summary>
    public static ClientHostProcess Start(Uri url, string key, string stateDirectory, string localFile, string remotePath, int chunkSize)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "depot-client-testhost.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing; the test project must reference Depot.Client.TestHost.");
        }

        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add(url.ToString());
        info.ArgumentList.Add(key);
        info.ArgumentList.Add(stateDirectory);
        info.ArgumentList.Add(localFile);
        info.ArgumentList.Add(remotePath);
        info.ArgumentList.Add(chunkSize.ToString(CultureInfo.InvariantCulture));
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var host = new ClientHostProcess(process);
        process.OutputDataReceived += (_, e) => host.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => host.OnError(e.Data);
        process.Exited += (_, _) => host.Signal();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Waits until the process has printed progress of at least <paramref name="bytes"/>.</summary>
    /// <exception cref="InvalidOperationException">It exited first.</exception>
    public async Task WaitForProgressAsync(long bytes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                changed = _changed.Task;
            }

            if (Progress >= bytes)
            {
                return;
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The client process exited (code {_process.ExitCode}) before progress {bytes}.\n{Output}");
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"The client process did not reach progress {bytes} within {timeout}.\n{Output}");
            }
        }
    }

    /// <summary>SIGKILL (the whole tree), then waits until it is gone and its output is read to the end.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Never started, already gone or stuck: nothing more a test can do.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            Signal();
            return;
        }

        lock (_gate)
        {
            _stdout.Append(line).Append('\n');
        }

        if (line.StartsWith("progress ", StringComparison.Ordinal)
            && long.TryParse(line.AsSpan("progress ".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes))
        {
            long seen;
            while (bytes > (seen = Interlocked.Read(ref _progress)) && Interlocked.CompareExchange(ref _progress, bytes, seen) != seen)
            {
            }
        }

        Signal();
    }

    private void OnError(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _stderr.Append(line).Append('\n');
        }
    }

    private void Signal()
    {
        TaskCompletionSource previous;
        lock (_gate)
        {
            previous = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }
}
