using System.Net.Http.Headers;
using System.Text;
using Depot.Server.Hosting;

namespace Depot.Server.Webhooks;

/// <summary>Sends signed webhook POSTs (one pooled client for every endpoint; redirects are not followed, so a 3xx
/// counts as a failure rather than sending the body somewhere else).</summary>
public sealed class WebhookSender : IDisposable
{
    private readonly HttpClient _client = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    })
    {
        // Each call has its own timeout (notifications and decisions differ).
        Timeout = System.Threading.Timeout.InfiniteTimeSpan,
    };

    private readonly TimeProvider _time;

    public WebhookSender(TimeProvider time)
    {
        _time = time;
        _client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Depot", NodeInfo.Version));
    }

    /// <summary>POSTs <paramref name="body"/> to the endpoint, signed now; the response's headers have arrived when it
    /// returns (a body is read with the same token, so a timeout set on it covers the whole answer).</summary>
    /// <exception cref="HttpRequestException">The endpoint cannot be reached.</exception>
    /// <exception cref="OperationCanceledException">Timed out, or <paramref name="cancellationToken"/> fired.</exception>
    public async Task<HttpResponseMessage> SendAsync(WebhookEndpoint endpoint, string kind, string deliveryId, string body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(WebhookHeaders.Event, kind);
        request.Headers.Add(WebhookHeaders.Delivery, deliveryId);
        request.Headers.Add(WebhookHeaders.Signature, WebhookSignature.Create(endpoint.Secret, _time.GetUtcNow().ToUnixTimeSeconds(), body));
        return await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    public void Dispose() => _client.Dispose();
}

/// <summary>Wakes the delivery loop when events are queued (a missed wake-up only costs one poll interval).</summary>
public sealed class WebhookSignal : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Notify()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: the loop will look at the outbox anyway.
        }
    }

    /// <summary>Waits for a signal or <paramref name="timeout"/>.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _signal.Dispose();
}
