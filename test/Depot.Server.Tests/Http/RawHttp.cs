using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Depot.Server.Tests.Http;

/// <summary>An HTTP/1.1 exchange over a plain socket, so the request target reaches the server exactly as written
/// (HttpClient and <see cref="Uri"/> would normalise dot segments and escapes first).</summary>
internal static class RawHttp
{
    /// <summary>Sends one request with <c>Connection: close</c> and reads the whole answer.</summary>
    /// <param name="target">The request target; each char is sent as one byte (Latin-1), so raw control characters
    /// and raw UTF-8 (see <see cref="Utf8"/>) can be written.</param>
    public static async Task<RawResponse> SendAsync(int port, string method, string target, IEnumerable<(string Name, string Value)>? headers = null, byte[]? body = null)
    {
        var request = new StringBuilder();
        request.Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n");
        request.Append("Host: 127.0.0.1:").Append(port.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        request.Append("Connection: close\r\n");
        foreach (var (name, value) in headers ?? [])
        {
            request.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (body is not null || method is "PUT" or "POST")
        {
            request.Append("Content-Length: ").Append((body?.Length ?? 0).ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }

        request.Append("\r\n");
        var head = Encoding.Latin1.GetBytes(request.ToString());
        return await ExchangeAsync(port, body is null ? head : [.. head, .. body]);
    }

    /// <summary>Writes <paramref name="request"/> as is and reads the answer until the server closes.</summary>
    public static async Task<RawResponse> ExchangeAsync(int port, byte[] request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port, timeout.Token);
        var stream = tcp.GetStream();
        await stream.WriteAsync(request, timeout.Token);
        var received = new MemoryStream();
        var buffer = new byte[64 << 10];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, n);
            }
        }
        catch (IOException) when (received.Length > 0)
        {
            // A reset after the answer (the server closed with request bytes unread) still leaves the answer.
        }

        return RawResponse.Parse(received.ToArray());
    }

    /// <summary>A string whose chars are the UTF-8 bytes of <paramref name="text"/>, for <see cref="SendAsync"/>.</summary>
    public static string Utf8(string text) => Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(text));
}

internal sealed record RawResponse(int Status, string StatusLine, IReadOnlyList<(string Name, string Value)> Headers, byte[] Body, byte[] Raw)
{
    public string? Header(string name) =>
        Headers.Where(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).FirstOrDefault();

    public string? ContentType => Header("Content-Type");

    public bool IsProblem => ContentType?.StartsWith("application/problem+json", StringComparison.Ordinal) == true;

    public string BodyText => Encoding.UTF8.GetString(Body);

    public static RawResponse Parse(byte[] raw)
    {
        var text = Encoding.Latin1.GetString(raw);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return new RawResponse(0, "(no answer)", [], [], raw);
        }

        var lines = text[..end].Split("\r\n");
        var statusLine = lines[0];
        var parts = statusLine.Split(' ', 3);
        var status = parts.Length >= 2 && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var s) ? s : 0;
        var headers = lines.Skip(1).Select(l =>
        {
            var colon = l.IndexOf(':', StringComparison.Ordinal);
            return (l[..colon].Trim(), l[(colon + 1)..].Trim());
        }).ToList();
        var body = raw.AsSpan(end + 4).ToArray();
        var response = new RawResponse(status, statusLine, headers, body, raw);
        if (string.Equals(response.Header("Transfer-Encoding"), "chunked", StringComparison.OrdinalIgnoreCase))
        {
            response = response with { Body = Dechunk(body) };
        }

        return response;
    }

    private static byte[] Dechunk(byte[] chunked)
    {
        var output = new MemoryStream();
        var i = 0;
        while (i < chunked.Length)
        {
            var lineEnd = chunked.AsSpan(i).IndexOf("\r\n"u8);
            if (lineEnd < 0)
            {
                break;
            }

            var sizeText = Encoding.ASCII.GetString(chunked, i, lineEnd).Split(';')[0];
            var size = int.Parse(sizeText, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            i += lineEnd + 2;
            if (size == 0)
            {
                break;
            }

            output.Write(chunked, i, Math.Min(size, chunked.Length - i));
            i += size + 2;
        }

        return output.ToArray();
    }
}
