using System.Text.Json;
using System.Text.Json.Serialization;

namespace Depot.Protocol;

/// <summary>An object or directory as the API describes it.</summary>
public sealed record ObjectInfoDto
{
    public required string Bucket { get; init; }
    public required string Key { get; init; }
    public required string Type { get; init; }
    public long Size { get; init; }
    public DateTimeOffset Modified { get; init; }
    public DateTimeOffset? Created { get; init; }
    public string? ContentType { get; init; }
    public string? Sha256 { get; init; }

    [JsonPropertyName("etag")]
    public string? ETag { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>True for appender objects (absent otherwise).</summary>
    public bool? Appendable { get; init; }

    /// <summary>When the object expires (absent: never).</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>The master's key, for slave files.</summary>
    public string? Master { get; init; }

    /// <summary>The file id <c>{bucket}/{key}</c>, in answers to uploads with a server-assigned id and slave uploads.</summary>
    public string? Id { get; init; }

    /// <summary>The node that stored the object (host:port), in answers to uploads with a server-assigned id.</summary>
    public string? Node { get; init; }
}

/// <summary>FastDFS "list groups / servers": the buckets with their space and usage, and the nodes.</summary>
public sealed record ClusterDto
{
    public required IReadOnlyList<ClusterBucketDto> Buckets { get; init; }
    public required IReadOnlyList<NodeDto> Servers { get; init; }
}

public sealed record ClusterBucketDto
{
    public required string Name { get; init; }
    public long? TotalBytes { get; init; }
    public long? FreeBytes { get; init; }
    public long ObjectCount { get; init; }
    public long BytesUsed { get; init; }
    public long MaxObjectSize { get; init; }
    public bool ReadOnly { get; init; }

    /// <summary>The nodes serving this bucket (every node serves every bucket).</summary>
    public IReadOnlyList<string>? Servers { get; init; }
}

public sealed record NodeDto
{
    public required string Id { get; init; }
    public required string Address { get; init; }
    public required string Version { get; init; }
    public DateTimeOffset Started { get; init; }
    public long UptimeSeconds { get; init; }
    public required string Status { get; init; }
}

/// <summary>One entry of a listing.</summary>
public sealed record ListEntryDto
{
    public required string Name { get; init; }
    public required string Key { get; init; }
    public required string Type { get; init; }
    public long Size { get; init; }
    public DateTimeOffset Modified { get; init; }
    public string? Sha256 { get; init; }

    /// <summary>Files: the user metadata, omitted when empty. Sync tools keep the source's modification time here.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

public sealed record ListPageDto
{
    public required string Bucket { get; init; }
    public required string Prefix { get; init; }
    public required IReadOnlyList<ListEntryDto> Entries { get; init; }
    public string? NextCursor { get; init; }
}

/// <summary>Body of <c>POST /v1/{bucket}/{key}?move</c> and <c>?copy</c>.</summary>
public sealed record TransferRequestDto
{
    /// <summary>Destination key.</summary>
    public string? To { get; init; }

    /// <summary>Destination bucket (copy only; default: the same bucket).</summary>
    public string? Bucket { get; init; }

    /// <summary>Replace a file at the destination.</summary>
    public bool Overwrite { get; init; }
}

public sealed record BucketDto
{
    public required string Name { get; init; }
    public long MaxObjectSize { get; init; }
    public int MaxKeyLength { get; init; }
    public bool ReadOnly { get; init; }
    public long? TotalBytes { get; init; }
    public long? FreeBytes { get; init; }
}

public sealed record BucketListDto
{
    public required IReadOnlyList<BucketDto> Buckets { get; init; }
}

/// <summary>Body of <c>POST /v1/_keys</c>.</summary>
public sealed record CreateKeyRequestDto
{
    public string? Name { get; init; }
    public IReadOnlyList<string>? Scopes { get; init; }
    public string? Bucket { get; init; }
    public string? Prefix { get; init; }
    public DateTimeOffset? Expires { get; init; }
    public int RateLimit { get; init; }
}

public sealed record ApiKeyDto
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required IReadOnlyList<string> Scopes { get; init; }
    public string? Bucket { get; init; }
    public string? Prefix { get; init; }
    public DateTimeOffset Created { get; init; }
    public DateTimeOffset? Expires { get; init; }
    public DateTimeOffset? Revoked { get; init; }
    public int RateLimit { get; init; }

