using Depot.Core.Uploads.Manifests;
using Depot.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Manifests;

/// <summary>Forgets expired manifests in the background (their open sessions expire and are reclaimed on their own).</summary>
internal sealed partial class ManifestSweeper(ManifestService manifests, DepotServerOptions options, ILogger<ManifestSweeper> logger) : BackgroundService
{
    private const int Batch = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var deleted = 0;
            try
            {
                deleted = await manifests.SweepExpiredAsync(Batch, stoppingToken);
                if (deleted > 0)
                {
                    LogSwept(logger, deleted);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogSweepFailed(logger, e);
            }

            if (deleted < Batch)
            {
                try
                {
                    await Task.Delay(options.UploadSweepInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(EventId = 67, Level = LogLevel.Information, Message = "Forgot {Count} expired manifests")]
    private static partial void LogSwept(ILogger logger, int count);

    [LoggerMessage(EventId = 68, Level = LogLevel.Warning, Message = "Sweeping expired manifests failed; will retry")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
