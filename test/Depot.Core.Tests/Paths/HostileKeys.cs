using System.Globalization;
using Depot.Core.Paths;

namespace Depot.Core.Tests.Paths;

/// <summary>
/// Keys an attacker (or a confused client) sends to escape a bucket, hide a name, or confuse another layer.
/// Rows are looked up by an ASCII case name so that test runners never have to transport control characters or
/// unpaired surrogates (which some serialisers silently replace, testing something else).
/// </summary>
public static class HostileKeys
{
    public static IReadOnlyDictionary<string, string> All { get; } = Build();

    public static TheoryData<string> Names
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var name in All.Keys)
            {
                data.Add(name);
            }

            return data;
        }
    }

    private static Dictionary<string, string> Build()
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(string name, string key) => d.Add(name, key);

        // Traversal with dots.
        Add("dotdot", "..");
        Add("dot", ".");
        Add("dotdot-etc-passwd", "../etc/passwd");
        Add("dotdot-deep", "../../../../../../../../etc/shadow");
        Add("inner-dotdot-escape", "a/../../b");
        Add("inner-dotdot", "a/../b");
        Add("trailing-dotdot", "a/..");
        Add("trailing-dot", "a/.");
        Add("leading-dot", "./a");
        Add("inner-dot", "a/./b");
        Add("dotdot-slash", "../");
        Add("dotdot-double-slash", "..//x");
        Add("up-up-up", "a/b/../../..");
        Add("three-dots", "...");
        Add("four-dots", "....");
        Add("three-dots-inner", "a/.../b");
        Add("many-dots", new string('.', 40));
        Add("dotdot-in-depot", ".depot/../x");

        // Empty segments and absolute paths.
        Add("slash", "/");
        Add("double-slash", "//");
        Add("inner-double-slash", "a//b");
        Add("absolute", "/abs");
        Add("absolute-etc-passwd", "/etc/passwd");
        Add("absolute-proc-self", "/proc/self/environ");
        Add("unc-forward", "//server/share");
        Add("trailing-slash", "a/");
        Add("nested-trailing-slash", "a/b/");

        // Backslashes and drive letters (Windows paths).
        Add("backslash-dotdot-windows", "..\\..\\windows");
        Add("backslash-inner", "a\\b");
        Add("backslash-absolute", "\\abs");
        Add("backslash-dotdot", "..\\");
        Add("mixed-separators", "a/..\\b");
        Add("unc-backslash", "\\\\server\\share");
        Add("backslash-system32", "a\\..\\..\\Windows\\System32\\config\\SAM");
        Add("drive-backslash", "C:\\x");
        Add("drive-forward", "c:/x");
        Add("drive-bare", "C:");
        Add("drive-relative", "z:x");
        Add("drive-system32", "C:/Windows/System32");

        // NUL and C0 control characters, each alone inside a name.
        Add("nul-alone", "\0");
        Add("nul-truncation", "file.txt\0.jpg");
        Add("nul-before-traversal", "a\0/../b");
        for (var c = 0; c <= 0x1F; c++)
        {
            Add("c0-u" + c.ToString("X4", CultureInfo.InvariantCulture), "a" + (char)c + "b");
        }

        Add("c0-tab-leading", "\tname");
        Add("crlf", "a\r\nb");
        Add("crlf-header-injection", "x\r\nSet-Cookie: a=b");
        Add("lf-trailing", "name\n");
        Add("cr-trailing", "name\r");
        Add("del", "a\u007Fb");
        Add("del-alone", "\u007F");

        // C1 control characters.
        for (var c = 0x80; c <= 0x9F; c++)
        {
            Add("c1-u" + c.ToString("X4", CultureInfo.InvariantCulture), "a" + (char)c + "b");
        }

        // Bidirectional formatting characters and byte-order marks (names that display differently).
        foreach (var c in new[] { '\u200E', '\u200F', '\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069', '\u061C' })
        {
            Add("bidi-u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture), "invoice" + c + "fdp.exe");
        }

        Add("rlo-in-directory", "docs/\u202Egnp.exe");
        Add("bom-leading", "\uFEFFname");
        Add("bom-inner", "a\uFEFFb");
        Add("bom-alone", "\uFEFF");

        // Invalid UTF-16 / UTF-8.
        Add("unpaired-high", "\uD800");
        Add("unpaired-high-inner", "a\uD83Db");
        Add("unpaired-high-trailing", "a\uD83D");
        Add("unpaired-low", "a\uDC00b");
        Add("reversed-pair", "\uDE00\uD83D");
        Add("replacement-char", "a\uFFFDb");

        // Still-encoded input (double encoding).
        Add("encoded-dotdot", "%2e%2e");
        Add("encoded-dotdot-upper", "%2E%2E/x");
        Add("encoded-slash", "%2F");
        Add("encoded-slash-inner", "a%2Fb");
        Add("encoded-dotdot-slash-etc", "%2e%2e%2fetc%2fpasswd");
        Add("encoded-half-dotdot", "..%2f");
        Add("double-encoded-dot", "%252e");
        Add("double-encoded-dotdot", "%252e%252e/%252e%252e");
        Add("encoded-nul", "%00");
        Add("encoded-nul-suffix", "file.txt%00.jpg");
        Add("encoded-backslash", "%5c");
        Add("encoded-overlong-dot", "%c0%ae%c0%ae");
        Add("encoded-crlf", "a%0d%0ab");

        // Lengths.
        Add("segment-256-bytes", new string('a', 256));
        Add("segment-256-bytes-two-byte-chars", new string('é', 128));
        Add("segment-1000-bytes", new string('x', 1000));
        Add("key-3073-bytes", ObjectKeyTests.BuildKey(ObjectKey.AbsoluteMaxBytes + 1));
        Add("key-10000-bytes", ObjectKeyTests.BuildKey(10_000));
        Add("key-deep-dotdot-long", string.Concat(Enumerable.Repeat("../", 1100)) + "etc/passwd");

        // The reserved state folder.
        Add("state-folder", ".depot");
        Add("state-database", ".depot/depot.db");
        Add("state-wal", ".depot/depot.db-wal");
        Add("state-staging", ".depot/tmp/x.part");
        Add("state-folder-trailing-slash", ".depot/");

        // Mixed.
        Add("mixed-dotdot-nul", "../\0");
        Add("mixed-backslash-traversal", "a/b\\..\\..\\c");
        Add("mixed-space-then-dotdot", " /../x");
        Add("mixed-rlo-traversal", "\u202E/../x");
        Add("mixed-encoded-and-real-dotdot", "%2e%2e/../x");
        Add("mixed-drive-traversal", "C:..\\..\\x");
        Add("mixed-absolute-depot", "/.depot/depot.db");
        Add("mixed-control-in-deep-segment", "a/b/c/d\u0001e");
        return d;
    }
}
