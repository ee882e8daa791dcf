namespace Depot.Client.Directories;

/// <summary>
/// The overall counts of a directory operation, stamped on every per-file <see cref="TransferProgress"/> as
/// <see cref="TransferProgress.Overall"/>. Thread-safe: parallel files (and parallel chunks of one file) report into it.
/// </summary>
internal sealed class DirectoryProgress
{
    private readonly IProgress<TransferProgress>? _progress;
    private readonly int _filesTotal;
    private readonly long _bytesTotal;
    private int _filesDone;
    private long _bytes;

    /// <param name="filesTotal">Files the operation handles, skipped ones included.</param>
    /// <param name="filesDoneAlready">Files settled before any transfer (skipped).</param>
    /// <param name="bytesTotal">Bytes of the files to transfer.</param>
    public DirectoryProgress(IProgress<TransferProgress>? progress, int filesTotal, int filesDoneAlready, long bytesTotal)
    {
        _progress = progress;
        _filesTotal = filesTotal;
        _filesDone = filesDoneAlready;
        _bytesTotal = bytesTotal;
    }

    public OverallProgress Snapshot() => new()
    {
        FilesDone = Volatile.Read(ref _filesDone),
        FilesTotal = _filesTotal,
        BytesTransferred = Interlocked.Read(ref _bytes),
        TotalBytes = _bytesTotal,
    };

    /// <summary>A progress sink for one file; pass it to the single-file transfer, then call
    /// <see cref="FileProgress.Finish"/> whatever happened.</summary>
    public FileProgress ForFile(long size) => new(this, size);

    /// <summary>Tracks one file's share of the overall bytes.</summary>
    internal sealed class FileProgress : IProgress<TransferProgress>
    {
        private readonly DirectoryProgress _owner;
        private readonly long _size;
        private long _reported;
        private int _finished;

        public FileProgress(DirectoryProgress owner, long size)
        {
            _owner = owner;
            _size = size;
        }

        /// <summary>The sink to hand to the transfer (null when nobody listens, which skips the reporting work).</summary>
        public IProgress<TransferProgress>? Sink => _owner._progress is null ? null : this;

        public void Report(TransferProgress value)
        {
            if (Volatile.Read(ref _finished) != 0)
            {
                _owner._progress?.Report(value with { Overall = _owner.Snapshot() });
                return;
            }

            var before = Interlocked.Exchange(ref _reported, value.BytesTransferred);
            Interlocked.Add(ref _owner._bytes, value.BytesTransferred - before);
            if (value.IsCompleted)
            {
                Settle(succeeded: true);
            }

            _owner._progress?.Report(value with { Overall = _owner.Snapshot() });
        }

        /// <summary>Counts the file as done: its bytes become its size when it succeeded, nothing when it failed.</summary>
        public void Finish(bool succeeded) => Settle(succeeded);

        private void Settle(bool succeeded)
        {
            if (Interlocked.Exchange(ref _finished, 1) != 0)
            {
                return;
            }

            var final = succeeded ? _size : 0;
            var before = Interlocked.Exchange(ref _reported, final);
            Interlocked.Add(ref _owner._bytes, final - before);
            Interlocked.Increment(ref _owner._filesDone);
        }
    }
}
