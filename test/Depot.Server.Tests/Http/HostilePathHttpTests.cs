using System.Text;
using System.Text.Json;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Http;

/// <summary>
/// Hostile request targets sent byte for byte over a socket (no client-side normalisation), each with GET, PUT and
/// DELETE and the admin key: none may read, write or delete outside the bucket, serve the state folder or follow a
/// symbolic link. Next to the data directory lies <c>outside/secret.txt</c>; inside it, links point out.
/// </summary>
/// <remarks>
/// What the HTTP server (Kestrel) refuses before Depot sees the request is answered with an empty 400 (or 414/431)
/// without problem+json; those rows accept that answer and say so in the test output.
/// </remarks>
public sealed class HostilePathHttpTests(HostilePathHttpTests.Fixture fixture) : IClassFixture<HostilePathHttpTests.Fixture>
{
    private const string P = "/v1/default/";

    /// <summary>Statuses a hostile target may get. Never 2xx; 409 only where a link blocks a write.</summary>
    private static readonly int[] Refusals = [400, 401, 403, 404, 405, 414, 431];

    public static TheoryData<string> TargetNames => [.. Targets.Keys];

    public static TheoryData<string> LookalikeNames => [.. Lookalikes.Keys];

    /// <summary>Targets by ASCII name; each char of the value is sent as one byte. {port}, {secret} and {outside}
    /// are filled in per server.</summary>
    private static Dictionary<string, string> Targets { get; } = BuildTargets();

    /// <summary>Odd but legal keys: they may be stored, but only inside the bucket.</summary>
    private static Dictionary<string, string> Lookalikes { get; } = new(StringComparer.Ordinal)
    {
        ["fullwidth-dots"] = P + "%EF%BC%8E%EF%BC%8E/outside/secret.txt",
        ["one-dot-leader"] = P + "%E2%80%A4%E2%80%A4/outside/secret.txt",
        ["windows-device-name"] = P + "nul",
        ["windows-device-com1"] = P + "COM1.txt",
        ["dots-inside-name"] = P + "..a/b..",
        ["depot-deeper"] = P + "x/.depot/depot.db",
        ["depot-case"] = P + ".DEPOT/depot.db",
        ["depot-suffix"] = P + ".depotx/depot.db",
        ["percent-literal"] = P + "100%25",
        ["space-encoded"] = P + "a%20b/..%20/c",
        ["plus"] = P + "a+b/%2B..",
        ["trailing-space-dotdot"] = P + "%2E%2E%20/x",
    };

