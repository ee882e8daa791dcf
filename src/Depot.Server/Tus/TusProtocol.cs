using System.Globalization;
using Depot.Core.Errors;
using Depot.Core.Uploads;
using Microsoft.Net.Http.Headers;

namespace Depot.Server.Tus;

/// <summary>The names and values of tus 1.0.0 (https://tus.io/protocols/resumable-upload) that Depot speaks.</summary>
public static class TusProtocol
{
    /// <summary>The one protocol version supported (<c>Tus-Resumable</c>, <c>Tus-Version</c>).</summary>
    public const string Version = "1.0.0";

    /// <summary>The creation URL; uploads live at <c>/tus/{id}</c>.</summary>
    public const string BasePath = "/tus";

    /// <summary>The extensions announced in <c>Tus-Extension</c>.</summary>
    public const string Extensions = "creation,creation-with-upload,creation-defer-length,expiration,checksum,checksum-trailer,termination,concatenation";

    /// <summary>The only media type of a body that carries upload bytes (PATCH, creation-with-upload).</summary>
    public const string OffsetOctetStream = "application/offset+octet-stream";

    /// <summary>The status the checksum extension prescribes for a chunk whose checksum does not match.</summary>
    public const int ChecksumMismatchStatus = 460;

    public const string TusResumable = "Tus-Resumable";
    public const string TusVersion = "Tus-Version";
    public const string TusExtension = "Tus-Extension";
    public const string TusMaxSize = "Tus-Max-Size";
    public const string TusChecksumAlgorithm = "Tus-Checksum-Algorithm";
    public const string UploadOffset = "Upload-Offset";
    public const string UploadLength = "Upload-Length";
    public const string UploadDeferLength = "Upload-Defer-Length";
    public const string UploadMetadata = "Upload-Metadata";
    public const string UploadExpires = "Upload-Expires";
    public const string UploadChecksum = "Upload-Checksum";
    public const string UploadConcat = "Upload-Concat";
    public const string MethodOverride = "X-HTTP-Method-Override";

    /// <summary>Depot's own response header: the native URL path (<c>/v1/{bucket}/{key}</c>) of the object a completed
    /// upload published, so a client learns where a server-assigned or policy-chosen key landed.</summary>
    public const string DepotObject = "X-Depot-Object";

    /// <summary>Comma-separated, as <c>Tus-Checksum-Algorithm</c> wants them.</summary>
    public static string ChecksumAlgorithms { get; } = string.Join(',', ChunkChecksum.Algorithms);

    /// <summary>The URL path of an upload (absolute path; clients resolve it against the endpoint).</summary>
    public static string UploadPath(string id) => BasePath + "/" + Uri.EscapeDataString(id);

    /// <summary>A non-negative integer in plain digits (<c>Upload-Offset</c>, <c>Upload-Length</c>).</summary>
    public static bool TryParseSize(string? text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    /// <summary>True when the request's Content-Type is <c>application/offset+octet-stream</c> (parameters ignored).</summary>
    public static bool IsOffsetOctetStream(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var parsed)
        && string.Equals(parsed.MediaType.Value, OffsetOctetStream, StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses <c>Upload-Checksum: {algorithm} {base64 digest}</c>.</summary>
    /// <returns>The checksum; <c>invalid_request</c> for an unsupported algorithm or a malformed digest (tus: 400).</returns>
    public static Result<TusChecksum> ParseChecksum(string value)
    {
        var space = value.IndexOf(' ', StringComparison.Ordinal);
        var algorithm = space < 0 ? value : value[..space];
        var digestText = space < 0 ? "" : value[(space + 1)..].Trim();
        var expectedLength = algorithm switch
        {
            "sha1" => 20,
            "md5" => 16,
            "sha256" => 32,
            _ => 0,
        };
        if (expectedLength == 0)
        {
            return DepotError.InvalidRequest($"The checksum algorithm '{Printable(algorithm)}' is not supported; {TusChecksumAlgorithm} lists the ones that are ({ChecksumAlgorithms}).");
        }

        var digest = new byte[expectedLength];
        if (!Convert.TryFromBase64String(digestText, digest, out var written) || written != expectedLength)
        {
            return DepotError.InvalidRequest($"{UploadChecksum} must be '{algorithm} ' followed by the base64 of the {expectedLength}-byte digest.");
        }

        return new TusChecksum(algorithm, digest);
    }

    /// <summary>The upload ids named by <c>Upload-Concat: final;{url} {url}...</c>: absolute URLs or paths under
    /// <see cref="BasePath"/>.</summary>
    public static Result<IReadOnlyList<string>> ParseFinalConcat(string value)
    {
        var list = value["final;".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (list.Length == 0)
        {
            return DepotError.InvalidRequest($"{UploadConcat}: final; needs at least one partial upload URL.");
        }

        var ids = new List<string>(list.Length);
        foreach (var url in list)
        {
            var path = Uri.TryCreate(url, UriKind.Absolute, out var absolute) && absolute.Scheme is "http" or "https"
                ? absolute.AbsolutePath
                : url;
            var prefix = BasePath + "/";
            if (!path.StartsWith(prefix, StringComparison.Ordinal) || path.Length == prefix.Length || path.IndexOf('/', prefix.Length) >= 0)
            {
                return DepotError.InvalidRequest($"'{Printable(url)}' in {UploadConcat} is not an upload URL of this server ({prefix}{{id}}).");
            }

            ids.Add(Uri.UnescapeDataString(path[prefix.Length..]));
        }

        return ids;
    }

    /// <summary>Client text for error messages: bounded, without control characters.</summary>
    internal static string Printable(string text)
    {
        var clean = new string([.. text.Take(80).Select(c => char.IsControl(c) ? '?' : c)]);
        return text.Length > 80 ? clean + "…" : clean;
    }
}

/// <summary>An <c>Upload-Checksum</c>: the algorithm (one of <see cref="ChunkChecksum.Algorithms"/>) and the digest.</summary>
public sealed record TusChecksum(string Algorithm, byte[] Digest);
