using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Depot.Client.Transfers;
using Depot.Client.Transport;
using Depot.Core.Errors;

namespace Depot.Client;

/// <summary>
/// Key-value entries in one bucket, in the style of wrpme / quasardb (HTTP API §3.21), over the object routes: put
/// (create only), get, update (create or replace), delete, compare-and-swap, remove-if, get-and-delete and expiry.
/// Get one from <see cref="DepotClient.KeyValue"/>.
/// </summary>
/// <remarks>
/// <para>An entry's key follows the object key rules (<c>/</c> makes directories, which <see cref="DepotClient.ListAsync"/>
/// lists); its value is the object's bytes, of any size (0 bytes too); its version is the ETag, the quoted SHA-256 of the
/// value, so <see cref="ETagOf"/> gives the version of a value you already have (quasardb's compare with a value).</para>
/// <para>Each call is one request (a large value written from a stream may use an upload session); the server decides
/// concurrent calls on one key under the key's lock: of many create-only puts exactly one succeeds, of many
/// compare-and-swaps from one version exactly one succeeds, of many get-and-deletes exactly one gets the value. There
/// is no atomic get-and-update: <see cref="UpdateWithRetryAsync{T}(string, Func{T, T}, System.Text.Json.Serialization.Metadata.JsonTypeInfo{T}, KeyValueWriteOptions?, int, CancellationToken)"/>
/// reads, changes and compare-and-swaps until it wins.</para>
/// <para>Thread-safe. Failures are the client's typed exceptions (<see cref="NotFoundException"/>,
/// <see cref="AlreadyExistsException"/>, <see cref="PreconditionFailedException"/>, …) with the server's error code.</para>
/// </remarks>
public sealed partial class DepotKeyValue
{
    private readonly DepotClient _client;

    internal DepotKeyValue(DepotClient client, string bucket)
    {
        ArgumentNullException.ThrowIfNull(client);
        _ = new DepotPath(bucket, ""); // the same bucket-name checks as a path
        _client = client;
        Bucket = bucket;
    }

    /// <summary>The bucket the entries live in.</summary>
    public string Bucket { get; }

    /// <summary>The ETag the server gives an entry whose value is <paramref name="value"/>: the SHA-256 of the bytes,
    /// lower-case hex, quoted. Pass it as the expected version of a compare-and-swap to swap only when the entry still
    /// holds that value.</summary>
    public static string ETagOf(ReadOnlySpan<byte> value) => "\"" + Convert.ToHexStringLower(SHA256.HashData(value)) + "\"";

    /// <summary>Creates the entry (create only, wrpme <c>put</c>): <c>PUT</c> with <c>If-None-Match: *</c>.</summary>
    /// <returns>The new entry's version.</returns>
    /// <exception cref="AlreadyExistsException">Anything is at the key already (an entry, or a directory); nothing
    /// changed. An expired entry does not count: its key can be put again.</exception>
    /// <exception cref="InvalidRequestException">A bad key, or an expiry in the past or more than ten years ahead.</exception>
    [OverloadResolutionPriority(1)]
    public Task<KeyValueInfo> PutAsync(string key, ReadOnlyMemory<byte> value, KeyValueWriteOptions? options = null,
        CancellationToken cancellationToken = default) =>
        WriteAsync(PathOf(key), value, options, overwrite: false, ifMatch: null, defaultContentType: null, cancellationToken);

    /// <summary>Creates the entry from what <paramref name="value"/> yields from its current position to its end (streamed,
    /// not buffered; the stream is not disposed). Create only, as the bytes overload.</summary>
    /// <remarks>A value that is large (<see cref="DepotClientOptions.ResumableThreshold"/>) or comes from a non-seekable
    /// stream without an expiry goes through an upload session, verified before it is published; the create-only check
    /// is made when the session starts and again when it is published.</remarks>
    /// <returns>The new entry's version.</returns>
    /// <exception cref="AlreadyExistsException">Anything is at the key already; nothing changed.</exception>
    [OverloadResolutionPriority(1)]
    public async Task<KeyValueInfo> PutAsync(string key, Stream value, KeyValueWriteOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var written = await _client.UploadAsync(value, PathOf(key), Upload(options, overwrite: false, ifMatch: null, defaultContentType: null), null,
            cancellationToken).ConfigureAwait(false);
        return KeyValueInfo.From(written);
    }

