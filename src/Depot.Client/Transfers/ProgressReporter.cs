using System.Diagnostics;

namespace Depot.Client.Transfers;

/// <summary>Turns byte counts into throttled <see cref="TransferProgress"/> reports (at most every 100 ms, plus the
/// final one). Thread-safe: parallel chunks add to one reporter.</summary>
internal sealed class ProgressReporter
{
    private static readonly long Interval = Stopwatch.Frequency / 10;
    private readonly IProgress<TransferProgress>? _progress;
    private readonly string _name;
    private readonly long? _total;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly Action<long>? _onBytes;
    private long _bytes;
    private long _lastReport;

    public ProgressReporter(IProgress<TransferProgress>? progress, string name, long? total, Action<long>? onBytes = null)
    {
        _progress = progress;
        _name = name;
        _total = total;
        _onBytes = onBytes;
    }

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Supplies the overall counts of a directory operation for each report.</summary>
    public Func<OverallProgress>? Overall { get; init; }

    /// <summary>Counts bytes already there before this run (a resumed transfer), without a rate.</summary>
    public void Start(long alreadyDone)
    {
        Interlocked.Exchange(ref _bytes, alreadyDone);
        Report(false, force: true);
    }

    public void Add(long bytes)
    {
        if (bytes == 0)
        {
            return;
        }

        Interlocked.Add(ref _bytes, bytes);
        _onBytes?.Invoke(bytes);
        Report(false, force: false);
    }

    /// <summary>Sets the count back (a download that must start over).</summary>
    public void Reset(long bytes)
    {
        var before = Interlocked.Exchange(ref _bytes, bytes);
        _onBytes?.Invoke(bytes - before);
    }

    public void Complete() => Report(true, force: true);

    private void Report(bool completed, bool force)
    {
        if (_progress is null)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        var last = Interlocked.Read(ref _lastReport);
        if (!force && now - last < Interval)
        {
            return;
        }

        if (!force && Interlocked.CompareExchange(ref _lastReport, now, last) != last)
        {
            return;
        }

        Interlocked.Exchange(ref _lastReport, now);
        var elapsed = Stopwatch.GetElapsedTime(_started, now);
        var bytes = Bytes;
        _progress.Report(new TransferProgress
        {
            Name = _name,
            BytesTransferred = bytes,
            TotalBytes = _total,
            Elapsed = elapsed,
            BytesPerSecond = elapsed.TotalSeconds > 0 ? bytes / elapsed.TotalSeconds : 0,
            IsCompleted = completed,
            Overall = Overall?.Invoke(),
        });
    }
}
