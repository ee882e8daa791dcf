using System.Runtime.InteropServices;
using System.Text;

namespace Depot.Client.Queue;

/// <summary>
/// The queue's copies of snapshot items: <c>{queue}.blobs/{guid}.blob</c>. A copy is written as <c>.partial</c>,
/// flushed to disk, renamed, and the folder flushed, all before the item that names it is recorded; so a recorded
/// snapshot survives a power cut. A copy whose record never made it (a crash in between) is an orphan, removed by a
/// later <see cref="Sweep"/>.
/// </summary>
internal sealed class SnapshotStore(string directory)
{
    private const string BlobSuffix = ".blob";
    private const string PartialSuffix = ".partial";

    /// <summary>Orphans younger than this may belong to an enqueue still in progress in another process.</summary>
    private static readonly TimeSpan OrphanGrace = TimeSpan.FromHours(1);

    public string Directory { get; } = directory;

    public string PathOf(string blob) => Path.Combine(Directory, blob);

    /// <summary>Copies <paramref name="source"/> into a new blob and returns its name and size.</summary>
    public async Task<(string Blob, long Size)> CopyAsync(string source, CancellationToken cancellationToken)
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.CreateDirectory(Directory);
            FlushDirectory(Path.GetDirectoryName(Directory)!);
        }

        var name = Guid.NewGuid().ToString("N");
        var partial = PathOf(name + PartialSuffix);
        var blob = name + BlobSuffix;
        try
        {
            long size;
            var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (input.ConfigureAwait(false))
            {
                var output = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
                await using (output.ConfigureAwait(false))
                {
                    await input.CopyToAsync(output, 1024 * 1024, cancellationToken).ConfigureAwait(false);
                    size = output.Length;
                    // Synchronous by nature: there is no asynchronous fsync.
                    output.Flush(flushToDisk: true);
                }
            }

            File.Move(partial, PathOf(blob));
            FlushDirectory(Directory);
            return (blob, size);
        }
        catch
        {
            TryDelete(partial);
            throw;
        }
    }

    /// <summary>Deletes a blob; a missing one is fine.</summary>
    public void Delete(string? blob)
    {
        if (blob is not null)
        {
            TryDelete(PathOf(blob));
        }
    }

    /// <summary>Deletes blobs and partial copies older than the grace period that no item names.</summary>
    public void Sweep(IReadOnlySet<string> referenced, DateTimeOffset now)
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return;
        }

        foreach (var file in new DirectoryInfo(Directory).EnumerateFiles())
        {
            var orphan = file.Name.EndsWith(PartialSuffix, StringComparison.Ordinal)
                || (file.Name.EndsWith(BlobSuffix, StringComparison.Ordinal) && !referenced.Contains(file.Name));
            if (orphan && now - file.LastWriteTimeUtc > OrphanGrace)
            {
                TryDelete(file.FullName);
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next sweep.
        }
    }

    /// <summary>fsync(2) on the folder, so a new name in it is as durable as the bytes. Only on Linux and macOS,
    /// where creating a name is not durable until its folder is flushed; elsewhere a no-op. File systems that cannot
    /// flush a folder (some FUSE and network ones answer EINVAL) are let be; an I/O error (EIO) is not.</summary>
    private static void FlushDirectory(string path)
    {
        const int EIO = 5;
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        var fd = Open(Encoding.UTF8.GetBytes(path + "\0"), 0 /* O_RDONLY */);
        if (fd < 0)
        {
            return;
        }

        try
        {
            if (Fsync(fd) != 0 && Marshal.GetLastPInvokeError() == EIO)
            {
                throw new IOException($"Flushing the queue's blob folder '{path}' to disk failed with an I/O error; the disk may be failing.");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Open(byte[] path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Close(int fd);
}
