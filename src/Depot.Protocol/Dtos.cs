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
