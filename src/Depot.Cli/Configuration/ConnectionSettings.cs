using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Configuration;

/// <summary>
/// Where a client command connects and with what key: each setting comes from its flag, else its environment variable
/// (<c>DEPOT_URL</c>, <c>DEPOT_KEY</c>, <c>DEPOT_FINGERPRINT</c>, <c>DEPOT_TIMEOUT</c>), else the selected profile of the
/// config file, else the default (<c>http://127.0.0.1:8080</c>, no key: what a bare <c>depot serve</c> listens on).
/// </summary>
internal sealed record ConnectionSettings(IReadOnlyList<Uri> Servers, string? ApiKey, string? Fingerprint, TimeSpan Timeout, string ProfileName)
{
    public const string DefaultUrl = "http://127.0.0.1:8080";

    public static ConnectionSettings Resolve(string? urlFlag, string? keyFlag, string? fingerprintFlag, string? timeoutFlag, string? profileFlag)
    {
        var file = ProfileStore.Load();
        var profileName = ProfileStore.SelectedName(profileFlag, file);
        file.Profiles.TryGetValue(profileName, out var profile);
        if (profile is null && ProfileStore.NamedProfile(profileFlag) is not null)
        {
            var namedBy = profileFlag is null ? "DEPOT_PROFILE names" : "there is";
            throw CliException.Usage($"{namedBy} no profile '{profileName}' in {ProfileStore.FilePath}; create it with 'depot config set url URL --profile {profileName}'.");
        }

        var url = urlFlag ?? Environment("DEPOT_URL") ?? profile?.Url ?? DefaultUrl;
        var key = keyFlag ?? Environment("DEPOT_KEY") ?? profile?.Key;
        var fingerprint = fingerprintFlag ?? Environment("DEPOT_FINGERPRINT") ?? profile?.Fingerprint;
        var timeoutText = timeoutFlag ?? Environment("DEPOT_TIMEOUT") ?? profile?.Timeout;
        var timeout = timeoutText is null ? TimeSpan.FromSeconds(100) : Units.RequireDuration(timeoutText, "--timeout");
        return new ConnectionSettings(ParseServers(url), key, fingerprint, timeout, profileName);
    }

    /// <summary>One URL, or several separated by commas (tried in order, as the SDK's failover does).</summary>
    public static IReadOnlyList<Uri> ParseServers(string text)
    {
        var servers = new List<Uri>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw CliException.Usage($"'{part}' is not a server URL; write it as http://HOST:PORT or https://HOST:PORT.");
            }

            servers.Add(uri);
        }

        return servers.Count > 0 ? servers : throw CliException.Usage("the server URL is empty.");
    }

    public DepotClientOptions ToClientOptions()
    {
        var options = new DepotClientOptions
        {
            ApiKey = ApiKey,
            CertificateFingerprint = Fingerprint,
            Timeout = Timeout,
            UserAgent = "depot-cli/" + (typeof(ConnectionSettings).Assembly.GetName().Version?.ToString(3) ?? "0"),
        };
        if (System.Environment.GetEnvironmentVariable("DEPOT_STATE_DIR") is { Length: > 0 } stateDirectory)
        {
            options.StateDirectory = stateDirectory;
        }

        foreach (var server in Servers)
        {
            options.Servers.Add(server);
        }

        return options;
    }

    private static string? Environment(string name) => System.Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}
