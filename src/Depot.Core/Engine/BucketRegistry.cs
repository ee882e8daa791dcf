using Depot.Core.Model;

namespace Depot.Core.Engine;

/// <summary>The configured buckets and their limits.</summary>
public sealed class BucketRegistry(IReadOnlyDictionary<string, BucketOptions> buckets)
{
    public IReadOnlyDictionary<string, BucketOptions> Buckets { get; } = buckets;

    public BucketOptions? Find(string bucket) => Buckets.GetValueOrDefault(bucket);
}
