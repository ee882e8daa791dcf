using System.Text;
using Depot.Core.Errors;
using Depot.Core.Paths;

namespace Depot.Core.Model;

/// <summary>The opaque listing cursor: the last key of the previous page, base64url-encoded.</summary>
public static class ListCursor
{
    public static string Encode(ObjectKey lastKey) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(lastKey.Value)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The key a cursor stands for; null for no cursor; <c>invalid_request</c> for one that is not a cursor.</summary>
    public static Result<ObjectKey?> Decode(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return (ObjectKey?)null;
        }

        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/') + new string('=', (4 - (cursor.Length % 4)) % 4);
            var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Convert.FromBase64String(padded));
            if (ObjectKey.Parse(text).TryGetValue(out var key, out _))
            {
                return key;
            }
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException)
        {
            // fall through
        }

        return DepotError.InvalidRequest("The cursor is not one this server issued; start the listing again without it.");
    }
}