    /// <summary>Creates or replaces the entry (wrpme <c>update</c>). The expiry is set anew: without one in
    /// <paramref name="options"/> the entry becomes permanent.</summary>
    /// <returns>The entry's new version.</returns>
    /// <exception cref="ConflictException">A directory is at the key, or a file is in the way of a parent.</exception>
    [OverloadResolutionPriority(1)]
    public Task<KeyValueInfo> UpdateAsync(string key, ReadOnlyMemory<byte> value, KeyValueWriteOptions? options = null,
        CancellationToken cancellationToken = default) =>
        WriteAsync(PathOf(key), value, options, overwrite: true, ifMatch: null, defaultContentType: null, cancellationToken);

    /// <summary>Creates or replaces the entry with what <paramref name="value"/> yields (streamed, not buffered; the
    /// stream is not disposed). Readers see the old value or the new one, never a mix.</summary>
    /// <returns>The entry's new version.</returns>
    [OverloadResolutionPriority(1)]
    public async Task<KeyValueInfo> UpdateAsync(string key, Stream value, KeyValueWriteOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var written = await _client.UploadAsync(value, PathOf(key), Upload(options, overwrite: true, ifMatch: null, defaultContentType: null), null,
            cancellationToken).ConfigureAwait(false);
        return KeyValueInfo.From(written);
    }

    /// <summary>Reads the entry whole into memory. For large values use <see cref="GetStreamAsync"/>.</summary>
    /// <remarks>The value is checked against its SHA-256; value, ETag and expiry belong to one version.</remarks>
    /// <exception cref="NotFoundException">No entry at the key, or it expired.</exception>
    /// <exception cref="ConflictException">A directory is at the key.</exception>
    /// <exception cref="ChecksumMismatchException">The bytes received do not match the value's SHA-256.</exception>
    /// <exception cref="InvalidOperationException">The value is too large for one array; read it as a stream.</exception>
    public async Task<KeyValueEntry> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        var download = await ResumableDownload.OpenAsync(_client, path, 0, null, cancellationToken).ConfigureAwait(false);
        await using (download.ConfigureAwait(false))
        {
            var described = download.Object;
            if (described.Size > Array.MaxLength)
            {
                throw new InvalidOperationException($"get {path}: the value has {described.Size} bytes, more than one array holds. Read it with GetStreamAsync.");
            }

            var value = GC.AllocateUninitializedArray<byte>((int)described.Size);
            var filled = 0;
            while (filled < value.Length)
            {
                var read = await download.ReadAsync(value.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                filled += read;
            }

            return Entry(path, described, value, filled, "get");
        }
    }

    /// <summary>Reads the entry whole into memory, or returns null when there is none (or it expired).</summary>
    /// <exception cref="ConflictException">A directory is at the key.</exception>
    public async Task<KeyValueEntry?> TryGetAsync(string key, CancellationToken cancellationToken = default)
    {
        try
        {
            return await GetAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return null;
        }
    }

    /// <summary>Opens the entry's value as a stream, for values too large to hold in memory: bytes arrive as they are
    /// read, and reading to the end checks them against the value's SHA-256. Dispose the stream when done.</summary>
    /// <returns>The value's stream, carrying the version (<see cref="KeyValueReadStream.ETag"/>), expiry, content type
    /// and length; it reads that one version even if the entry is replaced meanwhile (or fails with
    /// <see cref="ConflictException"/>).</returns>
    /// <exception cref="NotFoundException">No entry at the key, or it expired.</exception>
    public async Task<KeyValueReadStream> GetStreamAsync(string key, CancellationToken cancellationToken = default)
    {
        var download = await ResumableDownload.OpenAsync(_client, PathOf(key), 0, null, cancellationToken).ConfigureAwait(false);
        return new KeyValueReadStream(Bucket, download.Object, download);
    }

