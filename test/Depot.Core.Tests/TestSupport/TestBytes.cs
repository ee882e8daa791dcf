namespace Depot.Core.Tests.TestSupport;

/// <summary>Deterministic pseudo-random test bodies: the same seed gives the same bytes.</summary>
internal static class TestBytes
{
    public static byte[] Seeded(int length, int seed)
    {
        var bytes = new byte[length];
#pragma warning disable CA5394 // deterministic test data, not security
        new Random(seed).NextBytes(bytes);
#pragma warning restore CA5394
        return bytes;
    }
}
