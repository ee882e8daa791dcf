using System.CommandLine;

namespace Depot.Cli.Commands;

/// <summary>The root of the <c>depot</c> command.</summary>
internal static class DepotCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Depot: a self-hosted file transfer and storage server.")
        {
            ServeCommand.Create(),
        };

        // The server's host handles SIGINT/SIGTERM itself (graceful shutdown); the parser must not kill the process.
        var parsed = root.Parse(args);
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }
}
