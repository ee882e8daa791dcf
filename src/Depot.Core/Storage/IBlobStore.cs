using Depot.Core.Model;
using Depot.Core.Paths;

namespace Depot.Core.Storage;

/// <summary>
/// Where object bytes live. Knows files and directories, not checksums, content types or users: the engine
/// combines it with an <see cref="IMetadataStore"/>. Every backend passes the same conformance suite.
/// </summary>
/// <remarks>Implementations are thread-safe. Missing paths are values (null / false), not exceptions; I/O failures
/// throw (<see cref="Errors.StorageFullException"/> when the device is full).</remarks>
public interface IBlobStore
{
    /// <summary>Starts a staged write in <paramref name="bucket"/>: bytes go to temporary storage that no reader sees
    /// until <see cref="IBlobWriter.PublishAsync"/>.</summary>
    ValueTask<IBlobWriter> BeginWriteAsync(string bucket, CancellationToken cancellationToken);

    /// <summary>The file or directory at <paramref name="key"/>, or null when there is none (or it is not reachable
    /// inside the bucket, e.g. behind a symbolic link).</summary>
    ValueTask<BlobStat?> StatAsync(string bucket, ObjectKey key, CancellationToken cancellationToken);

    /// <summary>Opens a file for reading (seekable) together with the stat of exactly the opened bytes, or null when
    /// there is no file.</summary>
    ValueTask<BlobRead?> OpenReadAsync(string bucket, ObjectKey key, CancellationToken cancellationToken);

    /// <summary>Deletes a file. False when there was none.</summary>
    ValueTask<bool> DeleteFileAsync(string bucket, ObjectKey key, CancellationToken cancellationToken);

    /// <summary>Creates a directory and its parents. False when a file is in the way.</summary>
    ValueTask<bool> CreateDirectoryAsync(string bucket, ObjectKey key, CancellationToken cancellationToken);

    /// <summary>Deletes a directory (with everything below it when <paramref name="recursive"/>).</summary>
    ValueTask<DirectoryDeleteResult> DeleteDirectoryAsync(string bucket, ObjectKey key, bool recursive, CancellationToken cancellationToken);

    /// <summary>Atomically renames a file or directory within a bucket, creating the destination's parents.
    /// The destination must not exist unless <paramref name="overwrite"/> (files only).</summary>
    ValueTask<MoveResult> MoveAsync(string bucket, ObjectKey from, ObjectKey to, bool overwrite, CancellationToken cancellationToken);

    /// <summary>One page of the directory at <paramref name="directory"/>, in <see cref="ObjectKey.CompareTo"/> order.
    /// Null when the directory does not exist.</summary>
    ValueTask<BlobListPage?> ListAsync(string bucket, ObjectKey directory, ListOptions options, CancellationToken cancellationToken);
}

/// <summary>A staged write. Dispose without publishing to discard the bytes.</summary>
public interface IBlobWriter : IAsyncDisposable
{
    /// <summary>Appends bytes. The caller hashes; the writer only stores.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Bytes written so far.</summary>
    long Length { get; }

    /// <summary>Makes the staged bytes durable (fsync). Called before publishing.</summary>
    ValueTask FlushDurableAsync(CancellationToken cancellationToken);

    /// <summary>Atomically makes the staged bytes visible at <paramref name="key"/> (replacing a file there), durably.
    /// Returns the new blob's stat, or null when the key is taken by a directory.</summary>
    ValueTask<BlobStat?> PublishAsync(ObjectKey key, CancellationToken cancellationToken);
}

/// <summary>Blob stores that can change a file in place (local files), so an append writes only the new bytes. Without
/// it, appender operations rewrite the whole blob through a staged write.</summary>
public interface IBlobAppender
{
    /// <summary>Opens the file at <paramref name="key"/> for writing in place, or null when there is no file.</summary>
    ValueTask<IBlobAppendHandle?> OpenForAppendAsync(string bucket, ObjectKey key, CancellationToken cancellationToken);
}

/// <summary>A file open for in-place writes. Nothing is durable until <see cref="FlushDurable"/>.</summary>
public interface IBlobAppendHandle : IAsyncDisposable
{
    /// <summary>The stat of the open file now.</summary>
    BlobStat Stat();

    ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Cuts the file to <paramref name="length"/> bytes (rolling back a failed append).</summary>
    void SetLength(long length);

    /// <summary>Gives the file a new unique modification time, makes its bytes durable and returns their stat.</summary>
    BlobStat FlushDurable();
}

/// <summary>Blob stores that can tell a blob's current version cheaply, without opening it (local files: one lstat).
/// The engine serves cached bytes of small objects only while this matches the version they were read at.</summary>
public interface IBlobVersionProbe
{
    /// <summary>The version token of the file at <paramref name="key"/> now, or null when there is no such file.</summary>
    string? ProbeVersion(string bucket, ObjectKey key);

    /// <summary>True when <paramref name="current"/> is the same file (changed in place or not) that
    /// <paramref name="version"/> was taken from; false when another file took its place. True when it cannot tell.</summary>
    bool IsSameFile(string version, BlobStat current);
}

/// <summary>Blob stores that can tell how much space a bucket's device has (local disks; object stores usually cannot).</summary>
public interface IStorageSpace
{
    /// <summary>Total and free bytes of the device that holds <paramref name="bucket"/>, or null when unknown.</summary>
    StorageSpace? GetSpace(string bucket);
}

public sealed record StorageSpace(long TotalBytes, long FreeBytes);

public enum DirectoryDeleteResult
{
    Deleted,
    NotFound,
    NotEmpty,
    NotADirectory,
    ChangedDuringDelete,
}

public enum MoveResult
{
    Moved,
    SourceNotFound,
    DestinationExists,
    DestinationParentIsFile,
    IntoItself,
}

/// <summary>An opened blob and the stat of the opened bytes (not of whatever is at the path a moment later).</summary>
/// <param name="Content">The bytes, seekable.</param>
/// <param name="Stat">Their stat when opened.</param>
/// <param name="Restat">Their stat now (fstat of the open file), to notice changes made while they were read.</param>
public sealed record BlobRead(Stream Content, BlobStat Stat, Func<BlobStat> Restat);

/// <summary>A page of raw blob entries.</summary>
public sealed record BlobListPage(IReadOnlyList<BlobListEntry> Entries, string? NextCursor);

public sealed record BlobListEntry(ObjectKey Key, BlobStat Stat);
