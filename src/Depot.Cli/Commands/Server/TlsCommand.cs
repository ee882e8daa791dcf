using System.CommandLine;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Depot.Cli.Shell;
using Depot.Server.Hosting;

namespace Depot.Cli.Commands.Server;

/// <summary><c>depot tls fingerprint</c>: the SHA-256 fingerprint clients pin (<c>--fingerprint</c>), in the format
/// <c>depot serve --tls-self-signed</c> prints, of the self-signed certificate of a served directory, of a
/// certificate file, or of what a server presents.</summary>
internal static class TlsCommand
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(15);

    public static Command Create() => new("tls", "TLS certificates of a Depot server.") { Fingerprint() };

    private static Command Fingerprint()
    {
        var dir = new Argument<string>("DIR") { Description = "A directory served with --tls-self-signed: its certificate is DIR/.depot/tls/self-signed.pfx.", DefaultValueFactory = _ => "." };
        var cert = new Option<string?>("--cert") { Description = "A certificate file instead: PEM or DER, or PFX/P12 without a password.", HelpName = "FILE" };
        var url = new Option<string?>("--url") { Description = "Ask the server at https://HOST:PORT instead (trust on first use: compare the answer out of band).", HelpName = "URL" };
        var command = new Command("fingerprint", "Print the SHA-256 fingerprint of the server's TLS certificate, to pin with --fingerprint.")
        {
            dir, cert, url, GlobalOptions.Json, GlobalOptions.Quiet,
        };
        CliAction.Set(command, async context =>
        {
            var certPath = context.Value(cert);
            var urlText = context.Value(url);
            if (certPath is not null && urlText is not null)
            {
                throw CliException.Usage("give --cert FILE or --url URL, not both.");
            }

            var (certificate, source) = urlText is not null ? (await FetchAsync(urlText, context.Cancellation), urlText)
                : certPath is not null ? (LoadFile(Path.GetFullPath(certPath)), Path.GetFullPath(certPath))
                : LoadSelfSigned(context.Value(dir));
            using (certificate)
            {
                var fingerprint = TlsCertificates.Fingerprint(certificate);
                context.Subject = source;
                context.Output.Data(fingerprint);
                context.Output.Info($"{certificate.Subject}, valid {Units.FormatTime(certificate.NotBefore)} to {Units.FormatTime(certificate.NotAfter)}; from {source}");
                if (urlText is not null)
                {
                    context.Output.Info("Read without verifying the server (trust on first use): before pinning it, compare it with the fingerprint the server printed at start (or 'depot tls fingerprint DIR' prints on its host).");
                }

                context.Output.WriteJson(new FingerprintJson(fingerprint, certificate.Subject, new DateTimeOffset(certificate.NotBefore).ToUniversalTime(), new DateTimeOffset(certificate.NotAfter).ToUniversalTime(), source));
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static (X509Certificate2 Certificate, string Source) LoadSelfSigned(string dir)
    {
        var path = Path.Combine(new DepotServerOptions { DataDirectory = dir }.StateDirectory, "tls", "self-signed.pfx");
        if (!File.Exists(path))
        {
            throw CliException.NotFound($"there is no self-signed certificate at {path}; 'depot serve {dir} --tls-self-signed' creates it on first start.");
        }

        return (LoadFile(path), path);
    }

    private static X509Certificate2 LoadFile(string path)
    {
        if (!File.Exists(path))
        {
            throw CliException.NotFound($"no certificate file {path}.");
        }

        try
        {
            return path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase)
                ? X509CertificateLoader.LoadPkcs12FromFile(path, null)
                : X509CertificateLoader.LoadCertificateFromFile(path);
        }
        catch (CryptographicException e)
        {
            throw CliException.Usage($"{path} is not a certificate this command reads (PEM, DER, or PFX without a password): {e.Message}");
        }
    }

    /// <summary>Opens a TLS connection accepting any certificate, only to read the one the server presents.</summary>
    private static async Task<X509Certificate2> FetchAsync(string text, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            throw CliException.Usage($"--url takes the server's https://HOST:PORT (got '{text}').");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(HandshakeTimeout);
        using var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(uri.Host, uri.Port, timeout.Token);
            // Any certificate is accepted: nothing is sent over this connection, it only shows what the server presents.
            await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, certificate, _, _) => certificate is not null);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = uri.Host }, timeout.Token);
            var presented = tls.RemoteCertificate ?? throw new CliException(ExitCodes.Network, $"{uri.Authority} presented no certificate.");
            return X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Network, $"no TLS answer from {uri.Authority} in {HandshakeTimeout.TotalSeconds:0} s.");
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            throw new CliException(ExitCodes.Network, $"the TLS handshake with {uri.Authority} failed (does it serve https?): {e.Message}");
        }
        catch (SocketException e)
        {
            throw new CliException(ExitCodes.Network, $"cannot connect to {uri.Authority}: {e.Message}");
        }
    }

    private sealed record FingerprintJson(string Fingerprint, string Subject, DateTimeOffset NotBefore, DateTimeOffset NotAfter, string Source);
}
