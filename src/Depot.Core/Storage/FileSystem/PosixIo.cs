using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Depot.Core.Storage.FileSystem;

/// <summary>The few POSIX calls .NET does not expose: fdatasync, directory fsync, early writeback.</summary>
internal enum FileKind
{
    File,
    Directory,
    Link,
    Other,
}

/// <summary>What lstat/fstat say of a file. <see cref="Version"/> changes whenever the bytes may have changed:
/// inode, size, mtime and ctime to the nanosecond.</summary>
internal sealed record FileStat(FileKind Kind, long Size, DateTimeOffset ModifiedUtc, string Version)
{
    /// <summary>Device and inode: the file itself, whatever is written into it.</summary>
    public string? Identity { get; init; }
}

/// <summary>An opened regular file and the fstat taken when it was opened.</summary>
internal sealed record OpenedFile(SafeFileHandle Handle, FileStat Stat);

internal static partial class PosixIo
{
    private const int ORdonly = 0;
    // Opening a FIFO or a device without it would block until a writer appears; it changes nothing for regular files.
    private const int ONonblock = 0x800;
    private const int ORdwr = 2;
    private const int ODirectory = 0x10000;
    private const int SyncFileRangeWrite = 2;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint pread(int fd, Span<byte> buffer, nuint count, long offset);

