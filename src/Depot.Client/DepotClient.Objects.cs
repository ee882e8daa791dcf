using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Depot.Client.Transport;
using Depot.Protocol;

namespace Depot.Client;

/// <summary>How <see cref="DepotClient.SetMetadataAsync"/> combines the given names with the object's current ones.</summary>
public enum MetadataMode
{
    /// <summary>Replace the whole set (FastDFS overwrite); an empty set removes all.</summary>
    Overwrite,

    /// <summary>Set the given names and keep the others (FastDFS merge); a null value removes that name.</summary>
    Merge,
}

/// <summary>Options of <see cref="DepotClient.ListAsync"/>.</summary>
public sealed class ListOptions
{
    /// <summary>Everything below the directory, depth first, each directory right before its children.</summary>
    public bool Recursive { get; set; }

    /// <summary>Entries per request (1–10000). Default 1000; large trees list faster with more.</summary>
    public int PageSize { get; set; } = 1000;
}

/// <summary>A signed link that downloads one object without an API key until it expires.</summary>
/// <param name="Url">The absolute link (built from the address the client used).</param>
/// <param name="Expires">When the link stops working.</param>
public sealed record ShareLink(Uri Url, DateTimeOffset Expires);

public sealed partial class DepotClient
{
    /// <summary>Describes the file or directory at <paramref name="path"/> (<c>?stat</c>).</summary>
    /// <exception cref="NotFoundException">Nothing is there, or it expired.</exception>
    public async Task<DepotObject> StatAsync(DepotPath path, CancellationToken cancellationToken = default)
    {
        var request = new DepotRequest(HttpMethod.Get, ObjectPath(path) + "?stat", $"stat {path}") { Idempotent = true };
        var dto = await GetJsonAsync(request, DepotJson.Default.ObjectInfoDto, cancellationToken).ConfigureAwait(false);
        return DepotObject.From(dto);
    }

    /// <summary>Describes the file or directory at <paramref name="path"/>, or returns null when nothing is there.</summary>
    public async Task<DepotObject?> TryStatAsync(DepotPath path, CancellationToken cancellationToken = default)
    {
        try
        {
            return await StatAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return null;
        }
    }

