using System.CommandLine;
using System.Globalization;
using Depot.Cli.Shell;

namespace Depot.Cli.Commands.Files;

/// <summary><c>depot stat PATH...</c>: what the server knows of objects and directories.</summary>
internal static class StatCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("PATH") { Description = "Remote paths.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("stat", "Show size, checksum, times and metadata of remote objects.") { paths };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var results = new List<ObjectJson>();
            foreach (var text in context.Value(paths))
            {
                var path = CliContext.RemotePath(text);
                context.Subject = path.ToString();
                var stat = ObjectJson.From(await context.Client.StatAsync(path, context.Cancellation));
                results.Add(stat);
                if (!context.Output.Json)
                {
                    Print(context.Output, stat);
                }
            }

            context.Output.WriteJson(results.Count == 1 ? (object)results[0] : results);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void Print(CliOutput output, ObjectJson o)
    {
        List<string[]> rows =
        [
            ["path:", o.Path],
            ["type:", o.Type],
            ["size:", $"{o.Size.ToString(CultureInfo.InvariantCulture)} ({Units.FormatSize(o.Size)})"],
            ["modified:", Units.FormatTime(o.Modified)],
        ];
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                rows.Add([name + ":", value]);
            }
        }

        Add("created", o.Created is { } created ? Units.FormatTime(created) : null);
        Add("sha256", o.Sha256);
        Add("etag", o.ETag);
        Add("content-type", o.ContentType);
        Add("expires", o.Expires is { } expires ? Units.FormatTime(expires) : null);
        Add("appendable", o.Appendable == true ? "yes" : null);
        Add("master", o.Master);
        foreach (var (name, value) in o.Metadata ?? new Dictionary<string, string>())
        {
            rows.Add(["meta:", $"{name}={value}"]);
        }

        output.Table(rows);
    }
}
