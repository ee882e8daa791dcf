namespace Depot.Core.Model;

/// <summary>What a blob store says about a path right now.</summary>
/// <param name="IsDirectory">True for a directory.</param>
/// <param name="Size">Bytes (0 for directories).</param>
/// <param name="ModifiedUtc">Modification time.</param>
/// <param name="Version">Opaque token that changes whenever the bytes change (local files: size and mtime ticks).</param>
public sealed record BlobStat(bool IsDirectory, long Size, DateTimeOffset ModifiedUtc, string Version)
{
    /// <summary>Identifies the file itself (local files: device and inode), unchanged by writes in place; null when the
    /// store cannot tell. Lets a reader know that a file growing under an append is still the same file.</summary>
    public string? Identity { get; init; }
}
