using System.Collections.Concurrent;
using System.Security.Cryptography;
using Depot.Core.Errors;
using Depot.Core.Model;

namespace Depot.Core.Tests.Engine;

public abstract partial class ObjectStoreConformanceTests
{
    [Fact]
    public async Task Put_TwentyConcurrentToSameKey_FinalIsOneWholeVersionWithMatchingRecord()
    {
        var versions = Enumerable.Range(0, 20).Select(i => RandomBytes(64 * 1024 + (i * 1000), 100 + i)).ToList();
        var hashes = versions.Select(v => Convert.ToHexStringLower(SHA256.HashData(v))).ToHashSet();

        var results = await Task.WhenAll(versions.Select(v => Task.Run(() => PutAsync(MainBucket, "hot", v), Ct)));

        Assert.All(results, r => Assert.True(r.IsSuccess, r.Error?.Message));
        var (record, bytes) = await ReadAsync(MainBucket, "hot");
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Assert.Contains(actual, hashes);
        Assert.Equal(actual, record.Sha256Hex);
        Assert.Equal(bytes.Length, record.Size);
        Assert.Equal(actual, (await Engine.GetAsync(MainBucket, Key("hot"), Ct)).Value.Sha256Hex);
        Assert.Equal(actual, (await Fixture.Metadata.GetAsync(MainBucket, "hot", Ct))?.Sha256Hex);
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Fact]
    public async Task Put_TenConcurrentCreateOnly_ExactlyOneWins()
    {
        var versions = Enumerable.Range(0, 10).Select(i => RandomBytes(10_000, 200 + i)).ToList();

        var results = await Task.WhenAll(versions.Select(v => Task.Run(
            () => PutAsync(MainBucket, "once", v, new PutOptions { Precondition = new WritePrecondition.MustNotExist() }), Ct)));

        var winners = results.Where(r => r.IsSuccess).ToList();
        var winner = Assert.Single(winners);
        Assert.All(results.Where(r => !r.IsSuccess), r => Assert.Equal(ErrorCodes.AlreadyExists, r.Error!.Code));
        Assert.Equal(winner.Value.Sha256, SHA256.HashData((await ReadAsync(MainBucket, "once")).Bytes));
        Assert.Equal(0, Fixture.CountStagedBlobs(MainBucket));
    }

    [Fact]
    public async Task Put_TenConcurrentCompareAndSwapOnSameETag_ExactlyOneWins()
    {
        var start = (await PutAsync(MainBucket, "counter", "0"u8.ToArray())).Value;
        var versions = Enumerable.Range(1, 10).Select(i => RandomBytes(5000, 300 + i)).ToList();

        var results = await Task.WhenAll(versions.Select(v => Task.Run(
            () => PutAsync(MainBucket, "counter", v, new PutOptions { Precondition = new WritePrecondition.ETagMatches([start.ETag]) }), Ct)));

        var winner = Assert.Single(results, r => r.IsSuccess);
        Assert.All(results.Where(r => !r.IsSuccess), r => Assert.Equal(ErrorCodes.PreconditionFailed, r.Error!.Code));
        var (record, bytes) = await ReadAsync(MainBucket, "counter");
        Assert.Equal(winner.Value.Sha256, SHA256.HashData(bytes));
        Assert.Equal(winner.Value.Sha256, record.Sha256);
    }

    /// <summary>Invariant 1 (whole versions only) and 5 (the checksum served with bytes is theirs), under overwrites
    /// of equal size, the hardest case for change detection.</summary>
    [Fact]
    public async Task OpenRead_DuringOverwrites_SeesWholeVersionsWithTheirOwnChecksum()
    {
        const int versionCount = 150;
        var versions = Enumerable.Range(0, versionCount).Select(i => RandomBytes(16 * 1024, 400 + i)).ToList();
        var hashes = versions.Select(v => Convert.ToHexStringLower(SHA256.HashData(v))).ToHashSet();
        await PutAsync(MainBucket, "busy", versions[0]);

        // Three writers at once: their staged files are written in the same instants, as concurrent uploads are.
        var writer = Task.WhenAll(Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
        {
            for (var i = 1 + w; i < versionCount; i += 3)
            {
                var put = await PutAsync(MainBucket, "busy", versions[i]);
                Assert.True(put.IsSuccess, put.Error?.Message);
            }
        }, Ct)));

        var torn = new ConcurrentBag<string>();
        var mislabelled = new ConcurrentBag<string>();
        var reads = 0;
        async Task ReaderAsync()
        {
            do
            {
                var opened = await Engine.OpenReadAsync(MainBucket, Key("busy"), Ct);
                if (!opened.TryGetValue(out var value, out var error))
                {
                    Assert.Equal(ErrorCodes.Conflict, error.Code); // "changing too fast, try again" is an honest answer
                    continue;
                }

                await using var content = value.Content;
                var buffer = new MemoryStream();
                await content.CopyToAsync(buffer, Ct);
                var actual = Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
                Interlocked.Increment(ref reads);
                if (!hashes.Contains(actual))
                {
                    torn.Add(actual);
                }
                else if (actual != value.Record.Sha256Hex)
                {
                    mislabelled.Add($"bytes {actual[..12]} served as {value.Record.Sha256Hex[..12]}");
                }
            }
            while (!writer.IsCompleted);
        }

        await Task.WhenAll(writer, Task.Run(ReaderAsync, Ct), Task.Run(ReaderAsync, Ct));

        Assert.True(reads > 0);
        Assert.Empty(torn);
        Assert.True(mislabelled.IsEmpty, $"{mislabelled.Count} of {reads} reads carried another version's checksum, e.g. {mislabelled.FirstOrDefault()}");
    }
}
