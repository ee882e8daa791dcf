using System.Text;
using Depot.Core.Hashing;

namespace Depot.Core.Tests.Hashing;

public sealed class ContentHasherTests
{
    [Theory]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    public void Sha256_KnownVector_MatchesFips180(string input, string expectedHex)
    {
        using var hasher = new ContentHasher(withMd5: false);
        hasher.Append(Encoding.ASCII.GetBytes(input));

        Assert.Equal(expectedHex, Convert.ToHexStringLower(hasher.FinishSha256()));
    }
}
