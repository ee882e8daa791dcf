using System.Text.Json;
using Depot.Core.Uploads;
using Microsoft.Data.Sqlite;

namespace Depot.Storage.Sqlite;

/// <summary>Upload sessions (schema version 3).</summary>
public sealed partial class SqliteMetadataStore
{
    private const string SessionColumns = "document, state, updated_ticks, expires_ticks";

    public Task InsertSessionAsync(UploadSession session, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO upload_sessions (id, bucket, key, requested_key, protocol, state, manifest_id, created_ticks, updated_ticks, expires_ticks, document)
            VALUES ($id, $b, $k, $requested, $protocol, $state, $manifest, $created, $updated, $expires, $document)
            """;
        BindSession(command, session);
        command.ExecuteNonQuery();
    }, cancellationToken);

    public Task UpdateSessionAsync(UploadSession session, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            UPDATE upload_sessions SET bucket = $b, key = $k, requested_key = $requested, protocol = $protocol, state = $state, manifest_id = $manifest,
                created_ticks = $created, updated_ticks = $updated, expires_ticks = $expires, document = $document
            WHERE id = $id
            """;
        BindSession(command, session);
        command.ExecuteNonQuery();
    }, cancellationToken);

    public Task DeleteSessionAsync(string id, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM upload_sessions WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        command.ExecuteNonQuery();
    }, cancellationToken);

    public async Task<UploadSession?> GetSessionAsync(string id, CancellationToken cancellationToken) =>
        (await QuerySessionsAsync($"SELECT {SessionColumns} FROM upload_sessions WHERE id = $id", c => c.Parameters.AddWithValue("$id", id), cancellationToken)) is [var only] ? only : null;

    public async Task<UploadSession?> FindLatestAsync(string protocol, string bucket, string key, CancellationToken cancellationToken) =>
        (await QuerySessionsAsync(
            $"SELECT {SessionColumns} FROM upload_sessions WHERE protocol = $p AND bucket = $b AND requested_key = $k ORDER BY created_ticks DESC LIMIT 1",
            c =>
            {
                c.Parameters.AddWithValue("$p", protocol);
                c.Parameters.AddWithValue("$b", bucket);
                c.Parameters.AddWithValue("$k", key);
            },
            cancellationToken)) is [var latest] ? latest : null;

    public Task<IReadOnlyList<UploadSession>> GetExpiredSessionsAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        QuerySessionsAsync(
            $"SELECT {SessionColumns} FROM upload_sessions WHERE expires_ticks <= $now ORDER BY expires_ticks LIMIT $limit",
            c =>
            {
                c.Parameters.AddWithValue("$now", now.UtcTicks);
                c.Parameters.AddWithValue("$limit", limit);
            },
            cancellationToken);

    public Task<IReadOnlyList<UploadSession>> GetQuietSessionsAsync(string protocol, DateTimeOffset before, int limit, CancellationToken cancellationToken) =>
        QuerySessionsAsync(
            $"SELECT {SessionColumns} FROM upload_sessions WHERE protocol = $p AND state = $open AND updated_ticks <= $before ORDER BY updated_ticks LIMIT $limit",
            c =>
            {
                c.Parameters.AddWithValue("$p", protocol);
                c.Parameters.AddWithValue("$open", (int)UploadState.Open);
                c.Parameters.AddWithValue("$before", before.UtcTicks);
                c.Parameters.AddWithValue("$limit", limit);
            },
            cancellationToken);

    public Task<IReadOnlyList<UploadSession>> GetManifestSessionsAsync(string manifestId, CancellationToken cancellationToken) =>
        QuerySessionsAsync($"SELECT {SessionColumns} FROM upload_sessions WHERE manifest_id = $m ORDER BY created_ticks", c => c.Parameters.AddWithValue("$m", manifestId), cancellationToken);

    private async Task<IReadOnlyList<UploadSession>> QuerySessionsAsync(string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        bind(command);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var sessions = new List<UploadSession>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var document = JsonSerializer.Deserialize(reader.GetString(0), SqliteJson.Default.SessionDocument)
                ?? throw new InvalidDataException("An upload session's document is empty.");
            sessions.Add(document.ToSession());
        }

        return sessions;
    }

    private static void BindSession(SqliteCommand command, UploadSession session)
    {
        command.Parameters.AddWithValue("$id", session.Id);
        command.Parameters.AddWithValue("$b", session.Bucket);
        command.Parameters.AddWithValue("$k", session.Key);
        command.Parameters.AddWithValue("$requested", (object?)session.RequestedKey ?? DBNull.Value);
        command.Parameters.AddWithValue("$protocol", session.Protocol);
        command.Parameters.AddWithValue("$state", (int)session.State);
        command.Parameters.AddWithValue("$manifest", (object?)session.ManifestId ?? DBNull.Value);
        command.Parameters.AddWithValue("$created", session.CreatedUtc.UtcTicks);
        command.Parameters.AddWithValue("$updated", session.UpdatedUtc.UtcTicks);
        command.Parameters.AddWithValue("$expires", session.ExpiresUtc.UtcTicks);
        command.Parameters.AddWithValue("$document", JsonSerializer.Serialize(SessionDocument.From(session), SqliteJson.Default.SessionDocument));
    }
}

