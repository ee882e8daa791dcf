using System.Diagnostics;
using Depot.Client;
using Spectre.Console;

namespace Depot.Cli.Shell;

/// <summary>
/// Shows the progress of transfers the way <see cref="CliOutput"/>'s mode asks: bars per file and overall (bytes,
/// rate, ETA) on a terminal; one plain line per finished file of a multi-file transfer in a pipe; nothing with
/// <c>--quiet</c> or <c>--json</c>.
/// </summary>
internal static class TransferView
{
    /// <summary>Runs <paramref name="work"/>, giving it the progress sink of the current mode (null when nothing is shown).</summary>
    /// <param name="verb">What a finished file is called in line mode ("uploaded", "downloaded", "sent").</param>
    /// <param name="multiple">Several files: finished bars are hidden (the overall bar stays) and line mode prints a line per file.</param>
    /// <param name="describe">Line mode: the line printed for a finished file, instead of "VERB NAME (size, rate)"
    /// (for commands whose per-file line says more, like where the file went).</param>
    public static async Task<T> RunAsync<T>(CliOutput output, string verb, bool multiple, Func<IProgress<TransferProgress>?, Task<T>> work,
        Func<TransferProgress, string>? describe = null)
    {
        if (output.ShowProgressBars)
        {
            var progress = AnsiConsole.Progress()
                .AutoClear(multiple)
                .HideCompleted(multiple)
                .AutoRefresh(true)
                .Columns(
                    new TaskDescriptionColumn { Alignment = Justify.Left },
                    new ProgressBarColumn(),
                    new PercentageColumn(),
                    new DownloadedColumn(),
                    new TransferSpeedColumn(),
                    new RemainingTimeColumn());
            return await progress.StartAsync(context => work(new BarSink(context)));
        }

        return await work(output.ShowProgressLines && multiple ? new LineSink(output, verb, describe) : null);
    }

    /// <summary>Spectre tasks keyed by file name, plus one overall task when the SDK reports overall counts.</summary>
    private sealed class BarSink(ProgressContext context) : IProgress<TransferProgress>
    {
        private const int NameWidth = 40;
        private readonly Dictionary<string, ProgressTask> _files = new(StringComparer.Ordinal);
        private static readonly TimeSpan MinForcedRefreshInterval = TimeSpan.FromMilliseconds(100);
        private readonly Lock _lock = new();
        private ProgressTask? _overall;
        private long _lastForcedRefresh;

        public void Report(TransferProgress value)
        {
            lock (_lock)
            {
                if (value.Overall is { } overall)
                {
                    _overall ??= context.AddTask("total", maxValue: Math.Max(1, overall.TotalBytes));
                    _overall.MaxValue = Math.Max(1, overall.TotalBytes);
                    _overall.Value = Math.Min(overall.BytesTransferred, _overall.MaxValue);
                    _overall.Description = Markup.Escape($"total {overall.FilesDone}/{overall.FilesTotal} files");
                }

                var name = value.Name ?? "";
                if (!_files.TryGetValue(name, out var task))
                {
                    if (value.IsCompleted && value.Overall is not null && value.BytesTransferred == 0)
                    {
                        return; // an empty or skipped file: no bar to flash
                    }

                    task = context.AddTask(Markup.Escape(Shorten(CliOutput.Sanitize(name))), maxValue: Math.Max(1, value.TotalBytes ?? 1));
                    task.IsIndeterminate = value.TotalBytes is null;
                    _files[name] = task;
                    if (Stopwatch.GetElapsedTime(_lastForcedRefresh) > MinForcedRefreshInterval)
                    {
                        // A file is drawn when it starts, not only at the next timed refresh (100 ms), which fast
                        // transfers finish before; at most every 100 ms, so thousands of small files cost nothing.
                        _lastForcedRefresh = Stopwatch.GetTimestamp();
                        context.Refresh();
                    }
                }

                if (value.TotalBytes is { } total)
                {
                    task.MaxValue = Math.Max(1, total);
                    task.IsIndeterminate = false;
                }

                task.Value = Math.Min(value.BytesTransferred, task.MaxValue);
                if (value.IsCompleted)
                {
                    task.Value = task.MaxValue;
                    task.StopTask();
                    _files.Remove(name);
                }
            }
        }

        private static string Shorten(string name) => name.Length <= NameWidth ? name : "…" + name[^(NameWidth - 1)..];
    }

    /// <summary>One line per finished file; no carriage returns, no escape sequences.</summary>
    private sealed class LineSink(CliOutput output, string verb, Func<TransferProgress, string>? describe) : IProgress<TransferProgress>
    {
        private readonly Lock _lock = new();

        public void Report(TransferProgress value)
        {
            if (!value.IsCompleted)
            {
                return;
            }

            lock (_lock)
            {
                output.Info(describe?.Invoke(value) ?? $"{verb} {value.Name} ({Units.FormatSize(value.BytesTransferred)}, {Units.FormatRate(value.BytesPerSecond)})");
            }
        }
    }
}
