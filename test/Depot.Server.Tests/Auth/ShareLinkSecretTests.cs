using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Depot.Server.Auth;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Tests.Auth;

/// <summary>The share-link secret on disk and the frozen signing format (<see cref="ShareLinks"/>).</summary>
public sealed class ShareLinkSecretTests : IDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), "depot-share-" + Guid.NewGuid().ToString("N"));

    private string SecretPath => Path.Combine(_state, ShareLinks.SecretFileName);

    [Fact]
    public void ShareLinkSecret_FirstStart_CreatesPrivate32ByteFileAtomically()
    {
        _ = new ShareLinks(_state, TimeProvider.System);

        Assert.Equal(ShareLinks.SecretBytes, new FileInfo(SecretPath).Length);
        Assert.Equal([ShareLinks.SecretFileName], Directory.GetFiles(_state).Select(Path.GetFileName));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SecretPath));
        }
    }

    [Fact]
    public void ShareLinkSecret_Reopened_KeepsEarlierLinksValid()
    {
        var path = new ShareLinks(_state, TimeProvider.System).CreatePath("default", "docs/a.txt", DateTimeOffset.UtcNow.AddHours(1));

        var reopened = new ShareLinks(_state, TimeProvider.System);

        Assert.Null(reopened.Authorize(Request(path), "default", "docs/a.txt", download: true));
    }

    [Fact]
    public void ShareLinkSecret_Rotated_InvalidatesEarlierLinksAcrossRestart()
    {
        var links = new ShareLinks(_state, TimeProvider.System);
        var before = File.ReadAllBytes(SecretPath);
        var old = links.CreatePath("default", "docs/a.txt", DateTimeOffset.UtcNow.AddHours(1));

        links.Rotate();
        var fresh = links.CreatePath("default", "docs/a.txt", DateTimeOffset.UtcNow.AddHours(1));
        var reopened = new ShareLinks(_state, TimeProvider.System);

        Assert.NotEqual(before, File.ReadAllBytes(SecretPath));
        Assert.Equal([ShareLinks.SecretFileName], Directory.GetFiles(_state).Select(Path.GetFileName));
        Assert.Equal("link_invalid", links.Authorize(Request(old), "default", "docs/a.txt", download: true)?.Code);
        Assert.Equal("link_invalid", reopened.Authorize(Request(old), "default", "docs/a.txt", download: true)?.Code);
        Assert.Null(reopened.Authorize(Request(fresh), "default", "docs/a.txt", download: true));
    }

    [Fact]
    public void ShareLinkSecret_DamagedFile_RefusesToStart()
    {
        Directory.CreateDirectory(_state);
        File.WriteAllBytes(SecretPath, [1, 2, 3]);

        var error = Assert.Throws<InvalidOperationException>(() => new ShareLinks(_state, TimeProvider.System));

        Assert.Contains(ShareLinks.SecretFileName, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShareLinkSignature_IsHmacSha256OverTheDocumentedCanonicalString()
    {
        var links = new ShareLinks(_state, TimeProvider.System);
        var expires = DateTimeOffset.FromUnixTimeSeconds(1_900_000_000);

        var path = links.CreatePath("default", "docs/sp ace/café.txt", expires);

        const string canonical = "depot-share-v1\nGET\ndefault\ndocs/sp ace/café.txt\n1900000000";
        Assert.Equal(canonical, ShareLinks.Canonical("default", "docs/sp ace/café.txt", 1_900_000_000));
        var sig = Base64Url.EncodeToString(HMACSHA256.HashData(File.ReadAllBytes(SecretPath), Encoding.UTF8.GetBytes(canonical)));
        Assert.Equal("/v1/default/docs/sp%20ace/caf%C3%A9.txt?expires=1900000000&sig=" + sig, path);
    }

    public void Dispose()
    {
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    private static DefaultHttpContext Request(string pathAndQuery)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Get;
        context.Request.QueryString = new QueryString(pathAndQuery[pathAndQuery.IndexOf('?', StringComparison.Ordinal)..]);
        return context;
    }
}
