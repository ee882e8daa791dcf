using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Files;

/// <summary><c>depot meta get|set|rm</c>: a file's user metadata (FastDFS get_metadata / set_metadata).</summary>
internal static class MetaCommand
{
    public static Command Create()
    {
        var command = new Command("meta", "Read and change the user metadata (name=value pairs) of a remote file.") { Get(), Set(), Remove() };
        command.WithGlobalOptions();
        return command;
    }

    private static Command Get()
    {
        var path = new Argument<string>("PATH") { Description = "Remote file." };
        var name = new Argument<string?>("NAME") { Description = "Print only this entry's value (names are case-insensitive).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("get", "Print the metadata as name=value lines, or one entry's value.") { path, name };
        CliAction.Set(command, async context =>
        {
            var file = CliContext.RemotePath(context.Value(path));
            context.Subject = file.ToString();
            var metadata = await context.Client.GetMetadataAsync(file, context.Cancellation);
            if (context.Value(name) is { } wanted)
            {
                // The server stores names lower-cased.
                var key = wanted.ToLowerInvariant();
                if (!metadata.TryGetValue(key, out var value))
                {
                    throw CliException.NotFound($"{file} has no metadata entry '{key}'.");
                }

                context.Output.Data(value);
                context.Output.WriteJson(new MetaValueJson(file.ToString(), key, value));
                return ExitCodes.Ok;
            }

            Print(context.Output.Data, metadata);
            context.Output.WriteJson(new MetaJson(file.ToString(), Sorted(metadata)));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Set()
    {
        var path = new Argument<string>("PATH") { Description = "Remote file." };
        var pairs = new Argument<string[]>("NAME=VALUE") { Description = "Entries to set (names: a-z 0-9 - _ ., case-insensitive).", Arity = ArgumentArity.OneOrMore };
        var merge = new Option<bool>("--merge", "-m") { Description = "Keep the other entries (default: the given entries replace all of them)." };
        var command = new Command("set", "Set the metadata: replace all entries with the given ones, or merge them in with --merge.") { path, pairs, merge };
        CliAction.Set(command, async context =>
        {
            var file = CliContext.RemotePath(context.Value(path));
            var entries = Units.ParsePairs(context.Value(pairs), "meta set").ToDictionary(p => p.Key, p => (string?)p.Value, StringComparer.Ordinal);
            context.Subject = file.ToString();
            var after = await context.Client.SetMetadataAsync(file, entries, context.Value(merge) ? MetadataMode.Merge : MetadataMode.Overwrite, context.Cancellation);
            Print(context.Output.Info, after);
            context.Output.WriteJson(new MetaJson(file.ToString(), Sorted(after)));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Remove()
    {
        var path = new Argument<string>("PATH") { Description = "Remote file." };
        var names = new Argument<string[]>("NAME") { Description = "Entries to remove (missing ones are ignored).", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = "Remove every entry." };
        var command = new Command("rm", "Remove metadata entries.") { path, names, all };
        CliAction.Set(command, async context =>
        {
            var file = CliContext.RemotePath(context.Value(path));
            var toRemove = context.Value(names) ?? [];
            if ((toRemove.Length > 0) == context.Value(all))
            {
                throw CliException.Usage("name the entries to remove, or give --all (not both).");
            }

            context.Subject = file.ToString();
            var after = context.Value(all)
                ? await context.Client.SetMetadataAsync(file, new Dictionary<string, string?>(), MetadataMode.Overwrite, context.Cancellation)
                : await context.Client.DeleteMetadataAsync(file, toRemove, context.Cancellation);
            Print(context.Output.Info, after);
            context.Output.WriteJson(new MetaJson(file.ToString(), Sorted(after)));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static SortedDictionary<string, string> Sorted(IReadOnlyDictionary<string, string> metadata) => new(metadata.ToDictionary(), StringComparer.Ordinal);

    private static void Print(Action<string> line, IReadOnlyDictionary<string, string> metadata)
    {
        foreach (var (name, value) in Sorted(metadata))
        {
            line($"{name}={value}");
        }
    }

    /// <summary><c>meta --json</c>: the file and its metadata (after the change, for set and rm).</summary>
    private sealed record MetaJson(string Path, SortedDictionary<string, string> Metadata);

    /// <summary><c>meta get PATH NAME --json</c>.</summary>
    private sealed record MetaValueJson(string Path, string Name, string Value);
}
