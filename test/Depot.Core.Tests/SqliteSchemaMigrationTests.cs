using System.Security.Cryptography;
using Depot.Core.Model;
using Depot.Core.Storage;
using Depot.Core.Tests.TestSupport;
using Depot.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Depot.Core.Tests;

/// <summary>
/// Schema version 2 of the SQLite metadata store: a version 1 database (what the previous release left on disk) is
/// migrated in place and reads the same; a newer one is refused untouched; version 2's own format is frozen.
/// </summary>
public sealed class SqliteSchemaMigrationTests : IDisposable
{
    // Version 1 exactly as the previous release created it (SqliteMetadataStore.MigrateAsync, "current < 1").
    private const string Version1Schema = """
        CREATE TABLE objects (
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 BLOB NOT NULL,
            content_type TEXT,
            created_ticks INTEGER NOT NULL,
            modified_ticks INTEGER NOT NULL,
            blob_version TEXT NOT NULL,
            metadata TEXT,
            PRIMARY KEY (bucket, key)
        ) WITHOUT ROWID;
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            secret_hash BLOB NOT NULL,
            scopes INTEGER NOT NULL,
            bucket TEXT,
            prefix TEXT,
            created_ticks INTEGER NOT NULL,
            expires_ticks INTEGER,
            revoked_ticks INTEGER,
            rate_limit INTEGER NOT NULL DEFAULT 0
        );
        PRAGMA user_version = 1;
        """;

    private const string Version1Row = """
        INSERT INTO objects (bucket, key, size, sha256, content_type, created_ticks, modified_ticks, blob_version, metadata)
        VALUES ('b', 'legacy/file.txt', 3, X'BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD', 'text/plain',
                638000000000000000, 638000000010000000, '3:638000000010000000', '{"owner":"ada"}');
        INSERT INTO api_keys (id, name, secret_hash, scopes, bucket, prefix, created_ticks, expires_ticks, revoked_ticks, rate_limit)
        VALUES ('0123456789abcdef', 'legacy key', X'00', 1, NULL, NULL, 638000000000000000, NULL, NULL, 7);
        """;

    private readonly TempDirectory _temp = new();

    public SqliteSchemaMigrationTests() => DatabasePath = _temp.Combine("state", "depot.db");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DatabasePath { get; set; }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void SchemaVersion_Is3() => Assert.Equal(3, SqliteMetadataStore.SchemaVersion);

    [Fact]
    public async Task Initialize_Version1Database_MigratesToVersion2AndKeepsTheRow()
    {
        await CreateAsync(Version1Schema + Version1Row);

        await using (var store = await OpenAsync())
        {
            var record = await store.GetAsync("b", "legacy/file.txt", Ct);

            Assert.NotNull(record);
            Assert.Equal(3, record.Size);
            Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", record.Sha256Hex);
            Assert.Equal("text/plain", record.ContentType);
            Assert.Equal(638000000000000000, record.CreatedUtc.UtcTicks);
            Assert.Equal(638000000010000000, record.ModifiedUtc.UtcTicks);
            Assert.Equal("3:638000000010000000", record.BlobVersion);
            Assert.Equal("ada", record.Metadata["owner"]);
            Assert.False(record.Appendable);
            Assert.Null(record.HashState);
            Assert.Null(record.ExpiresUtc);
            Assert.Null(record.Master);
            Assert.Equal(7, (await store.GetKeyAsync("0123456789abcdef", Ct))!.RateLimitPerSecond);
            Assert.Empty(await store.GetPendingAppendsAsync(Ct));
            Assert.Empty(await store.GetSlaveKeysAsync("b", "legacy/file.txt", Ct));
            Assert.Empty(await store.GetExpiredAsync("b", DateTimeOffset.MaxValue, 10, Ct));
            Assert.Equal(new BucketUsage(1, 3), await store.GetUsageAsync("b", Ct));
            Assert.Empty(await store.GetExpiredSessionsAsync(DateTimeOffset.MaxValue, 10, Ct));
        }

        Assert.Equal(3L, await ScalarAsync("PRAGMA user_version"));
        Assert.Equal("wal", await ScalarAsync("PRAGMA journal_mode"));
    }

