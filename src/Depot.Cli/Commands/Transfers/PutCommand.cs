using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Transfers;

/// <summary>
/// <c>depot put LOCAL... REMOTE</c>: uploads files (and with <c>-r</c> directories) the way <c>cp</c> copies them:
/// one source to a path, or several sources (or any into a remote directory, or a REMOTE ending in '/') into it,
/// keeping their names. <c>--id</c> stores each file under a server-assigned id instead.
/// </summary>
internal static class PutCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("LOCAL... REMOTE")
        {
            Description = "Local files ('-' for stdin; quoted globs such as '*.log' are expanded), then the remote path or directory.",
            Arity = new ArgumentArity(2, ArgumentArity.OneOrMore.MaximumNumberOfValues),
        };
        var recursive = TransferOptions.Recursive();
        var include = TransferOptions.Include();
        var exclude = TransferOptions.Exclude();
        var parallel = TransferOptions.Parallel();
        var noClobber = TransferOptions.NoClobber("a remote file");
        var id = new Option<bool>("--id") { Description = "Store each file under a server-assigned id in the bucket REMOTE names, and print the id." };
        var extension = new Option<string?>("--ext") { Description = "With --id: the id's extension (default: the local file's).", HelpName = "EXT" };
        var meta = new Option<string[]>("--meta") { Description = "Metadata to store with the file. Repeatable.", HelpName = "NAME=VALUE" };
        var appendable = new Option<bool>("--appendable") { Description = "Store an appender file ('depot append' and 'depot truncate' work on it)." };
        var contentType = new Option<string?>("--content-type") { Description = "Content type to store (default: guessed from the name).", HelpName = "TYPE" };
        var ttl = new Option<string?>("--ttl") { Description = "Delete the file this long after the upload (e.g. 1h, 7d).", HelpName = "DURATION" };
        var command = new Command("put", "Upload local files or directories.")
        {
            paths, recursive, include, exclude, parallel, noClobber, id, extension, meta, appendable, contentType, ttl,
        };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var arguments = context.Value(paths);
            var remoteText = arguments[^1];
            var remote = CliContext.RemotePath(remoteText);
            var isRecursive = context.Value(recursive);
            var withId = context.Value(id);
            TransferOptions.RequireRecursive(context, isRecursive, include, exclude, parallel);
            if (withId && (isRecursive || !remote.IsRoot))
            {
                throw CliException.Usage(isRecursive
                    ? "--id uploads files, not directories (leave out -r)."
                    : $"--id takes a bucket as REMOTE (e.g. 'photos' or '/' for the default bucket), not '{remoteText}'.");
            }

            if (!withId && context.Parse.GetResult(extension) is { Implicit: false })
            {
                throw CliException.Usage("--ext works with --id only.");
            }

            var sources = Resolve(arguments[..^1], isRecursive);
            var upload = new UploadOptions
            {
                ContentType = context.Value(contentType),
                Appendable = context.Value(appendable),
                Overwrite = !context.Value(noClobber),
                TimeToLive = context.Value(ttl) is { } ttlText ? Units.RequireDuration(ttlText, "--ttl") : null,
            };
            if (Units.ParsePairs(context.Value(meta), "--meta") is { Count: > 0 } pairs)
            {
                upload.Metadata = pairs;
            }

            // cp's rule: several sources, a trailing '/', a bucket, or an existing remote directory mean "into it".
            var into = sources.Count > 1 || TransferOptions.EndsWithSeparator(remoteText) || remote.IsRoot;
            if (!into && !withId && sources[0].Error is null)
            {
                context.Subject = remote.ToString();
                try
                {
                    into = await context.Client.TryStatAsync(remote, context.Cancellation) is { IsFile: false };
                }
                catch (ForbiddenException)
                {
                    into = false; // a key that may write but not read: REMOTE is the new name, as written
                }
                context.Subject = null;
            }

            var items = new TransferItems(command, context);
            var results = new List<ObjectJson>();
            var produced = new HashSet<DepotPath>(); // two sources with one name must not land on one object
            foreach (var source in sources)
            {
                if (source.Error is not null)
                {
                    items.Fail(source.Shown, source.Error);
                }
                else if (withId)
                {
                    var uploaded = await items.RunAsync(source.Shown, () => UploadWithIdAsync(context, source, remote.Bucket, context.Value(extension), upload));
                    if (uploaded is not null)
                    {
                        context.Output.Data(uploaded.Path.ToString());
                        items.AddBytes(uploaded.Size);
                        results.Add(ObjectJson.From(uploaded));
                    }
                }
                else if (source.IsDirectory)
                {
                    var destination = into ? remote.Combine(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(source.Path!)))) : remote;
                    var options = TransferOptions.Directory(context, include, exclude, parallel, context.Value(noClobber));
                    options.Upload = upload;
                    results.AddRange(await UploadDirectoryAsync(context, items, source, destination, options));
                }
                else
                {
                    var destination = into ? remote.Combine(source.Path is null ? "" : Path.GetFileName(source.Path)) : remote;
                    var uploaded = await items.RunAsync(source.Shown, () => produced.Add(destination)
                        ? UploadFileAsync(context, source, destination, into, upload)
                        : throw CliException.Exists($"{source.Shown}: will not replace {destination}, which this command just uploaded (two sources have that name)."));
                    if (uploaded is not null)
                    {
                        context.Output.Info(TransferOptions.Describe(source.Shown, uploaded.Path.ToString(), uploaded.Size));
                        items.AddBytes(uploaded.Size);
                        results.Add(ObjectJson.From(uploaded));
                    }
                }
            }

            if (!withId)
            {
                items.PrintSummary("uploaded");
            }

            if (sources is [{ IsDirectory: false }])
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

    /// <summary>A source as the user wrote it (or one match of a glob), or why it cannot be uploaded.</summary>
    private sealed record Source(string Shown, string? Path, bool IsDirectory = false, Exception? Error = null);

    /// <summary>Existing files and directories as they are; globs expanded (when no file has that very name); '-' is stdin.</summary>
    private static List<Source> Resolve(string[] arguments, bool recursive)
    {
        if (arguments.Count(a => a == "-") > 1)
        {
            throw CliException.Usage("stdin ('-') can be read only once.");
        }

        var sources = new List<Source>();
        foreach (var text in arguments)
        {
            if (text == "-")
            {
                sources.Add(new Source("-", null));
            }
            else if (File.Exists(text) || Directory.Exists(text))
            {
                sources.Add(Local(text, recursive));
            }
            else if (LocalGlob.IsPattern(text))
            {
                var matches = LocalGlob.Expand(text, recursive);
                sources.AddRange(matches.Count == 0
                    ? [new Source(text, null, Error: CliException.NotFound($"no local file matches '{text}'."))]
                    : matches.Select(match => Local(match, recursive)));
            }
            else
            {
                sources.Add(new Source(text, null, Error: CliException.NotFound($"{text}: no such local file or directory.")));
            }
        }

        return sources;
    }

    private static Source Local(string path, bool recursive) => Directory.Exists(path)
        ? recursive
            ? new Source(path, path, IsDirectory: true)
            : new Source(path, null, Error: CliException.Usage($"{path} is a directory; use -r to upload it with everything below it."))
        : new Source(path, path);

    private static Task<DepotObject> UploadFileAsync(CliContext context, Source source, DepotPath destination, bool into, UploadOptions upload)
    {
        if (source.Path is not null)
        {
            return TransferView.RunAsync(context.Output, "uploaded", multiple: false,
                progress => context.Client.UploadAsync(source.Path, destination, upload, TransferOptions.Named(progress, source.Shown), context.Cancellation));
        }

        if (into)
        {
            throw CliException.Usage($"stdin ('-') has no name: give the full remote path to store it at, not the directory {destination}.");
        }

        return TransferView.RunAsync(context.Output, "uploaded", multiple: false, async progress =>
        {
            await using var stdin = Console.OpenStandardInput();
            return await context.Client.UploadAsync(stdin, destination, upload, TransferOptions.Named(progress, "stdin"), context.Cancellation);
        });
    }

    private static Task<DepotObject> UploadWithIdAsync(CliContext context, Source source, string bucket, string? extension, UploadOptions upload) =>
        TransferView.RunAsync(context.Output, "uploaded", multiple: false, async progress =>
        {
            progress = TransferOptions.Named(progress, source.Shown);
            if (source.Path is not null)
            {
                return await context.Client.UploadWithIdAsync(source.Path, bucket, extension, upload, progress, context.Cancellation);
            }

            await using var stdin = Console.OpenStandardInput();
            return await context.Client.UploadWithIdAsync(stdin, bucket, extension, upload, progress, context.Cancellation);
        });

    /// <summary>Uploads a directory tree; failed files are reported and counted, the others go on.</summary>
    /// <returns>The uploaded files as <c>--json</c> prints them (listed from the server only in JSON mode).</returns>
    private static async Task<List<ObjectJson>> UploadDirectoryAsync(CliContext context, TransferItems items, Source source, DepotPath destination, DirectoryTransferOptions options)
    {
        var root = Path.GetFullPath(source.Path!);
        string Shown(string relative) => source.Shown.TrimEnd('/') + "/" + relative;
        DirectoryTransferResult result;
        try
        {
            result = await TransferView.RunAsync(context.Output, "uploaded", multiple: true,
                progress => context.Client.UploadDirectoryAsync(root, destination, options, progress, context.Cancellation),
                finished =>
                {
                    var relative = Path.GetRelativePath(root, finished.Name).Replace(Path.DirectorySeparatorChar, '/');
                    return TransferOptions.Describe(Shown(relative), destination.Combine(relative).ToString(), finished.BytesTransferred);
                });
        }
        catch (Exception error) when (!context.Cancellation.IsCancellationRequested)
        {
            items.Fail(source.Shown, error);
            return [];
        }

        if (!context.Output.ShowProgressLines)
        {
            // On a terminal the bars are gone now; in quiet and JSON mode Info prints nothing.
            foreach (var entry in result.Transferred)
            {
                context.Output.Info(TransferOptions.Describe(Shown(entry.RelativePath), entry.RemotePath.ToString(), entry.Size));
            }
        }

        items.Add(result, Shown);
        if (!context.Output.Json || result.Transferred.Count == 0)
        {
            return [];
        }

        // The directory transfer answers paths and sizes; the full descriptions come from one recursive listing.
        var transferred = result.Transferred.Select(e => e.RemotePath).ToHashSet();
        var described = new List<ObjectJson>();
        await foreach (var entry in context.Client.ListAsync(destination, new ListOptions { Recursive = true }, context.Cancellation))
        {
            if (entry.IsFile && transferred.Contains(entry.Path))
            {
                described.Add(ObjectJson.From(entry));
            }
        }

        return described;
    }
}
