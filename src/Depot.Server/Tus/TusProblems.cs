using Depot.Core.Errors;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Tus;

/// <summary>Error answers of the tus endpoint: problem+json like everywhere else, with the status codes tus prescribes
/// where they differ from Depot's own (460 for a checksum mismatch, 415 for a body of the wrong media type).</summary>
internal static class TusProblems
{
    public static Task WriteAsync(HttpContext context, DepotError error, int? status = null) =>
        Problems.WriteAsync(context, error, status ?? (error.Code == ErrorCodes.ChecksumMismatch ? TusProtocol.ChecksumMismatchStatus : null));

    public static Task WriteAsync(HttpContext context, string code, string message, int? status = null) =>
        WriteAsync(context, new DepotError(code, message), status);
}
