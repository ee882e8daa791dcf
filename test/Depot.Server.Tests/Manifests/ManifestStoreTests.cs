using Depot.Core.Uploads.Manifests;
using Depot.Storage.Sqlite;

namespace Depot.Server.Tests.Manifests;

/// <summary>The SQLite manifest store: what is written reads back the same after reopening, updates of one manifest never
/// lose each other, and a failing change touches nothing else.</summary>
public sealed class ManifestStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "depot-manifest-store-" + Guid.NewGuid().ToString("N"));
    private SqliteMetadataStore _store = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DatabasePath => Path.Combine(_directory, "depot.db");

    public async ValueTask InitializeAsync()
    {
        _store = new SqliteMetadataStore(DatabasePath);
        await _store.InitializeAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Manifest_WrittenThenReopened_ReadsBackTheSame()
    {
        var manifest = Sample("m1", files: 3);
        await _store.InsertManifestAsync(manifest, Ct);
        await _store.DisposeAsync();
        _store = new SqliteMetadataStore(DatabasePath);
        await _store.InitializeAsync(Ct);

        var read = await _store.GetManifestAsync("m1", Ct);

        Assert.NotNull(read);
        Assert.Equal((manifest.Id, manifest.Bucket, manifest.Prefix, manifest.Identity, manifest.ChunkSize, manifest.CreatedUtc, manifest.ExpiresUtc, manifest.CompletedUtc),
            (read.Id, read.Bucket, read.Prefix, read.Identity, read.ChunkSize, read.CreatedUtc, read.ExpiresUtc, read.CompletedUtc));
        Assert.Equal(manifest.Files.Count, read.Files.Count);
        for (var i = 0; i < manifest.Files.Count; i++)
        {
            var (want, got) = (manifest.Files[i], read.Files[i]);
            Assert.Equal((want.Name, want.Key, want.Size, want.Decision, want.Reason, want.SessionId, want.UploadedUtc), (got.Name, got.Key, got.Size, got.Decision, got.Reason, got.SessionId, got.UploadedUtc));
            Assert.Equal(want.Sha256, got.Sha256);
            Assert.Equal(want.Md5, got.Md5);
        }

        Assert.Null(await _store.GetManifestAsync("nope", Ct));
    }

    [Fact]
    public async Task Update_ManyAtOnceOnOneManifest_NoneIsLost()
    {
        await _store.InsertManifestAsync(Sample("busy", files: 40), Ct);

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() => _store.UpdateManifestAsync("busy", m =>
        {
            var files = m.Files.ToArray();
            files[i] = files[i] with { UploadedUtc = Now.AddSeconds(i) };
            return m with { Files = files };
        }, Ct))));

        Assert.All(results, r => Assert.True(r.Changed));
        var final = await _store.GetManifestAsync("busy", Ct);
        Assert.All(Enumerable.Range(0, 40), i => Assert.Equal(Now.AddSeconds(i), final!.Files[i].UploadedUtc));
    }

    [Fact]
    public async Task Update_ReturningNull_ChangesNothing_AndAThrowingChangeFailsOnlyItsCaller()
    {
        await _store.InsertManifestAsync(Sample("calm", files: 1), Ct);

        var unchanged = await _store.UpdateManifestAsync("calm", _ => null, Ct);
        Assert.False(unchanged.Changed);
        Assert.Equal("calm", unchanged.Manifest?.Id);

        var failing = _store.UpdateManifestAsync("calm", _ => throw new InvalidOperationException("bad change"), Ct);
        var other = _store.UpdateManifestAsync("calm", m => m with { CompletedUtc = Now }, Ct);
        Assert.Equal("bad change", (await Assert.ThrowsAsync<InvalidOperationException>(() => failing)).Message);
        Assert.True((await other).Changed);
        Assert.Equal(Now, (await _store.GetManifestAsync("calm", Ct))?.CompletedUtc);

        var missing = await _store.UpdateManifestAsync("gone", m => m, Ct);
        Assert.Equal(new ManifestUpdate(null, false), missing);
    }

    [Fact]
    public async Task Expired_ListsOnlyThosePastTheirExpiry_AndDeleteRemoves()
    {
        await _store.InsertManifestAsync(Sample("old", files: 1) with { ExpiresUtc = Now.AddHours(-1) }, Ct);
        await _store.InsertManifestAsync(Sample("young", files: 1) with { ExpiresUtc = Now.AddHours(1) }, Ct);

        Assert.Equal(["old"], (await _store.GetExpiredManifestsAsync(Now, 10, Ct)).Select(m => m.Id));

        await _store.UpdateManifestAsync("old", m => m with { ExpiresUtc = Now.AddHours(2) }, Ct);
        Assert.Empty(await _store.GetExpiredManifestsAsync(Now, 10, Ct));
        Assert.True(await _store.DeleteManifestAsync("young", Ct));
        Assert.False(await _store.DeleteManifestAsync("young", Ct));
        Assert.Null(await _store.GetManifestAsync("young", Ct));
    }

    private static ManifestRecord Sample(string id, int files) => new(
        id,
        "default",
        "photos/2024",
        "key-1",
        1 << 20,
        Now,
        Now.AddDays(1),
        null,
        Enumerable.Range(0, files).Select(i => new ManifestEntry(
            $"f{i}.jpg",
            i % 3 == 2 ? null : $"photos/2024/f{i}.jpg",
            1000 + i,
            i % 2 == 0 ? [.. Enumerable.Range(0, 32).Select(b => (byte)(b + i))] : null,
            i % 2 == 1 ? [.. Enumerable.Range(0, 16).Select(b => (byte)(b * i))] : null,
            (ManifestDecision)(i % 3),
            i % 3 == 1 ? "because \"reasons\" ü" : null,
            i % 3 == 0 ? "session" + i : null,
            i == 3 ? Now.AddMinutes(3) : null)).ToList());
}
