using System.CommandLine;
using System.Runtime.InteropServices;
using Depot.Client;

namespace Depot.Cli.Shell;

/// <summary>
/// Runs a command's body with what every client command shares: Ctrl+C and SIGTERM cancel it (exit 130, nothing half
/// published), and every failure becomes one line on stderr (or a JSON error object) and the exit code of its class.
/// </summary>
internal static class CliAction
{
    /// <summary>Adds the connection and output options to <paramref name="command"/> (recursive, so a group's
    /// subcommands take them too) and returns it.</summary>
    public static T WithGlobalOptions<T>(this T command)
        where T : Command
    {
        foreach (var option in GlobalOptions.All)
        {
            command.Options.Add(option);
        }

        return command;
    }

    /// <summary>Sets the action of <paramref name="command"/> to <paramref name="body"/>, which returns the exit code.</summary>
    public static void Set(Command command, Func<CliContext, Task<int>> body) =>
        command.SetAction((parse, _) => RunAsync(command, parse, body));

    private static async Task<int> RunAsync(Command command, ParseResult parse, Func<CliContext, Task<int>> body)
    {
        var output = new CliOutput(parse.GetValue(GlobalOptions.Json), parse.GetValue(GlobalOptions.Quiet));
        using var cancellation = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        await using var context = new CliContext(parse, output, cancellation.Token);
        try
        {
            return await body(context);
        }
        catch (IOException error) when (IsBrokenPipe(error))
        {
            return ExitCodes.BrokenPipe; // the reader has what it wanted; nothing to say to it
        }
        catch (Exception error) when (error is not OperationCanceledException || cancellation.IsCancellationRequested)
        {
            return Report(command, context, error);
        }
        catch (OperationCanceledException error)
        {
            // Not our cancellation: an SDK timeout surfaced as a cancellation.
            return Report(command, context, new DepotUnavailableException(ClientErrorCodes.Timeout, 0, $"no answer in time ({error.Message}). Check the server, or raise --timeout."));
        }

        void Cancel(PosixSignalContext signal)
        {
            if (cancellation.IsCancellationRequested)
            {
                return; // a second Ctrl+C: let the runtime end the process
            }

            signal.Cancel = true;
            cancellation.Cancel();
        }
    }

    /// <summary>EPIPE (errno 32) on a write: stdout's reader closed the pipe.</summary>
    public static bool IsBrokenPipe(Exception error) =>
        error is IOException { HResult: 32 } || (error is IOException && error.Message.Contains("Broken pipe", StringComparison.Ordinal))
        || (error.InnerException is { } inner && IsBrokenPipe(inner));

    /// <summary>Prints the error and returns its exit code.</summary>
    public static int Report(Command command, CliContext context, Exception error)
    {
        var (exitCode, code) = ErrorReport.Classify(error);
        var message = ErrorReport.Describe(error);
        if (context.Subject is { } subject && !message.Contains(subject, StringComparison.Ordinal))
        {
            message = $"{subject}: {message}";
        }

        var name = CommandName(command);
        if (context.Output.Json)
        {
            context.Output.Error.WriteLine(CliOutput.SerializeJson(new { error = new { code, exitCode, message, path = context.Subject } }));
        }
        else
        {
            context.Output.Error.WriteLine($"{name}: {CliOutput.Sanitize(message)}");
        }

        if (exitCode == ExitCodes.Failure && Environment.GetEnvironmentVariable("DEPOT_DEBUG") is "1")
        {
            context.Output.Error.WriteLine(error.ToString());
        }

        return exitCode;
    }

    /// <summary>"depot kv put": the command's full name, for error lines.</summary>
    public static string CommandName(Command command)
    {
        var names = new List<string>();
        for (Symbol? symbol = command; symbol is Command current; symbol = current.Parents.FirstOrDefault())
        {
            names.Add(current is RootCommand ? "depot" : current.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }
}
