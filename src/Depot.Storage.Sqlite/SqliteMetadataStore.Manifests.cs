using System.Text.Json;
using System.Text.Json.Serialization;
using Depot.Core.Uploads.Manifests;

namespace Depot.Storage.Sqlite;

/// <summary>Manifests (schema version 3): the queried fields as columns, the manifest itself as a JSON document.</summary>
public sealed partial class SqliteMetadataStore : IManifestStore
{
    public Task InsertManifestAsync(ManifestRecord manifest, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO manifests (id, bucket, identity, created_ticks, expires_ticks, document)
            VALUES ($id, $b, $identity, $created, $expires, $document)
            """;
        command.Parameters.AddWithValue("$id", manifest.Id);
        command.Parameters.AddWithValue("$b", manifest.Bucket);
        command.Parameters.AddWithValue("$identity", manifest.Identity);
        command.Parameters.AddWithValue("$created", manifest.CreatedUtc.UtcTicks);
        command.Parameters.AddWithValue("$expires", manifest.ExpiresUtc.UtcTicks);
        command.Parameters.AddWithValue("$document", ManifestDocument.Serialize(manifest));
        command.ExecuteNonQuery();
    }, cancellationToken);

    public async Task<ManifestRecord?> GetManifestAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT document, expires_ticks FROM manifests WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ManifestDocument.Read(reader.GetString(0), reader.GetInt64(1)) : null;
    }

    public async Task<ManifestUpdate> UpdateManifestAsync(string id, Func<ManifestRecord, ManifestRecord?> change, CancellationToken cancellationToken)
    {
        ManifestRecord? result = null;
        var changed = false;
        Exception? changeFailed = null;
        // Read, change and write inside one operation of the single writer: concurrent updates cannot interleave.
        await EnqueueAsync((connection, transaction) =>
        {
            using var select = connection.CreateCommand();
            select.Transaction = transaction;
            select.CommandText = "SELECT document, expires_ticks FROM manifests WHERE id = $id";
            select.Parameters.AddWithValue("$id", id);
            ManifestRecord? stored;
            using (var reader = select.ExecuteReader())
            {
                stored = reader.Read() ? ManifestDocument.Read(reader.GetString(0), reader.GetInt64(1)) : null;
            }

            if (stored is null)
            {
                return;
            }

            ManifestRecord? next;
            try
            {
                next = change(stored);
            }
            catch (Exception e)
            {
                // Reported to this caller only: an exception escaping here would fail every write of the batch.
                changeFailed = e;
                return;
            }

            result = stored;
            if (next is null)
            {
                return;
            }

            using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = "UPDATE manifests SET expires_ticks = $expires, document = $document WHERE id = $id";
            update.Parameters.AddWithValue("$id", id);
            update.Parameters.AddWithValue("$expires", next.ExpiresUtc.UtcTicks);
            update.Parameters.AddWithValue("$document", ManifestDocument.Serialize(next));
            update.ExecuteNonQuery();
            result = next;
            changed = true;
        }, cancellationToken);

        if (changeFailed is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(changeFailed);
        }

        return new ManifestUpdate(result, changed);
    }

    public async Task<bool> DeleteManifestAsync(string id, CancellationToken cancellationToken)
    {
        var deleted = 0;
        await EnqueueAsync((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "DELETE FROM manifests WHERE id = $id";
            command.Parameters.AddWithValue("$id", id);
            deleted = command.ExecuteNonQuery();
        }, cancellationToken);
        return deleted > 0;
    }

    public async Task<IReadOnlyList<ManifestRecord>> GetExpiredManifestsAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT document, expires_ticks FROM manifests WHERE expires_ticks <= $now ORDER BY expires_ticks LIMIT $limit";
        command.Parameters.AddWithValue("$now", now.UtcTicks);
        command.Parameters.AddWithValue("$limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var manifests = new List<ManifestRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            manifests.Add(ManifestDocument.Read(reader.GetString(0), reader.GetInt64(1)));
        }

        return manifests;
    }
}

/// <summary>The stored form of a <see cref="ManifestRecord"/> (times as UTC ticks, checksums as hex). The expiry lives in
/// its column only, so moving it rewrites nothing else.</summary>
internal sealed class ManifestDocument
{
    public string Id { get; set; } = "";
    public string Bucket { get; set; } = "";
    public string Prefix { get; set; } = "";
    public string Identity { get; set; } = "";
    public long? ChunkSize { get; set; }
    public long Created { get; set; }
    public long? Completed { get; set; }
    public ManifestFileDocument[] Files { get; set; } = [];

    public static string Serialize(ManifestRecord m) => JsonSerializer.Serialize(new ManifestDocument
    {
        Id = m.Id,
        Bucket = m.Bucket,
        Prefix = m.Prefix,
        Identity = m.Identity,
        ChunkSize = m.ChunkSize,
        Created = m.CreatedUtc.UtcTicks,
        Completed = m.CompletedUtc?.UtcTicks,
        Files = m.Files.Select(f => new ManifestFileDocument
        {
            Name = f.Name,
            Key = f.Key,
            Size = f.Size,
            Sha256 = f.Sha256 is null ? null : Convert.ToHexStringLower(f.Sha256),
            Md5 = f.Md5 is null ? null : Convert.ToHexStringLower(f.Md5),
            Decision = f.Decision,
            Reason = f.Reason,
            Session = f.SessionId,
            Uploaded = f.UploadedUtc?.UtcTicks,
        }).ToArray(),
    }, SqliteStoreJson.Default.ManifestDocument);

    public static ManifestRecord Read(string json, long expiresTicks)
    {
        var d = JsonSerializer.Deserialize(json, SqliteStoreJson.Default.ManifestDocument) ?? throw new InvalidDataException("A manifest's document is empty.");
        return new ManifestRecord(
            d.Id,
            d.Bucket,
            d.Prefix,
            d.Identity,
            d.ChunkSize,
            new DateTimeOffset(d.Created, TimeSpan.Zero),
            new DateTimeOffset(expiresTicks, TimeSpan.Zero),
            d.Completed is { } completed ? new DateTimeOffset(completed, TimeSpan.Zero) : null,
            d.Files.Select(f => new ManifestEntry(
                f.Name,
                f.Key,
                f.Size,
                f.Sha256 is null ? null : Convert.FromHexString(f.Sha256),
                f.Md5 is null ? null : Convert.FromHexString(f.Md5),
                f.Decision,
                f.Reason,
                f.Session,
                f.Uploaded is { } uploaded ? new DateTimeOffset(uploaded, TimeSpan.Zero) : null)).ToArray());
    }
}

internal sealed class ManifestFileDocument
{
    public string Name { get; set; } = "";
    public string? Key { get; set; }
    public long Size { get; set; }
    public string? Sha256 { get; set; }
    public string? Md5 { get; set; }
    public ManifestDecision Decision { get; set; }
    public string? Reason { get; set; }
    public string? Session { get; set; }
    public long? Uploaded { get; set; }
}

/// <summary>Documents of manifests and webhook deliveries. Enums are written by name, so reordering one never changes
/// what a stored document means.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(ManifestDocument))]
[JsonSerializable(typeof(OutboxDocument))]
internal sealed partial class SqliteStoreJson : JsonSerializerContext;
