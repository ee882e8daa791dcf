using Depot.Core.Engine;
using Depot.Core.Model;
using Depot.Core.Storage.FileSystem;
using Depot.Storage.Sqlite;

namespace Depot.Core.Tests.TestSupport;

/// <summary>The embedded default stack (plain files + SQLite) over given bucket directories.</summary>
public sealed class FileSystemEngine : IAsyncDisposable
{
    private FileSystemEngine(FileSystemBlobStore blobs, SqliteMetadataStore metadata, ObjectEngine engine)
    {
        Blobs = blobs;
        Metadata = metadata;
        Engine = engine;
    }

    public FileSystemBlobStore Blobs { get; }

    public SqliteMetadataStore Metadata { get; }

    public ObjectEngine Engine { get; }

    /// <summary>Opens the stack. The database lives in <paramref name="databasePath"/>, by default in the first
    /// bucket's hidden state folder, as <c>depot serve</c> lays it out.</summary>
    public static async Task<FileSystemEngine> OpenAsync(IReadOnlyDictionary<string, (string Root, BucketOptions Options)> buckets, string? databasePath = null)
    {
        var roots = buckets.ToDictionary(b => b.Key, b => b.Value.Root, StringComparer.Ordinal);
        var blobs = new FileSystemBlobStore(roots);
        var metadata = new SqliteMetadataStore(databasePath ?? Path.Combine(blobs.Root(buckets.Keys.First()), ".depot", "depot.db"));
        await metadata.InitializeAsync(TestContext.Current.CancellationToken);
        var registry = new BucketRegistry(buckets.ToDictionary(b => b.Key, b => b.Value.Options, StringComparer.Ordinal));
        return new FileSystemEngine(blobs, metadata, new ObjectEngine(blobs, metadata, registry));
    }

    /// <summary>One bucket with default limits.</summary>
    public static Task<FileSystemEngine> OpenAsync(string bucket, string root) =>
        OpenAsync(new Dictionary<string, (string, BucketOptions)> { [bucket] = (root, new BucketOptions { Path = root }) });

    public ValueTask DisposeAsync() => Metadata.DisposeAsync();
}
