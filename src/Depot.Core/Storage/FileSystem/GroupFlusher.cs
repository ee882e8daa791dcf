using System.Runtime.InteropServices;

namespace Depot.Core.Storage.FileSystem;

/// <summary>
/// Group durability for small writes: one <c>syncfs(2)</c> makes everything written to a filesystem before it started
/// durable, so concurrent small uploads share flushes instead of paying one <c>fdatasync</c> each.
/// </summary>
/// <remarks>
/// A caller's flush is served by a syncfs that <em>starts after</em> the caller asked (tickets), so it covers the
/// caller's writes. While one syncfs runs, new callers gather for the next one. syncfs also flushes unrelated dirty
/// data on the same filesystem; large uploads keep theirs small with early writeback, and use fdatasync themselves.
/// See docs/decisions/0007.
/// </remarks>
internal sealed partial class GroupFlusher : IDisposable
{
    private readonly object _gate = new();
    private readonly List<(long Ticket, TaskCompletionSource Done)> _waiting = [];
    private readonly SafeHandle _directory;
    private long _requested;
    private bool _running;

    public GroupFlusher(string directoryOnFilesystem)
    {
        _directory = PosixIo.OpenDirectory(directoryOnFilesystem);
    }

    /// <summary>Completes once everything written before the call is durable.</summary>
    public Task FlushAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiting.Add((++_requested, done));
            if (!_running)
            {
                _running = true;
                _ = Task.Run(FlushLoop);
            }
        }

        return done.Task;
    }

    private void FlushLoop()
    {
        while (true)
        {
            long target;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _running = false;
                    return;
                }

                target = _requested; // every caller up to here asked before this syncfs starts
            }

            Exception? failure = null;
            try
            {
                PosixIo.SyncFilesystem(_directory);
            }
            catch (IOException e)
            {
                failure = e;
            }

            List<TaskCompletionSource> finished = [];
            lock (_gate)
            {
                for (var i = _waiting.Count - 1; i >= 0; i--)
                {
                    if (_waiting[i].Ticket <= target)
                    {
                        finished.Add(_waiting[i].Done);
                        _waiting.RemoveAt(i);
                    }
                }
            }

            foreach (var done in finished)
            {
                if (failure is null)
                {
                    done.TrySetResult();
                }
                else
                {
                    done.TrySetException(failure);
                }
            }
        }
    }

    public void Dispose() => _directory.Dispose();
}
