using System.Reflection;

namespace Depot.Server.Hosting;

/// <summary>This node as cluster info and upload answers name it.</summary>
public sealed class NodeInfo(TimeProvider time)
{
    public static string Version { get; } =
        typeof(NodeInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>A name for the node: the host name (one node per host; scale-out will give nodes stored ids).</summary>
    public string Id { get; } = Environment.MachineName;

    public DateTimeOffset StartedUtc { get; } = time.GetUtcNow();

    /// <summary>HOST:PORT the node listens on (set once it is bound).</summary>
    public string Address { get; internal set; } = "";

    public TimeSpan Uptime => time.GetUtcNow() - StartedUtc;
}
