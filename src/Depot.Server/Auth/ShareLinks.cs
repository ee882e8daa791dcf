using System.Buffers.Text;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Depot.Core.Errors;
using Depot.Core.Security;
using Depot.Protocol;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Auth;

/// <summary>
/// Signed share links (FastDFS anti-leech tokens, done safely): <c>/v1/{bucket}/{key}?expires={unix}&amp;sig={hmac}</c>
/// downloads exactly that object without an API key until the expiry.
/// </summary>
/// <remarks>
/// <para>The signature is HMAC-SHA256, keyed with a 32-byte server secret, over the UTF-8 bytes of
/// <c>"depot-share-v1\nGET\n{bucket}\n{key}\n{expires}"</c>: the decoded canonical key, the expiry in Unix seconds
/// as plain decimal digits. Newlines separate the fields unambiguously because neither bucket names nor keys can
/// contain control characters (see <see cref="Core.Paths.ObjectKey"/>). <c>GET</c> names the method class, which
/// also covers <c>HEAD</c>. The signature travels as base64url without padding and is compared as text in constant
/// time (so the spare bits of the last character cannot make a second valid spelling).</para>
/// <para>The secret lives in the state folder (<see cref="SecretFileName"/>, mode 0600), created at first start and
/// replaced by <see cref="Rotate"/>, each time written to a temporary file, fsync'd and renamed over the old one. A
/// rotation invalidates every earlier link at once. Thread-safe.</para>
/// </remarks>
public sealed class ShareLinks
{
    /// <summary>The secret's file in the state folder.</summary>
    public const string SecretFileName = "share-links.key";

    /// <summary>What request logs name as the caller of a request authorized by a link.</summary>
    public const string KeyId = "share-link";

    public const int SecretBytes = 32;

    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(1);

    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(30);

    private const string Purpose = "depot-share-v1";

    // A link only ever downloads: these are the only query parameters it may come with. Anything else (?list, ?stat,
    // ?meta, switches added later) needs an API key, so a new read variant is never opened to links by accident.
    private static readonly string[] AllowedQuery = [DepotQuery.Expires, DepotQuery.Sig, DepotQuery.Download, DepotQuery.Offset, DepotQuery.Length];

    private static readonly long MaxUnixSeconds = DateTimeOffset.MaxValue.ToUnixTimeSeconds();

    private readonly string _path;
    private readonly TimeProvider _time;
    private readonly Lock _rotating = new();
    private volatile byte[] _secret;

    /// <summary>Loads the secret from <paramref name="stateDirectory"/>, creating it when there is none.</summary>
    /// <exception cref="InvalidOperationException">The secret file exists but is not 32 bytes.</exception>
    public ShareLinks(string stateDirectory, TimeProvider time)
    {
        _path = Path.Combine(stateDirectory, SecretFileName);
        _time = time;
        _secret = LoadOrCreate(_path);
    }

    /// <summary>True when the request asks to be authorized by a link: a <c>sig</c> in the query and no Authorization
    /// header (with a header, the key decides and the link is ignored).</summary>
    public static bool IsLinkRequest(HttpContext context) =>
        context.Request.Headers.Authorization.Count == 0 && context.Request.Query.ContainsKey(DepotQuery.Sig);

    /// <summary>The path and query of a link for <paramref name="key"/> (decoded, canonical) valid until
    /// <paramref name="expires"/> (whole seconds are used).</summary>
    public string CreatePath(string bucket, string key, DateTimeOffset expires)
    {
        var seconds = expires.ToUnixTimeSeconds();
        return $"{DepotRoutes.Object(bucket, key)}?{DepotQuery.Expires}={seconds.ToString(CultureInfo.InvariantCulture)}&{DepotQuery.Sig}={Sign(_secret, bucket, key, seconds)}";
    }

