namespace Depot.Core.Errors;

/// <summary>
/// The stable error codes of the public contract (design §2.7). They appear as the <c>code</c> member of
/// every problem+json body, map to typed exceptions in the client and to exit codes in the CLI.
/// Never rename one; add new ones instead.
/// </summary>
public static class ErrorCodes
{
    public const string NotFound = "not_found";
    public const string AlreadyExists = "already_exists";
    public const string InvalidPath = "invalid_path";
    public const string InvalidRequest = "invalid_request";
    public const string TooLarge = "too_large";
    public const string Unauthorized = "unauthorized";
    public const string Forbidden = "forbidden";
    public const string Conflict = "conflict";
    public const string ChecksumMismatch = "checksum_mismatch";
    public const string PreconditionFailed = "precondition_failed";
    public const string RangeNotSatisfiable = "range_not_satisfiable";
    public const string InsufficientStorage = "insufficient_storage";
    public const string RateLimited = "rate_limited";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string LengthRequired = "length_required";
    public const string Internal = "internal";
    public const string Unavailable = "unavailable";

    /// <summary>A share link whose signature does not match (tampered, or signed with a secret since rotated).</summary>
    public const string LinkInvalid = "link_invalid";

    /// <summary>A share link used after its expiry.</summary>
    public const string LinkExpired = "link_expired";

    /// <summary>An upload session past its expiry (its bytes are gone or going).</summary>
    public const string UploadExpired = "upload_expired";

    /// <summary>Completing an upload session that still misses bytes (or whose length was never declared).</summary>
    public const string UploadIncomplete = "upload_incomplete";

    /// <summary>A body of a media type the endpoint does not take (tus PATCH without application/offset+octet-stream).</summary>
    public const string UnsupportedMediaType = "unsupported_media_type";

    /// <summary>A chunk that must continue an upload (tus) but starts elsewhere than where the received bytes end.</summary>
    public const string OffsetMismatch = "offset_mismatch";
}
