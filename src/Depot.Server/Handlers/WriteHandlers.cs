using System.Globalization;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Security;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Depot.Server.Handlers;

/// <summary>PUT, DELETE and POST (move, copy) on <c>/v1/{bucket}/{key}</c>.</summary>
public sealed class WriteHandlers(ObjectEngine engine, AccessGuard guard, TimeProvider time)
{
    /// <summary>"PUT /v1/{bucket}/{key} stores the body at the key, streamed, hashed, fsync'd and published atomically;
    /// a path ending in '/' creates that directory."</summary>
    public async Task PutAsync(HttpContext context, ObjectTarget target)
    {
        var denied = await guard.CheckAsync(context, Scopes.Write, target.Bucket, target.Key.Value);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        if (target.DirectoryForm)
        {
            await MakeDirectoryAsync(context, target);
            return;
        }

        var request = context.Request;
        var options = ParsePutOptions(request, time);
        if (!options.TryGetValue(out var putOptions, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        var put = await StoreAsync(() => engine.PutAsync(target.Bucket, target.Key, request.Body, putOptions, context.RequestAborted));

        if (!put.TryGetValue(out var record, out var putError))
        {
            await Problems.WriteAsync(context, putError);
            return;
        }

        await WriteInfoAsync(context, Mapping.ToDto(record), record, record.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    /// <summary>"PUT /v1/{bucket}/{dir}/ creates the directory and its parents; an existing directory is fine."</summary>
    private async Task MakeDirectoryAsync(HttpContext context, ObjectTarget target)
    {
        if (target.Key.IsRoot)
        {
            await Problems.WriteAsync(context, DepotError.InvalidPath("Name the directory to create."));
            return;
        }

        var existed = await engine.StatAsync(target.Bucket, target.Key, context.RequestAborted) is { IsSuccess: true, Value.IsDirectory: true };
        var made = await engine.CreateDirectoryAsync(target.Bucket, target.Key, context.RequestAborted);
        if (!made.TryGetValue(out var stat, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        context.Response.Headers.Location = DepotRoutes.Object(target.Bucket, target.Key.Value) + "/";
        await JsonBodies.WriteAsync(context, Mapping.ToDto(stat), DepotJson.Wire.ObjectInfoDto, existed ? StatusCodes.Status200OK : StatusCodes.Status201Created);
    }

    /// <summary>"DELETE /v1/{bucket}/{key} deletes a file (If-Match makes it conditional); a directory needs a path
    /// ending in '/' or ?recursive, and a non-empty one needs ?recursive=true."</summary>
    public async Task DeleteAsync(HttpContext context, ObjectTarget target)
    {
        var denied = await guard.CheckAsync(context, Scopes.Delete, target.Bucket, target.Key.Value);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        var recursive = ReadHandlers.IsTrue(context.Request.Query, DepotQuery.Recursive);
        var precondition = ParsePrecondition(context.Request);
        if (!precondition.TryGetValue(out var pre, out var preError))
        {
            await Problems.WriteAsync(context, preError);
            return;
        }

        var isDirectory = target.DirectoryForm
            || (recursive && await engine.StatAsync(target.Bucket, target.Key, context.RequestAborted) is { IsSuccess: true, Value.IsDirectory: true });
        Outcome outcome;
        if (isDirectory)
        {
            outcome = pre is null
                ? await engine.DeleteDirectoryAsync(target.Bucket, target.Key, recursive, context.RequestAborted)
                : DepotError.InvalidRequest("Directories have no ETag: If-Match / If-None-Match apply to files only.");
        }
        else
        {
            // Deleting a master deletes its slaves: a key limited to a prefix must cover each of them too.
            foreach (var slave in await engine.GetSlaveKeysAsync(target.Bucket, target.Key, context.RequestAborted))
            {
                if (await guard.CheckAsync(context, Scopes.Delete, target.Bucket, slave) is not null)
                {
                    await Problems.WriteAsync(context, new DepotError(ErrorCodes.Forbidden, $"'{target.Key}' has slave files this key may not delete ('{slave}'); nothing was deleted."));
                    return;
                }
            }

            outcome = await engine.DeleteAsync(target.Bucket, target.Key, pre, context.RequestAborted);
        }

        if (!outcome.IsSuccess)
        {
            await Problems.WriteAsync(context, outcome.Error!);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>"DELETE ?take is get-and-delete: the object is removed and the answer carries exactly the removed bytes
    /// (needs read and delete scopes). If-Match makes it conditional."</summary>
    public async Task TakeAsync(HttpContext context, ObjectTarget target)
    {
        var denied = await guard.CheckAsync(context, Scopes.Read, target.Bucket, target.Key.Value)
            ?? await guard.CheckAsync(context, Scopes.Delete, target.Bucket, target.Key.Value);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        if (!ParsePrecondition(context.Request).TryGetValue(out var precondition, out var preError))
        {
            await Problems.WriteAsync(context, preError);
            return;
        }

        var taken = await engine.TakeAsync(target.Bucket, target.Key, precondition, context.RequestAborted);
        if (!taken.TryGetValue(out var value, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        await using var content = value.Content;
        var response = context.Response;
        Mapping.WriteObjectHeaders(response, value.Record);
        response.ContentType = value.Record.ContentType ?? ContentTypes.Guess(value.Record.Key);
        response.ContentLength = value.Record.Size;
        await ReadHandlers.CopyRangeAsync(content, 0, value.Record.Size, response, CancellationToken.None);
    }

    /// <summary>"POST ?move renames a file or directory inside its bucket, atomically; POST ?copy copies a file to another
    /// key or bucket. The JSON body names the destination: {"to": key, "bucket": name, "overwrite": bool}."</summary>
    public async Task TransferAsync(HttpContext context, ObjectTarget target)
    {
        // Authenticate before reading the body: a caller without a valid key learns nothing about the request's shape.
        var unauthenticated = await guard.CheckAsync(context, Scopes.None, null, null);
        if (unauthenticated is not null)
        {
            await Problems.WriteAsync(context, unauthenticated);
            return;
        }

        var query = context.Request.Query;
        var move = query.ContainsKey(DepotQuery.Move);
        if (!move && !query.ContainsKey(DepotQuery.Copy))
        {
            await Problems.WriteAsync(context, ErrorCodes.InvalidRequest, "POST on an object needs ?move or ?copy.");
            return;
        }

        if (!(await JsonBodies.ReadAsync(context, DepotJson.Wire.TransferRequestDto)).TryGetValue(out var body, out var bodyError))
        {
            await Problems.WriteAsync(context, bodyError);
            return;
        }

        if (body?.To is null)
        {
            await Problems.WriteAsync(context, ErrorCodes.InvalidRequest, "The body must name the destination: {\"to\": \"new/key\"}.");
            return;
        }

        var destinationBucket = body.Bucket ?? target.Bucket;
        var bucketOk = BucketName.Validate(destinationBucket);
        if (!bucketOk.IsSuccess)
        {
            await Problems.WriteAsync(context, bucketOk.Error!);
            return;
        }

        if (!ObjectKey.Parse(body.To).TryGetValue(out var to, out var keyError))
        {
            await Problems.WriteAsync(context, keyError);
            return;
        }

        if (move && destinationBucket != target.Bucket)
        {
            await Problems.WriteAsync(context, ErrorCodes.InvalidRequest, "Move stays inside a bucket; copy to another bucket, then delete.");
            return;
        }

        var denied = await guard.CheckAsync(context, move ? Scopes.Delete : Scopes.Read, target.Bucket, target.Key.Value)
            ?? await guard.CheckAsync(context, Scopes.Write, destinationBucket, to.Value);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        if (move)
        {
            var moved = await engine.MoveAsync(target.Bucket, target.Key, to, body.Overwrite, context.RequestAborted);
            if (!moved.TryGetValue(out var stat, out var error))
            {
                await Problems.WriteAsync(context, error);
                return;
            }

            if (stat.Object is { } movedRecord)
            {
                await WriteInfoAsync(context, Mapping.ToDto(movedRecord), movedRecord, StatusCodes.Status200OK);
                return;
            }

            context.Response.Headers.Location = DepotRoutes.Object(target.Bucket, to.Value) + "/";
            await JsonBodies.WriteAsync(context, Mapping.ToDto(stat), DepotJson.Wire.ObjectInfoDto);
            return;
        }

        var copied = await engine.CopyAsync(target.Bucket, target.Key, destinationBucket, to, body.Overwrite, context.RequestAborted);
        if (!copied.TryGetValue(out var record, out var copyError))
        {
            await Problems.WriteAsync(context, copyError);
            return;
        }

        await WriteInfoAsync(context, Mapping.ToDto(record), record, record.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    /// <summary>Runs a write that reads the request body, turning Kestrel's own body-size refusal into <c>too_large</c>.</summary>
    internal static async Task<Result<T>> StoreAsync<T>(Func<Task<Result<T>>> write)
    {
        try
        {
            return await write();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return DepotError.TooLarge(e.Message);
        }
    }

    internal static async Task WriteInfoAsync(HttpContext context, ObjectInfoDto dto, ObjectRecord record, int status)
    {
        Mapping.WriteObjectHeaders(context.Response, record);
        context.Response.Headers.Location = DepotRoutes.Object(record.Bucket, record.Key);
        await JsonBodies.WriteAsync(context, dto, DepotJson.Wire.ObjectInfoDto, status);
    }

    /// <summary>The options of an upload from its headers (checksums, preconditions, metadata, expiry) and the
    /// <c>?appendable</c> switch.</summary>
    internal static Result<PutOptions> ParsePutOptions(HttpRequest request, TimeProvider time)
    {
        byte[]? md5 = null;
        if (request.Headers.ContentMD5 is { Count: > 0 } md5Header)
        {
            try
            {
                md5 = Convert.FromBase64String(md5Header.ToString());
            }
            catch (FormatException)
            {
                md5 = null;
            }

            if (md5 is not { Length: 16 })
            {
                return DepotError.InvalidRequest("Content-MD5 must be the base64 of 16 bytes.");
            }
        }

        byte[]? sha256 = null;
        if (request.Headers.TryGetValue(DepotHeaders.Sha256, out var shaHeader))
        {
            var hex = shaHeader.ToString();
            if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
            {
                return DepotError.InvalidRequest($"{DepotHeaders.Sha256} must be 64 hex digits.");
            }

            sha256 = Convert.FromHexString(hex);
        }

        var precondition = ParsePrecondition(request);
        if (!precondition.TryGetValue(out var pre, out var preError))
        {
            return preError;
        }

        var metadata = Metadata.FromHeaders(request.Headers);
        if (!metadata.TryGetValue(out var meta, out var metaError))
        {
            return metaError;
        }

        var expiry = ParseExpiry(request, time);
        if (!expiry.TryGetValue(out var expires, out var expiryError))
        {
            return expiryError;
        }

        return new PutOptions
        {
            ContentType = string.IsNullOrEmpty(request.ContentType) ? null : request.ContentType,
            ExpectedLength = request.ContentLength,
            ExpectedSha256 = sha256,
            ExpectedMd5 = md5,
            Precondition = pre,
            Metadata = meta,
            Appendable = ReadHandlers.IsTrue(request.Query, DepotQuery.Appendable),
            ExpiresUtc = expires,
        };
    }

    private const long MaxTtlSeconds = 10L * 366 * 24 * 3600;

    /// <summary>X-Depot-Expires (RFC 3339 or IMF-fixdate, in the future) or X-Depot-Ttl (whole seconds, at most ten years).</summary>
    private static Result<DateTimeOffset?> ParseExpiry(HttpRequest request, TimeProvider time)
    {
        var hasExpires = request.Headers.TryGetValue(DepotHeaders.Expires, out var expiresText);
        var hasTtl = request.Headers.TryGetValue(DepotHeaders.Ttl, out var ttlText);
        if (hasExpires && hasTtl)
        {
            return DepotError.InvalidRequest($"Give {DepotHeaders.Expires} or {DepotHeaders.Ttl}, not both.");
        }

        var now = time.GetUtcNow();
        if (hasTtl)
        {
            if (!long.TryParse(ttlText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds < 1 || seconds > MaxTtlSeconds)
            {
                return DepotError.InvalidRequest($"{DepotHeaders.Ttl} takes whole seconds from 1 to {MaxTtlSeconds}.");
            }

            return now.AddSeconds(seconds);
        }

        if (hasExpires)
        {
            var text = expiresText.ToString();
            if (!DateTimeOffset.TryParseExact(text, "R", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
                && !Rfc3339.TryParse(text, out at))
            {
                return DepotError.InvalidRequest($"{DepotHeaders.Expires} takes an RFC 3339 time (2030-01-31T12:00:00Z) or an HTTP date.");
            }

            if (at <= now)
            {
                return DepotError.InvalidRequest($"{DepotHeaders.Expires} is in the past ({at:O}); the entry would never be visible.");
            }

            if (at > now.AddSeconds(MaxTtlSeconds))
            {
                return DepotError.InvalidRequest($"{DepotHeaders.Expires} is more than ten years ahead.");
            }

            return at;
        }

        return (DateTimeOffset?)null;
    }

    /// <summary>If-None-Match: * is create-only; If-Match: "etag" is compare-and-swap (RFC 9110 §13.1.1–13.1.2).</summary>
    internal static Result<WritePrecondition?> ParsePrecondition(HttpRequest request)
    {
        var headers = request.GetTypedHeaders();
        try
        {
            if (headers.IfMatch is { Count: > 0 } ifMatch)
            {
                return ifMatch.Any(t => t.Equals(EntityTagHeaderValue.Any))
                    ? new WritePrecondition.MustExist()
                    : new WritePrecondition.ETagMatches(ifMatch.Select(t => t.Tag.ToString()).ToList());
            }

            if (headers.IfNoneMatch is { Count: > 0 } ifNoneMatch)
            {
                return ifNoneMatch.Any(t => t.Equals(EntityTagHeaderValue.Any))
                    ? new WritePrecondition.MustNotExist()
                    : new WritePrecondition.ETagDiffers(ifNoneMatch.Select(t => t.Tag.ToString()).ToList());
            }
        }
        catch (FormatException)
        {
            return DepotError.InvalidRequest("If-Match / If-None-Match must be '*' or quoted entity tags.");
        }

        if ((request.Headers.IfMatch.Count > 0 && headers.IfMatch.Count == 0) || (request.Headers.IfNoneMatch.Count > 0 && headers.IfNoneMatch.Count == 0))
        {
            return DepotError.InvalidRequest("If-Match / If-None-Match must be '*' or quoted entity tags.");
        }

        return (WritePrecondition?)null;
    }
}
