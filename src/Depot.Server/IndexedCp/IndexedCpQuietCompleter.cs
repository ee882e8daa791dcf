using Depot.Core.Uploads;
using Depot.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Depot.Server.IndexedCp;

/// <summary>
/// Publishes IndexedCP uploads that no short final chunk closed: once chunks 0..n-1 are all present and none has arrived
/// for <see cref="IndexedCpOptions.QuietPeriod"/> (IndexedCP clients never say "done").
/// </summary>
/// <remarks>Looks once a second, so an upload is published between the quiet period and a second after it.</remarks>
public sealed partial class IndexedCpQuietCompleter(UploadEngine uploads, DepotServerOptions options, TimeProvider time, ILogger<IndexedCpQuietCompleter> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>One round: publishes what is due now; returns how many uploads were published.</summary>
    public Task<int> CompleteDueAsync(CancellationToken cancellationToken) =>
        uploads.CompleteQuietAsync(UploadProtocols.IndexedCp, options.IndexedCp.QuietPeriod, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Interval, time, stoppingToken);
                var published = await CompleteDueAsync(stoppingToken);
                if (published > 0)
                {
                    LogPublished(logger, published);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The loop must outlive any one failure (a locked database, a full disk): log and look again next round.
                LogFailed(logger, e);
            }
        }
    }

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Published {Count} IndexedCP uploads after their quiet period")]
    private static partial void LogPublished(ILogger logger, int count);

    [LoggerMessage(EventId = 402, Level = LogLevel.Warning, Message = "Publishing quiet IndexedCP uploads failed; will retry")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
