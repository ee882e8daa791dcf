using System.Globalization;
using Depot.Core.Errors;
using Depot.Core.Ids;
using Depot.Core.Model;
using Depot.Core.Paths;
using Depot.Core.Security;
using Depot.Core.Uploads;
using Depot.Server.Auth;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Depot.Server.Tus;

public sealed partial class TusHandlers
{
    /// <summary>"The Client MUST send a POST request against a known upload creation URL to request a new upload
    /// resource. The request MUST include one of the following headers: a) Upload-Length to indicate the size of an
    /// entire upload in bytes. b) Upload-Defer-Length: 1 if upload size is not known at the time."</summary>
    private async Task CreateAsync(HttpContext context)
    {
        var request = context.Request;
        var caller = await AuthenticateAsync(context);
        if (caller is null)
        {
            return;
        }

        if (!TusMetadata.Parse(request.Headers[TusProtocol.UploadMetadata].ToString()).TryGetValue(out var metadata, out var metadataError))
        {
            await TusProblems.WriteAsync(context, metadataError);
            return;
        }

        var concat = request.Headers[TusProtocol.UploadConcat].ToString();
        if (concat.StartsWith("final;", StringComparison.Ordinal))
        {
            await ConcatenateAsync(context, caller, metadata, concat);
            return;
        }

        if (concat.Length > 0 && concat != "partial")
        {
            await TusProblems.WriteAsync(context, ErrorCodes.InvalidRequest, $"{TusProtocol.UploadConcat} is 'partial' or 'final;' followed by upload URLs.");
            return;
        }

        if (!ParseLength(request).TryGetValue(out var length, out var lengthError))
        {
            await TusProblems.WriteAsync(context, lengthError);
            return;
        }

        // "If the length of the upload exceeds the maximum, which MAY be specified using the Tus-Max-Size header, the
        // Server MUST respond with the 413 Request Entity Too Large status."
        if (length > MaxSize)
        {
            await TusProblems.WriteAsync(context, ErrorCodes.TooLarge, $"Uploads are limited to {MaxSize} bytes (Tus-Max-Size); this one declares {length}.");
            return;
        }

        // Creation with upload: "The Client MUST include the Content-Type: application/offset+octet-stream header."
        // An empty chunked body without a Content-Type (some HTTP stacks send one with every POST) is no upload data.
        var hasBody = context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true
            && (request.ContentType is not null || request.ContentLength > 0);
        if (hasBody && !TusProtocol.IsOffsetOctetStream(request.ContentType))
        {
            await TusProblems.WriteAsync(context, ErrorCodes.UnsupportedMediaType, $"Upload data sent with the creation request must be 'Content-Type: {TusProtocol.OffsetOctetStream}'.");
            return;
        }

        if (!ParseChunkChecksum(request).TryGetValue(out var checksum, out var checksumError))
        {
            await TusProblems.WriteAsync(context, checksumError);
            return;
        }

        var partial = concat == "partial";
        if (!Target(metadata, partial).TryGetValue(out var declaration, out var targetError))
        {
            await TusProblems.WriteAsync(context, targetError);
            return;
        }

        if (await AuthorizeTargetAsync(context, declaration) is { } denied)
        {
            await TusProblems.WriteAsync(context, denied);
            return;
        }

        var raw = new TusSessionProperties(NullIfEmpty(request.Headers[TusProtocol.UploadMetadata].ToString()), NullIfEmpty(concat));
        declaration = declaration with { Length = length, Identity = caller.KeyId, Properties = raw.Format() };
        var created = await uploads.CreateAsync(declaration, context.RequestAborted);
        if (!created.TryGetValue(out var session, out var createError))
        {
            await TusProblems.WriteAsync(context, createError);
            return;
        }

        // Policy may have chosen another key (or the server assigned one): the caller must be allowed to write there too.
        if (!partial && (declaration.Key is null || declaration.Key.Value != session.Key)
            && await guard.CheckAsync(context, Scopes.Write, session.Bucket, session.Key) is { } deniedThere)
        {
            await uploads.AbortAsync(session.Id, CancellationToken.None);
            await TusProblems.WriteAsync(context, deniedThere);
            return;
        }

        var headers = context.Response.Headers;
        if (hasBody)
        {
            // "The Server SHOULD accept as many bytes as possible and MUST include the Upload-Offset header in the
            // response and MUST set its value to the offset of the upload after applying the accepted bytes."
            var written = await WriteChunkAsync(context, session, 0, checksum);
            if (!written.TryGetValue(out session, out var writeError))
            {
                // The client never learnt the upload's URL, so it cannot resume it: do not leave it behind.
                await uploads.AbortAsync(created.Value.Id, CancellationToken.None);
                await TusProblems.WriteAsync(context, writeError);
                return;
            }

            headers[TusProtocol.UploadOffset] = Offset(session).ToString(CultureInfo.InvariantCulture);
        }

        // "The Server MUST acknowledge a successful upload creation with the 201 Created status. The Server MUST set the
        // Location header to the URL of the created resource."
        headers.Location = TusProtocol.UploadPath(session.Id);
        // "If the expiration is known at the creation, the Upload-Expires header MUST be included in the response to the
        // initial POST request."
        WriteExpires(context, session);
        WriteObjectLocation(context, session);
        context.Response.StatusCode = StatusCodes.Status201Created;
    }

