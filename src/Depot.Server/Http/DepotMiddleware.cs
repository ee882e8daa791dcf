using System.Diagnostics;
using Depot.Core.Errors;
using Depot.Server.Auth;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Http;

/// <summary>
/// Runs around every request: refuses traversal in the raw target before routing normalises it away, logs one line
/// per request (never headers or query strings, so keys and signatures stay out of logs), and turns unexpected
/// exceptions into problem+json. A client that went away is an outcome, not an error.
/// </summary>
public sealed partial class DepotMiddleware(RequestDelegate next, ILogger<DepotMiddleware> logger, Hosting.DepotServerOptions options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var guard = CheckRawPath(context);
            if (guard is not null)
            {
                await Problems.WriteAsync(context, guard);
            }
            else
            {
                await next(context);
            }
        }
        catch (Exception e) when (context.RequestAborted.IsCancellationRequested || e is ConnectionResetException or OperationCanceledException)
        {
            if (logger.IsEnabled(LogLevel.Information))
            {
                var path = SafePath(context);
                LogClientGone(logger, context.Request.Method, path);
            }

            context.Abort();
        }
        catch (BadHttpRequestException e)
        {
            LogBadRequest(logger, context.Request.Method, SafePath(context), e.Message);
            await Problems.WriteAsync(context, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? ErrorCodes.TooLarge : ErrorCodes.InvalidRequest, e.Message);
        }
        catch (Exception e) when (StorageFullException.IsDiskFull(e))
        {
            await Problems.WriteAsync(context, ErrorCodes.InsufficientStorage, "The device is full; nothing was stored.");
        }
        catch (Exception e)
        {
            LogFailed(logger, e, context.Request.Method, SafePath(context));
            await Problems.WriteAsync(context, ErrorCodes.Internal, "The server failed to handle this request; it has been logged.");
        }
        finally
        {
            if (options.AccessLog && logger.IsEnabled(LogLevel.Information))
            {
                LogCompleted(context, started);
            }
        }
    }

    private void LogCompleted(HttpContext context, long started)
    {
        {
            var keyId = context.Items.TryGetValue(AccessGuard.IdentityItem, out var id) && id is CallerIdentity caller ? caller.KeyId : "-";
            var elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var path = SafePath(context);
            LogRequest(logger, context.Request.Method, path, context.Response.StatusCode, context.Response.ContentLength ?? -1, elapsedMs, keyId);
        }
    }

    /// <summary>The decoded path for logs, with control and bidi characters escaped so a request cannot forge log lines.</summary>
    internal static string SafePath(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        if (!path.Any(NeedsEscaping))
        {
            return path;
        }

        var escaped = new System.Text.StringBuilder(path.Length + 16);
        foreach (var c in path)
        {
            if (NeedsEscaping(c))
            {
                escaped.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                escaped.Append(c);
            }
        }

        return escaped.ToString();
    }

    private static bool NeedsEscaping(char c) => char.IsControl(c) || Core.Paths.ObjectKey.IsDirectionalMark(c);

    /// <summary>Dot segments, backslashes and NUL in the path as sent (before Kestrel normalises it) are refused.</summary>
    private static DepotError? CheckRawPath(HttpContext context)
    {
        var raw = RawKeyPath.RawPath(context);
        if (!RawKeyPath.Decode(raw).TryGetValue(out var decoded, out var error))
        {
            return error;
        }

        foreach (var segment in decoded.Split('/'))
        {
            if (segment is "." or ".." || segment.Contains('\\', StringComparison.Ordinal) || segment.Contains('\0', StringComparison.Ordinal))
            {
                return DepotError.InvalidPath("The path must not contain '.', '..', backslashes or NUL.");
            }
        }

        return null;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Method} {Path} -> {Status} ({Length} bytes) in {ElapsedMs:F1} ms, key {KeyId}")]
    private static partial void LogRequest(ILogger logger, string method, string path, int status, long length, double elapsedMs, string keyId);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "{Method} {Path}: the client went away")]
    private static partial void LogClientGone(ILogger logger, string method, string path);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Method} {Path}: bad request: {Reason}")]
    private static partial void LogBadRequest(ILogger logger, string method, string path, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string method, string path);
}
