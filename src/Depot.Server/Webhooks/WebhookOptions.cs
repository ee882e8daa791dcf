namespace Depot.Server.Webhooks;

/// <summary>The events a webhook endpoint can receive.</summary>
public static class WebhookEvents
{
    /// <summary>An upload was published (any door).</summary>
    public const string UploadCompleted = "upload.completed";

    /// <summary>An upload was aborted or expired unfinished.</summary>
    public const string UploadCancelled = "upload.cancelled";

    /// <summary>The last accepted file of a manifest was uploaded.</summary>
    public const string ManifestCompleted = "manifest.completed";

    /// <summary>Synchronous decision: the endpoint is asked, before any byte moves, whether an upload may go ahead and
    /// where. Only endpoints that list it explicitly get it; an endpoint that fails to answer refuses the upload.</summary>
    public const string UploadProposed = "upload.proposed";

    /// <summary>The after-the-fact events, delivered at least once through the outbox (an endpoint that lists no events
    /// gets these).</summary>
    public static IReadOnlyList<string> Notifications { get; } = [UploadCompleted, UploadCancelled, ManifestCompleted];

    public static IReadOnlyList<string> All { get; } = [UploadCompleted, UploadCancelled, ManifestCompleted, UploadProposed];
}

/// <summary>The headers of a webhook POST.</summary>
public static class WebhookHeaders
{
    /// <summary>The event, e.g. <c>upload.completed</c>.</summary>
    public const string Event = "X-Depot-Event";

    /// <summary>The delivery id, the same on every retry.</summary>
    public const string Delivery = "X-Depot-Delivery";

    /// <summary><c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256(secret, "&lt;t&gt;.&lt;body&gt;")&gt;</c>.</summary>
    public const string Signature = "X-Depot-Signature";
}

/// <summary>An endpoint that receives webhook POSTs.</summary>
public sealed class WebhookEndpoint
{
    /// <summary>Absolute http(s) URL.</summary>
    public string Url { get; set; } = "";

    /// <summary>The HMAC key of the signatures (keep it out of command lines: <c>DEPOT_WEBHOOK_SECRET</c>). Never logged.</summary>
    public string Secret { get; set; } = "";

    /// <summary>The events to send (<see cref="WebhookEvents"/>); empty means every notification (not
    /// <c>upload.proposed</c>, which must be asked for).</summary>
    public List<string> Events { get; set; } = [];

    internal bool Wants(string kind) => Events.Count == 0 ? WebhookEvents.Notifications.Contains(kind) : Events.Contains(kind, StringComparer.Ordinal);

    /// <summary>The URL for logs: scheme, host, port and path; never user info or the query (either may hold a token).</summary>
    internal string Redacted => Uri.TryCreate(Url, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Authority}{uri.AbsolutePath}" : "(invalid URL)";
}

/// <summary>How webhooks are delivered.</summary>
public sealed class WebhookDeliveryOptions
{
    /// <summary>Attempts per delivery before it is given up (and logged).</summary>
    public int MaxAttempts { get; set; } = 20;

    /// <summary>The wait after the first failure; it doubles after each further one (plus up to 25 % jitter).</summary>
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two attempts.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long one POST may take before it counts as failed.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an <c>upload.proposed</c> endpoint has to answer before the upload is refused.</summary>
    public TimeSpan DecisionTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the outbox is looked at when nothing wakes the sender (new events wake it at once).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Checks the endpoints and these settings; throws <see cref="ArgumentException"/> with what to fix.</summary>
    internal void Validate(IEnumerable<WebhookEndpoint> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            if (!Uri.TryCreate(endpoint.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new ArgumentException($"Webhook URL '{endpoint.Redacted}' is not an absolute http(s) URL.");
            }

            if (string.IsNullOrEmpty(endpoint.Secret))
            {
                throw new ArgumentException($"Webhook {endpoint.Redacted} has no secret (set DEPOT_WEBHOOK_SECRET, or Secret in the config file).");
            }

            foreach (var kind in endpoint.Events.Where(e => !WebhookEvents.All.Contains(e, StringComparer.Ordinal)))
            {
                throw new ArgumentException($"Webhook {endpoint.Redacted}: unknown event '{kind}' (known: {string.Join(", ", WebhookEvents.All)}).");
            }
        }

        if (MaxAttempts < 1 || FirstRetryDelay <= TimeSpan.Zero || MaxRetryDelay < FirstRetryDelay || Timeout <= TimeSpan.Zero
            || DecisionTimeout <= TimeSpan.Zero || PollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("Webhook delivery settings: MaxAttempts >= 1, positive delays and timeouts, MaxRetryDelay >= FirstRetryDelay.");
        }
    }
}
