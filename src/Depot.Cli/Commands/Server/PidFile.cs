using System.Globalization;

namespace Depot.Cli.Commands.Server;

/// <summary>
/// The pidfile of a background server (<c>depot serve --pidfile</c>): written by the server itself once it listens,
/// removed when it exits gracefully. A pid is trusted only while <c>/proc/PID/cmdline</c> shows a <c>depot serve</c>, so
/// a stale pidfile whose pid was reused by another program never makes <c>depot stop</c> signal a stranger.
/// </summary>
internal static class PidFile
{
    /// <summary>Where <c>serve --detach</c> and <c>stop</c> keep the pidfile when none is given: the server's state folder.</summary>
    public static string DefaultPath(string dataDirectory) => Path.Combine(Path.GetFullPath(dataDirectory), ".depot", "depot.pid");

    /// <summary>The pid in the file; null when the file does not exist.</summary>
    /// <exception cref="FormatException">The file does not hold a pid.</exception>
    public static int? Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
            ? pid
            : throw new FormatException($"the pidfile {path} does not hold a process id.");
    }

    /// <summary>The pid in the file when it names a running depot server; null when the file is missing, unreadable, or stale.</summary>
    public static int? ReadLive(string path)
    {
        try
        {
            return Read(path) is { } pid && IsDepotServer(pid, path) ? pid : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Writes this process's pid; atomically, so a reader never sees half a number.</summary>
    public static void WriteOwn(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.tmp-{Environment.ProcessId}";
        File.WriteAllText(temporary, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Removes the file if it still names this process (a newer server may have replaced it).</summary>
    public static void RemoveOwn(string path)
    {
        try
        {
            if (Read(path) == Environment.ProcessId)
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            // Best effort at exit: a leftover pidfile is recognised as stale by the next start or stop.
        }
    }

    /// <summary>True when <paramref name="pid"/> is a running (not zombie) <c>depot serve</c>, started as
    /// <c>depot serve</c> or <c>dotnet depot.dll serve</c>, that can have written <paramref name="pidFile"/>: it
    /// started before the file was written. A pidfile left by a crash or a reboot may name a pid that now belongs to
    /// another depot server (of another directory), which must never be stopped or taken for this one.</summary>
    public static bool IsDepotServer(int pid, string pidFile)
    {
        var arguments = CommandLine(pid);
        if (arguments is null || !IsRunning(pid))
        {
            return false;
        }

        var serve = Array.IndexOf(arguments, "serve");
        if (serve is not (1 or 2) || !Path.GetFileName(arguments[serve - 1]).StartsWith("depot", StringComparison.Ordinal))
        {
            return false;
        }

        return StartTime(pid) is not { } started || started <= File.GetLastWriteTimeUtc(pidFile).AddSeconds(1);
    }

    /// <summary>When the process started (from /proc: boot time + its start in clock ticks), or null if unknown.</summary>
    private static DateTime? StartTime(int pid)
    {
        const double ClockTicksPerSecond = 100; // USER_HZ, 100 on every Linux architecture .NET runs on
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // Fields after the command name (which may contain spaces) start at field 3; starttime is field 22.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[19], CultureInfo.InvariantCulture);
            var bootLine = File.ReadLines("/proc/stat").First(l => l.StartsWith("btime ", StringComparison.Ordinal));
            var boot = long.Parse(bootLine.AsSpan(6), CultureInfo.InvariantCulture);
            return DateTime.UnixEpoch.AddSeconds(boot + (ticks / ClockTicksPerSecond));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The process's arguments (argv), or null when there is no such process.</summary>
    public static string[]? CommandLine(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            return text.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>True while the process exists and is not a zombie (exited, waiting for its parent to reap it).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so the state follows the last ')'.
            var end = stat.LastIndexOf(')');
            return end > 0 && end + 2 < stat.Length && stat[end + 2] is not 'Z' and not 'X';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
