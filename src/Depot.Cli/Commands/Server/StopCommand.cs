using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Depot.Cli.Shell;

namespace Depot.Cli.Commands.Server;

/// <summary><c>depot stop [DIR] [--pidfile FILE]</c>: ends a background server gracefully (SIGTERM: requests in flight
/// finish, nothing half-written is published) and waits until it has exited.</summary>
internal static class StopCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "The served directory, whose .depot/depot.pid is the default pidfile.", DefaultValueFactory = _ => "." };
        var pidFile = new Option<string?>("--pidfile") { Description = "The pidfile given to 'depot serve --detach' (default DIR/.depot/depot.pid).", HelpName = "FILE" };
        var timeout = new Option<string>("--timeout")
        {
            Description = "How long to wait for the server to finish its requests and exit (the server gives requests in flight 30s).",
            DefaultValueFactory = _ => "60s",
            HelpName = "DURATION",
        };
        var command = new Command("stop", "Stop a server started with 'depot serve --detach'.") { dir, pidFile, timeout, GlobalOptions.Json, GlobalOptions.Quiet };
        CliAction.Set(command, async context =>
        {
            var wait = Units.RequireDuration(context.Value(timeout), "--timeout");
            var path = Path.GetFullPath(context.Value(pidFile) ?? PidFile.DefaultPath(context.Value(dir)));
            context.Subject = path;
            int? read;
            try
            {
                read = PidFile.Read(path);
            }
            catch (FormatException e)
            {
                throw new CliException(ExitCodes.Failure, e.Message + " Remove it if no server runs.");
            }

            var pid = read ?? throw CliException.NotFound($"no pidfile at {path}: no server was started with it, or it has stopped.");
            if (!PidFile.IsRunning(pid))
            {
                File.Delete(path);
                throw CliException.NotFound($"the server (pid {pid}) is not running; removed the stale pidfile {path}.");
            }

            if (!PidFile.IsDepotServer(pid, path))
            {
                var program = PidFile.CommandLine(pid) is { Length: > 0 } arguments ? string.Join(' ', arguments) : "another program";
                throw new CliException(ExitCodes.Failure, $"pid {pid} is not the depot server that wrote {path} ({program}); not stopping it. If the server is gone, remove the stale pidfile {path}.");
            }

            var stopwatch = Stopwatch.StartNew();
            await SignalAsync(pid);
            while (PidFile.IsRunning(pid))
            {
                if (stopwatch.Elapsed > wait)
                {
                    throw new CliException(ExitCodes.Failure, $"the server (pid {pid}) is still running after {Units.FormatDuration(wait)}; it may be finishing long requests. Wait and run 'depot stop' again, raise --timeout, or end it at once with 'kill -9 {pid}'.");
                }

                await Task.Delay(100, context.Cancellation);
            }

            // A server that exited gracefully removed it already; one that was killed left it behind.
            File.Delete(path);
            context.Output.Info($"stopped the depot server (pid {pid}) in {Units.FormatDuration(stopwatch.Elapsed)}");
            context.Output.WriteJson(new { pid, stopped = true });
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>SIGTERM, through kill(1): the server's graceful shutdown.</summary>
    private static async Task SignalAsync(int pid)
    {
        var start = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var argument in new[] { "-s", "TERM", pid.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using var kill = Process.Start(start) ?? throw new InvalidOperationException("could not run kill");
        var error = await kill.StandardError.ReadToEndAsync();
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
        {
            throw new CliException(ExitCodes.Failure, $"could not signal pid {pid}: {error.Trim()}");
        }
    }
}
