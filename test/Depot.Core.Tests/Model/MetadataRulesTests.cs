using Depot.Core.Errors;
using Depot.Core.Model;

namespace Depot.Core.Tests.Model;

public sealed class MetadataRulesTests
{
    private static readonly BucketOptions Defaults = new();

    [Theory]
    [MemberData(nameof(InvalidMetadata.Names), MemberType = typeof(InvalidMetadata))]
    public void Validate_InvalidEntry_InvalidRequest(string caseName)
    {
        var (name, value) = InvalidMetadata.All[caseName];

        var outcome = MetadataRules.Validate(new Dictionary<string, string> { [name] = value }, Defaults);

        Assert.Equal(ErrorCodes.InvalidRequest, outcome.Error?.Code);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("author")]
    [InlineData("x-amz.like_name-9")]
    [InlineData("0")]
    [InlineData("...")]
    public void Validate_ValidName_Succeeds(string name) =>
        Assert.True(MetadataRules.Validate(new Dictionary<string, string> { [name] = "v" }, Defaults).IsSuccess);

    [Theory]
    [InlineData("")]
    [InlineData(" leading and trailing spaces ")]
    [InlineData("ünïcödé 😀 and \u4e2d\u6587")]
    [InlineData("quotes \" and ' and \\")]
    [InlineData("zero\u200Bwidth")] // a format character, not a control character
    public void Validate_ValidValue_Succeeds(string value) =>
        Assert.True(MetadataRules.Validate(new Dictionary<string, string> { ["name"] = value }, Defaults).IsSuccess);

    [Fact]
    public void Validate_Empty_Succeeds() =>
        Assert.True(MetadataRules.Validate(new Dictionary<string, string>(), Defaults).IsSuccess);

    [Fact]
    public void Validate_DefaultLimits_Are64ByteNames256ByteValues64Entries()
    {
        Assert.Equal(64, Defaults.MaxMetadataNameBytes);
        Assert.Equal(256, Defaults.MaxMetadataValueBytes);
        Assert.Equal(64, Defaults.MaxMetadataEntries);
    }

    [Fact]
    public void Validate_NameAtLimit_SucceedsAndOneMoreFails()
    {
        Assert.True(MetadataRules.Validate(new Dictionary<string, string> { [new string('n', 64)] = "v" }, Defaults).IsSuccess);
        Assert.False(MetadataRules.Validate(new Dictionary<string, string> { [new string('n', 65)] = "v" }, Defaults).IsSuccess);
    }

    [Theory]
    [InlineData("v", 256, true)]
    [InlineData("v", 257, false)]
    [InlineData("é", 128, true)] // 256 UTF-8 bytes
    [InlineData("é", 129, false)] // 129 characters, 258 bytes: counted in bytes, not characters
    [InlineData("€", 85, true)] // 255 bytes
    [InlineData("€", 86, false)] // 258 bytes
    [InlineData("😀", 64, true)] // 64 surrogate pairs: 128 UTF-16 units, 256 bytes
    [InlineData("😀", 65, false)]
    public void Validate_ValueLength_CountedInUtf8Bytes(string unit, int repeat, bool valid)
    {
        var value = string.Concat(Enumerable.Repeat(unit, repeat));

        Assert.Equal(valid, MetadataRules.Validate(new Dictionary<string, string> { ["name"] = value }, Defaults).IsSuccess);
    }

    [Fact]
    public void Validate_EntriesAtLimit_SucceedsAndOneMoreFails()
    {
        var full = Enumerable.Range(0, 64).ToDictionary(i => $"k{i}", _ => "v");

        Assert.True(MetadataRules.Validate(full, Defaults).IsSuccess);
        full["one-more"] = "v";
        Assert.Equal(ErrorCodes.InvalidRequest, MetadataRules.Validate(full, Defaults).Error?.Code);
    }

    [Fact]
    public void Validate_CustomLimits_AreUsed()
    {
        var tight = new BucketOptions { MaxMetadataNameBytes = 3, MaxMetadataValueBytes = 4, MaxMetadataEntries = 1 };

        Assert.True(MetadataRules.Validate(new Dictionary<string, string> { ["abc"] = "éé" }, tight).IsSuccess);
        Assert.False(MetadataRules.Validate(new Dictionary<string, string> { ["abcd"] = "v" }, tight).IsSuccess);
        Assert.False(MetadataRules.Validate(new Dictionary<string, string> { ["abc"] = "ééa" }, tight).IsSuccess);
        Assert.False(MetadataRules.Validate(new Dictionary<string, string> { ["a"] = "v", ["b"] = "v" }, tight).IsSuccess);
    }

    [Fact]
    public void Validate_NullValue_InvalidRequest() =>
        Assert.Equal(ErrorCodes.InvalidRequest, MetadataRules.Validate(new Dictionary<string, string> { ["name"] = null! }, Defaults).Error?.Code);

    [Fact]
    public void Validate_ErrorMessage_CutsAVeryLongNameShort()
    {
        var name = new string('X', 10_000);

        var message = MetadataRules.Validate(new Dictionary<string, string> { [name] = "v" }, Defaults).Error!.Message;

        Assert.True(message.Length < 500, message);
    }

    [Theory]
    [InlineData("abc", 3, true)]
    [InlineData("abcd", 3, false)]
    [InlineData("", 3, false)]
    [InlineData("ABC", 3, false)]
    public void IsValidName_UsesTheGivenLimit(string name, int maxBytes, bool valid) =>
        Assert.Equal(valid, MetadataRules.IsValidName(name, maxBytes));
}

/// <summary>Metadata entries every bucket refuses with default limits, by an ASCII case name, so test runners never have to
/// transport control characters or unpaired surrogates (some serialisers silently replace them, testing something else).</summary>
public static class InvalidMetadata
{
    public static IReadOnlyDictionary<string, (string Name, string Value)> All { get; } = new Dictionary<string, (string, string)>(StringComparer.Ordinal)
    {
        ["name-65-bytes"] = (new string('n', 65), "v"),
        ["name-upper-case"] = ("Author", "v"),
        ["name-space"] = ("a b", "v"),
        ["name-slash"] = ("a/b", "v"),
        ["name-colon"] = ("a:b", "v"),
        ["name-non-ascii"] = ("ä", "v"),
        ["name-kelvin-sign"] = ("\u212Aelvin", "v"), // ToLowerInvariant makes it an ASCII 'k': the rule is on the name as given
        ["name-empty"] = ("", "v"),
        ["name-nul"] = ("a\0", "v"),
        ["name-newline"] = ("a\r\nb", "v"),
        ["value-257-bytes"] = ("name", new string('v', 257)),
        ["value-129-two-byte-chars"] = ("name", new string('é', 129)),
        ["value-lf"] = ("name", "line\nbreak"),
        ["value-cr"] = ("name", "carriage\rreturn"),
        ["value-nul"] = ("name", "nul\0"),
        ["value-tab"] = ("name", "tab\t"),
        ["value-del"] = ("name", "del\u007f"),
        ["value-c1-next-line"] = ("name", "next\u0085line"),
        ["value-lone-high-surrogate"] = ("name", "lone \uD800 high"),
        ["value-lone-low-surrogate"] = ("name", "lone \uDC00 low"),
        ["value-reversed-pair"] = ("name", "\uDC00\uD800"),
        ["value-high-surrogate-at-end"] = ("name", "end \uD83D"),
    };

    public static TheoryData<string> Names => [.. All.Keys];
}
