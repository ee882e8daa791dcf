namespace Depot.Core.Model;

/// <summary>One entry of a directory listing.</summary>
/// <param name="Key">Full key of the entry.</param>
/// <param name="Name">Last segment.</param>
/// <param name="IsDirectory">True for directories.</param>
/// <param name="Size">Bytes (0 for directories).</param>
/// <param name="ModifiedUtc">Last modification time.</param>
/// <param name="Sha256Hex">The checksum when known without reading the file (null for directories and files not yet described).</param>
/// <param name="Metadata">Files: the user metadata from the same record (null for directories, files without a record
/// and files without metadata).</param>
public sealed record ListEntry(string Key, string Name, bool IsDirectory, long Size, DateTimeOffset ModifiedUtc, string? Sha256Hex, IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>A page of a listing. <see cref="NextCursor"/> is null on the last page.</summary>
public sealed record ListPage(IReadOnlyList<ListEntry> Entries, string? NextCursor);

/// <summary>How to list: a directory, optionally recursive, in pages after a cursor.</summary>
/// <param name="Recursive">Include everything below, depth first; directories come before their children.</param>
/// <param name="Limit">Entries per page.</param>
/// <param name="Cursor">The cursor from the previous page, or null for the first page.</param>
/// <param name="Filter">Which entries the caller may see (key, is directory); invisible directories are not descended
/// into. Applied inside the walk so pages and cursors only ever hold visible keys.</param>
public sealed record ListOptions(bool Recursive = false, int Limit = 1000, string? Cursor = null, Func<string, bool, bool>? Filter = null)
{
    public const int MaxLimit = 10_000;
}
