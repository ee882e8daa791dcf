namespace Depot.Protocol;

/// <summary>The optional body of <c>POST /v1/_uploads/{id}/complete</c>: the checksums of the whole upload, declared at
/// completion by a client that hashed the bytes while sending them. Verified like those declared at creation (nothing is
/// published on a mismatch); one that differs from a checksum declared at creation is refused.</summary>
public sealed record CompleteUploadDto
{
    /// <summary>The expected SHA-256 of the whole upload: 64 hex digits.</summary>
    public string? Sha256 { get; init; }

    /// <summary>The expected MD5 of the whole upload: 32 hex digits or 24 base64 characters.</summary>
    public string? Md5 { get; init; }
}
