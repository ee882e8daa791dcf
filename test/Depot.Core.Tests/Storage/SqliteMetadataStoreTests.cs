using System.Text.RegularExpressions;
using Depot.Core.Model;
using Depot.Core.Security;
using Depot.Core.Tests.TestSupport;
using Depot.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Depot.Core.Tests.Storage;

public sealed partial class SqliteMetadataStoreTests : IAsyncLifetime
{
    private readonly TempDirectory _temp = new();
    private SqliteMetadataStore _store = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DatabasePath => _temp.Combine("state", "depot.db");

    public async ValueTask InitializeAsync()
    {
        _store = new SqliteMetadataStore(DatabasePath);
        await _store.InitializeAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        _temp.Dispose();
    }

    // ---- frozen format ----

    [Fact]
    public async Task Initialize_NewDatabase_HasSchemaVersion3()
    {
        Assert.Equal(3, SqliteMetadataStore.SchemaVersion);
        Assert.Equal(3L, await ScalarAsync("PRAGMA user_version"));
    }

    [Fact]
    public async Task Initialize_NewDatabase_UsesWalJournal() =>
        Assert.Equal("wal", await ScalarAsync("PRAGMA journal_mode"));

    [Fact]
    public async Task Schema_Version2_ObjectsTableColumnsAreFrozen()
    {
        // Changing these is a new schema version with a migration, never an edit of versions 1 (the first nine columns)
        // or 2 (appender objects, expiry, slave files).
        Assert.Equal(
            ["bucket TEXT notnull pk1", "key TEXT notnull pk2", "size INTEGER notnull", "sha256 BLOB notnull", "content_type TEXT",
             "created_ticks INTEGER notnull", "modified_ticks INTEGER notnull", "blob_version TEXT notnull", "metadata TEXT",
             "appendable INTEGER notnull", "hash_state BLOB", "expires_ticks INTEGER", "master TEXT"],
            await ColumnsAsync("objects"));
    }

    [Fact]
    public async Task Schema_Version2_PendingAppendsColumnsAreFrozen() =>
        Assert.Equal(["bucket TEXT notnull pk1", "key TEXT notnull pk2", "restore_size INTEGER notnull", "identity TEXT"], await ColumnsAsync("pending_appends"));

    [Fact]
    public async Task Schema_Version1_ApiKeysTableColumnsAreFrozen() =>
        Assert.Equal(
            ["id TEXT pk1", "name TEXT notnull", "secret_hash BLOB notnull", "scopes INTEGER notnull", "bucket TEXT", "prefix TEXT",
             "created_ticks INTEGER notnull", "expires_ticks INTEGER", "revoked_ticks INTEGER", "rate_limit INTEGER notnull"],
            await ColumnsAsync("api_keys"));

    [Fact]
    public async Task Schema_Version1_RowWrittenByHandIsReadBack()
    {
        // A row exactly as version 1 stores it (what the previous release left on disk) must keep reading the same.
        await ExecuteAsync("""
            INSERT INTO objects (bucket, key, size, sha256, content_type, created_ticks, modified_ticks, blob_version, metadata)
            VALUES ('b', 'legacy/file.txt', 3, X'BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD', 'text/plain',
                    638000000000000000, 638000000010000000, '3:638000000010000000', '{"owner":"ada"}')
            """);

        var record = await _store.GetAsync("b", "legacy/file.txt", Ct);

        Assert.NotNull(record);
        Assert.Equal(3, record.Size);
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", record.Sha256Hex);
        Assert.Equal("text/plain", record.ContentType);
        Assert.Equal(638000000000000000, record.CreatedUtc.UtcTicks);
        Assert.Equal(638000000010000000, record.ModifiedUtc.UtcTicks);
        Assert.Equal("3:638000000010000000", record.BlobVersion);
        Assert.Equal("ada", record.Metadata["owner"]);
    }

    [Fact]
    public async Task Initialize_DatabaseWithNewerSchemaVersion_IsRefusedAndLeftUntouched()
    {
        var path = _temp.Combine("newer", "depot.db");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = $"CREATE TABLE future (x INTEGER); PRAGMA user_version = {SqliteMetadataStore.SchemaVersion + 1};";
            await command.ExecuteNonQueryAsync(Ct);
        }

