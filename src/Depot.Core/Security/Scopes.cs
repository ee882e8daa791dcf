namespace Depot.Core.Security;

/// <summary>What an API key may do. <c>admin</c> implies every other scope.</summary>
[Flags]
public enum Scopes
{
    None = 0,
    Read = 1,
    Write = 2,
    Delete = 4,
    Admin = 8,
    All = Read | Write | Delete | Admin,
}

public static class ScopeNames
{
    public static bool TryParse(string? text, out Scopes scopes)
    {
        scopes = Scopes.None;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        foreach (var part in text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            switch (part.ToLowerInvariant())
            {
                case "read": scopes |= Scopes.Read; break;
                case "write": scopes |= Scopes.Write; break;
                case "delete": scopes |= Scopes.Delete; break;
                case "admin": scopes |= Scopes.Admin; break;
                default: scopes = Scopes.None; return false;
            }
        }

        return true;
    }

    public static string[] ToNames(Scopes scopes)
    {
        var names = new List<string>(4);
        if (scopes.HasFlag(Scopes.Read)) names.Add("read");
        if (scopes.HasFlag(Scopes.Write)) names.Add("write");
        if (scopes.HasFlag(Scopes.Delete)) names.Add("delete");
        if (scopes.HasFlag(Scopes.Admin)) names.Add("admin");
        return [.. names];
    }
}
