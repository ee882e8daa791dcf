using System.CommandLine;
using System.Text;
using System.Text.Json.Serialization;
using Depot.Cli.Shell;
using Depot.Client;

namespace Depot.Cli.Commands.KeyValue;

/// <summary>
/// <c>depot kv put|get|update|rm|cas</c>: the key-value face of a bucket (<see cref="DepotKeyValue"/>). Values are bytes,
/// passed as an argument or on stdin, and printed to stdout exactly as stored.
/// </summary>
internal static class KvCommand
{
    private static readonly Option<string> Bucket = new("--bucket", "-b")
    {
        Description = "Bucket that holds the entries.",
        DefaultValueFactory = _ => "default",
        Recursive = true,
        HelpName = "BUCKET",
    };

    public static Command Create()
    {
        var command = new Command("kv", "Key-value entries: create, read, replace, compare-and-swap, remove.\n" +
            "KEY is the entry's key inside --bucket (a leading '/' is ignored). VALUE '-' or left out reads stdin.")
        {
            Bucket,
            Put(),
            Get(),
            Update(),
            Remove(),
            CompareAndSwap(),
        };
        return command;
    }

    private static Command Put()
    {
        var (key, value, ttl) = (KeyArgument(), ValueArgument(), TtlOption());
        var command = new Command("put", "Create an entry; refused (exit 4) if the key exists.") { key, value, ttl };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var (kv, name) = Open(context, key);
            var bytes = await ReadValueAsync(context, value);
            KeyValueInfo info;
            try
            {
                info = await kv.PutAsync(name, bytes, WriteOptions(context, ttl), context.Cancellation);
            }
            catch (AlreadyExistsException)
            {
                throw CliException.Exists("the key exists; replace it with 'depot kv update', or with 'depot kv cas' to replace only the version you read.");
            }

            Report(context, "created", kv.Bucket, info);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Update()
    {
        var (key, value, ttl) = (KeyArgument(), ValueArgument(), TtlOption());
        var command = new Command("update", "Create or replace an entry (without --ttl it becomes permanent).") { key, value, ttl };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var (kv, name) = Open(context, key);
            var bytes = await ReadValueAsync(context, value);
            var info = await kv.UpdateAsync(name, bytes, WriteOptions(context, ttl), context.Cancellation);
            Report(context, "stored", kv.Bucket, info);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command CompareAndSwap()
    {
        var (key, value, ttl) = (KeyArgument(), ValueArgument(), TtlOption());
        var expect = new Option<string>("--expect")
        {
            Description = "Replace only while the entry's ETag is this one (from 'kv get --etag').",
            Required = true,
            HelpName = "ETAG",
        };
        var command = new Command("cas", "Compare-and-swap: replace an entry only if it still holds the expected version (else exit 6).") { key, value, expect, ttl };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var (kv, name) = Open(context, key);
            if (string.IsNullOrWhiteSpace(context.Value(expect)))
            {
                throw CliException.Usage("--expect is empty; read the current ETag with 'depot kv get --etag KEY'.");
            }

            var bytes = await ReadValueAsync(context, value);
            string etag;
            try
            {
                etag = await kv.CompareAndSwapAsync(name, bytes, context.Value(expect), WriteOptions(context, ttl), context.Cancellation);
            }
            catch (PreconditionFailedException e) when (e.CurrentETag is null)
            {
                throw CliException.NotFound("there is no entry to swap; create it with 'depot kv put'.");
            }
            catch (PreconditionFailedException e)
            {
                throw new CliException(ExitCodes.Conflict, $"the entry changed: its ETag is now {e.CurrentETag}, not {context.Value(expect)}; nothing was written. Read it again and retry.");
            }

            Report(context, "swapped", kv.Bucket, name, etag, bytes.Length, expires: null);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Get()
    {
        var key = KeyArgument();
        var etagOnly = new Option<bool>("--etag") { Description = "Print only the entry's ETag (its version, for 'kv cas --expect' and 'kv rm --if-match')." };
        var command = new Command("get", "Print an entry's value to stdout, byte for byte.") { key, etagOnly };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var (kv, name) = Open(context, key);
            if (context.Value(etagOnly) && !context.Output.Json)
            {
                await using var stream = await kv.GetStreamAsync(name, context.Cancellation);
                context.Output.Data(stream.ETag);
                return ExitCodes.Ok;
            }

            if (context.Output.Json)
            {
                var entry = await kv.GetAsync(name, context.Cancellation);
                var text = TryDecodeUtf8(entry.Value);
                context.Output.WriteJson(new EntryJson(kv.Bucket, entry.Key, text ?? Convert.ToBase64String(entry.Value), text is null ? "base64" : null,
                    entry.Value.LongLength, entry.ETag, entry.Expires, entry.ContentType));
                return ExitCodes.Ok;
            }

            // Streamed: a value larger than memory still prints, and it is checked against its SHA-256 at the end.
            await using (var stream = await kv.GetStreamAsync(name, context.Cancellation))
            {
                await using var stdout = Console.OpenStandardOutput();
                await stream.CopyToAsync(stdout, context.Cancellation);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Remove()
    {
        var key = KeyArgument();
        var ifMatch = new Option<string?>("--if-match") { Description = "Remove only while the entry's ETag is this one (else exit 6).", HelpName = "ETAG" };
        var command = new Command("rm", "Remove an entry (exit 3 if there is none).") { key, ifMatch };
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var (kv, name) = Open(context, key);
            if (context.Value(ifMatch) is { } expected)
            {
                if (string.IsNullOrWhiteSpace(expected))
                {
                    throw CliException.Usage("--if-match is empty; read the current ETag with 'depot kv get --etag KEY'.");
                }

                try
                {
                    await kv.DeleteAsync(name, expected, context.Cancellation);
                }
                catch (PreconditionFailedException e) when (e.CurrentETag is null)
                {
                    throw CliException.NotFound("there is no entry.");
                }
                catch (PreconditionFailedException e)
                {
                    throw new CliException(ExitCodes.Conflict, $"the entry changed: its ETag is now {e.CurrentETag}, not {expected}; nothing was removed.");
                }
            }
            else
            {
                await kv.DeleteAsync(name, context.Cancellation);
            }

            context.Output.Info($"removed {kv.Bucket}/{name}");
            context.Output.WriteJson(new RemovedJson(kv.Bucket, name, true));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Argument<string> KeyArgument() => new("KEY") { Description = "The entry's key inside the bucket." };

    private static Argument<string?> ValueArgument() => new("VALUE")
    {
        Description = "The value; '-' or left out reads it from stdin.",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private static Option<string?> TtlOption() => new("--ttl")
    {
        Description = "The entry expires this long after the write, e.g. 90s, 30m, 24h, 7d (default: never).",
        HelpName = "DURATION",
    };

    private static (DepotKeyValue Kv, string Key) Open(CliContext context, Argument<string> key)
    {
        var bucket = context.Value(Bucket);
        var name = context.Value(key);
        if (name.StartsWith('/'))
        {
            name = name[1..];
        }

        context.Subject = $"{bucket}/{name}";
        if (name.Length == 0)
        {
            throw CliException.Usage("KEY is empty.");
        }

        return (context.Client.KeyValue(bucket), name);
    }

    private static async Task<byte[]> ReadValueAsync(CliContext context, Argument<string?> value)
    {
        if (context.Value(value) is { } text and not "-")
        {
            return Encoding.UTF8.GetBytes(text);
        }

        if (!Console.IsInputRedirected)
        {
            throw CliException.Usage("give VALUE, or pipe the value into stdin (e.g. depot kv put KEY - < file).");
        }

        await using var stdin = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        await stdin.CopyToAsync(buffer, context.Cancellation);
        return buffer.ToArray();
    }

    private static KeyValueWriteOptions? WriteOptions(CliContext context, Option<string?> ttl) =>
        context.Value(ttl) is { } text ? new KeyValueWriteOptions { TimeToLive = Units.RequireDuration(text, "--ttl") } : null;

    private static void Report(CliContext context, string verb, string bucket, KeyValueInfo info) =>
        Report(context, verb, bucket, info.Key, info.ETag, info.Size, info.Expires);

    /// <param name="expires">When the entry expires; null for never, or unknown (a swap answers only the new ETag).</param>
    private static void Report(CliContext context, string verb, string bucket, string key, string etag, long size, DateTimeOffset? expires)
    {
        var expiry = expires is { } at ? $", expires {Units.FormatTime(at)}" : "";
        context.Output.Info($"{verb} {bucket}/{key} ({Units.FormatSize(size)}, etag {etag}{expiry})");
        context.Output.WriteJson(new WrittenJson(bucket, key, etag, size, expires));
    }

    private static string? TryDecodeUtf8(byte[] bytes)
    {
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private sealed record EntryJson(string Bucket, string Key, string Value, string? Encoding, long Size, [property: JsonPropertyName("etag")] string ETag, DateTimeOffset? Expires, string? ContentType);

    private sealed record WrittenJson(string Bucket, string Key, [property: JsonPropertyName("etag")] string ETag, long Size, DateTimeOffset? Expires);

    private sealed record RemovedJson(string Bucket, string Key, bool Removed);
}
