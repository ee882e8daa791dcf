namespace Depot.Client;

/// <summary>How a <see cref="DepotClient"/> connects, authenticates, retries and transfers. Read once, when the client
/// is created; later changes have no effect.</summary>
public sealed class DepotClientOptions
{
    /// <summary>The servers, in order of preference (e.g. <c>http://127.0.0.1:8080</c>). Requests go to the first
    /// that answers; when it cannot be reached the client fails over to the next and stays there (FastDFS's several
    /// trackers). At least one is needed.</summary>
    public IList<Uri> Servers { get; } = new List<Uri>();

    /// <summary>The API key (<c>dpk_…</c>), sent as a bearer token; null for anonymous requests (servers run with
    /// <c>--anonymous-read</c>). Never logged, never part of an exception message.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Time allowed for an answer to start arriving (headers), per attempt. Transfers are not limited as a
    /// whole: they fail over only when stalled for <see cref="StallTimeout"/>. Default 100 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>Time allowed to open a TCP (and TLS) connection. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A transfer attempt that moves no byte for this long is abandoned and, if attempts remain, resumed.
    /// Default 30 s.</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Pins the server's TLS certificate by the SHA-256 of its DER bytes (hex, colons optional, as
    /// <c>depot serve --tls-self-signed</c> and <c>depot tls fingerprint</c> print it). When set, exactly that
    /// certificate is accepted, whoever issued it; when null, the certificate must be valid for the system's trust
    /// store.</summary>
    public string? CertificateFingerprint { get; set; }

    /// <summary>The HTTP version to ask for: 1.1 (default) or 2.0. HTTP/2 needs TLS (ALPN); over plain HTTP the
    /// client falls back to 1.1 under the default <see cref="HttpVersionPolicy"/>.</summary>
    public Version HttpVersion { get; set; } = System.Net.HttpVersion.Version11;

    /// <summary>Whether the client may use another HTTP version than <see cref="HttpVersion"/>. Default: the asked
    /// version or lower.</summary>
    public HttpVersionPolicy HttpVersionPolicy { get; set; } = HttpVersionPolicy.RequestVersionOrLower;

    /// <summary>Connections kept per server (pooled, reused). Parallel transfers use up to this many. Default 16.</summary>
    public int MaxConnectionsPerServer { get; set; } = 16;

    /// <summary>Retry of transient failures (network, timeouts, 429, 503) for requests that are safe to repeat.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>Uploads of at least this many bytes go through a resumable upload session (parallel chunks, resume
    /// after a crash of this process); smaller ones are one streamed PUT. Default 64 MiB.</summary>
    public long ResumableThreshold { get; set; } = 64L * 1024 * 1024;

    /// <summary>The chunk size of upload sessions. Each chunk in flight holds one buffer of this size. Default 8 MiB.</summary>
    public int ChunkSize { get; set; } = 8 * 1024 * 1024;

    /// <summary>Chunks of one upload sent at the same time. Default 4.</summary>
    public int ParallelChunks { get; set; } = 4;

    /// <summary>Where the client keeps the state of resumable uploads (a SQLite file), so that an upload interrupted
    /// by a crash of this process resumes on the next call for the same file. Default: <c>depot</c> under the user's
    /// local application data folder (<c>~/.local/share/depot</c> on Linux). Null disables persistence.</summary>
    public string? StateDirectory { get; set; } = DefaultStateDirectory;

    /// <summary>The clock used for backoff delays and rates (tests inject a manual one).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The <c>User-Agent</c> sent with every request.</summary>
    public string UserAgent { get; set; } = "Depot.Client/" + typeof(DepotClientOptions).Assembly.GetName().Version?.ToString(3);

    /// <summary>The default state directory: <c>{LocalApplicationData}/depot</c>.</summary>
    public static string DefaultStateDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "depot");

    /// <summary>Options for one server URL and an optional key.</summary>
    public static DepotClientOptions For(string url, string? apiKey = null)
    {
        var options = new DepotClientOptions { ApiKey = apiKey };
        options.Servers.Add(new Uri(url, UriKind.Absolute));
        return options;
    }
}

/// <summary>Retry with exponential backoff and jitter. Only requests that are safe to repeat are retried: reads,
/// whole-object PUTs whose body can be sent again, chunks of upload sessions (the server recognises a chunk it
/// already has), deletes. Appends and other non-idempotent changes are retried only when the server provably did not
/// act on them: the connection could not be opened, or the answer was 429 or 503.</summary>
public sealed class RetryOptions
{
    /// <summary>Attempts per request, the first included. 1 disables retries. Default 6.</summary>
    public int MaxAttempts { get; set; } = 6;

    /// <summary>The delay before the second attempt; each further one doubles it. Default 200 ms.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest delay between attempts. Default 10 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Randomness of each delay, 0..1: a delay d becomes a random value in [d·(1−Jitter), d]. Spreads out
    /// clients that failed together. Default 0.5.</summary>
    public double Jitter { get; set; } = 0.5;

    internal TimeSpan DelayBefore(int attempt)
    {
        // attempt is the number of the attempt about to be made (2 for the first retry).
        var exponent = Math.Min(attempt - 2, 30);
        var delay = Math.Min(MaxDelay.TotalMilliseconds, InitialDelay.TotalMilliseconds * Math.Pow(2, exponent));
        var jitter = Math.Clamp(Jitter, 0, 1);
        return TimeSpan.FromMilliseconds(delay * (1 - (jitter * Random.Shared.NextDouble())));
    }
}
