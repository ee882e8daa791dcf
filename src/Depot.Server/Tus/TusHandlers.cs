using System.Globalization;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Security;
using Depot.Core.Uploads;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Depot.Server.Tus;

/// <summary>
/// tus 1.0.0 at <c>/tus/</c> (docs/tus.md): the core protocol and the creation, creation-with-upload,
/// creation-defer-length, expiration, checksum, checksum-trailer, termination and concatenation extensions, over
/// <see cref="UploadEngine"/>. One tus upload is one upload session of protocol <see cref="UploadProtocols.Tus"/>.
/// </summary>
public sealed partial class TusHandlers(UploadEngine uploads, AccessGuard guard, BucketRegistry buckets, DepotServerOptions options)
{
    private const string AllowedMethods = "POST, HEAD, PATCH, DELETE, OPTIONS";

    private const string AllowedHeaders =
        "Authorization, Content-Type, Origin, X-Requested-With, X-Request-ID, X-HTTP-Method-Override, Tus-Resumable, "
        + "Upload-Length, Upload-Offset, Upload-Metadata, Upload-Defer-Length, Upload-Concat, Upload-Checksum";

    private const string ExposedHeaders =
        "Upload-Offset, Location, Upload-Length, Tus-Version, Tus-Resumable, Tus-Max-Size, Tus-Extension, "
        + "Tus-Checksum-Algorithm, Upload-Metadata, Upload-Defer-Length, Upload-Concat, Upload-Expires, X-Depot-Object";

    /// <summary>The largest upload accepted (<c>Tus-Max-Size</c>).</summary>
    public long MaxSize => options.Tus.MaxSize ?? buckets.Find(options.Tus.Bucket)?.MaxObjectSize ?? long.MaxValue;

    /// <summary>Answers one request to <c>/tus/</c> (<paramref name="id"/> null) or <c>/tus/{id}</c>.</summary>
    public Task DispatchAsync(HttpContext context, string? id)
    {
        var request = context.Request;
        var headers = context.Response.Headers;
        // "The Tus-Resumable header MUST be included in every request and response except for OPTIONS requests."
        // Errors keep it too: Problems never clears headers set before it.
        headers[TusProtocol.TusResumable] = TusProtocol.Version;
        if (request.Headers.Origin is { Count: > 0 } origin)
        {
            headers.AccessControlAllowOrigin = origin.ToString();
            headers.AccessControlExposeHeaders = ExposedHeaders;
            headers.Vary = HeaderNames.Origin;
        }

        if (HttpMethods.IsOptions(request.Method))
        {
            return OptionsAsync(context);
        }

        // "The X-HTTP-Method-Override request header MUST be a string which MUST be interpreted as the request's method
        // by the Server, if the header is presented. The actual method of the request MUST be ignored."
        if (request.Headers[TusProtocol.MethodOverride] is { Count: > 0 } methodOverride)
        {
            request.Method = methodOverride.ToString().Trim().ToUpperInvariant();
        }

        // "If the version specified by the Client is not supported by the Server, it MUST respond with the 412
        // Precondition Failed status and MUST include the Tus-Version header into the response. In addition, the Server
        // MUST NOT process the request."
        var version = request.Headers[TusProtocol.TusResumable].ToString();
        if (version != TusProtocol.Version)
        {
            headers[TusProtocol.TusVersion] = TusProtocol.Version;
            return TusProblems.WriteAsync(context, ErrorCodes.PreconditionFailed, version.Length == 0
                ? $"tus requests need 'Tus-Resumable: {TusProtocol.Version}'."
                : $"tus version '{TusProtocol.Printable(version)}' is not supported; Tus-Version lists the ones that are.");
        }

        var method = request.Method;
        if (id is null)
        {
            if (HttpMethods.IsPost(method))
            {
                return CreateAsync(context);
            }

            headers.Allow = "POST, OPTIONS";
            return TusProblems.WriteAsync(context, ErrorCodes.MethodNotAllowed, $"{TusProtocol.Printable(method)} is not a tus request for the creation URL; POST creates an upload.");
        }

        if (HttpMethods.IsHead(method))
        {
            return HeadAsync(context, id);
        }

        if (HttpMethods.IsPatch(method))
        {
            return PatchAsync(context, id);
        }

        if (HttpMethods.IsDelete(method))
        {
            return DeleteAsync(context, id);
        }

        headers.Allow = "HEAD, PATCH, DELETE, OPTIONS";
        return TusProblems.WriteAsync(context, ErrorCodes.MethodNotAllowed, $"{TusProtocol.Printable(method)} is not a tus request for an upload; use HEAD, PATCH or DELETE.");
    }

