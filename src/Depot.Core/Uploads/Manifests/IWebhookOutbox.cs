namespace Depot.Core.Uploads.Manifests;

/// <summary>
/// The durable queue of webhook deliveries (the transactional outbox): an event is written here where it happens and
/// delivered later by a background sender, so a delivery survives a restart and is retried until it succeeds or gives up.
/// </summary>
/// <remarks>One message is one event for one destination. Writes return only once durable.</remarks>
public interface IWebhookOutbox
{
    /// <summary>Adds messages (their <see cref="OutboxMessage.Id"/> is ignored and assigned by the store).</summary>
    Task EnqueueAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> messages due at <paramref name="now"/>, the oldest due first.</summary>
    Task<IReadOnlyList<OutboxMessage>> GetDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>When the next message is due, or null when the outbox is empty.</summary>
    Task<DateTimeOffset?> GetNextDueAsync(CancellationToken cancellationToken);

    /// <summary>Removes a message (delivered, or given up).</summary>
    Task DeleteAsync(long id, CancellationToken cancellationToken);

    /// <summary>Records a failed attempt and when to try again.</summary>
    Task RescheduleAsync(long id, int attempts, DateTimeOffset nextAttemptUtc, string lastError, CancellationToken cancellationToken);
}

/// <summary>A webhook delivery waiting in the outbox.</summary>
/// <param name="Id">The store's id (0 before it is stored).</param>
/// <param name="Kind">The event (<c>upload.completed</c>, ...).</param>
/// <param name="Destination">The endpoint's URL; its secret is looked up in the configuration when sending, never stored.</param>
/// <param name="DeliveryId">Stable across retries, so receivers can discard duplicates.</param>
/// <param name="Body">The exact JSON body to send (it already holds <paramref name="DeliveryId"/>).</param>
/// <param name="Attempts">Failed attempts so far.</param>
public sealed record OutboxMessage(
    long Id,
    string Kind,
    string Destination,
    string DeliveryId,
    string Body,
    int Attempts,
    DateTimeOffset NextAttemptUtc,
    DateTimeOffset CreatedUtc,
    string? LastError);
