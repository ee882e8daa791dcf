namespace Depot.Client.Transport;

/// <summary>Cancels a transfer attempt that stalls: each <see cref="Touch"/> (bytes moved) pushes the deadline
/// <c>stall</c> ahead; <see cref="BodySent"/> switches to the answer deadline (<c>answer</c>) once the body is out.</summary>
internal sealed class TransferWatch(CancellationTokenSource source, TimeSpan stall, TimeSpan answer)
{
    public CancellationToken Token => source.Token;

    public void Touch()
    {
        try
        {
            source.CancelAfter(stall);
        }
        catch (ObjectDisposedException)
        {
            // The attempt is over; nothing to watch.
        }
    }

    public void BodySent()
    {
        try
        {
            source.CancelAfter(answer > stall ? answer : stall);
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
