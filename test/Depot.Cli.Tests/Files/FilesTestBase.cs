using System.Text;
using System.Text.Json;
using Depot.Cli.Tests.Infrastructure;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Cli.Tests.Files;

/// <summary>A server with the <c>default</c> bucket and a second one, <c>backup</c>, and helpers to set up and check
/// remote files through the SDK.</summary>
public abstract class FilesTestBase : IAsyncLifetime
{
    protected CliTestContext C { get; private set; } = null!;

    public async ValueTask InitializeAsync() =>
        C = await CliTestContext.StartAsync((options, root) => options.Buckets["backup"] = new BucketConfig { Path = DepotTestServer.BucketDirectory(root, "backup") });

    public async ValueTask DisposeAsync()
    {
        await C.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected Task PutAsync(string path, string text) =>
        C.Client.UploadAsync(Encoding.UTF8.GetBytes(text), path, cancellationToken: CliTestContext.Ct);

    protected async Task<string> ReadAsync(string path) =>
        Encoding.UTF8.GetString(await C.Client.DownloadBytesAsync(path, cancellationToken: CliTestContext.Ct));

    protected async Task<bool> ExistsAsync(string path) => await C.Client.TryStatAsync(path, CliTestContext.Ct) is not null;

    protected static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    protected static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}