    [Theory]
    [MemberData(nameof(TargetNames))]
    public async Task HostileTarget_GetPutDelete_NeverLeavesTheBucket(string name)
    {
        var target = fixture.Expand(Targets[name]);
        var blockedByLink = name.StartsWith("link", StringComparison.Ordinal);
        var beforeData = fixture.SnapshotData();
        var beforeOutside = DirectorySnapshot.Take(fixture.OutsideDirectory);

        foreach (var method in new[] { "GET", "PUT", "DELETE" })
        {
            var response = await RawHttp.SendAsync(fixture.Server.Port, method, target, fixture.AdminHeaders, method == "PUT" ? Encoding.ASCII.GetBytes("PWNED-" + name) : null);
            var what = $"{method} {Printable(target)} -> {response.StatusLine} {(response.IsProblem ? response.BodyText : "(no problem body)")}";
            TestContext.Current.TestOutputHelper?.WriteLine(what);

            var allowed = blockedByLink && method == "PUT" ? [.. Refusals, 409] : Refusals;
            Assert.True(allowed.Contains(response.Status), what);
            fixture.AssertNoLeak(response, what);
            if (response.IsProblem)
            {
                Assert.Contains("\"code\":", response.BodyText, StringComparison.Ordinal);
                if (response.Status == 400)
                {
                    Assert.Contains("\"code\":\"invalid_path\"", response.BodyText.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
                }
            }
            else
            {
                // Not Depot's answer: the HTTP server refused the request line before any handler ran (405 is its
                // answer to the asterisk form with a method other than OPTIONS).
                Assert.True(response.Status is 400 or 404 or 405 or 414 or 431, what);
                Assert.Empty(response.Body);
            }
        }

        beforeOutside.AssertSame(DirectorySnapshot.Take(fixture.OutsideDirectory), $"outside after {name}");
        beforeData.AssertSame(fixture.SnapshotData(), $"data directory after {name}");
        Assert.Equal(fixture.SecretBytes, await File.ReadAllBytesAsync(fixture.SecretPath, TestContext.Current.CancellationToken));
    }

    [Theory]
    [MemberData(nameof(LookalikeNames))]
    public async Task LookalikeTarget_GetPutDelete_StaysInsideTheBucket(string name)
    {
        var target = Lookalikes[name];
        var beforeOutside = DirectorySnapshot.Take(fixture.OutsideDirectory);
        var beforeRoot = Directory.GetFileSystemEntries(fixture.Server.RootDirectory).Order(StringComparer.Ordinal).ToList();

        foreach (var method in new[] { "GET", "PUT", "GET", "DELETE" })
        {
            var response = await RawHttp.SendAsync(fixture.Server.Port, method, target, fixture.AdminHeaders, method == "PUT" ? "lookalike"u8.ToArray() : null);
            var what = $"{method} {Printable(target)} -> {response.StatusLine} {(response.IsProblem ? response.BodyText : "")}";
            TestContext.Current.TestOutputHelper?.WriteLine(what);
            Assert.True(response.Status is >= 200 and < 300 or 400 or 404 or 409, what);
            fixture.AssertNoLeak(response, what);
            if (response.Status >= 400)
            {
                Assert.True(response.IsProblem, what);
            }
        }

        beforeOutside.AssertSame(DirectorySnapshot.Take(fixture.OutsideDirectory), $"outside after {name}");
        Assert.Equal(beforeRoot, Directory.GetFileSystemEntries(fixture.Server.RootDirectory).Order(StringComparer.Ordinal));
        Assert.Equal(fixture.SecretBytes, await File.ReadAllBytesAsync(fixture.SecretPath, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task HostileTargets_AreAtLeastOneHundred()
    {
        Assert.True(Targets.Count >= 100, $"only {Targets.Count} hostile targets");
        await Task.CompletedTask;
    }

    [Fact]
    public async Task InsideFile_OverTheRawClient_IsServed()
    {
        // The control: the harness can see a 200 and the bytes, so the refusals above are the server's doing.
        var response = await RawHttp.SendAsync(fixture.Server.Port, "GET", P + "inside.txt", fixture.AdminHeaders);
        Assert.Equal(200, response.Status);
        Assert.Equal("inside", response.BodyText);
    }

    [Theory]
    [InlineData(P)]
    [InlineData(P + "?recursive=true")]
    [InlineData(P + "?list&recursive")]
    [InlineData("/v1/default")]
    [InlineData("/v1/default?recursive=true&limit=10000")]
    public async Task List_BucketRoot_NeverShowsTheStateFolderOrLinks(string target)
    {
        var response = await RawHttp.SendAsync(fixture.Server.Port, "GET", target, fixture.AdminHeaders);
        Assert.Equal(200, response.Status);
        var page = JsonSerializer.Deserialize(response.BodyText, DepotJson.Default.ListPageDto)!;
        var keys = page.Entries.Select(e => e.Key).ToList();
        Assert.Contains("inside.txt", keys);
        Assert.DoesNotContain(keys, k => k == ".depot" || k.StartsWith(".depot/", StringComparison.Ordinal));
        Assert.DoesNotContain(keys, k => k.Contains("secret", StringComparison.Ordinal) || k.Contains("passwd", StringComparison.Ordinal));
        Assert.DoesNotContain(keys, k => k is "link" or "linkfile" or "rootlink" or "statelink" or "sub/etc");
    }

    [Theory]
    [InlineData("..%2f..%2foutside")]
    [InlineData("Li4vb3V0c2lkZQ")] // base64url of "../outside"
    [InlineData("Li4vLi4vLi4vZXRjL3Bhc3N3ZA")] // "../../../etc/passwd"
    [InlineData("L2V0Yy9wYXNzd2Q")] // "/etc/passwd"
    [InlineData("LmRlcG90L2RlcG90LmRi")] // ".depot/depot.db"
    [InlineData("bGluay9zZWNyZXQudHh0AA")] // "link/secret.txt" + NUL
    [InlineData("%00")]
    [InlineData("!!!")]
    public async Task List_HostileCursor_Answers400InvalidRequestAndLeaksNothing(string cursor)
    {
        foreach (var query in new[] { "?recursive=true&cursor=", "?cursor=" })
        {
            var response = await RawHttp.SendAsync(fixture.Server.Port, "GET", P + query + cursor, fixture.AdminHeaders);
            var what = $"GET {query}{cursor} -> {response.StatusLine} {response.BodyText}";
            fixture.AssertNoLeak(response, what);
            Assert.True(response.Status == 400 && response.IsProblem, what);
            Assert.Contains("\"code\":\"invalid_request\"", response.BodyText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task List_CursorOfAKeyStillInsideTheBucket_ContinuesAfterIt()
    {
        // The control for the cursor rows above: a well-formed cursor is honoured.
        var cursor = Convert.ToBase64String("inside.txt"u8.ToArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var response = await RawHttp.SendAsync(fixture.Server.Port, "GET", P + "?cursor=" + cursor, fixture.AdminHeaders);
        Assert.Equal(200, response.Status);
        var page = JsonSerializer.Deserialize(response.BodyText, DepotJson.Default.ListPageDto)!;
        Assert.DoesNotContain(page.Entries, e => string.CompareOrdinal(e.Key, "inside.txt") <= 0);
    }

    [Theory]
    [InlineData("inside.txt?move", "{\"to\":\"../outside/moved.txt\"}", 400)]
    [InlineData("inside.txt?copy", "{\"to\":\"../outside/copied.txt\"}", 400)]
    [InlineData("inside.txt?copy", "{\"to\":\"%2e%2e/outside/copied.txt\"}", 400)]
    [InlineData("inside.txt?copy", "{\"to\":\"/tmp/x\"}", 400)]
    [InlineData("inside.txt?copy", "{\"to\":\"a\\\\..\\\\..\\\\x\"}", 400)]
    [InlineData("inside.txt?copy", "{\"to\":\".depot/depot.db\",\"overwrite\":true}", 400)]
    [InlineData("inside.txt?move", "{\"to\":\".depot/tmp/x\"}", 400)]
    [InlineData("inside.txt?copy", "{\"to\":\"x\",\"bucket\":\"..\"}", 400)]
    [InlineData("inside.txt?copy", "{\"to\":\"x\",\"bucket\":\"../outside\"}", 400)]
    [InlineData("inside.txt?copy", "{\"to\":\"link/stolen.txt\"}", 409)]
    [InlineData("inside.txt?move", "{\"to\":\"link/stolen.txt\"}", 409)]
    [InlineData("inside.txt?copy", "{\"to\":\"linkfile\",\"overwrite\":true}", 409)]
    [InlineData("inside.txt?move", "{\"to\":\"linkfile\",\"overwrite\":true}", 409)]
    [InlineData("inside.txt?move", "{\"to\":\"rootlink/tmp/x\"}", 409)]
    [InlineData("link/secret.txt?copy", "{\"to\":\"stolen.txt\"}", 404)]
    [InlineData("linkfile?copy", "{\"to\":\"stolen.txt\"}", 404)]
    [InlineData("link?move", "{\"to\":\"moved-link\"}", 404)]
    [InlineData("statelink/depot.db?copy", "{\"to\":\"db-copy\"}", 404)]
    public async Task Transfer_HostileSourceOrDestination_IsRefusedAndTouchesNothing(string source, string body, int status)
    {
        var beforeData = fixture.SnapshotData();
        var beforeOutside = DirectorySnapshot.Take(fixture.OutsideDirectory);

        var response = await RawHttp.SendAsync(fixture.Server.Port, "POST", P + source, [.. fixture.AdminHeaders, ("Content-Type", "application/json")], Encoding.UTF8.GetBytes(body));

        var what = $"POST {source} {body} -> {response.StatusLine} {response.BodyText}";
        TestContext.Current.TestOutputHelper?.WriteLine(what);
        Assert.True(response.Status == status, what);
        Assert.True(response.IsProblem, what);
        fixture.AssertNoLeak(response, what);
        beforeOutside.AssertSame(DirectorySnapshot.Take(fixture.OutsideDirectory), what);
        beforeData.AssertSame(fixture.SnapshotData(), what);
    }

    [Fact]
    public async Task Delete_BucketRootRecursively_RemovesLinksButNeverTheirTargetsOrTheState()
    {
        await using var server = await DepotTestServer.StartAsync(prepare: Fixture.Prepare);
        var outside = Path.Combine(server.RootDirectory, "outside");
        var beforeOutside = DirectorySnapshot.Take(outside);

        var response = await RawHttp.SendAsync(server.Port, "DELETE", P + "?recursive=true", [("Authorization", "Bearer " + server.AdminKey)]);

        Assert.Equal(204, response.Status);
        beforeOutside.AssertSame(DirectorySnapshot.Take(outside), "outside after deleting the bucket's contents");
        Assert.False(Path.Exists(Path.Combine(server.DataDirectory, "inside.txt")));
        Assert.False(Path.Exists(Path.Combine(server.DataDirectory, "sub")), "a directory holding a link goes, the link's target stays");
        Assert.True(File.Exists(Path.Combine(server.StateDirectory, "depot.db")));
        var list = await RawHttp.SendAsync(server.Port, "GET", P, [("Authorization", "Bearer " + server.AdminKey)]);
        Assert.Equal(200, list.Status);
        Assert.Contains("\"entries\":[]", list.BodyText, StringComparison.Ordinal);
    }

    private static string Printable(string target)
    {
        var text = new StringBuilder();
        foreach (var c in target.Length > 120 ? target[..120] + "…" : target)
        {
            text.Append(c is < ' ' or (>= '\u007f' and <= '\u00ff') ? $"\\x{(int)c:X2}" : c);
        }

        return text.ToString();
    }

    private static Dictionary<string, string> BuildTargets()
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string name, string target) => d.Add(name, target);

        // Dot segments, raw.
        Add("dotdot-secret", P + "../outside/secret.txt");
        Add("dotdot2-secret", P + "../../outside/secret.txt");
        Add("dotdot-deep-passwd", P + "../../../../../../../../etc/passwd");
        Add("dotdot-alone", P + "..");
        Add("dot-alone", P + ".");
        Add("dot-inside", P + "./inside.txt");
        Add("inner-dotdot-stays-inside", P + "a/../inside.txt");
        Add("inner-dotdot-escape", P + "a/../../outside/secret.txt");
        Add("bucket-dotdot-bucket", "/v1/default/../default/inside.txt");
        Add("v1-dotdot-v1", "/v1/../v1/default/inside.txt");
        Add("dotdot-double-slash", P + "..//outside/secret.txt");
        Add("file-then-dotdot", P + "inside.txt/..");
        Add("file-then-dot", P + "inside.txt/.");
        Add("root-dotdot", "/../outside/secret.txt");
        Add("three-dots", P + ".../outside");
        Add("four-dots", P + "....");
        Add("dotdot-trailing-slash", P + "../");
        Add("dot-dot-dot-segments", P + "./../.././outside/secret.txt");

        // Dot segments, percent-encoded.
        Add("enc-dotdot", P + "%2e%2e/outside/secret.txt");
        Add("enc-dotdot-upper", P + "%2E%2E/%2E%2E/outside/secret.txt");
        Add("enc-half-dotdot-1", P + ".%2e/outside/secret.txt");
        Add("enc-half-dotdot-2", P + "%2e./outside/secret.txt");
        Add("enc-dotdot-slash", P + "%2e%2e%2foutside%2fsecret.txt");
        Add("enc-slash-after-dotdot", P + "..%2foutside%2fsecret.txt");
        Add("enc-backslash-dotdot", P + "%2e%2e%5coutside%5csecret.txt");
        Add("enc-backslash-after-dotdot", P + "..%5coutside%5csecret.txt");
        Add("enc-dot-alone", P + "%2e");
        Add("enc-bucket-slash-dotdot", "/v1/default%2f..%2f..%2foutside%2fsecret.txt");
        Add("enc-bucket-dotdot", "/v1/%2e%2e/outside/secret.txt");
        Add("enc-root-dotdot", "/%2e%2e/%2e%2e/outside/secret.txt");
        Add("enc-deep-passwd", P + "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd");
        Add("enc-inner-slash-dotdot", P + "a%2f..%2f..%2foutside%2fsecret.txt");
        Add("enc-v1-dotdot", "/v1/..%2fdefault/inside.txt");
        Add("enc-dotdot-bucket-as-key", "/v1/default/%2e%2e%2f%2e%2e%2fdata%2finside.txt");

        // Double encoding.
        Add("dbl-dotdot", P + "%252e%252e/outside/secret.txt");
        Add("dbl-dotdot-slash", P + "%252e%252e%252foutside%252fsecret.txt");
        Add("dbl-encoded-percent-digits", P + "%25%32%65%25%32%65/outside");
        Add("dbl-dot-upper", P + "%252E");
        Add("dbl-backslash", P + "%255c");
        Add("dbl-nul", P + "%2500");
        Add("triple-dotdot", P + "%25252e%25252e/outside");

        // Overlong and invalid UTF-8.
        Add("overlong-dotdot-c0ae", P + "%c0%ae%c0%ae/outside/secret.txt");
        Add("overlong-dot-mixed", P + "%c0%2e%c0%2e/outside");
        Add("overlong-dotdot-e080ae", P + "%e0%80%ae%e0%80%ae/outside");
        Add("overlong-slash", P + "..%c0%afoutside%c0%afsecret.txt");
        Add("overlong-backslash", P + "..%c1%9coutside");
        Add("invalid-utf8-fffe", P + "%ff%fe");
        Add("utf8-surrogate", P + "%ed%a0%80");
        Add("utf8-truncated", P + "%e2%80");
        Add("raw-invalid-utf8", P + "\u00ff\u00fe");
        Add("raw-valid-utf8", P + RawHttp.Utf8("café/x.txt"));
        Add("raw-utf8-rlo", P + RawHttp.Utf8("\u202Etxt.exe"));

        // Malformed escapes.
        Add("escape-percent-alone", P + "%");
        Add("escape-one-digit", P + "%2");
        Add("escape-non-hex", P + "%zz");
        Add("escape-half-hex", P + "a%g0");
        Add("escape-in-bucket", "/v1/def%ault/x");

        // NUL.
        Add("nul-enc-suffix", P + "inside.txt%00");
        Add("nul-enc-truncation", P + "inside.txt%00.jpg");
        Add("nul-enc-alone", P + "%00");
        Add("nul-enc-then-dotdot", P + "%00/../outside/secret.txt");
        Add("nul-enc-in-dotdot", P + "..%00/outside/secret.txt");
        Add("nul-raw", P + "a\0b");

        // Backslashes.
        Add("backslash-raw-dotdot", P + "..\\outside\\secret.txt");
        Add("backslash-raw-dotdot2", P + "..\\..\\outside\\secret.txt");
        Add("backslash-raw-inner", P + "a\\b");
        Add("backslash-enc-leading", P + "%5c..%5coutside%5csecret.txt");
        Add("backslash-enc-unc", P + "%5c%5cserver%5cshare");
        Add("backslash-raw-unc", P + "\\\\server\\share");
        Add("backslash-mixed", P + "a/..\\..\\outside");

        // Control characters.
        Add("ctl-enc-soh", P + "a%01b");
        Add("ctl-enc-crlf", P + "a%0d%0ab");
        Add("ctl-enc-header-injection", P + "a%0d%0aSet-Cookie:%20x=y");
        Add("ctl-enc-tab", P + "a%09b");
        Add("ctl-enc-del", P + "a%7fb");
        Add("ctl-enc-c1-nel", P + "a%c2%85b");
        Add("ctl-enc-c1-9f", P + "a%c2%9fb");
        Add("ctl-enc-rlo", P + "%e2%80%aetxt.exe");
        Add("ctl-enc-bom", P + "%ef%bb%bfname");
        Add("ctl-enc-lrm", P + "a%e2%80%8eb");
        Add("ctl-raw-soh", P + "a\u0001b");
        Add("ctl-raw-cr", P + "a\rb");
        Add("ctl-raw-lf", P + "a\nb");
        Add("ctl-raw-tab", P + "a\tb");
        Add("ctl-raw-space", P + "a b");
        Add("ctl-raw-del", P + "a\u007fb");
        Add("ctl-raw-c1", P + "a\u00c2\u0085b");

        // Lengths.
        Add("long-segment-300", P + new string('a', 300));
        Add("long-segment-256", P + new string('a', 256));
        Add("long-segment-nested-300", P + "d/" + new string('b', 300));
        Add("long-segment-300-utf8-bytes", P + string.Concat(Enumerable.Repeat("%C3%A9", 150)));
        Add("long-dotdot-chain", P + string.Concat(Enumerable.Repeat("../", 1100)) + "etc/passwd");
        Add("long-key-over-3072", P + string.Concat(Enumerable.Repeat("a/", 1600)) + "x");
        Add("long-request-line-9000", P + new string('a', 9000));

        // Drive letters.
        Add("drive-forward", P + "C:/Windows/win.ini");
        Add("drive-enc-backslash", P + "C:%5cWindows%5cwin.ini");
        Add("drive-bare", P + "c:");
        Add("drive-traversal", P + "C:..%5c..%5coutside");
        Add("drive-enc", P + "%43%3a/x");
        Add("drive-as-bucket", "/v1/C:/x");

        // Absolute paths and empty segments.
        Add("abs-etc-passwd", P + "/etc/passwd");
        Add("abs-secret", P + "/{secret}");
        Add("abs-secret-enc", P + "%2f{secret}");
        Add("abs-outside-dir", P + "/{outside}/");
        Add("empty-segment", P + "a//b");
        Add("empty-bucket", "/v1//default/inside.txt");
        Add("double-leading-slash", "//v1/default/inside.txt");
        Add("abs-proc-self", P + "/proc/self/environ");

        // The state folder.
        Add("state-db", P + ".depot/depot.db");
        Add("state-wal", P + ".depot/depot.db-wal");
        Add("state-lock", P + ".depot/lock");
        Add("state-dir-slash", P + ".depot/");
        Add("state-dir", P + ".depot");
        Add("state-tmp", P + ".depot/tmp/");
        Add("state-enc-dot", P + "%2edepot/depot.db");
        Add("state-enc-slash", P + ".depot%2fdepot.db");
        Add("state-via-dotdot", P + "a/../.depot/depot.db");
        Add("state-via-dot", P + "./.depot/depot.db");
        Add("state-dotdot-state", "/v1/default/.depot/../.depot/depot.db");
        Add("state-fully-encoded", P + "%2e%64%65%70%6f%74/depot.db");
        Add("state-stat", P + ".depot?stat");
        Add("state-recursive", P + ".depot/?recursive=true");
        Add("state-as-bucket", "/v1/.depot/depot.db");

        // Symbolic links inside the bucket that point out of it.
        Add("link-dir-secret", P + "link/secret.txt");
        Add("link-dir", P + "link");
        Add("link-dir-slash", P + "link/");
        Add("link-dir-new-file", P + "link/new.txt");
        Add("link-file", P + "linkfile");
        Add("link-root-passwd", P + "rootlink/etc/passwd");
        Add("link-root-slash", P + "rootlink/");
        Add("link-root-recursive", P + "rootlink/?recursive=true");
        Add("link-state-db", P + "statelink/depot.db");
        Add("link-then-dotdot", P + "link/../inside.txt");
        Add("link-enc", P + "%6c%69%6e%6b/secret.txt");
        Add("link-stat", P + "link/secret.txt?stat");
        Add("link-nested", P + "sub/etc/passwd");

        // Request-target forms.
        Add("absolute-form-dotdot", "http://127.0.0.1:{port}/v1/default/../outside/secret.txt");
        Add("absolute-form-enc-dotdot", "http://127.0.0.1:{port}/v1/default/%2e%2e/outside/secret.txt");
        Add("absolute-form-other-host", "http://evil.example/v1/default/link/secret.txt");
        Add("absolute-form-file-scheme", "file:///etc/passwd");
        Add("asterisk-form", "*");
        Add("no-leading-slash", "v1/default/inside.txt");
        Add("other-bucket-dotdot", "/v1/second/../default/inside.txt");
        return d;
    }

    /// <summary>One server for the whole class: hostile requests must change nothing, so they can share it.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private DepotTestServer? _server;

        public DepotTestServer Server => _server ?? throw new InvalidOperationException("not started");

        public string OutsideDirectory => Path.Combine(Server.RootDirectory, "outside");

        public string SecretPath => Path.Combine(OutsideDirectory, "secret.txt");

        public byte[] SecretBytes { get; private set; } = [];

        public (string, string)[] AdminHeaders => [("Authorization", "Bearer " + Server.AdminKey)];

        /// <summary>outside/secret.txt next to the data directory; links from inside the bucket to it, to / and to the
        /// state folder; a file inside.</summary>
        public static void Prepare(string root)
        {
            var outside = Path.Combine(root, "outside");
            Directory.CreateDirectory(outside);
            File.WriteAllText(Path.Combine(outside, "secret.txt"), "TOPSECRET-" + Guid.NewGuid().ToString("N"));
            var data = Path.Combine(root, "data");
            File.WriteAllText(Path.Combine(data, "inside.txt"), "inside");
            Directory.CreateSymbolicLink(Path.Combine(data, "link"), outside);
            File.CreateSymbolicLink(Path.Combine(data, "linkfile"), Path.Combine(outside, "secret.txt"));
            // A stand-in for '/' (never the real one: a bug here must not be able to delete the machine's files).
            var fakeRoot = Path.Combine(outside, "fakeroot");
            Directory.CreateDirectory(Path.Combine(fakeRoot, "etc"));
            File.WriteAllText(Path.Combine(fakeRoot, "etc", "passwd"), "root:x:0:0:TOPSECRET\n");
            Directory.CreateSymbolicLink(Path.Combine(data, "rootlink"), fakeRoot);
            Directory.CreateSymbolicLink(Path.Combine(data, "statelink"), ".depot");
            Directory.CreateDirectory(Path.Combine(data, "sub"));
            Directory.CreateSymbolicLink(Path.Combine(data, "sub", "etc"), Path.Combine(fakeRoot, "etc"));
        }

        public string Expand(string target) => target
            .Replace("{port}", Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{secret}", SecretPath.TrimStart('/'), StringComparison.Ordinal)
            .Replace("{outside}", OutsideDirectory.TrimStart('/'), StringComparison.Ordinal);

        /// <summary>The data directory without SQLite's files (readers and key lookups touch them).</summary>
        internal DirectorySnapshot SnapshotData() => DirectorySnapshot.TakeData(Server.DataDirectory);

        internal void AssertNoLeak(RawResponse response, string what)
        {
            var raw = Encoding.Latin1.GetString(response.Raw);
            Assert.False(raw.Contains("TOPSECRET", StringComparison.Ordinal), $"{what}: the secret leaked");
            Assert.False(raw.Contains("root:x:0:0", StringComparison.Ordinal), $"{what}: /etc/passwd leaked");
            Assert.False(raw.Contains("SQLite format 3", StringComparison.Ordinal), $"{what}: the state database leaked");
            Assert.False(raw.Contains(Server.AdminKey, StringComparison.Ordinal), $"{what}: the admin key was echoed");
        }

        public async ValueTask InitializeAsync()
        {
            _server = await DepotTestServer.StartAsync(prepare: Prepare);
            SecretBytes = await File.ReadAllBytesAsync(SecretPath);
        }

        public async ValueTask DisposeAsync()
        {
            if (_server is not null)
            {
                await _server.DisposeAsync();
            }
        }
    }
}
