using System.Text.Json;
using System.Text.Json.Serialization;
using Depot.Client.Tests.Infrastructure;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Client.Tests.KeyValue;

/// <summary>A typed value for the JSON tests.</summary>
public sealed record Profile(string Name, int Age, IReadOnlyList<string> Tags);

/// <summary>A counter for the contention tests.</summary>
public sealed record Counter(int Value);

/// <summary>Source-generated metadata with the web defaults, as a trimming user would declare it.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Profile))]
[JsonSerializable(typeof(Counter))]
internal sealed partial class KeyValueTestJson : JsonSerializerContext;

internal static class KeyValueServers
{
    /// <summary>Starts a server whose clock is <paramref name="clock"/>.</summary>
    public static Task<ClientTestContext> StartWithClockAsync(TestClock clock) =>
        ClientTestContext.StartAsync((o, _) => o.Time = clock);
}
