using System.CommandLine;
using Depot.Cli.Configuration;
using Depot.Cli.Shell;

namespace Depot.Cli.Commands.Config;

/// <summary>
/// <c>depot config set|get|unset|show|list|use|rm|path</c>: the connection profiles of the config file. The profile
/// worked on is <c>--profile</c>, else <c>$DEPOT_PROFILE</c>, else the current one, else "default". Nothing here
/// talks to a server, and the key is printed only by <c>config get key --show-key</c>.
/// </summary>
internal static class ConfigCommand
{
    public static Command Create() => new("config", "Manage connection profiles (url, key, fingerprint, timeout) in the config file.\n" +
        "Flags (--url, --key, ...) win over environment variables (DEPOT_URL, DEPOT_KEY, ...), which win over the profile.")
    {
        SetSetting(),
        GetSetting(),
        UnsetSetting(),
        Show(),
        ListProfiles(),
        Use(),
        RemoveProfile(),
        PathOfFile(),
    };

    private static Command SetSetting()
    {
        var name = SettingArgument();
        var value = new Argument<string>("VALUE") { Description = "The value; for the key, '-' reads it from stdin (keeps it out of the shell history)." };
        var command = WithOptions(new Command("set", "Set a setting of the profile (created if new).") { name, value });
        CliAction.Set(command, async context =>
        {
            var setting = context.Value(name);
            var text = context.Value(value);
            if (text == "-")
            {
                text = (await Console.In.ReadLineAsync(context.Cancellation))?.Trim() ?? "";
            }

            var file = ProfileStore.Load();
            var profileName = ProfileStore.SelectedName(context.Value(GlobalOptions.Profile), file);
            ProfileStore.RequireSetting(setting);
            var normalized = Validate(setting, text);
            if (!file.Profiles.TryGetValue(profileName, out var profile))
            {
                profile = new Profile();
                file.Profiles[profileName] = profile;
            }

            ProfileStore.Set(profile, setting, normalized);
            ProfileStore.Save(file);
            context.Output.Info($"set {setting} of profile '{profileName}' in {ProfileStore.FilePath}");
            if (!IsCurrent(file, profileName))
            {
                context.Output.Info($"'{profileName}' is not the current profile: use it with --profile {profileName}, or make it current with 'depot config use {profileName}'.");
            }

            context.Output.WriteJson(new SettingJson(profileName, setting, setting == "key" ? Mask(normalized) : normalized));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command GetSetting()
    {
        var name = SettingArgument();
        var showKey = new Option<bool>("--show-key") { Description = "Print the key itself (otherwise it is masked)." };
        var command = WithOptions(new Command("get", "Print a setting of the profile (exit 3 if it is not set).") { name, showKey });
        CliAction.Set(command, context =>
        {
            var setting = context.Value(name);
            ProfileStore.RequireSetting(setting);
            var (profileName, profile) = Selected(context);
            var value = profile is null ? null : ProfileStore.Get(profile, setting);
            if (value is null)
            {
                throw CliException.NotFound($"{setting} is not set in profile '{profileName}'.");
            }

            var shown = setting == "key" && !context.Value(showKey) ? Mask(value) : value;
            context.Output.Data(shown);
            context.Output.WriteJson(new SettingJson(profileName, setting, shown));
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command UnsetSetting()
    {
        var name = SettingArgument();
        var command = WithOptions(new Command("unset", "Remove a setting from the profile.") { name });
        CliAction.Set(command, context =>
        {
            var setting = context.Value(name);
            ProfileStore.RequireSetting(setting);
            var file = ProfileStore.Load();
            var profileName = ProfileStore.SelectedName(context.Value(GlobalOptions.Profile), file);
            if (!file.Profiles.TryGetValue(profileName, out var profile))
            {
                throw MissingProfile(context, profileName);
            }

            ProfileStore.Set(profile, setting, null);
            ProfileStore.Save(file);
            context.Output.Info($"unset {setting} of profile '{profileName}'");
            context.Output.WriteJson(new SettingJson(profileName, setting, null));
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command Show()
    {
        var command = WithOptions(new Command("show", "Show the profile's settings (the key masked) and the config file's path."));
        CliAction.Set(command, context =>
        {
            var (profileName, profile) = Selected(context);
            profile ??= new Profile();
            var file = ProfileStore.Load();
            var key = profile.Key is { } secret ? Mask(secret) : null;
            context.Output.WriteJson(new ProfileJson(profileName, IsCurrent(file, profileName), ProfileStore.FilePath, profile.Url, key, profile.Fingerprint, profile.Timeout));
            context.Output.Table(
            [
                ["profile:", profileName + (IsCurrent(file, profileName) ? " (current)" : "")],
                ["file:", ProfileStore.FilePath],
                ["url:", profile.Url ?? "-"],
                ["key:", key ?? "-"],
                ["fingerprint:", profile.Fingerprint ?? "-"],
                ["timeout:", profile.Timeout ?? "-"],
            ]);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command ListProfiles()
    {
        var command = WithOptions(new Command("list", "List the profiles; the current one is marked with *."));
        command.Aliases.Add("ls");
        CliAction.Set(command, context =>
        {
            var file = ProfileStore.Load();
            var profiles = file.Profiles.Select(p => new ProfileJson(p.Key, IsCurrent(file, p.Key), null, p.Value.Url, null, null, null)).ToList();
            context.Output.WriteJson(profiles);
            if (profiles.Count == 0)
            {
                context.Output.Info($"no profiles in {ProfileStore.FilePath}; create one with 'depot config set url URL'.");
            }

            context.Output.Table(profiles.Select(p => new[] { p.Current ? "*" : " ", p.Profile, p.Url ?? "-" }).ToList());
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command Use()
    {
        var name = new Argument<string>("PROFILE") { Description = "The profile to make current." };
        var command = WithOptions(new Command("use", "Make a profile the current one (used when --profile and DEPOT_PROFILE are not given).") { name });
        CliAction.Set(command, context =>
        {
            var file = ProfileStore.Load();
            var profileName = context.Value(name);
            if (!file.Profiles.ContainsKey(profileName))
            {
                throw CliException.NotFound($"there is no profile '{profileName}'; create it with 'depot config set url URL --profile {profileName}'.");
            }

            file.Current = profileName;
            ProfileStore.Save(file);
            context.Output.Info($"the current profile is now '{profileName}'");
            context.Output.WriteJson(new { current = profileName });
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command RemoveProfile()
    {
        var name = new Argument<string>("PROFILE") { Description = "The profile to remove." };
        var command = WithOptions(new Command("rm", "Remove a profile and its settings.") { name });
        CliAction.Set(command, context =>
        {
            var file = ProfileStore.Load();
            var profileName = context.Value(name);
            if (!file.Profiles.Remove(profileName))
            {
                throw CliException.NotFound($"there is no profile '{profileName}'.");
            }

            if (file.Current == profileName)
            {
                file.Current = null;
            }

            ProfileStore.Save(file);
            context.Output.Info($"removed profile '{profileName}'");
            context.Output.WriteJson(new { removed = profileName });
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Command PathOfFile()
    {
        var command = WithOptions(new Command("path", "Print the config file's path ($DEPOT_CONFIG, else $XDG_CONFIG_HOME/depot/config.json, else ~/.config/depot/config.json)."));
        CliAction.Set(command, context =>
        {
            context.Output.Data(ProfileStore.FilePath);
            context.Output.WriteJson(new { path = ProfileStore.FilePath });
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Argument<string> SettingArgument() => new("NAME") { Description = "url, key, fingerprint or timeout." };

    /// <summary>Only the options that mean something without a server: which profile, and the output mode.</summary>
    private static Command WithOptions(Command command)
    {
        command.Options.Add(GlobalOptions.Profile);
        command.Options.Add(GlobalOptions.Json);
        command.Options.Add(GlobalOptions.Quiet);
        return command;
    }

    /// <summary>The selected profile, or null when it does not exist yet; a missing profile named by --profile is an
    /// error, as it is for every other command.</summary>
    private static (string Name, Profile? Profile) Selected(CliContext context)
    {
        var file = ProfileStore.Load();
        var profileName = ProfileStore.SelectedName(context.Value(GlobalOptions.Profile), file);
        if (file.Profiles.TryGetValue(profileName, out var profile))
        {
            return (profileName, profile);
        }

        return ProfileStore.NamedProfile(context.Value(GlobalOptions.Profile)) is null ? (profileName, null) : throw MissingProfile(context, profileName);
    }

    private static CliException MissingProfile(CliContext context, string profileName) => ProfileStore.NamedProfile(context.Value(GlobalOptions.Profile)) is null
        ? CliException.NotFound($"there is no profile '{profileName}' in {ProfileStore.FilePath}.")
        : CliException.Usage($"there is no profile '{profileName}' in {ProfileStore.FilePath}; create it with 'depot config set url URL --profile {profileName}'.");

    /// <summary>The profile used when none is named: the file's current one, else "default".</summary>
    private static bool IsCurrent(ProfileFile file, string profileName) => (file.Current ?? ProfileStore.DefaultProfile) == profileName;

    /// <summary>Checks a value before it is stored, so that a typo fails now rather than at the next command.</summary>
    private static string Validate(string setting, string value)
    {
        value = value.Trim();
        switch (setting)
        {
            case "url":
                ConnectionSettings.ParseServers(value);
                return value;
            case "timeout":
                Units.RequireDuration(value, "timeout");
                return value;
            case "fingerprint":
                var hex = value.Replace(":", "", StringComparison.Ordinal);
                return hex.Length == 64 && hex.All(char.IsAsciiHexDigit)
                    ? value
                    : throw CliException.Usage("a fingerprint is a SHA-256: 64 hex digits, colons allowed (as 'depot tls fingerprint' prints it).");
            default:
                return value.Length > 0 && !value.Any(char.IsWhiteSpace)
                    ? value
                    : throw CliException.Usage("the key is empty or holds white space.");
        }
    }

    /// <summary>Shows that a key is set without showing any of its secret.</summary>
    internal static string Mask(string key) => key.StartsWith("dpk_", StringComparison.Ordinal) ? "dpk_…(set)" : "…(set)";

    private sealed record SettingJson(string Profile, string Name, string? Value);

    private sealed record ProfileJson(string Profile, bool Current, string? Path, string? Url, string? Key, string? Fingerprint, string? Timeout);
}