    /// <summary>Deletes the entry (wrpme <c>remove</c>).</summary>
    /// <exception cref="NotFoundException">No entry at the key, or it expired.</exception>
    /// <exception cref="ConflictException">A directory is at the key.</exception>
    public Task DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        _client.DeleteAsync(PathOf(key), recursive: false, ifMatch: null, cancellationToken);

    /// <summary>Deletes the entry only if its version is still <paramref name="ifMatch"/> (wrpme <c>remove_if</c>).</summary>
    /// <param name="ifMatch">The expected ETag, quoted or bare hex (e.g. from <see cref="ETagOf"/>).</param>
    /// <exception cref="PreconditionFailedException">The entry holds another version
    /// (<see cref="PreconditionFailedException.CurrentETag"/>) or is gone (then it is null); nothing was deleted.</exception>
    public Task DeleteAsync(string key, string ifMatch, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(ifMatch);
        return _client.DeleteAsync(PathOf(key), recursive: false, ifMatch, cancellationToken);
    }

    /// <summary>Replaces the entry only if its version is still <paramref name="expectedETag"/> (compare-and-swap).
    /// The expiry is set anew, as for an update.</summary>
    /// <param name="expectedETag">The version read before (quoted or bare hex); <see cref="ETagOf"/> of a value to
    /// swap only while the entry holds that value.</param>
    /// <returns>The new version.</returns>
    /// <exception cref="PreconditionFailedException">The swap lost: the entry holds another version
    /// (<see cref="PreconditionFailedException.CurrentETag"/>), or none exists (<c>CurrentETag</c> null). Nothing
    /// changed. <see cref="TryCompareAndSwapAsync"/> answers this as a value instead.</exception>
    [OverloadResolutionPriority(1)]
    public async Task<string> CompareAndSwapAsync(string key, ReadOnlyMemory<byte> newValue, string expectedETag, KeyValueWriteOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(expectedETag);
        var written = await WriteAsync(PathOf(key), newValue, options, overwrite: true, expectedETag, defaultContentType: null, cancellationToken)
            .ConfigureAwait(false);
        return written.ETag;
    }

