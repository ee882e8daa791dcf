namespace Depot.Server.Tests.Infrastructure;

/// <summary>The system clock moved forward by hand: <see cref="GetUtcNow"/> is the real time plus every
/// <see cref="Advance"/> so far. Timers and timestamps stay real, so only expiry checks see the jump.</summary>
/// <remarks>Give it to a server with <c>DepotTestServer.StartAsync(configure: (o, _) =&gt; o.Time = clock)</c>.</remarks>
public sealed class TestClock : TimeProvider
{
    private long _offsetTicks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
}
