using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Depot.Client.Transfers;
using Depot.Client.Transport;
using Depot.Protocol;

namespace Depot.Client;

/// <summary>
/// The Depot client: files, directories, sync, key-value entries, resumable and verified transfers, remote streams.
/// </summary>
/// <remarks>
/// <para>Thread-safe and meant to be long-lived: create one per set of servers and share it (it pools connections).
/// Dispose it when the application stops.</para>
/// <para>Every call is asynchronous and takes a <see cref="CancellationToken"/>; transfers take an
/// <see cref="IProgress{T}"/>. No call holds a whole file in memory unless it returns or takes one as bytes.
/// Failures are <see cref="DepotException"/>s carrying the server's stable error code; transient ones (network,
/// 429, 503) are retried first, as <see cref="DepotClientOptions.Retry"/> says, for requests that are safe to repeat.</para>
/// </remarks>
public sealed partial class DepotClient : IAsyncDisposable, IDisposable
{
    private readonly DepotTransport _transport;
    private readonly Lazy<UploadStateStore?> _uploadState;
    private int _disposed;

    /// <summary>A client for the servers and key in <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">No server URL, a URL that is not http(s), or a malformed certificate fingerprint.</exception>
    public DepotClient(DepotClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _transport = new DepotTransport(options);
        _uploadState = new Lazy<UploadStateStore?>(
            () => options.StateDirectory is { } dir ? UploadStateStore.Open(dir) : null, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>A client for one server URL (e.g. <c>http://127.0.0.1:8080</c>) and an optional API key.</summary>
    public DepotClient(string url, string? apiKey = null)
        : this(DepotClientOptions.For(url, apiKey))
    {
    }

    /// <summary>The options the client was created with.</summary>
    public DepotClientOptions Options { get; }

    /// <summary>The server requests go to now (the first one that answered).</summary>
    public Uri CurrentServer => _transport.CurrentServer;

    internal DepotTransport Transport => _transport;

    internal UploadStateStore? UploadState => _uploadState.Value;

    /// <summary>Asks the server whether it is up (<c>GET /healthz</c>, no key needed).</summary>
    /// <returns>The server's status (<c>ok</c>) and version.</returns>
    public async Task<HealthDto> GetHealthAsync(CancellationToken cancellationToken = default)
    {
        var request = new DepotRequest(HttpMethod.Get, DepotRoutes.Health, "GET /healthz") { Idempotent = true };
        return await GetJsonAsync(request, DepotJson.Default.HealthDto, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes pooled connections and the upload-state database.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _transport.Dispose();
        if (_uploadState.IsValueCreated)
        {
            _uploadState.Value?.Dispose();
        }
    }

    /// <summary>Closes pooled connections and the upload-state database.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    internal async Task<T> GetJsonAsync<T>(DepotRequest request, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var response = await _transport.SendCheckedAsync(request, cancellationToken).ConfigureAwait(false);
        return await ReadJsonAsync(response, type, request.What, cancellationToken).ConfigureAwait(false);
    }

    internal static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, string what, CancellationToken cancellationToken)
    {
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return await JsonSerializer.DeserializeAsync(stream, type, cancellationToken).ConfigureAwait(false)
                    ?? throw new JsonException("null");
            }
        }
        catch (JsonException e)
        {
            throw new DepotException(ClientErrorCodes.Protocol, response.StatusCode,
                $"{what}: the answer was not the JSON Depot sends ({e.Message}). Check that the URL points at a Depot server.", e);
        }
    }

    internal static HttpContent JsonContent<T>(T value, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, type));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return content;
    }

    internal static string ObjectPath(DepotPath path) => DepotRoutes.Object(path.Bucket, path.Key);

    /// <summary>The URL path of a directory: <c>/v1/{bucket}/{dir}/</c>.</summary>
    internal static string DirectoryPath(DepotPath path) =>
        path.IsRoot ? $"{DepotRoutes.ApiPrefix}/{Uri.EscapeDataString(path.Bucket)}/" : ObjectPath(path) + "/";
}
