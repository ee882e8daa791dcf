using System.Collections.Concurrent;
using Depot.Client.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace Depot.Client.Tests.Queue;

/// <summary>Helpers for upload queue tests: a queue file under the scratch directory, and direct writes to its rows
/// (the way a crashed or foreign process would have left them).</summary>
internal static class QueueKit
{
    public static CancellationToken Token => TestContext.Current.CancellationToken;

    public static string QueuePath(ClientTestContext context) => Path.Combine(context.Scratch, "queue", "uploads.queue");

    public static Task<UploadQueue> OpenAsync(ClientTestContext context, DepotClient? client = null, UploadQueueOptions? options = null) =>
        UploadQueue.OpenAsync(QueuePath(context), client ?? context.Client, options, Token);

    /// <summary>An owner id of a process on this machine that has ended: our own pid with another start (in this boot,
    /// on Linux).</summary>
    public static string DeadOwnerOnThisMachine => $"{Environment.MachineName}/{Environment.ProcessId}/{BootPrefix}1/0000dead";

    private static string BootPrefix => OperatingSystem.IsLinux() ? File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim() + ":" : "";

    /// <summary>An owner id on another machine: only its lease counts.</summary>
    public const string OwnerElsewhere = "elsewhere.example/4242/638000000000000000/0000beef";

    /// <summary>Leaves an item as a runner that claimed it and then vanished would have.</summary>
    public static Task MarkUploadingAsync(string queuePath, long id, string owner, DateTimeOffset leaseExpires, int attempts = 1) =>
        ExecuteAsync(queuePath, "UPDATE items SET state = 'uploading', owner = $owner, lease_expires = $lease, attempts = $attempts WHERE id = $id",
            ("$owner", owner), ("$lease", leaseExpires.ToUnixTimeMilliseconds()), ("$attempts", attempts), ("$id", id));

    public static async Task ExecuteAsync(string queuePath, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = queuePath, Pooling = false }.ToString());
        await connection.OpenAsync(Token);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync(Token);
    }

    public static async Task<long> ScalarAsync(string queuePath, string sql)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = queuePath, Pooling = false }.ToString());
        await connection.OpenAsync(Token);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(Token));
    }

    /// <summary>Polls the queue until <paramref name="condition"/> holds for the item (or fails the test after 30 s).</summary>
    public static async Task<QueuedUpload> WaitForAsync(UploadQueue queue, long id, Func<QueuedUpload, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var item = await queue.GetAsync(id, Token);
            if (item is not null && condition(item))
            {
                return item;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Item {id} never reached the expected state; last seen: {item}");
            await Task.Delay(20, Token);
        }
    }

    /// <summary>Records every report, synchronously (<see cref="Progress{T}"/> would post them to the thread pool).</summary>
    public sealed class RecordingProgress(Action<TransferProgress>? onReport = null) : IProgress<TransferProgress>
    {
        public ConcurrentQueue<TransferProgress> Reports { get; } = new();

        public void Report(TransferProgress value)
        {
            Reports.Enqueue(value);
            onReport?.Invoke(value);
        }
    }
}
