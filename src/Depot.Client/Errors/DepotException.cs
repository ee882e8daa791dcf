using System.Net;
using Depot.Core.Errors;

namespace Depot.Client;

/// <summary>
/// Every failure the client reports. <see cref="Code"/> is the server's stable error code (the <c>code</c> member of
/// its problem+json answer, e.g. <c>not_found</c>) or a client-side one (<c>network</c>, <c>timeout</c>,
/// <c>checksum_mismatch</c>); program against it or against the subclass, never against the message.
/// </summary>
/// <remarks>
/// <see cref="IsTransient"/> says whether the same call may succeed if repeated later (network failures, timeouts,
/// 429, 503). The client already retries transient failures of requests that are safe to repeat, as
/// <see cref="RetryOptions"/> says; an exception that reaches you has used those attempts up.
/// </remarks>
public class DepotException : Exception
{
    /// <summary>A failure with a code, the HTTP status (0 when there was no answer), and a message.</summary>
    public DepotException(string code, HttpStatusCode statusCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        StatusCode = statusCode;
    }

    /// <summary>The stable error code: one of the server's (design §2.7) or <see cref="ClientErrorCodes"/>.</summary>
    public string Code { get; }

    /// <summary>The HTTP status of the answer; 0 when no answer arrived (network failure, timeout).</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>True when repeating the call later may succeed (network, timeout, 429, 503, 500-class answers).</summary>
    public virtual bool IsTransient => Code is ClientErrorCodes.Network or ClientErrorCodes.Timeout or ErrorCodes.RateLimited
        or ErrorCodes.Unavailable or ErrorCodes.Internal;

    /// <summary>The server's <c>detail</c> text, when it sent one.</summary>
    public string? Detail { get; internal set; }

    /// <summary>The request path the failure is about (the problem's <c>instance</c>, or the path the client asked for).</summary>
    public string? Instance { get; internal set; }
}

/// <summary>Error codes the client itself produces (the server's are in <see cref="ErrorCodes"/>).</summary>
public static class ClientErrorCodes
{
    /// <summary>No answer: connection refused, reset or dropped on every server tried.</summary>
    public const string Network = "network";

    /// <summary>No answer within <see cref="DepotClientOptions.Timeout"/>.</summary>
    public const string Timeout = "timeout";

    /// <summary>The server answered something that is not Depot's protocol (wrong URL, a proxy's page).</summary>
    public const string Protocol = "protocol";

    /// <summary>Client-side encryption: wrong key or passphrase, or ciphertext that was changed.</summary>
    public const string Decryption = "decryption_failed";

    /// <summary>A transfer was refused by a local condition: the destination exists and overwriting was not asked for.</summary>
    public const string LocalExists = "local_exists";
}

/// <summary>Nothing at the path (or it expired): <c>not_found</c>, 404.</summary>
public sealed class NotFoundException(string message) : DepotException(ErrorCodes.NotFound, HttpStatusCode.NotFound, message);

/// <summary>Something is already at the path and the call was create-only: <c>already_exists</c>, 409.</summary>
public sealed class AlreadyExistsException(string message) : DepotException(ErrorCodes.AlreadyExists, HttpStatusCode.Conflict, message);

/// <summary>The object changed since you read it (compare-and-swap lost): <c>precondition_failed</c>, 412.</summary>
public sealed class PreconditionFailedException(string message, string? currentETag)
    : DepotException(ErrorCodes.PreconditionFailed, HttpStatusCode.PreconditionFailed, message)
{
    /// <summary>The object's ETag now, or null when it does not exist.</summary>
    public string? CurrentETag { get; } = currentETag;
}

/// <summary>Bytes differ from their declared or expected checksum: <c>checksum_mismatch</c>. Nothing was published
/// (uploads) or put in place (downloads).</summary>
public sealed class ChecksumMismatchException(string message, HttpStatusCode statusCode = (HttpStatusCode)422)
    : DepotException(ErrorCodes.ChecksumMismatch, statusCode, message);

/// <summary>No key, or the key is unknown, expired or revoked: <c>unauthorized</c>, 401.</summary>
public sealed class UnauthorizedException(string message) : DepotException(ErrorCodes.Unauthorized, HttpStatusCode.Unauthorized, message);

/// <summary>The key may not do this (scope, bucket or prefix limit, read-only bucket, policy): <c>forbidden</c>,
/// <c>link_invalid</c>, <c>link_expired</c>, 403.</summary>
public sealed class ForbiddenException(string code, string message) : DepotException(code, HttpStatusCode.Forbidden, message)
{
    /// <summary>The upload policy's reason, when a policy refused.</summary>
    public string? Reason { get; init; }
}

/// <summary>The path is the wrong kind of thing, or the change conflicts with the current state: <c>conflict</c>,
/// <c>upload_incomplete</c>, <c>offset_mismatch</c>, 409.</summary>
public sealed class ConflictException(string code, string message) : DepotException(code, HttpStatusCode.Conflict, message);

/// <summary>The request was malformed or a value is out of range: <c>invalid_path</c>, <c>invalid_request</c>, 400;
/// <c>range_not_satisfiable</c>, 416; <c>too_large</c>, 413.</summary>
public sealed class InvalidRequestException(string code, HttpStatusCode statusCode, string message) : DepotException(code, statusCode, message);

/// <summary>The server's disk is full: <c>insufficient_storage</c>, 507. Nothing was stored.</summary>
public sealed class InsufficientStorageException(string message)
    : DepotException(ErrorCodes.InsufficientStorage, HttpStatusCode.InsufficientStorage, message);

/// <summary>The upload session expired and its bytes were reclaimed: <c>upload_expired</c>, 410. Start the upload again.</summary>
public sealed class UploadExpiredException(string message) : DepotException(ErrorCodes.UploadExpired, HttpStatusCode.Gone, message);

/// <summary>The server could not be reached, did not answer in time, or answered that it is overloaded or
/// failing (<c>network</c>, <c>timeout</c>, <c>rate_limited</c>, <c>unavailable</c>, <c>internal</c>). Always transient.</summary>
public sealed class DepotUnavailableException(string code, HttpStatusCode statusCode, string message, Exception? innerException = null)
    : DepotException(code, statusCode, message, innerException)
{
    /// <summary>How long the server asked to wait (429 <c>Retry-After</c>), if it said.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <inheritdoc />
    public override bool IsTransient => true;
}

/// <summary>Client-side decryption failed: wrong key or passphrase, or the ciphertext was changed (<c>decryption_failed</c>).</summary>
public sealed class DecryptionException(string message, Exception? innerException = null)
    : DepotException(ClientErrorCodes.Decryption, 0, message, innerException);
