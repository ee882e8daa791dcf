using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Depot.Core.Security;
using Depot.Protocol;
using Depot.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Tests.Infrastructure;

/// <summary>
/// A real Depot server (Kestrel on <c>127.0.0.1:0</c>) over a temporary directory, with an admin client and every
/// log line it writes captured in memory.
/// </summary>
/// <remarks>
/// Layout under <see cref="RootDirectory"/>: <c>data/</c> is the default bucket (its <c>.depot</c> folder holds the
/// state), <c>buckets/{name}/</c> holds further buckets made with <see cref="BucketDirectory"/>, and anything a test
/// puts next to them (e.g. <c>outside/</c>) lies outside every bucket. The whole root is deleted on dispose.
/// </remarks>
public sealed class DepotTestServer : IAsyncDisposable
{
    private const string TokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private readonly DepotServer _server;
    private readonly CapturingLoggerProvider _logs;
    private readonly List<HttpClient> _clients = [];

    private DepotTestServer(DepotServer server, CapturingLoggerProvider logs, string root, DepotServerOptions options)
    {
        _server = server;
        _logs = logs;
        RootDirectory = root;
        Options = options;
        BaseUrl = new Uri(server.Urls.Single().TrimEnd('/') + "/");
        Client = CreateClient(options.AdminKey);
    }

    /// <summary>The temporary directory that holds the data directory and everything next to it.</summary>
    public string RootDirectory { get; }

    /// <summary>The default bucket's directory (<c>{root}/data</c>).</summary>
    public string DataDirectory => Options.DataDirectory;

    public string StateDirectory => Options.StateDirectory;

    public DepotServerOptions Options { get; }

    public string AdminKey => Options.AdminKey!;

    /// <summary>Base address with a trailing slash, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseUrl { get; }

    public int Port => BaseUrl.Port;

    /// <summary>A client that sends the admin key.</summary>
    public HttpClient Client { get; }

    public IServiceProvider Services => _server.Services;

    /// <summary>Every log entry written so far, in order.</summary>
    public IReadOnlyList<CapturedLog> Logs => _logs.Entries;

    /// <summary>Every log entry as one line: message, then exception text if any.</summary>
    public IReadOnlyList<string> LogLines => _logs.Entries.Select(e => e.ToString()).ToList();

