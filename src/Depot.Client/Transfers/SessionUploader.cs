using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Threading.Channels;
using Depot.Client.Transport;
using Depot.Protocol;

namespace Depot.Client.Transfers;

/// <summary>
/// Uploads through a resumable upload session (HTTP API §3.23): chunks read in order and hashed as they are read,
/// sent by byte offset over several connections, each retried on transient failures (the server recognises a chunk
/// it already has), then completed with the SHA-256 so the server verifies before it publishes.
/// </summary>
/// <remarks>
/// For a local file the session is remembered in <see cref="UploadStateStore"/> until it completes: after a crash,
/// the next call asks the server which ranges arrived and sends only the rest (it still reads them, to hash them).
/// Memory: (parallel chunks + 1) buffers of the chunk size.
/// </remarks>
internal static class SessionUploader
{
    public static async Task<DepotObject> UploadAsync(DepotClient client, UploadSource source, UploadTarget target, UploadOptions options,
        IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var chunkSize = Math.Max(64 * 1024, client.Options.ChunkSize);
        var identity = source.LocalPath is { } localPath && source.Length is { } size && options.Encryption is null && client.UploadState is not null
            ? new UploadIdentity(client.CurrentServer.ToString(), target.Bucket!, target.Key ?? "id:" + target.Extension, localPath, size,
                source.LastWriteTicks, await FingerprintAsync(localPath, size, cancellationToken).ConfigureAwait(false))
            : null;

        UploadSessionDto? session = null;
        if (identity is not null && client.UploadState!.Find(identity) is { } saved)
        {
            session = await TryResumeAsync(client, saved, source.Length, cancellationToken).ConfigureAwait(false);
            if (session is null)
            {
                client.UploadState.Delete(identity);
            }
            else
            {
                chunkSize = saved.ChunkSize;
            }
        }

        session ??= await CreateAsync(client, target, options, source.Length, chunkSize, cancellationToken).ConfigureAwait(false);
        if (identity is not null && session.Object is null)
        {
            client.UploadState!.Save(identity, session.Id, chunkSize);
        }

        try
        {
            var result = await SendAndCompleteAsync(client, source, session, chunkSize, progress, cancellationToken).ConfigureAwait(false);
            if (identity is not null)
            {
                client.UploadState!.Delete(identity);
            }

            return result;
        }
        catch (ChecksumMismatchException)
        {
            // The source changed under us: what the server holds is neither the old nor the new file. Start over next time.
            await AbortQuietlyAsync(client, session.Id).ConfigureAwait(false);
            if (identity is not null)
            {
                client.UploadState!.Delete(identity);
            }

            throw;
        }
        catch (Exception e) when (identity is null && e is not OperationCanceledException)
        {
            // Only a local file can resume in a later call; anything else would leave the session to expire unused.
            await AbortQuietlyAsync(client, session.Id).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<DepotObject> SendAndCompleteAsync(DepotClient client, UploadSource source, UploadSessionDto session, int chunkSize,
        IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        if (session.Object is { } done)
        {
            // Completed before the crash, answer lost: nothing to send.
            return DepotObject.From(done);
        }

        var received = session.Received.Select(r => (Start: r[0], End: r[1])).ToList();
        var reporter = new ProgressReporter(progress, source.Name, source.Length);
        reporter.Start(session.BytesReceived);
        var parallel = Math.Max(1, client.Options.ParallelChunks);
        var channel = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(1) { SingleWriter = true });
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var senders = Enumerable.Range(0, parallel).Select(_ => SendChunksAsync(client, session.Id, channel.Reader, reporter, failed)).ToArray();

        string sha256;
        long length;
        try
        {
            (sha256, length) = await ReadChunksAsync(source, chunkSize, received, channel.Writer, failed.Token).ConfigureAwait(false);
            channel.Writer.TryComplete();
        }
        catch (Exception e)
        {
            channel.Writer.TryComplete(e);
            await failed.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(senders).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            ReleaseLeftovers(channel.Reader);
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // The reader was stopped because a sender failed: that failure is the one to report.
                ThrowSenderFailure(senders, cancellationToken);
            }

            throw;
        }

        await Task.WhenAll(senders).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        ReleaseLeftovers(channel.Reader);
        ThrowSenderFailure(senders, cancellationToken);

        if (session.Length is null)
        {
            var declare = new DepotRequest(HttpMethod.Patch, DepotRoutes.Upload(session.Id), $"declare length of upload {session.Id}")
            {
                Idempotent = true,
                Content = () => DepotClient.JsonContent(new UpdateUploadDto { Length = length }, DepotJson.Default.UpdateUploadDto),
            };
            using var declared = await client.Transport.SendCheckedAsync(declare, cancellationToken).ConfigureAwait(false);
        }

        var body = new Dictionary<string, string?>(StringComparer.Ordinal) { ["sha256"] = sha256 };
        var complete = new DepotRequest(HttpMethod.Post, DepotRoutes.Upload(session.Id) + "/complete", $"complete upload of {session.Bucket}/{session.Key}")
        {
            Idempotent = true, // completing twice answers the same
            Content = () => DepotClient.JsonContent(body, DepotJson.Default.DictionaryStringString),
        };
        UploadSessionDto completed;
        try
        {
            completed = await client.GetJsonAsync(complete, DepotJson.Default.UploadSessionDto, cancellationToken).ConfigureAwait(false);
        }
        catch (ChecksumMismatchException e)
        {
            throw new ChecksumMismatchException(
                $"upload of {source.Name}: the bytes the server received do not hash to {sha256}, the SHA-256 read from the source; the source probably changed while it was sent. Nothing was published. ({e.Message})");
        }

        reporter.Complete();
        return DepotObject.From(completed.Object ?? throw new DepotException(ClientErrorCodes.Protocol, HttpStatusCode.OK,
            $"{complete.What}: the server answered without the published object."));
    }

