using System.Collections.Concurrent;
using System.Security.Cryptography;
using Depot.Core.Engine;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Storage.FileSystem;
using Depot.Core.Tests.TestSupport;
using Depot.Core.Uploads;
using Depot.Storage.Sqlite;

namespace Depot.Core.Tests.Uploads;

/// <summary>A clock that only moves when told to.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero).UtcTicks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);
}

/// <summary>A policy that records its events and can refuse or redirect uploads.</summary>
internal sealed class RecordingPolicy : IUploadPolicy
{
    public ConcurrentQueue<UploadProposal> Proposals { get; } = new();

    public ConcurrentQueue<UploadCompleted> Completed { get; } = new();

    public ConcurrentQueue<UploadCancelled> Cancelled { get; } = new();

    public Func<UploadProposal, UploadDecision> Decide { get; set; } = _ => UploadDecision.Allow;

    public ValueTask<UploadDecision> DecideAsync(UploadProposal proposal, CancellationToken cancellationToken)
    {
        Proposals.Enqueue(proposal);
        return ValueTask.FromResult(Decide(proposal));
    }

    public ValueTask CompletedAsync(UploadCompleted completed, CancellationToken cancellationToken)
    {
        Completed.Enqueue(completed);
        return ValueTask.CompletedTask;
    }

    public ValueTask CancelledAsync(UploadCancelled cancelled, CancellationToken cancellationToken)
    {
        Cancelled.Enqueue(cancelled);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// The embedded stack (plain files + SQLite) with an <see cref="UploadEngine"/> on a <see cref="ManualClock"/>, over three
/// buckets: <c>main</c> (chunk sizes 4..1 MiB, objects up to 64 MiB), <c>wide</c> (default limits) and <c>frozen</c>
/// (read-only). <see cref="RestartAsync"/> reopens everything on the same directories, as a restarted server would.
/// </summary>
internal sealed class UploadTestStack : IAsyncDisposable
{
    public const string Main = "main";
    public const string Wide = "wide";
    public const string Frozen = "frozen";
    public const long MinChunk = 4;
    public const long MaxChunk = 1 << 20;
    public const long MaxObject = 64L << 20;
    public static readonly TimeSpan Expiry = TimeSpan.FromHours(1);

    private readonly TempDirectory _temp;
    private SqliteMetadataStore _metadata;

    private UploadTestStack(TempDirectory temp, ManualClock clock, RecordingPolicy policy, FileSystemBlobStore blobs, SqliteMetadataStore metadata, ObjectEngine objects, UploadEngine uploads)
    {
        _temp = temp;
        Clock = clock;
        Policy = policy;
        Blobs = blobs;
        _metadata = metadata;
        Objects = objects;
        Uploads = uploads;
    }

    public ManualClock Clock { get; }

    public RecordingPolicy Policy { get; }

    public FileSystemBlobStore Blobs { get; private set; }

    public ObjectEngine Objects { get; private set; }

    public UploadEngine Uploads { get; private set; }

    public IUploadSessionStore Sessions => _metadata;

    public static async Task<UploadTestStack> OpenAsync()
    {
        var temp = new TempDirectory();
        var clock = new ManualClock();
        var policy = new RecordingPolicy();
        var (blobs, metadata, objects, uploads) = await BuildAsync(temp, clock, policy);
        return new UploadTestStack(temp, clock, policy, blobs, metadata, objects, uploads);
    }

    public string Root(string bucket) => _temp.Combine(bucket);

    /// <summary>The plain file an object of <paramref name="bucket"/> lives in.</summary>
    public string FilePath(string bucket, string key) => Path.Combine(Root(bucket), key.Replace('/', Path.DirectorySeparatorChar));

    public string UploadsFolder(string bucket) => Path.Combine(Root(bucket), ".depot", "uploads");

    public string StagedPath(string bucket, string id) => Path.Combine(UploadsFolder(bucket), id + ".upload");

    /// <summary>Closes the stores and opens new ones (and a new engine) on the same directories.</summary>
    public async Task RestartAsync()
    {
        await _metadata.DisposeAsync();
        var (blobs, metadata, objects, uploads) = await BuildAsync(_temp, Clock, Policy);
        (Blobs, _metadata, Objects, Uploads) = (blobs, metadata, objects, uploads);
    }

    public async ValueTask DisposeAsync()
    {
        await _metadata.DisposeAsync();
        _temp.Dispose();
    }

    private static async Task<(FileSystemBlobStore, SqliteMetadataStore, ObjectEngine, UploadEngine)> BuildAsync(TempDirectory temp, ManualClock clock, RecordingPolicy policy)
    {
        var buckets = new Dictionary<string, BucketOptions>(StringComparer.Ordinal)
        {
            [Main] = new BucketOptions { Path = temp.Combine(Main), MinChunkSize = MinChunk, MaxChunkSize = MaxChunk, MaxObjectSize = MaxObject },
            [Wide] = new BucketOptions { Path = temp.Combine(Wide) },
            [Frozen] = new BucketOptions { Path = temp.Combine(Frozen), ReadOnly = true },
        };
        foreach (var options in buckets.Values)
        {
            Directory.CreateDirectory(options.Path);
        }

        var blobs = new FileSystemBlobStore(buckets.ToDictionary(b => b.Key, b => b.Value.Path, StringComparer.Ordinal));
        var metadata = new SqliteMetadataStore(Path.Combine(temp.Combine(Main), ".depot", "depot.db"));
        await metadata.InitializeAsync(TestContext.Current.CancellationToken);
        var objects = new ObjectEngine(blobs, metadata, new BucketRegistry(buckets), clock);
        var uploads = new UploadEngine(objects, blobs, metadata, policy, new UploadEngineOptions { SessionExpiry = Expiry }, clock);
        return (blobs, metadata, objects, uploads);
    }
}

/// <summary>
/// A request body that hands out <c>first</c>, then waits (reporting <see cref="Waiting"/>) until <see cref="Release"/>,
/// then hands out <c>rest</c> and ends: a chunk that is reliably "in flight" for as long as a test needs.
/// </summary>
internal sealed class GatedStream(byte[] first, byte[] rest) : Stream
{
    private readonly TaskCompletionSource _waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _position;

    /// <summary>Completes when every byte of <c>first</c> has been read and the reader asks for more.</summary>
    public Task Waiting => _waiting.Task;

    public void Release() => _release.TrySetResult();

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position == first.Length)
        {
            _waiting.TrySetResult();
            await _release.Task.WaitAsync(cancellationToken);
        }

        byte[] all = [.. first, .. rest];
        var n = Math.Min(buffer.Length, all.Length - _position);
        if (_position < first.Length)
        {
            n = Math.Min(n, first.Length - _position); // never hand out bytes of both parts in one read
        }

        all.AsMemory(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A body that fails with an <see cref="IOException"/> after <c>failAfter</c> bytes (a client gone mid-body).</summary>
internal sealed class BreakingStream(byte[] bytes, int failAfter) : Stream
{
    private int _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position >= failAfter)
        {
            throw new IOException("The client went away.");
        }

        var n = Math.Min(buffer.Length, failAfter - _position);
        bytes.AsMemory(_position, n).CopyTo(buffer);
        _position += n;
        return ValueTask.FromResult(n);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

internal static class UploadFacts
{
    public static ObjectKey Key(string key) => ObjectKey.Parse(key).Value;

    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