    /// <summary>Starts a server on a fresh temporary directory.</summary>
    /// <param name="configure">Adjusts the options before start (extra buckets, limits, anonymous read, rate limit).
    /// It receives the server so that it can place bucket directories with <see cref="BucketDirectory"/>.</param>
    /// <param name="prepare">Runs on the empty data directory before the server starts (files, links).</param>
    /// <param name="minimumLogLevel">Level captured for every category, including Microsoft.*.</param>
    public static async Task<DepotTestServer> StartAsync(
        Action<DepotServerOptions, string>? configure = null,
        Action<string>? prepare = null,
        LogLevel? minimumLogLevel = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "depot-test-" + Guid.NewGuid().ToString("N"));
        var data = Path.Combine(root, "data");
        Directory.CreateDirectory(data);
        try
        {
            prepare?.Invoke(root);
            var options = new DepotServerOptions
            {
                DataDirectory = data,
                Listen = "127.0.0.1:0",
                AdminKey = RandomNumberGenerator.GetString(TokenAlphabet, 32),
                ScanOnStart = false,
                ShutdownTimeout = TimeSpan.FromSeconds(5),
            };
            configure?.Invoke(options, root);
            var logs = new CapturingLoggerProvider();
            var server = await DepotServer.CreateAsync(options, logging: b =>
            {
                b.AddProvider(logs);
                if (minimumLogLevel is { } level)
                {
                    // A provider-specific rule is more specific than the server's category rules, so it wins.
                    b.AddFilter<CapturingLoggerProvider>(null, level);
                    b.SetMinimumLevel(level);
                }
            });
            await server.StartAsync();
            return new DepotTestServer(server, logs, root, options);
        }
        catch
        {
            TryDelete(root);
            throw;
        }
    }

    /// <summary>A directory for a further bucket, under the test's root.</summary>
    public static string BucketDirectory(string root, string name)
    {
        var dir = Path.Combine(root, "buckets", name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A client that sends <paramref name="token"/> as a bearer key, or no Authorization header when null.</summary>
    public HttpClient CreateClient(string? token)
    {
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
        {
            BaseAddress = BaseUrl,
            Timeout = TimeSpan.FromMinutes(2),
        };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        lock (_clients)
        {
            _clients.Add(client);
        }

        return client;
    }

    /// <summary>Creates an API key through <c>POST /v1/_keys</c> with the admin key.</summary>
    public async Task<CreatedKey> CreateKeyAsync(string[] scopes, string? bucket = null, string? prefix = null, DateTimeOffset? expires = null, int rateLimit = 0, string? name = null)
    {
        var request = new CreateKeyRequestDto { Name = name ?? "test", Scopes = scopes, Bucket = bucket, Prefix = prefix, Expires = expires, RateLimit = rateLimit };
        using var response = await Client.PostAsJsonAsync("v1/_keys", request, DepotJson.Default.CreateKeyRequestDto);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != System.Net.HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"Creating a key failed: {(int)response.StatusCode} {text}");
        }

        var dto = JsonSerializer.Deserialize(text, DepotJson.Default.ApiKeyDto)!;
        return new CreatedKey(dto.Id, dto.Token!, dto);
    }

    /// <summary>Stores a key record directly (e.g. one that has already expired, which the API refuses to create).</summary>
    public async Task<CreatedKey> AddKeyDirectlyAsync(Scopes scopes, DateTimeOffset? expires, string? bucket = null, string? prefix = null)
    {
        var (id, token) = ApiKeyTokens.Generate();
        var record = new ApiKeyRecord(id, "direct", ApiKeyTokens.Hash(token), scopes, bucket, prefix, DateTimeOffset.UtcNow.AddDays(-2), expires, null);
        await Services.GetRequiredService<IApiKeyStore>().AddKeyAsync(record, CancellationToken.None);
        return new CreatedKey(id, token, null);
    }

    /// <summary>Waits until <paramref name="condition"/> holds for the captured logs (a request's line is written
    /// after its response may already have reached the client).</summary>
    public async Task<bool> WaitForLogsAsync(Func<IReadOnlyList<CapturedLog>, bool> condition, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (DateTime.UtcNow < until)
        {
            if (condition(Logs))
            {
                return true;
            }

            await Task.Delay(20);
        }

        return condition(Logs);
    }

    public async ValueTask DisposeAsync()
    {
        lock (_clients)
        {
            foreach (var client in _clients)
            {
                client.Dispose();
            }
        }

        try
        {
            await _server.StopAsync();
        }
        finally
        {
            await _server.DisposeAsync();
            TryDelete(RootDirectory);
        }
    }

    private static void TryDelete(string root)
    {
        try
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
        catch (IOException)
        {
            // A leftover temp directory must not fail a test.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>A key made for a test: its id (for revocation) and its secret token.</summary>
public sealed record CreatedKey(string Id, string Token, ApiKeyDto? Dto);

/// <summary>One captured log entry.</summary>
/// <param name="State">The structured values (name=value), which may hold more than the template prints.</param>
public sealed record CapturedLog(string Category, LogLevel Level, EventId EventId, string Message, string State, string? Exception)
{
    public override string ToString() => $"[{Level}] {Category}: {Message} | {State}" + (Exception is null ? "" : "\n" + Exception);
}

/// <summary>Records every formatted message (and exception text) of every logger.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<CapturedLog> _entries = new();

    public IReadOnlyList<CapturedLog> Entries => _entries.ToArray();

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<CapturedLog> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // Keep the structured values too: a secret could hide in a property that the template does not print.
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? string.Join(" ", pairs.Select(v => $"{v.Key}={v.Value}"))
                : state?.ToString() ?? "";
            entries.Enqueue(new CapturedLog(category, logLevel, eventId, formatter(state, exception), values, exception?.ToString()));
        }
    }
}
