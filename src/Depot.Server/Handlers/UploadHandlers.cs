using System.Globalization;
using Depot.Core.Errors;
using Depot.Core.Paths;
using Depot.Core.Security;
using Depot.Core.Uploads;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>The native resumable-upload API (<c>/v1/_uploads</c>): sessions, chunks by index or offset, completion.</summary>
/// <remarks>Every operation on a session needs a key with <c>write</c> scope covering the session's bucket and key, so a
/// session id alone (unguessable as it is) grants nothing.</remarks>
public sealed class UploadHandlers(UploadEngine uploads, AccessGuard guard)
{
    private const long MaxListedChunks = 100_000;

    /// <summary>"POST /v1/_uploads starts a resumable upload: target, size (or deferred), chunk size, checksums."</summary>
    public async Task CreateAsync(HttpContext context)
    {
        if (await guard.CheckAsync(context, Scopes.Write, null, null) is { } unauthenticated)
        {
            await Problems.WriteAsync(context, unauthenticated);
            return;
        }

        var read = await JsonBodies.ReadAsync(context, DepotJson.Wire.CreateUploadDto);
        if (!read.TryGetValue(out var body, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        if (body is null)
        {
            await Problems.WriteAsync(context, DepotError.InvalidRequest("The body must be a JSON object describing the upload."));
            return;
        }

        if (!ToDeclaration(body, Identity(context)).TryGetValue(out var declaration, out error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        // A key may be limited to a prefix: an assigned id must fall inside it too, so check what is known now (the
        // bucket, or the key asked for) and the final key once the session exists.
        if (await guard.CheckAsync(context, Scopes.Write, declaration.Bucket, declaration.Key?.Value ?? "") is { } denied)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        var created = await uploads.CreateAsync(declaration, context.RequestAborted);
        if (!created.TryGetValue(out var session, out error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        if (await guard.CheckAsync(context, Scopes.Write, session.Bucket, session.Key) is { } deniedKey)
        {
            await uploads.AbortAsync(session.Id, CancellationToken.None);
            await Problems.WriteAsync(context, deniedKey);
            return;
        }

        context.Response.Headers.Location = DepotRoutes.Upload(session.Id);
        await JsonBodies.WriteAsync(context, ToDto(session, null), DepotJson.Wire.UploadSessionDto, StatusCodes.Status201Created);
    }

    /// <summary>"GET /v1/_uploads/{id}: what has arrived (ranges, chunk indices, bytes), the expiry and the state."</summary>
    public async Task GetAsync(HttpContext context, string id)
    {
        if (await AuthorizeAsync(context, id) is not { } session)
        {
            return;
        }

        context.Response.Headers.CacheControl = "no-store";
        await JsonBodies.WriteAsync(context, ToDto(session, null), DepotJson.Wire.UploadSessionDto);
    }

    /// <summary>"PUT /v1/_uploads/{id}/chunks/{index} stores chunk number index (every chunk but the last is chunkSize
    /// bytes); PUT /v1/_uploads/{id}?offset=N stores the body at byte N. Out of order, in parallel, repeatable."</summary>
    public async Task PutChunkAsync(HttpContext context, string id, string? index)
    {
        if (await AuthorizeAsync(context, id) is null)
        {
            return;
        }

        var options = new ChunkOptions { ExpectedLength = context.Request.ContentLength };
        // A body that stops arriving (the client gave up on a dead path; even its reset never came) must not hold its
        // byte range forever: the client sends the chunk again on another connection and would wait behind it.
        using var body = new IdleTimeoutBody(context.Request.Body, ChunkBodyIdleTimeout, context.RequestAborted);
        Result<ChunkWritten>? answered;
        try
        {
            answered = await WriteChunkCoreAsync(context, id, index, body, options);
        }
        catch (OperationCanceledException) when (body.IdleExpired)
        {
            context.Abort();
            return;
        }

        if (answered is not { } written)
        {
            return;
        }

        if (!written.TryGetValue(out var result, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        var session = result.Session;
        await JsonBodies.WriteAsync(context, new ChunkReceivedDto
        {
            Id = session.Id,
            Duplicate = result.Duplicate,
            BytesReceived = session.BytesReceived,
            Received = session.ContiguousLength,
        }, DepotJson.Wire.ChunkReceivedDto);
    }

    internal static readonly TimeSpan ChunkBodyIdleTimeout = TimeSpan.FromSeconds(30);

    private async Task<Result<ChunkWritten>?> WriteChunkCoreAsync(HttpContext context, string id, string? index, IdleTimeoutBody body, ChunkOptions options)
    {
        Result<ChunkWritten> written;
        if (index is not null)
        {
            if (!long.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out var chunk))
            {
                await Problems.WriteAsync(context, DepotError.InvalidRequest($"'{index}' is not a chunk index (0, 1, 2, ...)."));
                return null;
            }

            written = await WriteHandlers.StoreAsync(() => uploads.WriteChunkAsync(id, chunk, body, options, body.Token));
        }
        else
        {
            if (!long.TryParse(context.Request.Query[DepotQuery.Offset], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                await Problems.WriteAsync(context, DepotError.InvalidRequest("Send bytes to /v1/_uploads/{id}/chunks/{index} or /v1/_uploads/{id}?offset=N (N a byte offset)."));
                return null;
            }

            written = await WriteHandlers.StoreAsync(() => uploads.WriteAsync(id, offset, body, options, body.Token));
        }

        return written;
    }

    /// <summary>"PATCH /v1/_uploads/{id} {"length":N} declares the length of a deferred-length upload."</summary>
    public async Task UpdateAsync(HttpContext context, string id)
    {
        if (await AuthorizeAsync(context, id) is null)
        {
            return;
        }

        var read = await JsonBodies.ReadAsync(context, DepotJson.Wire.UpdateUploadDto);
        if (!read.TryGetValue(out var body, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        if (body?.Length is not { } length)
        {
            await Problems.WriteAsync(context, DepotError.InvalidRequest("Send {\"length\": N} to declare the upload's length."));
            return;
        }

        var updated = await uploads.DeclareLengthAsync(id, length, context.RequestAborted);
        if (!updated.TryGetValue(out var session, out error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        await JsonBodies.WriteAsync(context, ToDto(session, null), DepotJson.Wire.UploadSessionDto);
    }

    /// <summary>"POST /v1/_uploads/{id}/complete verifies size and checksums and publishes the object atomically." With
    /// the optional body {"sha256", "md5"}: "the expected checksum(s) of the whole upload, declared at completion",
    /// verified exactly like checksums declared at creation.</summary>
    public async Task CompleteAsync(HttpContext context, string id)
    {
        if (await AuthorizeAsync(context, id) is null)
        {
            return;
        }

        var read = await JsonBodies.ReadOptionalAsync(context, DepotJson.Wire.CompleteUploadDto);
        if (!read.TryGetValue(out var body, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        if (!ParseChecksums(body?.Sha256, body?.Md5).TryGetValue(out var declared, out error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        var finished = await uploads.CompleteAsync(id, declared, context.RequestAborted);
        if (!finished.TryGetValue(out var done, out error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        if (done.Object is { } record)
        {
            Mapping.WriteObjectHeaders(context.Response, record);
            context.Response.Headers.Location = DepotRoutes.Object(record.Bucket, record.Key);
        }

        await JsonBodies.WriteAsync(context, ToDto(done.Session, done.Object is { } o ? Mapping.ToDto(o) : null), DepotJson.Wire.UploadSessionDto);
    }

    /// <summary>"DELETE /v1/_uploads/{id} aborts the upload: the session and its bytes are deleted."</summary>
    public async Task AbortAsync(HttpContext context, string id)
    {
        if (await AuthorizeAsync(context, id) is null)
        {
            return;
        }

        var aborted = await uploads.AbortAsync(id, context.RequestAborted);
        if (!aborted.IsSuccess)
        {
            await Problems.WriteAsync(context, aborted.Error!);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>The session, when the caller's key may write its target; otherwise answers and returns null. The key is
    /// checked before the session is looked up, so an unknown caller cannot probe which ids exist.</summary>
    private async Task<UploadSession?> AuthorizeAsync(HttpContext context, string id)
    {
        if (await guard.CheckAsync(context, Scopes.Write, null, null) is { } unauthenticated)
        {
            await Problems.WriteAsync(context, unauthenticated);
            return null;
        }

        var found = await uploads.GetAsync(id, context.RequestAborted);
        if (!found.TryGetValue(out var session, out var error))
        {
            await Problems.WriteAsync(context, error);
            return null;
        }

        if (await guard.CheckAsync(context, Scopes.Write, session.Bucket, session.Key) is { } denied)
        {
            await Problems.WriteAsync(context, denied);
            return null;
        }

        // tus and IndexedCP sessions follow their own protocol's rules (offsets must continue, parts belong to their
        // creator, chunk sizes are learnt): they are not driven through this door.
        if (session.Protocol is not (UploadProtocols.Native or UploadProtocols.Manifest))
        {
            await Problems.WriteAsync(context, DepotError.Conflict($"Upload session '{id}' belongs to the {session.Protocol} endpoint; continue it there."));
            return null;
        }

        return session;
    }

    private static string Identity(HttpContext context) =>
        context.Items.TryGetValue(AccessGuard.IdentityItem, out var item) && item is CallerIdentity caller ? caller.KeyId : "";

    private static Result<UploadDeclaration> ToDeclaration(CreateUploadDto body, string identity)
    {
        var bucket = body.Bucket ?? "default";
        ObjectKey? key = null;
        if (body.Key is not null)
        {
            if (!ObjectKey.Parse(body.Key).TryGetValue(out var parsed, out var keyError))
            {
                return keyError;
            }

            key = parsed;
        }

        if (!ParseChecksums(body.Sha256, body.Md5).TryGetValue(out var checksums, out var checksumError))
        {
            return checksumError;
        }

        var (sha256, md5) = (checksums?.Sha256, checksums?.Md5);

        // The media type is sent back as a Content-Type header (and inside multipart range answers) on every download.
        var contentType = string.IsNullOrEmpty(body.ContentType) ? null : body.ContentType;
        if (contentType is not null && (!contentType.All(c => c is >= ' ' and <= '~') || !Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out _)))
        {
            return DepotError.InvalidRequest("contentType must be a media type (type/subtype, optional parameters) in printable ASCII.");
        }

        // Metadata names are case-insensitive and stored lower-case, as with X-Depot-Meta-* headers.
        Dictionary<string, string>? metadata = null;
        if (body.Metadata is { } given)
        {
            metadata = new Dictionary<string, string>(given.Count, StringComparer.Ordinal);
            foreach (var (name, value) in given)
            {
                if (!metadata.TryAdd(name.ToLowerInvariant(), value))
                {
                    return DepotError.InvalidRequest($"Metadata name '{name.ToLowerInvariant()}' is given twice (names are case-insensitive).");
                }
            }
        }

        return new UploadDeclaration
        {
            Bucket = bucket,
            Key = key,
            Extension = body.Ext,
            Length = body.Length,
            ChunkSize = body.ChunkSize,
            ExpectedSha256 = sha256,
            ExpectedMd5 = md5,
            ContentType = contentType,
            Metadata = metadata,
            Appendable = body.Appendable,
            CreateOnly = body.CreateOnly,
            Protocol = UploadProtocols.Native,
            Identity = identity,
            ClientName = body.Key,
        };
    }

    /// <summary>The <c>sha256</c> (64 hex digits) and <c>md5</c> (32 hex digits or base64 of 16 bytes) members of a
    /// session's creation or completion; null when neither is given.</summary>
    private static Result<UploadChecksums?> ParseChecksums(string? shaText, string? md5Text)
    {
        byte[]? sha256 = null;
        if (shaText is not null)
        {
            if (shaText.Length != 64 || !IsHex(shaText))
            {
                return DepotError.InvalidRequest("sha256 must be 64 hex digits.");
            }

            sha256 = Convert.FromHexString(shaText);
        }

        byte[]? md5 = null;
        if (md5Text is not null)
        {
            md5 = md5Text.Length == 32 && IsHex(md5Text) ? Convert.FromHexString(md5Text)
                : TryBase64(md5Text) is { Length: 16 } decoded ? decoded
                : null;
            if (md5 is null)
            {
                return DepotError.InvalidRequest("md5 must be 32 hex digits or 24 base64 characters.");
            }
        }

        return sha256 is null && md5 is null ? null : new UploadChecksums(sha256, md5);
    }

    private static bool IsHex(string text) => text.All(char.IsAsciiHexDigit);

    private static byte[]? TryBase64(string text)
    {
        var buffer = new byte[text.Length];
        return Convert.TryFromBase64String(text, buffer, out var written) ? buffer[..written] : null;
    }

    internal static UploadSessionDto ToDto(UploadSession s, ObjectInfoDto? published) => new()
    {
        Id = s.Id,
        Url = DepotRoutes.Upload(s.Id),
        Bucket = s.Bucket,
        Key = s.Key,
        State = s.State == UploadState.Open ? "open" : "completed",
        Length = s.Length,
        ChunkSize = s.ChunkSize,
        BytesReceived = s.BytesReceived,
        Offset = s.ContiguousLength,
        Received = s.Received.Select(r => new[] { r.Start, r.End }).ToList(),
        // Chunk lists stop at 100,000 entries (a 1-byte chunk size would make them huge); the ranges always tell.
        ReceivedChunks = s.ChunkSize is { } size && (s.Length ?? s.ReceivedEnd) / size <= MaxListedChunks ? s.ReceivedChunks() : null,
        Sha256 = s.ExpectedSha256 is { } sha ? Convert.ToHexStringLower(sha) : null,
        Md5 = s.ExpectedMd5 is { } md5 ? Convert.ToHexStringLower(md5) : null,
        ContentType = s.ContentType,
        Metadata = s.Metadata.Count > 0 ? s.Metadata : null,
        Appendable = s.Appendable ? true : null,
        Protocol = s.Protocol,
        Created = s.CreatedUtc,
        Expires = s.ExpiresUtc,
        Object = published,
    };
}
