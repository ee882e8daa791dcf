using Depot.Core.Errors;
using Depot.Protocol;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>User metadata sent as <c>X-Depot-Meta-{name}</c> headers.</summary>
internal static class Metadata
{
    /// <summary>Headers are not the place for more than this many entries, whatever a bucket allows.</summary>
    private const int MaxEntries = 1024;

    /// <summary>The metadata in the request headers: names lower-cased, values percent-decoded UTF-8. The engine checks
    /// them against the bucket's limits (<see cref="Core.Model.MetadataRules"/>).</summary>
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
            string value;
            try
            {
                value = Uri.UnescapeDataString(values.ToString());
            }
            catch (UriFormatException)
            {
                return DepotError.InvalidRequest($"The value of metadata '{name}' is not valid percent-encoded UTF-8.");
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
