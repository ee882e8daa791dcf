using System.CommandLine;
using Depot.Cli.Shell;

namespace Depot.Cli.Commands.Files;

/// <summary><c>depot share PATH [--expires 1h]</c>: a signed link that downloads one file without a key.</summary>
internal static class ShareCommand
{
    private static readonly TimeSpan Longest = TimeSpan.FromDays(30);

    public static Command Create()
    {
        var path = new Argument<string>("PATH") { Description = "Remote file to share." };
        var expires = new Option<string>("--expires", "-e")
        {
            Description = "How long the link works: 90s, 30m, 24h, 7d (1 second to 30 days).",
            DefaultValueFactory = _ => "1h",
            HelpName = "DURATION",
        };
        var command = new Command("share", "Print a link that downloads a remote file without an API key until it expires.") { path, expires };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var file = CliContext.RemotePath(context.Value(path));
            var validFor = Units.RequireDuration(context.Value(expires), "--expires");
            if (validFor < TimeSpan.FromSeconds(1) || validFor > Longest)
            {
                throw CliException.Usage($"--expires must be between 1s and 30d (got '{context.Value(expires)}').");
            }

            context.Subject = file.ToString();
            var link = await context.Client.CreateShareLinkAsync(file, validFor, context.Cancellation);
            context.Output.Data(link.Url.AbsoluteUri);
            context.Output.WriteJson(new ShareJson(file.ToString(), link.Url.AbsoluteUri, link.Expires));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary><c>share --json</c>.</summary>
    private sealed record ShareJson(string Path, string Url, DateTimeOffset Expires);
}
