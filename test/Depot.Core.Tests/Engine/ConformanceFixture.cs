using Depot.Core.Engine;
using Depot.Core.Storage;

namespace Depot.Core.Tests.Engine;

/// <summary>What a backend hands the conformance suite: an engine over its stores, the metadata store itself,
/// a way to count staged (not yet published) blobs, and its cleanup.</summary>
public sealed class ConformanceFixture(ObjectEngine engine, IMetadataStore metadata, Func<string, int> countStagedBlobs, Func<ValueTask> dispose) : IAsyncDisposable
{
    public ObjectEngine Engine { get; } = engine;

    public IMetadataStore Metadata { get; } = metadata;

    /// <summary>Temporary blobs (staged files, pending multipart uploads) currently held for <paramref name="bucket"/>.</summary>
    public int CountStagedBlobs(string bucket) => countStagedBlobs(bucket);

    public ValueTask DisposeAsync() => dispose();
}
