using System.Globalization;
using Depot.Core.Engine;
using Depot.Core.Errors;
using Depot.Core.Paths;
using Depot.Core.Security;
using Depot.Core.Uploads;
using Depot.Server.Auth;
using Depot.Server.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Depot.Server.IndexedCp;

/// <summary>
/// The IndexedCP door (../shared/protocols/indexedcp.md, docs/indexedcp.md): <c>POST /upload</c> takes one chunk,
/// <c>GET /upload/status</c> says which chunks arrived, <c>OPTIONS</c> answers browsers' preflights.
/// </summary>
/// <remarks>Each (bucket, key) upload is an upload session of <see cref="UploadProtocols.IndexedCp"/>: chunks are placed
/// by index, made durable before the answer, and published atomically when a short final chunk closes the set, or after
/// <see cref="IndexedCpOptions.QuietPeriod"/> when the size is a multiple of the chunk size
/// (<see cref="IndexedCpQuietCompleter"/>).</remarks>
public sealed partial class IndexedCpHandlers
{
    public const string FileNameHeader = "X-File-Name";
    public const string ChunkIndexHeader = "X-Chunk-Index";

    private readonly UploadEngine _uploads;
    private readonly ObjectEngine _objects;
    private readonly AccessGuard _guard;
    private readonly IndexedCpOptions _options;
    private readonly string _prefix;
    private readonly ILogger<IndexedCpHandlers> _logger;
    private readonly NameLocks _locks = new();

    public IndexedCpHandlers(UploadEngine uploads, ObjectEngine objects, AccessGuard guard, DepotServerOptions server, ILogger<IndexedCpHandlers> logger)
    {
        _uploads = uploads;
        _objects = objects;
        _guard = guard;
        _options = server.IndexedCp;
        _logger = logger;
        _prefix = Validate(_options, objects.Buckets);
    }

    /// <summary>Checks the options against the configured buckets; returns the normalized prefix.</summary>
    /// <exception cref="ArgumentException">Unknown bucket, invalid prefix or a quiet period that is not positive.</exception>
    public static string Validate(IndexedCpOptions options, BucketRegistry buckets)
    {
        if (buckets.Find(options.Bucket) is null)
        {
            throw new ArgumentException($"The IndexedCP bucket '{options.Bucket}' is not a configured bucket.");
        }

        if (options.QuietPeriod <= TimeSpan.Zero)
        {
            throw new ArgumentException("The IndexedCP quiet period must be positive.");
        }

        return IndexedCpNames.NormalizePrefix(options.Prefix);
    }

