using System.Security.Cryptography;
using System.Text.Json;
using Depot.Core.Uploads;
using Depot.Core.Uploads.Manifests;
using Depot.Protocol;
using Depot.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Webhooks;

/// <summary>
/// Turns upload and manifest events into webhook deliveries: one outbox message per subscribed endpoint, written durably
/// before this returns (so the event survives a crash from then on), then the sender is woken.
/// </summary>
public sealed partial class UploadEventPublisher(
    IWebhookOutbox outbox,
    DepotServerOptions options,
    WebhookSignal signal,
    TimeProvider time,
    ILogger<UploadEventPublisher> logger) : IManifestEvents
{
    public Task UploadCompletedAsync(UploadCompleted completed, string? manifestId) =>
        PublishAsync(WebhookEvents.UploadCompleted, (id, now) => new WebhookEventDto
        {
            Event = WebhookEvents.UploadCompleted,
            DeliveryId = id,
            Time = now,
            Identity = completed.Identity,
            Bucket = completed.Object.Bucket,
            Key = completed.Object.Key,
            Size = completed.Object.Size,
            Sha256 = completed.Object.Sha256Hex,
            ETag = completed.Object.ETag,
            ContentType = completed.Object.ContentType,
            Protocol = completed.Protocol,
            ClientName = completed.ClientName,
            SessionId = completed.SessionId,
            ManifestId = manifestId,
        });

    public Task UploadCancelledAsync(UploadCancelled cancelled, string? manifestId) =>
        PublishAsync(WebhookEvents.UploadCancelled, (id, now) => new WebhookEventDto
        {
            Event = WebhookEvents.UploadCancelled,
            DeliveryId = id,
            Time = now,
            Identity = cancelled.Identity,
            Bucket = cancelled.Bucket,
            Key = cancelled.Key,
            Protocol = cancelled.Protocol,
            ClientName = cancelled.ClientName,
            SessionId = cancelled.SessionId,
            ManifestId = manifestId,
            Reason = cancelled.Reason,
            BytesReceived = cancelled.BytesReceived,
        });

    /// <summary>Logs the completion and queues <c>manifest.completed</c>. Never throws: the manifest is complete whatever
    /// happens to the news.</summary>
    public async ValueTask ManifestCompletedAsync(ManifestView manifest, CancellationToken cancellationToken)
    {
        var record = manifest.Manifest;
        var uploaded = manifest.Count(ManifestFileStatus.Uploaded);
        var present = manifest.Count(ManifestFileStatus.Present);
        var rejected = manifest.Count(ManifestFileStatus.Rejected);
        LogManifestCompleted(logger, record.Id, record.Bucket, record.Prefix, record.Identity, uploaded, present, rejected);
        try
        {
            await PublishAsync(WebhookEvents.ManifestCompleted, (id, now) => new WebhookEventDto
            {
                Event = WebhookEvents.ManifestCompleted,
                DeliveryId = id,
                Time = now,
                Identity = record.Identity,
                Bucket = record.Bucket,
                Prefix = record.Prefix,
                Protocol = UploadProtocols.Manifest,
                ManifestId = record.Id,
                Uploaded = uploaded,
                Present = present,
                Rejected = rejected,
            });
        }
        catch (Exception e)
        {
            LogPublishFailed(logger, e, WebhookEvents.ManifestCompleted);
        }
    }

    /// <summary>A new delivery id: 128 random bits in hex.</summary>
    internal static string NewDeliveryId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private async Task PublishAsync(string kind, Func<string, DateTimeOffset, WebhookEventDto> build)
    {
        var endpoints = options.Webhooks.Where(e => e.Wants(kind)).ToList();
        if (endpoints.Count == 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        var messages = endpoints.Select(endpoint =>
        {
            var id = NewDeliveryId();
            var body = JsonSerializer.Serialize(build(id, now), DepotJson.Wire.WebhookEventDto);
            return new OutboxMessage(0, kind, endpoint.Url, id, body, 0, now, now, null);
        }).ToList();
        // The event happened: record it even if the request that caused it is going away.
        await outbox.EnqueueAsync(messages, CancellationToken.None);
        signal.Notify();
    }

    [LoggerMessage(EventId = 60, Level = LogLevel.Information, Message = "Manifest {ManifestId} in bucket {Bucket} under '{Prefix}' (key {Identity}) is complete: {Uploaded} uploaded, {Present} already present, {Rejected} rejected")]
    private static partial void LogManifestCompleted(ILogger logger, string manifestId, string bucket, string prefix, string identity, int uploaded, int present, int rejected);

    [LoggerMessage(EventId = 61, Level = LogLevel.Error, Message = "Queueing the {Event} webhook failed; the event is not delivered")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string @event);
}
