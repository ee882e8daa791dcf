using System.Diagnostics;
using Depot.Client.Queue;

namespace Depot.Client.Tests.Queue;

/// <summary>How a runner decides that a lease's holder on this machine has died (without waiting for the lease).</summary>
public sealed class QueueOwnerTests
{
    [Fact]
    public void IsDead_OwnerOfThisProcess_IsFalse()
    {
        Assert.False(QueueOwner.IsDead(QueueOwner.Create()));
    }

    [Fact]
    public void IsDead_OwnerOnAnotherHost_IsFalse()
    {
        Assert.False(QueueOwner.IsDead("elsewhere.example/1/0/abc"));
        Assert.False(QueueOwner.IsDead("not an owner id"));
    }

    [Fact]
    public async Task IsDead_ProcessThatExited_IsTrue()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Reads /proc.");
        using var process = Process.Start("true")!;
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.True(QueueOwner.IsDead(OwnerOf(process.Id, start: "1")));
    }

    [Fact]
    public void IsDead_LiveProcess_IsFalseUnlessItsStartDiffers()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Reads /proc.");
        using var process = Process.Start("sleep", "30")!;
        try
        {
            var start = QueueOwner.StartToken(process.Id)!;

            Assert.False(QueueOwner.IsDead($"{Environment.MachineName}/{process.Id}/{start}/abc"));
            // The same pid with another start time is a process that reused the pid: the holder is gone.
            Assert.True(QueueOwner.IsDead(OwnerOf(process.Id, start: "1")));
        }
        finally
        {
            process.Kill();
        }
    }

    [Fact]
    public void IsDead_OwnerFromAnotherBoot_IsFalse()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Boot ids are Linux's.");

        // Cannot tell a previous boot of this machine from another machine of the same name: wait for the lease.
        Assert.False(QueueOwner.IsDead($"{Environment.MachineName}/{Environment.ProcessId}/00000000-0000-0000-0000-000000000000:1/abc"));
    }

    private static string OwnerOf(int pid, string start)
    {
        var boot = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        return $"{Environment.MachineName}/{pid}/{boot}:{start}/abc";
    }
}