    /// <summary>Compare-and-swap that answers a lost race as a value: see
    /// <see cref="CompareAndSwapAsync(string, ReadOnlyMemory{byte}, string, KeyValueWriteOptions?, CancellationToken)"/>.</summary>
    /// <returns><c>(true, new ETag)</c> when swapped; <c>(false, current ETag)</c> when the entry holds another version;
    /// <c>(false, null)</c> when there is no entry.</returns>
    public async Task<KeyValueSwapResult> TryCompareAndSwapAsync(string key, ReadOnlyMemory<byte> newValue, string expectedETag,
        KeyValueWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return new KeyValueSwapResult(true, await CompareAndSwapAsync(key, newValue, expectedETag, options, cancellationToken).ConfigureAwait(false));
        }
        catch (PreconditionFailedException e)
        {
            return new KeyValueSwapResult(false, e.CurrentETag);
        }
    }

    /// <summary>Removes the entry and returns the value it held (wrpme <c>get_remove</c>, <c>DELETE ?take</c>), atomically:
    /// of several concurrent takes exactly one gets the value. Needs the <c>read</c> and <c>delete</c> scopes.</summary>
    /// <remarks>The removal is committed before the value is sent, so a connection lost during the answer loses the
    /// value; the request is therefore never repeated once it may have reached the server.</remarks>
    /// <exception cref="NotFoundException">No entry at the key, or it expired.</exception>
    /// <exception cref="ConflictException">A directory, or a file that has slave files.</exception>
    public Task<KeyValueEntry> GetAndDeleteAsync(string key, CancellationToken cancellationToken = default) =>
        TakeAsync(PathOf(key), null, cancellationToken);

    /// <summary>Removes the entry and returns its value, only if its version is still <paramref name="ifMatch"/>.</summary>
    /// <exception cref="PreconditionFailedException">The entry holds another version; nothing was removed.</exception>
    public Task<KeyValueEntry> GetAndDeleteAsync(string key, string ifMatch, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(ifMatch);
        return TakeAsync(PathOf(key), ifMatch, cancellationToken);
    }

    /// <summary>When the entry expires (full precision, by the server's clock), from <c>?stat</c>; null for never.</summary>
    /// <exception cref="NotFoundException">No entry at the key, or it has already expired.</exception>
    /// <exception cref="ConflictException">A directory is at the key.</exception>
    public async Task<DateTimeOffset?> GetExpiryAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        var described = await _client.StatAsync(path, cancellationToken).ConfigureAwait(false);
        if (!described.IsFile)
        {
            throw new ConflictException(ErrorCodes.Conflict, $"get expiry of {path}: it is a directory, not an entry.");
        }

        return described.Expires;
    }

    internal static string QuoteSha256(string? sha256) => sha256 is null ? "" : "\"" + sha256 + "\"";

    private async Task<KeyValueInfo> WriteAsync(DepotPath path, ReadOnlyMemory<byte> value, KeyValueWriteOptions? options, bool overwrite, string? ifMatch,
        string? defaultContentType, CancellationToken cancellationToken)
    {
        var written = await _client.UploadAsync(value, path, Upload(options, overwrite, ifMatch, defaultContentType), null, cancellationToken)
            .ConfigureAwait(false);
        return KeyValueInfo.From(written);
    }

    private async Task<KeyValueEntry> TakeAsync(DepotPath path, string? ifMatch, CancellationToken cancellationToken)
    {
        var request = new DepotRequest(HttpMethod.Delete, DepotClient.ObjectPath(path) + "?take", $"get and delete {path}")
        {
            // Not idempotent: the first attempt may have removed the value already.
            Headers = ifMatch is null ? null : m => m.Headers.TryAddWithoutValidation("If-Match", DepotClient.QuoteETag(ifMatch)),
        };
        using var response = await _client.Transport.SendCheckedAsync(request, cancellationToken).ConfigureAwait(false);
        var described = ResumableDownload.Describe(response, path);
        var value = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return Entry(path, described, value, value.Length, "get and delete");
    }

    private static KeyValueEntry Entry(DepotPath path, DepotObject described, byte[] value, int received, string verb)
    {
        if (received != described.Size)
        {
            throw new DepotException(ClientErrorCodes.Protocol, 0,
                $"{verb} {path}: received {received} of the value's {described.Size} bytes. Try again.");
        }

        var actual = Convert.ToHexStringLower(SHA256.HashData(value));
        if (described.Sha256 is { } expected && !string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
        {
            throw new ChecksumMismatchException($"{verb} {path}: the bytes received hash to {actual}, not the value's SHA-256 {expected}. Try again.", 0);
        }

        return new KeyValueEntry
        {
            Key = path.Key,
            Value = value,
            ETag = described.ETag ?? "\"" + actual + "\"",
            Expires = described.Expires,
            ContentType = described.ContentType,
        };
    }

    private static UploadOptions Upload(KeyValueWriteOptions? options, bool overwrite, string? ifMatch, string? defaultContentType) => new()
    {
        Overwrite = overwrite,
        IfMatch = ifMatch,
        TimeToLive = options?.TimeToLive,
        Expires = options?.TimeToLive is null ? options?.ExpiresAt : null,
        ContentType = options?.ContentType ?? defaultContentType,
    };

    private DepotPath PathOf(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key[0] == '/' || key[^1] == '/')
        {
            throw new ArgumentException($"An entry's key has no leading or trailing '/': '{key}'.", nameof(key));
        }

        foreach (var segment in key.Split('/'))
        {
            // The server refuses dot-only segments (§1.5), but System.Uri would remove "." and ".." before they are sent
            // and so address another key: refuse them here, as the server would.
            if (segment.Length > 0 && segment.AsSpan().TrimStart('.').IsEmpty)
            {
                throw new InvalidRequestException(ErrorCodes.InvalidPath, HttpStatusCode.BadRequest,
                    $"{Bucket}/{key}: a key segment made only of dots ('{segment}') is not allowed. Choose another key.");
            }
        }

        return new DepotPath(Bucket, key);
    }
}
