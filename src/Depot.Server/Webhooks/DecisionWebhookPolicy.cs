using System.Text.Json;
using Depot.Core.Uploads;
using Depot.Protocol;
using Depot.Server.Hosting;

namespace Depot.Server.Webhooks;

/// <summary>
/// The synchronous decision webhook (<c>upload.proposed</c>): POSTs each proposed upload to an endpoint and follows its
/// answer, <c>{"allow":true|false,"reason":"..","key":".."}</c>. Fails closed: no 2xx answer with that JSON within
/// <see cref="WebhookDeliveryOptions.DecisionTimeout"/> throws, and the upload is refused.
/// </summary>
internal sealed class DecisionWebhookPolicy(WebhookEndpoint endpoint, WebhookSender sender, DepotServerOptions options, TimeProvider time) : IUploadPolicy
{
    private const int MaxAnswerBytes = 64 << 10;

    public async ValueTask<UploadDecision> DecideAsync(UploadProposal proposal, CancellationToken cancellationToken)
    {
        var deliveryId = UploadEventPublisher.NewDeliveryId();
        var body = JsonSerializer.Serialize(new WebhookEventDto
        {
            Event = WebhookEvents.UploadProposed,
            DeliveryId = deliveryId,
            Time = time.GetUtcNow(),
            Identity = proposal.Identity,
            Bucket = proposal.Bucket,
            Key = proposal.Key,
            Size = proposal.Length,
            Sha256 = proposal.Sha256,
            Md5 = proposal.Md5,
            ContentType = proposal.ContentType,
            Metadata = proposal.Metadata.Count == 0 ? null : proposal.Metadata,
            Protocol = proposal.Protocol,
            ClientName = proposal.ClientName,
        }, DepotJson.Wire.WebhookEventDto);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.WebhookDelivery.DecisionTimeout);
        WebhookDecisionDto? answer;
        try
        {
            using var response = await sender.SendAsync(endpoint, WebhookEvents.UploadProposed, deliveryId, body, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                throw new WebhookDecisionException($"The decision webhook answered HTTP {(int)response.StatusCode}.");
            }

            if (response.Content.Headers.ContentLength > MaxAnswerBytes)
            {
                throw new WebhookDecisionException("The decision webhook's answer is too long.");
            }

            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            answer = await JsonSerializer.DeserializeAsync(stream, DepotJson.Wire.WebhookDecisionDto, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new WebhookDecisionException($"The decision webhook did not answer within {options.WebhookDelivery.DecisionTimeout.TotalSeconds:0.###} s.");
        }
        catch (JsonException e)
        {
            throw new WebhookDecisionException("The decision webhook's answer is not {\"allow\":true|false,...}.", e);
        }

        if (answer is null)
        {
            throw new WebhookDecisionException("The decision webhook answered null.");
        }

        if (!answer.Allow)
        {
            return UploadDecision.Reject(string.IsNullOrWhiteSpace(answer.Reason) ? "Refused by the upload decision webhook." : answer.Reason);
        }

        return string.IsNullOrEmpty(answer.Key) ? UploadDecision.Allow : UploadDecision.AllowAt(answer.Key);
    }

    public ValueTask CompletedAsync(UploadCompleted completed, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask CancelledAsync(UploadCancelled cancelled, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>A decision webhook gave no usable answer (the upload is refused).</summary>
public sealed class WebhookDecisionException(string message, Exception? inner = null) : Exception(message, inner);