    /// <summary>pread(2) straight on the descriptor: RandomAccess.Read would first probe the handle with lseek, once per
    /// handle, which is one system call per small GET.</summary>
    public static int ReadAt(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        if (!OperatingSystem.IsLinux())
        {
            return RandomAccess.Read(handle, buffer, offset);
        }

        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            while (true)
            {
                var n = pread((int)handle.DangerousGetHandle(), buffer, (nuint)buffer.Length, offset);
                if (n >= 0)
                {
                    return (int)n;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != 4) // EINTR: try again
                {
                    throw new IOException($"pread failed (errno {errno}).", errno);
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    // openat2(2) has no libc wrapper in older glibc; it is system call 437 on every Linux architecture.
    private const long SysOpenat2 = 437;
    private const int OPath = 0x200000;
    private const ulong ResolveNoMagicLinks = 0x02;
    private const ulong ResolveNoSymlinks = 0x04;
    private const ulong ResolveBeneath = 0x08;
    private static volatile bool _openat2Unavailable = !OperatingSystem.IsLinux();

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SyscallOpenat2(long number, int directory, string path, ref OpenHow how, nuint size);

    /// <summary>The opened handle with its fstat when it is a regular file; otherwise it is closed and null returned.</summary>
    private static OpenedFile? CheckRegular(SafeFileHandle handle, string path)
    {
        var stat = StatHandle(handle, path);
        if (stat.Kind != FileKind.File)
        {
            handle.Dispose();
            return null;
        }

        return new OpenedFile(handle, stat);
    }

    /// <summary>Opens a directory as a path handle, to resolve names beneath it with <see cref="TryOpenBeneath"/>.</summary>
    public static SafeFileHandle? OpenDirectoryPath(string path)
    {
        if (_openat2Unavailable)
        {
            return null;
        }

        var fd = open(path, OPath | ODirectory | OCloexec);
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Opens the regular file at <paramref name="relativePath"/> beneath <paramref name="root"/> in one system call
    /// that refuses every symbolic link on the way and any escape from <paramref name="root"/> (openat2 with
    /// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): race-free, and cheaper than checking each segment first.</summary>
    /// <returns>False when openat2 is not available (old kernel, seccomp): use the per-segment checks instead. True with
    /// a null handle when there is no such regular file reachable without links.</returns>
    public static bool TryOpenBeneath(SafeFileHandle root, string relativePath, bool write, out OpenedFile? file)
    {
        file = null;
        if (_openat2Unavailable)
        {
            return false;
        }

        var how = new OpenHow
        {
            Flags = (ulong)((write ? ORdwr : ORdonly) | ONoFollow | OCloexec | ONonblock),
            Resolve = ResolveBeneath | ResolveNoSymlinks | ResolveNoMagicLinks,
        };
        var added = false;
        root.DangerousAddRef(ref added);
        int fd;
        try
        {
            fd = SyscallOpenat2(SysOpenat2, (int)root.DangerousGetHandle(), relativePath, ref how, (nuint)Marshal.SizeOf<OpenHow>());
        }
        finally
        {
            if (added)
            {
                root.DangerousRelease();
            }
        }

        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case 38: // ENOSYS: the kernel (or a seccomp filter) does not know openat2
                    _openat2Unavailable = true;
                    return false;
                case 1: // EPERM: a seccomp filter, or an immutable/append-only file opened for writing; let the old path decide
                    return false;
                case 12 or 23 or 24: // ENOMEM, ENFILE, EMFILE: the server is short of resources, the file may well exist
                    throw new IOException($"Cannot open '{relativePath}' (errno {errno}).", errno);
                default:
                    return true; // ENOENT, ELOOP (a link), EXDEV (an escape), ENOTDIR, EISDIR, EACCES: not a reachable file
            }
        }

        file = CheckRegular(new SafeFileHandle(fd, ownsHandle: true), relativePath);
        return true;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sync_file_range(int fd, long offset, long nbytes, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int syncfs(int fd);

    /// <summary>Opens a directory (to name its filesystem in <see cref="SyncFilesystem"/>).</summary>
    public static SafeFileHandle OpenDirectory(string path)
    {
        var fd = open(path, ORdonly | ODirectory | OCloexec);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory '{path}' (errno {Marshal.GetLastPInvokeError()}).", Marshal.GetLastPInvokeError());
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>syncfs(2): makes everything written to the directory's filesystem so far durable.</summary>
    public static void SyncFilesystem(SafeHandle directory)
    {
        var added = false;
        directory.DangerousAddRef(ref added);
        try
        {
            if (syncfs((int)directory.DangerousGetHandle()) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"syncfs failed (errno {errno}).", errno);
            }
        }
        finally
        {
            if (added)
            {
                directory.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, out StatxBuffer buffer);

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const int ONoFollow = 0x20000;
    private const int OCloexec = 0x80000;

    /// <summary>The kernel's struct statx (same layout on every Linux architecture).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(96)] public long CtimeSeconds;
        [FieldOffset(104)] public uint CtimeNanoseconds;
        [FieldOffset(112)] public long MtimeSeconds;
        [FieldOffset(120)] public uint MtimeNanoseconds;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    /// <summary>lstat of a path (links are reported, not followed); null when nothing is there.</summary>
    public static FileStat? StatNoFollow(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return ManagedStat(path);
        }

        return statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, out var buffer) == 0 ? ToStat(buffer) : null;
    }

    /// <summary>fstat of an open file.</summary>
    public static FileStat StatHandle(SafeFileHandle handle, string pathForFallback)
    {
        if (!OperatingSystem.IsLinux())
        {
            return ManagedStat(pathForFallback) ?? throw new FileNotFoundException(pathForFallback);
        }

        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (statx((int)handle.DangerousGetHandle(), string.Empty, AtEmptyPath, StatxBasicStats, out var buffer) != 0)
            {
                throw new IOException($"fstat failed (errno {Marshal.GetLastPInvokeError()}).", Marshal.GetLastPInvokeError());
            }

            return ToStat(buffer);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Opens a file for reading without following a symbolic link in the last component (O_NOFOLLOW).
    /// Null when there is no such file, or it is a link or a directory.</summary>
    public static OpenedFile? OpenReadNoFollow(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            try
            {
                return CheckRegular(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous), path);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
            {
                return null;
            }
        }

        var fd = open(path, ORdonly | ONoFollow | OCloexec | ONonblock);
        if (fd < 0)
        {
            return null; // ENOENT, ELOOP (a link), EACCES
        }

        return CheckRegular(new SafeFileHandle(fd, ownsHandle: true), path);
    }

    private static FileStat ToStat(in StatxBuffer b)
    {
        var kind = (b.Mode & 0xF000) switch
        {
            0x8000 => FileKind.File,
            0x4000 => FileKind.Directory,
            0xA000 => FileKind.Link,
            _ => FileKind.Other,
        };
        var mtime = DateTimeOffset.FromUnixTimeSeconds(b.MtimeSeconds).AddTicks(b.MtimeNanoseconds / 100);
        var version = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{b.Inode:x}-{b.Size}-{b.MtimeSeconds}.{b.MtimeNanoseconds:D9}-{b.CtimeSeconds}.{b.CtimeNanoseconds:D9}");
        return new FileStat(kind, (long)b.Size, mtime, version)
        {
            Identity = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{b.DevMajor}:{b.DevMinor}:{b.Inode:x}"),
        };
    }

    private static FileStat? ManagedStat(string path)
    {
        FileSystemInfo info = new FileInfo(path);
        if (!info.Exists)
        {
            info = new DirectoryInfo(path);
            if (!info.Exists)
            {
                var link = new FileInfo(path);
                return link.LinkTarget is not null ? new FileStat(FileKind.Link, 0, default, "link") : null;
            }
        }

        var kind = info.LinkTarget is not null ? FileKind.Link : info is DirectoryInfo ? FileKind.Directory : FileKind.File;
        var size = info is FileInfo f ? f.Length : 0;
        var modified = new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero);
        return new FileStat(kind, size, modified, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{size}:{modified.UtcTicks}"));
    }

    /// <summary>Opens a regular file for writing in place without following a symbolic link (O_NOFOLLOW), never creating
    /// it. Null when there is no such file, or it is a link or a directory.</summary>
    public static OpenedFile? OpenWriteNoFollow(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            try
            {
                return CheckRegular(File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous), path);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
            {
                return null;
            }
        }

        var fd = open(path, ORdwr | ONoFollow | OCloexec | ONonblock);
        if (fd < 0)
        {
            return null;
        }

        return CheckRegular(new SafeFileHandle(fd, ownsHandle: true), path);
    }

    /// <summary>Flushes a file's data (and the metadata needed to read it) to stable storage.</summary>
    public static void FlushData(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux())
        {
            RandomAccess.FlushToDisk(handle);
            return;
        }

        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (fdatasync((int)handle.DangerousGetHandle()) != 0)
            {
                throw new IOException($"fdatasync failed (errno {Marshal.GetLastPInvokeError()}).", Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Starts writeback of a written range without waiting, so the final fdatasync has little left to do.</summary>
    public static void StartWriteback(SafeFileHandle handle, long offset, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            _ = sync_file_range((int)handle.DangerousGetHandle(), offset, length, SyncFileRangeWrite);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Makes a directory's entries (a rename, a new file) durable.</summary>
    public static void FlushDirectory(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = open(path, ORdonly | ODirectory);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory for fsync (errno {Marshal.GetLastPInvokeError()}).", Marshal.GetLastPInvokeError());
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync of a directory failed (errno {Marshal.GetLastPInvokeError()}).", Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            _ = close(fd);
        }
    }
}
