using System.Text.RegularExpressions;
using Depot.Core.Errors;
using Depot.Core.Ids;
using Depot.Core.Paths;

namespace Depot.Core.Tests.Ids;

public sealed partial class FileIdsTests
{
    // ---- NewKey ----

    [Theory]
    [InlineData("jpg")]
    [InlineData("JPEG")]
    [InlineData("a")]
    [InlineData("abcdef")]
    [InlineData("mp4")]
    public void NewKey_WithExtension_HasFastDfsShape(string extension)
    {
        var key = FileIds.NewKey(extension);

        Assert.Matches(KeyShape(), key.Value);
        Assert.EndsWith("." + extension, key.Value, StringComparison.Ordinal);
        Assert.Equal(4, key.Segments.Count);
        Assert.Equal(FileIds.StorePath, key.Segments[0]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void NewKey_WithoutExtension_HasNoDot(string? extension)
    {
        var key = FileIds.NewKey(extension);

        Assert.Matches(KeyShape(), key.Value);
        Assert.DoesNotContain('.', key.Name);
        Assert.Equal(22, key.Name.Length);
    }

    [Fact]
    public void NewKey_Opaque_Is128BitsInBase64Url()
    {
        for (var i = 0; i < 100; i++)
        {
            var opaque = FileIds.NewKey(null).Name;

            var bytes = Convert.FromBase64String(opaque.Replace('-', '+').Replace('_', '/') + "==");

            Assert.Equal(16, bytes.Length);
            // 22 characters carry 132 bits: the last one holds 2 bits of data and 4 zero bits.
            Assert.Contains(opaque[^1], "AQgw");
        }
    }

    [Fact]
    public void NewKey_TenThousand_AllDistinct()
    {
        var keys = Enumerable.Range(0, 10_000).Select(_ => FileIds.NewKey("bin").Value).ToList();

        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
        // The opaque part alone is unique too: the directories do not make ids unique.
        Assert.Equal(keys.Count, keys.Select(k => k.Split('/')[3]).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void NewKey_DirectoryLevels_SpreadEvenly()
    {
        const int Keys = 100_000;
        const double Mean = Keys / 256.0; // about 391 per directory
        var first = new int[256];
        var second = new int[256];
        for (var i = 0; i < Keys; i++)
        {
            var segments = FileIds.NewKey(null).Segments;
            first[Convert.ToInt32(segments[1], 16)]++;
            second[Convert.ToInt32(segments[2], 16)]++;
        }

        foreach (var counts in new[] { first, second })
        {
            // Each count is binomial (sd about 20): half and twice the mean are about ten standard deviations away.
            Assert.All(counts, c => Assert.InRange(c, Mean / 2, Mean * 2));
            // Chi-square with 255 degrees of freedom has mean 255 and sd about 22.6; 480 is ten sd out (p < 1e-15),
            // while a generator that used half the directories, or favoured some, scores in the thousands.
            var chiSquare = counts.Sum(c => (c - Mean) * (c - Mean) / Mean);
            Assert.InRange(chiSquare, 0, 480);
        }
    }

    // ---- extensions ----

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("jpg")]
    [InlineData("JPG")]
    [InlineData("mp4")]
    [InlineData("abcdef")]
    [InlineData("123456")]
    public void ValidateExtension_LettersAndDigitsUpTo6_Succeeds(string? extension) =>
        Assert.True(FileIds.ValidateExtension(extension).IsSuccess);

    [Theory]
    [InlineData("abcdefg")]
    [InlineData(".jpg")]
    [InlineData("tar.gz")]
    [InlineData("j/g")]
    [InlineData("j\\g")]
    [InlineData("..")]
    [InlineData("j g")]
    [InlineData("j-g")]
    [InlineData("j_g")]
    [InlineData("jpé")]
    [InlineData("\u0661\u0662")] // Arabic-Indic digits: digits, but not ASCII
    [InlineData("\uFF4A\uFF50\uFF47")] // full-width "jpg"
    [InlineData("%2F")]
    [InlineData(" ")]
    public void ValidateExtension_Other_InvalidRequest(string extension) =>
        Assert.Equal(ErrorCodes.InvalidRequest, FileIds.ValidateExtension(extension).Error?.Code);

    [Fact]
    public void ValidateExtension_ControlCharacter_InvalidRequest()
    {
        Assert.Equal(ErrorCodes.InvalidRequest, FileIds.ValidateExtension("jp\0").Error?.Code);
        Assert.Equal(ErrorCodes.InvalidRequest, FileIds.ValidateExtension("jp\n").Error?.Code);
    }

    // ---- slave keys ----

    [Theory]
    [InlineData("M00/00/0A/photo.jpg", "_150x150", null, "M00/00/0A/photo_150x150.jpg")]
    [InlineData("M00/00/0A/photo.jpg", "_150x150", "png", "M00/00/0A/photo_150x150.png")]
    [InlineData("M00/00/0A/photo", "_s", null, "M00/00/0A/photo_s")]
    [InlineData("M00/00/0A/photo", "_s", "webp", "M00/00/0A/photo_s.webp")]
    [InlineData("photo.jpg", "-small", null, "photo-small.jpg")]
    [InlineData("a.b/c.d/archive.tar.gz", "_x", null, "a.b/c.d/archive.tar_x.gz")]
    [InlineData("v1.2/readme", "_s", null, "v1.2/readme_s")]
    [InlineData("dir/.profile", "_s", null, "dir/.profile_s")]
    [InlineData("photo.jpg", "_v.2", null, "photo_v.2.jpg")]
    [InlineData("photo.jpg", "abcdefghijklmnopqrstuvwxyz012345", null, "photoabcdefghijklmnopqrstuvwxyz012345.jpg")]
    public void SlaveKey_Master_DerivesTheDocumentedKey(string master, string prefix, string? extension, string expected)
    {
        var slave = FileIds.SlaveKey(Key(master), prefix, extension);

        Assert.True(slave.IsSuccess, slave.Error?.Message);
        Assert.Equal(expected, slave.Value.Value);
    }

    [Fact]
    public void SlaveKey_AssignedMaster_StaysInItsDirectory()
    {
        var master = FileIds.NewKey("jpg");

        var slave = FileIds.SlaveKey(master, "_150x150", null).Value;

        Assert.Equal(master.Parent, slave.Parent);
        Assert.Equal(master.Name[..^4] + "_150x150.jpg", slave.Name);
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("a..b")]
    [InlineData("_s..")]
    [InlineData("\\")]
    [InlineData(" ")]
    [InlineData("_s x")]
    [InlineData("é")]
    [InlineData("%2F")]
    [InlineData("_s:")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456")] // 33 characters
    public void SlaveKey_BadPrefix_InvalidPath(string prefix) =>
        Assert.Equal(ErrorCodes.InvalidPath, FileIds.SlaveKey(Key("img/photo.jpg"), prefix, null).Error?.Code);

    [Fact]
    public void SlaveKey_ControlCharacterInPrefix_InvalidPath()
    {
        Assert.Equal(ErrorCodes.InvalidPath, FileIds.SlaveKey(Key("img/photo.jpg"), "_s\0", null).Error?.Code);
        Assert.Equal(ErrorCodes.InvalidPath, FileIds.SlaveKey(Key("img/photo.jpg"), "_s\r\n", null).Error?.Code);
    }

    [Theory]
    [InlineData("toolong")]
    [InlineData(".png")]
    [InlineData("p/g")]
    [InlineData("pé")]
    public void SlaveKey_BadExtension_InvalidRequest(string extension) =>
        Assert.Equal(ErrorCodes.InvalidRequest, FileIds.SlaveKey(Key("img/photo.jpg"), "_s", extension).Error?.Code);

    [Fact]
    public void SlaveKey_NameWouldPassTheSegmentLimit_InvalidPath()
    {
        var master = Key("img/" + new string('n', ObjectKey.MaxSegmentBytes - 4) + ".jpg"); // exactly 255 bytes

        Assert.Equal(ErrorCodes.InvalidPath, FileIds.SlaveKey(master, "_s", null).Error?.Code);
    }

    private static ObjectKey Key(string key) => ObjectKey.Parse(key).Value;

    [GeneratedRegex(@"^M00/[0-9A-F]{2}/[0-9A-F]{2}/[A-Za-z0-9_-]{22}(\.[A-Za-z0-9]{1,6})?$")]
    private static partial Regex KeyShape();
}
