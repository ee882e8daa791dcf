using System.Collections.Concurrent;
using System.Security.Cryptography;
using Depot.Client.Encryption;

namespace Depot.Client;

/// <summary>
/// The secret for client-side encryption (<see cref="DepotEncryption"/>, <c>UploadOptions.Encryption</c>,
/// <c>DownloadOptions.Encryption</c>): either a raw 256-bit key or a passphrase. The key never leaves the client;
/// losing it (or the passphrase) loses the data, since nothing on the server can decrypt it.
/// </summary>
/// <remarks>
/// <para>Thread-safe: one instance may encrypt and decrypt any number of files at the same time.</para>
/// <para>A passphrase is stretched with PBKDF2-HMAC-SHA256 (<see cref="DefaultIterations"/> iterations by default),
/// which takes a noticeable fraction of a second on purpose. Each encrypted file records the salt and iteration count
/// it was made with, and a passphrase key derives the file's key from those. The derived keys are cached inside the
/// instance per (salt, iterations), so reuse one instance instead of creating one per file. Files encrypted through the
/// same instance share its random salt (they still get distinct per-file keys from their random file ids), so the
/// stretching runs once per instance, not once per file.</para>
/// <para><see cref="ToString"/> never shows the key or the passphrase.</para>
/// </remarks>
public sealed class EncryptionKey
{
    /// <summary>The length of a raw key in bytes (AES-256).</summary>
    public const int KeyLength = 32;

    /// <summary>PBKDF2 iterations used by <see cref="FromPassphrase"/> unless told otherwise (OWASP's recommendation for
    /// PBKDF2-HMAC-SHA256).</summary>
    public const int DefaultIterations = 600_000;

    /// <summary>The fewest PBKDF2 iterations accepted. Values this low are for tests and old data only; they make a
    /// guessed passphrase cheap to check.</summary>
    public const int MinIterations = 1_000;

    /// <summary>The most PBKDF2 iterations accepted, when creating a key and in a file's header (a bound on how long
    /// a forged header can make the client compute).</summary>
    public const int MaxIterations = 10_000_000;

    private const int MaxCachedKeys = 1024;

    private readonly byte[]? _rawKey;
    private readonly string? _passphrase;
    private readonly byte[] _salt;
    private readonly ConcurrentDictionary<SaltAndIterations, Lazy<byte[]>>? _derived;

    private EncryptionKey(byte[]? rawKey, string? passphrase, int iterations, byte[] salt)
    {
        _rawKey = rawKey;
        _passphrase = passphrase;
        Iterations = iterations;
        _salt = salt;
        if (passphrase is not null)
        {
            _derived = new ConcurrentDictionary<SaltAndIterations, Lazy<byte[]>>();
        }
    }

    /// <summary>True for a passphrase key, false for a raw key.</summary>
    public bool IsPassphrase => _passphrase is not null;

    /// <summary>The PBKDF2 iteration count this key writes into the files it encrypts; 0 for a raw key. Decryption uses
    /// the count recorded in each file instead.</summary>
    public int Iterations { get; }

    /// <summary>A raw 256-bit key (copied; later changes to <paramref name="key"/> have no effect). Generate one with
    /// <see cref="RandomNumberGenerator.GetBytes(int)"/> and keep it somewhere safe.</summary>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not exactly <see cref="KeyLength"/> (32) bytes.</exception>
    public static EncryptionKey FromBytes(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeyLength)
        {
            throw new ArgumentException($"An encryption key is exactly {KeyLength} bytes (AES-256); got {key.Length}.", nameof(key));
        }

