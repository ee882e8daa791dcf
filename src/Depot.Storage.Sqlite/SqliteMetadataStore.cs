using System.Text.Json;
using System.Threading.Channels;
using Depot.Core.Model;
using Depot.Core.Security;
using Depot.Core.Storage;
using Depot.Core.Uploads;
using Microsoft.Data.Sqlite;

namespace Depot.Storage.Sqlite;

/// <summary>
/// The embedded default metadata store: one SQLite database in WAL mode, also holding API keys.
/// </summary>
/// <remarks>
/// Reads use pooled connections and run concurrently. Writes go through one writer connection
/// (<c>synchronous=FULL</c>: a commit is durable when it returns) that takes every write queued while the previous
/// commit ran and commits them together, so concurrent uploads share one fsync (group commit). Each write runs in
/// its own savepoint, so one failing write does not undo the others of its batch.
/// </remarks>
public sealed partial class SqliteMetadataStore : IMetadataStore, IApiKeyStore, IUploadSessionStore
{
    /// <summary>The schema version this code writes; older databases are migrated forward on open.</summary>
    public const int SchemaVersion = 3;
    private const int MaxBatch = 256;
    private const string ObjectColumns = "bucket, key, size, sha256, content_type, created_ticks, modified_ticks, blob_version, metadata, appendable, hash_state, expires_ticks, master";
    private readonly string _connectionString;
    private readonly Channel<WriteOp> _writes = Channel.CreateUnbounded<WriteOp>(new UnboundedChannelOptions { SingleReader = true });
    private SqliteConnection? _writer;
    private Task? _writerLoop;