    /// <summary>"In order to create a new final upload, the Client MUST add the Upload-Concat header to the upload
    /// creation request. The value MUST be final followed by a semicolon and a space-separated list of the partial upload
    /// URLs that need to be concatenated."</summary>
    private async Task ConcatenateAsync(HttpContext context, CallerIdentity caller, TusMetadata metadata, string concat)
    {
        // "The Client MUST NOT include the Upload-Length header in the final upload creation."
        if (context.Request.Headers.ContainsKey(TusProtocol.UploadLength) || context.Request.Headers.ContainsKey(TusProtocol.UploadDeferLength))
        {
            await TusProblems.WriteAsync(context, ErrorCodes.InvalidRequest, $"A final upload takes its length from its parts: send no {TusProtocol.UploadLength}.");
            return;
        }

        if (!TusProtocol.ParseFinalConcat(concat).TryGetValue(out var partIds, out var concatError))
        {
            await TusProblems.WriteAsync(context, concatError);
            return;
        }

        long total = 0;
        foreach (var partId in partIds)
        {
            var found = await FindAsync(partId, context.RequestAborted);
            if (!found.TryGetValue(out var part, out var error))
            {
                await TusProblems.WriteAsync(context, error);
                return;
            }

            if (await AuthorizeSessionAsync(context, caller, part) is { } denied)
            {
                await TusProblems.WriteAsync(context, denied);
                return;
            }

            // concatenation-unfinished is not offered: "This concatenation request SHOULD happen after all of the
            // corresponding partial uploads are completed."
            if (!part.Partial || part.State != UploadState.Completed)
            {
                await TusProblems.WriteAsync(context, ErrorCodes.InvalidRequest, part.Partial
                    ? $"The partial upload '{TusProtocol.Printable(partId)}' is not finished; concatenate only finished parts."
                    : $"'{TusProtocol.Printable(partId)}' is not a partial upload (create parts with '{TusProtocol.UploadConcat}: partial').");
                return;
            }

            total += part.Length ?? 0;
        }

        // "The length of the final upload MUST be the sum of the length of all partial uploads."
        if (total > MaxSize)
        {
            await TusProblems.WriteAsync(context, ErrorCodes.TooLarge, $"Uploads are limited to {MaxSize} bytes (Tus-Max-Size); the parts add up to {total}.");
            return;
        }

        if (!Target(metadata, partial: false).TryGetValue(out var declaration, out var targetError))
        {
            await TusProblems.WriteAsync(context, targetError);
            return;
        }

        if (await AuthorizeTargetAsync(context, declaration) is { } deniedTarget)
        {
            await TusProblems.WriteAsync(context, deniedTarget);
            return;
        }

        // "When creating a new final upload the partial uploads' metadata SHALL NOT be transferred to the new final
        // upload. All metadata SHOULD be included in the concatenation request using the Upload-Metadata header."
        var raw = new TusSessionProperties(NullIfEmpty(context.Request.Headers[TusProtocol.UploadMetadata].ToString()), concat);
        declaration = declaration with { Identity = caller.KeyId, Properties = raw.Format() };
        var concatenated = await uploads.ConcatenateAsync(declaration, partIds, context.RequestAborted);
        if (!concatenated.TryGetValue(out var finished, out var error2))
        {
            await TusProblems.WriteAsync(context, error2);
            return;
        }

        context.Response.Headers.Location = TusProtocol.UploadPath(finished.Session.Id);
        WriteObjectLocation(context, finished.Session);
        context.Response.StatusCode = StatusCodes.Status201Created;
    }

