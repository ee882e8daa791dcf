using System.Buffers;
using System.Security.Cryptography;
using Depot.Client.Transfers;

namespace Depot.Client;

public sealed partial class DepotClient
{
    private const int DownloadBufferSize = 1024 * 1024;

    /// <summary>Downloads an object to a local file, whole or by offset and length.</summary>
    /// <remarks>
    /// The bytes go to a temporary file next to the destination; a dropped connection or a stall resumes from the
    /// next byte (on the same version of the object). A whole-object download is checked against the object's
    /// SHA-256 (every object the server describes has one; with <see cref="DownloadOptions.Verify"/> an answer without
    /// it is refused), then made durable (fsync) and renamed into place: the destination is either untouched or complete
    /// and verified. If the object is replaced on the server during the download, it starts over once.
    /// </remarks>
    /// <returns>The object as the server described it.</returns>
    /// <exception cref="NotFoundException">No such object.</exception>
    /// <exception cref="ChecksumMismatchException">The bytes do not match the SHA-256; the destination is untouched.</exception>
    public async Task<DepotObject> DownloadAsync(DepotPath source, string localPath, DownloadOptions? options = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new DownloadOptions();
        var destination = Path.GetFullPath(localPath);
        if (!options.Overwrite && Path.Exists(destination))
        {
            throw new DepotException(ClientErrorCodes.LocalExists, 0,
                $"download {source}: '{localPath}' already exists. Remove it or allow overwriting.");
        }

        var directory = Path.GetDirectoryName(destination)!;
        Directory.CreateDirectory(directory);

        // "Completed" means in place and verified: hold the final report back until the rename is done.
        TransferProgress? completed = null;
        var held = progress is null ? null : new InlineProgress(p =>
        {
            if (p.IsCompleted)
            {
                completed = p;
            }
            else
            {
                progress.Report(p);
            }
        });
        for (var attempt = 1; ; attempt++)
        {
            var temporary = Path.Combine(directory, $".{Path.GetFileName(destination)}.{Guid.NewGuid():N}.depot-part");
            try
            {
                DepotObject described;
                var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.None);
                await using (file.ConfigureAwait(false))
                {
                    described = await CopyDownloadAsync(source, file, options, held, localPath, cancellationToken).ConfigureAwait(false);
                    await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                    file.Flush(flushToDisk: true);
                }

                File.Move(temporary, destination, overwrite: options.Overwrite);
                if (options.PreserveModifiedTime && described.Modified != default)
                {
                    File.SetLastWriteTimeUtc(destination, described.Modified.UtcDateTime);
                }

                if (completed is not null)
                {
                    progress!.Report(completed);
                }

                return described;
            }
            catch (ConflictException) when (attempt == 1 && !cancellationToken.IsCancellationRequested)
            {
                // Replaced on the server mid-download: fetch the new version from the start.
            }
            finally
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>Downloads an object into <paramref name="destination"/> (written from its current position, not
    /// disposed), resuming after dropped connections.</summary>
    /// <remarks>A stream cannot be taken back: with <see cref="DownloadOptions.Verify"/> a mismatch is reported by
    /// <see cref="ChecksumMismatchException"/> after the bytes were written.</remarks>
    /// <returns>The object as the server described it.</returns>
    public Task<DepotObject> DownloadAsync(DepotPath source, Stream destination, DownloadOptions? options = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return CopyDownloadAsync(source, destination, options ?? new DownloadOptions(), progress, source.ToString(), cancellationToken);
    }

    /// <summary>Downloads an object (or a range of it) into memory. For values and small files; use a stream or a
    /// path for large ones.</summary>
    public async Task<byte[]> DownloadBytesAsync(DepotPath source, DownloadOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var memory = new MemoryStream();
        await CopyDownloadAsync(source, memory, options ?? new DownloadOptions(), null, source.ToString(), cancellationToken).ConfigureAwait(false);
        return memory.ToArray();
    }

    private async Task<DepotObject> CopyDownloadAsync(DepotPath source, Stream destination, DownloadOptions options,
        IProgress<TransferProgress>? progress, string name, CancellationToken cancellationToken)
    {
        if (options.Encryption is { } key)
        {
            return await EncryptedDownload.CopyAsync(this, source, destination, options, key, progress, name, cancellationToken).ConfigureAwait(false);
        }

        var download = await ResumableDownload.OpenAsync(this, source, options.Offset, options.Length, cancellationToken).ConfigureAwait(false);
        await using (download.ConfigureAwait(false))
        {
            if (options.Verify && download.IsWhole && download.Object.Sha256 is null)
            {
                throw new DepotException(ClientErrorCodes.Protocol, 0,
                    $"download {source}: the server sent no SHA-256 to verify the bytes against. Set DownloadOptions.Verify = false to accept unverified bytes.");
            }

            var verify = options.Verify && download.IsWhole;
            using var hash = verify ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
            var reporter = new ProgressReporter(progress, name, download.ExpectedLength);
            await CopyAsync(download, destination, hash, reporter, cancellationToken).ConfigureAwait(false);
            if (hash is not null)
            {
                var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (!string.Equals(actual, download.Object.Sha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw new ChecksumMismatchException(
                        $"download {source}: the bytes received hash to {actual}, not the object's SHA-256 {download.Object.Sha256}. Download it again.", 0);
                }
            }

            reporter.Complete();
            return download.Object;
        }
    }

    /// <summary>Copies with two buffers: while one is hashed and written (on a pool thread), the next is read from the
    /// network, so hashing, disk and network overlap instead of adding up.</summary>
    internal static async Task CopyAsync(Stream from, Stream to, IncrementalHash? hash, ProgressReporter reporter, CancellationToken cancellationToken)
    {
        byte[][] buffers = [ArrayPool<byte>.Shared.Rent(DownloadBufferSize), ArrayPool<byte>.Shared.Rent(DownloadBufferSize)];
        var pending = Task.CompletedTask;
        try
        {
            for (var turn = 0; ; turn ^= 1)
            {
                var buffer = buffers[turn];
                var read = await from.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                await pending.ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                pending = Task.Run(async () =>
                {
                    hash?.AppendData(buffer, 0, read);
                    if (to is FileStream { IsAsync: false } file)
                    {
                        file.Write(buffer, 0, read);
                    }
                    else
                    {
                        await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    }

                    reporter.Add(read);
                }, cancellationToken);
            }
        }
        finally
        {
            // Never hand a buffer back while a write may still use it.
            await Task.WhenAny(pending).ConfigureAwait(false);
            ArrayPool<byte>.Shared.Return(buffers[0]);
            ArrayPool<byte>.Shared.Return(buffers[1]);
        }
    }

    /// <summary>Calls back on the reporting thread (no context hop), so a held report is seen before the caller continues.</summary>
    private sealed class InlineProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }
}
