using Depot.Core.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Depot.Server.Http;

/// <summary>Evaluates read preconditions in the order of RFC 9110 §13.2.2.</summary>
public static class Conditionals
{
    public enum Outcome
    {
        Proceed,
        NotModified,
        PreconditionFailed,
    }

    public static Outcome Evaluate(HttpRequest request, ObjectRecord record)
    {
        var raw = request.Headers;
        if (raw.IfMatch.Count == 0 && raw.IfNoneMatch.Count == 0 && raw.IfModifiedSince.Count == 0 && raw.IfUnmodifiedSince.Count == 0)
        {
            return Outcome.Proceed; // most reads: nothing to parse
        }

        var headers = request.GetTypedHeaders();
        var lastModified = Truncate(record.ModifiedUtc);

        // 1. If-Match (strong comparison)
        if (headers.IfMatch is { Count: > 0 } ifMatch)
        {
            if (!ifMatch.Any(t => t.Equals(EntityTagHeaderValue.Any) || (!t.IsWeak && t.Tag.ToString() == record.ETag)))
            {
                return Outcome.PreconditionFailed;
            }
        }
        else if (headers.IfUnmodifiedSince is { } ius && lastModified > ius)
        {
            // 2. If-Unmodified-Since, only without If-Match
            return Outcome.PreconditionFailed;
        }

        var isRead = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);

        // 3. If-None-Match (weak comparison)
        if (headers.IfNoneMatch is { Count: > 0 } ifNoneMatch)
        {
            if (ifNoneMatch.Any(t => t.Equals(EntityTagHeaderValue.Any) || t.Tag.ToString() == record.ETag))
            {
                return isRead ? Outcome.NotModified : Outcome.PreconditionFailed;
            }
        }
        else if (isRead && headers.IfModifiedSince is { } ims && lastModified <= ims)
        {
            // 4. If-Modified-Since, only for GET/HEAD without If-None-Match
            return Outcome.NotModified;
        }

        return Outcome.Proceed;
    }

    /// <summary>True when a Range should be honoured: no If-Range, or it matches the current representation (§13.1.5).</summary>
    public static bool RangeApplies(HttpRequest request, ObjectRecord record)
    {
        var ifRange = request.GetTypedHeaders().IfRange;
        if (ifRange is null)
        {
            return true;
        }

        if (ifRange.EntityTag is { } tag)
        {
            return !tag.IsWeak && tag.Tag.ToString() == record.ETag;
        }

        return ifRange.LastModified is { } date && Truncate(record.ModifiedUtc) == date;
    }

    /// <summary>HTTP dates have whole seconds.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset t) => new(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
}
