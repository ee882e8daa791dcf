using Depot.Core.Uploads.Manifests;
using Depot.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Webhooks;

/// <summary>
/// Delivers the webhook outbox: every due message is POSTed (signed) to its endpoint; a 2xx answer deletes it, anything
/// else (another status, a refused connection, a timeout) schedules the next attempt with exponential backoff and jitter,
/// until <see cref="WebhookDeliveryOptions.MaxAttempts"/> is reached and the delivery is given up (logged).
/// </summary>
/// <remarks>At least once: a message is deleted only after its endpoint acknowledged it, so a crash between the answer and
/// the delete sends it again (same delivery id). The outbox is in the metadata database, so pending deliveries survive
/// restarts. Times come from the server's <see cref="TimeProvider"/>; deliveries are not ordered.</remarks>
internal sealed partial class WebhookDispatcher(
    IWebhookOutbox outbox,
    WebhookSender sender,
    WebhookSignal signal,
    DepotServerOptions options,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    private const int Batch = 32;
    private WebhookDeliveryOptions Delivery => options.WebhookDelivery;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var due = await outbox.GetDueAsync(time.GetUtcNow(), Batch, stoppingToken);
                if (due.Count > 0)
                {
                    await Task.WhenAll(due.Select(m => DeliverAsync(m, stoppingToken)));
                    continue;
                }

                // Sleep until the next message is due, but look again at least every poll interval (the clock may be moved,
                // and another writer may add messages) and at once when an event is queued here.
                var next = await outbox.GetNextDueAsync(stoppingToken);
                var wait = next is { } at ? at - time.GetUtcNow() : Delivery.PollInterval;
                wait = wait < TimeSpan.Zero ? TimeSpan.Zero : wait > Delivery.PollInterval ? Delivery.PollInterval : wait;
                await signal.WaitAsync(wait, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The outbox could not be read (disk, database): log, wait, and try again; never take the server down.
                LogLoopFailed(logger, e);
                try
                {
                    await Task.Delay(Delivery.PollInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task DeliverAsync(OutboxMessage message, CancellationToken stoppingToken)
    {
        var endpoint = options.Webhooks.FirstOrDefault(e => string.Equals(e.Url, message.Destination, StringComparison.Ordinal));
        if (endpoint is null)
        {
            // Configured away since the event was queued: there is nobody to deliver to (and no secret to sign with).
            LogNoEndpoint(logger, message.Kind, message.DeliveryId);
            await outbox.DeleteAsync(message.Id, CancellationToken.None);
            return;
        }

        string failure;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(Delivery.Timeout);
            using var response = await sender.SendAsync(endpoint, message.Kind, message.DeliveryId, message.Body, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                await outbox.DeleteAsync(message.Id, CancellationToken.None);
                LogDelivered(logger, message.Kind, message.DeliveryId, endpoint.Redacted, message.Attempts + 1);
                return;
            }

            failure = $"HTTP {(int)response.StatusCode}";
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return; // shutting down: the message stays due and goes out after the restart
        }
        catch (OperationCanceledException)
        {
            failure = $"no answer within {Delivery.Timeout.TotalSeconds:0.###} s";
        }
        catch (HttpRequestException e)
        {
            failure = e.HttpRequestError == HttpRequestError.Unknown ? "the request failed" : e.HttpRequestError.ToString();
        }

        var attempts = message.Attempts + 1;
        if (attempts >= Delivery.MaxAttempts)
        {
            LogGaveUp(logger, message.Kind, message.DeliveryId, endpoint.Redacted, attempts, failure);
            await outbox.DeleteAsync(message.Id, CancellationToken.None);
            return;
        }

        var delay = WebhookBackoff.Delay(attempts, Delivery, Random.Shared.NextDouble());
        await outbox.RescheduleAsync(message.Id, attempts, time.GetUtcNow() + delay, failure, CancellationToken.None);
        LogRetrying(logger, message.Kind, message.DeliveryId, endpoint.Redacted, attempts, failure, delay.TotalSeconds);
    }

    [LoggerMessage(EventId = 62, Level = LogLevel.Debug, Message = "Delivered {Event} webhook {DeliveryId} to {Endpoint} (attempt {Attempt})")]
    private static partial void LogDelivered(ILogger logger, string @event, string deliveryId, string endpoint, int attempt);

    [LoggerMessage(EventId = 63, Level = LogLevel.Warning, Message = "Webhook {Event} {DeliveryId} to {Endpoint} failed (attempt {Attempt}: {Failure}); next attempt in {DelaySeconds:0.#} s")]
    private static partial void LogRetrying(ILogger logger, string @event, string deliveryId, string endpoint, int attempt, string failure, double delaySeconds);

    [LoggerMessage(EventId = 64, Level = LogLevel.Error, Message = "Gave up webhook {Event} {DeliveryId} to {Endpoint} after {Attempts} attempts (last: {Failure})")]
    private static partial void LogGaveUp(ILogger logger, string @event, string deliveryId, string endpoint, int attempts, string failure);

    [LoggerMessage(EventId = 65, Level = LogLevel.Warning, Message = "Dropped webhook {Event} {DeliveryId}: its endpoint is no longer configured")]
    private static partial void LogNoEndpoint(ILogger logger, string @event, string deliveryId);

    [LoggerMessage(EventId = 66, Level = LogLevel.Error, Message = "Reading the webhook outbox failed; will retry")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}
