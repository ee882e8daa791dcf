using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.Transfers;

/// <summary>
/// The outcome of a command that works on several items (files, sources): a failed item is reported on stderr right
/// away (<c>depot CMD: PATH: message</c>) and the others go on. The exit code is 0 when all went well, the class of
/// the failures when nothing succeeded and they all share one class (one missing file: 3), else 9 (partial).
/// </summary>
internal sealed class TransferItems(Command command, CliContext context)
{
    private readonly List<int> _failures = [];
    private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
    private long _bytes;

    public int Succeeded { get; private set; }

    public int Failed => _failures.Count;

    public int ExitCode => _failures.Count == 0 ? ExitCodes.Ok
        : Succeeded == 0 && _failures.All(code => code == _failures[0]) ? _failures[0]
        : ExitCodes.Partial;

    /// <summary>Runs the work of one item; a failure is reported and counted (cancellation by the user is not: it
    /// ends the command).</summary>
    /// <returns>The work's result, or default when it failed.</returns>
    public async Task<T?> RunAsync<T>(string subject, Func<Task<T>> work)
    {
        try
        {
            var result = await work();
            Succeeded++;
            return result;
        }
        catch (Exception error) when (!context.Cancellation.IsCancellationRequested && !CliAction.IsBrokenPipe(error))
        {
            Fail(subject, error); // a closed stdout is not this item's failure: it ends the command (CliAction)
            return default;
        }
    }

    public void Succeed(int count = 1) => Succeeded += count;

    /// <summary>Counts bytes moved, for the summary.</summary>
    public void AddBytes(long bytes) => _bytes += bytes;

    /// <summary>After work on several files: one line with the counts ("uploaded 3 files (12 MiB) in 1.2 s, 1 failed").</summary>
    public void PrintSummary(string verb)
    {
        if (Succeeded + Failed > 1)
        {
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(_started);
            var failed = Failed > 0 ? $", {Failed} failed" : "";
            context.Output.Info($"{verb} {Succeeded} {(Succeeded == 1 ? "file" : "files")} ({Units.FormatSize(_bytes)}) in {Units.FormatDuration(elapsed)}{failed}");
        }
    }

    public void Fail(string subject, Exception error)
    {
        if (error is OperationCanceledException)
        {
            // Not the user's Ctrl+C (that ends the command): an SDK timeout surfaced as a cancellation.
            error = new DepotUnavailableException(ClientErrorCodes.Timeout, 0, $"no answer in time ({error.Message}). Check the server, or raise --timeout.");
        }

        context.Subject = subject;
        _failures.Add(CliAction.Report(command, context, error));
        context.Subject = null;
    }

    /// <summary>Reports the failed files of a directory transfer (named by <paramref name="nameOf"/> from their
    /// relative path) and counts its transferred ones.</summary>
    public void Add(DirectoryTransferResult result, Func<string, string> nameOf)
    {
        Succeed(result.Transferred.Count);
        AddBytes(result.BytesTransferred);
        foreach (var failure in result.Failed)
        {
            Fail(nameOf(failure.RelativePath), failure.Error);
        }
    }
}

/// <summary>Options and parsing shared by the transfer commands.</summary>
internal static class TransferOptions
{
    public static Option<bool> Recursive() => new("--recursive", "-r") { Description = "Transfer directories and everything below them." };

    public static Option<bool> NoClobber(string what) => new("--no-clobber", "-n") { Description = $"Refuse to replace {what} that exists (exit 4)." };

    public static Option<string[]> Exclude() => new("--exclude")
    {
        Description = "With -r: leave out paths matching GLOB (relative to the directory; '*', '?', '**'; without '/' it matches a name at any depth). Repeatable.",
        HelpName = "GLOB",
    };

    public static Option<string[]> Include() => new("--include")
    {
        Description = "With -r: transfer only paths matching GLOB (same syntax as --exclude, which wins). Repeatable.",
        HelpName = "GLOB",
    };

