using System.Security.Cryptography;
using Depot.Core.Errors;
using Depot.Core.Paths;

namespace Depot.Core.Ids;

/// <summary>
/// Server-assigned file ids in the FastDFS shape: the key <c>M00/HH/HH/{opaque}.{ext}</c> in a bucket, written
/// <c>{bucket}/M00/HH/HH/{opaque}.{ext}</c> as an id. Slave ids add a prefix to their master's name.
/// </summary>
/// <remarks>The opaque part is 128 random bits (base64url, 22 characters): unguessable, so ids cannot be enumerated,
/// and a collision is astronomically unlikely; ids are still published create-only, so even one would be refused
/// (<c>already_exists</c>), never overwrite. The two directory levels are 16 further random bits, so ids spread evenly
/// over 65,536 directories as FastDFS's do.</remarks>
public static class FileIds
{
    /// <summary>The FastDFS store path segment of every assigned id.</summary>
    public const string StorePath = "M00";
    public const int MaxExtensionLength = 6;
    public const int MaxSlavePrefixLength = 32;
    private const int OpaqueLength = 22;

    /// <summary>A new random key <c>M00/HH/HH/{opaque}[.ext]</c>; <paramref name="extension"/> must be valid.</summary>
    public static ObjectKey NewKey(string? extension)
    {
        Span<byte> random = stackalloc byte[18];
        RandomNumberGenerator.Fill(random);
        var opaque = Base64Url(random[..16]);
        var name = string.IsNullOrEmpty(extension) ? opaque : opaque + "." + extension;
        var key = $"{StorePath}/{random[16]:X2}/{random[17]:X2}/{name}";
        return ObjectKey.Parse(key).Value!;
    }

    /// <summary>An extension: empty, or 1 to 6 ASCII letters and digits (FastDFS's limit).</summary>
    public static Outcome ValidateExtension(string? extension) =>
        string.IsNullOrEmpty(extension) || (extension.Length <= MaxExtensionLength && extension.All(char.IsAsciiLetterOrDigit))
            ? Outcome.Success
            : DepotError.InvalidRequest($"An extension has at most {MaxExtensionLength} ASCII letters and digits, without the dot ('{extension}' does not).");

    /// <summary>The key of a slave of <paramref name="master"/>: the master's name without its extension, then the
    /// prefix, then <paramref name="extension"/> (or the master's own extension when none is given).</summary>
    /// <returns>The slave key; <c>invalid_path</c> for a prefix with path characters; <c>invalid_request</c> for a bad extension.</returns>
    public static Result<ObjectKey> SlaveKey(ObjectKey master, string prefix, string? extension)
    {
        if (prefix.Length == 0 || prefix.Length > MaxSlavePrefixLength
            || prefix.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not '_' and not '-' and not '.') || prefix.Contains("..", StringComparison.Ordinal))
        {
            return DepotError.InvalidPath($"A slave prefix has 1 to {MaxSlavePrefixLength} characters of A-Z, a-z, 0-9, '_', '-' and '.', and no '..' ('{prefix}' does not).");
        }

        var ext = ValidateExtension(extension);
        if (!ext.IsSuccess)
        {
            return ext.Error!;
        }

        var name = master.Name;
        var dot = name.LastIndexOf('.');
        var stem = dot > 0 ? name[..dot] : name;
        var masterExtension = dot > 0 ? name[(dot + 1)..] : "";
        var slaveExtension = string.IsNullOrEmpty(extension) ? masterExtension : extension;
        var slaveName = stem + prefix + (slaveExtension.Length == 0 ? "" : "." + slaveExtension);
        var parent = master.Parent!;
        return ObjectKey.Parse(parent.IsRoot ? slaveName : parent.Value + "/" + slaveName);
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes)
    {
        var text = Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return text.Length == OpaqueLength ? text : throw new InvalidOperationException("Unexpected opaque id length.");
    }
}
