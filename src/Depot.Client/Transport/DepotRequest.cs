namespace Depot.Client.Transport;

/// <summary>One logical request, which the transport may send several times (retries, failover). Everything that
/// varies per attempt is a factory.</summary>
internal sealed class DepotRequest(HttpMethod method, string pathAndQuery, string what)
{
    public HttpMethod Method { get; } = method;

    /// <summary>Path and query relative to the server root, starting with <c>/</c>.</summary>
    public string PathAndQuery { get; } = pathAndQuery;

    /// <summary>What the request is about, for messages (<c>GET default/a.txt</c>). Never contains the key.</summary>
    public string What { get; } = what;

    /// <summary>Builds the body of one attempt; null for no body. Called again for every attempt.</summary>
    public Func<HttpContent>? Content { get; init; }

    /// <summary>Builds a streamed body of one attempt. The body calls the given watch whenever bytes move, so the
    /// attempt is abandoned only when it stalls for <see cref="DepotClientOptions.StallTimeout"/>, however long the
    /// whole body takes. Used instead of <see cref="Content"/>.</summary>
    public Func<TransferWatch, HttpContent>? StreamingContent { get; init; }

    /// <summary>Adds headers to one attempt's message.</summary>
    public Action<HttpRequestMessage>? Headers { get; init; }

    /// <summary>Whether repeating the request after it may have reached the server is harmless.</summary>
    public bool Idempotent { get; init; }

    /// <summary>Read only the headers before returning (streamed answers).</summary>
    public HttpCompletionOption Completion { get; init; } = HttpCompletionOption.ResponseContentRead;

    /// <summary>Statuses that are answers the caller handles, not failures to retry (e.g. 404 on an existence check).</summary>
    public Func<HttpResponseMessage, bool>? IsExpected { get; init; }
}
