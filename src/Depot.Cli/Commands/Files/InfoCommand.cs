using System.CommandLine;
using System.Globalization;
using Depot.Cli.Shell;
using Depot.Protocol;

namespace Depot.Cli.Commands.Files;

/// <summary><c>depot info</c>: the server in use, its health and version, its nodes, and the buckets the key can
/// see with their usage (FastDFS list groups / list servers).</summary>
internal static class InfoCommand
{
    private static readonly string[] NodeHeader = ["NODE", "ADDRESS", "VERSION", "UPTIME", "STATUS"];
    private static readonly string[] BucketHeader = ["BUCKET", "OBJECTS", "USED", "FREE", "TOTAL", "MAX OBJECT", "ACCESS"];

    public static Command Create()
    {
        var command = new Command("info", "Show the server in use, its version, its nodes and the buckets the key can see with their usage.");
        command.WithGlobalOptions();
        CliAction.Set(command, async context =>
        {
            var client = context.Client;
            var health = client.GetHealthAsync(context.Cancellation);
            var cluster = client.GetClusterAsync(cancellationToken: context.Cancellation);
            var buckets = client.ListBucketsAsync(context.Cancellation);
            await Task.WhenAll(health, cluster, buckets);

            var limits = (await buckets).ToDictionary(b => b.Name, StringComparer.Ordinal);
            var info = new InfoJson(
                client.CurrentServer.ToString(),
                (await health).Status,
                (await health).Version,
                (await cluster).Servers,
                [.. (await cluster).Buckets.Select(b => BucketJson.From(b, limits.GetValueOrDefault(b.Name)))]);
            if (!context.Output.Json)
            {
                Print(context.Output, info);
            }

            context.Output.WriteJson(info);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void Print(CliOutput output, InfoJson info)
    {
        output.Table([["server:", info.Server], ["status:", info.Status], ["version:", info.Version]]);
        output.Data("");
        var nodes = new List<string[]> { NodeHeader };
        nodes.AddRange(info.Servers.Select(n => new[] { n.Id, n.Address, n.Version, Units.FormatDuration(TimeSpan.FromSeconds(n.UptimeSeconds)), n.Status }));
        output.Table(nodes);
        output.Data("");
        var rows = new List<string[]> { BucketHeader };
        rows.AddRange(info.Buckets.Select(b => new[]
        {
            b.Name, b.ObjectCount.ToString(CultureInfo.InvariantCulture), Units.FormatSize(b.BytesUsed),
            b.FreeBytes is { } free ? Units.FormatSize(free) : "-", b.TotalBytes is { } total ? Units.FormatSize(total) : "-",
            Units.FormatSize(b.MaxObjectSize), b.ReadOnly ? "read-only" : "read-write",
        }));
        output.Table(rows, false, true, true, true, true, true);
    }

    /// <summary><c>info --json</c>.</summary>
    private sealed record InfoJson(string Server, string Status, string Version, IReadOnlyList<NodeDto> Servers, IReadOnlyList<BucketJson> Buckets);

    /// <summary>A bucket: the cluster's usage figures and the bucket list's limits.</summary>
    private sealed record BucketJson(string Name, long ObjectCount, long BytesUsed, long? FreeBytes, long? TotalBytes, long MaxObjectSize, int? MaxKeyLength, bool ReadOnly)
    {
        public static BucketJson From(ClusterBucketDto usage, BucketDto? limits) =>
            new(usage.Name, usage.ObjectCount, usage.BytesUsed, usage.FreeBytes, usage.TotalBytes, usage.MaxObjectSize, limits?.MaxKeyLength, usage.ReadOnly);
    }
}
