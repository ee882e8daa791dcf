namespace Depot.Client;

/// <summary>How an upload is stored and checked. Options that do not apply to an operation are ignored where the
/// operation says so.</summary>
public sealed class UploadOptions
{
    /// <summary>The content type to store; null keeps the previous one on a replacement, or lets the server guess
    /// from the key's extension.</summary>
    public string? ContentType { get; set; }

    /// <summary>User metadata (names <c>a-z 0-9 - _ .</c>, values up to 256 UTF-8 bytes). Null keeps the metadata
    /// of a replaced object; an empty dictionary clears it… only through <see cref="DepotClient.SetMetadataAsync"/>.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; set; }

    /// <summary>Replace an object already at the key (default). False makes the upload create-only:
    /// <see cref="AlreadyExistsException"/> when anything is there, checked before and again at publishing.</summary>
    public bool Overwrite { get; set; } = true;

    /// <summary>Compare-and-swap: replace the object only if its ETag is still this one
    /// (<see cref="PreconditionFailedException"/> otherwise). Forces a single PUT (not resumable).</summary>
    public string? IfMatch { get; set; }

    /// <summary>The object expires this long after the upload. Forces a single PUT (not resumable).</summary>
    public TimeSpan? TimeToLive { get; set; }

    /// <summary>The object expires at this time. Forces a single PUT (not resumable).</summary>
    public DateTimeOffset? Expires { get; set; }

    /// <summary>Store an appender object (append, modify, truncate later).</summary>
    public bool Appendable { get; set; }

    /// <summary>Verify the SHA-256 end to end (default): the server refuses to publish bytes that differ from what
    /// the client read. Costs one extra local read of files below the resumable threshold.</summary>
    public bool Verify { get; set; } = true;

    /// <summary>Force (true) or forbid (false) an upload session; null decides by
    /// <see cref="DepotClientOptions.ResumableThreshold"/>.</summary>
    public bool? Resumable { get; set; }

    /// <summary>Encrypt on the client (AES-256-GCM, see docs/encryption.md): the server stores and hashes only
    /// ciphertext. Encrypted uploads resume after network failures but not after a crash of this process.</summary>
    public EncryptionKey? Encryption { get; set; }
}

/// <summary>How a download is fetched, checked and put in place.</summary>
public sealed class DownloadOptions
{
    /// <summary>First byte to download (FastDFS offset). Default 0.</summary>
    public long Offset { get; set; }

    /// <summary>Bytes to download from <see cref="Offset"/>; null or 0 for to the end.</summary>
    public long? Length { get; set; }

    /// <summary>Replace an existing local file (default). False: <see cref="DepotException"/> with code
    /// <see cref="ClientErrorCodes.LocalExists"/> before anything is fetched.</summary>
    public bool Overwrite { get; set; } = true;

    /// <summary>Check the bytes against the object's SHA-256 before the file is put in place (whole-object
    /// downloads; default true). A mismatch is <see cref="ChecksumMismatchException"/> and the destination is untouched.</summary>
    public bool Verify { get; set; } = true;

    /// <summary>Give the local file the object's modification time (default true).</summary>
    public bool PreserveModifiedTime { get; set; } = true;

    /// <summary>Decrypt what <see cref="UploadOptions.Encryption"/> encrypted. Offsets and lengths then count plaintext bytes.</summary>
    public EncryptionKey? Encryption { get; set; }
}
