using Depot.Core.Model;

namespace Depot.Server.Hosting;

/// <summary>Everything <c>depot serve</c> can be told. Bound from flags, environment or a JSON config file.</summary>
public sealed class DepotServerOptions
{
    /// <summary>The directory served as bucket <c>default</c>; its hidden <c>.depot</c> folder holds the state.</summary>
    public string DataDirectory { get; set; } = "./data";

    /// <summary>Where to listen: <c>HOST:PORT</c> (port 0 picks a free one).</summary>
    public string Listen { get; set; } = "127.0.0.1:8080";

    /// <summary>Further buckets by name; each maps to its own directory. The default bucket may be given here for limits.
    /// Limits a bucket does not set are taken from <see cref="MaxObjectSize"/> and <see cref="MaxKeyLength"/>.</summary>
    public Dictionary<string, BucketConfig> Buckets { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Limits applied to buckets that do not set their own (including <c>default</c>).</summary>
    public long MaxObjectSize { get; set; } = 1L << 40;

    public int MaxKeyLength { get; set; } = 1024;

    /// <summary>The admin key (from <c>DEPOT_ADMIN_KEY</c> or <c>--admin-key</c>). When null and no admin key exists yet,
    /// one is generated, stored hashed and printed once.</summary>
    public string? AdminKey { get; set; }

    /// <summary>Let requests without a key read every bucket. Off unless asked for explicitly.</summary>
    public bool AnonymousRead { get; set; }

    /// <summary>Requests per second per API key (0 = unlimited). A key's own limit overrides it.</summary>
    public int RateLimitPerSecond { get; set; }

    /// <summary>PEM or PFX certificate for HTTPS.</summary>
    public string? TlsCertificatePath { get; set; }

    /// <summary>PEM private key when <see cref="TlsCertificatePath"/> is a PEM certificate without its key.</summary>
    public string? TlsKeyPath { get; set; }

    /// <summary>Password of a PFX certificate.</summary>
    public string? TlsCertificatePassword { get; set; }

    /// <summary>Generate (once, then reuse from the state folder) a self-signed certificate.</summary>
    public bool TlsSelfSigned { get; set; }

    /// <summary>Describe (hash) files already in the buckets in the background at start.</summary>
    public bool ScanOnStart { get; set; } = true;

    /// <summary>Log one line per request (method, path, status, length, time, key id; never headers or query strings).
    /// Off saves 10–15 % of the CPU of a small GET (docs/benchmarks.md).</summary>
    public bool AccessLog { get; set; } = true;

    /// <summary>How often expired objects (key-value TTLs) are looked for and deleted. They are invisible from the moment
    /// they expire; this only bounds how long their bytes stay on disk.</summary>
    public TimeSpan ExpirySweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an upload session may go untouched before it expires and its bytes are reclaimed.</summary>
    public TimeSpan UploadSessionExpiry { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often expired upload sessions are looked for.</summary>
    public TimeSpan UploadSweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The tus endpoint at <c>/tus/</c>: default bucket and maximum upload size.</summary>
    public Tus.TusOptions Tus { get; set; } = new();

    /// <summary>Metadata limits applied to buckets that do not set their own.</summary>
    public int MaxMetadataNameBytes { get; set; } = 64;

    public int MaxMetadataValueBytes { get; set; } = 256;

    /// <summary>Chunk-size range for upload sessions, applied to buckets that do not set their own (see
    /// <see cref="BucketOptions.MinChunkSize"/>).</summary>
    public long MinChunkSize { get; set; } = 1;

    public long MaxChunkSize { get; set; } = 1L << 30;

    /// <summary>The IndexedCP door (<c>POST /upload</c>): target bucket and prefix, name mapping, completion (docs/indexedcp.md).</summary>
    public IndexedCp.IndexedCpOptions IndexedCp { get; set; } = new();

    /// <summary>Endpoints that receive upload events as signed webhook POSTs (docs/uploads-policy.md). <c>depot serve
    /// --webhook URL</c> adds one with the secret from <c>DEPOT_WEBHOOK_SECRET</c>.</summary>
    public List<Webhooks.WebhookEndpoint> Webhooks { get; set; } = [];

    /// <summary>Retries, timeouts and polling of webhook delivery.</summary>
    public Webhooks.WebhookDeliveryOptions WebhookDelivery { get; set; } = new();

    /// <summary>Most files in one manifest (<c>POST /v1/_manifests</c>).</summary>
    public int MaxManifestFiles { get; set; } = 10_000;

    /// <summary>Adds to the server's services after its own (upload policies: <c>services.AddDepot().AddUploadPolicy&lt;T&gt;()</c>).
    /// Code only: configuration files never set it.</summary>
    public Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? ConfigureServices { get; set; }

    /// <summary>How long shutdown waits for requests in flight.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public string StateDirectory => Path.Combine(Path.GetFullPath(DataDirectory), ".depot");

    /// <summary>The server's clock (expiry of keys and share links, object times). Tests substitute a controllable one;
    /// internal, so configuration never binds it.</summary>
    internal TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Every bucket with its limits resolved; <c>default</c> is <see cref="DataDirectory"/>.</summary>
    public Dictionary<string, BucketOptions> ResolveBuckets()
    {
        var result = new Dictionary<string, BucketOptions>(StringComparer.Ordinal);
        foreach (var (name, bucket) in Buckets)
        {
            result[name] = Resolve(bucket);
        }

        var main = Buckets.TryGetValue(Core.Paths.BucketName.Default, out var configured) ? Resolve(configured) : Resolve(new BucketConfig());
        main.Path = Path.GetFullPath(DataDirectory);
        result[Core.Paths.BucketName.Default] = main;
        return result;
    }

    private BucketOptions Resolve(BucketConfig bucket) => new()
    {
        Path = string.IsNullOrEmpty(bucket.Path) ? "" : Path.GetFullPath(bucket.Path),
        MaxObjectSize = bucket.MaxObjectSize ?? MaxObjectSize,
        MaxKeyLength = bucket.MaxKeyLength ?? MaxKeyLength,
        MaxMetadataNameBytes = bucket.MaxMetadataNameBytes ?? MaxMetadataNameBytes,
        MaxMetadataValueBytes = bucket.MaxMetadataValueBytes ?? MaxMetadataValueBytes,
        MinChunkSize = bucket.MinChunkSize ?? MinChunkSize,
        MaxChunkSize = bucket.MaxChunkSize ?? MaxChunkSize,
        ReadOnly = bucket.ReadOnly,
    };
}

/// <summary>A bucket as configured: unset limits fall back to the server-wide ones.</summary>
public sealed class BucketConfig
{
    public string? Path { get; set; }

    public long? MaxObjectSize { get; set; }

    public int? MaxMetadataNameBytes { get; set; }

    public int? MaxMetadataValueBytes { get; set; }

    public int? MaxKeyLength { get; set; }

    public long? MinChunkSize { get; set; }

    public long? MaxChunkSize { get; set; }

    public bool ReadOnly { get; set; }
}
