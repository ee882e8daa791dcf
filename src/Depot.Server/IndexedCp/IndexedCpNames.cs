using Depot.Core.Paths;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.IndexedCp;

/// <summary>What became of a client's file name: the key it is stored at, or why it is refused.</summary>
/// <param name="Key">The key inside the IndexedCP bucket, when the name is acceptable.</param>
/// <param name="Problem">Why the name is refused (shown to the client).</param>
/// <param name="OutsideStore">The name is well formed but would land outside what the store serves (its state folder).</param>
public sealed record NameMapping(ObjectKey? Key, string? Problem, bool OutsideStore)
{
    public static NameMapping To(ObjectKey key) => new(key, null, false);

    public static NameMapping Invalid(string problem) => new(null, problem, false);

    public static NameMapping Outside(string problem) => new(null, problem, true);
}

/// <summary>
/// The name rules of the IndexedCP door: how <c>X-File-Name</c> (and the status query's <c>filename</c>) become a key.
/// </summary>
/// <remarks>
/// Clients send the path as the user typed it (<c>data.bin</c>, <c>./sub/x.txt</c>, <c>C:\x</c>). Leading and inner
/// <c>./</c> and repeated separators are dropped, and <c>\</c> counts as a separator (Windows clients); <c>..</c>,
/// absolute paths, empty names, names ending in a separator and control characters are refused. The rest must make a
/// valid <see cref="ObjectKey"/> under the configured prefix, so everything lands inside the bucket's jail.
/// </remarks>
public static class IndexedCpNames
{
    /// <summary>The key a client's name is stored at, under <paramref name="prefix"/> (a valid key or "").</summary>
    public static NameMapping Map(string? clientName, string prefix, bool keepPaths)
    {
        if (string.IsNullOrWhiteSpace(clientName))
        {
            return NameMapping.Invalid("The file name is empty: send X-File-Name with the file's name.");
        }

        foreach (var c in clientName)
        {
            if (char.IsControl(c))
            {
                return NameMapping.Invalid("The file name must not contain control characters (NUL, CR, LF, ...).");
            }
        }

        if (clientName[0] is '/' or '\\' || (clientName.Length >= 2 && char.IsAsciiLetter(clientName[0]) && clientName[1] == ':'))
        {
            return NameMapping.Invalid("Absolute paths are not accepted: send the name relative to the folder being uploaded.");
        }

        var parts = clientName.Split('/', '\\');
        if (parts[^1].Length == 0)
        {
            return NameMapping.Invalid("The file name ends with a separator: it names a directory, not a file.");
        }

        var segments = new List<string>(parts.Length);
        foreach (var part in parts)
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                return NameMapping.Invalid("'..' is not allowed in file names.");
            }

            segments.Add(part);
        }

        if (segments.Count == 0)
        {
            return NameMapping.Invalid("The file name is empty once './' is removed.");
        }

        if (segments.Count > 1 && !keepPaths)
        {
            return NameMapping.Invalid("This server keeps no directories from client paths: send the file's base name (or start the server with --indexedcp-keep-paths).");
        }

        if (prefix.Length == 0 && segments[0] == ObjectKey.ReservedRootSegment)
        {
            return NameMapping.Outside($"'{ObjectKey.ReservedRootSegment}' is the server's state folder.");
        }

        var name = string.Join('/', segments);
        var parsed = ObjectKey.Parse(prefix.Length == 0 ? name : prefix + "/" + name);
        return parsed.TryGetValue(out var key, out var error) ? NameMapping.To(key) : NameMapping.Invalid(error.Message);
    }

    /// <summary>The configured prefix as a key prefix: surrounding '/' removed; "" for none.</summary>
    /// <exception cref="ArgumentException">The prefix is not a valid key.</exception>
    public static string NormalizePrefix(string? prefix)
    {
        var trimmed = (prefix ?? "").Trim('/');
        if (trimmed.Length == 0)
        {
            return "";
        }

        var parsed = ObjectKey.Parse(trimmed);
        return parsed.IsSuccess ? parsed.Value.Value : throw new ArgumentException($"IndexedCP prefix '{prefix}': {parsed.Error!.Message}");
    }

    /// <summary>The <c>filename</c> of a status query, read from the raw query string; null when absent or empty.</summary>
    /// <remarks>Clients append the name without URL-encoding it, so the value runs to the end of the query ('&amp;' and
    /// '+' are part of the name) and only %XX escapes that a client's URL parser added (a space as %20) are decoded.</remarks>
    public static string? StatusFileName(HttpRequest request)
    {
        var raw = request.QueryString.Value;
        if (string.IsNullOrEmpty(raw) || raw.Length < 2)
        {
            return null;
        }

        const string Parameter = "filename=";
        var query = raw.AsSpan(1);
        int start;
        if (query.StartsWith(Parameter, StringComparison.Ordinal))
        {
            start = Parameter.Length;
        }
        else
        {
            var at = query.IndexOf("&" + Parameter, StringComparison.Ordinal);
            if (at < 0)
            {
                return null;
            }

            start = at + 1 + Parameter.Length;
        }

        var value = Uri.UnescapeDataString(query[start..].ToString());
        return value.Length == 0 ? null : value;
    }
}