    /// <summary>Decides a link request (see <see cref="IsLinkRequest"/>) for the object it addresses. Null when the
    /// link is valid for exactly <paramref name="bucket"/> and <paramref name="key"/>, unexpired, and the request is a
    /// download (<paramref name="download"/>) with no query parameters beyond the link's own, <c>download</c>,
    /// <c>offset</c> and <c>length</c>.</summary>
    /// <returns><c>link_invalid</c> for a malformed, tampered or rotated-out link; <c>link_expired</c> after its
    /// expiry; <c>forbidden</c> for anything but a download.</returns>
    public DepotError? Authorize(HttpContext context, string bucket, string key, bool download)
    {
        var query = context.Request.Query;
        if (!query.TryGetValue(DepotQuery.Expires, out var expiresValues) || expiresValues.Count != 1
            || !query.TryGetValue(DepotQuery.Sig, out var sigValues) || sigValues.Count != 1
            || !TryParseUnixSeconds(expiresValues[0], out var expires)
            || !Matches(Sign(_secret, bucket, key, expires), sigValues[0]))
        {
            return new DepotError(ErrorCodes.LinkInvalid, "The share link is not valid for this object (changed, or made before the link secret was rotated).");
        }

        if (_time.GetUtcNow() >= DateTimeOffset.FromUnixTimeSeconds(expires))
        {
            return new DepotError(ErrorCodes.LinkExpired, "The share link has expired; ask for a new one.");
        }

        if (!download || query.Keys.Any(name => !AllowedQuery.Contains(name, StringComparer.OrdinalIgnoreCase)))
        {
            return new DepotError(ErrorCodes.Forbidden, "A share link only downloads the object it was made for; send an API key for anything else.");
        }

        return null;
    }

    /// <summary>The caller recorded for a request a link authorized: no scopes, limited to the one object.</summary>
    public static CallerIdentity Identity(string bucket, string key) => new(KeyId, Scopes.None, bucket, key, 0);

    /// <summary>Replaces the secret (durably, before returning): every link made so far becomes <c>link_invalid</c>.</summary>
    public void Rotate()
    {
        lock (_rotating)
        {
            var secret = RandomNumberGenerator.GetBytes(SecretBytes);
            WriteAtomically(_path, secret);
            _secret = secret;
        }
    }

    /// <summary>The canonical string that is signed (see the type's remarks).</summary>
    internal static string Canonical(string bucket, string key, long expires) =>
        string.Join('\n', Purpose, "GET", bucket, key, expires.ToString(CultureInfo.InvariantCulture));

    private static string Sign(byte[] secret, string bucket, string key, long expires) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes(Canonical(bucket, key, expires))));

    private static bool Matches(string expected, string? given) =>
        given is not null && CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(expected.AsSpan()), MemoryMarshal.AsBytes(given.AsSpan()));

    /// <summary>Plain decimal digits in canonical form (no sign, no leading zeros), so each expiry has one spelling.</summary>
    private static bool TryParseUnixSeconds(string? text, out long seconds) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out seconds)
        && seconds <= MaxUnixSeconds
        && text == seconds.ToString(CultureInfo.InvariantCulture);

    private static byte[] LoadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            var existing = File.ReadAllBytes(path);
            if (existing.Length != SecretBytes)
            {
                throw new InvalidOperationException($"{path} holds {existing.Length} bytes, not a {SecretBytes}-byte share-link secret; remove it to generate a new one (earlier share links then stop working).");
            }

            return existing;
        }

        var secret = RandomNumberGenerator.GetBytes(SecretBytes);
        WriteAtomically(path, secret);
        return secret;
    }

    /// <summary>Temporary file (0600) + fsync + rename + directory fsync: the file holds the old secret or the new one,
    /// and once this returns the new one survives a crash.</summary>
    private static void WriteAtomically(string path, byte[] secret)
    {
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temp = path + ".tmp";
        File.Delete(temp); // a leftover from a crash; CreateNew below must create the file so the mode applies
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(temp, create))
        {
            file.Write(secret);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        DirectorySync.Flush(directory);
    }

    /// <summary>fsync of a directory, which .NET does not expose (a FileStream cannot open a directory).</summary>
    private static class DirectorySync
    {
        public static void Flush(string directory)
        {
            if (!OperatingSystem.IsLinux())
            {
                return;
            }

            // O_RDONLY opens a directory on every Linux architecture (O_DIRECTORY's value differs between them).
            var fd = Open(directory, 0);
            if (fd < 0)
            {
                throw new IOException($"Cannot open {directory} to fsync it (errno {Marshal.GetLastPInvokeError()}).");
            }

            try
            {
                if (Fsync(fd) != 0)
                {
                    throw new IOException($"fsync of {directory} failed (errno {Marshal.GetLastPInvokeError()}).");
                }
            }
            finally
            {
                _ = Close(fd);
            }
        }

        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        private static extern int Fsync(int fd);

        [DllImport("libc", EntryPoint = "close")]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        private static extern int Close(int fd);
    }
}
