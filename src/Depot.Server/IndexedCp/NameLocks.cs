namespace Depot.Server.IndexedCp;

/// <summary>Async mutual exclusion per name; an entry lives only while someone holds or waits for it.</summary>
/// <remarks>Serializes finding-or-creating the session of one (bucket, key): two first chunks of a new name arriving at
/// once must join one session, not open two.</remarks>
internal sealed class NameLocks
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public async ValueTask<IDisposable> AcquireAsync(string name, CancellationToken cancellationToken)
    {
        Entry entry;
        lock (_entries)
        {
            if (!_entries.TryGetValue(name, out entry!))
            {
                entry = new Entry();
                _entries[name] = entry;
            }

            entry.Users++;
        }

        try
        {
            await entry.Semaphore.WaitAsync(cancellationToken);
        }
        catch
        {
            Leave(name, entry);
            throw;
        }

        return new Holder(this, name, entry);
    }

    private void Leave(string name, Entry entry)
    {
        lock (_entries)
        {
            if (--entry.Users == 0)
            {
                _entries.Remove(name);
                entry.Semaphore.Dispose();
            }
        }
    }

    private sealed class Entry
    {
        public SemaphoreSlim Semaphore { get; } = new(1, 1);

        public int Users { get; set; }
    }

    private sealed class Holder(NameLocks owner, string name, Entry entry) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                entry.Semaphore.Release();
                owner.Leave(name, entry);
            }
        }
    }
}