    public static Option<int> Parallel() => new("--parallel")
    {
        Description = "With -r: files transferred at the same time (1-64, default 4).",
        HelpName = "N",
        DefaultValueFactory = _ => 4,
    };

    public static Option<string?> Offset() => new("--offset") { Description = "First byte to read (e.g. 1024 or 4M; default 0).", HelpName = "N" };

    public static Option<string?> Length() => new("--length") { Description = "Bytes to read from the offset (default: to the end).", HelpName = "N" };

    /// <summary>The directory transfer options of <c>-r</c>, after checking them.</summary>
    public static DirectoryTransferOptions Directory(CliContext context, Option<string[]> include, Option<string[]> exclude, Option<int> parallel, bool noClobber)
    {
        var parallelism = context.Value(parallel);
        if (parallelism is < 1 or > 64)
        {
            throw CliException.Usage($"--parallel takes 1 to 64 (got {parallelism}).");
        }

        var options = new DirectoryTransferOptions { Parallelism = parallelism, Conflict = noClobber ? ConflictMode.Fail : ConflictMode.Overwrite };
        foreach (var glob in context.Value(include) ?? [])
        {
            options.Include.Add(RequireGlob(glob, "--include"));
        }

        foreach (var glob in context.Value(exclude) ?? [])
        {
            options.Exclude.Add(RequireGlob(glob, "--exclude"));
        }

        return options;
    }

    /// <summary>Options that only mean something with <c>-r</c> are refused without it (rather than ignored).</summary>
    public static void RequireRecursive(CliContext context, bool recursive, params Option[] options)
    {
        if (recursive)
        {
            return;
        }

        foreach (var option in options)
        {
            if (context.Parse.GetResult(option) is { Implicit: false })
            {
                throw CliException.Usage($"{option.Name} works with -r (directories) only.");
            }
        }
    }

    /// <summary><c>--offset</c>/<c>--length</c> as download options (overwrite as given).</summary>
    public static DownloadOptions Range(CliContext context, Option<string?> offset, Option<string?> length, bool overwrite = true)
    {
        var options = new DownloadOptions { Overwrite = overwrite };
        if (context.Value(offset) is { } offsetText)
        {
            options.Offset = Units.RequireSize(offsetText, "--offset", allowZero: true);
        }

        if (context.Value(length) is { } lengthText)
        {
            options.Length = Units.RequireSize(lengthText, "--length");
        }

        return options;
    }

    /// <summary>True when a path written by the user names a directory to put things into (a trailing slash).</summary>
    public static bool EndsWithSeparator(string text) => text.EndsWith('/') || text.EndsWith(Path.DirectorySeparatorChar);

    public static string Describe(string from, string to, long size) => $"{from} -> {to} ({Units.FormatSize(size)})";

    /// <summary>Progress of one file shown under the name the user wrote (the SDK reports full local paths).</summary>
    public static IProgress<TransferProgress>? Named(IProgress<TransferProgress>? progress, string name) =>
        progress is null ? null : new NamedProgress(progress, name);

    /// <summary>Standard output as a raw byte stream (binary data must not go through a text writer). Not .NET's console
    /// stream, which ignores a closed pipe: <c>depot cat big.log | head</c> would download the whole file for nothing.
    /// Writes to a reader that went away fail with EPIPE instead, which ends the command (exit 141).</summary>
    public static Stream OpenStdout() =>
        OperatingSystem.IsWindows()
            ? Console.OpenStandardOutput()
            : new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);

    private static string RequireGlob(string glob, string option) =>
        string.IsNullOrWhiteSpace(glob) ? throw CliException.Usage($"{option} takes a non-empty GLOB.") : glob;
}

/// <summary>Passes progress on under another file name.</summary>
internal sealed class NamedProgress(IProgress<TransferProgress> inner, string name) : IProgress<TransferProgress>
{
    public void Report(TransferProgress value) => inner.Report(value with { Name = name });
}
