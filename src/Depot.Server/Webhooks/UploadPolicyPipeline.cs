using Depot.Core.Uploads;
using Depot.Core.Uploads.Manifests;
using Depot.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Webhooks;

/// <summary>
/// The one <see cref="IUploadPolicy"/> the upload engine sees: the policies registered through
/// <c>AddDepot().AddUploadPolicy(..)</c> in registration order, then the <c>upload.proposed</c> decision webhooks, and after
/// the fact the webhook outbox and the manifests.
/// </summary>
/// <remarks>
/// <para>Deciding: every policy must allow. Each sees the key chosen so far (a renaming policy's key is what the next one is
/// asked about), and the last one that picks a key wins. The first refusal ends the round with its reason. A policy that
/// throws (or a decision webhook that does not answer) refuses the upload: the failure is logged and rethrown, and the
/// engine answers <c>unavailable</c> (fail closed).</para>
/// <para>Notifications go to every policy, then to the outbox (<c>upload.completed</c>, <c>upload.cancelled</c>), then
/// to the upload's manifest, if any. A failure in any of them is logged and never undoes or fails the upload.</para>
/// </remarks>
public sealed partial class UploadPolicyPipeline : IUploadPolicy
{
    private readonly Lazy<IReadOnlyList<NamedPolicy>> _policies;
    private readonly UploadEventPublisher _publisher;
    private readonly IUploadSessionStore _sessions;
    private readonly ManifestTracker _manifests;
    private readonly ILogger<UploadPolicyPipeline> _logger;

    public UploadPolicyPipeline(
        IServiceProvider services,
        DepotServerOptions options,
        UploadEventPublisher publisher,
        IUploadSessionStore sessions,
        ManifestTracker manifests,
        ILogger<UploadPolicyPipeline> logger)
    {
        _publisher = publisher;
        _sessions = sessions;
        _manifests = manifests;
        _logger = logger;
        // Resolved at first use, not when the engine is built: a policy may itself depend on the engine.
        _policies = new Lazy<IReadOnlyList<NamedPolicy>>(() =>
        [
            .. services.GetServices<UploadPolicyRegistration>().Select(r => r.Resolve(services)).Select(p => new NamedPolicy(p, p.GetType().FullName ?? p.GetType().Name)),
            .. options.Webhooks.Where(e => e.Wants(WebhookEvents.UploadProposed)).Select(e => new NamedPolicy(
                new DecisionWebhookPolicy(e, services.GetRequiredService<WebhookSender>(), options, services.GetRequiredService<TimeProvider>()),
                "decision webhook " + e.Redacted)),
        ]);
    }

    /// <summary>The policies asked, in order.</summary>
    public IReadOnlyList<IUploadPolicy> Policies => [.. _policies.Value.Select(p => p.Policy)];

    public async ValueTask<UploadDecision> DecideAsync(UploadProposal proposal, CancellationToken cancellationToken)
    {
        var key = proposal.Key;
        foreach (var (policy, name) in _policies.Value)
        {
            UploadDecision decision;
            try
            {
                decision = await policy.DecideAsync(proposal with { Key = key }, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e)
            {
                LogDecideFailed(_logger, e, name, proposal.Identity, proposal.Protocol, proposal.Bucket);
                throw;
            }

            if (!decision.Allowed)
            {
                LogRefused(_logger, name, proposal.Identity, proposal.Protocol, proposal.Bucket, decision.Reason ?? "");
                return decision;
            }

            key = decision.Key ?? key;
        }

        return key is not null && key != proposal.Key ? UploadDecision.AllowAt(key) : UploadDecision.Allow;
    }

    public async ValueTask CompletedAsync(UploadCompleted completed, CancellationToken cancellationToken)
    {
        var manifestId = await NotifyEveryoneAsync("completed", completed.SessionId, completed.Protocol, p => p.CompletedAsync(completed, cancellationToken), m => _publisher.UploadCompletedAsync(completed, m));
        if (manifestId is not null)
        {
            try
            {
                await _manifests.SessionCompletedAsync(manifestId, completed.SessionId, CancellationToken.None);
            }
            catch (Exception e)
            {
                // The next read of the manifest catches up with the completion.
                LogNotifyFailed(_logger, e, "manifest " + manifestId, "completed", completed.SessionId);
            }
        }
    }

    public async ValueTask CancelledAsync(UploadCancelled cancelled, CancellationToken cancellationToken) =>
        await NotifyEveryoneAsync("cancelled", cancelled.SessionId, cancelled.Protocol, p => p.CancelledAsync(cancelled, cancellationToken), m => _publisher.UploadCancelledAsync(cancelled, m));

    /// <summary>Tells every policy, then queues the webhook events; a failure of one is logged and never stops the others
    /// (nor fails the upload). Returns the session's manifest, if any.</summary>
    private async Task<string?> NotifyEveryoneAsync(string what, string sessionId, string protocol, Func<IUploadPolicy, ValueTask> notify, Func<string?, Task> publish)
    {
        foreach (var (policy, name) in _policies.Value)
        {
            try
            {
                await notify(policy);
            }
            catch (Exception e)
            {
                LogNotifyFailed(_logger, e, name, what, sessionId);
            }
        }

        var manifestId = await FindManifestAsync(protocol, sessionId);
        try
        {
            await publish(manifestId);
        }
        catch (Exception e)
        {
            LogNotifyFailed(_logger, e, "webhook outbox", what, sessionId);
        }

        return manifestId;
    }

    /// <summary>The manifest a session belongs to (only manifest sessions have one).</summary>
    private async Task<string?> FindManifestAsync(string protocol, string sessionId)
    {
        if (protocol != UploadProtocols.Manifest)
        {
            return null;
        }

        try
        {
            return (await _sessions.GetSessionAsync(sessionId, CancellationToken.None))?.ManifestId;
        }
        catch (Exception e)
        {
            LogNotifyFailed(_logger, e, "session store", "lookup", sessionId);
            return null;
        }
    }

    [LoggerMessage(EventId = 70, Level = LogLevel.Error, Message = "Upload policy {Policy} failed to decide on an upload by {Identity} ({Protocol}, bucket {Bucket}); the upload is refused")]
    private static partial void LogDecideFailed(ILogger logger, Exception exception, string policy, string identity, string protocol, string bucket);

    [LoggerMessage(EventId = 71, Level = LogLevel.Information, Message = "Upload policy {Policy} refused an upload by {Identity} ({Protocol}, bucket {Bucket}): {Reason}")]
    private static partial void LogRefused(ILogger logger, string policy, string identity, string protocol, string bucket, string reason);

    [LoggerMessage(EventId = 72, Level = LogLevel.Warning, Message = "{Listener} failed on the {Event} event of upload session {SessionId}; the upload stands")]
    private static partial void LogNotifyFailed(ILogger logger, Exception exception, string listener, string @event, string sessionId);
}

/// <summary>A policy with the name logs give it.</summary>
internal readonly record struct NamedPolicy(IUploadPolicy Policy, string Name);

/// <summary>One policy added through <c>AddDepot().AddUploadPolicy(..)</c>, in the order added.</summary>
internal sealed class UploadPolicyRegistration(Func<IServiceProvider, IUploadPolicy> factory)
{
    private IUploadPolicy? _policy;

    public IUploadPolicy Resolve(IServiceProvider services) => _policy ??= factory(services);
}
