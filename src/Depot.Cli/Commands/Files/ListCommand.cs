using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Files;

/// <summary><c>depot ls [-l] [-r] [PATH]</c>: the entries of a remote directory, streamed page by page.</summary>
internal static class ListCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("PATH") { Description = "Remote directory (bucket/dir or /dir); a bucket alone lists its root.", DefaultValueFactory = _ => "/" };
        var longFormat = new Option<bool>("--long", "-l") { Description = "Show type, size, modification time and SHA-256 prefix." };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "List the whole tree below PATH." };
        var command = new Command("ls", "List a remote directory.") { path, longFormat, recursive };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var directory = CliContext.RemotePath(context.Value(path));
            context.Subject = directory.ToString();
            var options = new ListOptions { Recursive = context.Value(recursive) };
            var json = new List<ObjectJson>();
            var rows = new List<string[]>();
            await foreach (var entry in context.Client.ListAsync(directory, options, context.Cancellation))
            {
                if (context.Output.Json)
                {
                    json.Add(ObjectJson.From(entry));
                    continue;
                }

                var name = options.Recursive ? RelativeName(directory, entry) : entry.Name;
                if (!entry.IsFile)
                {
                    name += "/";
                }

                if (context.Value(longFormat))
                {
                    rows.Add([entry.IsFile ? "file" : "dir", entry.IsFile ? entry.Size.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-",
                        Units.FormatTime(entry.Modified), entry.Sha256 is { Length: >= 12 } sha ? sha[..12] : "-", name]);
                }
                else
                {
                    context.Output.Data(name);
                }
            }

            context.Output.Table(rows, false, true);
            context.Output.WriteJson(json);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string RelativeName(DepotPath directory, DepotEntry entry) =>
        directory.IsRoot ? entry.Path.Key : entry.Path.Key[(directory.Key.TrimEnd('/').Length + 1)..];
}
