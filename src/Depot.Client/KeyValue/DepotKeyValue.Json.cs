using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Depot.Client;

/// <summary>Typed entries: values stored as JSON (UTF-8, <c>application/json</c>) with System.Text.Json.</summary>
/// <remarks>Each typed call has two forms: one taking a <see cref="JsonTypeInfo{T}"/> from a source-generated
/// <c>JsonSerializerContext</c> (safe for trimming and native AOT), and one without, which uses reflection with the web
/// defaults (<see cref="JsonSerializerOptions.Web"/>: camelCase, case-insensitive reading) and is marked as unsafe for
/// trimming. A value that is not JSON of <c>T</c> makes the reading call throw <see cref="JsonException"/>.</remarks>
public sealed partial class DepotKeyValue
{
    private const string JsonContentType = "application/json";
    private const string ReflectionUnreferenced =
        "Serializes T with reflection-based System.Text.Json, which trimming can break. Pass a JsonTypeInfo<T> from a JsonSerializerContext.";
    private const string ReflectionDynamic =
        "Reflection-based System.Text.Json may need code generated at run time. Pass a JsonTypeInfo<T> from a JsonSerializerContext.";

    /// <summary>Creates the entry with <paramref name="value"/> as JSON (create only, as
    /// <see cref="PutAsync(string, ReadOnlyMemory{byte}, KeyValueWriteOptions?, CancellationToken)"/>).</summary>
    /// <returns>The new entry's version.</returns>
    /// <exception cref="AlreadyExistsException">Anything is at the key already; nothing changed.</exception>
    public Task<KeyValueInfo> PutAsync<T>(string key, T value, JsonTypeInfo<T> typeInfo, KeyValueWriteOptions? options = null,
        CancellationToken cancellationToken = default) =>
        WriteAsync(PathOf(key), Serialize(value, typeInfo), options, overwrite: false, ifMatch: null, JsonContentType, cancellationToken);

