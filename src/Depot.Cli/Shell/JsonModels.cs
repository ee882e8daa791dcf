using System.Text.Json.Serialization;
using Depot.Client;

namespace Depot.Cli.Shell;

/// <summary>An object or directory as <c>--json</c> prints it (the same names as the HTTP API's JSON).</summary>
internal sealed record ObjectJson(
    string Path,
    string Type,
    long Size,
    DateTimeOffset Modified,
    string? Sha256 = null,
    [property: JsonPropertyName("etag")] string? ETag = null,
    string? ContentType = null,
    DateTimeOffset? Created = null,
    DateTimeOffset? Expires = null,
    bool? Appendable = null,
    string? Master = null,
    IReadOnlyDictionary<string, string>? Metadata = null)
{
    public static ObjectJson From(DepotObject o) => new(
        o.Path.ToString(), o.IsFile ? "file" : "directory", o.Size, o.Modified, o.Sha256, o.ETag, o.ContentType, o.Created, o.Expires,
        o.Appendable ? true : null, o.Master, o.Metadata is { Count: > 0 } ? o.Metadata : null);

    public static ObjectJson From(DepotEntry e) => new(
        e.Path.ToString(), e.IsFile ? "file" : "directory", e.Size, e.Modified, e.Sha256,
        Metadata: e.Metadata is { Count: > 0 } ? e.Metadata : null);
}
