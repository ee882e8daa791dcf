using System.CommandLine;
using Depot.Cli.Shell;

namespace Depot.Cli.Commands.Transfers;

/// <summary><c>depot slave MASTER LOCAL --prefix P</c>: uploads a slave file of a master (FastDFS style, e.g. a
/// thumbnail stored at the master's id plus <c>_150x150</c>) and prints its path.</summary>
internal static class SlaveCommand
{
    public static Command Create()
    {
        var master = new Argument<string>("MASTER") { Description = "The master file's path (often an id from 'depot put --id')." };
        var local = new Argument<string>("LOCAL") { Description = "The local file to upload ('-' for stdin)." };
        var prefix = new Option<string>("--prefix") { Description = "Added to the master's name, before the extension (e.g. _150x150).", HelpName = "PREFIX", Required = true };
        var extension = new Option<string?>("--ext") { Description = "The slave's extension (default: the master's).", HelpName = "EXT" };
        var noClobber = TransferOptions.NoClobber("a slave file");
        var command = new Command("slave", "Upload a slave file of a master file, and print its path.") { master, local, prefix, extension, noClobber };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var masterPath = CliContext.RemotePath(context.Value(master));
            var source = context.Value(local);
            var overwrite = !context.Value(noClobber);
            if (source != "-" && !File.Exists(source))
            {
                throw CliException.NotFound($"{source}: no such local file.");
            }

            context.Subject = masterPath.ToString();
            var slave = source == "-"
                ? await context.Client.UploadSlaveAsync(await ReadStdinAsync(context.Cancellation), masterPath, context.Value(prefix), context.Value(extension),
                    overwrite, cancellationToken: context.Cancellation)
                : await TransferView.RunAsync(context.Output, "uploaded", multiple: false, progress => context.Client.UploadSlaveAsync(
                    source, masterPath, context.Value(prefix), context.Value(extension), overwrite, progress: TransferOptions.Named(progress, source), cancellationToken: context.Cancellation));
            context.Output.Data(slave.Path.ToString());
            context.Output.WriteJson(ObjectJson.From(slave));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Slave files are small (thumbnails, previews): stdin is read whole.</summary>
    private static async Task<byte[]> ReadStdinAsync(CancellationToken cancellationToken)
    {
        await using var stdin = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        await stdin.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }
}
