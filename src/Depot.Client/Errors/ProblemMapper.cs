using System.Net;
using System.Text.Json;
using Depot.Core.Errors;
using Depot.Protocol;

namespace Depot.Client;

/// <summary>Turns a failed answer into the typed exception, with a message that says what to do next.</summary>
internal static class ProblemMapper
{
    private const int MaxProblemBytes = 64 * 1024;

    public static async Task<DepotException> FromResponseAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        ProblemDto? problem = null;
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is "application/problem+json" or "application/json")
        {
            try
            {
                var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    using var bounded = new MemoryStream();
                    var buffer = new byte[8192];
                    int read;
                    while (bounded.Length < MaxProblemBytes && (read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        bounded.Write(buffer, 0, read);
                    }

                    problem = JsonSerializer.Deserialize(bounded.ToArray(), DepotJson.Default.ProblemDto);
                }
            }
            catch (Exception e) when (e is JsonException or IOException or HttpRequestException)
            {
                problem = null;
            }
        }

        var status = response.StatusCode;
        var code = problem?.Code ?? CodeFromStatus(status);
        var detail = problem?.Detail;
        var retryAfter = response.Headers.RetryAfter?.Delta
            ?? (response.Headers.RetryAfter?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return Create(code, status, what, detail, problem, retryAfter);
    }

    public static DepotException Create(string code, HttpStatusCode status, string what, string? detail, ProblemDto? problem = null, TimeSpan? retryAfter = null)
    {
        var said = detail is null ? "" : $" The server said: {detail}";
        DepotException exception = code switch
        {
            ErrorCodes.NotFound => new NotFoundException($"{what}: not found (or expired).{said} Check the path, e.g. by listing its directory."),
            ErrorCodes.AlreadyExists => new AlreadyExistsException($"{what}: something is already there.{said} Choose another path, or allow overwriting."),
            ErrorCodes.PreconditionFailed => new PreconditionFailedException(
                $"{what}: the object changed since it was read (its ETag no longer matches).{said} Read it again and retry with the new ETag.",
                ExtensionString(problem, "etag")),
            ErrorCodes.ChecksumMismatch => new ChecksumMismatchException(
                $"{what}: the bytes do not match their checksum; nothing was stored.{said} The source may have changed while it was sent: send it again.", status),
            ErrorCodes.Unauthorized => new UnauthorizedException(
                $"{what}: the server refused the API key (missing, unknown, expired or revoked).{said} Check DepotClientOptions.ApiKey (DEPOT_KEY)."),
            ErrorCodes.Forbidden or ErrorCodes.LinkInvalid or ErrorCodes.LinkExpired => new ForbiddenException(code,
                $"{what}: not allowed for this key.{said} Use a key whose scopes (read, write, delete, admin), bucket and prefix cover the path.")
            {
                Reason = ExtensionString(problem, "reason"),
            },
            ErrorCodes.Conflict or ErrorCodes.UploadIncomplete or ErrorCodes.OffsetMismatch => new ConflictException(code,
                $"{what}: conflicts with what is there now.{said}"),
            ErrorCodes.InvalidPath or ErrorCodes.InvalidRequest or ErrorCodes.TooLarge or ErrorCodes.RangeNotSatisfiable
                or ErrorCodes.MethodNotAllowed or ErrorCodes.LengthRequired or ErrorCodes.UnsupportedMediaType => new InvalidRequestException(code, status,
                    $"{what}: the server refused the request ({code}).{said}"),
            ErrorCodes.InsufficientStorage => new InsufficientStorageException($"{what}: the server's disk is full; nothing was stored.{said} Free space on the server, then retry."),
            ErrorCodes.UploadExpired => new UploadExpiredException($"{what}: the upload session expired and its bytes were reclaimed.{said} Start the upload again."),
            ErrorCodes.RateLimited or ErrorCodes.Unavailable or ErrorCodes.Internal => new DepotUnavailableException(code, status,
                $"{what}: the server could not serve the request now ({code}).{said} Retry later.")
            {
                RetryAfter = retryAfter,
            },
            _ => new DepotException(code, status, $"{what}: the server answered {(int)status} ({code}).{said}"),
        };
        return Decorate(exception, detail, problem?.Instance);
    }

    private static DepotException Decorate(DepotException exception, string? detail, string? instance)
    {
        exception.Detail = detail;
        exception.Instance = instance;
        return exception;
    }

    private static string? ExtensionString(ProblemDto? problem, string name) =>
        problem?.Extensions is { } extensions && extensions.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static string CodeFromStatus(HttpStatusCode status) => (int)status switch
    {
        400 => ErrorCodes.InvalidRequest,
        401 => ErrorCodes.Unauthorized,
        403 => ErrorCodes.Forbidden,
        404 => ErrorCodes.NotFound,
        405 => ErrorCodes.MethodNotAllowed,
        409 => ErrorCodes.Conflict,
        410 => ErrorCodes.UploadExpired,
        411 => ErrorCodes.LengthRequired,
        412 => ErrorCodes.PreconditionFailed,
        413 => ErrorCodes.TooLarge,
        415 => ErrorCodes.UnsupportedMediaType,
        416 => ErrorCodes.RangeNotSatisfiable,
        422 => ErrorCodes.ChecksumMismatch,
        429 => ErrorCodes.RateLimited,
        503 or 502 or 504 => ErrorCodes.Unavailable,
        507 => ErrorCodes.InsufficientStorage,
        >= 500 => ErrorCodes.Internal,
        _ => ClientErrorCodes.Protocol,
    };
}