/// <summary>The stored form of an <see cref="UploadSession"/> (times as UTC ticks, ranges as pairs).</summary>
internal sealed class SessionDocument
{
    public string Id { get; set; } = "";
    public string Bucket { get; set; } = "";
    public string Key { get; set; } = "";
    public string? RequestedKey { get; set; }
    public long? Length { get; set; }
    public long? ChunkSize { get; set; }
    // Digests as hex: readable in the database, and no byte[] round-trip surprises.
    public string? Sha256 { get; set; }
    public string? Md5 { get; set; }
    public string? ContentType { get; set; }
    public Dictionary<string, string>? Metadata { get; set; }
    public bool Appendable { get; set; }
    public bool CreateOnly { get; set; }
    public bool Partial { get; set; }
    public string Protocol { get; set; } = "";
    public string Identity { get; set; } = "";
    public string? ClientName { get; set; }
    public string? ManifestId { get; set; }
    public string? Properties { get; set; }
    public long Created { get; set; }
    public long Updated { get; set; }
    public long Expires { get; set; }
    public int State { get; set; }
    public long[] Received { get; set; } = [];
    public string? ResultSha256 { get; set; }

    public static SessionDocument From(UploadSession s) => new()
    {
        Id = s.Id,
        Bucket = s.Bucket,
        Key = s.Key,
        RequestedKey = s.RequestedKey,
        Length = s.Length,
        ChunkSize = s.ChunkSize,
        Sha256 = s.ExpectedSha256 is { } sha ? Convert.ToHexStringLower(sha) : null,
        Md5 = s.ExpectedMd5 is { } md5 ? Convert.ToHexStringLower(md5) : null,
        ContentType = s.ContentType,
        Metadata = s.Metadata.Count == 0 ? null : new Dictionary<string, string>(s.Metadata, StringComparer.Ordinal),
        Appendable = s.Appendable,
        CreateOnly = s.CreateOnly,
        Partial = s.Partial,
        Protocol = s.Protocol,
        Identity = s.Identity,
        ClientName = s.ClientName,
        ManifestId = s.ManifestId,
        Properties = s.Properties,
        Created = s.CreatedUtc.UtcTicks,
        Updated = s.UpdatedUtc.UtcTicks,
        Expires = s.ExpiresUtc.UtcTicks,
        State = (int)s.State,
        Received = s.Received.SelectMany(r => new[] { r.Start, r.End }).ToArray(),
        ResultSha256 = s.ResultSha256,
    };

    public UploadSession ToSession()
    {
        var ranges = new ByteSpan[Received.Length / 2];
        for (var i = 0; i < ranges.Length; i++)
        {
            ranges[i] = new ByteSpan(Received[2 * i], Received[(2 * i) + 1]);
        }

        return new UploadSession
        {
            Id = Id,
            Bucket = Bucket,
            Key = Key,
            RequestedKey = RequestedKey,
            Length = Length,
            ChunkSize = ChunkSize,
            ExpectedSha256 = string.IsNullOrEmpty(Sha256) ? null : Convert.FromHexString(Sha256),
            ExpectedMd5 = string.IsNullOrEmpty(Md5) ? null : Convert.FromHexString(Md5),
            ContentType = ContentType,
            Metadata = Metadata ?? new Dictionary<string, string>(StringComparer.Ordinal),
            Appendable = Appendable,
            CreateOnly = CreateOnly,
            Partial = Partial,
            Protocol = Protocol,
            Identity = Identity,
            ClientName = ClientName,
            ManifestId = ManifestId,
            Properties = Properties,
            CreatedUtc = new DateTimeOffset(Created, TimeSpan.Zero),
            UpdatedUtc = new DateTimeOffset(Updated, TimeSpan.Zero),
            ExpiresUtc = new DateTimeOffset(Expires, TimeSpan.Zero),
            State = (UploadState)State,
            Received = ranges,
            ResultSha256 = ResultSha256,
        };
    }
}
