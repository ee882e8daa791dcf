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

    /// <summary>The address a client reached this node at: the bound address, or, when bound to every interface
    /// (0.0.0.0, [::]), the local address of the client's connection, which the client can reach again.</summary>
    public string AddressSeenBy(Microsoft.AspNetCore.Http.HttpContext context)
    {
        var local = context.Connection.LocalIpAddress;
        if (local is null || !(Address.StartsWith("0.0.0.0:", StringComparison.Ordinal) || Address.StartsWith("[::]:", StringComparison.Ordinal)))
        {
            return Address;
        }

        var host = local.IsIPv4MappedToIPv6 ? local.MapToIPv4().ToString() : local.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{local}]" : local.ToString();
        return host + ":" + context.Connection.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
