using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.ProcessTests;

/// <summary>
/// HTTPS from <c>depot serve</c> (design §4): a self-signed certificate whose SHA-256 fingerprint is printed and pinned by
/// clients and kept across restarts, and a PEM certificate + key given on the command line.
/// </summary>
public sealed class TlsTests : IAsyncDisposable
{
    private const string FingerprintPrefix = "TLS certificate SHA-256 fingerprint: ";
    private readonly TempDirectory _dir = new("tls");
    private readonly List<ServerProcess> _servers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DataDir => _dir.Path;

    [Fact]
    public async Task SelfSigned_Start_PrintsFingerprintThatAPinningClientAccepts()
    {
        var server = await StartAsync("--tls-self-signed");
        var fingerprint = await FingerprintAsync(server);

        Assert.Matches("^([0-9A-F]{2}:){31}[0-9A-F]{2}$", fingerprint);
        Assert.StartsWith("https://", server.BaseUrl, StringComparison.Ordinal);
        using var client = new HttpClient(PinningHandler(fingerprint)) { BaseAddress = new Uri(server.BaseUrl) };
        using var health = await client.GetAsync(DepotRoutes.Health, Ct);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task SelfSigned_Restart_ReusesCertificateKeptInStateFolder()
    {
        var first = await StartAsync("--tls-self-signed");
        var fingerprint = await FingerprintAsync(first);
        Assert.Equal(0, await first.StopAsync());

        // Kept in the state folder: a file there holds exactly the certificate whose fingerprint was printed, and
        // (it holds the private key) only its owner may read it.
        var tlsFolder = Path.Combine(DataDir, ".depot", "tls");
        var kept = Assert.Single(Directory.Exists(tlsFolder) ? Directory.GetFiles(tlsFolder) : []);
        using (var stored = X509CertificateLoader.LoadPkcs12FromFile(kept, null))
        {
            Assert.Equal(fingerprint, Fingerprint(stored.RawData));
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(kept) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
        }

        var second = await StartAsync("--tls-self-signed");
        Assert.Equal(fingerprint, await FingerprintAsync(second));
        using var client = new HttpClient(PinningHandler(fingerprint)) { BaseAddress = new Uri(second.BaseUrl) };
        using var health = await client.GetAsync(DepotRoutes.Health, Ct);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task SelfSigned_PinOfAnotherCertificate_ConnectionRefusedByClient()
    {
        var server = await StartAsync("--tls-self-signed");
        var fingerprint = await FingerprintAsync(server);
        var wrong = Fingerprint("not the server's certificate"u8.ToArray());
        Assert.NotEqual(fingerprint, wrong);

        using var client = new HttpClient(PinningHandler(wrong)) { BaseAddress = new Uri(server.BaseUrl) };
        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(DepotRoutes.Health, Ct));
        Assert.IsType<AuthenticationException>(failure.InnerException);

        // Without a pin, ordinary validation refuses a self-signed certificate too.
        using var unpinned = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        await Assert.ThrowsAsync<HttpRequestException>(() => unpinned.GetAsync(DepotRoutes.Health, Ct));
    }

    [Fact]
    public async Task TlsCert_PemCertificateAndKey_ServesThatCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=depot-test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        using var pemFolder = new TempDirectory("tls-pem"); // outside the served directory
        var certPath = Path.Combine(pemFolder.Path, "cert.pem");
        var keyPath = Path.Combine(pemFolder.Path, "key.pem");
        await File.WriteAllTextAsync(certPath, certificate.ExportCertificatePem(), Ct);
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem(), Ct);
        var expected = Fingerprint(certificate.RawData);

        var server = await StartAsync("--tls-cert", certPath, "--tls-key", keyPath);

        Assert.Equal(expected, await FingerprintAsync(server));
        using var client = new HttpClient(PinningHandler(expected)) { BaseAddress = new Uri(server.BaseUrl) };
        using var health = await client.GetAsync(DepotRoutes.Health, Ct);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        _dir.Dispose();
    }

    /// <summary>Accepts exactly the certificate whose DER bytes hash to <paramref name="fingerprint"/>, whatever the
    /// chain says: what a client pinning the printed fingerprint does.</summary>
    private static SocketsHttpHandler PinningHandler(string fingerprint) => new()
    {
        SslOptions =
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null
                && string.Equals(Fingerprint(certificate.GetRawCertData()), fingerprint, StringComparison.Ordinal),
        },
    };

    /// <summary>SHA-256 of DER bytes as colon-separated upper-case hex, the form the server prints.</summary>
    private static string Fingerprint(byte[] der) => string.Join(':', SHA256.HashData(der).Select(b => b.ToString("X2")));

    private static async Task<string> FingerprintAsync(ServerProcess server)
    {
        var line = await server.WaitForOutputLineAsync(l => l.StartsWith(FingerprintPrefix, StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        return line[FingerprintPrefix.Length..].Trim();
    }

    private async Task<ServerProcess> StartAsync(params string[] args)
    {
        var server = await ServerProcess.StartAsync(DataDir, extraArgs: args, https: true);
        _servers.Add(server);
        return server;
    }
}
