using System.CommandLine;

namespace Depot.Cli.Shell;

/// <summary>Options every client command takes (declared once on the root, recursive).</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> Url = new("--url")
    {
        Description = "Server URL, or several separated by commas for failover (default: $DEPOT_URL, the profile's, else http://127.0.0.1:8080).",
        Recursive = true,
        HelpName = "URL",
    };

    public static readonly Option<string?> Key = new("--key")
    {
        Description = "API key (default: $DEPOT_KEY or the profile's). Other users can see command lines: prefer DEPOT_KEY or a profile.",
        Recursive = true,
        HelpName = "KEY",
    };

    public static readonly Option<string?> Fingerprint = new("--fingerprint")
    {
        Description = "Trust the server's TLS certificate with this SHA-256 fingerprint (default: $DEPOT_FINGERPRINT or the profile's).",
        Recursive = true,
        HelpName = "SHA256",
    };

    public static readonly Option<string?> Profile = new("--profile")
    {
        Description = "Connection profile of the config file to use (default: $DEPOT_PROFILE, else the current one).",
        Recursive = true,
        HelpName = "NAME",
    };

    public static readonly Option<string?> Timeout = new("--timeout")
    {
        Description = "How long to wait for an answer, e.g. 30s, 5m (default 100s; transfers are limited only by stalls).",
        Recursive = true,
        HelpName = "DURATION",
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print results as JSON (one document on stdout; errors as JSON on stderr).",
        Recursive = true,
    };

    public static readonly Option<bool> Quiet = new("--quiet", "-q")
    {
        Description = "Print no progress and no informational lines (data asked for and errors still are).",
        Recursive = true,
    };

    public static IEnumerable<Option> All => [Url, Key, Fingerprint, Profile, Timeout, Json, Quiet];
}
