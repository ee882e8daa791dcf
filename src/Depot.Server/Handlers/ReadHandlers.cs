using System.Buffers;
using System.Globalization;
using System.Text;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Model;
using Depot.Protocol;
using Depot.Server.Auth;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>GET and HEAD on <c>/v1/{bucket}/{key}</c>: download, list, stat.</summary>
public sealed class ReadHandlers(ObjectEngine engine, AccessGuard guard)
{
    private const int CopyBufferSize = 256 << 10;
    private const int SmallBodyBytes = 64 << 10;

    /// <summary>"GET /v1/{bucket}/{key} downloads the object, whole or by Range (one or several ranges); HEAD answers
    /// the same headers without a body. A path ending in '/' (or ?list) lists the directory; ?stat describes it."</summary>
    public async Task HandleAsync(HttpContext context, ObjectTarget target)
    {
        var query = context.Request.Query;
        var listing = target.DirectoryForm || query.ContainsKey(DepotQuery.List);
        var describing = listing || query.ContainsKey(DepotQuery.Stat);
        // A share link authorizes downloads of its own object only; see ShareLinks.
        var denied = await guard.CheckReadAsync(context, target.Bucket, target.Key.Value, download: !describing, asDirectoryAncestor: describing);
        if (denied is not null)
        {
            await Problems.WriteAsync(context, denied);
            return;
        }

        if (query.ContainsKey(DepotQuery.Stat))
        {
            await StatAsync(context, target);
        }
        else if (listing)
        {
            await ListAsync(context, target);
        }
        else
        {
            await DownloadAsync(context, target);
        }
    }

    /// <summary>"List a directory: names, sizes, mtimes and types in stable order, optionally recursive, in pages of
    /// ?limit= entries (default 1000, at most 10000) continued with ?cursor=."</summary>
    private async Task ListAsync(HttpContext context, ObjectTarget target)
    {
        var query = context.Request.Query;
        var limit = 1000;
        if (query.TryGetValue(DepotQuery.Limit, out var limitText)
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > ListOptions.MaxLimit))
        {
            await Problems.WriteAsync(context, DepotError.InvalidRequest($"limit must be a whole number from 1 to {ListOptions.MaxLimit}."));
            return;
        }

