using System.Security.Cryptography;

namespace Depot.Server.Tests.Infrastructure;

/// <summary>Local test files: pseudo-random content that a seed reproduces, and their SHA-256 (shared by the SDK and
/// CLI tests, which link this file).</summary>
public static class LocalFiles
{
    /// <summary>Writes <paramref name="length"/> pseudo-random bytes to <paramref name="path"/> (creating its directory).</summary>
    public static string WriteRandom(string path, long length, int seed)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        var random = new Random(seed);
        var buffer = new byte[1024 * 1024];
        for (long left = length; left > 0; left -= buffer.Length)
        {
            random.NextBytes(buffer);
            file.Write(buffer, 0, (int)Math.Min(buffer.Length, left));
        }

        return path;
    }

    public static string Sha256Of(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }
}
