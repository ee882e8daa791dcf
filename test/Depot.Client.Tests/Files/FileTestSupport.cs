using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Files;

internal static class FileTestSupport
{
    public const int Threshold = 1024 * 1024;
    public const int ChunkSize = 256 * 1024;

    /// <summary>A client whose uploads of 1 MiB or more go through upload sessions of 256 KiB chunks.</summary>
    public static DepotClient SessionClient(this ClientTestContext context, string? apiKey = null) =>
        context.CreateClient(apiKey, configure: o => { o.ResumableThreshold = Threshold; o.ChunkSize = ChunkSize; });

    /// <summary>How many requests with this method and path start the server has logged (the access log).</summary>
    public static int Requests(this ClientTestContext context, string method, string pathStart) =>
        context.Server.Logs.Count(l => l.EventId.Id == 1 && l.Message.StartsWith($"{method} {pathStart}", StringComparison.Ordinal));

    /// <summary>Waits for the access-log line of a request (written after its answer may have reached the client).</summary>
    public static Task<bool> WaitForRequestAsync(this ClientTestContext context, string method, string pathStart) =>
        context.Server.WaitForLogsAsync(logs => logs.Any(l => l.EventId.Id == 1 && l.Message.StartsWith($"{method} {pathStart}", StringComparison.Ordinal)));

    public static string ReadText(string path) => File.ReadAllText(path);

    /// <summary>The bytes of an object as the server holds them on disk (default bucket).</summary>
    public static byte[] OnDisk(this ClientTestContext context, string key) =>
        File.ReadAllBytes(Path.Combine(context.Server.DataDirectory, key.Replace('/', Path.DirectorySeparatorChar)));

    /// <summary>Leftover temporary download files (<c>.*.depot-part</c>) below a directory.</summary>
    public static string[] PartFiles(string directory) =>
        Directory.Exists(directory) ? Directory.GetFiles(directory, "*.depot-part", SearchOption.AllDirectories) : [];
}
