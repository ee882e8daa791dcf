using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Files;

/// <summary>
/// The items of a command that takes several paths (<c>rm a b c</c>): each is done on its own, and a failure is
/// printed (naming its path) while the others go on. A single item fails exactly as a single-item command does.
/// </summary>
internal sealed class ItemBatch(Command command, CliContext context, int count)
{
    private readonly List<int> _failures = [];
    private int _succeeded;

    /// <summary>Runs <paramref name="step"/> for the item <paramref name="subject"/> (the path error lines name).</summary>
    public async Task RunAsync(string subject, Func<Task> step)
    {
        context.Subject = subject;
        try
        {
            await step();
            _succeeded++;
        }
        catch (Exception error) when (count > 1 && !EndsEverything(error))
        {
            _failures.Add(CliAction.Report(command, context, error));
        }
    }

    /// <summary>Failures that would only repeat for every item left: cancellation (Ctrl+C, a timeout), a server that
    /// cannot be reached (after the SDK's retries), a key that is refused.</summary>
    private static bool EndsEverything(Exception error) =>
        error is OperationCanceledException or DepotUnavailableException or UnauthorizedException;

    /// <summary>0 when every item was done; the failures' own exit code when every item failed the same way (so
    /// <c>rm a b</c> with both missing is "not found"); otherwise <see cref="ExitCodes.Partial"/>.</summary>
    public int ExitCode => _failures.Count == 0 ? ExitCodes.Ok
        : _succeeded == 0 && _failures.TrueForAll(code => code == _failures[0]) ? _failures[0]
        : ExitCodes.Partial;

    /// <summary>The result of one item as an object, of several as an array (as <c>stat</c> prints them).</summary>
    public object JsonOf<T>(List<T> results) => count == 1 && results.Count == 1 ? results[0]! : results;
}
