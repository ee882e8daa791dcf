using System.Collections.Concurrent;
using Depot.Core.Model;

namespace Depot.Core.Engine;

/// <summary>
/// Recently used object records, so a hot read does not query the metadata store; for small objects also their bytes,
/// so a hot small read (a key-value GET) does not open the file.
/// </summary>
/// <remarks>Safe without expiry because a cached record (and its bytes) is only ever used after its blob version was
/// compared with the blob's current one; the engine updates or drops entries on every write it makes, and a new record
/// for a key always drops the bytes cached with the previous one. Bounded: when full (entries or bytes) it is emptied
/// (cheap, and a refill costs one metadata read per key).</remarks>
internal sealed class RecordCache(int capacity, long maxValueBytes)
{
    /// <summary>Objects up to this size may have their bytes cached.</summary>
    public const int MaxValueSize = 64 << 10;
    private readonly ConcurrentDictionary<(string Bucket, string Key), Entry> _entries = new();
    private long _valueBytes;

    public ObjectRecord? TryGet(string bucket, string key) => _entries.TryGetValue((bucket, key), out var e) ? e.Record : null;

    /// <summary>The record and bytes of a small object, when both are cached.</summary>
    public (ObjectRecord Record, byte[] Value)? TryGetValue(string bucket, string key) =>
        _entries.TryGetValue((bucket, key), out var e) && e.Value is { } value ? (e.Record, value) : null;

    /// <summary>Caches a record written or checked under its key's lock (replacing any entry).</summary>
    public void Set(ObjectRecord record) => Store(record, null);

    /// <summary>Caches a record read without the key's lock, only if the key has no entry: it must never replace a newer
    /// record a writer cached meanwhile.</summary>
    public void TryAdd(ObjectRecord record)
    {
        if (_entries.Count < capacity)
        {
            _entries.TryAdd((record.Bucket, record.Key), new Entry(record, null));
        }
    }

    /// <summary>Caches the bytes of <paramref name="record"/> (exactly <see cref="ObjectRecord.Size"/> bytes, small).</summary>
    /// <remarks>Attached only while the cached entry is still exactly <paramref name="record"/>, so bytes never join a
    /// newer record.</remarks>
    public void SetValue(ObjectRecord record, byte[] value)
    {
        var slot = (record.Bucket, record.Key);
        if (value.Length > MaxValueSize || value.LongLength != record.Size || !_entries.TryGetValue(slot, out var current)
            || !ReferenceEquals(current.Record, record) || current.Value is not null)
        {
            return;
        }

        if (Interlocked.Add(ref _valueBytes, value.Length) > maxValueBytes)
        {
            Clear();
            return;
        }

        if (!_entries.TryUpdate(slot, new Entry(record, value), current))
        {
            Interlocked.Add(ref _valueBytes, -value.Length);
        }
    }

    public void Remove(string bucket, string key)
    {
        if (_entries.TryRemove((bucket, key), out var old) && old.Value is { } value)
        {
            Interlocked.Add(ref _valueBytes, -value.Length);
        }
    }

    public void Clear()
    {
        _entries.Clear();
        Interlocked.Exchange(ref _valueBytes, 0);
    }

    private void Store(ObjectRecord record, byte[]? value)
    {
        if (_entries.Count >= capacity)
        {
            Clear();
        }

        // Replace exactly once (TryUpdate), so the bytes of the entry replaced are subtracted exactly once.
        var slot = (record.Bucket, record.Key);
        var entry = new Entry(record, value);
        while (true)
        {
            if (_entries.TryGetValue(slot, out var old))
            {
                if (_entries.TryUpdate(slot, entry, old))
                {
                    if (old.Value is { } oldValue)
                    {
                        Interlocked.Add(ref _valueBytes, -oldValue.Length);
                    }

                    return;
                }
            }
            else if (_entries.TryAdd(slot, entry))
            {
                return;
            }
        }
    }

    /// <summary>A class, not a record: entries are compared by reference (TryUpdate), never by value.</summary>
    private sealed class Entry(ObjectRecord record, byte[]? value)
    {
        public ObjectRecord Record { get; } = record;

        public byte[]? Value { get; } = value;
    }
}
