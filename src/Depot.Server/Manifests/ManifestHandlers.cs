using System.Text.Json;
using Depot.Core.Errors;
using Depot.Core.Paths;
using Depot.Core.Security;
using Depot.Core.Uploads.Manifests;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Depot.Server.Manifests;

/// <summary>Manifests (<c>/v1/_manifests</c>, docs/manifests.md): declare a batch of files, learn per file what to send,
/// follow the uploads, abandon the batch.</summary>
/// <remarks>Declaring needs a key with <c>write</c> scope covering the bucket and prefix; a manifest is then visible only
/// to the key that declared it (and to admin keys): to anyone else it does not exist (404).</remarks>
public sealed class ManifestHandlers(ManifestService manifests, AccessGuard guard)
{
    /// <summary>A manifest body is larger than other control bodies (10,000 files of a long name each), but bounded.</summary>
    public const int MaxManifestBytes = 8 << 20;

    /// <summary>"POST /v1/_manifests declares files (name, size, SHA-256 or MD5) under a bucket and prefix; the answer says
    /// per file: accepted (with an upload session), rejected (with the reason) or present (same checksum: skip)."</summary>
    public async Task CreateAsync(HttpContext context)
    {
        // The key is checked before the body is read: an unknown caller gets nothing buffered.
        if (await guard.CheckAsync(context, Scopes.Write, null, null) is { } unauthenticated)
        {
            await Problems.WriteAsync(context, unauthenticated);
            return;
        }

        var read = await ReadBodyAsync(context);
        if (!read.TryGetValue(out var body, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        var caller = (CallerIdentity)context.Items[AccessGuard.IdentityItem]!;
        if (!ToDeclaration(body, caller.KeyId).TryGetValue(out var declaration, out error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        // Every file key lies below the prefix, so a grant that covers the prefix covers them all.
        if (await guard.CheckAsync(context, Scopes.Write, declaration.Bucket, declaration.Prefix) is { } denied)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        var created = await manifests.CreateAsync(declaration, context.RequestAborted);
        if (!created.TryGetValue(out var manifest, out error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        context.Response.Headers.Location = DepotRoutes.Manifest(manifest.Manifest.Id);
        await JsonBodies.WriteAsync(context, ToDto(manifest), DepotJson.Wire.ManifestDto, StatusCodes.Status201Created);
    }

    /// <summary>"GET /v1/_manifests/{id}: each file's status now (accepted files whose upload completed are uploaded);
    /// the manifest is complete when every accepted file is uploaded."</summary>
    public async Task GetAsync(HttpContext context, string id)
    {
        if (await CallerAsync(context) is not { } caller)
        {
            return;
        }

        var found = await manifests.GetAsync(id, caller.KeyId, caller.IsUnrestrictedAdmin, context.RequestAborted);
        if (!found.TryGetValue(out var manifest, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        context.Response.Headers.CacheControl = "no-store";
        await JsonBodies.WriteAsync(context, ToDto(manifest), DepotJson.Wire.ManifestDto);
    }

    /// <summary>"DELETE /v1/_manifests/{id} abandons the manifest: the uploads still open are aborted; files already
    /// uploaded stay."</summary>
    public async Task DeleteAsync(HttpContext context, string id)
    {
        if (await CallerAsync(context) is not { } caller)
        {
            return;
        }

        var deleted = await manifests.DeleteAsync(id, caller.KeyId, caller.IsUnrestrictedAdmin, context.RequestAborted);
        if (!deleted.IsSuccess)
        {
            await Problems.WriteAsync(context, deleted.Error!);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>The caller, when its key may write at all; otherwise answers and returns null. Which manifests it may see
    /// is decided by identity, after the lookup.</summary>
    private async Task<CallerIdentity?> CallerAsync(HttpContext context)
    {
        if (await guard.CheckAsync(context, Scopes.Write, null, null) is { } denied)
        {
            await Problems.WriteAsync(context, denied);
            return null;
        }

        return (CallerIdentity)context.Items[AccessGuard.IdentityItem]!;
    }

    private static async Task<Result<ManifestRequestDto>> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxManifestBytes)
        {
            return DepotError.TooLarge($"A manifest body is limited to {MaxManifestBytes} bytes; split the manifest.");
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxManifestBytes;
        }

        try
        {
            var body = await JsonSerializer.DeserializeAsync(context.Request.Body, DepotJson.Wire.ManifestRequestDto, context.RequestAborted);
            return body is null ? DepotError.InvalidRequest("The body must be a JSON object: {\"bucket\",\"prefix\",\"files\":[...]}.") : body;
        }
        catch (JsonException e)
        {
            return DepotError.InvalidRequest($"The body is not a valid manifest: {e.Message}");
        }
    }

    /// <summary>The wire body as a declaration. Anything wrong with the body itself (missing members, bad checksums) is
    /// a 400 for the whole manifest; names that are not valid keys are each file's own answer.</summary>
    private static Result<ManifestDeclaration> ToDeclaration(ManifestRequestDto body, string identity)
    {
        if (body.Files is null)
        {
            return DepotError.InvalidRequest("The manifest needs \"files\": [{\"name\",\"size\",\"sha256\" or \"md5\"}, ...].");
        }

        var files = new List<ManifestFileDeclaration>(body.Files.Count);
        for (var i = 0; i < body.Files.Count; i++)
        {
            var file = body.Files[i];
            if (file is null || file.Name is null || file.Size is not { } size)
            {
                return DepotError.InvalidRequest($"File {i} needs a \"name\" and a \"size\".");
            }

            if (!TryHex(file.Sha256, 32, out var sha256) || !TryHex(file.Md5, 16, out var md5))
            {
                return DepotError.InvalidRequest($"The checksum of '{file.Name}' is not hex of the right length (sha256: 64 digits, md5: 32).");
            }

            files.Add(new ManifestFileDeclaration(file.Name, size, sha256, md5));
        }

        return new ManifestDeclaration(body.Bucket ?? BucketName.Default, (body.Prefix ?? "").Trim('/'), files, body.ChunkSize, identity);
    }

    /// <summary>Absent is fine (null); present must be exactly <paramref name="bytes"/> bytes of hex.</summary>
    private static bool TryHex(string? text, int bytes, out byte[]? value)
    {
        value = null;
        if (text is null)
        {
            return true;
        }

        if (text.Length != bytes * 2 || !text.All(char.IsAsciiHexDigit))
        {
            return false;
        }

        value = Convert.FromHexString(text);
        return true;
    }

    internal static ManifestDto ToDto(ManifestView view) => new()
    {
        Id = view.Manifest.Id,
        Bucket = view.Manifest.Bucket,
        Prefix = view.Manifest.Prefix,
        State = view.State == ManifestState.Complete ? "complete" : "open",
        Created = view.Manifest.CreatedUtc,
        Expires = view.ExpiresUtc,
        Completed = view.Manifest.CompletedUtc,
        Files = view.Files.Select(f => new ManifestFileDto
        {
            Name = f.Entry.Name,
            Key = f.Key,
            Size = f.Entry.Size,
            Status = f.Status switch
            {
                ManifestFileStatus.Accepted => "accepted",
                ManifestFileStatus.Rejected => "rejected",
                ManifestFileStatus.Present => "present",
                ManifestFileStatus.Uploaded => "uploaded",
                _ => "cancelled",
            },
            Reason = f.Entry.Reason,
            Upload = f.Entry.SessionId is { } session && f.Status is ManifestFileStatus.Accepted or ManifestFileStatus.Uploaded
                ? new ManifestUploadDto { Id = session, Url = DepotRoutes.Upload(session), BytesReceived = f.Session?.BytesReceived ?? f.Entry.Size }
                : null,
        }).ToList(),
    };
}
