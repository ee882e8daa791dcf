using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Depot.Client.Transfers;
using Depot.Client.Transport;
using Depot.Protocol;

namespace Depot.Client;

public sealed partial class DepotClient
{
    /// <summary>Uploads a local file to <paramref name="destination"/> (FastDFS <c>upload_by_filename</c> to a key).</summary>
    /// <remarks>
    /// Files of at least <see cref="DepotClientOptions.ResumableThreshold"/> bytes go through an upload session:
    /// chunks in parallel, each retried on transient failures, the whole verified before it is published. If this
    /// process dies, calling again for the same file (same path, size, modification time and content fingerprint)
    /// resumes where it stopped. Smaller files are one streamed PUT carrying their SHA-256. Either way readers see the
    /// old object or the new one, never a mix.
    /// </remarks>
    /// <returns>The stored object, as the server describes it.</returns>
    /// <exception cref="FileNotFoundException">No such local file.</exception>
    /// <exception cref="AlreadyExistsException"><see cref="UploadOptions.Overwrite"/> is false and the key is taken.</exception>
    /// <exception cref="ChecksumMismatchException">The file changed while it was sent; nothing was published.</exception>
    public Task<DepotObject> UploadAsync(string localPath, DepotPath destination, UploadOptions? options = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        UploadToAsync(UploadSource.FromFile(localPath), UploadTarget.ForKey(destination), options ?? new UploadOptions(), progress, cancellationToken);

    /// <summary>Uploads what <paramref name="content"/> yields from its current position to its end (FastDFS
    /// <c>upload_by_buffer</c> for large buffers). The stream is read, not disposed.</summary>
    /// <remarks>A seekable stream is read twice when it is small (to send its SHA-256 first) and can be sent again on
    /// a retry. A non-seekable one is sent through an upload session of unknown length, verified at completion.</remarks>
    public Task<DepotObject> UploadAsync(Stream content, DepotPath destination, UploadOptions? options = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        UploadToAsync(UploadSource.FromStream(content, destination.ToString()), UploadTarget.ForKey(destination), options ?? new UploadOptions(), progress, cancellationToken);

    /// <summary>Uploads bytes to <paramref name="destination"/> (FastDFS <c>upload_by_buffer</c>).</summary>
    public Task<DepotObject> UploadAsync(ReadOnlyMemory<byte> content, DepotPath destination, UploadOptions? options = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        UploadToAsync(UploadSource.FromBytes(content, destination.ToString()), UploadTarget.ForKey(destination), options ?? new UploadOptions(), progress, cancellationToken);

    /// <summary>Uploads a local file under a server-assigned id in <paramref name="bucket"/>
    /// (<c>{bucket}/M00/{hh}/{hh}/{opaque}.{ext}</c>, FastDFS <c>upload_by_filename</c>).</summary>
    /// <param name="extension">The id's extension (up to 6 letters and digits); null takes the file's own.</param>
    /// <returns>The object; its <see cref="DepotObject.Path"/> is the id.</returns>
    public Task<DepotObject> UploadWithIdAsync(string localPath, string bucket, string? extension = null, UploadOptions? options = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        extension ??= Path.GetExtension(localPath).TrimStart('.') is { Length: > 0 } own ? own : null;
        return UploadToAsync(UploadSource.FromFile(localPath), UploadTarget.ForId(bucket, extension), options ?? new UploadOptions(), progress, cancellationToken);
    }

    /// <summary>Uploads a stream under a server-assigned id (FastDFS <c>upload_by_buffer</c>).</summary>
    /// <returns>The object; its <see cref="DepotObject.Path"/> is the id.</returns>
    public Task<DepotObject> UploadWithIdAsync(Stream content, string bucket, string? extension = null, UploadOptions? options = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        UploadToAsync(UploadSource.FromStream(content, bucket), UploadTarget.ForId(bucket, extension), options ?? new UploadOptions(), progress, cancellationToken);

    /// <summary>Uploads bytes under a server-assigned id (FastDFS <c>upload_by_buffer</c>).</summary>
    /// <returns>The object; its <see cref="DepotObject.Path"/> is the id.</returns>
    public Task<DepotObject> UploadWithIdAsync(ReadOnlyMemory<byte> content, string bucket, string? extension = null, UploadOptions? options = null,
        CancellationToken cancellationToken = default) =>
        UploadToAsync(UploadSource.FromBytes(content, bucket), UploadTarget.ForId(bucket, extension), options ?? new UploadOptions(), null, cancellationToken);

    /// <summary>Uploads a slave file of <paramref name="master"/>: stored at the master's id plus
    /// <paramref name="prefix"/> (e.g. <c>_150x150</c>) and <paramref name="extension"/> (default: the master's).</summary>
    /// <param name="overwrite">Replace an existing slave; otherwise <see cref="AlreadyExistsException"/>.</param>
    /// <returns>The slave; its <see cref="DepotObject.Path"/> is the derived id.</returns>
    /// <exception cref="NotFoundException">No master.</exception>
    public Task<DepotObject> UploadSlaveAsync(string localPath, DepotPath master, string prefix, string? extension = null, bool overwrite = false,
        UploadOptions? options = null, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        UploadSlaveAsync(UploadSource.FromFile(localPath), master, prefix, extension, overwrite, options, progress, cancellationToken);

    /// <summary>Uploads bytes as a slave file of <paramref name="master"/> (see the file overload).</summary>
    public Task<DepotObject> UploadSlaveAsync(ReadOnlyMemory<byte> content, DepotPath master, string prefix, string? extension = null, bool overwrite = false,
        UploadOptions? options = null, CancellationToken cancellationToken = default) =>
        UploadSlaveAsync(UploadSource.FromBytes(content, master.ToString()), master, prefix, extension, overwrite, options, null, cancellationToken);

    /// <summary>Creates an empty appender object at <paramref name="path"/> (replacing what is there unless
    /// <paramref name="createOnly"/>).</summary>
    public Task<DepotObject> CreateAppenderAsync(DepotPath path, bool createOnly = false, CancellationToken cancellationToken = default) =>
        UploadAsync(ReadOnlyMemory<byte>.Empty, path, new UploadOptions { Appendable = true, Overwrite = !createOnly }, null, cancellationToken);

    /// <summary>Appends bytes to an appender object, atomically (all or nothing) and durably. Concurrent appends are
    /// serialized by the server without losing bytes.</summary>
    /// <returns>The object after the append (new size, SHA-256 and ETag).</returns>
    /// <exception cref="ConflictException">The object is not an appender object.</exception>
    /// <remarks>Not retried once the body may have reached the server (a repeated append would add the bytes twice);
    /// a <see cref="DepotUnavailableException"/> leaves it unknown whether it happened: compare the size.</remarks>
    public Task<DepotObject> AppendAsync(DepotPath path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) =>
        ChangeAppenderAsync(path, "?append", UploadSource.FromBytes(content, path.ToString()), "append to", null, cancellationToken);

    /// <summary>Appends what a stream yields (streamed, not buffered); see the bytes overload.</summary>
    public Task<DepotObject> AppendAsync(DepotPath path, Stream content, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default) =>
        ChangeAppenderAsync(path, "?append", UploadSource.FromStream(content, path.ToString()), "append to", progress, cancellationToken);

    /// <summary>Overwrites bytes of an appender object at <paramref name="offset"/>, atomically.</summary>
    /// <param name="extend">Allow the write to pass the current end (otherwise it must fit inside).</param>
    public Task<DepotObject> ModifyAsync(DepotPath path, long offset, ReadOnlyMemory<byte> content, bool extend = false, CancellationToken cancellationToken = default) =>
        ChangeAppenderAsync(path, ModifyQuery(offset, extend), UploadSource.FromBytes(content, path.ToString()), "modify", null, cancellationToken);

    /// <summary>Overwrites bytes of an appender object at <paramref name="offset"/> with what a stream yields.</summary>
    public Task<DepotObject> ModifyAsync(DepotPath path, long offset, Stream content, bool extend = false, CancellationToken cancellationToken = default) =>
        ChangeAppenderAsync(path, ModifyQuery(offset, extend), UploadSource.FromStream(content, path.ToString()), "modify", null, cancellationToken);

    /// <summary>Cuts an appender object to <paramref name="size"/> bytes (at most its current size), atomically.</summary>
    public async Task<DepotObject> TruncateAsync(DepotPath path, long size, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        var request = new DepotRequest(HttpMethod.Post, ObjectPath(path) + "?truncate=" + size.ToString(CultureInfo.InvariantCulture), $"truncate {path}")
        {
            Idempotent = true,
        };
        return DepotObject.From(await GetJsonAsync(request, DepotJson.Default.ObjectInfoDto, cancellationToken).ConfigureAwait(false));
    }

    private static string ModifyQuery(long offset, bool extend)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return "?modify&offset=" + offset.ToString(CultureInfo.InvariantCulture) + (extend ? "&extend" : "");
    }

    private async Task<DepotObject> ChangeAppenderAsync(DepotPath path, string query, UploadSource source, string verb,
        IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var reporter = new ProgressReporter(progress, source.Name, source.Length);
        var request = new DepotRequest(HttpMethod.Post, ObjectPath(path) + query, $"{verb} {path}")
        {
            // Modify writes the same bytes at the same place: repeating it is harmless. Append is not.
            Idempotent = query.StartsWith("?modify", StringComparison.Ordinal) && source.Reopenable,
            StreamingContent = watch =>
            {
                reporter.Reset(0);
                return new SourceContent(source.Open, source.Length, watch, reporter);
            },
        };
        var result = DepotObject.From(await GetJsonAsync(request, DepotJson.Default.ObjectInfoDto, cancellationToken).ConfigureAwait(false));
        reporter.Complete();
        return result;
    }

    private Task<DepotObject> UploadSlaveAsync(UploadSource source, DepotPath master, string prefix, string? extension, bool overwrite,
        UploadOptions? options, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        var query = "?slave=" + Uri.EscapeDataString(prefix) + (extension is null ? "" : "&ext=" + Uri.EscapeDataString(extension))
            + (overwrite ? "&overwrite" : "");
        var target = new UploadTarget(HttpMethod.Post, ObjectPath(master) + query, $"upload slave {prefix} of {master}", null, null, null);
        options ??= new UploadOptions();
        if (options.Encryption is { } key)
        {
            source = source.Encrypted(key);
        }

        return PutWholeAsync(source, target, options, progress, cancellationToken);
    }

    /// <summary>Chooses between one streamed request and an upload session.</summary>
    private Task<DepotObject> UploadToAsync(UploadSource source, UploadTarget target, UploadOptions options, IProgress<TransferProgress>? progress,
        CancellationToken cancellationToken)
    {
        if (options.Encryption is { } key)
        {
            source = source.Encrypted(key);
        }

        var singleOnly = options.IfMatch is not null || options.TimeToLive is not null || options.Expires is not null;
        if (options.Resumable == true && singleOnly)
        {
            throw new ArgumentException("IfMatch, TimeToLive and Expires need a single PUT; they cannot be combined with Resumable = true.", nameof(options));
        }

        var useSession = options.Resumable ?? (!singleOnly && (source.Length is not { } length ? true : length >= Options.ResumableThreshold));
        return useSession
            ? SessionUploader.UploadAsync(this, source, target, options, progress, cancellationToken)
            : PutWholeAsync(source, target, options, progress, cancellationToken);
    }

    /// <summary>One streamed request: PUT to a key, POST to a bucket (assigned id) or POST ?slave.</summary>
    private async Task<DepotObject> PutWholeAsync(UploadSource source, UploadTarget target, UploadOptions options, IProgress<TransferProgress>? progress,
        CancellationToken cancellationToken)
    {
        string? sha256 = null;
        var encrypted = options.Encryption is not null;
        if (options.Verify && source.Reopenable && !encrypted)
        {
            sha256 = await HashSourceAsync(source, cancellationToken).ConfigureAwait(false);
        }

        var reporter = new ProgressReporter(progress, source.Name, source.Length);
        using var sentHash = options.Verify && sha256 is null ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        var request = new DepotRequest(target.Method, target.PathAndQuery + UploadQuery(target, options), target.What)
        {
            Idempotent = source.Reopenable && options.Overwrite && options.IfMatch is null && target.Method == HttpMethod.Put,
            Headers = m => AddUploadHeaders(m, options, sha256),
            StreamingContent = watch =>
            {
                reporter.Reset(0);
                if (sentHash is not null)
                {
                    _ = sentHash.GetHashAndReset();
                }

                var content = new SourceContent(source.Open, source.Length, watch, reporter, sentHash);
                if (options.ContentType is { } type)
                {
                    content.Headers.ContentType = MediaTypeHeaderValue.Parse(type);
                }

                return content;
            },
        };
        var result = DepotObject.From(await GetJsonAsync(request, DepotJson.Default.ObjectInfoDto, cancellationToken).ConfigureAwait(false));
        if (sentHash is not null)
        {
            var sent = Convert.ToHexStringLower(sentHash.GetHashAndReset());
            if (!string.Equals(sent, result.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new ChecksumMismatchException(
                    $"{target.What}: the server stored bytes whose SHA-256 ({result.Sha256}) differs from what was sent ({sent}). The stored object is damaged: upload it again.",
                    0);
            }
        }

        reporter.Complete();
        return result;
    }

    private static string UploadQuery(UploadTarget target, UploadOptions options)
    {
        var separator = target.PathAndQuery.Contains('?', StringComparison.Ordinal) ? "&" : "?";
        var query = "";
        if (target.Extension is { } ext)
        {
            query += separator + "ext=" + Uri.EscapeDataString(ext);
            separator = "&";
        }

        if (options.Appendable)
        {
            query += separator + "appendable";
        }

        return query;
    }

    internal static void AddUploadHeaders(HttpRequestMessage message, UploadOptions options, string? sha256)
    {
        if (sha256 is not null)
        {
            message.Headers.TryAddWithoutValidation(DepotHeaders.Sha256, sha256);
        }

        if (!options.Overwrite)
        {
            message.Headers.TryAddWithoutValidation("If-None-Match", "*");
        }

        if (options.IfMatch is { } etag)
        {
            message.Headers.TryAddWithoutValidation("If-Match", QuoteETag(etag));
        }

        if (options.TimeToLive is { } ttl)
        {
            message.Headers.TryAddWithoutValidation(DepotHeaders.Ttl, ((long)Math.Ceiling(ttl.TotalSeconds)).ToString(CultureInfo.InvariantCulture));
        }
        else if (options.Expires is { } expires)
        {
            message.Headers.TryAddWithoutValidation(DepotHeaders.Expires, expires.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
        }

        if (options.Metadata is { } metadata)
        {
            foreach (var (name, value) in metadata)
            {
                message.Headers.TryAddWithoutValidation(DepotHeaders.MetaPrefix + name, Uri.EscapeDataString(value));
            }
        }
    }

    private static async Task<string> HashSourceAsync(UploadSource source, CancellationToken cancellationToken)
    {
        var stream = source.Open();
        await using (stream.ConfigureAwait(false))
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }
    }
}

/// <summary>Where an upload goes: a key (PUT), a bucket with an assigned id (POST), or a slave (POST ?slave).</summary>
internal sealed record UploadTarget(HttpMethod Method, string PathAndQuery, string What, string? Bucket, string? Key, string? Extension)
{
    public static UploadTarget ForKey(DepotPath path)
    {
        if (path.IsRoot)
        {
            throw new ArgumentException($"Upload to '{path}' needs a key after the bucket (e.g. '{path.Bucket}/file.txt').", nameof(path));
        }

        return new(HttpMethod.Put, DepotClient.ObjectPath(path), $"upload {path}", path.Bucket, path.Key, null);
    }

    public static UploadTarget ForId(string bucket, string? extension) =>
        new(HttpMethod.Post, $"{DepotRoutes.ApiPrefix}/{Uri.EscapeDataString(bucket)}", $"upload to {bucket} (assigned id)", bucket, null, extension);
}
