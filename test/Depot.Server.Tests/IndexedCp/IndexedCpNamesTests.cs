using Depot.Server.IndexedCp;

namespace Depot.Server.Tests.IndexedCp;

/// <summary>The name rules of the IndexedCP door, one hostile or ordinary name per case.</summary>
public sealed class IndexedCpNamesTests
{
    [Theory]
    [InlineData("data.bin", "", "data.bin")]
    [InlineData("./data.bin", "", "data.bin")]
    [InlineData("././data.bin", "", "data.bin")]
    [InlineData(".\\data.bin", "", "data.bin")]
    [InlineData("data.bin", "inbox", "inbox/data.bin")]
    [InlineData("a..b.txt", "", "a..b.txt")]
    [InlineData("..hidden", "", "..hidden")]
    [InlineData("name with spaces & plus+.txt", "", "name with spaces & plus+.txt")]
    [InlineData(".depot", "inbox", "inbox/.depot")]
    public void Map_AcceptedName_GivesTheKey(string name, string prefix, string key)
    {
        var mapping = IndexedCpNames.Map(name, prefix, keepPaths: false);

        Assert.Null(mapping.Problem);
        Assert.Equal(key, mapping.Key?.Value);
    }

    [Theory]
    [InlineData("./sub/x.txt", "sub/x.txt")]
    [InlineData("sub\\x.txt", "sub/x.txt")]
    [InlineData("sub//x.txt", "sub/x.txt")]
    [InlineData("sub/./x.txt", "sub/x.txt")]
    public void Map_PathWithKeepPaths_KeepsTheDirectories(string name, string key)
    {
        Assert.Equal(key, IndexedCpNames.Map(name, "", keepPaths: true).Key?.Value);
        Assert.NotNull(IndexedCpNames.Map(name, "", keepPaths: false).Problem);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("..")]
    [InlineData("../x")]
    [InlineData("a/../b")]
    [InlineData("a/../../b")]
    [InlineData("..\\..\\x")]
    [InlineData("/etc/passwd")]
    [InlineData("\\x")]
    [InlineData("\\\\server\\share\\x")]
    [InlineData("C:\\Windows\\x")]
    [InlineData("C:x")]
    [InlineData("x\0.txt")]
    [InlineData("x\r\n.txt")]
    [InlineData("x\u0085.txt")]
    [InlineData("x\u202e.txt")]
    [InlineData("...")]
    [InlineData("./")]
    [InlineData("dir/")]
    [InlineData("x%2e%2e.txt")]
    public void Map_HostileName_IsRefusedWithAReason(string? name)
    {
        var mapping = IndexedCpNames.Map(name, "", keepPaths: true);

        Assert.Null(mapping.Key);
        Assert.False(string.IsNullOrEmpty(mapping.Problem));
        Assert.False(mapping.OutsideStore);
    }

    [Theory]
    [InlineData(".depot")]
    [InlineData(".depot/depot.db")]
    [InlineData("./.depot/lock")]
    public void Map_StateFolder_IsOutsideTheStore(string name)
    {
        var mapping = IndexedCpNames.Map(name, "", keepPaths: true);

        Assert.Null(mapping.Key);
        Assert.True(mapping.OutsideStore);
    }

    [Fact]
    public void Map_OverlongSegment_IsRefused()
    {
        Assert.NotNull(IndexedCpNames.Map(new string('x', 256), "", keepPaths: false).Problem);
        Assert.Null(IndexedCpNames.Map(new string('x', 255), "", keepPaths: false).Problem);
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("/", "")]
    [InlineData("inbox/", "inbox")]
    [InlineData("/a/b/", "a/b")]
    public void NormalizePrefix_TrimsSlashes(string prefix, string expected) =>
        Assert.Equal(expected, IndexedCpNames.NormalizePrefix(prefix));

    [Theory]
    [InlineData("../x")]
    [InlineData(".depot")]
    [InlineData("a//b")]
    public void NormalizePrefix_InvalidKey_Throws(string prefix) =>
        Assert.Throws<ArgumentException>(() => IndexedCpNames.NormalizePrefix(prefix));
}