    /// <summary>Creates the entry with <paramref name="value"/> as JSON (reflection, web defaults; create only).</summary>
    /// <remarks>Byte arrays, memory and streams go to the raw overloads; call with an explicit <c>&lt;T&gt;</c> to
    /// store one of them as JSON.</remarks>
    /// <returns>The new entry's version.</returns>
    /// <exception cref="AlreadyExistsException">Anything is at the key already; nothing changed.</exception>
    [RequiresUnreferencedCode(ReflectionUnreferenced)]
    [RequiresDynamicCode(ReflectionDynamic)]
    public Task<KeyValueInfo> PutAsync<T>(string key, T value, KeyValueWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        PutAsync(key, value, WebTypeInfo<T>(), options, cancellationToken);

    /// <summary>Creates or replaces the entry with <paramref name="value"/> as JSON. The expiry is set anew.</summary>
    /// <returns>The entry's new version.</returns>
    public Task<KeyValueInfo> UpdateAsync<T>(string key, T value, JsonTypeInfo<T> typeInfo, KeyValueWriteOptions? options = null,
        CancellationToken cancellationToken = default) =>
        WriteAsync(PathOf(key), Serialize(value, typeInfo), options, overwrite: true, ifMatch: null, JsonContentType, cancellationToken);

    /// <summary>Creates or replaces the entry with <paramref name="value"/> as JSON (reflection, web defaults).</summary>
    /// <returns>The entry's new version.</returns>
    [RequiresUnreferencedCode(ReflectionUnreferenced)]
    [RequiresDynamicCode(ReflectionDynamic)]
    public Task<KeyValueInfo> UpdateAsync<T>(string key, T value, KeyValueWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        UpdateAsync(key, value, WebTypeInfo<T>(), options, cancellationToken);

    /// <summary>Reads the entry and deserializes it from JSON.</summary>
    /// <exception cref="NotFoundException">No entry at the key, or it expired.</exception>
    /// <exception cref="JsonException">The value is not JSON of <typeparamref name="T"/>.</exception>
    public async Task<KeyValueEntry<T>> GetAsync<T>(string key, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        var raw = await GetAsync(key, cancellationToken).ConfigureAwait(false);
        return Typed(raw, typeInfo);
    }

    /// <summary>Reads the entry and deserializes it from JSON (reflection, web defaults).</summary>
    /// <exception cref="NotFoundException">No entry at the key, or it expired.</exception>
    /// <exception cref="JsonException">The value is not JSON of <typeparamref name="T"/>.</exception>
    [RequiresUnreferencedCode(ReflectionUnreferenced)]
    [RequiresDynamicCode(ReflectionDynamic)]
    public Task<KeyValueEntry<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default) =>
        GetAsync(key, WebTypeInfo<T>(), cancellationToken);

    /// <summary>Reads the entry and deserializes it from JSON, or returns null when there is none (or it expired).</summary>
    /// <exception cref="JsonException">The value is not JSON of <typeparamref name="T"/>.</exception>
    public async Task<KeyValueEntry<T>?> TryGetAsync<T>(string key, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        var raw = await TryGetAsync(key, cancellationToken).ConfigureAwait(false);
        return raw is null ? null : Typed(raw, typeInfo);
    }

    /// <summary>Reads the entry as JSON (reflection, web defaults), or returns null when there is none.</summary>
    /// <exception cref="JsonException">The value is not JSON of <typeparamref name="T"/>.</exception>
    [RequiresUnreferencedCode(ReflectionUnreferenced)]
    [RequiresDynamicCode(ReflectionDynamic)]
    public Task<KeyValueEntry<T>?> TryGetAsync<T>(string key, CancellationToken cancellationToken = default) =>
        TryGetAsync(key, WebTypeInfo<T>(), cancellationToken);

    /// <summary>Replaces the entry with <paramref name="newValue"/> as JSON only if its version is still
    /// <paramref name="expectedETag"/> (compare-and-swap). The expiry is set anew.</summary>
    /// <returns>The new version.</returns>
    /// <exception cref="PreconditionFailedException">The swap lost (another version, in
    /// <see cref="PreconditionFailedException.CurrentETag"/>, or no entry); nothing changed.</exception>
    public async Task<string> CompareAndSwapAsync<T>(string key, T newValue, string expectedETag, JsonTypeInfo<T> typeInfo,
        KeyValueWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(expectedETag);
        var written = await WriteAsync(PathOf(key), Serialize(newValue, typeInfo), options, overwrite: true, expectedETag, JsonContentType,
            cancellationToken).ConfigureAwait(false);
        return written.ETag;
    }

    /// <summary>Compare-and-swap with <paramref name="newValue"/> as JSON (reflection, web defaults).</summary>
    /// <returns>The new version.</returns>
    /// <exception cref="PreconditionFailedException">The swap lost; nothing changed.</exception>
    [RequiresUnreferencedCode(ReflectionUnreferenced)]
    [RequiresDynamicCode(ReflectionDynamic)]
    public Task<string> CompareAndSwapAsync<T>(string key, T newValue, string expectedETag, KeyValueWriteOptions? options = null,
        CancellationToken cancellationToken = default) =>
        CompareAndSwapAsync(key, newValue, expectedETag, WebTypeInfo<T>(), options, cancellationToken);

    /// <summary>
    /// Changes the entry by a function of its current value, without losing concurrent changes: reads it, applies
    /// <paramref name="change"/>, and writes the result only if the entry is still the version read (compare-and-swap,
    /// or create-only when there was none); when another writer got there first, waits a short random time and starts
    /// over, up to <paramref name="maxAttempts"/> times in all.
    /// </summary>
    /// <param name="change">Gets the current value (<c>default</c> when there is no entry) and returns the new one. It
    /// may be called several times, so it should have no side effects; an exception from it stops the update.</param>
    /// <param name="maxAttempts">Read-change-write rounds before giving up (at least 1). Default 10.</param>
    /// <returns>The value written and its version.</returns>
    /// <exception cref="PreconditionFailedException">Every attempt lost to another writer (or, when there was no entry,
    /// <see cref="AlreadyExistsException"/>); the last one is thrown.</exception>
    /// <exception cref="JsonException">The current value is not JSON of <typeparamref name="T"/>.</exception>
    public async Task<KeyValueEntry<T>> UpdateWithRetryAsync<T>(string key, Func<T?, T> change, JsonTypeInfo<T> typeInfo,
        KeyValueWriteOptions? options = null, int maxAttempts = 10, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(typeInfo);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        var path = PathOf(key);
        for (var attempt = 1; ; attempt++)
        {
            var current = await TryGetAsync(key, typeInfo, cancellationToken).ConfigureAwait(false);
            var next = change(current is null ? default : current.Value);
            try
            {
                var written = await WriteAsync(path, Serialize(next, typeInfo), options, overwrite: current is not null, current?.ETag, JsonContentType,
                    cancellationToken).ConfigureAwait(false);
                return new KeyValueEntry<T>
                {
                    Key = written.Key,
                    Value = next,
                    ETag = written.ETag,
                    Expires = written.Expires,
                    ContentType = written.ContentType,
                };
            }
            catch (DepotException e) when (e is PreconditionFailedException or AlreadyExistsException && attempt < maxAttempts)
            {
                // Lost the race: back off a little (randomly, so the losers spread out) and read the winner's value.
                var ceiling = Math.Min(100, 2 << Math.Min(attempt, 6));
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling), _client.Options.TimeProvider, cancellationToken)
                    .ConfigureAwait(false);
            }
        }
    }

    /// <summary>Changes the entry by a function of its current value with JSON by reflection (web defaults); see
    /// <see cref="UpdateWithRetryAsync{T}(string, Func{T, T}, JsonTypeInfo{T}, KeyValueWriteOptions?, int, CancellationToken)"/>.</summary>
    /// <returns>The value written and its version.</returns>
    /// <exception cref="PreconditionFailedException">Every attempt lost to another writer.</exception>
    [RequiresUnreferencedCode(ReflectionUnreferenced)]
    [RequiresDynamicCode(ReflectionDynamic)]
    public Task<KeyValueEntry<T>> UpdateWithRetryAsync<T>(string key, Func<T?, T> change, KeyValueWriteOptions? options = null, int maxAttempts = 10,
        CancellationToken cancellationToken = default) =>
        UpdateWithRetryAsync(key, change, WebTypeInfo<T>(), options, maxAttempts, cancellationToken);

    private static ReadOnlyMemory<byte> Serialize<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        return JsonSerializer.SerializeToUtf8Bytes(value, typeInfo);
    }

    private static KeyValueEntry<T> Typed<T>(KeyValueEntry raw, JsonTypeInfo<T> typeInfo) => new()
    {
        Key = raw.Key,
        Value = JsonSerializer.Deserialize(raw.Value, typeInfo)!,
        ETag = raw.ETag,
        Expires = raw.Expires,
        ContentType = raw.ContentType,
    };

    [RequiresUnreferencedCode(ReflectionUnreferenced)]
    [RequiresDynamicCode(ReflectionDynamic)]
    private static JsonTypeInfo<T> WebTypeInfo<T>() => (JsonTypeInfo<T>)JsonSerializerOptions.Web.GetTypeInfo(typeof(T));
}