    public SqliteMetadataStore(string databasePath)
    {
        DatabasePath = databasePath;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string DatabasePath { get; }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(DatabasePath))!);
        _writer = new SqliteConnection(_connectionString);
        await _writer.OpenAsync(cancellationToken);
        await ExecuteAsync(_writer, "PRAGMA busy_timeout=30000;", cancellationToken);
        try
        {
            // Refuse a newer schema before changing anything in the file (journal mode included).
            await MigrateAsync(_writer, cancellationToken, checkOnly: true);
        }
        catch
        {
            await _writer.DisposeAsync();
            _writer = null;
            throw;
        }

        await ExecuteAsync(_writer, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", cancellationToken);
        await MigrateAsync(_writer, cancellationToken);
        _writerLoop = Task.Run(WriterLoopAsync, CancellationToken.None);
    }

    private static async Task MigrateAsync(SqliteConnection connection, CancellationToken cancellationToken, bool checkOnly = false)
    {
        using var version = connection.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        var current = Convert.ToInt32(await version.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        if (current > SchemaVersion)
        {
            throw new InvalidOperationException($"The metadata database has schema version {current}; this Depot understands up to {SchemaVersion}. Upgrade Depot.");
        }

        if (checkOnly)
        {
            return;
        }

        if (current < 1)
        {
            await ExecuteAsync(connection, """
                BEGIN;
                CREATE TABLE IF NOT EXISTS objects (
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
                CREATE TABLE IF NOT EXISTS api_keys (
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
                COMMIT;
                """, cancellationToken);
        }

        if (current < 2)
        {
            // Version 2: appender objects, expiry (key-value entries), slave files, pending in-place appends.
            await ExecuteAsync(connection, """
                BEGIN;
                ALTER TABLE objects ADD COLUMN appendable INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE objects ADD COLUMN hash_state BLOB;
                ALTER TABLE objects ADD COLUMN expires_ticks INTEGER;
                ALTER TABLE objects ADD COLUMN master TEXT;
                CREATE INDEX IF NOT EXISTS objects_by_master ON objects (bucket, master) WHERE master IS NOT NULL;
                CREATE INDEX IF NOT EXISTS objects_by_expiry ON objects (expires_ticks) WHERE expires_ticks IS NOT NULL;
                CREATE TABLE IF NOT EXISTS pending_appends (
                    bucket TEXT NOT NULL,
                    key TEXT NOT NULL,
                    restore_size INTEGER NOT NULL,
                    identity TEXT,
                    PRIMARY KEY (bucket, key)
                ) WITHOUT ROWID;
                PRAGMA user_version = 2;
                COMMIT;
                """, cancellationToken);
        }

        if (current < 3)
        {
            // Version 3: upload sessions, manifests, the webhook outbox. A session's columns are what is queried; the
            // document holds the rest (declared checksums, metadata, received ranges).
            await ExecuteAsync(connection, """
                BEGIN;
                CREATE TABLE IF NOT EXISTS upload_sessions (
                    id TEXT PRIMARY KEY,
                    bucket TEXT NOT NULL,
                    key TEXT NOT NULL,
                    requested_key TEXT,
                    protocol TEXT NOT NULL,
                    state INTEGER NOT NULL,
                    manifest_id TEXT,
                    created_ticks INTEGER NOT NULL,
                    updated_ticks INTEGER NOT NULL,
                    expires_ticks INTEGER NOT NULL,
                    document TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS upload_sessions_by_key ON upload_sessions (protocol, bucket, requested_key, created_ticks);
                CREATE INDEX IF NOT EXISTS upload_sessions_by_expiry ON upload_sessions (expires_ticks);
                CREATE INDEX IF NOT EXISTS upload_sessions_by_manifest ON upload_sessions (manifest_id) WHERE manifest_id IS NOT NULL;
                CREATE TABLE IF NOT EXISTS manifests (
                    id TEXT PRIMARY KEY,
                    bucket TEXT NOT NULL,
                    identity TEXT NOT NULL,
                    created_ticks INTEGER NOT NULL,
                    expires_ticks INTEGER NOT NULL,
                    document TEXT NOT NULL
                );
                CREATE TABLE IF NOT EXISTS webhook_outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_ticks INTEGER NOT NULL,
                    created_ticks INTEGER NOT NULL,
                    last_error TEXT
                );
                PRAGMA user_version = 3;
                COMMIT;
                """, cancellationToken);
        }
    }

    public async Task<ObjectRecord?> GetAsync(string bucket, string key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {ObjectColumns} FROM objects WHERE bucket = $b AND key = $k";
        command.Parameters.AddWithValue("$b", bucket);
        command.Parameters.AddWithValue("$k", key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadObject(reader) : null;
    }

    public async Task<IReadOnlyDictionary<string, ObjectRecord>> GetManyAsync(string bucket, IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, ObjectRecord>(StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            return result;
        }

        await using var connection = await OpenReaderAsync(cancellationToken);
        foreach (var chunk in keys.Chunk(2000))
        {
            // One JSON array parameter instead of one named parameter per key: binding hundreds of names cost about a
            // tenth of a large listing's server CPU (profiled), json_each costs almost nothing.
            using var command = connection.CreateCommand();
            command.Parameters.AddWithValue("$keys", System.Text.Json.JsonSerializer.Serialize(chunk, SqliteJson.Default.StringArray));
            command.Parameters.AddWithValue("$b", bucket);
            command.CommandText = $"SELECT {ObjectColumns} FROM objects WHERE bucket = $b AND key IN (SELECT value FROM json_each($keys))";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var record = ReadObject(reader);
                result[record.Key] = record;
            }
        }

        return result;
    }

    public Task PutAsync(ObjectRecord record, CancellationToken cancellationToken) =>
        EnqueueAsync((connection, transaction) => WriteObject(connection, transaction, record), cancellationToken);

    private static void WriteObject(SqliteConnection connection, SqliteTransaction transaction, ObjectRecord record)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO objects (bucket, key, size, sha256, content_type, created_ticks, modified_ticks, blob_version, metadata, appendable, hash_state, expires_ticks, master)
            VALUES ($b, $k, $size, $sha, $ct, $created, $modified, $version, $meta, $appendable, $state, $expires, $master)
            ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256, content_type = excluded.content_type,
                created_ticks = excluded.created_ticks, modified_ticks = excluded.modified_ticks, blob_version = excluded.blob_version,
                metadata = excluded.metadata, appendable = excluded.appendable, hash_state = excluded.hash_state,
                expires_ticks = excluded.expires_ticks, master = excluded.master
            """;
        command.Parameters.AddWithValue("$b", record.Bucket);
        command.Parameters.AddWithValue("$k", record.Key);
        command.Parameters.AddWithValue("$size", record.Size);
        command.Parameters.AddWithValue("$sha", record.Sha256);
        command.Parameters.AddWithValue("$ct", (object?)record.ContentType ?? DBNull.Value);
        command.Parameters.AddWithValue("$created", record.CreatedUtc.UtcTicks);
        command.Parameters.AddWithValue("$modified", record.ModifiedUtc.UtcTicks);
        command.Parameters.AddWithValue("$version", record.BlobVersion);
        command.Parameters.AddWithValue("$meta", record.Metadata.Count == 0 ? DBNull.Value : JsonSerializer.Serialize(record.Metadata, SqliteJson.Default.IReadOnlyDictionaryStringString));
        command.Parameters.AddWithValue("$appendable", record.Appendable ? 1 : 0);
        command.Parameters.AddWithValue("$state", (object?)record.HashState ?? DBNull.Value);
        command.Parameters.AddWithValue("$expires", record.ExpiresUtc is { } expires ? expires.UtcTicks : DBNull.Value);
        command.Parameters.AddWithValue("$master", (object?)record.Master ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    public async Task<IReadOnlyList<string>> GetSlaveKeysAsync(string bucket, string masterKey, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT key FROM objects WHERE bucket = $b AND master = $m ORDER BY key";
        command.Parameters.AddWithValue("$b", bucket);
        command.Parameters.AddWithValue("$m", masterKey);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(reader.GetString(0));
        }

        return keys;
    }

    public async Task<IReadOnlyList<ObjectRecord>> GetExpiredAsync(string bucket, DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {ObjectColumns} FROM objects WHERE expires_ticks IS NOT NULL AND expires_ticks <= $now AND bucket = $b ORDER BY expires_ticks LIMIT $limit";
        command.Parameters.AddWithValue("$b", bucket);
        command.Parameters.AddWithValue("$now", now.UtcTicks);
        command.Parameters.AddWithValue("$limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var records = new List<ObjectRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(ReadObject(reader));
        }

        return records;
    }

    public async Task<BucketUsage> GetUsageAsync(string bucket, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*), coalesce(sum(size), 0) FROM objects WHERE bucket = $b";
        command.Parameters.AddWithValue("$b", bucket);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new BucketUsage(reader.GetInt64(0), reader.GetInt64(1));
    }

    public Task BeginAppendAsync(PendingAppend append, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        // A plain INSERT: a note left by an append whose undo failed must be recovered first, never overwritten.
        command.CommandText = "INSERT INTO pending_appends (bucket, key, restore_size, identity) VALUES ($b, $k, $size, $identity)";
        command.Parameters.AddWithValue("$identity", (object?)append.Identity ?? DBNull.Value);
        command.Parameters.AddWithValue("$b", append.Bucket);
        command.Parameters.AddWithValue("$k", append.Key);
        command.Parameters.AddWithValue("$size", append.RestoreSize);
        command.ExecuteNonQuery();
    }, cancellationToken);

    public Task CompleteAppendAsync(string bucket, string key, ObjectRecord? record, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        if (record is not null)
        {
            WriteObject(connection, transaction, record);
        }

        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM pending_appends WHERE bucket = $b AND key = $k";
        command.Parameters.AddWithValue("$b", bucket);
        command.Parameters.AddWithValue("$k", key);
        command.ExecuteNonQuery();
    }, cancellationToken);

    public async Task<IReadOnlyList<PendingAppend>> GetPendingAppendsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT bucket, key, restore_size, identity FROM pending_appends ORDER BY bucket, key";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var pending = new List<PendingAppend>();
        while (await reader.ReadAsync(cancellationToken))
        {
            pending.Add(new PendingAppend(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }

        return pending;
    }

    public Task DeleteAsync(string bucket, string key, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM objects WHERE bucket = $b AND key = $k";
        command.Parameters.AddWithValue("$b", bucket);
        command.Parameters.AddWithValue("$k", key);
        command.ExecuteNonQuery();
    }, cancellationToken);

    public Task DeleteTreeAsync(string bucket, string key, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        if (key.Length == 0)
        {
            command.CommandText = "DELETE FROM objects WHERE bucket = $b";
        }
        else
        {
            // Keys below "a/b" are exactly those in ["a/b/", "a/b0"): '0' is the byte after '/'.
            command.CommandText = "DELETE FROM objects WHERE bucket = $b AND (key = $k OR (key >= $lo AND key < $hi))";
            command.Parameters.AddWithValue("$k", key);
            command.Parameters.AddWithValue("$lo", key + "/");
            command.Parameters.AddWithValue("$hi", key + "0");
        }

        command.Parameters.AddWithValue("$b", bucket);
        command.ExecuteNonQuery();
    }, cancellationToken);

    public Task MoveTreeAsync(string bucket, string from, string to, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var clear = connection.CreateCommand();
        clear.Transaction = transaction;
        clear.CommandText = "DELETE FROM objects WHERE bucket = $b AND (key = $to OR (key >= $tlo AND key < $thi))";
        clear.Parameters.AddWithValue("$b", bucket);
        clear.Parameters.AddWithValue("$to", to);
        clear.Parameters.AddWithValue("$tlo", to + "/");
        clear.Parameters.AddWithValue("$thi", to + "0");
        clear.ExecuteNonQuery();

        using var move = connection.CreateCommand();
        move.Transaction = transaction;
        // length() counts characters as substr() does (not UTF-16 units as string.Length would).
        move.CommandText = "UPDATE objects SET key = $to || substr(key, length($from) + 1) WHERE bucket = $b AND (key = $from OR (key >= $lo AND key < $hi))";
        move.Parameters.AddWithValue("$b", bucket);
        move.Parameters.AddWithValue("$to", to);
        move.Parameters.AddWithValue("$from", from);
        move.Parameters.AddWithValue("$lo", from + "/");
        move.Parameters.AddWithValue("$hi", from + "0");
        move.ExecuteNonQuery();

        // Slave records name their master by key: those pointing into the moved tree point to its new place.
        move.CommandText = "UPDATE objects SET master = $to || substr(master, length($from) + 1) WHERE bucket = $b AND (master = $from OR (master >= $lo AND master < $hi))";
        move.ExecuteNonQuery();
    }, cancellationToken);

    public async Task<ApiKeyRecord?> GetKeyAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, secret_hash, scopes, bucket, prefix, created_ticks, expires_ticks, revoked_ticks, rate_limit FROM api_keys WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadKey(reader) : null;
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, secret_hash, scopes, bucket, prefix, created_ticks, expires_ticks, revoked_ticks, rate_limit FROM api_keys ORDER BY created_ticks, id";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<ApiKeyRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(ReadKey(reader));
        }

        return keys;
    }

    public Task AddKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO api_keys (id, name, secret_hash, scopes, bucket, prefix, created_ticks, expires_ticks, revoked_ticks, rate_limit)
            VALUES ($id, $name, $hash, $scopes, $bucket, $prefix, $created, $expires, NULL, $rate)
            """;
        command.Parameters.AddWithValue("$id", key.Id);
        command.Parameters.AddWithValue("$name", key.Name);
        command.Parameters.AddWithValue("$hash", key.SecretHash);
        command.Parameters.AddWithValue("$scopes", (int)key.Scopes);
        command.Parameters.AddWithValue("$bucket", (object?)key.Bucket ?? DBNull.Value);
        command.Parameters.AddWithValue("$prefix", (object?)key.Prefix ?? DBNull.Value);
        command.Parameters.AddWithValue("$created", key.CreatedUtc.UtcTicks);
        command.Parameters.AddWithValue("$expires", key.ExpiresUtc is { } e ? e.UtcTicks : DBNull.Value);
        command.Parameters.AddWithValue("$rate", key.RateLimitPerSecond);
        command.ExecuteNonQuery();
    }, cancellationToken);

    public async Task<bool> RevokeKeyAsync(string id, DateTimeOffset when, CancellationToken cancellationToken)
    {
        var changed = 0;
        await EnqueueAsync((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE api_keys SET revoked_ticks = COALESCE(revoked_ticks, $when) WHERE id = $id";
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$when", when.UtcTicks);
            changed = command.ExecuteNonQuery();
        }, cancellationToken);
        return changed > 0;
    }

    public async ValueTask DisposeAsync()
    {
        _writes.Writer.TryComplete();
        if (_writerLoop is not null)
        {
            await _writerLoop;
        }

        if (_writer is not null)
        {
            await _writer.DisposeAsync();
        }

        SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
    }

    private Task EnqueueAsync(Action<SqliteConnection, SqliteTransaction> apply, CancellationToken cancellationToken)
    {
        var op = new WriteOp(apply);
        ObjectDisposedException.ThrowIf(!_writes.Writer.TryWrite(op), this);

        return op.Completion.Task.WaitAsync(cancellationToken);
    }

    private async Task WriterLoopAsync()
    {
        var batch = new List<WriteOp>(MaxBatch);
        var reader = _writes.Reader;
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var op))
            {
                batch.Add(op);
            }

            CommitBatch(batch);
        }
    }

    private void CommitBatch(List<WriteOp> batch)
    {
        var failures = new Exception?[batch.Count];
        try
        {
            using var transaction = _writer!.BeginTransaction();
            for (var i = 0; i < batch.Count; i++)
            {
                transaction.Save("op");
                try
                {
                    batch[i].Apply(_writer, transaction);
                    transaction.Release("op");
                }
                catch (SqliteException e)
                {
                    transaction.Rollback("op");
                    transaction.Release("op");
                    failures[i] = e;
                }
            }

            transaction.Commit();
        }
        catch (Exception e)
        {
            foreach (var op in batch)
            {
                op.Completion.TrySetException(e);
            }

            return;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            if (failures[i] is { } failure)
            {
                batch[i].Completion.TrySetException(failure);
            }
            else
            {
                batch[i].Completion.TrySetResult();
            }
        }
    }

    private async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static ObjectRecord ReadObject(SqliteDataReader r)
    {
        var metadata = r.IsDBNull(8)
            ? (IReadOnlyDictionary<string, string>)new Dictionary<string, string>()
            : JsonSerializer.Deserialize(r.GetString(8), SqliteJson.Default.IReadOnlyDictionaryStringString) ?? new Dictionary<string, string>();
        return new ObjectRecord(
            r.GetString(0),
            r.GetString(1),
            r.GetInt64(2),
            (byte[])r.GetValue(3),
            r.IsDBNull(4) ? null : r.GetString(4),
            new DateTimeOffset(r.GetInt64(5), TimeSpan.Zero),
            new DateTimeOffset(r.GetInt64(6), TimeSpan.Zero),
            r.GetString(7),
            metadata)
        {
            Appendable = r.GetInt64(9) != 0,
            HashState = r.IsDBNull(10) ? null : (byte[])r.GetValue(10),
            ExpiresUtc = r.IsDBNull(11) ? null : new DateTimeOffset(r.GetInt64(11), TimeSpan.Zero),
            Master = r.IsDBNull(12) ? null : r.GetString(12),
        };
    }

    private static ApiKeyRecord ReadKey(SqliteDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        (byte[])r.GetValue(2),
        (Scopes)r.GetInt32(3),
        r.IsDBNull(4) ? null : r.GetString(4),
        r.IsDBNull(5) ? null : r.GetString(5),
        new DateTimeOffset(r.GetInt64(6), TimeSpan.Zero),
        r.IsDBNull(7) ? null : new DateTimeOffset(r.GetInt64(7), TimeSpan.Zero),
        r.IsDBNull(8) ? null : new DateTimeOffset(r.GetInt64(8), TimeSpan.Zero),
        r.GetInt32(9));

    private sealed class WriteOp(Action<SqliteConnection, SqliteTransaction> apply)
    {
        public Action<SqliteConnection, SqliteTransaction> Apply { get; } = apply;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(SessionDocument))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class SqliteJson : System.Text.Json.Serialization.JsonSerializerContext;