    /// <summary>Lists a directory (the bucket root for a path with an empty key), page by page as you enumerate.</summary>
    /// <remarks>Entries come in key order; a recursive listing of a whole tree costs one request per
    /// <see cref="ListOptions.PageSize"/> entries. Changes made while enumerating may or may not be seen, but no entry
    /// is listed twice.</remarks>
    /// <exception cref="NotFoundException">No such directory or bucket.</exception>
    /// <exception cref="ConflictException">The path is a file.</exception>
    public async IAsyncEnumerable<DepotEntry> ListAsync(DepotPath directory, ListOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new ListOptions();
        var limit = Math.Clamp(options.PageSize, 1, 10_000);
        string? cursor = null;
        do
        {
            var query = $"?limit={limit.ToString(CultureInfo.InvariantCulture)}" + (options.Recursive ? "&recursive" : "")
                + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var request = new DepotRequest(HttpMethod.Get, DirectoryPath(directory) + query, $"list {directory}") { Idempotent = true };
            var page = await GetJsonAsync(request, DepotJson.Default.ListPageDto, cancellationToken).ConfigureAwait(false);
            foreach (var entry in page.Entries)
            {
                yield return new DepotEntry
                {
                    Path = new DepotPath(page.Bucket, entry.Key),
                    Name = entry.Name,
                    Type = DepotObject.ParseType(entry.Type),
                    Size = entry.Size,
                    Modified = entry.Modified,
                    Sha256 = entry.Sha256,
                    Metadata = entry.Metadata ?? DepotObject.EmptyMetadata,
                };
            }

            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary>Creates a directory and any missing parents (<c>mkdir -p</c>); an existing directory is fine.</summary>
    /// <exception cref="ConflictException">A file is at the path or in the way.</exception>
    public async Task<DepotObject> CreateDirectoryAsync(DepotPath path, CancellationToken cancellationToken = default)
    {
        var request = new DepotRequest(HttpMethod.Put, DirectoryPath(path), $"mkdir {path}") { Idempotent = true };
        return DepotObject.From(await GetJsonAsync(request, DepotJson.Default.ObjectInfoDto, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Renames a file or directory within its bucket, atomically.</summary>
    /// <param name="overwrite">Replace a file at the destination; otherwise an existing destination is
    /// <see cref="AlreadyExistsException"/>.</param>
    public async Task<DepotObject> MoveAsync(DepotPath source, DepotPath destination, bool overwrite = false, CancellationToken cancellationToken = default)
    {
        if (!string.Equals(source.Bucket, destination.Bucket, StringComparison.Ordinal))
        {
            throw new ArgumentException($"A move stays within one bucket ('{source.Bucket}' → '{destination.Bucket}'); copy, then delete.", nameof(destination));
        }

        var body = new TransferRequestDto { To = destination.Key, Overwrite = overwrite };
        var request = new DepotRequest(HttpMethod.Post, ObjectPath(source) + "?move", $"move {source} → {destination}")
        {
            Content = () => JsonContent(body, DepotJson.Default.TransferRequestDto),
        };
        return DepotObject.From(await GetJsonAsync(request, DepotJson.Default.ObjectInfoDto, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Copies a file, also into another bucket (server-side: no bytes pass through the client).</summary>
    /// <param name="overwrite">Replace a file at the destination; otherwise an existing destination is
    /// <see cref="AlreadyExistsException"/>.</param>
    public async Task<DepotObject> CopyAsync(DepotPath source, DepotPath destination, bool overwrite = false, CancellationToken cancellationToken = default)
    {
        var body = new TransferRequestDto { To = destination.Key, Bucket = destination.Bucket, Overwrite = overwrite };
        var request = new DepotRequest(HttpMethod.Post, ObjectPath(source) + "?copy", $"copy {source} → {destination}")
        {
            Content = () => JsonContent(body, DepotJson.Default.TransferRequestDto),
            Idempotent = overwrite,
        };
        return DepotObject.From(await GetJsonAsync(request, DepotJson.Default.ObjectInfoDto, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Deletes a file, or a directory (an empty one, or with everything in it when <paramref name="recursive"/>).</summary>
    /// <param name="ifMatch">Delete only this version (an ETag, quoted or not): <see cref="PreconditionFailedException"/> otherwise.</param>
    /// <exception cref="NotFoundException">Nothing is there.</exception>
    /// <exception cref="ConflictException">A non-empty directory without <paramref name="recursive"/>.</exception>
    public async Task DeleteAsync(DepotPath path, bool recursive = false, string? ifMatch = null, CancellationToken cancellationToken = default)
    {
        var request = new DepotRequest(HttpMethod.Delete, ObjectPath(path) + (recursive ? "?recursive" : ""), $"delete {path}")
        {
            Headers = ifMatch is null ? null : m => m.Headers.TryAddWithoutValidation("If-Match", QuoteETag(ifMatch)),
        };
        try
        {
            using var response = await Transport.SendCheckedAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (ConflictException) when (!recursive && ifMatch is null && !path.IsRoot)
        {
            // DELETE of a directory without a trailing '/' is refused (§3.9); the directory form deletes it if it is empty.
            var asDirectory = new DepotRequest(HttpMethod.Delete, DirectoryPath(path), $"delete {path}");
            using var response = await Transport.SendCheckedAsync(asDirectory, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Deletes the path if it exists.</summary>
    /// <returns>True when something was deleted, false when nothing was there.</returns>
    public async Task<bool> TryDeleteAsync(DepotPath path, bool recursive = false, CancellationToken cancellationToken = default)
    {
        try
        {
            await DeleteAsync(path, recursive, null, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    /// <summary>The object's user metadata (names lower-case).</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetMetadataAsync(DepotPath path, CancellationToken cancellationToken = default)
    {
        var request = new DepotRequest(HttpMethod.Get, ObjectPath(path) + "?meta", $"get metadata of {path}") { Idempotent = true };
        return await SendMetadataAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Changes the object's user metadata: replaces it (<see cref="MetadataMode.Overwrite"/>) or sets the
    /// given names (<see cref="MetadataMode.Merge"/>, where a null value removes a name). The bytes, ETag and size do
    /// not change.</summary>
    /// <returns>The metadata after the change.</returns>
    /// <exception cref="InvalidRequestException">A name or value breaks the rules (names 1–64 of <c>a-z 0-9 - _ .</c>,
    /// values up to 256 UTF-8 bytes, at most 64 entries); nothing changed.</exception>
    public async Task<IReadOnlyDictionary<string, string>> SetMetadataAsync(DepotPath path, IReadOnlyDictionary<string, string?> metadata,
        MetadataMode mode = MetadataMode.Overwrite, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var body = metadata.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        if (mode == MetadataMode.Overwrite && body.Any(p => p.Value is null))
        {
            throw new ArgumentException("Overwrite takes values, not nulls; to remove names, leave them out or use Merge.", nameof(metadata));
        }

        var request = new DepotRequest(mode == MetadataMode.Overwrite ? HttpMethod.Put : HttpMethod.Patch, ObjectPath(path) + "?meta",
            $"set metadata of {path}")
        {
            Content = () => JsonContent(body, DepotJson.Default.DictionaryStringString),
            Idempotent = true,
        };
        return await SendMetadataAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes metadata names (missing ones are ignored).</summary>
    /// <returns>The metadata after the change.</returns>
    public async Task<IReadOnlyDictionary<string, string>> DeleteMetadataAsync(DepotPath path, IEnumerable<string> names, CancellationToken cancellationToken = default)
    {
        var list = names.ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("Name at least one metadata entry to remove.", nameof(names));
        }

        var query = "?meta=" + string.Join(',', list.Select(Uri.EscapeDataString));
        var request = new DepotRequest(HttpMethod.Delete, ObjectPath(path) + query, $"delete metadata of {path}") { Idempotent = true };
        return await SendMetadataAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates a signed download link for a file, valid for <paramref name="validFor"/> (1 s to 30 days).</summary>
    /// <remarks>Anyone holding the link can download the file (GET, HEAD, ranges) and nothing else, until it expires
    /// or the server's share secret is rotated. It needs the <c>read</c> scope on the file.</remarks>
    public async Task<ShareLink> CreateShareLinkAsync(DepotPath path, TimeSpan validFor, CancellationToken cancellationToken = default)
    {
        var seconds = (long)Math.Ceiling(validFor.TotalSeconds);
        var request = new DepotRequest(HttpMethod.Post, ObjectPath(path) + "?share&ttl=" + seconds.ToString(CultureInfo.InvariantCulture),
            $"share {path}");
        var dto = await GetJsonAsync(request, DepotJson.Default.ShareLinkDto, cancellationToken).ConfigureAwait(false);
        return new ShareLink(new Uri(dto.Url, UriKind.Absolute), dto.Expires);
    }

    /// <summary>The buckets with their space and usage, and the servers (FastDFS list groups / servers). With
    /// <paramref name="bucket"/>, only that bucket.</summary>
    public async Task<ClusterDto> GetClusterAsync(string? bucket = null, CancellationToken cancellationToken = default)
    {
        var route = bucket is null ? DepotRoutes.Cluster : DepotRoutes.Cluster + "/" + Uri.EscapeDataString(bucket);
        var request = new DepotRequest(HttpMethod.Get, route, "cluster info") { Idempotent = true };
        return await GetJsonAsync(request, DepotJson.Default.ClusterDto, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The buckets this key can see, with their limits.</summary>
    public async Task<IReadOnlyList<BucketDto>> ListBucketsAsync(CancellationToken cancellationToken = default)
    {
        var request = new DepotRequest(HttpMethod.Get, DepotRoutes.Buckets, "list buckets") { Idempotent = true };
        return (await GetJsonAsync(request, DepotJson.Default.BucketListDto, cancellationToken).ConfigureAwait(false)).Buckets;
    }

    /// <summary>Creates an API key (admin scope needed). The answer's <see cref="ApiKeyDto.Token"/> is the only time
    /// the secret is shown.</summary>
    public async Task<ApiKeyDto> CreateApiKeyAsync(CreateKeyRequestDto key, CancellationToken cancellationToken = default)
    {
        var request = new DepotRequest(HttpMethod.Post, DepotRoutes.Keys, "create API key")
        {
            Content = () => JsonContent(key, DepotJson.Default.CreateKeyRequestDto),
        };
        return await GetJsonAsync(request, DepotJson.Default.ApiKeyDto, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The API keys (admin scope needed), without their secrets.</summary>
    public async Task<IReadOnlyList<ApiKeyDto>> ListApiKeysAsync(CancellationToken cancellationToken = default)
    {
        var request = new DepotRequest(HttpMethod.Get, DepotRoutes.Keys, "list API keys") { Idempotent = true };
        return (await GetJsonAsync(request, DepotJson.Default.ApiKeyListDto, cancellationToken).ConfigureAwait(false)).Keys;
    }

    /// <summary>Revokes an API key by id (admin scope needed); it stops working at once.</summary>
    public async Task RevokeApiKeyAsync(string id, CancellationToken cancellationToken = default)
    {
        var request = new DepotRequest(HttpMethod.Delete, DepotRoutes.Keys + "/" + Uri.EscapeDataString(id), $"revoke API key {id}") { Idempotent = true };
        using var response = await Transport.SendCheckedAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyDictionary<string, string>> SendMetadataAsync(DepotRequest request, CancellationToken cancellationToken)
    {
        using var response = await Transport.SendCheckedAsync(request, cancellationToken).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var document = JsonDocument.Parse(bytes);
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.GetProperty("metadata").EnumerateObject())
            {
                result[property.Name] = property.Value.GetString() ?? "";
            }

            return result;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new DepotException(ClientErrorCodes.Protocol, response.StatusCode, $"{request.What}: the answer was not Depot's metadata JSON.", e);
        }
    }

    /// <summary>An ETag as HTTP wants it: quoted (a bare SHA-256 hex is quoted for you).</summary>
    internal static string QuoteETag(string etag) =>
        etag.StartsWith('"') || etag.StartsWith("W/", StringComparison.Ordinal) ? etag : "\"" + etag + "\"";

    internal static bool IsStatus(HttpResponseMessage response, HttpStatusCode status) => response.StatusCode == status;
}