    private static void ReleaseLeftovers(ChannelReader<Chunk> reader)
    {
        while (reader.TryRead(out var leftover))
        {
            leftover.Release();
        }
    }

    private static void ThrowSenderFailure(Task[] senders, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var failures = senders.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).ToList();
        var real = failures.FirstOrDefault(e => e is not OperationCanceledException) ?? failures.FirstOrDefault();
        if (real is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(real);
        }

        if (senders.Any(t => t.IsCanceled))
        {
            throw new OperationCanceledException();
        }
    }

    /// <summary>Reads the source in order, hashing every byte, and queues the chunks the server does not have.</summary>
    private static async Task<(string Sha256, long Length)> ReadChunksAsync(UploadSource source, int chunkSize, List<(long Start, long End)> received,
        ChannelWriter<Chunk> writer, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var stream = source.Open();
        await using (stream.ConfigureAwait(false))
        {
            long offset = 0;
            while (true)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(chunkSize);
                var filled = 0;
                try
                {
                    while (filled < chunkSize)
                    {
                        var read = await stream.ReadAsync(buffer.AsMemory(filled, chunkSize - filled), cancellationToken).ConfigureAwait(false);
                        if (read == 0)
                        {
                            break;
                        }

                        filled += read;
                    }
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }

                if (source.Length is { } expected && offset + filled > expected)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw new ChecksumMismatchException($"upload of {source.Name}: the source grew while it was sent (more than {expected} bytes).", 0);
                }

                hash.AppendData(buffer, 0, filled);
                var covered = received.Any(r => r.Start <= offset && offset + filled <= r.End);
                if (filled == 0 || covered)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                else
                {
                    try
                    {
                        await writer.WriteAsync(new Chunk(offset, buffer, filled), cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        throw;
                    }
                }

                offset += filled;
                if (filled < chunkSize)
                {
                    break;
                }
            }

            if (source.Length is { } length && offset != length)
            {
                throw new ChecksumMismatchException($"upload of {source.Name}: the source ended after {offset} of {length} bytes; it changed while it was sent.", 0);
            }

            return (Convert.ToHexStringLower(hash.GetHashAndReset()), offset);
        }
    }

    private static async Task SendChunksAsync(DepotClient client, string sessionId, ChannelReader<Chunk> reader, ProgressReporter reporter,
        CancellationTokenSource failed)
    {
        try
        {
            await foreach (var chunk in reader.ReadAllAsync(failed.Token).ConfigureAwait(false))
            {
                var sent = false;
                try
                {
                    ChunkContent? attempt = null;
                    var request = new DepotRequest(HttpMethod.Put,
                        DepotRoutes.Upload(sessionId) + "?offset=" + chunk.Offset.ToString(CultureInfo.InvariantCulture),
                        $"send bytes {chunk.Offset}..{chunk.Offset + chunk.Length} of upload {sessionId}")
                    {
                        Idempotent = true,
                        StreamingContent = watch =>
                        {
                            if (attempt is not null)
                            {
                                reporter.Add(-attempt.Sent);
                            }

                            attempt = new ChunkContent(chunk.Buffer.AsMemory(0, chunk.Length), watch, reporter);
                            return attempt;
                        },
                    };
                    using var response = await client.Transport.SendCheckedAsync(request, failed.Token).ConfigureAwait(false);
                    sent = true;
                }
                finally
                {
                    // A cancelled send may still be reading the buffer (HTTP/2 writes on its own): leave that one to the GC.
                    if (sent || !failed.IsCancellationRequested)
                    {
                        chunk.Release();
                    }
                }
            }
        }
        catch
        {
            await failed.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<UploadSessionDto> CreateAsync(DepotClient client, UploadTarget target, UploadOptions options, long? length, int chunkSize,
        CancellationToken cancellationToken)
    {
        var body = new CreateUploadDto
        {
            Bucket = target.Bucket,
            Key = target.Key,
            Ext = target.Extension,
            Length = length,
            ChunkSize = chunkSize,
            ContentType = options.ContentType,
            Metadata = options.Metadata?.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
            Appendable = options.Appendable,
            CreateOnly = !options.Overwrite,
        };
        var request = new DepotRequest(HttpMethod.Post, DepotRoutes.Uploads, target.What)
        {
            // A repeated creation leaves at most an unused session, which the server reclaims when it expires.
            Idempotent = true,
            Content = () => DepotClient.JsonContent(body, DepotJson.Default.CreateUploadDto),
        };
        return await client.GetJsonAsync(request, DepotJson.Default.UploadSessionDto, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<UploadSessionDto?> TryResumeAsync(DepotClient client, SavedUpload saved, long? length, CancellationToken cancellationToken)
    {
        var request = new DepotRequest(HttpMethod.Get, DepotRoutes.Upload(saved.SessionId), $"resume upload {saved.SessionId}") { Idempotent = true };
        try
        {
            var session = await client.GetJsonAsync(request, DepotJson.Default.UploadSessionDto, cancellationToken).ConfigureAwait(false);
            return session.Length == length ? session : null;
        }
        catch (DepotException e) when (e is NotFoundException or UploadExpiredException or ForbiddenException)
        {
            return null;
        }
    }

    private static async Task AbortQuietlyAsync(DepotClient client, string sessionId)
    {
        try
        {
            var request = new DepotRequest(HttpMethod.Delete, DepotRoutes.Upload(sessionId), $"abort upload {sessionId}") { Idempotent = true };
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            using var response = await client.Transport.SendAsync(request, cancel.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DepotException or OperationCanceledException or HttpRequestException)
        {
            // Best effort: the server reclaims an abandoned session when it expires.
        }
    }

    /// <summary>SHA-256 of the size and the first and last 64 KiB.</summary>
    internal static async Task<string> FingerprintAsync(string path, long size, CancellationToken cancellationToken)
    {
        const int Edge = 64 * 1024;
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        var head = new byte[(int)Math.Min(Edge, size)];
        var tail = new byte[(int)Math.Min(Edge, size)];
        var headRead = await RandomAccess.ReadAsync(handle, head, 0, cancellationToken).ConfigureAwait(false);
        var tailRead = await RandomAccess.ReadAsync(handle, tail, size - tail.Length, cancellationToken).ConfigureAwait(false);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(BitConverter.GetBytes(size));
        hash.AppendData(head, 0, headRead);
        hash.AppendData(tail, 0, tailRead);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private sealed record Chunk(long Offset, byte[] Buffer, int Length)
    {
        public void Release() => ArrayPool<byte>.Shared.Return(Buffer);
    }

    /// <summary>A chunk's bytes, written in slices so that progress moves and stalls are noticed.</summary>
    private sealed class ChunkContent(ReadOnlyMemory<byte> bytes, TransferWatch watch, ProgressReporter reporter) : HttpContent
    {
        private const int Slice = 256 * 1024;

        public long Sent { get; private set; }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            for (var at = 0; at < bytes.Length; at += Slice)
            {
                var part = bytes.Slice(at, Math.Min(Slice, bytes.Length - at));
                await stream.WriteAsync(part, cancellationToken).ConfigureAwait(false);
                Sent += part.Length;
                reporter.Add(part.Length);
                watch.Touch();
            }

            watch.BodySent();
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return true;
        }
    }
}
