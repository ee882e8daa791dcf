using System.CommandLine;
using Depot.Cli.Shell;
using Depot.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace Depot.Cli.Commands.Server;

/// <summary><c>depot serve DIR</c>: run a server on the embedded default (local files + SQLite).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "Directory served as bucket 'default' (created if missing).", DefaultValueFactory = _ => "." };
        var listen = new Option<string>("--listen", "-l") { Description = "HOST:PORT to listen on.", DefaultValueFactory = _ => "127.0.0.1:8080" };
        var buckets = new Option<string[]>("--bucket") { Description = "Another bucket: NAME=DIR (repeatable).", AllowMultipleArgumentsPerToken = false };
        var adminKey = new Option<string?>("--admin-key") { Description = "The admin key (default: $DEPOT_ADMIN_KEY; otherwise one is generated on first start and printed once)." };
        var anonymousRead = new Option<bool>("--anonymous-read") { Description = "Let requests without a key read (never write) every bucket." };
        var maxFileSize = new Option<string?>("--max-file-size") { Description = "Largest object, e.g. 10G, 500M (default 1T)." };
        var maxKeyLength = new Option<int?>("--max-key-length") { Description = "Longest key in bytes (default 1024)." };
        var rateLimit = new Option<int?>("--rate-limit") { Description = "Requests per second per API key (default: unlimited)." };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "HTTPS certificate: PEM (with --tls-key) or PFX." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "PEM private key for --tls-cert." };
        var tlsSelfSigned = new Option<bool>("--tls-self-signed") { Description = "HTTPS with a self-signed certificate kept in DIR/.depot/tls; prints its SHA-256 fingerprint." };
        var config = new Option<string?>("--config") { Description = "JSON config file (same names as DepotServerOptions; flags win)." };
        var noScan = new Option<bool>("--no-scan") { Description = "Do not hash existing files in the background at start (they are hashed when first read)." };
        var noAccessLog = new Option<bool>("--no-access-log") { Description = "Do not log a line per request (saves CPU on small-object workloads; errors are still logged)." };
        var maxMetaValue = new Option<int?>("--max-meta-value") { Description = "Longest user metadata value in bytes (default 256)." };
        var chunkSizeRange = new Option<string?>("--chunk-size-range") { Description = "Chunk sizes upload sessions may use, MIN-MAX, e.g. 64K-64M (default 1-1G)." };
        var uploadExpiry = new Option<string?>("--upload-expiry") { Description = "How long an untouched upload session is kept, e.g. 30m, 24h, 7d (default 24h)." };
        var indexedCpBucket = new Option<string?>("--indexedcp-bucket") { Description = "Bucket that IndexedCP uploads (POST /upload) go to (default 'default')." };
        var indexedCpPrefix = new Option<string?>("--indexedcp-prefix") { Description = "Directory inside that bucket for IndexedCP uploads (default: its root)." };
        var indexedCpKeepPaths = new Option<bool>("--indexedcp-keep-paths") { Description = "Keep the directories of IndexedCP clients' relative paths (default: such names are refused)." };
        var indexedCpQuiet = new Option<string?>("--indexedcp-quiet-period") { Description = "Wait without a chunk before a complete IndexedCP upload is published when no short last chunk ended it, e.g. 10s, 2m (default 10s)." };
        var webhooks = new Option<string[]>("--webhook") { Description = "POST upload events (upload.completed, upload.cancelled, manifest.completed) to URL, signed with $DEPOT_WEBHOOK_SECRET (repeatable).", AllowMultipleArgumentsPerToken = false };
        var indexedCpNoReplace = new Option<bool>("--indexedcp-no-replace") { Description = "Refuse (409) IndexedCP uploads of names that exist instead of replacing them." };
        var detach = new Option<bool>("--detach", "-d") { Description = "Run in the background (a new session; survives the terminal): returns once the server listens. Stop it with 'depot stop'." };
        var pidFile = new Option<string?>("--pidfile") { Description = "Write the server's pid to FILE once it listens; removed when it stops (default with --detach: DIR/.depot/depot.pid).", HelpName = "FILE" };
        var logFile = new Option<string?>("--log") { Description = "With --detach: append the server's output to FILE (default DIR/.depot/depot.log).", HelpName = "FILE" };

        var command = new Command("serve", "Serve DIR over HTTP(S) as bucket 'default'.")
        {
            dir, listen, buckets, adminKey, anonymousRead, maxFileSize, maxKeyLength, rateLimit, tlsCert, tlsKey, tlsSelfSigned, config, noScan, noAccessLog, maxMetaValue, chunkSizeRange, uploadExpiry,
            indexedCpBucket, indexedCpPrefix, indexedCpKeepPaths, indexedCpQuiet, indexedCpNoReplace, webhooks, detach, pidFile, logFile,
        };

        command.SetAction(async (parse, cancellationToken) =>
        {
            DepotServerOptions options;
            try
            {
                options = LoadConfig(parse.GetValue(config));
                options.DataDirectory = parse.GetValue(dir)!;
                if (parse.GetResult(listen) is { Implicit: false } || options.Listen == new DepotServerOptions().Listen)
                {
                    options.Listen = parse.GetValue(listen)!;
                }

                options.AdminKey = parse.GetValue(adminKey) ?? Environment.GetEnvironmentVariable("DEPOT_ADMIN_KEY") ?? options.AdminKey;
                if (options.AdminKey is { Length: < 16 })
                {
                    return Fail("The admin key must have at least 16 characters.");
                }

                options.AnonymousRead |= parse.GetValue(anonymousRead);
                options.TlsSelfSigned |= parse.GetValue(tlsSelfSigned);
                options.TlsCertificatePath = parse.GetValue(tlsCert) ?? options.TlsCertificatePath;
                options.TlsKeyPath = parse.GetValue(tlsKey) ?? options.TlsKeyPath;
                options.ScanOnStart &= !parse.GetValue(noScan);
                options.AccessLog &= !parse.GetValue(noAccessLog);
                if (parse.GetValue(maxMetaValue) is { } metaValue)
                {
                    // Metadata travels in response headers (X-Depot-Meta-*): keep a value well inside common header limits.
                    if (metaValue is < 1 or > 4096)
                    {
                        return Fail("--max-meta-value takes 1 to 4096 bytes.");
                    }

                    options.MaxMetadataValueBytes = metaValue;
                }

                if (parse.GetValue(chunkSizeRange) is { } range)
                {
                    var dash = range.IndexOf('-', StringComparison.Ordinal);
                    var (min, max) = dash > 0 ? (Units.ParseSize(range[..dash]), Units.ParseSize(range[(dash + 1)..])) : (-1L, -1L);
                    if (min < 1 || max < min)
                    {
                        return Fail($"--chunk-size-range takes MIN-MAX with 1 <= MIN <= MAX, e.g. 64K-64M (got '{range}').");
                    }

                    (options.MinChunkSize, options.MaxChunkSize) = (min, max);
                }

                if (parse.GetValue(uploadExpiry) is { } expiry)
                {
                    options.UploadSessionExpiry = Units.ParseDuration(expiry) is { } duration && duration >= TimeSpan.FromMinutes(1)
                        ? duration
                        : throw new ArgumentException($"--upload-expiry takes a duration of at least 1m, e.g. 30m, 24h, 7d (got '{expiry}').");
                }

                options.IndexedCp.Bucket = parse.GetValue(indexedCpBucket) ?? options.IndexedCp.Bucket;
                options.IndexedCp.Prefix = parse.GetValue(indexedCpPrefix) ?? options.IndexedCp.Prefix;
                options.IndexedCp.KeepPaths |= parse.GetValue(indexedCpKeepPaths);
                options.IndexedCp.ReplaceExisting &= !parse.GetValue(indexedCpNoReplace);
                if (parse.GetValue(indexedCpQuiet) is { } quiet)
                {
                    options.IndexedCp.QuietPeriod = Units.ParseDuration(quiet)
                        ?? throw new ArgumentException($"--indexedcp-quiet-period takes a duration, e.g. 10s, 2m (got '{quiet}').");
                }

                // The webhook secret never comes from a flag: command lines are visible to every user of the machine. It
                // also signs for config-file endpoints that leave their Secret out.
                var webhookSecret = Environment.GetEnvironmentVariable("DEPOT_WEBHOOK_SECRET");
                foreach (var endpoint in options.Webhooks.Where(e => string.IsNullOrEmpty(e.Secret)))
                {
                    endpoint.Secret = webhookSecret ?? "";
                }

                if (parse.GetValue(webhooks) is { Length: > 0 } webhookUrls)
                {
                    if (string.IsNullOrEmpty(webhookSecret))
                    {
                        return Fail("--webhook needs the signing secret in DEPOT_WEBHOOK_SECRET.");
                    }

                    options.Webhooks.AddRange(webhookUrls.Select(url => new Depot.Server.Webhooks.WebhookEndpoint { Url = url, Secret = webhookSecret }));
                }

                if (parse.GetValue(rateLimit) is { } limit)
                {
                    options.RateLimitPerSecond = limit;
                }

                if (parse.GetValue(maxFileSize) is { } size)
                {
                    options.MaxObjectSize = Units.ParseSize(size);
                }

                if (parse.GetValue(maxKeyLength) is { } keyLength)
                {
                    options.MaxKeyLength = keyLength;
                }

                foreach (var spec in parse.GetValue(buckets) ?? [])
                {
                    var eq = spec.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0 || eq == spec.Length - 1)
                    {
                        return Fail($"--bucket takes NAME=DIR (got '{spec}').");
                    }

                    options.Buckets[spec[..eq]] = new BucketConfig { Path = spec[(eq + 1)..] };
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or IOException or System.Text.Json.JsonException)
            {
                return Fail(e.Message);
            }

            var pidPath = parse.GetValue(pidFile) is { } pidText ? Path.GetFullPath(pidText)
                : parse.GetValue(detach) ? PidFile.DefaultPath(options.DataDirectory) : null;
            if (pidPath is not null && PidFile.ReadLive(pidPath) is { } running)
            {
                Console.Error.WriteLine($"depot serve: already running as pid {running} (pidfile {pidPath}); stop it with 'depot stop --pidfile {pidPath}'.");
                return 4;
            }

            if (parse.GetValue(detach) && Environment.GetEnvironmentVariable(Detach.ChildVariable) != "1")
            {
                var logPath = Path.GetFullPath(parse.GetValue(logFile) ?? Path.Combine(options.StateDirectory, "depot.log"));
                try
                {
                    return await Detach.RunAsync(pidPath!, logPath, cancellationToken);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"depot serve: cannot start in the background: {e.Message}");
                    return ExitCodes.Failure;
                }
            }

            if (parse.GetValue(logFile) is not null && !parse.GetValue(detach))
            {
                return Fail("--log goes with --detach (in the foreground the output goes to the terminal; redirect it with >>FILE).");
            }

            await using var server = await CreateServerAsync(options, cancellationToken);
            if (server is null)
            {
                return 1;
            }

            try
            {
                await server.StartAsync(cancellationToken);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"depot serve: cannot listen on {options.Listen}: {e.Message}");
                return ExitCodes.Failure; // not a usage error: the address is taken or not ours
            }
            foreach (var url in server.Urls)
            {
                Console.Out.WriteLine($"Depot is serving {Path.GetFullPath(options.DataDirectory)} as bucket 'default' at {url}/v1/default/");
            }

            if (server.GeneratedAdminKey is { } generated)
            {
                Console.Out.WriteLine($"Admin key (shown once; keep it safe): {generated}");
            }

            if (server.TlsFingerprint is { } fingerprint)
            {
                Console.Out.WriteLine($"TLS certificate SHA-256 fingerprint: {fingerprint}");
            }

            await Console.Out.FlushAsync(cancellationToken);
            if (pidPath is null)
            {
                await server.WaitForShutdownAsync(CancellationToken.None);
                return 0;
            }

            // Written once the server listens and has printed its URL, key and fingerprint: 'serve --detach' waits for it.
            try
            {
                PidFile.WriteOwn(pidPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Fail($"cannot write the pidfile {pidPath}: {e.Message}");
            }

            try
            {
                await server.WaitForShutdownAsync(CancellationToken.None);
            }
            finally
            {
                PidFile.RemoveOwn(pidPath);
            }

            return 0;
        });
        return command;
    }

    private static async Task<DepotServer?> CreateServerAsync(DepotServerOptions options, CancellationToken cancellationToken)
    {
        try
        {
            return await DepotServer.CreateAsync(options, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            Fail(e.Message);
            return null;
        }
    }

    private static DepotServerOptions LoadConfig(string? path)
    {
        var options = new DepotServerOptions();
        if (path is null)
        {
            return options;
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Config file '{path}' does not exist.");
        }

        new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(path), optional: false).Build().Bind(options);
        return options;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"depot serve: {message}");
        return 2;
    }
}
