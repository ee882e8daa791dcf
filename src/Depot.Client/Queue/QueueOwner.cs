using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace Depot.Client.Queue;

/// <summary>
/// Who holds a lease: <c>host/pid/start/instance</c>, where <c>start</c> identifies the process beyond its pid (on
/// Linux the boot id and the process's start time in clock ticks since boot, from <c>/proc</c>; elsewhere <c>0</c>).
/// It lets a runner on the same machine see that a lease's holder has died and take the item over without waiting
/// for the lease to run out. Across machines only expiry counts.
/// </summary>
/// <remarks>Wall-clock start times are deliberately not used: a clock step (NTP) between the holder recording its
/// start and another process reading it would make a live process look like a different one.</remarks>
internal static class QueueOwner
{
    private static readonly string Host = Environment.MachineName;
    private static readonly string BootId = ReadBootId();
    /// <summary>A process that exists but whose start cannot be read.</summary>
    private static readonly string Unknown = new('?', 1);
    private static readonly Lazy<string> OwnStart = new(() => StartToken(Environment.ProcessId) ?? "0");

    /// <summary>A fresh owner id for one <see cref="UploadQueue"/> instance of this process.</summary>
    public static string Create() => string.Create(CultureInfo.InvariantCulture,
        $"{Host}/{Environment.ProcessId}/{OwnStart.Value}/{Guid.NewGuid():N}");

    /// <summary>True only when <paramref name="owner"/> names a process on this machine (same host name and, on Linux,
    /// same boot) that has certainly ended. Anything that cannot be checked counts as alive.</summary>
    public static bool IsDead(string owner)
    {
        var parts = owner.Split('/');
        if (parts.Length < 4
            || !int.TryParse(parts[^3], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || !string.Equals(string.Join('/', parts[..^3]), Host, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var start = parts[^2];
        if (pid == Environment.ProcessId)
        {
            // This process (another queue instance in it) is alive; a predecessor that had the same pid is not.
            return !string.Equals(start, OwnStart.Value, StringComparison.Ordinal) && SameBoot(start);
        }

        if (OperatingSystem.IsLinux())
        {
            if (!SameBoot(start))
            {
                return false;
            }

            var actual = StartToken(pid);
            return actual is null || (!ReferenceEquals(actual, Unknown) && !string.Equals(actual, start, StringComparison.Ordinal));
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true; // no process with that id
        }
        catch (Exception e) when (e is Win32Exception or NotSupportedException or InvalidOperationException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Linux: whether a start token was written during this boot (tokens without a boot id cannot tell).</summary>
    private static bool SameBoot(string start) =>
        !OperatingSystem.IsLinux() || (start.Split(':') is [var boot, _] && string.Equals(boot, BootId, StringComparison.Ordinal));

    /// <summary>Linux: <c>{boot id}:{start time in ticks since boot}</c> of a running process, null when there is no
    /// such process, <see cref="Unknown"/> when it cannot be read. Elsewhere <c>0</c>.</summary>
    internal static string? StartToken(int pid)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "0";
        }

        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Exists, but we may not look (another user's process): cannot tell, so not dead.
            return Unknown;
        }

        // Field 2 (the command) is in parentheses and may hold spaces; field 22 (starttime) is the 20th after it.
        var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 19 ? BootId + ":" + fields[19] : Unknown;
    }

    private static string ReadBootId()
    {
        try
        {
            return OperatingSystem.IsLinux() ? File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim() : "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
