using System.Text;
using Depot.Core.Errors;
using Depot.Protocol;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>User metadata sent as <c>X-Depot-Meta-{name}</c> headers.</summary>
internal static class Metadata
{
    public const int MaxNameBytes = 64;
    public const int MaxValueBytes = 256;
    public const int MaxEntries = 64;

    /// <summary>The metadata in the request headers: names lower-cased ([a-z0-9._-]), values percent-decoded UTF-8.</summary>
    public static Result<Dictionary<string, string>?> FromHeaders(IHeaderDictionary headers)
    {
        Dictionary<string, string>? result = null;
        foreach (var (header, values) in headers)
        {
            if (!header.StartsWith(DepotHeaders.MetaPrefix, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var name = header[DepotHeaders.MetaPrefix.Length..].ToLowerInvariant();
            if (name.Length == 0 || name.Length > MaxNameBytes || name.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_' and not '.'))
            {
                return DepotError.InvalidRequest($"Metadata names have 1 to {MaxNameBytes} characters of a-z, 0-9, '-', '_' and '.' ('{name}' does not).");
            }

            string value;
            try
            {
                value = Uri.UnescapeDataString(values.ToString());
            }
            catch (UriFormatException)
            {
                return DepotError.InvalidRequest($"The value of metadata '{name}' is not valid percent-encoded UTF-8.");
            }

            if (Encoding.UTF8.GetByteCount(value) > MaxValueBytes || value.Any(char.IsControl))
            {
                return DepotError.InvalidRequest($"The value of metadata '{name}' must be at most {MaxValueBytes} bytes without control characters.");
            }

            result ??= new Dictionary<string, string>(StringComparer.Ordinal);
            result[name] = value;
            if (result.Count > MaxEntries)
            {
                return DepotError.InvalidRequest($"At most {MaxEntries} metadata entries are allowed.");
            }
        }

        return result;
    }
}