    /// <summary>The secret token; present only in the answer that created the key.</summary>
    public string? Token { get; init; }
}

public sealed record ApiKeyListDto
{
    public required IReadOnlyList<ApiKeyDto> Keys { get; init; }
}

/// <summary>Answer of <c>POST /v1/{bucket}/{key}?share</c>: a signed download link.</summary>
public sealed record ShareLinkDto
{
    /// <summary>The absolute link, built from the scheme and Host of the request that created it.</summary>
    public required string Url { get; init; }

    /// <summary>The same link without scheme and host: <c>/v1/{bucket}/{key}?expires=..&amp;sig=..</c>.</summary>
    public required string Path { get; init; }

    /// <summary>When the link stops working (whole seconds, UTC).</summary>
    public DateTimeOffset Expires { get; init; }
}

public sealed record HealthDto
{
    public required string Status { get; init; }
    public required string Version { get; init; }
}

/// <summary>RFC 9457 problem details with Depot's stable <see cref="Code"/>.</summary>
public sealed record ProblemDto
{
    public string Type { get; init; } = "about:blank";
    public required string Title { get; init; }
    public int Status { get; init; }
    public string? Detail { get; init; }
    public string? Instance { get; init; }
    public required string Code { get; init; }

    /// <summary>Extra members (e.g. <c>etag</c> on a failed compare-and-swap), serialized at the top level.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extensions { get; set; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ObjectInfoDto))]
[JsonSerializable(typeof(ListPageDto))]
[JsonSerializable(typeof(TransferRequestDto))]
[JsonSerializable(typeof(BucketListDto))]
[JsonSerializable(typeof(CreateKeyRequestDto))]
[JsonSerializable(typeof(ApiKeyDto))]
[JsonSerializable(typeof(ApiKeyListDto))]
[JsonSerializable(typeof(HealthDto))]
[JsonSerializable(typeof(ShareLinkDto))]
[JsonSerializable(typeof(ClusterDto))]
[JsonSerializable(typeof(ClusterBucketDto))]
[JsonSerializable(typeof(Dictionary<string, string?>))]
[JsonSerializable(typeof(ProblemDto))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(CreateUploadDto))]
[JsonSerializable(typeof(UpdateUploadDto))]
[JsonSerializable(typeof(CompleteUploadDto))]
[JsonSerializable(typeof(UploadSessionDto))]
[JsonSerializable(typeof(ChunkReceivedDto))]
[JsonSerializable(typeof(ManifestRequestDto))]
[JsonSerializable(typeof(ManifestDto))]
[JsonSerializable(typeof(WebhookEventDto))]
[JsonSerializable(typeof(WebhookDecisionDto))]
// One attribute list for the whole context: attributes on a second partial declaration break the source generator.
public sealed partial class DepotJson : JsonSerializerContext
{
    /// <summary>The context every Depot endpoint writes with: web defaults, nulls omitted, and readable text (no
    /// \uXXXX escapes for quotes, apostrophes or non-ASCII; the output is never embedded in HTML).</summary>
    public static DepotJson Wire { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}

/// <summary>The body of <c>POST /v1/_manifests</c>: files a client means to upload under a prefix.</summary>
public sealed record ManifestRequestDto
{
    /// <summary>The target bucket (default: <c>default</c>).</summary>
    public string? Bucket { get; init; }

    /// <summary>The directory the names are relative to (default: the bucket root).</summary>
    public string? Prefix { get; init; }
    public IReadOnlyList<ManifestFileRequestDto>? Files { get; init; }

