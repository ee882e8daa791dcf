using System.Collections.Concurrent;

namespace Depot.Core.Engine;

/// <summary>Async mutual exclusion per string key; entries are removed when nobody holds or waits for them.</summary>
internal sealed class KeyedLock
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public async ValueTask<IDisposable> AcquireAsync(string key, CancellationToken cancellationToken)
    {
        while (true)
        {
            var entry = _entries.GetOrAdd(key, static _ => new Entry());
            lock (entry)
            {
                if (entry.Removed)
                {
                    continue;
                }

                entry.RefCount++;
            }

            try
            {
                await entry.Semaphore.WaitAsync(cancellationToken);
            }
            catch
            {
                Release(key, entry, heldSemaphore: false);
                throw;
            }

            return new Releaser(this, key, entry);
        }
    }

    /// <summary>Acquires several keys in a fixed order, so two callers never deadlock.</summary>
    public async ValueTask<IDisposable> AcquireAllAsync(IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        var held = new List<IDisposable>();
        try
        {
            foreach (var key in keys.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                held.Add(await AcquireAsync(key, cancellationToken));
            }

            return new Many(held);
        }
        catch
        {
            new Many(held).Dispose();
            throw;
        }
    }

    private void Release(string key, Entry entry, bool heldSemaphore)
    {
        if (heldSemaphore)
        {
            entry.Semaphore.Release();
        }

        lock (entry)
        {
            if (--entry.RefCount == 0)
            {
                entry.Removed = true;
                _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
            }
        }
    }

    private sealed class Entry
    {
        public SemaphoreSlim Semaphore { get; } = new(1, 1);
        public int RefCount { get; set; }
        public bool Removed { get; set; }
    }

    private sealed class Releaser(KeyedLock owner, string key, Entry entry) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Release(key, entry, heldSemaphore: true);
            }
        }
    }

    private sealed class Many(List<IDisposable> held) : IDisposable
    {
        public void Dispose()
        {
            for (var i = held.Count - 1; i >= 0; i--)
            {
                held[i].Dispose();
            }
        }
    }
}
