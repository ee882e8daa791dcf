namespace Depot.Client;

/// <summary>How a key-value write stores the entry.</summary>
/// <remarks>Every write sets the expiry anew (HTTP API §3.21): a write without <see cref="TimeToLive"/> or
/// <see cref="ExpiresAt"/> makes the entry permanent, also when it replaces one that was going to expire. There is no
/// request that changes only the expiry.</remarks>
public sealed class KeyValueWriteOptions
{
    /// <summary>The entry expires this long after the write (sent as whole seconds, rounded up; 1 s to ten years).
    /// Takes precedence over <see cref="ExpiresAt"/> when both are set.</summary>
    public TimeSpan? TimeToLive { get; set; }

    /// <summary>The entry expires at this time (by the server's clock; in the future and at most ten years ahead, else
    /// <see cref="InvalidRequestException"/> and nothing is stored).</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>The content type to store. Null: the typed (JSON) writes store <c>application/json</c>; raw writes let
    /// the server keep the previous type of a replaced entry or guess one from the key's extension.</summary>
    public string? ContentType { get; set; }
}

/// <summary>An entry read whole: its value and its version.</summary>
public sealed record KeyValueEntry
{
    /// <summary>The entry's key inside the bucket.</summary>
    public required string Key { get; init; }

    /// <summary>The value, exactly the stored bytes (checked against their SHA-256).</summary>
    public required byte[] Value { get; init; }

    /// <summary>The version: the quoted SHA-256 of <see cref="Value"/>, for
    /// <see cref="DepotKeyValue.CompareAndSwapAsync(string, ReadOnlyMemory{byte}, string, KeyValueWriteOptions?, CancellationToken)"/>.</summary>
    public required string ETag { get; init; }

    /// <summary>When the entry expires (whole seconds, as the server's <c>X-Depot-Expires</c> header says); null for
    /// never. <see cref="DepotKeyValue.GetExpiryAsync"/> has the full precision.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>The stored content type.</summary>
    public string? ContentType { get; init; }
}

/// <summary>An entry read whole and deserialized from JSON.</summary>
/// <typeparam name="T">The type the value was read as.</typeparam>
public sealed record KeyValueEntry<T>
{
    /// <summary>The entry's key inside the bucket.</summary>
    public required string Key { get; init; }

    /// <summary>The value, deserialized (may be null when the stored JSON is <c>null</c>).</summary>
    public required T Value { get; init; }

    /// <summary>The version: the quoted SHA-256 of the stored JSON bytes, for compare-and-swap.</summary>
    public required string ETag { get; init; }

    /// <summary>When the entry expires (whole seconds); null for never.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>The stored content type.</summary>
    public string? ContentType { get; init; }
}

/// <summary>An entry as the server describes it after a write: its new version, without the value.</summary>
public sealed record KeyValueInfo
{
    /// <summary>The entry's key inside the bucket.</summary>
    public required string Key { get; init; }

    /// <summary>The new version: the quoted SHA-256 of the value written.</summary>
    public required string ETag { get; init; }

    /// <summary>The value's length in bytes.</summary>
    public long Size { get; init; }

    /// <summary>When the entry expires (full precision); null for never.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>The stored content type.</summary>
    public string? ContentType { get; init; }

    /// <summary>When the value was written, by the server's clock.</summary>
    public DateTimeOffset Modified { get; init; }

    internal static KeyValueInfo From(DepotObject written) => new()
    {
        Key = written.Path.Key,
        ETag = written.ETag ?? DepotKeyValue.QuoteSha256(written.Sha256),
        Size = written.Size,
        Expires = written.Expires,
        ContentType = written.ContentType,
        Modified = written.Modified,
    };
}

/// <summary>The outcome of <see cref="DepotKeyValue.TryCompareAndSwapAsync"/>; deconstructs as
/// <c>var (swapped, etag) = …</c>.</summary>
/// <param name="Swapped">True when the new value was written.</param>
/// <param name="CurrentETag">The entry's version now: the new value's ETag when <paramref name="Swapped"/>; otherwise
/// the version that made the swap fail, or null when no entry exists (or it expired).</param>
public readonly record struct KeyValueSwapResult(bool Swapped, string? CurrentETag);
