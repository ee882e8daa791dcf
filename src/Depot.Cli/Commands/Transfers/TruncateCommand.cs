using System.CommandLine;
using System.Globalization;
using Depot.Cli.Shell;

namespace Depot.Cli.Commands.Transfers;

/// <summary><c>depot truncate REMOTE SIZE</c>: cuts an appender file to SIZE bytes.</summary>
internal static class TruncateCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("REMOTE") { Description = "An appender file (uploaded with --appendable, or made by 'depot append --create')." };
        var size = new Argument<string>("SIZE") { Description = "The new size, at most the current one (e.g. 0, 4096, 10M)." };
        var command = new Command("truncate", "Cut an appender file to a size.") { path, size };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var remote = CliContext.RemotePath(context.Value(path));
            var bytes = Units.RequireSize(context.Value(size), "SIZE", allowZero: true);
            context.Subject = remote.ToString();
            var truncated = await context.Client.TruncateAsync(remote, bytes, context.Cancellation);
            context.Output.Info($"{truncated.Path} truncated to {truncated.Size.ToString(CultureInfo.InvariantCulture)} bytes");
            context.Output.WriteJson(ObjectJson.From(truncated));
            return ExitCodes.Ok;
        });
        return command;
    }
}
