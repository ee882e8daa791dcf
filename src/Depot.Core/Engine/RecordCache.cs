using System.Collections.Concurrent;
using Depot.Core.Model;

namespace Depot.Core.Engine;

/// <summary>
/// Recently used object records, so a hot read does not query the metadata store.
/// </summary>
/// <remarks>Safe without expiry because a cached record is only ever used after its blob version was compared with the
/// bytes actually opened; the engine updates or drops entries on every write it makes. Bounded: when full it is
/// emptied (cheap, and a refill costs one metadata read per key).</remarks>
internal sealed class RecordCache(int capacity)
{
    private readonly ConcurrentDictionary<(string Bucket, string Key), ObjectRecord> _records = new();

    public ObjectRecord? TryGet(string bucket, string key) => _records.TryGetValue((bucket, key), out var r) ? r : null;

    public void Set(ObjectRecord record)
    {
        if (_records.Count >= capacity)
        {
            _records.Clear();
        }

        _records[(record.Bucket, record.Key)] = record;
    }

    public void Remove(string bucket, string key) => _records.TryRemove((bucket, key), out _);

    public void Clear() => _records.Clear();
}
