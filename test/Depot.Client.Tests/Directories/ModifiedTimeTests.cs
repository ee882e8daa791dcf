using Depot.Client.Directories;

namespace Depot.Client.Tests.Directories;

public sealed class ModifiedTimeTests
{
    [Fact]
    public void Format_UtcTime_IsRfc3339WithSevenFractionalDigits()
    {
        var time = new DateTime(2026, 11, 21, 14, 58, 29, DateTimeKind.Utc).AddTicks(7782063);

        Assert.Equal("2026-11-21T14:58:29.7782063Z", ModifiedTime.Format(time));
    }

    [Fact]
    public void Format_ThenParse_RoundTripsEveryTick()
    {
        var time = new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc).AddTicks(1);

        Assert.True(ModifiedTime.TryParse(ModifiedTime.Format(time), out var back));
        Assert.Equal(time.Ticks, back.Ticks);
        Assert.Equal(DateTimeKind.Utc, back.Kind);
    }

    [Theory]
    [InlineData("2026-11-21T14:58:29Z", 0)]
    [InlineData("2026-11-21T14:58:29.5Z", 5_000_000)]
    [InlineData("2026-11-21T16:58:29.5+02:00", 5_000_000)]
    [InlineData("2026-11-21T14:58:29.123456789Z", 1_234_567)]
    public void TryParse_OtherRfc3339Forms_Accepted(string value, long fractionTicks)
    {
        Assert.True(ModifiedTime.TryParse(value, out var utc));
        Assert.Equal(new DateTime(2026, 11, 21, 14, 58, 29, DateTimeKind.Utc).AddTicks(fractionTicks), utc);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1700000000000")]
    [InlineData("yesterday")]
    [InlineData("2026-11-21 14:58:29")]
    [InlineData("2026-11-21T14:58:29")]
    public void TryParse_NotRfc3339WithZone_Refused(string value) => Assert.False(ModifiedTime.TryParse(value, out _));

    [Fact]
    public void SameMillisecond_DifferentSubMillisecondTicks_Equal()
    {
        var time = new DateTime(2020, 1, 1, 0, 0, 0, 5, DateTimeKind.Utc);

        Assert.True(ModifiedTime.SameMillisecond(time.AddTicks(1), time.AddTicks(9999)));
        Assert.False(ModifiedTime.SameMillisecond(time, time.AddMilliseconds(1)));
    }
}
