using System.Text;
using Depot.Core.Errors;

namespace Depot.Core.Model;

/// <summary>The rules user metadata follows in every bucket (limits from <see cref="BucketOptions"/>).</summary>
/// <remarks>Names are lower-case because they travel as case-insensitive HTTP headers (<c>X-Depot-Meta-{name}</c>).</remarks>
public static class MetadataRules
{
    /// <summary>Checks names (1..limit bytes of a-z, 0-9, '-', '_', '.'), values (UTF-8, at most the limit in bytes, no
    /// control characters) and the number of entries.</summary>
    public static Outcome Validate(IReadOnlyDictionary<string, string> metadata, BucketOptions limits)
    {
        if (metadata.Count > limits.MaxMetadataEntries)
        {
            return DepotError.InvalidRequest($"At most {limits.MaxMetadataEntries} metadata entries are allowed; there are {metadata.Count}.");
        }

        foreach (var (name, value) in metadata)
        {
            if (!IsValidName(name, limits.MaxMetadataNameBytes))
            {
                return DepotError.InvalidRequest($"Metadata names have 1 to {limits.MaxMetadataNameBytes} characters of a-z, 0-9, '-', '_' and '.' ('{Printable(name)}' does not).");
            }

            if (value is null || Encoding.UTF8.GetByteCount(value) > limits.MaxMetadataValueBytes || value.Any(char.IsControl) || !IsWellFormed(value))
            {
                return DepotError.InvalidRequest($"The value of metadata '{name}' must be well-formed UTF-8 of at most {limits.MaxMetadataValueBytes} bytes without control characters.");
            }
        }

        return Outcome.Success;
    }

    public static bool IsValidName(string name, int maxBytes) =>
        name.Length > 0 && name.Length <= maxBytes && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.');

    private static bool IsWellFormed(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static string Printable(string name) => name.Length > 80 ? name[..80] + "…" : name;
}
