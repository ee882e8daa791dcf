using System.CommandLine;
using System.Globalization;
using Depot.Cli.Shell;

namespace Depot.Cli.Commands.Queue;

/// <summary><c>depot queue list</c>: every item of the queue, in enqueue order; needs no server.</summary>
internal static class QueueListCommand
{
    private static readonly string[] Header = ["ID", "STATE", "SIZE", "DONE", "TRIES", "LOCAL", "DESTINATION", "LAST ERROR"];

    public static Command Create()
    {
        var command = new Command("list", "List the queued uploads: state, progress, attempts and last error.");
        command.Aliases.Add("ls");
        CliAction.Set(command, async context =>
        {
            await using var open = await QueueCommand.OpenAsync(context, uploads: false);
            var items = await open.Queue.ListAsync(context.Cancellation);
            context.Output.WriteJson(items.Select(QueueItemJson.From).ToList());
            if (items.Count == 0)
            {
                context.Output.Info($"the queue is empty ({open.Queue.DatabasePath})");
                return ExitCodes.Ok;
            }

            var rows = new List<string[]> { Header };
            rows.AddRange(items.Select(item => new[]
            {
                item.Id.ToString(CultureInfo.InvariantCulture),
                QueueItemJson.StateName(item.State),
                Units.FormatSize(item.Size),
                ((int)QueueItemJson.ProgressOf(item)).ToString(CultureInfo.InvariantCulture) + "%",
                item.Attempts.ToString(CultureInfo.InvariantCulture),
                item.LocalPath + (item.Snapshot ? " (snapshot)" : ""),
                item.Destination.ToString(),
                item.LastError is { } error ? $"{error.Code}: {QueueErrorJson.Describe(error.Message)}" : "-",
            }));
            context.Output.Table(rows, false, false, true, true, true);
            return ExitCodes.Ok;
        });
        return command;
    }
}