    /// <summary>"One POST per chunk ... Depot places every chunk by its index and treats a repeated (file, index) as a
    /// no-op that answers 200. If a repeated chunk differs from the stored one, answer 409 and keep the stored bytes."</summary>
    public async Task UploadAsync(HttpContext context)
    {
        IndexedCpAnswers.AddCorsHeaders(context.Response);
        // "Authentication is checked before anything else": the key and its write scope first, the name it may write later.
        var denied = await _guard.CheckAsync(context, Scopes.Write, null, null);
        if (denied is not null)
        {
            await IndexedCpAnswers.DeniedAsync(context, denied);
            return;
        }

        var request = context.Request;
        var names = request.Headers[FileNameHeader];
        var clientName = names.Count == 1 ? names[0] ?? "" : "";
        var key = await MapNameAsync(context, clientName);
        if (key is null)
        {
            return;
        }

        if (!long.TryParse(request.Headers[ChunkIndexHeader].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            await IndexedCpAnswers.ErrorAsync(context, StatusCodes.Status400BadRequest, "Invalid chunk index",
                $"Send {ChunkIndexHeader}: the chunk's number, 0-based, in decimal.", ErrorCodes.InvalidRequest);
            return;
        }

        denied = await _guard.CheckAsync(context, Scopes.Write, _options.Bucket, key.Value);
        if (denied is not null)
        {
            await IndexedCpAnswers.DeniedAsync(context, denied);
            return;
        }

        await using var body = new ChunkBody(request.Body);
        var length = request.ContentLength;
        if (length is null)
        {
            // A chunk's size tells the chunk size, so it is needed before the bytes are placed: a body sent without
            // Content-Length (chunked) is read into memory first, up to a bound.
            var held = await body.BufferHeadAsync(MaxComparedChunk + 1, context.RequestAborted);
            if (held > MaxComparedChunk)
            {
                await IndexedCpAnswers.ErrorAsync(context, StatusCodes.Status411LengthRequired, "Length required",
                    $"Send Content-Length with chunks larger than {MaxComparedChunk} bytes.", ErrorCodes.LengthRequired);
                return;
            }

            length = held;
        }

        if (length == 0)
        {
            await IndexedCpAnswers.ErrorAsync(context, StatusCodes.Status400BadRequest, "Empty chunk",
                "A chunk has at least one byte (an empty file needs no upload).", ErrorCodes.InvalidRequest);
            return;
        }

        var identity = (await _guard.AuthenticateAsync(context))!.KeyId;
        // Twice at most: a chunk that raced with its session's completion (or expiry) goes to the name's next session.
        for (var attempt = 0; ; attempt++)
        {
            var choice = await ChooseSessionAsync(key, clientName, identity, index, body, length.Value, context.RequestAborted);
            if (choice.Error is { } chooseError)
            {
                await IndexedCpAnswers.FailedAsync(context, chooseError);
                return;
            }

            var session = choice.Session!;
            // One upload, one key: another key's chunks never mix into it, and the key must be allowed to write where the
            // upload lands (the policy may have put it elsewhere than the name asked for).
            if (session.Identity != identity && session.State == UploadState.Open)
            {
                await IndexedCpAnswers.FailedAsync(context, DepotError.Conflict($"Another API key is uploading '{clientName}'; try again once that upload completes or expires."));
                return;
            }

            if (session.Key != key.Value && await _guard.CheckAsync(context, Scopes.Write, session.Bucket, session.Key) is { } deniedTarget)
            {
                await IndexedCpAnswers.DeniedAsync(context, deniedTarget);
                return;
            }

            if (choice.AlreadyPublished)
            {
                await ReceivedAsync(context, session.Key, index, clientName, alreadyReceived: true);
                return;
            }

            var written = await _uploads.WriteInferredChunkAsync(session.Id, index, body, length, context.RequestAborted);
            if (written.TryGetValue(out var chunk, out var error))
            {
                await ReceivedAsync(context, chunk.Session.Key, index, clientName, alreadyReceived: chunk.Duplicate);
                return;
            }

            if (attempt == 0 && body.CanRewind && error.Code is ErrorCodes.Conflict or ErrorCodes.UploadExpired or ErrorCodes.NotFound
                && await HasEndedAsync(session.Id, context.RequestAborted))
            {
                body.Rewind();
                continue;
            }

            await IndexedCpAnswers.FailedAsync(context, error);
            return;
        }
    }

    /// <summary>"Some clients first ask GET &lt;upload URL&gt;/status?filename=&lt;basename&gt; ... and skip the chunk
    /// indices the server reports as received."</summary>
    /// <remarks>Reports the open upload of the name, or all chunks of its completed upload while the object is still the
    /// one it published; otherwise nothing. Needs a key with the read or write scope covering the name.</remarks>
    public async Task StatusAsync(HttpContext context)
    {
        IndexedCpAnswers.AddCorsHeaders(context.Response);
        var denied = await _guard.CheckAsync(context, Scopes.None, null, null);
        if (denied is not null)
        {
            await IndexedCpAnswers.DeniedAsync(context, denied);
            return;
        }

        var fileName = IndexedCpNames.StatusFileName(context.Request);
        if (fileName is null)
        {
            await IndexedCpAnswers.ErrorAsync(context, StatusCodes.Status400BadRequest, IndexedCpAnswers.MissingFilename, null, ErrorCodes.InvalidRequest);
            return;
        }

        var key = await MapNameAsync(context, fileName);
        if (key is null)
        {
            return;
        }

        denied = await _guard.CheckAsync(context, Scopes.None, _options.Bucket, key.Value);
        if (denied is null && await _guard.AuthenticateAsync(context) is { } caller && !caller.Has(Scopes.Read) && !caller.Has(Scopes.Write))
        {
            denied = new DepotError(ErrorCodes.Forbidden, "This API key lacks the 'read' or 'write' scope.");
        }

        if (denied is not null)
        {
            await IndexedCpAnswers.DeniedAsync(context, denied);
            return;
        }

        var session = await FindAsync(key, context.RequestAborted);
        IReadOnlyList<long> received = session switch
        {
            null => [],
            { State: UploadState.Open } => session.ReceivedChunks(),
            _ => await IsUnchangedAsync(session, context.RequestAborted) ? session.ReceivedChunks() : [],
        };
        await IndexedCpAnswers.WriteAsync(context, StatusCodes.Status200OK, new UploadStatusAnswer { Filename = fileName, ReceivedChunks = received },
            IndexedCpJson.Wire.UploadStatusAnswer);
    }

    /// <summary>"preflight OPTIONS: 200, empty; CORS headers ... on every response".</summary>
    public static Task PreflightAsync(HttpContext context)
    {
        IndexedCpAnswers.AddCorsHeaders(context.Response);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentLength = 0;
        return Task.CompletedTask;
    }

    /// <summary>Any other method on the door's routes.</summary>
    public static Task MethodNotAllowedAsync(HttpContext context, string allow)
    {
        IndexedCpAnswers.AddCorsHeaders(context.Response);
        context.Response.Headers.Allow = allow;
        return IndexedCpAnswers.ErrorAsync(context, StatusCodes.Status405MethodNotAllowed, "Method not allowed",
            $"{context.Request.Method} is not supported here; use {allow}.", ErrorCodes.MethodNotAllowed);
    }

    /// <summary>The key of a client's name, or null once the refusal has been answered (400 for a bad name, 403 for one
    /// that lands outside the store).</summary>
    private async Task<ObjectKey?> MapNameAsync(HttpContext context, string clientName)
    {
        var mapping = IndexedCpNames.Map(clientName, _prefix, _options.KeepPaths);
        if (mapping.Key is { } key)
        {
            return key;
        }

        if (mapping.OutsideStore)
        {
            await IndexedCpAnswers.ErrorAsync(context, StatusCodes.Status403Forbidden, IndexedCpAnswers.InvalidPath, null, ErrorCodes.Forbidden);
        }
        else
        {
            await IndexedCpAnswers.ErrorAsync(context, StatusCodes.Status400BadRequest, IndexedCpAnswers.InvalidFilename, mapping.Problem, ErrorCodes.InvalidPath);
        }

        return null;
    }

    private static Task ReceivedAsync(HttpContext context, string key, long index, string clientName, bool alreadyReceived) =>
        IndexedCpAnswers.WriteAsync(context, StatusCodes.Status200OK, new ChunkReceivedAnswer
        {
            ActualFilename = key,
            ChunkIndex = index,
            ClientFilename = clientName,
            AlreadyReceived = alreadyReceived ? true : null,
        }, IndexedCpJson.Wire.ChunkReceivedAnswer);

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "IndexedCP upload {SessionId} of '{Key}' in bucket {Bucket} starts with {Chunks} chunks of the version it replaces")]
    private static partial void LogSeeded(ILogger logger, string sessionId, string key, string bucket, int chunks);
}
