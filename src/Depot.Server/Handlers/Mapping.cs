using System.Globalization;
using Depot.Core.Model;
using Depot.Protocol;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>Engine values to wire DTOs and headers.</summary>
internal static class Mapping
{
    public static ObjectInfoDto ToDto(ObjectRecord r) => new()
    {
        Bucket = r.Bucket,
        Key = r.Key,
        Type = "file",
        Size = r.Size,
        Modified = r.ModifiedUtc,
        Created = r.CreatedUtc,
        ContentType = r.ContentType ?? ContentTypes.Guess(r.Key),
        Sha256 = r.Sha256Hex,
        ETag = r.ETag,
        Metadata = r.Metadata.Count == 0 ? null : r.Metadata,
        Appendable = r.Appendable ? true : null,
        Expires = r.ExpiresUtc,
        Master = r.Master,
    };

    public static ObjectInfoDto ToDto(StatResult s) => s.Object is { } r ? ToDto(r) : new()
    {
        Bucket = s.Bucket,
        Key = s.Key,
        Type = "directory",
        Modified = s.ModifiedUtc,
    };

    public static ListEntryDto ToDto(ListEntry e) => new()
    {
        Name = e.Name,
        Key = e.Key,
        Type = e.IsDirectory ? "directory" : "file",
        Size = e.Size,
        Modified = e.ModifiedUtc,
        Sha256 = e.Sha256Hex,
        Metadata = e.Metadata,
    };

    /// <summary>The validator and descriptive headers of a file (GET, HEAD, PUT answers).</summary>
    public static void WriteObjectHeaders(HttpResponse response, ObjectRecord r)
    {
        var headers = response.Headers;
        headers.ETag = r.ETag;
        headers.LastModified = r.ModifiedHttpDate;
        headers[DepotHeaders.Sha256] = r.Sha256Hex;
        headers[DepotHeaders.Created] = r.CreatedHttpDate;
        headers[DepotHeaders.EntryType] = "file";
        if (r.ExpiresUtc is { } expires)
        {
            headers[DepotHeaders.Expires] = expires.ToString("R", CultureInfo.InvariantCulture);
        }

        if (r.Appendable)
        {
            headers[DepotHeaders.Appendable] = "true";
        }

        if (r.Master is { } master)
        {
            headers[DepotHeaders.Master] = string.Join('/', master.Split('/').Select(Uri.EscapeDataString));
        }

        foreach (var (name, value) in r.Metadata)
        {
            headers[DepotHeaders.MetaPrefix + name] = Uri.EscapeDataString(value);
        }
    }
}

/// <summary>Media types by file extension, for files whose uploader gave none.</summary>
internal static class ContentTypes
{
    private static readonly Microsoft.AspNetCore.StaticFiles.FileExtensionContentTypeProvider Provider = new();

    public static string Guess(string key) =>
        Provider.TryGetContentType(key, out var type) ? type : "application/octet-stream";
}
