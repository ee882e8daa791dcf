using System.Diagnostics;

namespace Depot.Core.Engine;

/// <summary>
/// Named points inside multi-step changes where crash tests kill the process (SIGKILL, as <c>kill -9</c> would),
/// to prove that a crash there leaves the state before or after the change, never between.
/// </summary>
/// <remarks>Armed only by the environment variable <c>DEPOT_CRASH_AT</c> (a point name), read once at start; unset,
/// <see cref="Hit"/> is a comparison with null.</remarks>
public static class CrashPoints
{
    private static readonly string? Armed = Environment.GetEnvironmentVariable("DEPOT_CRASH_AT");

    /// <summary>Kills this process at once when <paramref name="point"/> is the armed one.</summary>
    public static void Hit(string point)
    {
        if (Armed is not null && string.Equals(Armed, point, StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"DEPOT_CRASH_AT: killing the process at '{point}'.");
            Console.Error.Flush();
            Process.GetCurrentProcess().Kill();
            Thread.Sleep(Timeout.Infinite);
        }
    }
}
