using System.Security.Cryptography;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Client.Tests.Infrastructure;

/// <summary>
/// A real Depot server on loopback plus a <see cref="DepotClient"/> for it with the admin key, a private client state
/// directory and a scratch directory for local files. Everything is deleted on dispose.
/// </summary>
public sealed class ClientTestContext : IAsyncDisposable
{
    private readonly List<DepotClient> _clients = [];

    private ClientTestContext(DepotTestServer server, string scratch)
    {
        Server = server;
        Scratch = scratch;
        StateDirectory = Path.Combine(scratch, ".client-state");
        Client = CreateClient();
    }

    public DepotTestServer Server { get; }

    /// <summary>The client with the admin key.</summary>
    public DepotClient Client { get; }

    /// <summary>A directory for local files of the test (outside the server's data).</summary>
    public string Scratch { get; }

    /// <summary>The state directory of <see cref="Client"/> (resumable uploads).</summary>
    public string StateDirectory { get; }

    public static async Task<ClientTestContext> StartAsync(Action<DepotServerOptions, string>? configure = null)
    {
        var server = await DepotTestServer.StartAsync(configure);
        var scratch = Path.Combine(server.RootDirectory, "client");
        Directory.CreateDirectory(scratch);
        return new ClientTestContext(server, scratch);
    }

    /// <summary>Another client for the same server (or <paramref name="url"/>, e.g. a fault proxy), sharing the state
    /// directory unless told otherwise.</summary>
    public DepotClient CreateClient(string? apiKey = null, Uri? url = null, Action<DepotClientOptions>? configure = null)
    {
        var options = new DepotClientOptions
        {
            ApiKey = apiKey ?? Server.AdminKey,
            StateDirectory = StateDirectory,
            Timeout = TimeSpan.FromSeconds(30),
            StallTimeout = TimeSpan.FromSeconds(10),
        };
        options.Retry.InitialDelay = TimeSpan.FromMilliseconds(20);
        options.Retry.MaxDelay = TimeSpan.FromMilliseconds(200);
        options.Servers.Add(url ?? Server.BaseUrl);
        configure?.Invoke(options);
        var client = new DepotClient(options);
        _clients.Add(client);
        return client;
    }

    /// <summary>Writes a local file of pseudo-random bytes under <see cref="Scratch"/> and returns its full path.</summary>
    public string WriteFile(string relativePath, long length, int seed = 1) =>
        LocalFiles.WriteRandom(Path.Combine(Scratch, relativePath), length, seed);

    public static string Sha256Of(string path) => LocalFiles.Sha256Of(path);

    public static string Sha256Of(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        await Server.DisposeAsync();
    }
}
