using Depot.Core.Errors;

namespace Depot.Protocol;

/// <summary>The HTTP status of each stable error code (design §2.7). Server and client share this table.</summary>
public static class ErrorStatus
{
    public static int For(string code) => code switch
    {
        ErrorCodes.NotFound => 404,
        ErrorCodes.AlreadyExists => 409,
        ErrorCodes.InvalidPath => 400,
        ErrorCodes.InvalidRequest => 400,
        ErrorCodes.TooLarge => 413,
        ErrorCodes.Unauthorized => 401,
        ErrorCodes.Forbidden => 403,
        ErrorCodes.Conflict => 409,
        ErrorCodes.ChecksumMismatch => 422,
        ErrorCodes.PreconditionFailed => 412,
        ErrorCodes.RangeNotSatisfiable => 416,
        ErrorCodes.InsufficientStorage => 507,
        ErrorCodes.RateLimited => 429,
        ErrorCodes.MethodNotAllowed => 405,
        ErrorCodes.LengthRequired => 411,
        ErrorCodes.Unavailable => 503,
        ErrorCodes.LinkInvalid => 403,
        ErrorCodes.LinkExpired => 403,
        ErrorCodes.UploadExpired => 410,
        ErrorCodes.UploadIncomplete => 409,
        ErrorCodes.OffsetMismatch => 409,
        ErrorCodes.UnsupportedMediaType => 415,
        _ => 500,
    };

    public static string Title(string code) => code switch
    {
        ErrorCodes.NotFound => "Not found",
        ErrorCodes.AlreadyExists => "Already exists",
        ErrorCodes.InvalidPath => "Invalid path",
        ErrorCodes.InvalidRequest => "Invalid request",
        ErrorCodes.TooLarge => "Too large",
        ErrorCodes.Unauthorized => "Unauthorized",
        ErrorCodes.Forbidden => "Forbidden",
        ErrorCodes.Conflict => "Conflict",
        ErrorCodes.ChecksumMismatch => "Checksum mismatch",
        ErrorCodes.PreconditionFailed => "Precondition failed",
        ErrorCodes.RangeNotSatisfiable => "Range not satisfiable",
        ErrorCodes.InsufficientStorage => "Insufficient storage",
        ErrorCodes.RateLimited => "Too many requests",
        ErrorCodes.MethodNotAllowed => "Method not allowed",
        ErrorCodes.LengthRequired => "Length required",
        ErrorCodes.Unavailable => "Unavailable",
        ErrorCodes.LinkInvalid => "Link invalid",
        ErrorCodes.LinkExpired => "Link expired",
        ErrorCodes.UploadExpired => "Upload expired",
        ErrorCodes.UploadIncomplete => "Upload incomplete",
        ErrorCodes.OffsetMismatch => "Offset mismatch",
        ErrorCodes.UnsupportedMediaType => "Unsupported media type",
        _ => "Internal error",
    };
}
