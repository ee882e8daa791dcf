using Depot.Core.Errors;

namespace Depot.Core.Paths;

/// <summary>Bucket names: 1–63 characters of lower-case ASCII letters, digits, '-', '_' and '.', starting with a letter or digit.</summary>
/// <remarks>Narrow on purpose so a bucket name is also a safe directory name, DNS label and URL segment.</remarks>
public static class BucketName
{
    public const string Default = "default";

    public static Outcome Validate(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 63)
        {
            return DepotError.InvalidPath("A bucket name has 1 to 63 characters.");
        }

        if (!char.IsAsciiLetterLower(name[0]) && !char.IsAsciiDigit(name[0]))
        {
            return DepotError.InvalidPath("A bucket name starts with a lower-case letter or a digit.");
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c is not '-' and not '_' and not '.')
            {
                return DepotError.InvalidPath("A bucket name has only a-z, 0-9, '-', '_' and '.'.");
            }
        }

        return name.Contains("..", StringComparison.Ordinal)
            ? DepotError.InvalidPath("A bucket name must not contain '..'.")
            : Outcome.Success;
    }
}
