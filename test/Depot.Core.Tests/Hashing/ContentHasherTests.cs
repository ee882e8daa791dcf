using System.Text;
using Depot.Core.Hashing;

namespace Depot.Core.Tests.Hashing;

public sealed class ContentHasherTests
{
    private const string Sha256OfEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private const string Sha256OfAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    private const string Sha256OfMillionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    private const string Md5OfEmpty = "d41d8cd98f00b204e9800998ecf8427e";
    private const string Md5OfAbc = "900150983cd24fb0d6963f7d28e17f72";

    [Theory]
    [InlineData("", Sha256OfEmpty)]
    [InlineData("abc", Sha256OfAbc)]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    public void Sha256_KnownVector_MatchesFips180(string input, string expectedHex)
    {
        using var hasher = new ContentHasher(withMd5: false);
        hasher.Append(Encoding.ASCII.GetBytes(input));

        Assert.Equal(expectedHex, Convert.ToHexStringLower(hasher.FinishSha256()));
    }

    [Theory]
    [InlineData("", Md5OfEmpty)]
    [InlineData("abc", Md5OfAbc)]
    [InlineData("message digest", "f96b697d7cb7938d525a2f31aaf161d0")]
    public void Md5_KnownVector_MatchesRfc1321(string input, string expectedHex)
    {
        using var hasher = new ContentHasher(withMd5: true);
        hasher.Append(Encoding.ASCII.GetBytes(input));

        Assert.Equal(expectedHex, Convert.ToHexStringLower(hasher.FinishMd5()!));
    }

    [Fact]
    public void Finish_WithMd5_GivesBothDigestsOfTheSameBytes()
    {
        using var hasher = new ContentHasher(withMd5: true);
        hasher.Append("abc"u8);

        Assert.Equal(Sha256OfAbc, Convert.ToHexStringLower(hasher.FinishSha256()));
        Assert.Equal(Md5OfAbc, Convert.ToHexStringLower(hasher.FinishMd5()!));
    }

    [Fact]
    public void FinishMd5_WithoutMd5_IsNull()
    {
        using var hasher = new ContentHasher(withMd5: false);
        hasher.Append("abc"u8);

        Assert.Null(hasher.FinishMd5());
    }

    [Fact]
    public void Append_InPieces_EqualsOneShot()
    {
        using var hasher = new ContentHasher(withMd5: true);
        hasher.Append("a"u8);
        hasher.Append(ReadOnlySpan<byte>.Empty);
        hasher.Append("bc"u8);

        Assert.Equal(Sha256OfAbc, Convert.ToHexStringLower(hasher.FinishSha256()));
        Assert.Equal(Md5OfAbc, Convert.ToHexStringLower(hasher.FinishMd5()!));
    }

    [Fact]
    public void Append_MillionAsInOddChunks_MatchesFips180()
    {
        var data = Encoding.ASCII.GetBytes(new string('a', 1_000_000));
        using var hasher = new ContentHasher(withMd5: false);
        for (var offset = 0; offset < data.Length; offset += 4099)
        {
            hasher.Append(data.AsSpan(offset, Math.Min(4099, data.Length - offset)));
        }

        Assert.Equal(Sha256OfMillionA, Convert.ToHexStringLower(hasher.FinishSha256()));
    }

    [Fact]
    public async Task Sha256Of_EmptyStream_IsEmptyVector() =>
        Assert.Equal(Sha256OfEmpty, Convert.ToHexStringLower(await ContentHasher.Sha256OfAsync(new MemoryStream(), TestContext.Current.CancellationToken)));

    [Fact]
    public async Task Sha256Of_Stream_IsAbcVector() =>
        Assert.Equal(Sha256OfAbc, Convert.ToHexStringLower(await ContentHasher.Sha256OfAsync(new MemoryStream("abc"u8.ToArray()), TestContext.Current.CancellationToken)));

    [Fact]
    public async Task Sha256Of_StreamLargerThanItsBuffer_MatchesOneShot()
    {
        var data = Encoding.ASCII.GetBytes(new string('a', 1_000_000));
        var larger = new byte[(3 << 20) + 5];
        for (var i = 0; i < larger.Length; i++)
        {
            larger[i] = (byte)(i * 31);
        }

        Assert.Equal(Sha256OfMillionA, Convert.ToHexStringLower(await ContentHasher.Sha256OfAsync(new MemoryStream(data), TestContext.Current.CancellationToken)));
        Assert.Equal(
            System.Security.Cryptography.SHA256.HashData(larger),
            await ContentHasher.Sha256OfAsync(new MemoryStream(larger), TestContext.Current.CancellationToken));
    }
}