    /// <summary>"An OPTIONS request MAY be used to gather information about the Server's current configuration. A
    /// successful response indicated by the 204 No Content or 200 OK status MUST contain the Tus-Version header. It MAY
    /// include the Tus-Extension and Tus-Max-Size headers." Also a browser's CORS preflight: no key needed for either.</summary>
    private Task OptionsAsync(HttpContext context)
    {
        // "The Client SHOULD NOT include the Tus-Resumable header in the request and the Server MUST ignore the header."
        var headers = context.Response.Headers;
        headers[TusProtocol.TusVersion] = TusProtocol.Version;
        headers[TusProtocol.TusExtension] = TusProtocol.Extensions;
        headers[TusProtocol.TusMaxSize] = MaxSize.ToString(CultureInfo.InvariantCulture);
        // "The Tus-Checksum-Algorithm header MUST be included in the response to an OPTIONS request."
        headers[TusProtocol.TusChecksumAlgorithm] = TusProtocol.ChecksumAlgorithms;
        if (context.Request.Headers.AccessControlRequestMethod.Count > 0)
        {
            headers.AccessControlAllowMethods = AllowedMethods;
            headers.AccessControlAllowHeaders = AllowedHeaders;
            headers.AccessControlMaxAge = "86400";
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }

    /// <summary>"The Server MUST always include the Upload-Offset header in the response for a HEAD request, even if the
    /// offset is 0, or the upload is already considered completed. If the size of the upload is known, the Server MUST
    /// include the Upload-Length header in the response."</summary>
    private async Task HeadAsync(HttpContext context, string id)
    {
        // "The Server MUST prevent the client and/or proxies from caching the response by adding the Cache-Control:
        // no-store header to the response." Errors included: a 404 must not be cached either.
        context.Response.Headers.CacheControl = "no-store";
        var session = await FindAuthorizedAsync(context, id);
        if (session is null)
        {
            return;
        }

        // Every byte arrived but the upload was never published (a crash, or a failure, after the last PATCH was recorded):
        // a client seeing Upload-Offset == Upload-Length considers it done, so publish it now or answer why it cannot be.
        if (session.State == UploadState.Open && session.IsFullyReceived)
        {
            var completed = await uploads.CompleteAsync(session.Id, CancellationToken.None);
            if (!completed.TryGetValue(out var finished, out var completeError))
            {
                await TusProblems.WriteAsync(context, completeError);
                return;
            }

            session = finished.Session;
        }

        var properties = TusSessionProperties.Parse(session.Properties);
        var headers = context.Response.Headers;
        headers[TusProtocol.UploadOffset] = Offset(session).ToString(CultureInfo.InvariantCulture);
        if (session.Length is { } length)
        {
            headers[TusProtocol.UploadLength] = length.ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            // "As long as the length of the upload is not known, the Server MUST set Upload-Defer-Length: 1 in all
            // responses to HEAD requests."
            headers[TusProtocol.UploadDeferLength] = "1";
        }

        // "If an upload contains additional metadata, responses to HEAD requests MUST include the Upload-Metadata header
        // and its value as specified by the Client during the creation."
        if (properties.Metadata is not null)
        {
            headers[TusProtocol.UploadMetadata] = properties.Metadata;
        }

        // "Response to HEAD request against partial or final upload MUST include the Upload-Concat header and its value
        // as received in the upload creation request."
        if (properties.Concat is not null)
        {
            headers[TusProtocol.UploadConcat] = properties.Concat;
        }

        WriteExpires(context, session);
        WriteObjectLocation(context, session);
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    /// <summary>"When receiving a DELETE request for an existing upload the Server SHOULD free associated resources and
    /// MUST respond with the 204 No Content status confirming that the upload was terminated."</summary>
    private async Task DeleteAsync(HttpContext context, string id)
    {
        var session = await FindAuthorizedAsync(context, id);
        if (session is null)
        {
            return;
        }

        // A completed upload's session is removed; the object it published stays (delete that through /v1/).
        var aborted = await uploads.AbortAsync(session.Id, context.RequestAborted);
        if (aborted.Error is { } error)
        {
            await TusProblems.WriteAsync(context, error);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>The caller, once the bearer key is checked (any scope: the operation decides which it needs); null
    /// after answering 401 (or 429).</summary>
    private async Task<CallerIdentity?> AuthenticateAsync(HttpContext context)
    {
        if (await guard.CheckAsync(context, Scopes.None, null, null) is { } unauthenticated)
        {
            await TusProblems.WriteAsync(context, unauthenticated);
            return null;
        }

        return context.Items[AccessGuard.IdentityItem] as CallerIdentity;
    }

    /// <summary>The tus upload <paramref name="id"/>, when the caller may write it; null after answering 401, 403, 404 or
    /// 410.</summary>
    private async Task<UploadSession?> FindAuthorizedAsync(HttpContext context, string id)
    {
        var caller = await AuthenticateAsync(context);
        if (caller is null)
        {
            return null;
        }

        var found = await FindAsync(id, context.RequestAborted);
        if (!found.TryGetValue(out var session, out var error))
        {
            await TusProblems.WriteAsync(context, error);
            return null;
        }

        if (await AuthorizeSessionAsync(context, caller, session) is { } denied)
        {
            await TusProblems.WriteAsync(context, denied);
            return null;
        }

        return session;
    }

    /// <summary>The tus upload <paramref name="id"/>; <c>not_found</c> for sessions of other doors, which tus must not
    /// touch.</summary>
    private async Task<Result<UploadSession>> FindAsync(string id, CancellationToken cancellationToken)
    {
        var found = await uploads.GetAsync(id, cancellationToken);
        if (found.TryGetValue(out var session, out _) && session.Protocol != UploadProtocols.Tus)
        {
            return DepotError.NotFound($"There is no tus upload '{TusProtocol.Printable(id)}'.");
        }

        return found;
    }

    /// <summary>Null when the caller may write <paramref name="session"/>: write scope for its bucket and key. A partial
    /// upload publishes nothing at its (assigned) key, so it belongs to whoever created it instead: the same key (or an
    /// unrestricted admin) with write scope for its bucket.</summary>
    private async ValueTask<DepotError?> AuthorizeSessionAsync(HttpContext context, CallerIdentity caller, UploadSession session)
    {
        if (!session.Partial)
        {
            return await guard.CheckAsync(context, Scopes.Write, session.Bucket, session.Key);
        }

        if (await guard.CheckAsync(context, Scopes.Write, session.Bucket, "", asDirectoryAncestor: true) is { } denied)
        {
            return denied;
        }

        return caller.KeyId == session.Identity || caller.IsUnrestrictedAdmin
            ? null
            : new DepotError(ErrorCodes.Forbidden, "This partial upload belongs to another API key.");
    }

    /// <summary>The tus offset: the bytes received from the start (all of them once an upload is complete).</summary>
    private static long Offset(UploadSession session) =>
        session.State == UploadState.Completed && session.Length is { } length ? length : session.ContiguousLength;

    /// <summary>Where a completed upload's object is (not for parts, which publish nothing).</summary>
    private static void WriteObjectLocation(HttpContext context, UploadSession session)
    {
        if (session.State == UploadState.Completed && !session.Partial)
        {
            context.Response.Headers[TusProtocol.DepotObject] = DepotRoutes.Object(session.Bucket, session.Key);
        }
    }

    /// <summary>"This header MUST be included in every PATCH response if the upload is going to expire." Only open
    /// uploads expire; a completed one has been published.</summary>
    private static void WriteExpires(HttpContext context, UploadSession session)
    {
        if (session.State == UploadState.Open)
        {
            // "The value of the Upload-Expires header MUST be in RFC 7231 datetime format."
            context.Response.Headers[TusProtocol.UploadExpires] = session.ExpiresUtc.ToUniversalTime().ToString("R", CultureInfo.InvariantCulture);
        }
    }
}
