using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Files;

/// <summary><c>depot mv SRC... DST</c> and <c>depot cp SRC... DST</c>: server-side renames and copies, also into
/// another bucket. They replace an existing destination file unless <c>-n</c> (as cp and mv do).</summary>
internal static class CopyMoveCommand
{
    public static Command CreateMove() => Create(move: true);

    public static Command CreateCopy() => Create(move: false);

    private static Command Create(bool move)
    {
        // One argument for both: the parser gives a variadic argument every token, leaving none for a second one.
        var paths = new Argument<string[]>("SRC-DST")
        {
            Description = (move ? "SRC... DST: remote files or directories to move, then" : "SRC... DST: remote files to copy, then")
                + " their new path; a directory DST (existing, a bucket name, or ending in '/') receives them under their own names.",
            Arity = new ArgumentArity(2, ArgumentArity.ZeroOrMore.MaximumNumberOfValues),
        };
        var noClobber = new Option<bool>("--no-clobber", "-n") { Description = "Refuse to replace an existing destination file (exit 4)." };
        var command = move
            ? new Command("mv", "Move or rename remote files and directories (a copy and a delete across buckets).") { paths, noClobber }
            : new Command("cp", "Copy remote files on the server, also into another bucket.") { paths, noClobber };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var texts = context.Value(paths);
            var from = texts[..^1].Select(CliContext.RemotePath).ToList();
            var destinationText = texts[^1];
            var to = CliContext.RemotePath(destinationText);
            context.Subject = to.ToString();
            var intoDirectory = destinationText.EndsWith('/') || to.IsRoot || await IsDirectoryAsync(context, to);
            if (from.Count > 1 && !intoDirectory)
            {
                throw CliException.Usage($"{to} is not a directory: with several sources the destination must be one (end it with '/' to create it).");
            }

            var overwrite = !context.Value(noClobber);
            var batch = new ItemBatch(command, context, from.Count);
            var results = new List<TransferredJson>();
            var produced = new HashSet<DepotPath>();
            foreach (var source in from)
            {
                var target = intoDirectory ? to.Combine(source.Name) : to;
                await batch.RunAsync(source.ToString(), async () =>
                {
                    if (target == source)
                    {
                        throw CliException.Usage($"{source}: source and destination are the same path.");
                    }

                    // Two sources with one name would land on one target: the second would replace the first, which
                    // for mv is already gone from its source (mv refuses this too).
                    if (!produced.Add(target))
                    {
                        throw CliException.Exists($"{source}: will not replace {target}, which this command just {(move ? "moved" : "copied")} there.");
                    }

                    var result = move
                        ? await MoveAsync(context, source, target, overwrite)
                        : await CopyAsync(context, source, target, overwrite);
                    results.Add(new TransferredJson(source.ToString(), ObjectJson.From(result)));
                    context.Output.Info($"{(move ? "moved" : "copied")} {source} -> {result.Path}");
                });
            }

            context.Output.WriteJson(batch.JsonOf(results));
            return batch.ExitCode;
        });
        return command;
    }

    private static async Task<bool> IsDirectoryAsync(CliContext context, DepotPath path)
    {
        try
        {
            return await context.Client.TryStatAsync(path, context.Cancellation) is { IsFile: false };
        }
        catch (ForbiddenException)
        {
            return false; // a key that may write but not read: DST is taken as the new name, as written
        }
    }

    private static async Task<DepotObject> CopyAsync(CliContext context, DepotPath source, DepotPath target, bool overwrite)
    {
        try
        {
            return await context.Client.CopyAsync(source, target, overwrite, context.Cancellation);
        }
        catch (ConflictException)
        {
            if (await context.Client.TryStatAsync(source, context.Cancellation) is { IsFile: false })
            {
                throw new CliException(ExitCodes.Conflict, $"{source} is a directory: cp copies files (a directory moves with 'depot mv').");
            }

            throw;
        }
    }

    /// <summary>A rename within a bucket is one atomic server call; across buckets the file is copied, then the
    /// source deleted only if it is still the version that was copied.</summary>
    private static async Task<DepotObject> MoveAsync(CliContext context, DepotPath source, DepotPath target, bool overwrite)
    {
        if (source.Bucket == target.Bucket)
        {
            try
            {
                return await context.Client.MoveAsync(source, target, overwrite, context.Cancellation);
            }
            catch (AlreadyExistsException) when (overwrite)
            {
                // Files are replaced, so a directory is on one side; the server's hint about overwriting does not apply.
                throw CliException.Exists($"{source} -> {target}: something is already there, and a directory neither replaces nor is replaced; choose another destination.");
            }
        }

        var original = await context.Client.StatAsync(source, context.Cancellation);
        if (!original.IsFile)
        {
            throw new CliException(ExitCodes.Conflict, $"{source} is a directory: a directory moves only within its bucket.");
        }

        var copy = await context.Client.CopyAsync(source, target, overwrite, context.Cancellation);
        try
        {
            await context.Client.DeleteAsync(source, ifMatch: original.ETag ?? original.Sha256, cancellationToken: context.Cancellation);
        }
        catch (PreconditionFailedException)
        {
            throw new CliException(ExitCodes.Conflict, $"{source} changed while it was moved: it was copied to {target} but kept; check both and delete the one you do not want.");
        }

        return copy;
    }

    /// <summary>One source of <c>mv --json</c> / <c>cp --json</c>, with the object at its destination.</summary>
    private sealed record TransferredJson(string Source, ObjectJson Object);
}
