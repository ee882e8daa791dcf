using System.Security.Cryptography;
using Depot.Core.Engine;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Storage;
using Depot.Core.Storage.FileSystem;
using Depot.Core.Tests.TestSupport;
using Depot.Storage.Sqlite;

namespace Depot.Core.Tests.Engine;

/// <summary>
/// <see cref="BlobStat.Version"/> "changes whenever the bytes change": the engine trusts a record only while its
/// version equals the blob's. File timestamps are coarse (the kernel stamps new files from a clock that advances in
/// jiffies, several milliseconds), so two uploads of equal size staged within one tick get equal mtimes. These tests
/// pin such a tick deterministically by setting the staged file's mtime, instead of relying on timing.
/// </summary>
public sealed class VersionTokenTests : IAsyncLifetime
{
    private const string Bucket = "default";
    private static readonly DateTime Tick = new(2026, 11, 21, 12, 0, 0, DateTimeKind.Utc);
    private readonly TempDirectory _temp = new();
    private FileSystemBlobStore _blobs = null!;
    private SqliteMetadataStore _metadata = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Root => _temp.Combine("data");

    public async ValueTask InitializeAsync()
    {
        _blobs = new FileSystemBlobStore(new Dictionary<string, string> { [Bucket] = Root });
        _metadata = new SqliteMetadataStore(Path.Combine(Root, ".depot", "depot.db"));
        await _metadata.InitializeAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _metadata.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task Publish_SameSizeBytesStagedInOneTimestampTick_GetsDifferentVersion()
    {
        var key = ObjectKey.Parse("k").Value;

        var first = await PublishInTickAsync(key, Bytes(4096, 1));
        var second = await PublishInTickAsync(key, Bytes(4096, 2));

        Assert.NotEqual(first.Version, second.Version);
    }

    [Fact]
    public async Task OpenRead_SameSizeOverwriteInOneTickWhileOpening_ServesTheOpenedBytesChecksum()
    {
        var blobs = new OneTickBlobStore(_blobs, Root);
        var engine = new ObjectEngine(blobs, _metadata, new BucketRegistry(new Dictionary<string, BucketOptions> { [Bucket] = new() }));
        var key = ObjectKey.Parse("k").Value;
        var a = Bytes(4096, 3);
        var b = Bytes(4096, 4);
        await engine.PutAsync(Bucket, key, new MemoryStream(a), new PutOptions(), Ct);
        // A second upload of equal size lands right after the reader opened the first version.
        blobs.AfterNextOpen = () => engine.PutAsync(Bucket, key, new MemoryStream(b), new PutOptions(), Ct);

        var opened = await engine.OpenReadAsync(Bucket, key, Ct);

        await using var content = opened.Value.Content;
        var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, Ct);
        Assert.Equal(SHA256.HashData(buffer.ToArray()), opened.Value.Record.Sha256);
    }

    private async Task<BlobStat> PublishInTickAsync(ObjectKey key, byte[] body)
    {
        await using var writer = await _blobs.BeginWriteAsync(Bucket, Ct);
        await writer.WriteAsync(body, Ct);
        await writer.FlushDurableAsync(Ct);
        OneTickBlobStore.StampStaged(Root);
        return (await writer.PublishAsync(key, Ct))!;
    }

    private static byte[] Bytes(int length, int seed) => TestBytes.Seeded(length, seed);

    /// <summary>The filesystem store, with every staged file stamped with the same mtime just before it is published,
    /// and an optional action run once right after a file is opened for reading.</summary>
    private sealed class OneTickBlobStore(FileSystemBlobStore inner, string root) : DelegatingBlobStore(inner)
    {
        public Func<Task>? AfterNextOpen { get; set; }

        public static void StampStaged(string root)
        {
            foreach (var staged in Directory.EnumerateFiles(Path.Combine(root, ".depot", "tmp")))
            {
                File.SetLastWriteTimeUtc(staged, Tick);
            }
        }

        public override async ValueTask<IBlobWriter> BeginWriteAsync(string bucket, CancellationToken cancellationToken) =>
            new Writer(await inner.BeginWriteAsync(bucket, cancellationToken), root);

        public override async ValueTask<BlobRead?> OpenReadAsync(string bucket, ObjectKey key, CancellationToken cancellationToken)
        {
            var read = await inner.OpenReadAsync(bucket, key, cancellationToken);
            if (AfterNextOpen is { } action)
            {
                AfterNextOpen = null;
                await action();
            }

            return read;
        }

        private sealed class Writer(IBlobWriter inner, string root) : IBlobWriter
        {
            public long Length => inner.Length;

            public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => inner.WriteAsync(data, cancellationToken);

            public ValueTask FlushDurableAsync(CancellationToken cancellationToken) => inner.FlushDurableAsync(cancellationToken);

            public ValueTask<BlobStat?> PublishAsync(ObjectKey key, CancellationToken cancellationToken)
            {
                StampStaged(root);
                return inner.PublishAsync(key, cancellationToken);
            }

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
