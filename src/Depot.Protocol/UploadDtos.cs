namespace Depot.Protocol;

/// <summary>The body of <c>POST /v1/_uploads</c>: what a resumable upload declares before any byte moves.</summary>
public sealed record CreateUploadDto
{
    public string? Bucket { get; init; }

    /// <summary>The key to publish at; absent to have the server assign a file id.</summary>
    public string? Key { get; init; }

    /// <summary>The extension of a server-assigned id.</summary>
    public string? Ext { get; init; }

    /// <summary>The total size; absent to declare it later (deferred length).</summary>
    public long? Length { get; init; }

    /// <summary>The size of every chunk but the last, for chunks sent by index.</summary>
    public long? ChunkSize { get; init; }

    /// <summary>The expected SHA-256 of the whole upload (hex).</summary>
    public string? Sha256 { get; init; }

    /// <summary>The expected MD5 of the whole upload (hex or base64).</summary>
    public string? Md5 { get; init; }
    public string? ContentType { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
    public bool Appendable { get; init; }

    /// <summary>Publish only if nothing is at the key.</summary>
    public bool CreateOnly { get; init; }
}

/// <summary>The body of <c>PATCH /v1/_uploads/{id}</c>: declares a deferred length.</summary>
public sealed record UpdateUploadDto
{
    public long? Length { get; init; }
}

/// <summary>An upload session as the API describes it.</summary>
public sealed record UploadSessionDto
{
    public required string Id { get; init; }

    /// <summary>The session's URL path (<c>/v1/_uploads/{id}</c>).</summary>
    public required string Url { get; init; }
    public required string Bucket { get; init; }
    public required string Key { get; init; }

    /// <summary><c>open</c> or <c>completed</c>.</summary>
    public required string State { get; init; }
    public long? Length { get; init; }
    public long? ChunkSize { get; init; }
    public long BytesReceived { get; init; }

    /// <summary>How many bytes from the start have all arrived: where a sequential client resumes.</summary>
    public long Offset { get; init; }

    /// <summary>The byte ranges received, as [start, end) pairs.</summary>
    public required IReadOnlyList<long[]> Received { get; init; }

    /// <summary>The indices of the chunks fully received (sessions with a chunk size).</summary>
    public IReadOnlyList<long>? ReceivedChunks { get; init; }
    public string? Sha256 { get; init; }
    public string? Md5 { get; init; }
    public string? ContentType { get; init; }
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    public bool? Appendable { get; init; }
    public string? Protocol { get; init; }
    public DateTimeOffset Created { get; init; }
    public DateTimeOffset Expires { get; init; }

    /// <summary>The published object, once completed.</summary>
    public ObjectInfoDto? Object { get; init; }
}

/// <summary>The answer to a chunk.</summary>
public sealed record ChunkReceivedDto
{
    public required string Id { get; init; }

    /// <summary>True when every byte had arrived before (with the same content): nothing changed.</summary>
    public bool Duplicate { get; init; }
    public long BytesReceived { get; init; }

    /// <summary>Contiguous bytes from the start.</summary>
    public long Received { get; init; }
}
