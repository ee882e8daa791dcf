using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Depot.Client.Transfers;

/// <summary>
/// Remembers the upload session of each local file being uploaded (SQLite, <c>{StateDirectory}/uploads.db</c>), so
/// that an upload cut short by a crash of the client process resumes on the next call for the same file. A record
/// matches only the same server, destination, path, size, modification time and content fingerprint.
/// </summary>
/// <remarks>Safe for several processes at once (WAL, busy timeout); each call opens its own connection from the pool.</remarks>
internal sealed class UploadStateStore : IDisposable
{
    private readonly string _connectionString;

    private UploadStateStore(string connectionString) => _connectionString = connectionString;

    public static UploadStateStore Open(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "uploads.db");
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 30 };
        var store = new UploadStateStore(builder.ToString());
        using var connection = store.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS uploads (
                server TEXT NOT NULL, bucket TEXT NOT NULL, target TEXT NOT NULL, local_path TEXT NOT NULL,
                size INTEGER NOT NULL, mtime INTEGER NOT NULL, fingerprint TEXT NOT NULL,
                session_id TEXT NOT NULL, chunk_size INTEGER NOT NULL, created TEXT NOT NULL,
                PRIMARY KEY (server, bucket, target, local_path));
            """;
        command.ExecuteNonQuery();
        return store;
    }

    public SavedUpload? Find(UploadIdentity identity)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT size, mtime, fingerprint, session_id, chunk_size FROM uploads
            WHERE server = $server AND bucket = $bucket AND target = $target AND local_path = $path
            """;
        Bind(command, identity);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var saved = new SavedUpload(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4));
        return saved.Size == identity.Size && saved.LastWriteTicks == identity.LastWriteTicks
            && string.Equals(saved.Fingerprint, identity.Fingerprint, StringComparison.Ordinal) ? saved : null;
    }

    public void Save(UploadIdentity identity, string sessionId, int chunkSize)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT OR REPLACE INTO uploads (server, bucket, target, local_path, size, mtime, fingerprint, session_id, chunk_size, created)
            VALUES ($server, $bucket, $target, $path, $size, $mtime, $fingerprint, $session, $chunk, $created)
            """;
        Bind(command, identity);
        command.Parameters.AddWithValue("$size", identity.Size);
        command.Parameters.AddWithValue("$mtime", identity.LastWriteTicks);
        command.Parameters.AddWithValue("$fingerprint", identity.Fingerprint);
        command.Parameters.AddWithValue("$session", sessionId);
        command.Parameters.AddWithValue("$chunk", chunkSize);
        command.Parameters.AddWithValue("$created", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        command.ExecuteNonQuery();
    }

    public void Delete(UploadIdentity identity)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM uploads WHERE server = $server AND bucket = $bucket AND target = $target AND local_path = $path";
        Bind(command, identity);
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    private SqliteConnection Connect()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    private static void Bind(SqliteCommand command, UploadIdentity identity)
    {
        command.Parameters.AddWithValue("$server", identity.Server);
        command.Parameters.AddWithValue("$bucket", identity.Bucket);
        command.Parameters.AddWithValue("$target", identity.Target);
        command.Parameters.AddWithValue("$path", identity.LocalPath);
    }
}

/// <summary>What makes two uploads "the same file to the same place".</summary>
/// <param name="Target">The key, or <c>id:{ext}</c> for a server-assigned id.</param>
/// <param name="Fingerprint">SHA-256 of the first and last 64 KiB and the size: catches a file rewritten in place
/// with the same size and a restored modification time.</param>
internal sealed record UploadIdentity(string Server, string Bucket, string Target, string LocalPath, long Size, long LastWriteTicks, string Fingerprint);

internal sealed record SavedUpload(long Size, long LastWriteTicks, string Fingerprint, string SessionId, int ChunkSize);
