using System.Net.Sockets;
using System.Security.Authentication;
using Depot.Client;

namespace Depot.Cli.Shell;

/// <summary>Turns any failure into the exit code of its class and one line for stderr that says what to do.</summary>
internal static class ErrorReport
{
    /// <summary>The exit code and the stable error code (<c>not_found</c>, …) of a failure.</summary>
    public static (int ExitCode, string Code) Classify(Exception error) => error switch
    {
        CliException cli => (cli.ExitCode, CodeOf(cli.ExitCode)),
        NotFoundException e => (ExitCodes.NotFound, e.Code),
        AlreadyExistsException e => (ExitCodes.AlreadyExists, e.Code),
        DepotException { Code: ClientErrorCodes.LocalExists } e => (ExitCodes.AlreadyExists, e.Code),
        UnauthorizedException or ForbiddenException => (ExitCodes.Auth, ((DepotException)error).Code),
        ConflictException or PreconditionFailedException or UploadExpiredException => (ExitCodes.Conflict, ((DepotException)error).Code),
        ChecksumMismatchException or DecryptionException => (ExitCodes.Checksum, ((DepotException)error).Code),
        InsufficientStorageException => (ExitCodes.Storage, ((DepotException)error).Code),
        DepotException { Code: "too_large" } e => (ExitCodes.Storage, e.Code),
        DepotUnavailableException e => (ExitCodes.Network, e.Code),
        InvalidRequestException e => (ExitCodes.Usage, e.Code),
        DepotException { IsTransient: true } e => (ExitCodes.Network, e.Code),
        DepotException e => (ExitCodes.Failure, e.Code),
        FileNotFoundException or DirectoryNotFoundException => (ExitCodes.NotFound, "not_found"),
        AuthenticationException => (ExitCodes.Network, "tls"),
        HttpRequestException or SocketException => (ExitCodes.Network, "network"),
        FormatException or ArgumentException => (ExitCodes.Usage, "usage"),
        OperationCanceledException => (ExitCodes.Interrupted, "interrupted"),
        _ => (ExitCodes.Failure, "error"),
    };

    /// <summary>The message for stderr: the SDK's (which names the path and what to do), with the SDK's option names
    /// replaced by the CLI's flags and variables.</summary>
    public static string Describe(Exception error)
    {
        var message = error switch
        {
            UnauthorizedAccessException => $"permission denied: {error.Message}",
            OperationCanceledException => "interrupted; nothing half-done was published (run the command again to finish it).",
            _ => error.Message,
        };
        return message
            .Replace("Check DepotClientOptions.ApiKey (DEPOT_KEY).", "Pass the key with DEPOT_KEY, --key or 'depot config set key'.", StringComparison.Ordinal)
            .Replace("or raise DepotClientOptions.Timeout", "or raise --timeout", StringComparison.Ordinal)
            .Replace("or raise DepotClientOptions.StallTimeout", "or retry (a large upload resumes where it stopped)", StringComparison.Ordinal)
            .Replace("Check the URL (DEPOT_URL)", "Check the URL (--url, DEPOT_URL or 'depot config set url')", StringComparison.Ordinal)
            .Replace("DepotClientOptions.CertificateFingerprint", "--fingerprint (see 'depot tls fingerprint')", StringComparison.Ordinal)
            .Replace("allow overwriting", "leave out --no-clobber", StringComparison.Ordinal)
            .Replace("Use ConflictMode.Skip to keep existing files or ConflictMode.Overwrite to replace them.", "Leave out --no-clobber to replace them.", StringComparison.Ordinal);
    }

    private static string CodeOf(int exitCode) => exitCode switch
    {
        ExitCodes.Usage => "usage",
        ExitCodes.NotFound => "not_found",
        ExitCodes.AlreadyExists => "already_exists",
        ExitCodes.Auth => "unauthorized",
        ExitCodes.Conflict => "conflict",
        ExitCodes.Network => "network",
        ExitCodes.Checksum => "checksum_mismatch",
        ExitCodes.Partial => "partial_failure",
        ExitCodes.Storage => "insufficient_storage",
        ExitCodes.Interrupted => "interrupted",
        _ => "error",
    };
}
