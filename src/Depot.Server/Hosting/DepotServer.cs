using System.Net;
using Depot.Core.Engine;
using Depot.Core.Paths;
using Depot.Core.Security;
using Depot.Core.Storage;
using Depot.Core.Storage.FileSystem;
using Depot.Server.Auth;
using Depot.Server.Handlers;
using Depot.Server.Http;
using Depot.Storage.Sqlite;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Hosting;

/// <summary>
/// A Depot server on the embedded default (local files + SQLite): what <c>depot serve</c> runs and what tests host
/// in-process on <c>127.0.0.1:0</c>.
/// </summary>
public sealed partial class DepotServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FileStream _stateLock;

    private DepotServer(WebApplication app, FileStream stateLock, string? generatedAdminKey, string? fingerprint)
    {
        _app = app;
        _stateLock = stateLock;
        GeneratedAdminKey = generatedAdminKey;
        TlsFingerprint = fingerprint;
    }

    /// <summary>The admin key generated on this start (print it once), or null.</summary>
    public string? GeneratedAdminKey { get; }

    /// <summary>SHA-256 fingerprint of the TLS certificate, or null without TLS.</summary>
    public string? TlsFingerprint { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The addresses the server listens on (after <see cref="StartAsync"/>).</summary>
    public IReadOnlyList<string> Urls =>
        _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    /// <summary>Opens the state (refusing a data directory another server holds), builds the host, and creates the admin
    /// key if there is none.</summary>
    public static async Task<DepotServer> CreateAsync(DepotServerOptions options, Action<ILoggingBuilder>? logging = null, CancellationToken cancellationToken = default)
    {
        var buckets = options.ResolveBuckets();
        foreach (var (name, bucket) in buckets)
        {
            var valid = BucketName.Validate(name);
            if (!valid.IsSuccess)
            {
                throw new ArgumentException($"Bucket '{name}': {valid.Error!.Message}");
            }

            if (bucket.Path.Length == 0)
            {
                throw new ArgumentException($"Bucket '{name}' needs a directory (Path).");
            }
        }

        Directory.CreateDirectory(options.StateDirectory);
        FileStream stateLock;
        try
        {
            // An exclusive lock (flock) on the state: two servers on one data directory would corrupt nothing in SQLite,
            // but would both sweep each other's staged uploads.
            stateLock = new FileStream(Path.Combine(options.StateDirectory, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"Another Depot server is using {options.StateDirectory}.", e);
        }

        var metadata = new SqliteMetadataStore(Path.Combine(options.StateDirectory, "depot.db"));
        await metadata.InitializeAsync(cancellationToken);
        var blobs = new FileSystemBlobStore(buckets.ToDictionary(b => b.Key, b => b.Value.Path, StringComparer.Ordinal));
        var generated = await EnsureAdminKeyAsync(metadata, options, cancellationToken);
        var certificate = TlsCertificates.Load(options);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        if (logging is not null)
        {
            logging(builder.Logging);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        }

        // ASP.NET's own request lines carry full query strings (future signed links): keep them out whatever else is
        // configured. Depot logs its own line per request without the query.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null; // bucket limits apply instead, before any byte is stored
            kestrel.Limits.MinRequestBodyDataRate = null;
            var endpoint = ParseListen(options.Listen);
            kestrel.Listen(endpoint, listen =>
            {
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
        });

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IMetadataStore>(metadata);
        builder.Services.AddSingleton<IApiKeyStore>(metadata);
        builder.Services.AddSingleton<IBlobStore>(blobs);
        builder.Services.AddSingleton(new BucketRegistry(buckets));
        builder.Services.AddSingleton(sp => new ObjectEngine(blobs, metadata, sp.GetRequiredService<BucketRegistry>(), sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<AccessGuard>();
        builder.Services.AddSingleton<ReadHandlers>();
        builder.Services.AddSingleton<WriteHandlers>();
        builder.Services.AddSingleton<AdminHandlers>();
        if (options.ScanOnStart)
        {
            builder.Services.AddHostedService<StartupScan>();
        }

        var app = builder.Build();
        app.UseMiddleware<DepotMiddleware>();
        app.MapDepot();
        return new DepotServer(app, stateLock, generated, certificate is null ? null : TlsCertificates.Fingerprint(certificate));
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _stateLock.DisposeAsync();
    }

    /// <summary>HOST:PORT, [v6]:PORT or PORT. "localhost" and "*" are understood.</summary>
    public static IPEndPoint ParseListen(string listen)
    {
        if (int.TryParse(listen, System.Globalization.CultureInfo.InvariantCulture, out var onlyPort))
        {
            return new IPEndPoint(IPAddress.Loopback, onlyPort);
        }

        var colon = listen.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(listen.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
        {
            throw new ArgumentException($"--listen takes HOST:PORT, e.g. 127.0.0.1:8080 (got '{listen}').");
        }

        var host = listen[..colon].Trim('[', ']');
        var address = host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" or "0.0.0.0" => IPAddress.Any,
            "::" => IPAddress.IPv6Any,
            _ => IPAddress.TryParse(host, out var ip) ? ip : throw new ArgumentException($"--listen needs an IP address or localhost (got '{host}')."),
        };
        return new IPEndPoint(address, port);
    }

    /// <summary>Without a configured admin key and with no unrevoked admin key stored, creates one; returns its token.</summary>
    private static async Task<string?> EnsureAdminKeyAsync(SqliteMetadataStore keys, DepotServerOptions options, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(options.AdminKey))
        {
            return null;
        }

        var existing = await keys.ListKeysAsync(cancellationToken);
        if (existing.Any(k => k.Scopes.HasFlag(Scopes.Admin) && k.Bucket is null && k.Prefix is null && k.RevokedUtc is null && k.ExpiresUtc is null))
        {
            return null;
        }

        var (id, token) = ApiKeyTokens.Generate();
        await keys.AddKeyAsync(new ApiKeyRecord(id, "admin (generated at first start)", ApiKeyTokens.Hash(token), Scopes.All, null, null, DateTimeOffset.UtcNow, null, null), cancellationToken);
        return token;
    }
}

/// <summary>Describes (hashes) files already present in the buckets, in the background, once at start.</summary>
internal sealed partial class StartupScan(ObjectEngine engine, ILogger<StartupScan> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        foreach (var bucket in engine.Buckets.Buckets.Keys)
        {
            try
            {
                var described = await engine.DescribeAllAsync(bucket, stoppingToken);
                if (described > 0)
                {
                    LogDescribed(logger, described, bucket);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogScanFailed(logger, e, bucket);
            }
        }
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Described {Count} existing files in bucket {Bucket}")]
    private static partial void LogDescribed(ILogger logger, int count, string bucket);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Scanning bucket {Bucket} stopped")]
    private static partial void LogScanFailed(ILogger logger, Exception exception, string bucket);
}
