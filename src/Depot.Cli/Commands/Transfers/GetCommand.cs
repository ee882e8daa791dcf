using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Transfers;

/// <summary>
/// <c>depot get REMOTE... LOCAL</c>: downloads files (and with <c>-r</c> directories) the way <c>cp</c> copies them:
/// one source to a path, several (or any into an existing directory, or a LOCAL ending in '/') into a directory,
/// keeping their names; <c>-</c> writes one file to stdout.
/// </summary>
internal static class GetCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("REMOTE... LOCAL")
        {
            Description = "Remote files, then the local path or directory ('-' for stdout).",
            Arity = new ArgumentArity(2, ArgumentArity.OneOrMore.MaximumNumberOfValues),
        };
        var recursive = TransferOptions.Recursive();
        var include = TransferOptions.Include();
        var exclude = TransferOptions.Exclude();
        var parallel = TransferOptions.Parallel();
        var noClobber = TransferOptions.NoClobber("a local file");
        var offset = TransferOptions.Offset();
        var length = TransferOptions.Length();
        var command = new Command("get", "Download remote files or directories.")
        {
            paths, recursive, include, exclude, parallel, noClobber, offset, length,
        };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var arguments = context.Value(paths);
            var localText = arguments[^1];
            var sources = arguments[..^1];
            var isRecursive = context.Value(recursive);
            TransferOptions.RequireRecursive(context, isRecursive, include, exclude, parallel);
            var download = TransferOptions.Range(context, offset, length, overwrite: !context.Value(noClobber));
            if (isRecursive && (download.Offset != 0 || download.Length is not null))
            {
                throw CliException.Usage("--offset and --length read part of one file; they do not work with -r.");
            }

            if (localText == "-")
            {
                if (sources.Length != 1 || isRecursive)
                {
                    throw CliException.Usage("'-' (stdout) takes one remote file; use 'depot cat' for several.");
                }

                var source = CliContext.RemotePath(sources[0]);
                context.Subject = source.ToString();
                await using var stdout = TransferOptions.OpenStdout();
                await context.Client.DownloadAsync(source, stdout, download, cancellationToken: context.Cancellation);
                await stdout.FlushAsync(context.Cancellation);
                return ExitCodes.Ok;
            }

            var into = sources.Length > 1 || TransferOptions.EndsWithSeparator(localText) || Directory.Exists(localText);
            if (into && !Directory.Exists(localText))
            {
                if (!TransferOptions.EndsWithSeparator(localText))
                {
                    throw CliException.Usage($"'{localText}' is not a directory: to download several files, name an existing directory or end the name with '/'.");
                }

                Directory.CreateDirectory(localText);
            }

            var items = new TransferItems(command, context);
            var results = new List<DownloadJson>();
            var produced = new HashSet<string>(StringComparer.Ordinal); // two sources with one name must not land on one file
            foreach (var text in sources)
            {
                if (isRecursive)
                {
                    var options = TransferOptions.Directory(context, include, exclude, parallel, context.Value(noClobber));
                    results.AddRange(await DownloadDirectoryAsync(context, items, text, localText, into, options));
                    continue;
                }

                var result = await items.RunAsync(text, async () =>
                {
                    var source = CliContext.RemotePath(text);
                    if (source.IsRoot)
                    {
                        throw CliException.Usage($"{source} is a bucket; use -r to download it with everything below it.");
                    }

                    var target = into ? Path.Combine(localText, source.Name) : localText;
                    if (!produced.Add(Path.GetFullPath(target)))
                    {
                        throw CliException.Exists($"{source}: will not replace {target}, which this command just downloaded (two sources have that name).");
                    }

                    DepotObject described;
                    try
                    {
                        described = await TransferView.RunAsync(context.Output, "downloaded", multiple: false,
                            progress => context.Client.DownloadAsync(source, target, download, TransferOptions.Named(progress, source.ToString()), context.Cancellation));
                    }
                    catch (ConflictException)
                    {
                        if (await context.Client.TryStatAsync(source, context.Cancellation) is { IsFile: false })
                        {
                            throw CliException.Usage($"{source} is a directory; use -r to download it with everything below it.");
                        }

                        throw;
                    }

                    var size = new FileInfo(target).Length;
                    context.Output.Info(TransferOptions.Describe(described.Path.ToString(), target, size));
                    items.AddBytes(size);
                    var whole = download.Offset == 0 && size == described.Size;
                    return new DownloadJson(described.Path.ToString(), Path.GetFullPath(target), size, whole ? described.Sha256 : null);
                });
                if (result is not null)
                {
                    results.Add(result);
                }
            }

            items.PrintSummary("downloaded");
            if (sources.Length == 1 && !isRecursive)
            {
                if (results.Count == 1)
                {
                    context.Output.WriteJson(results[0]);
                }
            }
            else
            {
                context.Output.WriteJson(results);
            }

            return items.ExitCode;
        });
        return command;
    }

    /// <summary>Downloads a remote directory tree; failed files are reported and counted, the others go on.</summary>
    private static async Task<List<DownloadJson>> DownloadDirectoryAsync(CliContext context, TransferItems items, string text, string localText,
        bool into, DirectoryTransferOptions options)
    {
        DirectoryTransferResult result;
        DepotPath source;
        try
        {
            source = CliContext.RemotePath(text);
            var target = into ? Path.Combine(localText, source.Name) : localText;
            var root = Path.GetFullPath(target);
            result = await TransferView.RunAsync(context.Output, "downloaded", multiple: true,
                progress => context.Client.DownloadDirectoryAsync(source, target, options, progress, context.Cancellation),
                finished =>
                {
                    var relative = Path.GetRelativePath(root, finished.Name);
                    return TransferOptions.Describe(source.Combine(relative.Replace(Path.DirectorySeparatorChar, '/')).ToString(), Path.Combine(target, relative), finished.BytesTransferred);
                });
            if (!context.Output.ShowProgressLines)
            {
                foreach (var entry in result.Transferred)
                {
                    context.Output.Info(TransferOptions.Describe(entry.RemotePath.ToString(), Path.Combine(target, entry.RelativePath), entry.Size));
                }
            }
        }
        catch (Exception error) when (!context.Cancellation.IsCancellationRequested)
        {
            items.Fail(text, error);
            return [];
        }

        items.Add(result, relative => source.Combine(relative).ToString());
        return [.. result.Transferred.Select(e => new DownloadJson(e.RemotePath.ToString(), e.LocalPath ?? "", e.Size))];
    }
}

/// <summary>A downloaded file as <c>get --json</c> prints it: where it came from and where it went.</summary>
internal sealed record DownloadJson(string Path, string Local, long Size, string? Sha256 = null);
