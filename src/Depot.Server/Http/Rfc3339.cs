using System.Globalization;
using System.Text.RegularExpressions;

namespace Depot.Server.Http;

/// <summary>RFC 3339 date-times as the API accepts them: full date, 'T', time with seconds, an optional fraction (up
/// to 7 digits, .NET's precision) and a zone that must be given ('Z' or ±hh:mm).</summary>
public static partial class Rfc3339
{
    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        return text is not null && Shape().IsMatch(text)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out value);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,7})?([Zz]|[+-]\d{2}:\d{2})$")]
    private static partial Regex Shape();
}
