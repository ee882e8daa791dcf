using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Files;

/// <summary><c>depot mkdir [-p] PATH...</c>: creates remote directories, checked like mkdir(1).</summary>
internal static class MakeDirectoryCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("PATH") { Description = "Remote directories to create (bucket/dir or /dir).", Arity = ArgumentArity.OneOrMore };
        var parents = new Option<bool>("--parents", "-p") { Description = "Create missing parent directories too, and accept a directory that already exists." };
        var command = new Command("mkdir", "Create remote directories.") { paths, parents };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var directories = context.Value(paths).Select(CliContext.RemotePath).ToList();
            var batch = new ItemBatch(command, context, directories.Count);
            var results = new List<ObjectJson>();
            foreach (var directory in directories)
            {
                await batch.RunAsync(directory.ToString(), async () =>
                {
                    var created = context.Value(parents)
                        ? await CreateWithParentsAsync(context, directory)
                        : await CreateStrictAsync(context, directory);
                    results.Add(ObjectJson.From(created));
                });
            }

            context.Output.WriteJson(batch.JsonOf(results));
            return batch.ExitCode;
        });
        return command;
    }

    /// <summary>The server always creates parents and accepts an existing directory (mkdir -p); plain mkdir's
    /// checks are made here first.</summary>
    private static async Task<DepotObject> CreateStrictAsync(CliContext context, DepotPath directory)
    {
        if (await context.Client.TryStatAsync(directory, context.Cancellation) is { } existing)
        {
            throw CliException.Exists(existing.IsFile
                ? $"{directory}: a file exists at this path."
                : $"{directory}: the directory already exists (-p accepts an existing directory).");
        }

        var parent = await context.Client.TryStatAsync(directory.Parent, context.Cancellation);
        if (parent is null)
        {
            throw CliException.NotFound(directory.Parent.IsRoot
                ? $"{directory}: no bucket '{directory.Bucket}'."
                : $"{directory}: the parent directory {directory.Parent} does not exist; use -p to create it too.");
        }

        if (parent.IsFile)
        {
            throw new CliException(ExitCodes.Conflict, $"{directory}: {directory.Parent} is a file, not a directory.");
        }

        return await context.Client.CreateDirectoryAsync(directory, context.Cancellation);
    }

    private static async Task<DepotObject> CreateWithParentsAsync(CliContext context, DepotPath directory)
    {
        try
        {
            return await context.Client.CreateDirectoryAsync(directory, context.Cancellation);
        }
        catch (ConflictException)
        {
            if (await context.Client.TryStatAsync(directory, context.Cancellation) is { IsFile: true })
            {
                // mkdir -p on a file is "File exists", not a conflict somewhere along the path.
                throw CliException.Exists($"{directory}: a file exists at this path.");
            }

            throw;
        }
    }
}
