using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Depot.Client.Transport;
using Depot.Protocol;

namespace Depot.Client.Transfers;

/// <summary>
/// The body of one download as a forward-only stream that survives dropped connections and stalls: when reading
/// fails it asks again from the next byte (<c>Range</c>, with <c>If-Range</c> on the ETag of the first answer, so
/// the bytes that follow belong to the same version). If the object changed meanwhile, reading fails with
/// <see cref="ConflictException"/>.
/// </summary>
internal sealed class ResumableDownload : Stream
{
    private readonly DepotClient _client;
    private readonly DepotPath _path;
    private readonly long _offset;
    private readonly long? _length;
    private HttpResponseMessage? _response;
    private Stream? _body;
    private long _position;
    private long _end;

    private ResumableDownload(DepotClient client, DepotPath path, long offset, long? length)
    {
        _client = client;
        _path = path;
        _offset = offset;
        _length = length is 0 ? null : length;
    }

    /// <summary>The object as the first answer described it (its whole size, SHA-256, ETag).</summary>
    public DepotObject Object { get; private set; } = null!;

    /// <summary>Bytes this download yields (the range's length).</summary>
    public long ExpectedLength => _end - _offset;

    /// <summary>True when the download is the whole object (so its SHA-256 can be checked).</summary>
    public bool IsWhole => _offset == 0 && _end == Object.Size;

    /// <summary>Connections opened again after a failure.</summary>
    public int Resumes { get; private set; }

    public static async Task<ResumableDownload> OpenAsync(DepotClient client, DepotPath path, long offset, long? length, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var download = new ResumableDownload(client, path, offset, length);
        await download.ConnectAsync(null, cancellationToken).ConfigureAwait(false);
        return download;
    }

    private async Task ConnectAsync(string? ifRange, CancellationToken cancellationToken)
    {
        var from = _offset + _position;
        string? range = null;
        var query = "";
        if (ifRange is null)
        {
            // The first request asks as §3.19 does: offset 0 with a length answers a 0-byte object with 200 and no bytes,
            // where a Range header would be 416.
            if (_offset > 0 || _length is not null)
            {
                query = "?offset=" + _offset.ToString(CultureInfo.InvariantCulture)
                    + (_length is { } asked ? "&length=" + asked.ToString(CultureInfo.InvariantCulture) : "");
            }
        }
        else
        {
            // A resume always names its range, also from byte 0: If-Range without Range would get a 200 and read as a change.
            var last = _length is { } length ? (from - _offset < length ? (_offset + length - 1).ToString(CultureInfo.InvariantCulture) : "") : "";
            range = $"bytes={from.ToString(CultureInfo.InvariantCulture)}-{last}";
        }

        var request = new DepotRequest(HttpMethod.Get, DepotClient.ObjectPath(_path) + query, $"download {_path}")
        {
            Idempotent = true,
            Completion = HttpCompletionOption.ResponseHeadersRead,
            Headers = m =>
            {
                if (range is not null)
                {
                    m.Headers.TryAddWithoutValidation("Range", range);
                }

                if (ifRange is not null)
                {
                    m.Headers.TryAddWithoutValidation("If-Range", ifRange);
                }
            },
        };
        var response = await _client.Transport.SendCheckedAsync(request, cancellationToken).ConfigureAwait(false);
        try
        {
            var described = Describe(response, _path);
            if (ifRange is not null && (response.StatusCode != HttpStatusCode.PartialContent || !string.Equals(described.ETag, Object.ETag, StringComparison.Ordinal)))
            {
                throw new ConflictException(Depot.Core.Errors.ErrorCodes.Conflict,
                    $"download {_path}: the object changed while it was downloaded (its ETag is now {described.ETag}). Download it again.");
            }

            if (ifRange is null)
            {
                Object = described;
                var total = described.Size;
                _end = _length is { } length ? Math.Min(total, _offset + length) : total;
                if (response.StatusCode == HttpStatusCode.OK && _offset > 0)
                {
                    throw new DepotException(ClientErrorCodes.Protocol, response.StatusCode, $"download {_path}: the server ignored the byte range.");
                }
            }

            _response?.Dispose();
            _response = response;
            _body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position >= ExpectedLength || buffer.Length == 0)
        {
            return 0;
        }

        var failures = 0;
        while (true)
        {
            using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            stall.CancelAfter(_client.Options.StallTimeout);
            Exception? failure;
            try
            {
                var want = (int)Math.Min(buffer.Length, ExpectedLength - _position);
                var read = await _body!.ReadAsync(buffer[..want], stall.Token).ConfigureAwait(false);
                if (read > 0)
                {
                    _position += read;
                    return read;
                }

                failure = new IOException("The connection closed before the whole body arrived.");
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                failure = e;
            }
            catch (Exception e) when (e is IOException or HttpRequestException or System.Net.Sockets.SocketException)
            {
                failure = e;
            }

            failures++;
            if (failures >= Math.Max(1, _client.Options.Retry.MaxAttempts))
            {
                throw new DepotUnavailableException(ClientErrorCodes.Network, 0,
                    $"download {_path}: the connection failed {failures} times in a row at byte {_offset + _position}. Retry later; a download to a file resumes from there.",
                    failure);
            }

            await Task.Delay(_client.Options.Retry.DelayBefore(failures + 1), _client.Options.TimeProvider, cancellationToken).ConfigureAwait(false);
            try
            {
                Resumes++;
                await ConnectAsync(Object.ETag ?? throw new ConflictException(Depot.Core.Errors.ErrorCodes.Conflict,
                    $"download {_path}: the connection failed and the server gave no ETag to resume the same version with. Download it again."),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (DepotException e) when (e.IsTransient && failures + 1 < _client.Options.Retry.MaxAttempts)
            {
                // Counted by the next round.
            }
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _body?.Dispose();
            _response?.Dispose();
        }

        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => ExpectedLength;
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>The object as a download's headers describe it (§1.7 of the HTTP API).</summary>
    internal static DepotObject Describe(HttpResponseMessage response, DepotPath path)
    {
        var headers = response.Headers;
        var content = response.Content.Headers;
        long size = content.ContentRange?.Length ?? content.ContentLength ?? 0;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, values) in headers)
        {
            if (name.StartsWith(DepotHeaders.MetaPrefix, StringComparison.OrdinalIgnoreCase))
            {
                metadata[name[DepotHeaders.MetaPrefix.Length..].ToLowerInvariant()] = Uri.UnescapeDataString(values.First());
            }
        }

        return new DepotObject
        {
            Path = path,
            Type = DepotEntryType.File,
            Size = size,
            Modified = content.LastModified ?? default,
            Created = First(headers, DepotHeaders.Created) is { } created && DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var c) ? c : null,
            ContentType = content.ContentType?.ToString(),
            Sha256 = First(headers, DepotHeaders.Sha256),
            ETag = headers.ETag?.ToString(),
            Metadata = metadata,
            Appendable = string.Equals(First(headers, DepotHeaders.Appendable), "true", StringComparison.OrdinalIgnoreCase),
            Expires = First(headers, DepotHeaders.Expires) is { } expires && DateTimeOffset.TryParse(expires, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var e) ? e : null,
            Master = First(headers, DepotHeaders.Master) is { } master ? Uri.UnescapeDataString(master) : null,
        };
    }

    private static string? First(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
}