    [Fact]
    public async Task Initialize_MigratedDatabase_TakesVersion2RecordsAndSurvivesReopen()
    {
        await CreateAsync(Version1Schema + Version1Row);
        var record = FullRecord("b", "new.log");
        await using (var store = await OpenAsync())
        {
            await store.PutAsync(record, Ct);
        }

        await using (var store = await OpenAsync())
        {
            AssertSame(record, await store.GetAsync("b", "new.log", Ct));
            Assert.NotNull(await store.GetAsync("b", "legacy/file.txt", Ct));
        }

        Assert.Equal(3L, await ScalarAsync("PRAGMA user_version"));
    }

    [Fact]
    public async Task Initialize_NewDatabase_HasTheVersion2Schema()
    {
        await (await OpenAsync()).DisposeAsync();
        var created = await ColumnsAsync("objects");
        var pending = await ColumnsAsync("pending_appends");
        var indexes = await IndexesAsync("objects");

        // A migrated version 1 database ends up with exactly the same schema as a new one.
        DatabasePath = _temp.Combine("migrated", "depot.db");
        await CreateAsync(Version1Schema);
        await (await OpenAsync()).DisposeAsync();

        Assert.Equal(created, await ColumnsAsync("objects"));
        Assert.Equal(pending, await ColumnsAsync("pending_appends"));
        Assert.Equal(indexes, await IndexesAsync("objects"));
    }

    [Fact]
    public async Task Schema_Version2_IndexesAreFrozen()
    {
        // The columns are frozen in SqliteMetadataStoreTests; reclaiming and deleting masters rely on these indexes.
        await (await OpenAsync()).DisposeAsync();

        Assert.Equal(["objects_by_expiry", "objects_by_master"], await IndexesAsync("objects"));
    }

    [Fact]
    public async Task Schema_Version2_RowWrittenByHandIsReadBack()
    {
        await (await OpenAsync()).DisposeAsync();
        await ExecuteAsync("""
            INSERT INTO objects (bucket, key, size, sha256, content_type, created_ticks, modified_ticks, blob_version, metadata,
                                 appendable, hash_state, expires_ticks, master)
            VALUES ('b', 'img/a_s.jpg', 3, X'BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD', NULL,
                    638000000000000000, 638000000010000000, '3:638000000010000000', NULL, 1, X'0102', 639000000000000000, 'img/a.jpg');
            INSERT INTO pending_appends (bucket, key, restore_size) VALUES ('b', 'img/a_s.jpg', 2);
            """);

        await using var store = await OpenAsync();
        var record = await store.GetAsync("b", "img/a_s.jpg", Ct);

        Assert.NotNull(record);
        Assert.True(record.Appendable);
        Assert.Equal([1, 2], record.HashState);
        Assert.Equal(639000000000000000, record.ExpiresUtc!.Value.UtcTicks);
        Assert.Equal("img/a.jpg", record.Master);
        Assert.Equal(new PendingAppend("b", "img/a_s.jpg", 2), Assert.Single(await store.GetPendingAppendsAsync(Ct)));
    }

    [Fact]
    public async Task Initialize_DatabaseWithNewerSchemaVersion_IsRefusedAndLeftByteForByte()
    {
        await CreateAsync("CREATE TABLE future (x INTEGER); INSERT INTO future VALUES (42); PRAGMA user_version = 4;");
        var before = SHA256.HashData(await File.ReadAllBytesAsync(DatabasePath, Ct));

        var store = new SqliteMetadataStore(DatabasePath);
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.InitializeAsync(Ct));
            Assert.Contains("4", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await store.DisposeAsync();
        }

