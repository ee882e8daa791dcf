using System.CommandLine;
using System.Globalization;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Queue;

/// <summary><c>depot queue rm ID...</c>, <c>depot queue clear</c> (remove items and their snapshot copies) and
/// <c>depot queue retry</c>; they need no server.</summary>
internal static class QueueRemoveCommand
{
    public static Command CreateRemove()
    {
        var ids = new Argument<long[]>("ID") { Description = "Item numbers, as 'depot queue list' shows them.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("rm", "Remove queued items (not ones a running 'depot queue run' is uploading).") { ids };
        CliAction.Set(command, async context =>
        {
            await using var open = await QueueCommand.OpenAsync(context, uploads: false);
            var removed = new List<long>();
            var exitCode = await QueueCommand.ForEachAsync(context, command, context.Value(ids), id => "#" + id.ToString(CultureInfo.InvariantCulture), async id =>
            {
                bool found;
                try
                {
                    found = await open.Queue.RemoveAsync(id, context.Cancellation);
                }
                catch (InvalidOperationException e)
                {
                    throw new CliException(ExitCodes.Conflict, e.Message);
                }

                if (!found)
                {
                    throw CliException.NotFound($"#{id} is not in the queue ('depot queue list' shows what is).");
                }

                removed.Add(id);
                context.Output.Info($"removed #{id}");
            });
            context.Output.WriteJson(new { removed });
            return exitCode;
        });
        return command;
    }

    public static Command CreateRetry()
    {
        var ids = new Argument<long[]>("ID") { Description = "Item numbers (default: every failed item).", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("retry", "Make failed items pending again with a fresh set of attempts (after fixing the cause); 'depot queue run' uploads them.") { ids };
        CliAction.Set(command, async context =>
        {
            await using var open = await QueueCommand.OpenAsync(context, uploads: false);
            var given = context.Value(ids);
            var requeued = 0;
            var exitCode = ExitCodes.Ok;
            if (given.Length == 0)
            {
                requeued = await open.Queue.RequeueAsync(null, context.Cancellation);
            }
            else
            {
                exitCode = await QueueCommand.ForEachAsync(context, command, given, id => "#" + id.ToString(CultureInfo.InvariantCulture), async id =>
                {
                    if (await open.Queue.RequeueAsync(id, context.Cancellation) == 0)
                    {
                        throw CliException.NotFound($"#{id} is not a failed (or waiting) item of the queue ('depot queue list' shows the states).");
                    }

                    requeued++;
                });
            }

            context.Output.Info($"{requeued} item{(requeued == 1 ? "" : "s")} pending again");
            context.Output.WriteJson(new { requeued });
            return exitCode;
        });
        return command;
    }

    public static Command CreateClear()
    {
        var failed = new Option<bool>("--failed") { Description = "Remove the failed items instead of the done ones." };
        var all = new Option<bool>("--all") { Description = "Remove every item (except ones a running 'depot queue run' is uploading)." };
        var command = new Command("clear", "Remove the items that are done (default), failed (--failed), or all of them (--all).") { failed, all };
        CliAction.Set(command, async context =>
        {
            var mode = (context.Value(failed), context.Value(all)) switch
            {
                (true, true) => throw CliException.Usage("give either --failed or --all, not both."),
                (true, false) => QueueClearMode.Failed,
                (false, true) => QueueClearMode.All,
                _ => QueueClearMode.Done,
            };
            await using var open = await QueueCommand.OpenAsync(context, uploads: false);
            var removed = await open.Queue.ClearAsync(mode, context.Cancellation);
            var which = mode switch { QueueClearMode.Failed => "failed", QueueClearMode.All => "all", _ => "done" };
            context.Output.Info($"removed {removed} {(mode == QueueClearMode.All ? "" : which + " ")}item{(removed == 1 ? "" : "s")}");
            context.Output.WriteJson(new { removed, mode = which });
            return ExitCodes.Ok;
        });
        return command;
    }
}
