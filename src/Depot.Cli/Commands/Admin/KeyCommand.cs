using System.CommandLine;
using System.Globalization;
using Depot.Cli.Shell;
using Depot.Protocol;

namespace Depot.Cli.Commands.Admin;

/// <summary><c>depot key create|list|revoke</c>: API keys of the server (needs an unrestricted admin key).</summary>
internal static class KeyCommand
{
    private static readonly string[] ScopeNames = ["read", "write", "delete", "admin"];

    public static Command Create() => new("key", "Manage the server's API keys (needs the admin key).")
    {
        CreateKey(),
        ListKeys(),
        RevokeKey(),
    };

    private static Command CreateKey()
    {
        var scope = new Option<string[]>("--scope", "-s")
        {
            Description = "What the key may do: read, write, delete, admin, comma-separated or repeated.",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
            HelpName = "SCOPES",
        };
        var bucket = new Option<string?>("--bucket") { Description = "Limit the key to this bucket.", HelpName = "BUCKET" };
        var prefix = new Option<string?>("--prefix") { Description = "Limit the key to keys under this prefix (e.g. uploads/).", HelpName = "PREFIX" };
        var expires = new Option<string?>("--expires") { Description = "Expiry: a duration from now (30d, 12h) or a date/time (2027-01-31, 2027-01-31T12:00:00Z).", HelpName = "WHEN" };
        var name = new Option<string?>("--name") { Description = "A name to recognise the key by in 'key list'.", HelpName = "NAME" };
        var rateLimit = new Option<int?>("--rate-limit") { Description = "Requests per second for this key (default: the server's).", HelpName = "N" };
        var command = new Command("create", "Create an API key and print its secret (shown this once only).") { scope, bucket, prefix, expires, name, rateLimit };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var request = new CreateKeyRequestDto
            {
                Name = context.Value(name),
                Scopes = ParseScopes(context.Value(scope)),
                Bucket = context.Value(bucket),
                Prefix = context.Value(prefix),
                Expires = context.Value(expires) is { } text ? ParseExpiry(text) : null,
                RateLimit = context.Value(rateLimit) is { } limit ? (limit > 0 ? limit : throw CliException.Usage("--rate-limit takes a positive number of requests per second.")) : 0,
            };
            var created = await context.Client.CreateApiKeyAsync(request, context.Cancellation);
            if (context.Output.Json)
            {
                context.Output.WriteJson(KeyJson.From(created) with { Token = created.Token });
                return ExitCodes.Ok;
            }

            context.Output.Info($"Created key {created.Id} ({Describe(created)}). Its secret, shown only now:");
            context.Output.Data(created.Token ?? throw new InvalidOperationException("the server did not return the new key's secret."));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command ListKeys()
    {
        var command = new Command("list", "List the API keys (never their secrets).");
        command.Aliases.Add("ls");
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var keys = await context.Client.ListApiKeysAsync(context.Cancellation);
            context.Output.WriteJson(keys.Select(KeyJson.From).ToList());
            List<string[]> rows = [["ID", "NAME", "SCOPES", "BUCKET", "PREFIX", "CREATED", "EXPIRES", "REVOKED"]];
            rows.AddRange(keys.Select(k => new[]
            {
                k.Id, Dash(k.Name), string.Join(',', k.Scopes), Dash(k.Bucket), Dash(k.Prefix), Units.FormatTime(k.Created),
                k.Expires is { } expires ? Units.FormatTime(expires) : "-", k.Revoked is { } revoked ? Units.FormatTime(revoked) : "-",
            }));
            if (keys.Count > 0)
            {
                context.Output.Table(rows);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command RevokeKey()
    {
        var id = new Argument<string>("ID") { Description = "The key's id (from 'key list'; the part after dpk_ of its secret)." };
        var command = new Command("revoke", "Revoke an API key at once (exit 3 if there is no such key).") { id };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            context.Subject = context.Value(id);
            await context.Client.RevokeApiKeyAsync(context.Value(id), context.Cancellation);
            context.Output.Info($"revoked key {context.Value(id)}");
            context.Output.WriteJson(new { id = context.Value(id), revoked = true });
            return ExitCodes.Ok;
        });
        return command;
    }

    private static List<string> ParseScopes(string[] values)
    {
        var scopes = values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(s => s.ToLowerInvariant())
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var unknown = scopes.Where(s => !ScopeNames.Contains(s)).ToList();
        if (scopes.Count == 0 || unknown.Count > 0)
        {
            var got = unknown.Count > 0 ? $" (got '{string.Join(',', unknown)}')" : "";
            throw CliException.Usage($"--scope takes any of {string.Join(", ", ScopeNames)}, comma-separated{got}.");
        }

        return scopes;
    }

    /// <summary>A duration from now (30d) or an absolute date or time; a date alone means its midnight UTC.</summary>
    private static DateTimeOffset ParseExpiry(string text)
    {
        if (Units.ParseDuration(text) is { } duration)
        {
            return DateTimeOffset.UtcNow + duration;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
        {
            return at > DateTimeOffset.UtcNow ? at : throw CliException.Usage($"--expires {text} is in the past.");
        }

        throw CliException.Usage($"--expires takes a duration (30d, 12h) or a date/time (2027-01-31, 2027-01-31T12:00:00Z), not '{text}'.");
    }

    private static string Describe(ApiKeyDto key)
    {
        var parts = new List<string> { "scopes " + string.Join(',', key.Scopes) };
        if (key.Bucket is not null)
        {
            parts.Add("bucket " + key.Bucket);
        }

        if (key.Prefix is not null)
        {
            parts.Add("prefix " + key.Prefix);
        }

        parts.Add(key.Expires is { } expires ? "expires " + Units.FormatTime(expires) : "never expires");
        return string.Join("; ", parts);
    }

    private static string Dash(string? text) => string.IsNullOrEmpty(text) ? "-" : text;

    /// <summary>A key as <c>--json</c> prints it; <see cref="Token"/> only in the answer of <c>key create</c>.</summary>
    private sealed record KeyJson(string Id, string Name, IReadOnlyList<string> Scopes, string? Bucket, string? Prefix, DateTimeOffset Created,
        DateTimeOffset? Expires, DateTimeOffset? Revoked, int? RateLimit, string? Token = null)
    {
        public static KeyJson From(ApiKeyDto k) => new(k.Id, k.Name, k.Scopes, k.Bucket, k.Prefix, k.Created, k.Expires, k.Revoked, k.RateLimit > 0 ? k.RateLimit : null);
    }
}
