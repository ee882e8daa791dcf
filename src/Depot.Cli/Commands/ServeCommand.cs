using System.CommandLine;
using System.Globalization;
using Depot.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace Depot.Cli.Commands;

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

        var command = new Command("serve", "Serve DIR over HTTP(S) as bucket 'default'.")
        {
            dir, listen, buckets, adminKey, anonymousRead, maxFileSize, maxKeyLength, rateLimit, tlsCert, tlsKey, tlsSelfSigned, config, noScan, noAccessLog, maxMetaValue,
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

                if (parse.GetValue(rateLimit) is { } limit)
                {
                    options.RateLimitPerSecond = limit;
                }

                if (parse.GetValue(maxFileSize) is { } size)
                {
                    options.MaxObjectSize = ParseSize(size);
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
                return Fail($"cannot listen on {options.Listen}: {e.Message}");
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
            await server.WaitForShutdownAsync(CancellationToken.None);
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

    /// <summary>Sizes like 1024, 500K, 10M, 2G, 1T (binary multiples).</summary>
    internal static long ParseSize(string text)
    {
        text = text.Trim().ToUpperInvariant().TrimEnd('B').TrimEnd('I');
        var multiplier = text.Length > 0 ? text[^1] switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, 'T' => 1L << 40, _ => 1L } : 1L;
        var number = multiplier == 1 ? text : text[..^1];
        if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0)
        {
            throw new FormatException($"'{text}' is not a size; use e.g. 500M or 10G.");
        }

        return checked(value * multiplier);
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"depot serve: {message}");
        return 2;
    }
}
