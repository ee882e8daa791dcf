using Depot.Core.Paths;

namespace Depot.Core.Model;

/// <summary>A stat answer: a described object, or a directory.</summary>
public sealed record StatResult(string Bucket, string Key, bool IsDirectory, ObjectRecord? Object, DateTimeOffset ModifiedUtc);

/// <summary>A write precondition (RFC 9110 §13.1.1–13.1.2 as used for create-only and compare-and-swap).</summary>
public abstract record WritePrecondition
{
    private WritePrecondition() { }

    /// <summary>Write only if nothing exists at the key (<c>If-None-Match: *</c>).</summary>
    public sealed record MustNotExist : WritePrecondition;

    /// <summary>Write only if an object exists (<c>If-Match: *</c>).</summary>
    public sealed record MustExist : WritePrecondition;

    /// <summary>Write only if the current object's ETag is one of these (<c>If-Match</c>).</summary>
    public sealed record ETagMatches(IReadOnlyList<string> ETags) : WritePrecondition;

    /// <summary>Write only if the current object's ETag is none of these (<c>If-None-Match</c> with tags).</summary>
    public sealed record ETagDiffers(IReadOnlyList<string> ETags) : WritePrecondition;
}

/// <summary>Options of a streamed write.</summary>
public sealed record PutOptions
{
    public string? ContentType { get; init; }

    /// <summary>The declared length (<c>Content-Length</c>), checked against the bucket limit before any byte is stored
    /// and against the bytes actually received.</summary>
    public long? ExpectedLength { get; init; }

    /// <summary>The SHA-256 the client expects; a mismatch publishes nothing.</summary>
    public byte[]? ExpectedSha256 { get; init; }

    /// <summary>The MD5 the client expects (<c>Content-MD5</c>); a mismatch publishes nothing.</summary>
    public byte[]? ExpectedMd5 { get; init; }

    public WritePrecondition? Precondition { get; init; }

    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Store an appender object (append, modify and truncate allowed later).</summary>
    public bool Appendable { get; init; }

    /// <summary>When the object expires (key-value TTL); null for never.</summary>
    public DateTimeOffset? ExpiresUtc { get; init; }

    /// <summary>Store a slave file of this master key (same bucket): the master must exist and not be a slave.</summary>
    public ObjectKey? Master { get; init; }
}

/// <summary>Options of an in-place change to an appender object (append, modify).</summary>
public sealed record ChangeOptions
{
    /// <summary>The declared length of the body, checked against the bucket limit first and the bytes received last.</summary>
    public long? ExpectedLength { get; init; }

    /// <summary>Only change the object if this precondition holds (checked under the object's lock).</summary>
    public WritePrecondition? Precondition { get; init; }
}