    /// <summary>The declared length: a number, or null for <c>Upload-Defer-Length: 1</c>.</summary>
    private static Result<long?> ParseLength(HttpRequest request)
    {
        var lengthHeader = request.Headers[TusProtocol.UploadLength];
        var deferHeader = request.Headers[TusProtocol.UploadDeferLength];
        if (deferHeader.Count > 0)
        {
            // "If the Upload-Defer-Length header contains any other value than 1 the server should return a 400 Bad
            // Request status."
            if (deferHeader.ToString() != "1" || lengthHeader.Count > 0)
            {
                return DepotError.InvalidRequest($"{TusProtocol.UploadDeferLength} must be '1', and comes without {TusProtocol.UploadLength}.");
            }

            return (long?)null;
        }

        if (!TusProtocol.TryParseSize(lengthHeader.ToString(), out var length))
        {
            return DepotError.InvalidRequest($"Creating an upload needs {TusProtocol.UploadLength} (a non-negative integer) or '{TusProtocol.UploadDeferLength}: 1'.");
        }

        return length;
    }

    /// <summary>Where an upload lands, from its <c>Upload-Metadata</c>: <c>bucket</c> (else the configured tus bucket),
    /// <c>key</c> (else a server-assigned id with the extension of <c>filename</c>), <c>filetype</c> as the content type,
    /// and the other pairs that are valid metadata names as user metadata.</summary>
    private Result<UploadDeclaration> Target(TusMetadata metadata, bool partial)
    {
        if (!metadata.GetText(TusMetadata.Bucket).TryGetValue(out var bucket, out var error)
            || !metadata.GetText(TusMetadata.Key).TryGetValue(out var keyText, out error)
            || !metadata.GetText(TusMetadata.FileName).TryGetValue(out var fileName, out error)
            || !metadata.GetText(TusMetadata.FileType).TryGetValue(out var fileType, out error))
        {
            return error;
        }

        bucket = string.IsNullOrEmpty(bucket) ? options.Tus.Bucket : bucket;
        var limits = buckets.Find(bucket);
        if (limits is null)
        {
            return DepotError.NotFound($"There is no bucket '{TusProtocol.Printable(bucket)}'.");
        }

        fileName = string.IsNullOrEmpty(fileName) ? null : fileName;
        var declaration = new UploadDeclaration
        {
            Bucket = bucket,
            Protocol = UploadProtocols.Tus,
            Partial = partial,
            ClientName = fileName,
        };

        // A part publishes nothing: it lives at an assigned id until it is concatenated.
        if (partial)
        {
            return declaration;
        }

        ObjectKey? key = null;
        if (!string.IsNullOrEmpty(keyText))
        {
            var parsed = ObjectKey.Parse(keyText);
            if (!parsed.IsSuccess)
            {
                return parsed.Error!;
            }

            key = parsed.Value;
        }

        var userMetadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in metadata.Pairs)
        {
            if (name is TusMetadata.Bucket or TusMetadata.Key or TusMetadata.FileName or TusMetadata.FileType)
            {
                continue;
            }

            AddIfValid(userMetadata, name, TusMetadata.TryDecode(value), limits);
        }

        string? extension = null;
        if (key is null && fileName is not null)
        {
            // The original name is kept with an object whose key does not carry it.
            AddIfValid(userMetadata, TusMetadata.FileName, fileName, limits);
            var candidate = Path.GetExtension(fileName).TrimStart('.');
            extension = candidate.Length > 0 && FileIds.ValidateExtension(candidate).IsSuccess ? candidate : null;
        }

        return declaration with
        {
            Key = key,
            Extension = extension,
            ContentType = MediaTypeHeaderValue.TryParse(fileType, out var mediaType) ? mediaType.ToString() : null,
            Metadata = userMetadata.Count == 0 ? null : userMetadata,
        };
    }

    /// <summary>Write scope for the target: its key, or the assigned-id directory (<see cref="FileIds.StorePath"/>) when
    /// the server picks the key; for a part, the bucket.</summary>
    private ValueTask<DepotError?> AuthorizeTargetAsync(HttpContext context, UploadDeclaration declaration) =>
        declaration.Partial
            ? guard.CheckAsync(context, Scopes.Write, declaration.Bucket, "", asDirectoryAncestor: true)
            : guard.CheckAsync(context, Scopes.Write, declaration.Bucket, declaration.Key?.Value ?? FileIds.StorePath + "/");

    /// <summary>Adds a pair that a bucket would accept as user metadata; others stay only in the raw Upload-Metadata.</summary>
    private static void AddIfValid(Dictionary<string, string> metadata, string name, string? value, BucketOptions limits)
    {
        if (value is null || metadata.Count >= limits.MaxMetadataEntries)
        {
            return;
        }

        var single = new Dictionary<string, string>(StringComparer.Ordinal) { [name] = value };
        if (MetadataRules.Validate(single, limits).IsSuccess)
        {
            metadata[name] = value;
        }
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