        var store = new SqliteMetadataStore(path);
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.InitializeAsync(Ct));
            Assert.Contains((SqliteMetadataStore.SchemaVersion + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await store.DisposeAsync();
        }

        await using var check = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await check.OpenAsync(Ct);
        await using var version = check.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        Assert.Equal((long)SqliteMetadataStore.SchemaVersion + 1, await version.ExecuteScalarAsync(Ct));
        version.CommandText = "SELECT count(*) FROM sqlite_master WHERE name = 'objects'";
        Assert.Equal(0L, await version.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task Initialize_ExistingDatabase_KeepsRecords()
    {
        await _store.PutAsync(Record("b", "kept"), Ct);
        await _store.DisposeAsync();

        _store = new SqliteMetadataStore(DatabasePath);
        await _store.InitializeAsync(Ct);

        Assert.NotNull(await _store.GetAsync("b", "kept", Ct));
        Assert.Equal((long)SqliteMetadataStore.SchemaVersion, await ScalarAsync("PRAGMA user_version"));
    }

    // ---- records ----

    [Fact]
    public async Task Put_FullRecord_RoundTripsEveryField()
    {
        var record = new ObjectRecord("b", "dir/ünïcode 😀.bin", 42, Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), "image/png",
            new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(7), new DateTimeOffset(2025, 6, 7, 8, 9, 10, TimeSpan.Zero),
            "42:123", new Dictionary<string, string> { ["a"] = "1", ["quote\""] = "line\nbreak" });

        await _store.PutAsync(record, Ct);
        var back = await _store.GetAsync("b", "dir/ünïcode 😀.bin", Ct);

        Assert.NotNull(back);
        Assert.Equal(record.Bucket, back.Bucket);
        Assert.Equal(record.Key, back.Key);
        Assert.Equal(record.Size, back.Size);
        Assert.Equal(record.Sha256, back.Sha256);
        Assert.Equal(record.ContentType, back.ContentType);
        Assert.Equal(record.CreatedUtc, back.CreatedUtc);
        Assert.Equal(record.ModifiedUtc, back.ModifiedUtc);
        Assert.Equal(record.BlobVersion, back.BlobVersion);
        Assert.Equal(record.Metadata.OrderBy(p => p.Key), back.Metadata.OrderBy(p => p.Key));
    }

    [Fact]
    public async Task Put_SameKeyTwice_Replaces()
    {
        await _store.PutAsync(Record("b", "k", size: 1), Ct);
        await _store.PutAsync(Record("b", "k", size: 2, contentType: null), Ct);

        var back = await _store.GetAsync("b", "k", Ct);

        Assert.Equal(2, back!.Size);
        Assert.Null(back.ContentType);
        Assert.Empty(back.Metadata);
    }

    [Fact]
    public async Task Get_SameKeyOtherBucket_IsNull()
    {
        await _store.PutAsync(Record("b1", "k"), Ct);

        Assert.Null(await _store.GetAsync("b2", "k", Ct));
    }

    [Fact]
    public async Task GetMany_MixedKeys_ReturnsOnlyExisting()
    {
        await _store.PutAsync(Record("b", "x"), Ct);
        await _store.PutAsync(Record("b", "y"), Ct);
        await _store.PutAsync(Record("other", "z"), Ct);

        var found = await _store.GetManyAsync("b", ["x", "y", "z", "missing"], Ct);

        Assert.Equal(["x", "y"], found.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task GetMany_MoreThanOneChunk_ReturnsAll()
    {
        var keys = Enumerable.Range(0, 1200).Select(i => $"k{i:0000}").ToList();
        await Task.WhenAll(keys.Select(k => _store.PutAsync(Record("b", k), Ct)));

        var found = await _store.GetManyAsync("b", keys, Ct);

        Assert.Equal(1200, found.Count);
    }

    [Fact]
    public async Task Put_TwoHundredConcurrent_AllDurableAndReadable()
    {
        var records = Enumerable.Range(0, 200).Select(i => Record("b", $"group/{i:000}", size: i)).ToList();

        await Task.WhenAll(records.Select(r => Task.Run(() => _store.PutAsync(r, Ct), Ct)));

        foreach (var r in records)
        {
            var back = await _store.GetAsync("b", r.Key, Ct);
            Assert.NotNull(back);
            Assert.Equal(r.Size, back.Size);
        }

        Assert.Equal(200L, await ScalarAsync("SELECT count(*) FROM objects WHERE bucket = 'b'"));
    }

    [Fact]
    public async Task Put_TwoHundredConcurrent_SurviveReopen()
    {
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => _store.PutAsync(Record("b", $"k{i}"), Ct), Ct)));
        await _store.DisposeAsync();

        _store = new SqliteMetadataStore(DatabasePath);
        await _store.InitializeAsync(Ct);

        Assert.Equal(200, (await _store.GetManyAsync("b", Enumerable.Range(0, 200).Select(i => $"k{i}").ToList(), Ct)).Count);
    }

    [Fact]
    public async Task Delete_Key_RemovesOnlyIt()
    {
        await SeedAsync("a/b", "a/b/c");

        await _store.DeleteAsync("b", "a/b", Ct);

        Assert.Equal(["a/b/c"], await KeysAsync());
    }

    // ---- tree boundaries: "a/b" covers "a/b" and "a/b/..." but never "a/bc", "a/b0", "a/b.txt" or "a/b-c" ----

    private static readonly string[] BoundaryKeys = ["a", "a/b", "a/b/c", "a/b/c/d", "a/bc", "a/b0", "a/b.txt", "a/b-c", "a/a", "b/a/b"];

    [Fact]
    public async Task DeleteTree_Directory_RemovesItAndBelowOnly()
    {
        await SeedAsync(BoundaryKeys);
        await _store.PutAsync(Record("other", "a/b/c"), Ct);

        await _store.DeleteTreeAsync("b", "a/b", Ct);

        Assert.Equal(["a", "a/a", "a/b-c", "a/b.txt", "a/b0", "a/bc", "b/a/b"], await KeysAsync());
        Assert.NotNull(await _store.GetAsync("other", "a/b/c", Ct));
    }

    [Fact]
    public async Task DeleteTree_EmptyKey_RemovesWholeBucketOnly()
    {
        await SeedAsync(BoundaryKeys);
        await _store.PutAsync(Record("other", "a"), Ct);

        await _store.DeleteTreeAsync("b", "", Ct);

        Assert.Empty(await KeysAsync());
        Assert.NotNull(await _store.GetAsync("other", "a", Ct));
    }

    [Fact]
    public async Task MoveTree_Directory_RekeysItAndBelowOnly()
    {
        await SeedAsync(BoundaryKeys);

        await _store.MoveTreeAsync("b", "a/b", "x/y", Ct);

        Assert.Equal(["a", "a/a", "a/b-c", "a/b.txt", "a/b0", "a/bc", "b/a/b", "x/y", "x/y/c", "x/y/c/d"], await KeysAsync());
        Assert.Equal("a/b/c/d", (await _store.GetAsync("b", "x/y/c/d", Ct))!.ContentType); // the record itself moved
    }

    [Fact]
    public async Task MoveTree_OntoExistingTree_ReplacesDestinationRecords()
    {
        await SeedAsync("src", "src/keep", "dst", "dst/stale", "dst-sibling");

        await _store.MoveTreeAsync("b", "src", "dst", Ct);

        Assert.Equal(["dst", "dst-sibling", "dst/keep"], await KeysAsync());
        Assert.Equal("src/keep", (await _store.GetAsync("b", "dst/keep", Ct))!.ContentType);
    }

    [Fact]
    public async Task MoveTree_OtherBucket_Untouched()
    {
        await SeedAsync("a/b");
        await _store.PutAsync(Record("other", "a/b"), Ct);

        await _store.MoveTreeAsync("b", "a/b", "z", Ct);

        Assert.NotNull(await _store.GetAsync("other", "a/b", Ct));
        Assert.Null(await _store.GetAsync("other", "z", Ct));
    }

    [Theory]
    [InlineData("\U0001F600", "x")]
    [InlineData("d\U0001F600/sub", "moved")]
    [InlineData("caf\u00E9", "tea")]
    [InlineData("plain", "\U0001F600\U0001F600")]
    [InlineData("猫", "dog")]
    public async Task MoveTree_NonAsciiSourceOrDestination_RekeysChildrenExactly(string from, string to)
    {
        await SeedAsync(from, from + "/a.txt", from + "/sub/b.txt");

        await _store.MoveTreeAsync("b", from, to, Ct);

        Assert.Equal([to, to + "/a.txt", to + "/sub/b.txt"], await KeysAsync());
    }

    // ---- API keys ----

    [Fact]
    public async Task ApiKeys_AddGetListRevoke_RoundTrip()
    {
        var (id, token) = ApiKeyTokens.Generate();
        var created = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var key = new ApiKeyRecord(id, "ci uploader", ApiKeyTokens.Hash(token), Scopes.Read | Scopes.Write, "photos", "2024/",
            created, created.AddDays(30), null, RateLimitPerSecond: 50);
        var (otherId, otherToken) = ApiKeyTokens.Generate();
        await _store.AddKeyAsync(key, Ct);
        await _store.AddKeyAsync(new ApiKeyRecord(otherId, "admin", ApiKeyTokens.Hash(otherToken), Scopes.All, null, null, created.AddHours(1), null, null), Ct);

        var back = await _store.GetKeyAsync(id, Ct);
        Assert.NotNull(back);
        Assert.Equal("ci uploader", back.Name);
        Assert.Equal(ApiKeyTokens.Hash(token), back.SecretHash);
        Assert.Equal(Scopes.Read | Scopes.Write, back.Scopes);
        Assert.Equal("photos", back.Bucket);
        Assert.Equal("2024/", back.Prefix);
        Assert.Equal(created, back.CreatedUtc);
        Assert.Equal(created.AddDays(30), back.ExpiresUtc);
        Assert.Null(back.RevokedUtc);
        Assert.Equal(50, back.RateLimitPerSecond);
        Assert.True(ApiKeyTokens.Matches(token, back.SecretHash));

        Assert.Equal([id, otherId], (await _store.ListKeysAsync(Ct)).Select(k => k.Id));

        var revokedAt = created.AddDays(2);
        Assert.True(await _store.RevokeKeyAsync(id, revokedAt, Ct));
        Assert.Equal(revokedAt, (await _store.GetKeyAsync(id, Ct))!.RevokedUtc);
        Assert.Null((await _store.GetKeyAsync(otherId, Ct))!.RevokedUtc);
    }

    [Fact]
    public async Task ApiKeys_RevokeTwice_KeepsFirstRevocationTime()
    {
        var (id, token) = ApiKeyTokens.Generate();
        await _store.AddKeyAsync(new ApiKeyRecord(id, "k", ApiKeyTokens.Hash(token), Scopes.Read, null, null, DateTimeOffset.UnixEpoch, null, null), Ct);
        var first = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

        await _store.RevokeKeyAsync(id, first, Ct);
        await _store.RevokeKeyAsync(id, first.AddDays(1), Ct);

        Assert.Equal(first, (await _store.GetKeyAsync(id, Ct))!.RevokedUtc);
    }

    [Fact]
    public async Task ApiKeys_RevokeUnknown_ReturnsFalse() =>
        Assert.False(await _store.RevokeKeyAsync("0000000000000000", DateTimeOffset.UnixEpoch, Ct));

    [Fact]
    public async Task ApiKeys_GetUnknown_IsNull() =>
        Assert.Null(await _store.GetKeyAsync("0000000000000000", Ct));

    [Fact]
    public async Task ApiKeys_AddDuplicateId_Throws()
    {
        var (id, token) = ApiKeyTokens.Generate();
        var key = new ApiKeyRecord(id, "k", ApiKeyTokens.Hash(token), Scopes.Read, null, null, DateTimeOffset.UnixEpoch, null, null);
        await _store.AddKeyAsync(key, Ct);

        await Assert.ThrowsAnyAsync<Exception>(() => _store.AddKeyAsync(key with { Name = "again" }, Ct));
        Assert.Equal("k", (await _store.GetKeyAsync(id, Ct))!.Name);
    }

    [Fact]
    public async Task ApiKeys_Stored_NeverContainTheToken()
    {
        var (id, token) = ApiKeyTokens.Generate();
        await _store.AddKeyAsync(new ApiKeyRecord(id, "k", ApiKeyTokens.Hash(token), Scopes.Read, null, null, DateTimeOffset.UnixEpoch, null, null), Ct);
        await _store.DisposeAsync();

        // dpk_{id}_{secret}: the base64url secret may itself hold '_' (its last one could leave a one-letter tail).
        var secret = token[(token.IndexOf('_', "dpk_".Length) + 1)..];
        foreach (var file in Directory.EnumerateFiles(Path.GetDirectoryName(DatabasePath)!))
        {
            var text = System.Text.Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file, Ct));
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }

        _store = new SqliteMetadataStore(DatabasePath);
        await _store.InitializeAsync(Ct);
    }

    // ---- tokens ----

    [Fact]
    public void Generate_Token_HasDocumentedShape()
    {
        var (id, token) = ApiKeyTokens.Generate();

        Assert.Matches(IdPattern(), id);
        Assert.Matches(TokenPattern(), token);
        Assert.StartsWith("dpk_" + id + "_", token, StringComparison.Ordinal);
    }

    [Fact]
    public void Generate_TwoTokens_Differ()
    {
        var a = ApiKeyTokens.Generate();
        var b = ApiKeyTokens.Generate();

        Assert.NotEqual(a.Id, b.Id);
        Assert.NotEqual(a.Token, b.Token);
    }

    [Fact]
    public void TryGetId_GeneratedToken_ReturnsItsId()
    {
        var (id, token) = ApiKeyTokens.Generate();

        Assert.Equal(id, ApiKeyTokens.TryGetId(token));
    }

    [Theory]
    [InlineData("")]
    [InlineData("dpk_")]
    [InlineData("dpk_0123456789abcdef")]
    [InlineData("xyz_0123456789abcdef_secret")]
    [InlineData("DPK_0123456789abcdef_secret")]
    [InlineData("dpk_0123456789abcde_secret")]
    [InlineData("dpk_0123456789abcdef0_secret")]
    [InlineData("Bearer dpk_0123456789abcdef_secret")]
    public void TryGetId_MalformedToken_IsNull(string token) => Assert.Null(ApiKeyTokens.TryGetId(token));

    [Fact]
    public void Matches_SameToken_IsTrue()
    {
        var (_, token) = ApiKeyTokens.Generate();

        Assert.True(ApiKeyTokens.Matches(token, ApiKeyTokens.Hash(token)));
    }

    [Fact]
    public void Matches_WrongToken_IsFalse()
    {
        var (_, token) = ApiKeyTokens.Generate();
        var (_, other) = ApiKeyTokens.Generate();
        var lastCharFlipped = token[..^1] + (token[^1] == 'A' ? 'B' : 'A');

        Assert.False(ApiKeyTokens.Matches(other, ApiKeyTokens.Hash(token)));
        Assert.False(ApiKeyTokens.Matches(lastCharFlipped, ApiKeyTokens.Hash(token)));
        Assert.False(ApiKeyTokens.Matches("", ApiKeyTokens.Hash(token)));
    }

    [Fact]
    public void Hash_Token_IsSha256OfUtf8()
    {
        Assert.Equal(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            Convert.ToHexStringLower(ApiKeyTokens.Hash("abc")));
    }

    // ---- helpers ----

    [GeneratedRegex("^[0-9a-f]{16}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^dpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")]
    private static partial Regex TokenPattern();

    /// <summary>A record whose content type carries its original key, so a moved record can be recognised.</summary>
    private static ObjectRecord Record(string bucket, string key, long size = 1, string? contentType = "") =>
        new(bucket, key, size, new byte[32], contentType == "" ? key : contentType, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, $"{size}:0", new Dictionary<string, string>());

    private async Task SeedAsync(params string[] keys)
    {
        foreach (var key in keys)
        {
            await _store.PutAsync(Record("b", key), Ct);
        }
    }

    private async Task<List<string>> KeysAsync()
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT key FROM objects WHERE bucket = 'b'";
        var keys = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            keys.Add(reader.GetString(0));
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(Ct);
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    private Task<List<string>> ColumnsAsync(string table) => SqliteSchema.ColumnsAsync(DatabasePath, table, Ct);
}
