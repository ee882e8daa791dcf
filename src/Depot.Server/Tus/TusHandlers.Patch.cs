using System.Globalization;
using System.Security.Cryptography;
using Depot.Core.Errors;
using Depot.Core.Uploads;
using Depot.Server.Handlers;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Tus;

public sealed partial class TusHandlers
{
    /// <summary>"The Server SHOULD accept PATCH requests against any upload URL and apply the bytes contained in the
    /// message at the given offset specified by the Upload-Offset header."</summary>
    private async Task PatchAsync(HttpContext context, string id)
    {
        var request = context.Request;
        var caller = await AuthenticateAsync(context);
        if (caller is null)
        {
            return;
        }

        // "All PATCH requests MUST use Content-Type: application/offset+octet-stream, otherwise the server SHOULD return
        // a 415 Unsupported Media Type status."
        if (!TusProtocol.IsOffsetOctetStream(request.ContentType))
        {
            await TusProblems.WriteAsync(context, ErrorCodes.UnsupportedMediaType, $"PATCH bodies must be sent as 'Content-Type: {TusProtocol.OffsetOctetStream}'.");
            return;
        }

        if (!TusProtocol.TryParseSize(request.Headers[TusProtocol.UploadOffset].ToString(), out var offset))
        {
            await TusProblems.WriteAsync(context, ErrorCodes.InvalidRequest, $"PATCH needs {TusProtocol.UploadOffset}: the offset (a non-negative integer) the body starts at.");
            return;
        }

        if (!ParseChunkChecksum(request).TryGetValue(out var checksum, out var checksumError))
        {
            await TusProblems.WriteAsync(context, checksumError);
            return;
        }

        var found = await FindAsync(id, context.RequestAborted);
        if (!found.TryGetValue(out var session, out var error))
        {
            await TusProblems.WriteAsync(context, error);
            return;
        }

        if (await AuthorizeSessionAsync(context, caller, session) is { } denied)
        {
            await TusProblems.WriteAsync(context, denied);
            return;
        }

        // "The Server MUST respond with the 403 Forbidden status to PATCH requests against a final upload URL and MUST
        // NOT modify the final or its partial uploads."
        if (TusSessionProperties.Parse(session.Properties).IsFinal)
        {
            await TusProblems.WriteAsync(context, ErrorCodes.Forbidden, "This is the final upload of a concatenation: it cannot be written to.");
            return;
        }

        // "Once it is known the Client MUST set the Upload-Length header in the next PATCH request. Once set the length
        // MUST NOT be changed."
        if (request.Headers.ContainsKey(TusProtocol.UploadLength))
        {
            if (!TusProtocol.TryParseSize(request.Headers[TusProtocol.UploadLength].ToString(), out var length))
            {
                await TusProblems.WriteAsync(context, ErrorCodes.InvalidRequest, $"{TusProtocol.UploadLength} must be a non-negative integer.");
                return;
            }

            if (session.Length is { } declared)
            {
                if (declared != length)
                {
                    await TusProblems.WriteAsync(context, ErrorCodes.InvalidRequest, $"The upload's length is {declared} and cannot be changed.");
                    return;
                }
            }
            else
            {
                if (length > MaxSize)
                {
                    await TusProblems.WriteAsync(context, ErrorCodes.TooLarge, $"Uploads are limited to {MaxSize} bytes (Tus-Max-Size).");
                    return;
                }

                var declaredNow = await uploads.DeclareLengthAsync(session.Id, length, context.RequestAborted);
                if (!declaredNow.TryGetValue(out session, out var lengthError))
                {
                    await TusProblems.WriteAsync(context, lengthError);
                    return;
                }
            }
        }

        // "If the offsets do not match, the Server MUST respond with the 409 Conflict status without modifying the upload
        // resource." Checked here so that no byte is read in vain; the engine checks again under its lock.
        if (offset != Offset(session))
        {
            await TusProblems.WriteAsync(context, OffsetMismatch(offset, Offset(session)));
            return;
        }

        var written = await WriteChunkAsync(context, session, offset, checksum);
        if (!written.TryGetValue(out session, out var writeError))
        {
            await TusProblems.WriteAsync(context, writeError);
            return;
        }

        // "The Server MUST acknowledge successful PATCH requests with the 204 No Content status. It MUST include the
        // Upload-Offset header containing the new offset."
        context.Response.Headers[TusProtocol.UploadOffset] = Offset(session).ToString(CultureInfo.InvariantCulture);
        WriteExpires(context, session);
        WriteObjectLocation(context, session);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>Writes the request body at <paramref name="offset"/> (PATCH, creation-with-upload) and, when that makes the
    /// upload whole, completes it: the answer goes out only once the object is published.</summary>
    /// <returns>The session afterwards; the engine's error otherwise (<c>checksum_mismatch</c> stored nothing).</returns>
    private async Task<Result<UploadSession>> WriteChunkAsync(HttpContext context, UploadSession session, long offset, TusChecksum? checksum)
    {
        var request = context.Request;
        if (request.ContentLength != 0)
        {
            DepotError? trailerError = null;
            await using var trailerBody = AnnouncesChecksumTrailer(request) ? new TrailerChecksumStream(request.Body) : null;
            var chunk = new ChunkOptions
            {
                ExpectedLength = request.ContentLength,
                MustContinue = true,
                // "The Server SHOULD always attempt to store as much of the received data as possible." Except under a
                // checksum: "the uploaded chunk MUST be discarded" unless it is whole and verified.
                KeepPartial = checksum is null && trailerBody is null,
                ChecksumAlgorithm = trailerBody is not null ? "sha256" : checksum?.Algorithm,
                Checksum = trailerBody is not null ? () => CheckTrailer(request, trailerBody, out trailerError) : () => checksum?.Digest,
            };
            var written = await WriteHandlers.StoreAsync(() => uploads.WriteAsync(session.Id, offset, trailerBody ?? request.Body, chunk, context.RequestAborted));
            if (!written.TryGetValue(out var result, out var error))
            {
                return trailerError ?? error;
            }

            if (result.Published is not null)
            {
                return result.Session;
            }

            session = result.Session;
        }

        if (session.State == UploadState.Open && session.IsFullyReceived)
        {
            // Partial uploads are only closed (they wait for a concatenation); others are verified and published.
            // Not the request's token: every byte is acknowledged-durable already, and a client that goes away now must still
            // find its upload published (a HEAD would report the full offset and the client would consider it done).
            var completed = await uploads.CompleteAsync(session.Id, CancellationToken.None);
            if (!completed.TryGetValue(out var finished, out var completeError))
            {
                return completeError;
            }

            session = finished.Session;
        }

        return session;
    }

    /// <summary>"A Client MAY include the Upload-Checksum header in a PATCH request. Once the entire request has been
    /// received, the Server MUST verify the uploaded chunk against the provided checksum using the specified
    /// algorithm."</summary>
    private static Result<TusChecksum?> ParseChunkChecksum(HttpRequest request)
    {
        if (request.Headers[TusProtocol.UploadChecksum] is not { Count: > 0 } header)
        {
            return (TusChecksum?)null;
        }

        if (!TusProtocol.ParseChecksum(header.ToString()).TryGetValue(out var checksum, out var error))
        {
            return error;
        }

        return checksum;
    }

    /// <summary>"If the hash cannot be calculated at the beginning of the upload, it MAY be included as a trailer. [...]
    /// Following RFC 7230 they MUST be announced using the Trailer header and are only allowed in chunked
    /// transfers."</summary>
    private static bool AnnouncesChecksumTrailer(HttpRequest request) =>
        !request.Headers.ContainsKey(TusProtocol.UploadChecksum)
        && request.Headers.Trailer.Any(names => names is not null
            && names.Split(',').Any(name => string.Equals(name.Trim(), TusProtocol.UploadChecksum, StringComparison.OrdinalIgnoreCase)));

    /// <summary>Checks the chunk against the announced <c>Upload-Checksum</c> trailer, once the body is in. The engine
    /// hashed the chunk with SHA-256 while <paramref name="body"/> hashed it with every algorithm: the answer is that
    /// SHA-256 when the trailer matches, and a different value (so the chunk is discarded) when it does not or is missing
    /// or malformed, in which case <paramref name="error"/> says why.</summary>
    private static byte[] CheckTrailer(HttpRequest request, TrailerChecksumStream body, out DepotError? error)
    {
        error = null;
        var sha256 = body.Digest("sha256");
        var value = request.SupportsTrailers() && request.CheckTrailersAvailable() ? request.GetTrailer(TusProtocol.UploadChecksum).ToString() : "";
        if (value.Length == 0)
        {
            error = DepotError.InvalidRequest($"The {TusProtocol.UploadChecksum} trailer was announced but not sent (trailers need a chunked body); the chunk was discarded.");
        }
        else if (!TusProtocol.ParseChecksum(value).TryGetValue(out var checksum, out var parseError))
        {
            error = parseError;
        }
        else if (CryptographicOperations.FixedTimeEquals(body.Digest(checksum.Algorithm), checksum.Digest))
        {
            return sha256;
        }

        sha256[0] ^= 0xFF;
        return sha256;
    }

    private static DepotError OffsetMismatch(long sent, long current) =>
        new(ErrorCodes.OffsetMismatch, $"{TusProtocol.UploadOffset} is {sent} but the upload's offset is {current}; ask with HEAD and continue from there.")
        {
            Extensions = new Dictionary<string, object?> { ["offset"] = current },
        };
}
