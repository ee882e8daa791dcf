using System.Text.Json;
using System.Text.Json.Serialization;
using Depot.Cli.Shell;

namespace Depot.Cli.Configuration;

/// <summary>One named connection in the config file.</summary>
internal sealed class Profile
{
    /// <summary>Server URL; several separated by commas are tried in order (failover).</summary>
    public string? Url { get; set; }

    public string? Key { get; set; }

    /// <summary>SHA-256 fingerprint of the server's TLS certificate, as <c>depot serve --tls-self-signed</c> prints it.</summary>
    public string? Fingerprint { get; set; }

    /// <summary>Time to wait for an answer, as a duration (e.g. 30s).</summary>
    public string? Timeout { get; set; }
}

/// <summary>The config file's content: named profiles and the one used when none is named.</summary>
internal sealed class ProfileFile
{
    public string? Current { get; set; }

    public SortedDictionary<string, Profile> Profiles { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Reads and writes the config file (<c>$DEPOT_CONFIG</c>, else <c>$XDG_CONFIG_HOME/depot/config.json</c>, else
/// <c>~/.config/depot/config.json</c>). It holds API keys, so it is created readable by its owner only and replaced
/// atomically (a crash mid-write never leaves half a file).
/// </summary>
internal static class ProfileStore
{
    public const string DefaultProfile = "default";

    /// <summary>The names a profile holds, in the order <c>config show</c> prints them.</summary>
    public static readonly string[] Settings = ["url", "key", "fingerprint", "timeout"];

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string FilePath
    {
        get
        {
            if (Environment.GetEnvironmentVariable("DEPOT_CONFIG") is { Length: > 0 } explicitPath)
            {
                return Path.GetFullPath(explicitPath);
            }

            var configHome = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
            return Path.Combine(configHome, "depot", "config.json");
        }
    }

    public static ProfileFile Load()
    {
        var path = FilePath;
        if (!File.Exists(path))
        {
            return new ProfileFile();
        }

        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize<ProfileFile>(stream, JsonOptions) ?? new ProfileFile();
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCodes.Usage, $"the config file {path} is not valid JSON ({e.Message}); fix or remove it.");
        }
    }

    public static void Save(ProfileFile file)
    {
        var path = FilePath;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp-" + Environment.ProcessId;
        // A leftover (or planted) temporary file is removed first and the new one created exclusively, so the keys
        // only ever go into a file this process created with mode 0600.
        File.Delete(temporary);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                JsonSerializer.Serialize(stream, file, JsonOptions);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary); // gone already after the move; removed here when writing failed
        }
    }

    /// <summary>The profile to use: <c>--profile</c>, else <c>$DEPOT_PROFILE</c>, else the file's current one, else "default".</summary>
    public static string SelectedName(string? requested, ProfileFile file) => NamedProfile(requested) ?? file.Current ?? DefaultProfile;

    /// <summary>The profile the user named (<c>--profile</c>, else <c>$DEPOT_PROFILE</c>), or null: a named profile
    /// must exist, while the implicit "default" may not.</summary>
    public static string? NamedProfile(string? requested) =>
        requested ?? (Environment.GetEnvironmentVariable("DEPOT_PROFILE") is { Length: > 0 } fromEnvironment ? fromEnvironment : null);

    /// <summary>Refuses a name that is not one of <see cref="Settings"/>.</summary>
    public static void RequireSetting(string setting)
    {
        if (!Settings.Contains(setting, StringComparer.Ordinal))
        {
            throw UnknownSetting(setting);
        }
    }

    public static string? Get(Profile profile, string setting) => setting switch
    {
        "url" => profile.Url,
        "key" => profile.Key,
        "fingerprint" => profile.Fingerprint,
        "timeout" => profile.Timeout,
        _ => throw UnknownSetting(setting),
    };

    public static void Set(Profile profile, string setting, string? value)
    {
        switch (setting)
        {
            case "url": profile.Url = value; break;
            case "key": profile.Key = value; break;
            case "fingerprint": profile.Fingerprint = value; break;
            case "timeout": profile.Timeout = value; break;
            default: throw UnknownSetting(setting);
        }
    }

    private static CliException UnknownSetting(string setting) =>
        CliException.Usage($"'{setting}' is not a setting; a profile holds {string.Join(", ", Settings)}.");
}
