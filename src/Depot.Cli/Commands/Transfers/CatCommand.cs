using System.CommandLine;
using Depot.Cli.Shell;

namespace Depot.Cli.Commands.Transfers;

/// <summary><c>depot cat REMOTE...</c>: the bytes of remote files on stdout, exactly (binary-safe, nothing added).</summary>
internal static class CatCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("REMOTE") { Description = "Remote files, written one after the other.", Arity = ArgumentArity.OneOrMore };
        var offset = TransferOptions.Offset();
        var length = TransferOptions.Length();
        var command = new Command("cat", "Write remote files to stdout.") { paths, offset, length };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var range = TransferOptions.Range(context, offset, length);
            var items = new TransferItems(command, context);
            await using var stdout = TransferOptions.OpenStdout();
            foreach (var text in context.Value(paths))
            {
                await items.RunAsync(text, async () =>
                {
                    var path = CliContext.RemotePath(text);
                    return await context.Client.DownloadAsync(path, stdout, range, cancellationToken: context.Cancellation);
                });
            }

            await stdout.FlushAsync(context.Cancellation);
            return items.ExitCode;
        });
        return command;
    }
}
