using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using Depot.Client.Transport;

namespace Depot.Client.Transfers;

/// <summary>
/// A request body streamed from a source opened per attempt, counted for progress, optionally hashed while sent,
/// and watched for stalls. Memory: one pooled buffer, whatever the size.
/// </summary>
internal sealed class SourceContent : HttpContent
{
    private const int BufferSize = 256 * 1024;
    private readonly Func<Stream> _open;
    private readonly long? _length;
    private readonly TransferWatch _watch;
    private readonly ProgressReporter? _progress;
    private readonly IncrementalHash? _hash;
    private long _sent;

    /// <param name="open">Opens the source at the first byte to send; the content disposes it.</param>
    /// <param name="length">Bytes the source yields (sent as Content-Length), or null for chunked encoding.</param>
    /// <param name="hash">Receives every byte sent (reset by the caller between attempts).</param>
    public SourceContent(Func<Stream> open, long? length, TransferWatch watch, ProgressReporter? progress, IncrementalHash? hash = null)
    {
        _open = open;
        _length = length;
        _watch = watch;
        _progress = progress;
        _hash = hash;
    }

    /// <summary>Bytes sent by this attempt.</summary>
    public long Sent => _sent;

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            var source = _open();
            await using (source.ConfigureAwait(false))
            {
                while (true)
                {
                    var want = _length is { } total ? (int)Math.Min(buffer.Length, total - _sent) : buffer.Length;
                    if (want == 0)
                    {
                        break;
                    }

                    var read = await source.ReadAsync(buffer.AsMemory(0, want), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        if (_length is { } expected && _sent != expected)
                        {
                            throw new IOException($"The source ended after {_sent} of {expected} bytes; it changed while it was being sent.");
                        }

                        break;
                    }

                    _hash?.AppendData(buffer, 0, read);
                    await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    _sent += read;
                    _progress?.Add(read);
                    _watch.Touch();
                }
            }

            _watch.BodySent();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = _length ?? 0;
        return _length is not null;
    }
}
