using System.Text.Json;
using Depot.Protocol;
using Microsoft.Data.Sqlite;

namespace Depot.Client.Queue;

/// <summary>
/// The queue's SQLite file: one row per item (schema below, versioned by <c>PRAGMA user_version</c>). WAL mode, a busy
/// timeout, and every change that depends on what it read (claims, removals) inside <c>BEGIN IMMEDIATE</c>, so several
/// connections, threads and processes can share it. Each call opens its own pooled connection.
/// </summary>
/// <remarks>Times are Unix milliseconds (UTC) from the client's <see cref="TimeProvider"/>. Changes of an item a
/// runner holds carry <c>AND owner = $owner AND state = 'uploading'</c>, so a runner that lost its lease changes nothing.</remarks>
internal sealed class QueueDatabase
{
    /// <summary>The schema this code writes. A file with a higher version was written by a newer client.</summary>
    public const int SchemaVersion = 1;

    /// <summary><c>PRAGMA application_id</c> of a queue file: "DPQU".</summary>
    public const int ApplicationId = 0x44505155;

    /// <summary>Migrations[v] takes a file from version v to v + 1.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE items (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            local_path TEXT NOT NULL,
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            snapshot INTEGER NOT NULL,
            blob TEXT,
            size INTEGER NOT NULL,
            source_mtime INTEGER,
            content_type TEXT,
            metadata TEXT,
            overwrite INTEGER NOT NULL,
            appendable INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'uploading', 'done', 'failed')),
            bytes_uploaded INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt INTEGER,
            error_code TEXT,
            error_message TEXT,
            error_transient INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            lease_expires INTEGER,
            enqueued INTEGER NOT NULL,
            completed INTEGER,
            sha256 TEXT,
            remote_bucket TEXT,
            remote_key TEXT
        ) STRICT;
        CREATE INDEX items_by_state ON items (state, id);
        """,
    ];

    private const string Columns = """
        id, local_path, bucket, key, snapshot, blob, size, source_mtime, content_type, metadata, overwrite, appendable,
        state, bytes_uploaded, attempts, next_attempt, error_code, error_message, error_transient, owner, lease_expires,
        enqueued, completed, sha256, remote_bucket, remote_key
        """;

    private readonly string _connectionString;

    private QueueDatabase(string connectionString) => _connectionString = connectionString;

    /// <summary>Opens (creating or migrating) the queue file at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is a SQLite database of something else.</exception>
    /// <exception cref="NotSupportedException">The file was written by a newer client (higher schema version).</exception>
    public static async Task<QueueDatabase> OpenAsync(string path, CancellationToken cancellationToken)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            // Seconds Microsoft.Data.Sqlite keeps retrying a statement that finds the file locked (on top of busy_timeout).
            DefaultTimeout = 30,
        };
        var database = new QueueDatabase(builder.ToString());
        try
        {
            await database.CreateOrMigrateAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            database.ClosePool();
            throw;
        }

        return database;
    }

    private async Task CreateOrMigrateAsync(string path, CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // Persistent in the file; cannot be changed inside a transaction.
            await ExecuteAsync(connection, "PRAGMA journal_mode = WAL", cancellationToken).ConfigureAwait(false);
            await InTransactionAsync(connection, async () =>
            {
                var applicationId = await ScalarAsync(connection, "PRAGMA application_id", cancellationToken).ConfigureAwait(false);
                var version = await ScalarAsync(connection, "PRAGMA user_version", cancellationToken).ConfigureAwait(false);
                var tables = await ScalarAsync(connection, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'", cancellationToken).ConfigureAwait(false);
                if ((applicationId != 0 && applicationId != ApplicationId) || (applicationId == 0 && tables > 0))
                {
                    throw new InvalidDataException(
                        $"'{path}' is a SQLite database but not a Depot upload queue. Give the queue a file of its own (e.g. 'uploads.queue').");
                }

                if (version > SchemaVersion)
                {
                    throw new NotSupportedException(
                        $"The upload queue '{path}' has schema version {version}, written by a newer Depot.Client; this one reads up to version {SchemaVersion}. Upgrade Depot.Client.");
                }

                for (var v = (int)version; v < SchemaVersion; v++)
                {
                    await ExecuteAsync(connection, Migrations[v], cancellationToken).ConfigureAwait(false);
                }

                if (version < SchemaVersion)
                {
                    await ExecuteAsync(connection, $"PRAGMA user_version = {SchemaVersion}; PRAGMA application_id = {ApplicationId}", cancellationToken)
                        .ConfigureAwait(false);
                }

                return 0;
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Records a new pending item and returns it as stored.</summary>
    public Task<QueuedUpload> InsertAsync(QueuedUpload item, CancellationToken cancellationToken) =>
        WithConnectionAsync(async connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"""
                INSERT INTO items (local_path, bucket, key, snapshot, blob, size, source_mtime, content_type, metadata, overwrite,
                    appendable, state, enqueued)
                VALUES ($local_path, $bucket, $key, $snapshot, $blob, $size, $source_mtime, $content_type, $metadata, $overwrite,
                    $appendable, 'pending', $enqueued)
                RETURNING {Columns}
                """;
            command.Parameters.AddWithValue("$local_path", item.LocalPath);
            command.Parameters.AddWithValue("$bucket", item.Destination.Bucket);
            command.Parameters.AddWithValue("$key", item.Destination.Key);
            command.Parameters.AddWithValue("$snapshot", item.Snapshot);
            command.Parameters.AddWithValue("$blob", (object?)item.Blob ?? DBNull.Value);
            command.Parameters.AddWithValue("$size", item.Size);
            command.Parameters.AddWithValue("$source_mtime", Nullable(item.SourceModified));
            command.Parameters.AddWithValue("$content_type", (object?)item.ContentType ?? DBNull.Value);
            command.Parameters.AddWithValue("$metadata", item.Metadata is { } metadata ? SerializeMetadata(metadata) : DBNull.Value);
            command.Parameters.AddWithValue("$overwrite", item.Overwrite);
            command.Parameters.AddWithValue("$appendable", item.Appendable);
            command.Parameters.AddWithValue("$enqueued", item.Enqueued.ToUnixTimeMilliseconds());
            return (await ReadItemsAsync(command, cancellationToken).ConfigureAwait(false))[0];
        }, cancellationToken);

    /// <summary>Every item, in enqueue order.</summary>
    public Task<List<QueuedUpload>> ListAsync(CancellationToken cancellationToken) =>
        WithConnectionAsync(async connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {Columns} FROM items ORDER BY id";
            return await ReadItemsAsync(command, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>One item, or null.</summary>
    public Task<QueuedUpload?> GetAsync(long id, CancellationToken cancellationToken) =>
        WithConnectionAsync(async connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {Columns} FROM items WHERE id = $id";
            command.Parameters.AddWithValue("$id", id);
            return (await ReadItemsAsync(command, cancellationToken).ConfigureAwait(false)).FirstOrDefault();
        }, cancellationToken);

    /// <summary>The snapshot names items still refer to.</summary>
    public Task<HashSet<string>> ReferencedBlobsAsync(CancellationToken cancellationToken) =>
        WithConnectionAsync(async connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT blob FROM items WHERE blob IS NOT NULL";
            var blobs = new HashSet<string>(StringComparer.Ordinal);
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                blobs.Add(reader.GetString(0));
            }

            return blobs;
        }, cancellationToken);

    /// <summary>Claims the oldest item that is due: pending with no retry delay left, or uploading under a lease that
    /// ran out. One statement inside <c>BEGIN IMMEDIATE</c>: no two runners get the same item.</summary>
    public Task<QueuedUpload?> ClaimAsync(string owner, DateTimeOffset now, DateTimeOffset leaseExpires, CancellationToken cancellationToken) =>
        WithConnectionAsync(connection => InTransactionAsync(connection, async () =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"""
                UPDATE items
                SET state = 'uploading', owner = $owner, lease_expires = $lease, attempts = attempts + 1, bytes_uploaded = 0, next_attempt = NULL
                WHERE id = (
                    SELECT id FROM items
                    WHERE (state = 'pending' AND (next_attempt IS NULL OR next_attempt <= $now))
                       OR (state = 'uploading' AND lease_expires <= $now)
                    ORDER BY id LIMIT 1)
                RETURNING {Columns}
                """;
            command.Parameters.AddWithValue("$owner", owner);
            command.Parameters.AddWithValue("$lease", leaseExpires.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            return (await ReadItemsAsync(command, cancellationToken).ConfigureAwait(false)).FirstOrDefault();
        }, cancellationToken), cancellationToken);

    /// <summary>Owners holding uploading items, other than <paramref name="except"/>.</summary>
    public Task<List<string>> LeaseHoldersAsync(string except, CancellationToken cancellationToken) =>
        WithConnectionAsync(async connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT DISTINCT owner FROM items WHERE state = 'uploading' AND owner IS NOT NULL AND owner <> $except";
            command.Parameters.AddWithValue("$except", except);
            var owners = new List<string>();
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                owners.Add(reader.GetString(0));
            }

            return owners;
        }, cancellationToken);

    /// <summary>Puts the items of a dead runner back to pending (the interrupted attempt stays counted).</summary>
    public Task<int> ReleaseOwnerAsync(string owner, CancellationToken cancellationToken) =>
        NonQueryAsync("UPDATE items SET state = 'pending', owner = NULL, lease_expires = NULL WHERE state = 'uploading' AND owner = $owner",
            c => c.Parameters.AddWithValue("$owner", owner), cancellationToken);

    /// <summary>Writes progress and, when <paramref name="leaseExpires"/> is set, renews the lease. False when the
    /// runner no longer holds the item.</summary>
    public async Task<bool> HeartbeatAsync(long id, string owner, long bytes, DateTimeOffset? leaseExpires, CancellationToken cancellationToken) =>
        await NonQueryAsync("""
            UPDATE items SET bytes_uploaded = $bytes, lease_expires = coalesce($lease, lease_expires)
            WHERE id = $id AND owner = $owner AND state = 'uploading'
            """, c =>
            {
                Held(c, id, owner);
                c.Parameters.AddWithValue("$bytes", bytes);
                c.Parameters.AddWithValue("$lease", leaseExpires is { } lease ? lease.ToUnixTimeMilliseconds() : DBNull.Value);
            }, cancellationToken).ConfigureAwait(false) == 1;

    /// <summary>Marks a held item done with the stored object; drops its snapshot name (the caller deletes the file).</summary>
    public async Task<bool> CompleteAsync(long id, string owner, DepotObject stored, DateTimeOffset now, CancellationToken cancellationToken) =>
        await NonQueryAsync("""
            UPDATE items SET state = 'done', completed = $now, sha256 = $sha256, remote_bucket = $bucket, remote_key = $key,
                bytes_uploaded = $bytes, error_code = NULL, error_message = NULL, error_transient = 0, owner = NULL, lease_expires = NULL,
                next_attempt = NULL, blob = NULL
            WHERE id = $id AND owner = $owner AND state = 'uploading'
            """, c =>
            {
                Held(c, id, owner);
                c.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                c.Parameters.AddWithValue("$sha256", (object?)stored.Sha256 ?? DBNull.Value);
                c.Parameters.AddWithValue("$bucket", stored.Path.Bucket);
                c.Parameters.AddWithValue("$key", stored.Path.Key);
                c.Parameters.AddWithValue("$bytes", stored.Size);
            }, cancellationToken).ConfigureAwait(false) == 1;

    /// <summary>Records a failure of a held item: back to pending until <paramref name="nextAttempt"/>, or failed for good when null.</summary>
    public async Task<bool> FailAsync(long id, string owner, QueuedUploadError error, DateTimeOffset now, DateTimeOffset? nextAttempt,
        CancellationToken cancellationToken) =>
        await NonQueryAsync("""
            UPDATE items SET state = CASE WHEN $next IS NULL THEN 'failed' ELSE 'pending' END,
                completed = CASE WHEN $next IS NULL THEN $now ELSE NULL END, next_attempt = $next,
                error_code = $code, error_message = $message, error_transient = $transient, owner = NULL, lease_expires = NULL
            WHERE id = $id AND owner = $owner AND state = 'uploading'
            """, c =>
            {
                Held(c, id, owner);
                c.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                c.Parameters.AddWithValue("$next", Nullable(nextAttempt));
                c.Parameters.AddWithValue("$code", error.Code);
                c.Parameters.AddWithValue("$message", error.Message);
                c.Parameters.AddWithValue("$transient", error.IsTransient);
            }, cancellationToken).ConfigureAwait(false) == 1;

    /// <summary>Gives a held item back (the run was cancelled): pending, and the interrupted attempt not counted.</summary>
    public async Task<bool> ReleaseAsync(long id, string owner, CancellationToken cancellationToken) =>
        await NonQueryAsync("""
            UPDATE items SET state = 'pending', attempts = max(attempts - 1, 0), owner = NULL, lease_expires = NULL
            WHERE id = $id AND owner = $owner AND state = 'uploading'
            """, c => Held(c, id, owner), cancellationToken).ConfigureAwait(false) == 1;

    /// <summary>Gives items that used up their attempts on transient failures (and failed before
    /// <paramref name="failedBefore"/>) a fresh set of attempts.</summary>
    public Task<int> RenewTransientFailuresAsync(DateTimeOffset failedBefore, CancellationToken cancellationToken) =>
        NonQueryAsync("""
            UPDATE items SET state = 'pending', attempts = 0, next_attempt = NULL, completed = NULL
            WHERE state = 'failed' AND error_transient = 1 AND completed <= $before
            """, c => c.Parameters.AddWithValue("$before", failedBefore.ToUnixTimeMilliseconds()), cancellationToken);

    /// <summary>Makes failed items, and pending ones waiting out a retry delay, due now with a fresh set of attempts.</summary>
    public Task<int> RequeueAsync(long? id, CancellationToken cancellationToken) =>
        NonQueryAsync("""
            UPDATE items SET state = 'pending', attempts = 0, next_attempt = NULL, completed = NULL
            WHERE (state = 'failed' OR (state = 'pending' AND next_attempt IS NOT NULL)) AND ($id IS NULL OR id = $id)
            """, c => c.Parameters.AddWithValue("$id", id is { } value ? value : DBNull.Value), cancellationToken);

    /// <summary>The earliest retry time of pending items, or null when none is pending.</summary>
    public Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken) =>
        WithConnectionAsync<DateTimeOffset?>(async connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*), min(coalesce(next_attempt, 0)) FROM items WHERE state = 'pending'";
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return reader.GetInt64(0) == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1));
        }, cancellationToken);

    /// <summary>Deletes an item unless a live lease holds it.</summary>
    /// <returns>The deleted item; the item left in place with Held true; or null when there is none.</returns>
    public Task<(QueuedUpload? Item, bool Held)> RemoveAsync(long id, DateTimeOffset now, CancellationToken cancellationToken) =>
        WithConnectionAsync(connection => InTransactionAsync(connection, async () =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {Columns} FROM items WHERE id = $id";
            command.Parameters.AddWithValue("$id", id);
            if ((await ReadItemsAsync(command, cancellationToken).ConfigureAwait(false)).FirstOrDefault() is not { } item)
            {
                return ((QueuedUpload?)null, false);
            }

            if (IsLive(item, now))
            {
                return (item, true);
            }

            using var delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM items WHERE id = $id";
            delete.Parameters.AddWithValue("$id", id);
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return (item, false);
        }, cancellationToken), cancellationToken);

    /// <summary>Deletes the items <paramref name="mode"/> selects (never one a live lease holds).</summary>
    /// <returns>The snapshot names of the deleted items (null for items without one).</returns>
    public Task<List<string?>> ClearAsync(QueueClearMode mode, DateTimeOffset now, CancellationToken cancellationToken) =>
        WithConnectionAsync(async connection =>
        {
            using var command = connection.CreateCommand();
            var where = mode switch
            {
                QueueClearMode.Done => "state = 'done'",
                QueueClearMode.Failed => "state = 'failed'",
                QueueClearMode.All => "state <> 'uploading' OR lease_expires IS NULL OR lease_expires <= $now",
                _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Done, Failed or All."),
            };
            command.CommandText = $"DELETE FROM items WHERE {where} RETURNING blob";
            command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            var blobs = new List<string?>();
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                blobs.Add(reader.IsDBNull(0) ? null : reader.GetString(0));
            }

            return blobs;
        }, cancellationToken);

    /// <summary>Closes the pooled connections to the file (those in use close when they are returned).</summary>
    public void ClosePool()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    /// <summary>True when a runner's lease on <paramref name="item"/> has not run out.</summary>
    public static bool IsLive(QueuedUpload item, DateTimeOffset now) =>
        item.State == QueuedUploadState.Uploading && item.LeaseExpires is { } expires && expires > now;

    private async Task<T> WithConnectionAsync<T>(Func<SqliteConnection, Task<T>> action, CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await action(connection).ConfigureAwait(false);
        }
    }

    private Task<int> NonQueryAsync(string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken) =>
        WithConnectionAsync(async connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            bind(command);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    private async Task<SqliteConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // Per connection: wait for another writer instead of failing at once; fsync every commit (an enqueue that
            // returned must survive a power cut).
            await ExecuteAsync(connection, "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL", cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs <paramref name="body"/> inside <c>BEGIN IMMEDIATE</c>: the write lock is taken first, so what the
    /// body reads cannot change before it writes.</summary>
    private static async Task<T> InTransactionAsync<T>(SqliteConnection connection, Func<Task<T>> body, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, "BEGIN IMMEDIATE", cancellationToken).ConfigureAwait(false);
        T result;
        try
        {
            result = await body().ConfigureAwait(false);
        }
        catch
        {
            try
            {
                await ExecuteAsync(connection, "ROLLBACK", CancellationToken.None).ConfigureAwait(false);
            }
            catch (SqliteException)
            {
                // SQLite already rolled back (some errors do); the original failure is the one to report.
            }

            throw;
        }

        await ExecuteAsync(connection, "COMMIT", CancellationToken.None).ConfigureAwait(false);
        return result;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<long> ScalarAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void Held(SqliteCommand command, long id, string owner)
    {
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$owner", owner);
    }

    private static object Nullable(DateTimeOffset? time) => time is { } value ? value.ToUnixTimeMilliseconds() : DBNull.Value;

    private static string SerializeMetadata(IReadOnlyDictionary<string, string> metadata) =>
        JsonSerializer.Serialize(metadata.ToDictionary(p => p.Key, p => (string?)p.Value, StringComparer.Ordinal), DepotJson.Default.DictionaryStringString);

    private static async Task<List<QueuedUpload>> ReadItemsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var items = new List<QueuedUpload>();
        using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(ReadItem(reader));
        }

        return items;
    }

    private static QueuedUpload ReadItem(SqliteDataReader r)
    {
        string? Text(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        DateTimeOffset? Time(int i) => r.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));

        var errorCode = Text(16);
        var remoteBucket = Text(24);
        return new QueuedUpload
        {
            Id = r.GetInt64(0),
            LocalPath = r.GetString(1),
            Destination = new DepotPath(r.GetString(2), r.GetString(3)),
            Snapshot = r.GetInt64(4) != 0,
            Blob = Text(5),
            Size = r.GetInt64(6),
            SourceModified = Time(7),
            ContentType = Text(8),
            Metadata = Text(9) is { } json ? DeserializeMetadata(json) : null,
            Overwrite = r.GetInt64(10) != 0,
            Appendable = r.GetInt64(11) != 0,
            State = ParseState(r.GetString(12)),
            BytesUploaded = r.GetInt64(13),
            Attempts = r.GetInt32(14),
            NextAttempt = Time(15),
            LastError = errorCode is null ? null : new QueuedUploadError(errorCode, Text(17) ?? "", r.GetInt64(18) != 0),
            Owner = Text(19),
            LeaseExpires = Time(20),
            Enqueued = DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(21)),
            Completed = Time(22),
            Sha256 = Text(23),
            RemotePath = remoteBucket is null ? (DepotPath?)null : new DepotPath(remoteBucket, Text(25) ?? ""),
        };
    }

    private static Dictionary<string, string> DeserializeMetadata(string json)
    {
        var values = JsonSerializer.Deserialize(json, DepotJson.Default.DictionaryStringString) ?? [];
        return values.Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value!, StringComparer.Ordinal);
    }

    private static QueuedUploadState ParseState(string state) => state switch
    {
        "pending" => QueuedUploadState.Pending,
        "uploading" => QueuedUploadState.Uploading,
        "done" => QueuedUploadState.Done,
        "failed" => QueuedUploadState.Failed,
        _ => throw new InvalidDataException($"Unknown queue item state '{state}'."),
    };
}
