using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Queue;

/// <summary><c>depot queue add FILE... --to REMOTE</c>: records files to upload later; needs no server.</summary>
internal static class QueueAddCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILE") { Description = "Local files to queue.", Arity = ArgumentArity.OneOrMore };
        var to = new Option<string>("--to")
        {
            Description = "Where they go: a remote directory (ending in '/', a bucket alone, or with several files) or, for one file, its remote path.",
            HelpName = "REMOTE",
            Required = true,
        };
        var snapshot = new Option<bool>("--snapshot") { Description = "Copy the bytes into the queue now: later changes to the file, or its deletion, do not matter." };
        var meta = new Option<string[]>("--meta") { Description = "User metadata NAME=VALUE stored with each object (repeatable).", HelpName = "NAME=VALUE", AllowMultipleArgumentsPerToken = false };
        var contentType = new Option<string?>("--content-type") { Description = "Content type stored with each object (default: from the file name).", HelpName = "TYPE" };
        var noClobber = new Option<bool>("--no-clobber", "-n") { Description = "Create only: an object already at the destination makes the item fail instead of being replaced." };
        var command = new Command("add", "Queue local files for upload (only writes the local queue; 'depot queue run' uploads).")
        {
            files, to, snapshot, meta, contentType, noClobber,
        };
        CliAction.Set(command, async context =>
        {
            var paths = context.Value(files);
            var target = context.Value(to);
            var destination = CliContext.RemotePath(target);
            var intoDirectory = paths.Length > 1 || target.EndsWith('/') || destination.IsRoot;
            var options = new EnqueueOptions
            {
                Snapshot = context.Value(snapshot),
                Upload = new UploadOptions
                {
                    ContentType = context.Value(contentType),
                    Metadata = Units.ParsePairs(context.Parse.GetValue(meta), "--meta"),
                    Overwrite = !context.Value(noClobber),
                },
            };

            await using var open = await QueueCommand.OpenAsync(context, uploads: false);
            var added = new List<QueueItemJson>();
            var exitCode = await QueueCommand.ForEachAsync(context, command, paths, path => path, async path =>
            {
                if (Directory.Exists(path))
                {
                    throw CliException.Usage($"'{path}' is a directory; queue its files (e.g. with a shell glob), or use 'depot sync'.");
                }

                var item = await open.Queue.EnqueueAsync(path, intoDirectory ? destination.Combine(Path.GetFileName(path)) : destination, options, context.Cancellation);
                added.Add(QueueItemJson.From(item));
                context.Output.Info($"queued #{item.Id} {item.LocalPath} -> {item.Destination} ({Units.FormatSize(item.Size)}{(item.Snapshot ? ", snapshot" : "")})");
            });
            context.Output.WriteJson(added);
            return exitCode;
        });
        return command;
    }
}
