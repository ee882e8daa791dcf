using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;

namespace Depot.Cli.Tests.Server;

public sealed class TlsTests : IAsyncLifetime
{
    private CliTestContext _context = null!;

    public async ValueTask InitializeAsync() => _context = await CliTestContext.StartAsync((options, _) => options.TlsSelfSigned = true);

    public ValueTask DisposeAsync() => _context.DisposeAsync();

    private string CertificatePath => Path.Combine(_context.Server.StateDirectory, "tls", "self-signed.pfx");

    /// <summary>Computed here from the certificate file, independently of the command.</summary>
    private string ExpectedFingerprint()
    {
        using var certificate = X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, null);
        return string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Directory_certificate_file_and_remote_server_give_the_same_fingerprint()
    {
        Assert.Equal("https", _context.Server.BaseUrl.Scheme);
        var expected = ExpectedFingerprint();
        using (var certificate = X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, null))
        {
            File.WriteAllText(Path.Combine(_context.Scratch, "server.pem"), certificate.ExportCertificatePem());
        }

        var fromDirectory = await _context.RunAsync("tls", "fingerprint", _context.Server.DataDirectory, "-q");
        var fromPfx = await _context.RunAsync("tls", "fingerprint", "--cert", CertificatePath, "-q");
        var fromPem = await _context.RunAsync("tls", "fingerprint", "--cert", "server.pem", "-q");
        var fromServer = await _context.RunAsync("tls", "fingerprint", "--url", _context.Url);

        Assert.True(fromDirectory.ExitCode == 0, fromDirectory.ToString());
        Assert.Equal(expected, fromDirectory.Stdout.Trim());
        Assert.Equal(expected, fromPfx.Stdout.Trim());
        Assert.Equal(expected, fromPem.Stdout.Trim());
        Assert.True(fromServer.ExitCode == 0, fromServer.ToString());
        var lines = fromServer.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(expected, lines[0]);
        Assert.Contains("trust on first use", fromServer.Stdout, StringComparison.Ordinal);
        Assert.Matches("^([0-9A-F]{2}:){31}[0-9A-F]{2}$", expected);
    }

    [Fact]
    public async Task The_printed_fingerprint_lets_ls_connect_and_a_wrong_one_exits_7()
    {
        await File.WriteAllTextAsync(Path.Combine(_context.Server.DataDirectory, "secure.txt"), "tls", CliTestContext.Ct);
        var fingerprint = (await _context.RunAsync("tls", "fingerprint", "--url", _context.Url, "-q")).Stdout.Trim();
        var wrong = Convert.ToHexString(SHA256.HashData("another certificate"u8));

        var pinned = await _context.RunAsync("ls", "--fingerprint", fingerprint);
        var mismatched = await _context.RunAsync("ls", "--fingerprint", wrong);
        var unpinned = await _context.RunAsync("ls");
        await _context.RunAsync("config", "set", "fingerprint", fingerprint);
        var fromProfile = await _context.RunAsync("ls");

        Assert.True(pinned.ExitCode == 0, pinned.ToString());
        Assert.Equal("secure.txt", pinned.Stdout.Trim());
        Assert.Equal(7, mismatched.ExitCode);
        Assert.Contains("TLS", mismatched.Stderr, StringComparison.Ordinal);
        Assert.Equal(7, unpinned.ExitCode);
        Assert.True(fromProfile.ExitCode == 0, fromProfile.ToString());
    }

    [Fact]
    public async Task Json_shape_and_the_errors_of_each_source()
    {
        var json = await _context.RunAsync("tls", "fingerprint", _context.Server.DataDirectory, "--json");
        var noCertificate = await _context.RunAsync("tls", "fingerprint", _context.Scratch);
        var missingFile = await _context.RunAsync("tls", "fingerprint", "--cert", "missing.pem");
        var notACertificate = await _context.RunAsync("tls", "fingerprint", "--cert", _context.WriteText("notes.txt", "not a certificate"));
        var plainUrl = await _context.RunAsync("tls", "fingerprint", "--url", "http://127.0.0.1:1");
        var nothingListens = await _context.RunAsync("tls", "fingerprint", "--url", "https://127.0.0.1:9");

        Assert.True(json.ExitCode == 0, json.ToString());
        using var document = JsonDocument.Parse(json.Stdout);
        Assert.Equal(ExpectedFingerprint(), document.RootElement.GetProperty("fingerprint").GetString());
        Assert.Equal("CN=depot", document.RootElement.GetProperty("subject").GetString());
        Assert.Equal(CertificatePath, document.RootElement.GetProperty("source").GetString());
        Assert.True(document.RootElement.GetProperty("notAfter").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddYears(4));
        Assert.Equal(3, noCertificate.ExitCode);
        Assert.Contains("--tls-self-signed", noCertificate.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, missingFile.ExitCode);
        Assert.Equal(2, notACertificate.ExitCode);
        Assert.Equal(2, plainUrl.ExitCode);
        Assert.Equal(7, nothingListens.ExitCode);
    }
}