        return new EncryptionKey(key.ToArray(), null, 0, new byte[EncryptionFormat.SaltLength]);
    }

    /// <summary>
    /// A new random raw key that exists only in this instance: there is no way to get its bytes back, so data encrypted
    /// with it is lost with the instance. For tests and for data that must not outlive the process (a temporary cache).
    /// To keep data, make the key with <see cref="RandomNumberGenerator.GetBytes(int)"/>, store those bytes safely, and
    /// use <see cref="FromBytes"/>.
    /// </summary>
    public static EncryptionKey Generate() =>
        new(RandomNumberGenerator.GetBytes(KeyLength), null, 0, new byte[EncryptionFormat.SaltLength]);

    /// <summary>
    /// A key derived from a passphrase with PBKDF2-HMAC-SHA256. The passphrase is encoded as UTF-8 exactly as given (no
    /// Unicode normalization or trimming). Nothing is computed here: the derivation runs on first use and is cached.
    /// </summary>
    /// <param name="passphrase">The passphrase; must not be empty. Kept in memory by this instance.</param>
    /// <param name="iterations">PBKDF2 iterations for files this key encrypts, from <see cref="MinIterations"/> to
    /// <see cref="MaxIterations"/>. Keep the default (600,000) or raise it; lower values are for tests.</param>
    /// <exception cref="ArgumentException">The passphrase is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="iterations"/> is outside the accepted range.</exception>
    public static EncryptionKey FromPassphrase(string passphrase, int iterations = DefaultIterations)
    {
        ArgumentException.ThrowIfNullOrEmpty(passphrase);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, MinIterations);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(iterations, MaxIterations);
        return new EncryptionKey(null, passphrase, iterations, RandomNumberGenerator.GetBytes(EncryptionFormat.SaltLength));
    }

    /// <summary>Says what kind of key this is, never the key or passphrase.</summary>
    public override string ToString() => IsPassphrase
        ? $"EncryptionKey(passphrase, PBKDF2-HMAC-SHA256, {Iterations} iterations)"
        : "EncryptionKey(raw 256-bit key)";

    /// <summary>The KDF fields a new file's header gets from this key.</summary>
    internal (KeyDerivation Kdf, uint Iterations, byte[] Salt) ParametersForNewFile() => IsPassphrase
        ? (KeyDerivation.Pbkdf2Sha256, (uint)Iterations, _salt)
        : (KeyDerivation.RawKey, 0u, _salt);

    /// <summary>The 32-byte master key for a file whose header names <paramref name="kdf"/>, <paramref name="iterations"/>
    /// and <paramref name="salt"/>. The array is shared: callers must not change it.</summary>
    /// <exception cref="DecryptionException">The file needs the other kind of key, or its iteration count is out of range.</exception>
    internal byte[] MasterKey(KeyDerivation kdf, uint iterations, ReadOnlySpan<byte> salt)
    {
        if (_rawKey is not null)
        {
            return kdf == KeyDerivation.RawKey
                ? _rawKey
                : throw new DecryptionException("The file is protected by a passphrase, but a raw key was given (or the file was changed).");
        }

        if (kdf != KeyDerivation.Pbkdf2Sha256)
        {
            throw new DecryptionException("The file is protected by a raw key, but a passphrase was given (or the file was changed).");
        }

        if (iterations is < MinIterations or > MaxIterations)
        {
            throw new DecryptionException(
                $"The encryption header asks for {iterations} PBKDF2 iterations, outside {MinIterations}..{MaxIterations}: the file was changed.");
        }

        var cache = _derived!;
        var id = new SaltAndIterations(Convert.ToHexString(salt), (int)iterations);
        if (cache.TryGetValue(id, out var found))
        {
            return found.Value;
        }

        if (cache.Count >= MaxCachedKeys)
        {
            // Each file encrypted elsewhere may carry its own salt; a long-lived key must not grow without bound.
            cache.Clear();
        }

        var saltCopy = salt.ToArray();
        var passphrase = _passphrase!;
        var lazy = cache.GetOrAdd(id, _ => new Lazy<byte[]>(
            () => Rfc2898DeriveBytes.Pbkdf2(passphrase, saltCopy, (int)iterations, HashAlgorithmName.SHA256, KeyLength),
            LazyThreadSafetyMode.ExecutionAndPublication));
        return lazy.Value;
    }

    private readonly record struct SaltAndIterations(string Salt, int Iterations);
}
