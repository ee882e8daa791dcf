using Depot.Client.Directories;

namespace Depot.Client.Tests.Directories;

public sealed class GlobTests
{
    [Theory]
    [InlineData("*.txt", "a.txt", true)]
    [InlineData("*.txt", "deep/er/a.txt", true)]
    [InlineData("*.txt", "a.txt.bak", false)]
    [InlineData("*.txt", "dir.txt/file", false)]
    [InlineData("a?c", "abc", true)]
    [InlineData("a?c", "ac", false)]
    [InlineData("[abc].md", "b.md", true)]
    [InlineData("[abc].md", "d.md", false)]
    [InlineData("[a-c]x", "bx", true)]
    [InlineData("[!a-c]x", "bx", false)]
    [InlineData("[^a-c]x", "dx", true)]
    [InlineData("[]]", "]", true)]
    [InlineData("[*]", "*", true)]
    [InlineData("[*]", "a", false)]
    [InlineData("a[b", "a[b", true)]
    public void IsMatch_NameWithoutSlash_MatchesTheNameAtAnyDepth(string pattern, string path, bool expected) =>
        Assert.Equal(expected, Glob.Parse(pattern).IsMatch(path, isDirectory: false));

    [Theory]
    [InlineData("docs/*.md", "docs/a.md", true)]
    [InlineData("docs/*.md", "x/docs/a.md", false)]
    [InlineData("docs/*.md", "docs/sub/a.md", false)]
    [InlineData("docs/**/*.md", "docs/a.md", true)]
    [InlineData("docs/**/*.md", "docs/sub/deep/a.md", true)]
    [InlineData("**/bin", "bin", true)]
    [InlineData("**/bin", "a/b/bin", true)]
    [InlineData("build/**", "build/x", true)]
    [InlineData("build/**", "build/x/y.o", true)]
    [InlineData("build/**", "build", false)]
    [InlineData("/top.txt", "top.txt", true)]
    [InlineData("/top.txt", "sub/top.txt", false)]
    [InlineData("a/**b", "a/x/yb", true)]
    [InlineData("**", "any/thing/at/all", true)]
    public void IsMatch_PatternWithSlash_MatchesFromTheTop(string pattern, string path, bool expected) =>
        Assert.Equal(expected, Glob.Parse(pattern).IsMatch(path, isDirectory: false));

    [Fact]
    public void IsMatch_StarOrQuestionMark_NeverCrossesASlash()
    {
        Assert.False(Glob.Parse("a/*").IsMatch("a/b/c", false));
        Assert.False(Glob.Parse("a?b").IsMatch("a/b", false));
        Assert.False(Glob.Parse("a[/]b").IsMatch("a/b", false));
    }

    [Fact]
    public void IsMatch_TrailingSlash_MatchesDirectoriesOnly()
    {
        var glob = Glob.Parse("node_modules/");

        Assert.True(glob.IsMatch("node_modules", isDirectory: true));
        Assert.True(glob.IsMatch("web/node_modules", isDirectory: true));
        Assert.False(glob.IsMatch("node_modules", isDirectory: false));
    }

    [Fact]
    public void IsMatch_CaseDiffers_DoesNotMatch() =>
        Assert.False(Glob.Parse("*.TXT").IsMatch("a.txt", false));

    [Fact]
    public void IsMatch_ManyStarsAgainstLongName_FinishesQuickly()
    {
        var glob = Glob.Parse("*a*a*a*a*a*a*a*a*b");
        Assert.False(glob.IsMatch(new string('a', 200), false));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("//")]
    public void Parse_EmptyPattern_Throws(string pattern) =>
        Assert.Throws<ArgumentException>(() => Glob.Parse(pattern));

    [Fact]
    public void Selects_IncludeAndExclude_ExcludeWins()
    {
        var filter = new PathFilter(["*.txt"], ["secret*"]);

        Assert.True(filter.Selects("a/notes.txt", false));
        Assert.False(filter.Selects("a/secret.txt", false));
        Assert.False(filter.Selects("a/image.png", false));
    }

    [Fact]
    public void Selects_NoIncludes_SelectsEverythingNotExcluded()
    {
        var filter = new PathFilter([], ["*.tmp"]);

        Assert.True(filter.Selects("x/y", true));
        Assert.True(filter.Selects("x/y.bin", false));
        Assert.False(filter.Selects("x/y.tmp", false));
    }
}