        var recursive = IsTrue(query, DepotQuery.Recursive);
        var cursor = query.TryGetValue(DepotQuery.Cursor, out var c) ? c.ToString() : null;
        // A key limited to a prefix may list the directories above it, but sees only the path down to its prefix: the
        // filter runs inside the walk, so neither entries nor cursors reveal anything else.
        var identity = (await guard.AuthenticateAsync(context))!;
        Func<string, bool, bool>? visible = identity.Prefix is null ? null : (key, isDirectory) => identity.Covers(target.Bucket, key, asDirectoryAncestor: isDirectory);
        var page = await engine.ListAsync(target.Bucket, target.Key, new ListOptions(recursive, limit, cursor, visible), context.RequestAborted);
        if (!page.TryGetValue(out var value, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        var dto = new ListPageDto
        {
            Bucket = target.Bucket,
            Prefix = target.Key.Value,
            Entries = value.Entries.Select(Mapping.ToDto).ToList(),
            NextCursor = value.NextCursor,
        };
        await JsonBodies.WriteAsync(context, dto, DepotJson.Wire.ListPageDto);
    }

    /// <summary>"GET ?stat describes a file (size, checksum, ETag, times, content type, metadata) or a directory."</summary>
    private async Task StatAsync(HttpContext context, ObjectTarget target)
    {
        var stat = await engine.StatAsync(target.Bucket, target.Key, context.RequestAborted);
        if (!stat.TryGetValue(out var value, out var error))
        {
            await Problems.WriteAsync(context, error);
            return;
        }

        await JsonBodies.WriteAsync(context, Mapping.ToDto(value), DepotJson.Wire.ObjectInfoDto);
    }

    private async Task DownloadAsync(HttpContext context, ObjectTarget target)
    {
        var request = context.Request;
        var response = context.Response;
        var opened = await engine.OpenReadAsync(target.Bucket, target.Key, context.RequestAborted);
        if (!opened.TryGetValue(out var read, out var error))
        {
            if (error.Code == ErrorCodes.NotFound && await engine.StatAsync(target.Bucket, target.Key, context.RequestAborted) is { IsSuccess: true, Value.IsDirectory: true })
            {
                if (HttpMethods.IsHead(request.Method))
                {
                    response.Headers[DepotHeaders.EntryType] = "directory";
                    return;
                }

                error = DepotError.Conflict($"'{target.Key}' is a directory; list it with a trailing '/' or ?list.");
            }

            await Problems.WriteAsync(context, error);
            return;
        }

        await using var content = read.Content;
        var record = read.Record;
        Mapping.WriteObjectHeaders(response, record);
        response.Headers.AcceptRanges = "bytes";
        switch (Conditionals.Evaluate(request, record))
        {
            case Conditionals.Outcome.NotModified:
                response.StatusCode = StatusCodes.Status304NotModified;
                return;
            case Conditionals.Outcome.PreconditionFailed:
                await Problems.WriteAsync(context, new DepotError(ErrorCodes.PreconditionFailed, $"The current ETag of '{target.Key}' is {record.ETag}; the precondition does not hold.")
                {
                    Extensions = new Dictionary<string, object?> { ["etag"] = record.ETag },
                });
                return;
        }

        var contentType = record.ContentType ?? ContentTypes.Guess(record.Key);
        response.Headers.ContentDisposition = ContentDisposition(record.Key, IsTrue(request.Query, DepotQuery.Download));
        var offsetRange = OffsetRange(request.Query, record.Size);
        if (!offsetRange.TryGetValue(out var byOffset, out var offsetError))
        {
            await Problems.WriteAsync(context, offsetError);
            return;
        }

        var (kind, ranges) = byOffset is { } asked
            ? asked
            : Conditionals.RangeApplies(request, record)
                ? ByteRanges.Parse(request.Headers.Range, record.Size)
                : (ByteRanges.Kind.Whole, []);
        var head = HttpMethods.IsHead(request.Method);
        switch (kind)
        {
            case ByteRanges.Kind.Unsatisfiable:
                response.Headers.ContentRange = $"bytes */{record.Size}";
                await Problems.WriteAsync(context, new DepotError(ErrorCodes.RangeNotSatisfiable, $"The range lies outside the object's {record.Size} bytes."));
                return;
            case ByteRanges.Kind.Satisfiable when ranges.Count == 1:
                var range = ranges[0];
                response.StatusCode = StatusCodes.Status206PartialContent;
                response.ContentType = contentType;
                response.Headers.ContentRange = $"bytes {range.Start}-{range.End - 1}/{record.Size}";
                response.ContentLength = range.Length;
                if (!head)
                {
                    await CopyRangeAsync(content, range.Start, range.Length, response, context.RequestAborted);
                }

                return;
            case ByteRanges.Kind.Satisfiable:
                await WriteMultipartAsync(context, content, ranges, contentType, record.Size, head);
                return;
        }

        response.ContentType = contentType;
        response.ContentLength = record.Size;
        if (!head)
        {
            await CopyRangeAsync(content, 0, record.Size, response, context.RequestAborted);
        }
    }

    /// <summary>FastDFS-style "download offset N, length M" (M 0 or absent: to the end) as the equivalent byte range. Null
    /// when the request has no ?offset/?length. An offset at or past the end of a non-empty object is unsatisfiable; a
    /// 0-byte object downloads as empty from offset 0.</summary>
    private static Result<(ByteRanges.Kind, IReadOnlyList<ByteRanges.Range>)?> OffsetRange(IQueryCollection query, long size)
    {
        var hasOffset = query.TryGetValue(DepotQuery.Offset, out var offsetText);
        var hasLength = query.TryGetValue(DepotQuery.Length, out var lengthText);
        if (!hasOffset && !hasLength)
        {
            return ((ByteRanges.Kind, IReadOnlyList<ByteRanges.Range>)?)null;
        }

        long offset = 0, length = 0;
        if ((hasOffset && !long.TryParse(offsetText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out offset))
            || (hasLength && !long.TryParse(lengthText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out length)))
        {
            return DepotError.InvalidRequest("offset and length are whole numbers of bytes (length 0 means to the end).");
        }

        if (offset == 0 && (length == 0 || length >= size))
        {
            return (ByteRanges.Kind.Whole, []);
        }

        if (offset >= size)
        {
            return (ByteRanges.Kind.Unsatisfiable, []);
        }

        var end = length == 0 ? size : Math.Min(size, offset + Math.Min(length, size));
        return (ByteRanges.Kind.Satisfiable, [new ByteRanges.Range(offset, end)]);
    }

    /// <summary>multipart/byteranges (RFC 9110 §14.6), with an exact Content-Length.</summary>
    private static async Task WriteMultipartAsync(HttpContext context, Stream content, IReadOnlyList<ByteRanges.Range> ranges, string contentType, long size, bool head)
    {
        var boundary = "depot-" + Guid.NewGuid().ToString("N");
        var parts = ranges.Select(r => (Range: r, Header: Encoding.ASCII.GetBytes($"\r\n--{boundary}\r\nContent-Type: {contentType}\r\nContent-Range: bytes {r.Start}-{r.End - 1}/{size}\r\n\r\n"))).ToList();
        var tail = Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n");
        var response = context.Response;
        response.StatusCode = StatusCodes.Status206PartialContent;
        response.ContentType = $"multipart/byteranges; boundary={boundary}";
        response.ContentLength = parts.Sum(p => p.Header.Length + p.Range.Length) + tail.Length;
        if (head)
        {
            return;
        }

        foreach (var (range, header) in parts)
        {
            await response.Body.WriteAsync(header, context.RequestAborted);
            await CopyRangeAsync(content, range.Start, range.Length, response, context.RequestAborted);
        }

        await response.Body.WriteAsync(tail, context.RequestAborted);
    }

    /// <summary>Copies a range of the file to the response: small ranges through one pooled buffer, large ones straight
    /// into the response pipe's memory (one copy fewer per byte; docs/decisions/0006).</summary>
    internal static async Task CopyRangeAsync(Stream content, long offset, long count, HttpResponse response, CancellationToken cancellationToken)
    {
        content.Seek(offset, SeekOrigin.Begin);
        // Reads are synchronous preads: file data is usually in the page cache, and an async read on Unix is the same
        // pread plus a thread-pool hop.
        if (count <= SmallBodyBytes)
        {
            var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(count, 1));
            try
            {
                var filled = content.ReadAtLeast(buffer.AsSpan(0, (int)count), (int)count, throwOnEndOfStream: false);
                if (filled < count)
                {
                    throw new IOException("The file became shorter while it was being sent.");
                }

                await response.Body.WriteAsync(buffer.AsMemory(0, (int)count), cancellationToken);
                return;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        var writer = response.BodyWriter;
        while (count > 0)
        {
            var memory = writer.GetMemory((int)Math.Min(CopyBufferSize, count));
            var n = content.Read(memory.Span[..(int)Math.Min(memory.Length, count)]);
            if (n == 0)
            {
                throw new IOException("The file became shorter while it was being sent.");
            }

            writer.Advance(n);
            count -= n;
            // Every block is flushed, the last one included: advanced but unflushed bytes are not sent when the
            // handler returns (they wait for the connection to close).
            var flushed = await writer.FlushAsync(cancellationToken);
            if (flushed.IsCanceled || flushed.IsCompleted)
            {
                throw new OperationCanceledException("The client went away during the download.", cancellationToken);
            }
        }
    }

    private static string ContentDisposition(string key, bool attachment)
    {
        var name = key[(key.LastIndexOf('/') + 1)..];
        if (name.AsSpan().IndexOfAnyExcept(PlainNameChars) < 0)
        {
            // The common case needs neither replacement nor escaping.
            return string.Concat(attachment ? "attachment" : "inline", "; filename=\"", name, "\"; filename*=UTF-8''", name);
        }

        var ascii = new string(name.Select(ch => ch is >= ' ' and < (char)127 and not '"' and not '\\' ? ch : '_').ToArray());
        return $"{(attachment ? "attachment" : "inline")}; filename=\"{ascii}\"; filename*=UTF-8''{Uri.EscapeDataString(name)}";
    }

    private static readonly System.Buffers.SearchValues<char> PlainNameChars =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~");

    internal static bool IsTrue(IQueryCollection query, string name) =>
        query.TryGetValue(name, out var v) && (v.Count == 0 || v.ToString() is "" or "1" or "true" or "yes");
}
