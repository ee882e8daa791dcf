using Depot.Client.Directories;

namespace Depot.Client.Tests.Directories;

/// <summary>Remote names never become local paths outside the local directory (one small fact each).</summary>
public sealed class LocalPathsTests
{
    private static readonly string Root = Path.GetFullPath(Path.Combine(Path.GetTempPath(), "depot-localpaths-root"));

    [Theory]
    [InlineData("..")]
    [InlineData("../escape.txt")]
    [InlineData("a/../../escape.txt")]
    [InlineData("a/..")]
    [InlineData("./a")]
    [InlineData("a/./b")]
    [InlineData("...")]
    [InlineData("a/.../b")]
    public void Resolve_DotSegments_Refused(string key) => AssertUnsafe(key);

    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("/")]
    public void Resolve_AbsolutePath_Refused(string key) => AssertUnsafe(key);

    [Theory]
    [InlineData("C:")]
    [InlineData("C:/Windows/win.ini")]
    [InlineData("c:evil")]
    public void Resolve_DriveLetter_Refused(string key) => AssertUnsafe(key);

    [Theory]
    [InlineData("a\\b")]
    [InlineData("..\\escape.txt")]
    [InlineData("\\\\server\\share")]
    public void Resolve_Backslash_Refused(string key) => AssertUnsafe(key);

    [Theory]
    [InlineData("a\0b")]
    [InlineData("line\nbreak")]
    [InlineData("carriage\rreturn")]
    [InlineData("del\u007f")]
    [InlineData("c1\u0085")]
    public void Resolve_ControlCharacter_Refused(string key) => AssertUnsafe(key);

    [Theory]
    [InlineData("")]
    [InlineData("a//b")]
    [InlineData("a/")]
    public void Resolve_EmptySegment_Refused(string key) => AssertUnsafe(key);

    [Theory]
    [InlineData("a.txt", "a.txt")]
    [InlineData("dir/sub/file.bin", "dir/sub/file.bin")]
    [InlineData("..a/b..", "..a/b..")]
    [InlineData(".hidden", ".hidden")]
    [InlineData("caf\u00e9 \u2603.txt", "caf\u00e9 \u2603.txt")]
    [InlineData("%2e%2e/x", "%2e%2e/x")]
    public void Resolve_OrdinaryName_StaysBelowRoot(string key, string expected)
    {
        var path = LocalPaths.Resolve(Root, key, out var reason);

        Assert.Null(reason);
        Assert.Equal(Path.Combine(Root, expected.Replace('/', Path.DirectorySeparatorChar)), path);
        Assert.StartsWith(Root + Path.DirectorySeparatorChar, path, StringComparison.Ordinal);
    }

    [Fact]
    public void FindLinkOnTheWay_DirectoryLinkInsideRoot_ReturnsTheLink()
    {
        var root = Directory.CreateTempSubdirectory("depot-links-").FullName;
        try
        {
            var outside = Directory.CreateTempSubdirectory("depot-outside-").FullName;
            Directory.CreateSymbolicLink(Path.Combine(root, "sub"), outside);

            var link = LocalPaths.FindLinkOnTheWay(root, Path.Combine(root, "sub", "file.txt"));

            Assert.Equal(Path.Combine(root, "sub"), link);
            Assert.Null(LocalPaths.FindLinkOnTheWay(root, Path.Combine(root, "other", "file.txt")));
            Directory.Delete(outside);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void AssertUnsafe(string key)
    {
        var path = LocalPaths.Resolve(Root, key, out var reason);

        Assert.Null(path);
        Assert.NotNull(reason);
        Assert.StartsWith(LocalPaths.UnsafeName, reason, StringComparison.Ordinal);
    }
}
