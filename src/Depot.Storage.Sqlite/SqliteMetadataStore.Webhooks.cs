using System.Text.Json;
using Depot.Core.Uploads.Manifests;
using Microsoft.Data.Sqlite;

namespace Depot.Storage.Sqlite;

/// <summary>The webhook outbox (schema version 3). <c>kind</c> is the event; <c>payload</c> holds the destination, the
/// delivery id and the exact body, so a retry sends the same bytes.</summary>
public sealed partial class SqliteMetadataStore : IWebhookOutbox
{
    private const string OutboxColumns = "id, kind, payload, attempts, next_attempt_ticks, created_ticks, last_error";

    public Task EnqueueAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken) => messages.Count == 0
        ? Task.CompletedTask
        : EnqueueAsync((connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO webhook_outbox (kind, payload, attempts, next_attempt_ticks, created_ticks, last_error)
                VALUES ($kind, $payload, $attempts, $next, $created, $error)
                """;
            var kind = command.Parameters.Add("$kind", SqliteType.Text);
            var payload = command.Parameters.Add("$payload", SqliteType.Text);
            var attempts = command.Parameters.Add("$attempts", SqliteType.Integer);
            var next = command.Parameters.Add("$next", SqliteType.Integer);
            var created = command.Parameters.Add("$created", SqliteType.Integer);
            var error = command.Parameters.Add("$error", SqliteType.Text);
            foreach (var message in messages)
            {
                kind.Value = message.Kind;
                payload.Value = JsonSerializer.Serialize(
                    new OutboxDocument { Destination = message.Destination, DeliveryId = message.DeliveryId, Body = message.Body },
                    SqliteStoreJson.Default.OutboxDocument);
                attempts.Value = message.Attempts;
                next.Value = message.NextAttemptUtc.UtcTicks;
                created.Value = message.CreatedUtc.UtcTicks;
                error.Value = (object?)message.LastError ?? DBNull.Value;
                command.ExecuteNonQuery();
            }
        }, cancellationToken);

    public async Task<IReadOnlyList<OutboxMessage>> GetDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {OutboxColumns} FROM webhook_outbox WHERE next_attempt_ticks <= $now ORDER BY next_attempt_ticks, id LIMIT $limit";
        command.Parameters.AddWithValue("$now", now.UtcTicks);
        command.Parameters.AddWithValue("$limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var messages = new List<OutboxMessage>();
        while (await reader.ReadAsync(cancellationToken))
        {
            messages.Add(ReadOutboxMessage(reader));
        }

        return messages;
    }

    public async Task<DateTimeOffset?> GetNextDueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT min(next_attempt_ticks) FROM webhook_outbox";
        var ticks = await command.ExecuteScalarAsync(cancellationToken);
        return ticks is long value ? new DateTimeOffset(value, TimeSpan.Zero) : null;
    }

    public Task DeleteAsync(long id, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM webhook_outbox WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        command.ExecuteNonQuery();
    }, cancellationToken);

    public Task RescheduleAsync(long id, int attempts, DateTimeOffset nextAttemptUtc, string lastError, CancellationToken cancellationToken) => EnqueueAsync((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "UPDATE webhook_outbox SET attempts = $attempts, next_attempt_ticks = $next, last_error = $error WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$attempts", attempts);
        command.Parameters.AddWithValue("$next", nextAttemptUtc.UtcTicks);
        command.Parameters.AddWithValue("$error", lastError);
        command.ExecuteNonQuery();
    }, cancellationToken);

    private static OutboxMessage ReadOutboxMessage(SqliteDataReader r)
    {
        var payload = JsonSerializer.Deserialize(r.GetString(2), SqliteStoreJson.Default.OutboxDocument)
            ?? throw new InvalidDataException("A webhook delivery's payload is empty.");
        return new OutboxMessage(
            r.GetInt64(0),
            r.GetString(1),
            payload.Destination,
            payload.DeliveryId,
            payload.Body,
            r.GetInt32(3),
            new DateTimeOffset(r.GetInt64(4), TimeSpan.Zero),
            new DateTimeOffset(r.GetInt64(5), TimeSpan.Zero),
            r.IsDBNull(6) ? null : r.GetString(6));
    }
}

/// <summary>The stored payload of a webhook delivery.</summary>
internal sealed class OutboxDocument
{
    public string Destination { get; set; } = "";
    public string DeliveryId { get; set; } = "";

    /// <summary>The JSON body exactly as it is sent (kept as a string so every retry sends the same bytes).</summary>
    public string Body { get; set; } = "";
}
