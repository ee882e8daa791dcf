using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Sync;

/// <summary>
/// <c>depot sync SOURCE DESTINATION</c>: makes the destination directory like the source one, local to remote
/// (upload) or remote to local (download) as the argument order says, sending only new and changed files.
/// </summary>
internal static class SyncCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("SOURCE") { Description = "The directory to copy from: a local directory, or a remote one (bucket/dir, /dir, :bucket/dir)." };
        var destination = new Argument<string>("DESTINATION") { Description = "The directory to make like SOURCE: remote when SOURCE is local, local when SOURCE is remote." };
        var delete = new Option<bool>("--delete") { Description = "Also delete destination files and directories that SOURCE does not have (only after every send succeeded)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what would be sent, deleted and created, and change nothing." };
        var checksum = new Option<bool>("--checksum") { Description = "Compare by SHA-256 (reads the local files) instead of size and modification time." };
        var exclude = new Option<string[]>("--exclude") { Description = "Leave out paths matching GLOB on both sides (repeatable; 'dir/' for directories).", HelpName = "GLOB", AllowMultipleArgumentsPerToken = false };
        var include = new Option<string[]>("--include") { Description = "Sync only paths matching GLOB (repeatable; excludes win).", HelpName = "GLOB", AllowMultipleArgumentsPerToken = false };
        var parallel = new Option<int>("--parallel") { Description = "Files transferred at the same time, 1-64.", HelpName = "N", DefaultValueFactory = _ => 4 };
        var command = new Command("sync", "Make a remote directory like a local one (sync LOCAL REMOTE), or a local one like a remote one (sync REMOTE LOCAL).\n" +
            "An argument starting with ':' is remote; one that is an existing local directory or starts with ./, ../ or ~/ is local.")
        {
            source, destination, delete, dryRun, checksum, exclude, include, parallel,
        };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var (local, remote, direction) = Sides(context.Value(source), context.Value(destination));
            var parallelism = context.Value(parallel);
            if (parallelism is < 1 or > 64)
            {
                throw CliException.Usage($"--parallel takes a number from 1 to 64 (got {parallelism}).");
            }

            var options = new SyncOptions
            {
                Delete = context.Value(delete),
                DryRun = context.Value(dryRun),
                Compare = context.Value(checksum) ? SyncCompare.Checksum : SyncCompare.SizeAndTime,
                Parallelism = parallelism,
            };
            foreach (var glob in context.Parse.GetValue(exclude) ?? [])
            {
                options.Exclude.Add(glob);
            }

            foreach (var glob in context.Parse.GetValue(include) ?? [])
            {
                options.Include.Add(glob);
            }

            context.Subject = direction == SyncDirection.Upload ? local : remote.ToString();
            var verb = direction == SyncDirection.Upload ? "sent" : "received";
            var result = await TransferView.RunAsync(context.Output, verb, multiple: true,
                progress => context.Client.SyncAsync(local, remote, direction, options,
                    progress is null || options.DryRun ? null : new RelativeNames(progress, local, remote), context.Cancellation));

            Report(context, command, result);
            return result.Failures.Count > 0 ? ExitCodes.Partial : ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Which argument is the local directory: an explicit ':' marks the remote one; otherwise the one that
    /// looks local (an existing directory, or written ./x, ../x, ~/x, . or ..), when exactly one does.</summary>
    internal static (string Local, DepotPath Remote, SyncDirection Direction) Sides(string source, string destination)
    {
        var sourceMarked = source.StartsWith(':');
        var destinationMarked = destination.StartsWith(':');
        bool sourceIsLocal;
        if (sourceMarked && destinationMarked)
        {
            throw CliException.Usage($"both '{source}' and '{destination}' are marked remote with ':'; one of them must be a local directory.");
        }
        else if (sourceMarked || destinationMarked)
        {
            sourceIsLocal = destinationMarked;
        }
        else if (LooksLocal(source) != LooksLocal(destination))
        {
            sourceIsLocal = LooksLocal(source);
        }
        else
        {
            var which = LooksLocal(source) ? "both look local" : "neither is an existing local directory";
            throw CliException.Usage($"cannot tell which of '{source}' and '{destination}' is local ({which}): " +
                "write the local one as ./DIR (or an absolute path that exists) or the remote one as :bucket/dir.");
        }

        var (local, remote) = sourceIsLocal ? (source, destination) : (destination, source);
        return (ExpandHome(local), CliContext.RemotePath(remote), sourceIsLocal ? SyncDirection.Upload : SyncDirection.Download);
    }

    private static bool LooksLocal(string text) =>
        text is "." or ".." or "~"
        || text.StartsWith("./", StringComparison.Ordinal)
        || text.StartsWith("../", StringComparison.Ordinal)
        || text.StartsWith("~/", StringComparison.Ordinal)
        || Directory.Exists(ExpandHome(text));

    /// <summary>A quoted <c>~/dir</c> reaches us unexpanded; it means the home directory all the same.</summary>
    private static string ExpandHome(string path)
    {
        if (path != "~" && !path.StartsWith("~/", StringComparison.Ordinal))
        {
            return path;
        }

        // Without a home directory .NET answers "", which would turn ~/data into /data: refuse rather than guess.
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return home.Length > 0 ? home + path[1..] : throw CliException.Usage($"cannot expand '{path}': there is no home directory (HOME is not set); give the path explicitly.");
    }

    private static void Report(CliContext context, Command command, SyncResult result)
    {
        var output = context.Output;
        var name = CliAction.CommandName(command);
        var failures = result.Failures.Select(f =>
        {
            var (_, code) = ErrorReport.Classify(f.Error);
            return new SyncFailureJson(f.RelativePath, code, ErrorReport.Describe(f.Error));
        }).ToList();

        // Unchanged files are only counted: listing them would bury what happens under what does not.
        var actions = result.Actions
            .Where(a => a.Kind != SyncActionKind.Skip || a.Reason != "unchanged")
            .Select(a => new SyncActionJson(KindName(a.Kind), a.RelativePath, a.IsDirectory, a.Size, a.Reason))
            .ToList();

        if (result.DryRun)
        {
            foreach (var action in actions)
            {
                output.Data($"{action.Kind} {Display(action)} ({action.Reason})");
            }
        }
        else
        {
            // Sends show as progress; deletions would otherwise happen silently.
            var failed = failures.Select(f => f.Path).ToHashSet(StringComparer.Ordinal);
            foreach (var action in actions.Where(a => a.Kind == "delete" && !failed.Contains(a.Path)))
            {
                output.Info($"deleted {Display(action)}");
            }
        }

        if (!output.Json)
        {
            foreach (var failure in failures)
            {
                output.Error.WriteLine($"{name}: {CliOutput.Sanitize(failure.Path)}: {CliOutput.Sanitize(failure.Message)}");
            }
        }

        var seconds = result.Elapsed.TotalSeconds;
        if (result.DryRun)
        {
            output.Info($"dry run, nothing changed: would {(result.Direction == SyncDirection.Upload ? "send" : "receive")} {Files(result.Sent)} " +
                $"({Units.FormatSize(result.BytesSent)}), skip {result.Skipped}, delete {result.Deleted}, create {result.DirectoriesCreated} dirs");
        }
        else
        {
            output.Info($"{(result.Direction == SyncDirection.Upload ? "sent" : "received")} {Files(result.Sent)}, skipped {result.Skipped}, " +
                $"deleted {result.Deleted}, dirs created {result.DirectoriesCreated}, {Units.FormatSize(result.BytesSent)} in " +
                $"{Units.FormatDuration(result.Elapsed)} ({Units.FormatRate(seconds > 0 ? result.BytesSent / seconds : 0)})" +
                (failures.Count > 0 ? $", {failures.Count} failed" : ""));
        }

        output.WriteJson(new SyncJson(
            result.Direction == SyncDirection.Upload ? "upload" : "download", result.DryRun, result.Sent, result.Skipped, result.Deleted,
            result.DirectoriesCreated, result.BytesSent, (long)result.Elapsed.TotalMilliseconds, failures, actions));
    }

    private static string Files(int count) => count == 1 ? "1 file" : $"{count} files";

    private static string Display(SyncActionJson action) =>
        action.Path.Length == 0 ? "." : action.Directory ? action.Path + "/" : action.Path;

    private static string KindName(SyncActionKind kind) => kind switch
    {
        SyncActionKind.Send => "send",
        SyncActionKind.Delete => "delete",
        SyncActionKind.CreateDirectory => "mkdir",
        _ => "skip",
    };

    /// <summary>Names files in progress by their path below the synced directory, as the plan and summary do, rather
    /// than by the full local or remote path the SDK reports.</summary>
    private sealed class RelativeNames(IProgress<TransferProgress> inner, string local, DepotPath remote) : IProgress<TransferProgress>
    {
        private readonly string _localPrefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(local)) + Path.DirectorySeparatorChar;
        private readonly string _remotePrefix = remote.ToString().TrimEnd('/') + "/";

        public void Report(TransferProgress value)
        {
            var name = value.Name;
            if (name.StartsWith(_localPrefix, StringComparison.Ordinal))
            {
                name = name[_localPrefix.Length..].Replace(Path.DirectorySeparatorChar, '/');
            }
            else if (name.StartsWith(_remotePrefix, StringComparison.Ordinal))
            {
                name = name[_remotePrefix.Length..];
            }

            inner.Report(value with { Name = name });
        }
    }

    private sealed record SyncJson(
        string Direction, bool DryRun, int Sent, int Skipped, int Deleted, int DirectoriesCreated, long Bytes, long ElapsedMs,
        IReadOnlyList<SyncFailureJson> Failures, IReadOnlyList<SyncActionJson> Actions);

    private sealed record SyncFailureJson(string Path, string Code, string Message);

    private sealed record SyncActionJson(string Kind, string Path, bool Directory, long Size, string Reason);
}
