using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Depot.Client.Transport;

/// <summary>
/// Sends requests to the first server that answers, with pooled connections, the API key, TLS pinning, and retries
/// with backoff. One instance per <see cref="DepotClient"/>; thread-safe.
/// </summary>
internal sealed class DepotTransport : IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri[] _servers;
    private readonly DepotClientOptions _options;
    private readonly AuthenticationHeaderValue? _authorization;
    private int _current;

    public DepotTransport(DepotClientOptions options)
    {
        if (options.Servers.Count == 0)
        {
            throw new ArgumentException("DepotClientOptions.Servers needs at least one server URL (e.g. http://127.0.0.1:8080).", nameof(options));
        }

        _options = options;
        _servers = options.Servers.Select(NormalizeBase).ToArray();
        _authorization = options.ApiKey is { Length: > 0 } key ? new AuthenticationHeaderValue("Bearer", key) : null;
        var pin = options.CertificateFingerprint is { } fingerprint ? ParseFingerprint(fingerprint) : null;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = options.ConnectTimeout,
            MaxConnectionsPerServer = Math.Max(1, options.MaxConnectionsPerServer),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            EnableMultipleHttp2Connections = true,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    pin is null ? errors == SslPolicyErrors.None : certificate is not null && MatchesPin(certificate, pin),
            },
        };
        _http = new HttpClient(handler, disposeHandler: true)
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = options.HttpVersion,
            DefaultVersionPolicy = options.HttpVersionPolicy,
        };
        _http.DefaultRequestHeaders.UserAgent.TryParseAdd(options.UserAgent);
    }

    public DepotClientOptions Options => _options;

    /// <summary>The server requests go to now.</summary>
    public Uri CurrentServer => _servers[Volatile.Read(ref _current) % _servers.Length];

    /// <summary>
    /// Sends the request, retrying transient failures as <see cref="RetryOptions"/> allows, and returns the answer,
    /// which may be an error status (map it with <see cref="EnsureSuccessAsync"/>). Throws
    /// <see cref="DepotUnavailableException"/> when no attempt got an answer.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(DepotRequest request, CancellationToken cancellationToken)
    {
        var attempts = Math.Max(1, _options.Retry.MaxAttempts);
        Exception? lastFailure = null;
        var timedOut = false;
        for (var attempt = 1; ; attempt++)
        {
            if (attempt > 1)
            {
                await Task.Delay(_options.Retry.DelayBefore(attempt), _options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }

            var serverIndex = Volatile.Read(ref _current);
            var server = _servers[serverIndex % _servers.Length];
            using var message = new HttpRequestMessage(request.Method, new Uri(server.AbsoluteUri + request.PathAndQuery.TrimStart('/'),
                new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
            if (_authorization is not null)
            {
                message.Headers.Authorization = _authorization;
            }

            request.Headers?.Invoke(message);
            using var headersTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (request.StreamingContent is { } streaming)
            {
                var watch = new TransferWatch(headersTimeout, _options.StallTimeout, _options.Timeout);
                message.Content = streaming(watch);
                watch.Touch();
            }
            else
            {
                if (request.Content is { } content)
                {
                    message.Content = content();
                }

                headersTimeout.CancelAfter(_options.Timeout);
            }
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(message, request.Completion, headersTimeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                timedOut = true;
                lastFailure = null;
                if (!request.Idempotent || attempt >= attempts)
                {
                    break;
                }

                FailOver(serverIndex);
                continue;
            }
            catch (Exception e) when (e is HttpRequestException or SocketException or IOException && !cancellationToken.IsCancellationRequested)
            {
                // HttpClient sometimes lets a bare SocketException/IOException through (a reset right after connect).
                timedOut = false;
                lastFailure = e;
                var neverSent = IsConnectFailure(e);
                if (neverSent || _servers.Length > 1)
                {
                    FailOver(serverIndex);
                }

                if ((!neverSent && !request.Idempotent) || attempt >= attempts)
                {
                    break;
                }

                continue;
            }

            if (request.IsExpected?.Invoke(response) != true && IsRetryableStatus(response.StatusCode, request.Idempotent) && attempt < attempts)
            {
                if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout)
                {
                    FailOver(serverIndex);
                }

                var retryAfter = response.Headers.RetryAfter?.Delta;
                response.Dispose();
                if (retryAfter is { } wait && wait > TimeSpan.Zero && wait <= _options.Retry.MaxDelay)
                {
                    await Task.Delay(wait, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            return response;
        }

        var where = string.Join(", ", _servers.Select(s => s.GetLeftPart(UriPartial.Authority)));
        return timedOut
            ? throw new DepotUnavailableException(ClientErrorCodes.Timeout, 0,
                (request.StreamingContent is null
                    ? $"{request.What}: no answer within {_options.Timeout.TotalSeconds:0.#} s from {where}. Check that the server is running and reachable, or raise DepotClientOptions.Timeout."
                    : $"{request.What}: the transfer to {where} stalled (no byte moved for {_options.StallTimeout.TotalSeconds:0.#} s, or no answer within {_options.Timeout.TotalSeconds:0.#} s after the body). Check the network, or raise DepotClientOptions.StallTimeout."))
            : throw new DepotUnavailableException(ClientErrorCodes.Network, 0,
                $"{request.What}: could not reach {where} ({Describe(lastFailure)}). Check the URL (DEPOT_URL) and that the server is running.", lastFailure);
    }

    /// <summary>Sends the request and throws the mapped exception unless the answer is a success.</summary>
    public async Task<HttpResponseMessage> SendCheckedAsync(DepotRequest request, CancellationToken cancellationToken)
    {
        var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, request.What, cancellationToken).ConfigureAwait(false);
        return response;
    }

    /// <summary>Throws the typed exception for an error answer (and disposes it); returns for a success.</summary>
    public static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotModified)
        {
            return;
        }

        using (response)
        {
            throw await ProblemMapper.FromResponseAsync(response, what, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Moves to the next server, unless another caller already did after the same failure.</summary>
    private void FailOver(int failedIndex)
    {
        if (_servers.Length > 1)
        {
            Interlocked.CompareExchange(ref _current, (failedIndex + 1) % _servers.Length, failedIndex);
        }
    }

    /// <summary>429 and 503 say the request was not processed (RFC 9110 §15.6.4; Depot answers them before acting), so
    /// any request may be repeated; 500, 502 and 504 leave it unknown, so only idempotent ones are.</summary>
    private static bool IsRetryableStatus(HttpStatusCode status, bool idempotent) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable
        || (idempotent && status is HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout or HttpStatusCode.InternalServerError);

    /// <summary>True when the connection could not be opened, so the request never reached a server.</summary>
    private static bool IsConnectFailure(Exception e) =>
        e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }
        || (e as SocketException ?? e.InnerException as SocketException) is
        { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostNotFound };

    private static string Describe(Exception? e) => e switch
    {
        null => "no answer",
        HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } =>
            "TLS failed: the certificate is not trusted or does not match DepotClientOptions.CertificateFingerprint",
        HttpRequestException h when h.InnerException is SocketException s => s.SocketErrorCode.ToString(),
        HttpRequestException h => h.HttpRequestError.ToString(),
        SocketException s => s.SocketErrorCode.ToString(),
        _ => e.GetType().Name,
    };

    private static Uri NormalizeBase(Uri uri)
    {
        if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"A server URL must be absolute http:// or https://, not '{uri}'.", nameof(uri));
        }

        var text = uri.GetLeftPart(UriPartial.Path);
        return new Uri(text.EndsWith('/') ? text : text + "/");
    }

    internal static byte[] ParseFingerprint(string fingerprint)
    {
        var hex = fingerprint.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal);
        try
        {
            var bytes = Convert.FromHexString(hex);
            return bytes.Length == 32 ? bytes : throw new FormatException();
        }
        catch (FormatException)
        {
            throw new ArgumentException("CertificateFingerprint must be a SHA-256: 64 hex digits, colons allowed.", nameof(fingerprint));
        }
    }

    private static bool MatchesPin(X509Certificate certificate, byte[] pin) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), pin);

    public void Dispose() => _http.Dispose();
}
