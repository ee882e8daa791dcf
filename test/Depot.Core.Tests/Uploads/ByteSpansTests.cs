using Depot.Core.Uploads;

namespace Depot.Core.Tests.Uploads;

/// <summary>The received-range arithmetic of a session: merged sorted ranges, gaps, chunk indices.</summary>
public sealed class ByteSpansTests
{
    [Fact]
    public void Add_DisjointTouchingAndOverlapping_StaysSortedAndMerged()
    {
        IReadOnlyList<ByteSpan> ranges = [];
        ranges = ByteSpans.Add(ranges, new ByteSpan(50, 60));
        ranges = ByteSpans.Add(ranges, new ByteSpan(10, 20));
        Assert.Equal([new ByteSpan(10, 20), new ByteSpan(50, 60)], ranges);

        ranges = ByteSpans.Add(ranges, new ByteSpan(20, 30)); // touching joins
        Assert.Equal([new ByteSpan(10, 30), new ByteSpan(50, 60)], ranges);

        ranges = ByteSpans.Add(ranges, new ByteSpan(80, 90));
        ranges = ByteSpans.Add(ranges, new ByteSpan(25, 85)); // bridges three
        Assert.Equal([new ByteSpan(10, 90)], ranges);

        ranges = ByteSpans.Add(ranges, new ByteSpan(0, 5));
        ranges = ByteSpans.Add(ranges, new ByteSpan(40, 40)); // empty: no change
        Assert.Equal([new ByteSpan(0, 5), new ByteSpan(10, 90)], ranges);
    }

    [Fact]
    public void Add_RandomPieces_MatchesABitmap()
    {
        var random = new Random(42);
        for (var round = 0; round < 200; round++)
        {
            var bitmap = new bool[300];
            IReadOnlyList<ByteSpan> ranges = [];
            for (var n = 0; n < 12; n++)
            {
                var start = random.Next(0, 300);
                var end = random.Next(start, Math.Min(300, start + 60) + 1);
                ranges = ByteSpans.Add(ranges, new ByteSpan(start, end));
                for (var i = start; i < end; i++)
                {
                    bitmap[i] = true;
                }
            }

            var expected = new List<ByteSpan>();
            for (var i = 0; i < bitmap.Length; i++)
            {
                if (bitmap[i] && (i == 0 || !bitmap[i - 1]))
                {
                    var j = i;
                    while (j < bitmap.Length && bitmap[j])
                    {
                        j++;
                    }

                    expected.Add(new ByteSpan(i, j));
                }
            }

            Assert.Equal(expected, ranges);
            var missing = ByteSpans.Missing(ranges, 300);
            Assert.Equal(bitmap.Count(b => !b), missing.Sum(m => m.Length));
            foreach (var gap in missing)
            {
                Assert.All(Enumerable.Range((int)gap.Start, (int)gap.Length), i => Assert.False(bitmap[i]));
            }
        }
    }

    [Fact]
    public void ReceivedUntilAndNextReceived_AnswerFromTheRanges()
    {
        IReadOnlyList<ByteSpan> ranges = [new ByteSpan(10, 20), new ByteSpan(30, 40)];

        Assert.Equal(-1, ByteSpans.ReceivedUntil(ranges, 5));
        Assert.Equal(20, ByteSpans.ReceivedUntil(ranges, 10));
        Assert.Equal(20, ByteSpans.ReceivedUntil(ranges, 19));
        Assert.Equal(-1, ByteSpans.ReceivedUntil(ranges, 20));
        Assert.Equal(40, ByteSpans.ReceivedUntil(ranges, 35));
        Assert.Equal(10, ByteSpans.NextReceived(ranges, 0));
        Assert.Equal(30, ByteSpans.NextReceived(ranges, 20));
        Assert.Equal(long.MaxValue, ByteSpans.NextReceived(ranges, 30));
    }

    [Fact]
    public void Missing_GapsAndTheTail()
    {
        Assert.Equal([new ByteSpan(0, 100)], ByteSpans.Missing([], 100));
        Assert.Equal([new ByteSpan(0, 10), new ByteSpan(20, 30), new ByteSpan(40, 100)], ByteSpans.Missing([new ByteSpan(10, 20), new ByteSpan(30, 40)], 100));
        Assert.Empty(ByteSpans.Missing([new ByteSpan(0, 100)], 100));
        Assert.Empty(ByteSpans.Missing([], 0));
    }

    [Fact]
    public void ReceivedChunks_CountsOnlyWholeChunksWithAShortLast()
    {
        var session = new UploadSession
        {
            Id = "x",
            Bucket = "b",
            Key = "k",
            Length = 100,
            ChunkSize = 30,
            Received = [new ByteSpan(0, 45), new ByteSpan(60, 100)],
        };

        Assert.Equal([0L, 2L, 3L], session.ReceivedChunks());
        Assert.Equal(85, session.BytesReceived);
        Assert.Equal(45, session.ContiguousLength);
        Assert.False(session.IsFullyReceived);
        Assert.True((session with { Received = [new ByteSpan(0, 100)] }).IsFullyReceived);
        Assert.True((session with { Length = 0, Received = [] }).IsFullyReceived);
        Assert.False((session with { Length = null, Received = [new ByteSpan(0, 100)] }).IsFullyReceived);
        Assert.Empty((session with { ChunkSize = null }).ReceivedChunks());
    }
}
