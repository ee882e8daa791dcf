using System.Text.Json;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Security;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary><c>?meta</c>: an object's user metadata as one JSON object of names to strings (FastDFS set/get metadata).</summary>
/// <remarks>Names are lower-cased, as they are when they travel as <c>X-Depot-Meta-*</c> headers. Changing metadata
/// changes neither the bytes nor the ETag (the ETag is the SHA-256 of the bytes).</remarks>
public sealed class MetadataHandlers(ObjectEngine engine, AccessGuard guard)
{
    /// <summary>"GET ?meta answers the metadata as a JSON object."</summary>
    public async Task GetAsync(HttpContext context, ObjectTarget target)
    {
        var denied = await guard.CheckAsync(context, Scopes.Read, target.Bucket, target.Key.Value);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        var stat = await engine.StatAsync(target.Bucket, target.Key, context.RequestAborted);
        Result<ObjectRecord> record = !stat.TryGetValue(out var found, out var error) ? error
            : found.Object is { } file ? file
            : DepotError.Conflict($"'{target.Key}' is a directory; only objects have metadata.");
        await AnswerAsync(context, record);
    }

    /// <summary>"PUT ?meta replaces all metadata with the JSON object in the body (overwrite)."</summary>
    public Task ReplaceAsync(HttpContext context, ObjectTarget target) =>
        ChangeAsync(context, target, readBody: true, (current, body) =>
        {
            if (!Normalize(body!, allowNull: false).TryGetValue(out var replacement, out var error))
            {
                return error;
            }

            return replacement.ToDictionary(p => p.Key, p => p.Value!, StringComparer.Ordinal);
        });

    /// <summary>"PATCH ?meta merges the JSON object into the metadata (RFC 7396 merge patch: null removes a name)."</summary>
    public Task MergeAsync(HttpContext context, ObjectTarget target) =>
        ChangeAsync(context, target, readBody: true, (current, body) =>
        {
            if (!Normalize(body!, allowNull: true).TryGetValue(out var patch, out var error))
            {
                return error;
            }

            var merged = new Dictionary<string, string>(current, StringComparer.Ordinal);
            foreach (var (name, value) in patch)
            {
                if (value is null)
                {
                    merged.Remove(name);
                }
                else
                {
                    merged[name] = value;
                }
            }

            return merged;
        });

    /// <summary>"DELETE ?meta=a,b removes those names (names that are not there are ignored)."</summary>
    public async Task DeleteNamesAsync(HttpContext context, ObjectTarget target)
    {
        if (await guard.CheckAsync(context, Scopes.Write, target.Bucket, target.Key.Value) is { } denied)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        var names = context.Request.Query[DepotQuery.Meta].ToString()
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(n => n.ToLowerInvariant())
            .ToHashSet(StringComparer.Ordinal);
        if (names.Count == 0)
        {
            await Problems.WriteAsync(context, DepotError.InvalidRequest("Name the metadata to delete: ?meta=name1,name2 (PUT ?meta with {} removes all)."));
            return;
        }

        await ChangeAsync(context, target, readBody: false, (current, _) =>
            current.Where(p => !names.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal));
    }

    private async Task ChangeAsync(HttpContext context, ObjectTarget target, bool readBody, Func<IReadOnlyDictionary<string, string>, Dictionary<string, string?>?, Result<Dictionary<string, string>>> change)
    {
        var denied = await guard.CheckAsync(context, Scopes.Write, target.Bucket, target.Key.Value);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        if (!WriteHandlers.ParsePrecondition(context.Request).TryGetValue(out var precondition, out var preError))
        {
            await Problems.WriteAsync(context, preError);
            return;
        }

        Dictionary<string, string?>? body = null;
        if (readBody)
        {
            if (!(await JsonBodies.ReadAsync(context, DepotJson.Wire.DictionaryStringString)).TryGetValue(out body, out var bodyError))
            {
                await Problems.WriteAsync(context, bodyError);
                return;
            }

            if (body is null)
            {
                await Problems.WriteAsync(context, DepotError.InvalidRequest("The body must be a JSON object of names to strings, e.g. {\"author\": \"ann\"}."));
                return;
            }
        }

        var updated = await engine.UpdateMetadataAsync(target.Bucket, target.Key, current =>
        {
            var changed = change(current, body);
            return changed.TryGetValue(out var value, out var error) ? value : (Result<IReadOnlyDictionary<string, string>>)error;
        }, precondition, context.RequestAborted);
        await AnswerAsync(context, updated);
    }

    /// <summary>Lower-cases names (they are case-insensitive as headers); two names that differ only in case are an error.</summary>
    private static Result<Dictionary<string, string?>> Normalize(Dictionary<string, string?> body, bool allowNull)
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (name, value) in body)
        {
            if (value is null && !allowNull)
            {
                return DepotError.InvalidRequest($"Metadata '{name}' has no value; values are strings (PATCH ?meta with null removes a name).");
            }

            if (!result.TryAdd(name.ToLowerInvariant(), value))
            {
                return DepotError.InvalidRequest($"Metadata names are case-insensitive: '{name}' is given twice.");
            }
        }

        return result;
    }

    private static async Task AnswerAsync(HttpContext context, Result<ObjectRecord> result)
    {
        if (!result.TryGetValue(out var record, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        context.Response.Headers.ETag = record.ETag;
        var metadata = record.Metadata.ToDictionary(p => p.Key, p => (string?)p.Value, StringComparer.Ordinal);
        // The answer is {"metadata": {...}} (issue 3 spec), which leaves room for other members beside it.
        byte[] body = [.. "{\"metadata\":"u8, .. JsonSerializer.SerializeToUtf8Bytes(metadata, DepotJson.Wire.DictionaryStringString), .. "}"u8];
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }
}