        Assert.Equal(before, SHA256.HashData(await File.ReadAllBytesAsync(DatabasePath, Ct)));
        Assert.False(File.Exists(DatabasePath + "-wal"));
        Assert.Equal(4L, await ScalarAsync("PRAGMA user_version"));
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM sqlite_master WHERE name IN ('objects', 'pending_appends')"));
        Assert.Equal("delete", await ScalarAsync("PRAGMA journal_mode"));
    }

    // ---- what version 2 adds, through the store ----

    [Fact]
    public async Task Put_Version2Fields_RoundTrip()
    {
        await using var store = await OpenAsync();
        var record = FullRecord("b", "k");

        await store.PutAsync(record, Ct);
        AssertSame(record, await store.GetAsync("b", "k", Ct));

        // Replacing clears what the new record does not have.
        var plain = record with { Appendable = false, HashState = null, ExpiresUtc = null, Master = null };
        await store.PutAsync(plain, Ct);
        AssertSame(plain, await store.GetAsync("b", "k", Ct));
    }

    [Fact]
    public async Task GetSlaveKeys_OnlyThatMastersInThatBucket_InKeyOrder()
    {
        await using var store = await OpenAsync();
        await store.PutAsync(Record("b", "img/a.jpg"), Ct);
        await store.PutAsync(Record("b", "img/a_z.jpg") with { Master = "img/a.jpg" }, Ct);
        await store.PutAsync(Record("b", "img/a_m.jpg") with { Master = "img/a.jpg" }, Ct);
        await store.PutAsync(Record("b", "img/ab_s.jpg") with { Master = "img/ab.jpg" }, Ct);
        await store.PutAsync(Record("other", "img/a_s.jpg") with { Master = "img/a.jpg" }, Ct);

        Assert.Equal(["img/a_m.jpg", "img/a_z.jpg"], await store.GetSlaveKeysAsync("b", "img/a.jpg", Ct));
        Assert.Empty(await store.GetSlaveKeysAsync("b", "img/a_m.jpg", Ct));
    }

    [Fact]
    public async Task MoveTree_RepointsSlavesOfMovedMastersOnly()
    {
        await using var store = await OpenAsync();
        foreach (var (key, master) in new (string, string?)[]
        {
            ("a/b", null), ("a/b_s", "a/b"), ("a/b/c.jpg", null), ("x/c_s.jpg", "a/b/c.jpg"),
            ("a/bc.jpg", null), ("a/bc_s.jpg", "a/bc.jpg"), ("a/b0", null), ("y/b0_s", "a/b0"),
        })
        {
            await store.PutAsync(Record("b", key) with { Master = master }, Ct);
        }

        await store.MoveTreeAsync("b", "a/b", "z/moved", Ct);

        Assert.Equal(["a/b_s"], await store.GetSlaveKeysAsync("b", "z/moved", Ct));
        Assert.Equal(["x/c_s.jpg"], await store.GetSlaveKeysAsync("b", "z/moved/c.jpg", Ct));
        Assert.Empty(await store.GetSlaveKeysAsync("b", "a/b", Ct));
        Assert.Equal(["a/bc_s.jpg"], await store.GetSlaveKeysAsync("b", "a/bc.jpg", Ct));
        Assert.Equal(["y/b0_s"], await store.GetSlaveKeysAsync("b", "a/b0", Ct));
    }

    [Fact]
    public async Task GetExpired_AtOrBeforeNow_PerBucketOldestFirstUpToLimit()
    {
        await using var store = await OpenAsync();
        var now = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        await store.PutAsync(Record("b", "late") with { ExpiresUtc = now.AddSeconds(-1) }, Ct);
        await store.PutAsync(Record("b", "early") with { ExpiresUtc = now.AddDays(-1) }, Ct);
        await store.PutAsync(Record("other", "exact") with { ExpiresUtc = now }, Ct);
        await store.PutAsync(Record("b", "future") with { ExpiresUtc = now.AddTicks(1) }, Ct);
        await store.PutAsync(Record("b", "never"), Ct);

        Assert.Equal(["early", "late"], (await store.GetExpiredAsync("b", now, 10, Ct)).Select(r => r.Key));
        Assert.Equal(["early"], (await store.GetExpiredAsync("b", now, 1, Ct)).Select(r => r.Key));
        Assert.Equal(["exact"], (await store.GetExpiredAsync("other", now, 10, Ct)).Select(r => r.Key));
    }

    [Fact]
    public async Task GetUsage_CountsAndSumsOneBucket()
    {
        await using var store = await OpenAsync();
        Assert.Equal(new BucketUsage(0, 0), await store.GetUsageAsync("b", Ct));
        await store.PutAsync(Record("b", "x", size: 5), Ct);
        await store.PutAsync(Record("b", "y", size: 1L << 40), Ct);
        await store.PutAsync(Record("other", "z", size: 100), Ct);

        Assert.Equal(new BucketUsage(2, (1L << 40) + 5), await store.GetUsageAsync("b", Ct));
    }

    [Fact]
    public async Task PendingAppends_BeginCompleteInOneTransaction()
    {
        await using var store = await OpenAsync();
        await store.PutAsync(Record("b", "k", size: 10), Ct);

        await store.BeginAppendAsync(new PendingAppend("b", "k", 10), Ct);
        await store.BeginAppendAsync(new PendingAppend("b", "j", 0), Ct);
        Assert.Equal([new PendingAppend("b", "j", 0), new PendingAppend("b", "k", 10)], await store.GetPendingAppendsAsync(Ct));

        await store.CompleteAppendAsync("b", "k", Record("b", "k", size: 15), Ct);
        Assert.Equal(15, (await store.GetAsync("b", "k", Ct))!.Size);
        await store.CompleteAppendAsync("b", "j", null, Ct);
        Assert.Empty(await store.GetPendingAppendsAsync(Ct));
        Assert.Null(await store.GetAsync("b", "j", Ct));
    }

    [Fact]
    public async Task PendingAppends_SurviveReopen()
    {
        await using (var store = await OpenAsync())
        {
            await store.BeginAppendAsync(new PendingAppend("b", "k", 10), Ct);
        }

        await using (var store = await OpenAsync())
        {
            Assert.Equal(new PendingAppend("b", "k", 10), Assert.Single(await store.GetPendingAppendsAsync(Ct)));
        }
    }

    // ---- helpers ----

    private static ObjectRecord Record(string bucket, string key, long size = 1) =>
        new(bucket, key, size, new byte[32], null, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, $"{size}:0", new Dictionary<string, string>());

    private static ObjectRecord FullRecord(string bucket, string key) =>
        Record(bucket, key, size: 42) with
        {
            ContentType = "text/plain",
            Metadata = new Dictionary<string, string> { ["a"] = "1" },
            Appendable = true,
            HashState = [1, 24, 0, 0, 0, 0, 0, 0, 0, 42],
            ExpiresUtc = new DateTimeOffset(2031, 2, 3, 4, 5, 6, TimeSpan.Zero).AddTicks(7),
            Master = "img/master.jpg",
        };

    private static void AssertSame(ObjectRecord expected, ObjectRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Size, actual.Size);
        Assert.Equal(expected.ContentType, actual.ContentType);
        Assert.Equal(expected.Metadata.OrderBy(p => p.Key), actual.Metadata.OrderBy(p => p.Key));
        Assert.Equal(expected.Appendable, actual.Appendable);
        Assert.Equal(expected.HashState, actual.HashState);
        Assert.Equal(expected.ExpiresUtc, actual.ExpiresUtc);
        Assert.Equal(expected.Master, actual.Master);
    }

    private async Task<SqliteMetadataStore> OpenAsync()
    {
        var store = new SqliteMetadataStore(DatabasePath);
        await store.InitializeAsync(Ct);
        return store;
    }

    private async Task CreateAsync(string sql)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DatabasePath)!);
        await ExecuteAsync(sql);
    }

    private SqliteConnection Connect() =>
        new(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = Connect();
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = Connect();
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync(Ct);
    }

    private Task<List<string>> ColumnsAsync(string table) => SqliteSchema.ColumnsAsync(DatabasePath, table, Ct);

    /// <summary>The named (not automatic) indexes of a table, by name.</summary>
    private async Task<List<string>> IndexesAsync(string table)
    {
        await using var connection = Connect();
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' AND sql IS NOT NULL ORDER BY name";
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }
}
