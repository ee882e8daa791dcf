using System.Text;
using Depot.Core.Errors;
using Depot.Core.Paths;

namespace Depot.Core.Tests.Paths;

public sealed class ObjectKeyTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("photos/2024/cat.jpg")]
    [InlineData("a.b")]
    [InlineData("...x")]
    [InlineData("x...")]
    [InlineData("a/..b/c")]
    [InlineData("..hidden")]
    [InlineData(".hidden")]
    [InlineData("my file with spaces.txt")]
    [InlineData(" leading and trailing ")]
    [InlineData("фото/猫.jpg")]
    [InlineData("naïve/café")]
    [InlineData("100%")]
    [InlineData("50%off/%zz")]
    [InlineData("%2")]
    [InlineData("a/.depot")]
    [InlineData(".depots")]
    [InlineData("depot/.depot/x")]
    [InlineData("ab:c")]
    [InlineData("a/C:x")]
    [InlineData("dir/slave_150x150.jpg")]
    public void Parse_ValidKey_KeepsValueByteExact(string key)
    {
        var parsed = ObjectKey.Parse(key);

        Assert.True(parsed.IsSuccess, parsed.Error?.Message);
        Assert.Equal(key, parsed.Value.Value);
        Assert.Equal(key.Split('/'), parsed.Value.Segments);
        Assert.False(parsed.Value.IsRoot);
    }

    [Fact]
    public void Parse_EmojiSurrogatePair_IsValid()
    {
        var parsed = ObjectKey.Parse("faces/\U0001F600.png");

        Assert.True(parsed.IsSuccess, parsed.Error?.Message);
        Assert.Equal("\U0001F600.png", parsed.Value.Name);
    }

    [Fact]
    public void Parse_DecomposedAndComposedForms_StayDistinct()
    {
        var composed = ObjectKey.Parse("caf\u00E9").Value;
        var decomposed = ObjectKey.Parse("cafe\u0301").Value;

        Assert.NotEqual(composed, decomposed);
        Assert.Equal("cafe\u0301", decomposed.Value);
    }

    [Fact]
    public void Parse_UpperCaseKey_IsNotFolded()
    {
        var key = ObjectKey.Parse("Photos/CAT.JPG").Value;

        Assert.Equal("Photos/CAT.JPG", key.Value);
        Assert.NotEqual(ObjectKey.Parse("photos/cat.jpg").Value, key);
    }

    [Fact]
    public void Parse_SegmentOfExactly255Bytes_IsValid()
    {
        var segment = new string('a', ObjectKey.MaxSegmentBytes);

        Assert.True(ObjectKey.Parse(segment).IsSuccess);
    }

    [Fact]
    public void Parse_SegmentOf255BytesOfTwoByteChars_IsValidAt254AndInvalidAt256()
    {
        Assert.True(ObjectKey.Parse(new string('é', 127)).IsSuccess); // 254 bytes
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse(new string('é', 128)).Error?.Code); // 256 bytes
    }

    [Fact]
    public void Parse_KeyOfExactly3072Bytes_IsValid()
    {
        var key = BuildKey(ObjectKey.AbsoluteMaxBytes);

        Assert.Equal(ObjectKey.AbsoluteMaxBytes, Encoding.UTF8.GetByteCount(key));
        Assert.True(ObjectKey.Parse(key).IsSuccess);
    }

    [Fact]
    public void Parse_KeyOf3073Bytes_IsInvalidPath()
    {
        var key = BuildKey(ObjectKey.AbsoluteMaxBytes + 1);

        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse(key).Error?.Code);
    }

    [Fact]
    public void Parse_KeyUnder3072CharsButOver3072Utf8Bytes_IsInvalidPath()
    {
        // 1100 chars of 3 bytes each: 3300 bytes in 1100 UTF-16 units, split into legal segments.
        var segment = new string('猫', 80);
        var key = string.Join('/', Enumerable.Repeat(segment, 14));

        Assert.True(key.Length < ObjectKey.AbsoluteMaxBytes);
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse(key).Error?.Code);
    }

    [Fact]
    public void Parse_EmptyWithAllowRoot_IsRoot()
    {
        var parsed = ObjectKey.Parse("", allowRoot: true);

        Assert.True(parsed.Value.IsRoot);
        Assert.Empty(parsed.Value.Segments);
        Assert.Same(ObjectKey.Root, parsed.Value);
    }

    [Fact]
    public void Parse_EmptyWithoutAllowRoot_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("").Error?.Code);

    [Fact]
    public void Parse_Null_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse(null).Error?.Code);

    [Fact]
    public void Parse_SlashWithAllowRoot_IsStillInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("/", allowRoot: true).Error?.Code);

    [Fact]
    public void Parse_DotDotSegment_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a/../b").Error?.Code);

    [Fact]
    public void Parse_DotSegment_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a/./b").Error?.Code);

    [Fact]
    public void Parse_ThreeDotSegment_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a/.../b").Error?.Code);

    [Fact]
    public void Parse_EmptySegment_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a//b").Error?.Code);

    [Fact]
    public void Parse_TrailingSlash_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a/b/").Error?.Code);

    [Fact]
    public void Parse_LeadingSlash_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("/a").Error?.Code);

    [Fact]
    public void Parse_Backslash_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a\\b").Error?.Code);

    [Fact]
    public void Parse_DriveLetter_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("c:x").Error?.Code);

    [Fact]
    public void Parse_Nul_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a\0b").Error?.Code);

    [Fact]
    public void Parse_LineFeed_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a\nb").Error?.Code);

    [Fact]
    public void Parse_Del_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a\u007Fb").Error?.Code);

    [Fact]
    public void Parse_C1Control_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a\u0085b").Error?.Code);

    [Fact]
    public void Parse_RightToLeftOverride_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("invoice\u202Efdp.exe").Error?.Code);

    [Fact]
    public void Parse_ByteOrderMark_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("\uFEFFa").Error?.Code);

    [Fact]
    public void Parse_UnpairedHighSurrogate_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a\uD83Db").Error?.Code);

    [Fact]
    public void Parse_UnpairedLowSurrogate_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a\uDE00b").Error?.Code);

    [Fact]
    public void Parse_ReplacementCharacter_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("a\uFFFDb").Error?.Code);

    [Fact]
    public void Parse_PercentEscapeLeftAfterDecoding_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse("%2e%2e").Error?.Code);

    [Fact]
    public void Parse_ReservedStateFolderAtRoot_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse(".depot").Error?.Code);

    [Fact]
    public void Parse_PathInsideReservedStateFolder_IsInvalidPath() =>
        Assert.Equal(ErrorCodes.InvalidPath, ObjectKey.Parse(".depot/depot.db").Error?.Code);

    [Fact]
    public void Parse_Rejection_CarriesAMessage()
    {
        var error = ObjectKey.Parse("a/../b").Error;

        Assert.NotNull(error);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void Parent_OfNestedKey_IsItsDirectory()
    {
        var key = ObjectKey.Parse("a/b/c.txt").Value;

        Assert.Equal("a/b", key.Parent!.Value);
        Assert.Equal("a", key.Parent.Parent!.Value);
        Assert.True(key.Parent.Parent.Parent!.IsRoot);
        Assert.Null(ObjectKey.Root.Parent);
    }

    [Fact]
    public void Child_ValidSegment_AppendsIt()
    {
        Assert.Equal("a/b", ObjectKey.Parse("a").Value.Child("b").Value);
        Assert.Equal("b", ObjectKey.Root.Child("b").Value);
    }

    [Theory]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("../etc")]
    [InlineData("x/../..")]
    [InlineData("")]
    [InlineData("a\\b")]
    public void Child_InvalidSegment_Throws(string segment) =>
        Assert.Throws<ArgumentException>(() => ObjectKey.Parse("a").Value.Child(segment));

    [Fact]
    public void Child_ReservedFolderUnderRoot_Throws() =>
        Assert.Throws<ArgumentException>(() => ObjectKey.Root.Child(".depot"));

    [Fact]
    public void Child_ReservedFolderNameBelowRoot_IsAllowed() =>
        Assert.Equal("a/.depot", ObjectKey.Parse("a").Value.Child(".depot").Value);

    [Theory]
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b/c", "a/b", true)]
    [InlineData("a/bc", "a/b", false)]
    [InlineData("a/b.txt", "a/b", false)]
    [InlineData("a", "a/b", false)]
    [InlineData("x", "", true)]
    public void IsSameOrUnder_Boundaries_AreSegmentWise(string key, string ancestor, bool expected) =>
        Assert.Equal(expected, ObjectKey.Parse(key).Value.IsSameOrUnder(ObjectKey.Parse(ancestor, allowRoot: true).Value));

    [Fact]
    public void CompareTo_DirectoryChildren_SortBeforeSiblingsWithPunctuation()
    {
        // Plain ordinal string order would give a, a-b, a/b ('-' < '/'); listing order is segment-wise.
        var keys = new[] { "a-b", "a/b", "a", "a.txt", "a/b/c", "b" }.Select(k => ObjectKey.Parse(k).Value).ToList();

        keys.Sort();

        Assert.Equal(["a", "a/b", "a/b/c", "a-b", "a.txt", "b"], keys.Select(k => k.Value));
    }

    [Fact]
    public void Equals_SameValue_IsEqualWithSameHash()
    {
        var a = ObjectKey.Parse("x/y").Value;
        var b = ObjectKey.Parse("x/y").Value;

        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Fact]
    public void ByteLength_MultiByteKey_CountsUtf8Bytes() =>
        Assert.Equal(2 + 1 + 4, ObjectKey.Parse("é/\U0001F600").Value.ByteLength);

    /// <summary>A key of exactly <paramref name="bytes"/> ASCII bytes made of legal 200-byte segments.</summary>
    internal static string BuildKey(int bytes)
    {
        var sb = new StringBuilder();
        while (sb.Length < bytes)
        {
            if (sb.Length > 0)
            {
                sb.Append('/');
            }

            sb.Append('k', Math.Min(200, bytes - sb.Length));
        }

        // A trailing '/' would be an empty segment: pad the last segment instead.
        if (sb[^1] == '/')
        {
            sb[^1] = 'k';
        }

        return sb.ToString();
    }
}
