using Depot.Core.Engine;
using Depot.Core.Storage.FileSystem;
using Depot.Core.Tests.TestSupport;
using Depot.Storage.Sqlite;

namespace Depot.Core.Tests.Engine;

/// <summary>The embedded default: plain files per bucket directory, SQLite in the first bucket's state folder.</summary>
public sealed class FileSystemSqliteConformanceTests : ObjectStoreConformanceTests
{
    protected override async Task<ConformanceFixture> CreateAsync(BucketRegistry buckets)
    {
        var temp = new TempDirectory();
        var roots = buckets.Buckets.Keys.ToDictionary(b => b, b => temp.Combine(b), StringComparer.Ordinal);
        var blobs = new FileSystemBlobStore(roots);
        var metadata = new SqliteMetadataStore(Path.Combine(blobs.Root(MainBucket), ".depot", "depot.db"));
        await metadata.InitializeAsync(TestContext.Current.CancellationToken);
        return new ConformanceFixture(
            new ObjectEngine(blobs, metadata, buckets),
            metadata,
            blobs.CountStagedFiles,
            async () =>
            {
                await metadata.DisposeAsync();
                temp.Dispose();
            });
    }
}
