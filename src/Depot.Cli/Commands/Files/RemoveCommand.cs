using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Files;

/// <summary><c>depot rm [-r] [-f] PATH...</c>: deletes remote files and directories.</summary>
internal static class RemoveCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("PATH") { Description = "Remote files or directories to delete.", Arity = ArgumentArity.OneOrMore };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Delete directories with everything in them." };
        var force = new Option<bool>("--force", "-f") { Description = "A path that does not exist is not an error." };
        var wholeBucket = new Option<bool>("--no-preserve-root") { Description = "Allow 'rm -r BUCKET' to delete everything in a bucket (the bucket itself stays)." };
        var command = new Command("rm", "Delete remote files and directories (an empty directory without -r).") { paths, recursive, force, wholeBucket };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var targets = context.Value(paths).Select(CliContext.RemotePath).ToList();
            if (context.Value(recursive) && !context.Value(wholeBucket) && targets.Where(p => p.IsRoot).Select(p => p.Bucket).FirstOrDefault() is { } bucket)
            {
                throw CliException.Usage($"refusing to delete everything in bucket '{bucket}'; add --no-preserve-root if that is what you want.");
            }

            var batch = new ItemBatch(command, context, targets.Count);
            var results = new List<RemovedJson>();
            foreach (var path in targets)
            {
                await batch.RunAsync(path.ToString(), async () =>
                {
                    var deleted = await DeleteAsync(context, path, context.Value(recursive), context.Value(force));
                    results.Add(new RemovedJson(path.ToString(), deleted));
                    if (deleted)
                    {
                        context.Output.Info($"deleted {path}");
                    }
                });
            }

            context.Output.WriteJson(batch.JsonOf(results));
            return batch.ExitCode;
        });
        return command;
    }

    /// <returns>False when nothing was there and <paramref name="force"/> said that is fine.</returns>
    private static async Task<bool> DeleteAsync(CliContext context, DepotPath path, bool recursive, bool force)
    {
        try
        {
            await context.Client.DeleteAsync(path, recursive, cancellationToken: context.Cancellation);
            return true;
        }
        catch (NotFoundException) when (force)
        {
            return false;
        }
        catch (ConflictException) when (!recursive)
        {
            if (await context.Client.TryStatAsync(path, context.Cancellation) is { IsFile: false })
            {
                // The server's message speaks of its query parameter; the CLI has a flag for it.
                throw new CliException(ExitCodes.Conflict, $"{path}: the directory is not empty; use -r to delete it with everything in it.");
            }

            throw;
        }
    }

    /// <summary>One path of <c>rm --json</c>: <c>deleted</c> is false for a missing path with <c>-f</c>.</summary>
    private sealed record RemovedJson(string Path, bool Deleted);
}
