using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Depot.Client.Tests.Infrastructure;
using Depot.Core.Errors;

namespace Depot.Client.Tests.Transport;

/// <summary>Failover between servers, TLS pinning, HTTP/2, and how unreachable servers are reported.</summary>
public sealed class ConnectionTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Failover_FirstServerDown_UsesTheNextAndStaysThere()
    {
        await using var context = await ClientTestContext.StartAsync();
        var dead = new Uri($"http://127.0.0.1:{UnusedPort()}/");
        var client = context.CreateClient(configure: o =>
        {
            o.Servers.Clear();
            o.Servers.Add(dead);
            o.Servers.Add(context.Server.BaseUrl);
        });

        var stored = await client.UploadAsync("hello"u8.ToArray(), "default/failover.txt", cancellationToken: Token);

        Assert.Equal(context.Server.BaseUrl, client.CurrentServer);
        Assert.Equal(ClientTestContext.Sha256Of("hello"u8.ToArray()), stored.Sha256);
        Assert.Equal("hello"u8.ToArray(), await client.DownloadBytesAsync("default/failover.txt", cancellationToken: Token));
    }

    [Fact]
    public async Task Unreachable_EveryServerDown_NetworkErrorThatIsTransientAndNamesTheServer()
    {
        await using var context = await ClientTestContext.StartAsync();
        var port = UnusedPort();
        var client = context.CreateClient(url: new Uri($"http://127.0.0.1:{port}/"), configure: o => o.Retry.MaxAttempts = 2);

        var error = await Assert.ThrowsAsync<DepotUnavailableException>(() => client.StatAsync("default/x", Token));

        Assert.Equal(ClientErrorCodes.Network, error.Code);
        Assert.True(error.IsTransient);
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(context.Server.AdminKey, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_PinnedFingerprintOverHttp2_Works()
    {
        await using var context = await ClientTestContext.StartAsync((o, _) => o.TlsSelfSigned = true);
        Assert.Equal("https", context.Server.BaseUrl.Scheme);
        var client = context.CreateClient(configure: o =>
        {
            o.CertificateFingerprint = ServerFingerprint(context);
            o.HttpVersion = HttpVersion.Version20;
            o.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        });
        var bytes = ClientTestContext.RandomBytes(300_000, seed: 5);

        await client.UploadAsync(bytes, "default/tls.bin", cancellationToken: Token);
        var back = await client.DownloadBytesAsync("default/tls.bin", cancellationToken: Token);

        // RequestVersionExact fails every request that ALPN does not settle on h2, so arriving here proves HTTP/2.
        Assert.Equal(bytes, back);
    }

    [Fact]
    public async Task Tls_WrongFingerprint_RefusedWithTlsMessage()
    {
        await using var context = await ClientTestContext.StartAsync((o, _) => o.TlsSelfSigned = true);
        var wrong = Convert.ToHexString(SHA256.HashData("another certificate"u8));
        var client = context.CreateClient(configure: o =>
        {
            o.CertificateFingerprint = wrong;
            o.Retry.MaxAttempts = 1;
        });

        var error = await Assert.ThrowsAsync<DepotUnavailableException>(() => client.StatAsync("default/x", Token));

        Assert.Contains("TLS", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_SelfSignedWithoutPin_Refused()
    {
        await using var context = await ClientTestContext.StartAsync((o, _) => o.TlsSelfSigned = true);
        var client = context.CreateClient(configure: o => o.Retry.MaxAttempts = 1);

        await Assert.ThrowsAsync<DepotUnavailableException>(() => client.StatAsync("default/x", Token));
    }

    [Fact]
    public void Options_MalformedFingerprint_ArgumentException()
    {
        var options = DepotClientOptions.For("https://127.0.0.1:1/");
        options.CertificateFingerprint = "AB:CD";

        Assert.Throws<ArgumentException>(() => new DepotClient(options));
    }

    [Fact]
    public async Task Errors_ServerProblemCodes_BecomeTypedExceptionsWithAdvice()
    {
        await using var context = await ClientTestContext.StartAsync();
        var anonymous = context.CreateClient(apiKey: "dpk_0000000000000000_nope");

        var unauthorized = await Assert.ThrowsAsync<UnauthorizedException>(() => anonymous.StatAsync("default/x", Token));
        var notFound = await Assert.ThrowsAsync<NotFoundException>(() => context.Client.StatAsync("default/missing.txt", Token));

        Assert.Equal(ErrorCodes.Unauthorized, unauthorized.Code);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.False(unauthorized.IsTransient);
        Assert.Contains("DEPOT_KEY", unauthorized.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("nope", unauthorized.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.NotFound, notFound.Code);
        Assert.Equal("/v1/default/missing.txt", notFound.Instance);
    }

    private static string ServerFingerprint(ClientTestContext context)
    {
        var file = Assert.Single(Directory.GetFiles(Path.Combine(context.Server.StateDirectory, "tls")));
        using var certificate = X509CertificateLoader.LoadPkcs12FromFile(file, null);
        return string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2")));
    }

    private static int UnusedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
