using Depot.Protocol;

namespace Depot.Client;

/// <summary>What kind of thing is at a path.</summary>
public enum DepotEntryType
{
    /// <summary>A file (an object with bytes).</summary>
    File,

    /// <summary>A directory.</summary>
    Directory,
}

/// <summary>A file or directory as the server describes it (<c>?stat</c>, upload answers, copies, moves).</summary>
public sealed record DepotObject
{
    /// <summary>Where it is.</summary>
    public required DepotPath Path { get; init; }

    /// <summary>File or directory.</summary>
    public DepotEntryType Type { get; init; }

    /// <summary>Bytes (0 for a directory).</summary>
    public long Size { get; init; }

    /// <summary>When the bytes last changed on the server.</summary>
    public DateTimeOffset Modified { get; init; }

    /// <summary>Files: when the server first stored or described it.</summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>Files: the stored content type.</summary>
    public string? ContentType { get; init; }

    /// <summary>Files: SHA-256 of the bytes, lower-case hex. Computed by the server while it stored them.</summary>
    public string? Sha256 { get; init; }

    /// <summary>Files: the strong entity tag (the quoted SHA-256), for compare-and-swap.</summary>
    public string? ETag { get; init; }

    /// <summary>User metadata (names lower-case); empty when there is none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = EmptyMetadata;

    /// <summary>True for appender objects (append, modify, truncate).</summary>
    public bool Appendable { get; init; }

    /// <summary>When the object expires; null for never.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>Slave files: the master's key.</summary>
    public string? Master { get; init; }

    /// <summary>Uploads under a server-assigned id: the node (host:port) that stored it.</summary>
    public string? Node { get; init; }

    /// <summary>True for files.</summary>
    public bool IsFile => Type == DepotEntryType.File;

    internal static readonly IReadOnlyDictionary<string, string> EmptyMetadata = new Dictionary<string, string>();

    internal static DepotObject From(ObjectInfoDto dto) => new()
    {
        Path = new DepotPath(dto.Bucket, dto.Key),
        Type = ParseType(dto.Type),
        Size = dto.Size,
        Modified = dto.Modified,
        Created = dto.Created,
        ContentType = dto.ContentType,
        Sha256 = dto.Sha256,
        ETag = dto.ETag,
        Metadata = dto.Metadata ?? EmptyMetadata,
        Appendable = dto.Appendable ?? false,
        Expires = dto.Expires,
        Master = dto.Master,
        Node = dto.Node,
    };

    internal static DepotEntryType ParseType(string type) =>
        string.Equals(type, "directory", StringComparison.Ordinal) ? DepotEntryType.Directory : DepotEntryType.File;
}

/// <summary>One entry of a listing.</summary>
public sealed record DepotEntry
{
    /// <summary>Where it is.</summary>
    public required DepotPath Path { get; init; }

    /// <summary>The last segment of the key.</summary>
    public required string Name { get; init; }

    /// <summary>File or directory.</summary>
    public DepotEntryType Type { get; init; }

    /// <summary>Bytes (0 for a directory).</summary>
    public long Size { get; init; }

    /// <summary>When the bytes last changed on the server.</summary>
    public DateTimeOffset Modified { get; init; }

    /// <summary>Files whose checksum the server knows: SHA-256, lower-case hex. Null for a file the server has not
    /// hashed yet (one copied into its directory from outside and not read since).</summary>
    public string? Sha256 { get; init; }

    /// <summary>User metadata, when the listing carries it (it does for files that have any).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = DepotObject.EmptyMetadata;

    /// <summary>True for files.</summary>
    public bool IsFile => Type == DepotEntryType.File;
}
