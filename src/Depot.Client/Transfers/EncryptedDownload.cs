using System.Security.Cryptography;

namespace Depot.Client.Transfers;

/// <summary>Downloads of objects encrypted on the client (docs/encryption.md): the ciphertext is fetched (resuming
/// after failures) and checked against the object's SHA-256, and decrypted on the way, each chunk verified by its
/// tag before any of its plaintext is written.</summary>
internal static class EncryptedDownload
{
    public static async Task<DepotObject> CopyAsync(DepotClient client, DepotPath source, Stream destination, DownloadOptions options, EncryptionKey key,
        IProgress<TransferProgress>? progress, string name, CancellationToken cancellationToken)
    {
        if (options.Offset != 0 || options.Length is > 0)
        {
            return await RangeAsync(client, source, destination, options, key, progress, name, cancellationToken).ConfigureAwait(false);
        }

        var download = await ResumableDownload.OpenAsync(client, source, 0, null, cancellationToken).ConfigureAwait(false);
        await using (download.ConfigureAwait(false))
        {
            using var hash = options.Verify && download.Object.Sha256 is not null ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
            var hashing = new HashingReadStream(download, hash);
            var plaintext = DepotEncryption.DecryptingStream(hashing, key, leaveOpen: true);
            await using (plaintext.ConfigureAwait(false))
            {
                var reporter = new ProgressReporter(progress, name, DepotEncryption.PlaintextLength(download.ExpectedLength));
                await DepotClient.CopyAsync(plaintext, destination, null, reporter, cancellationToken).ConfigureAwait(false);
                if (hash is not null)
                {
                    var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                    if (!string.Equals(actual, download.Object.Sha256, StringComparison.OrdinalIgnoreCase))
                    {
                        throw new ChecksumMismatchException($"download {source}: the ciphertext received does not match the object's SHA-256. Download it again.", 0);
                    }
                }

                reporter.Complete();
            }

            return download.Object with { Size = DepotEncryption.PlaintextLength(download.Object.Size) };
        }
    }

    private static async Task<DepotObject> RangeAsync(DepotClient client, DepotPath source, Stream destination, DownloadOptions options, EncryptionKey key,
        IProgress<TransferProgress>? progress, string name, CancellationToken cancellationToken)
    {
        var stream = await client.OpenReadAsync(source, new RemoteStreamOptions { Encryption = key }, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var remote = (RemoteReadStream)stream;
            var rest = Math.Max(0, stream.Length - options.Offset);
            var length = options.Length is { } asked and > 0 ? Math.Min(asked, rest) : rest;
            if (options.Offset >= stream.Length && stream.Length > 0)
            {
                throw new InvalidRequestException(Depot.Core.Errors.ErrorCodes.RangeNotSatisfiable, (System.Net.HttpStatusCode)416,
                    $"download {source}: offset {options.Offset} is at or past the end ({stream.Length} bytes).");
            }

            stream.Position = options.Offset;
            var reporter = new ProgressReporter(progress, name, length);
            await DepotClient.CopyAsync(new BoundedReadStream(stream, length), destination, null, reporter, cancellationToken).ConfigureAwait(false);
            reporter.Complete();
            return remote.Object;
        }
    }

    /// <summary>Feeds what passes through to a hash.</summary>
    private sealed class HashingReadStream(Stream inner, IncrementalHash? hash) : ReadOnlyStream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            hash?.AppendData(buffer.Span[..read]);
            return read;
        }

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            hash?.AppendData(buffer[..read]);
            return read;
        }
    }

    /// <summary>At most <c>limit</c> bytes of the inner stream.</summary>
    private sealed class BoundedReadStream(Stream inner, long limit) : ReadOnlyStream
    {
        private long _left = limit;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = _left <= 0 ? 0 : await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken).ConfigureAwait(false);
            _left -= read;
            return read;
        }

        public override int Read(Span<byte> buffer)
        {
            var read = _left <= 0 ? 0 : inner.Read(buffer[..(int)Math.Min(buffer.Length, _left)]);
            _left -= read;
            return read;
        }
    }
}
