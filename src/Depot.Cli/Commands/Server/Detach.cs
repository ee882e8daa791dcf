using System.Diagnostics;
using System.Text;

namespace Depot.Cli.Commands.Server;

/// <summary>
/// <c>depot serve --detach</c>: starts the same program again with the same arguments, marked as the detached server
/// (<see cref="ChildVariable"/>), in a new session (so closing the terminal does not end it), with stdin from /dev/null
/// and its output appended to a log file; then waits until the server has written its pidfile (it listens by then) and
/// shows what it printed.
/// </summary>
internal static class Detach
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string pidFile, string logFile, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
        // The log may hold a generated admin key: readable by its owner only.
        var create = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        long logStart;
        using (var log = new FileStream(logFile, create))
        {
            logStart = log.Length;
        }

        // The pidfile names no live server (checked before): a stale one goes, so that only the new server's counts.
        File.Delete(pidFile);

        var start = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            WorkingDirectory = Environment.CurrentDirectory,
        };
        // The shell only sets up stdin and the log, then becomes the server (exec), which keeps the pid.
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1");
        start.ArgumentList.Add("depot-detach");
        start.ArgumentList.Add(logFile);
        if (File.Exists("/usr/bin/setsid"))
        {
            start.ArgumentList.Add("/usr/bin/setsid");
        }

        foreach (var argument in ChildCommand())
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment[ChildVariable] = "1";

        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start /bin/sh");
        var started = DateTime.UtcNow;
        var deadline = started + StartTimeout;
        while (true)
        {
            if (PidFile.ReadLive(pidFile) is { } pid)
            {
                await Console.Out.WriteAsync(ReadFrom(logFile, logStart));
                await Console.Out.WriteLineAsync($"Depot runs in the background as pid {pid} (pidfile {pidFile}, log {logFile}); stop it with 'depot stop --pidfile {pidFile}'.");
                return 0;
            }

            // setsid forks (and its first process exits 0) when it already leads a process group: wait a little more then.
            if (child.HasExited && (child.ExitCode != 0 || DateTime.UtcNow - started > TimeSpan.FromSeconds(10)))
            {
                await Console.Error.WriteAsync(ReadFrom(logFile, logStart));
                await Console.Error.WriteLineAsync($"depot serve: the server exited (code {child.ExitCode}) before it listened; see above or {logFile}.");
                return 1;
            }

            if (DateTime.UtcNow > deadline)
            {
                await Console.Error.WriteAsync(ReadFrom(logFile, logStart));
                await Console.Error.WriteLineAsync($"depot serve: the server (pid {child.Id}) did not write {pidFile} in {StartTimeout.TotalSeconds:0} s; see {logFile}, and stop it with 'kill {child.Id}' if it still runs.");
                return 1;
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>Set in the environment of the background server: it runs with the same arguments, <c>--detach</c>
    /// included (so it finds the same pidfile), and this says that it is the detached one.</summary>
    public const string ChildVariable = "DEPOT_SERVE_DETACHED";

    /// <summary>This program's command line, unchanged: the program is <c>depot</c> itself, or <c>dotnet</c> running depot.dll.</summary>
    private static List<string> ChildCommand()
    {
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this program is unknown.");
        var command = new List<string> { processPath };
        var assembly = typeof(Detach).Assembly.Location;
        if (Path.GetFileNameWithoutExtension(processPath) == "dotnet" && assembly.Length > 0)
        {
            command.Add(assembly);
        }

        command.AddRange(Environment.GetCommandLineArgs()[1..]);
        return command;
    }

    /// <summary>What was appended to the log since <paramref name="offset"/>.</summary>
    private static string ReadFrom(string path, long offset)
    {
        using var log = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        log.Position = Math.Min(offset, log.Length);
        using var reader = new StreamReader(log, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