    /// <summary>The chunk size of the upload sessions, for chunks sent by index (absent: by byte offset).</summary>
    public long? ChunkSize { get; init; }
}

/// <summary>One file of a manifest: its name under the prefix, size, and exactly one checksum (hex).</summary>
public sealed record ManifestFileRequestDto
{
    public string? Name { get; init; }
    public long? Size { get; init; }
    public string? Sha256 { get; init; }
    public string? Md5 { get; init; }
}

/// <summary>A manifest and the answer for each of its files.</summary>
public sealed record ManifestDto
{
    public required string Id { get; init; }
    public required string Bucket { get; init; }
    public required string Prefix { get; init; }

    /// <summary><c>open</c> or <c>complete</c> (every accepted file uploaded).</summary>
    public required string State { get; init; }
    public DateTimeOffset Created { get; init; }
    public DateTimeOffset Expires { get; init; }
    public DateTimeOffset? Completed { get; init; }
    public required IReadOnlyList<ManifestFileDto> Files { get; init; }
}

public sealed record ManifestFileDto
{
    public required string Name { get; init; }

    /// <summary>The key the file goes to (absent when the name is not a valid key).</summary>
    public string? Key { get; init; }
    public long Size { get; init; }

    /// <summary><c>accepted</c> (send it through <see cref="Upload"/>), <c>rejected</c> (see <see cref="Reason"/>),
    /// <c>present</c> (same checksum already there: skip), <c>uploaded</c>, or <c>cancelled</c> (its session was aborted
    /// or expired).</summary>
    public required string Status { get; init; }
    public string? Reason { get; init; }

    /// <summary>The upload session of an accepted (or uploaded) file.</summary>
    public ManifestUploadDto? Upload { get; init; }
}

public sealed record ManifestUploadDto
{
    public required string Id { get; init; }

    /// <summary>The session's URL path (<c>/v1/_uploads/{id}</c>).</summary>
    public required string Url { get; init; }
    public long BytesReceived { get; init; }
}

/// <summary>The JSON body of every webhook POST (<c>upload.completed</c>, <c>upload.cancelled</c>,
/// <c>manifest.completed</c>, and the <c>upload.proposed</c> decision request). Members that do not apply are absent.</summary>
public sealed record WebhookEventDto
{
    public required string Event { get; init; }

    /// <summary>The same on every retry of one delivery (also in <c>X-Depot-Delivery</c>): receivers deduplicate by it.</summary>
    public required string DeliveryId { get; init; }
    public DateTimeOffset Time { get; init; }

    /// <summary>The API key id that uploaded (or declared the manifest).</summary>
    public string? Identity { get; init; }
    public string? Bucket { get; init; }
    public string? Key { get; init; }

    /// <summary>Bytes: the object's size, or the declared size in <c>upload.proposed</c>.</summary>
    public long? Size { get; init; }
    public string? Sha256 { get; init; }
    public string? Md5 { get; init; }

    [JsonPropertyName("etag")]
    public string? ETag { get; init; }
    public string? ContentType { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>The door the upload came through: native, tus, indexedcp, manifest.</summary>
    public string? Protocol { get; init; }

    /// <summary>The name the client gave the file.</summary>
    public string? ClientName { get; init; }
    public string? SessionId { get; init; }
    public string? ManifestId { get; init; }

    /// <summary><c>upload.cancelled</c>: <c>aborted</c> or <c>expired</c>.</summary>
    public string? Reason { get; init; }
    public long? BytesReceived { get; init; }

    /// <summary><c>manifest.completed</c>: the manifest's prefix and how its files ended.</summary>
    public string? Prefix { get; init; }
    public int? Uploaded { get; init; }
    public int? Present { get; init; }
    public int? Rejected { get; init; }
}

/// <summary>The answer a decision webhook gives to <c>upload.proposed</c>.</summary>
public sealed record WebhookDecisionDto
{
    public bool Allow { get; init; }

    /// <summary>Why not (shown to the client).</summary>
    public string? Reason { get; init; }

    /// <summary>The key to store at instead of the one asked for.</summary>
    public string? Key { get; init; }
}

