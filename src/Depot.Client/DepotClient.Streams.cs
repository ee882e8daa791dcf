namespace Depot.Client;

public sealed partial class DepotClient
{
    /// <summary>Opens a remote file as a seekable read-only stream over ranged GETs with read-ahead, pinned to the
    /// version that exists now.</summary>
    /// <exception cref="NotFoundException">No such object.</exception>
    public async Task<RemoteReadStream> OpenReadAsync(DepotPath path, RemoteStreamOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new RemoteStreamOptions();
        return await RemoteReadStream.OpenAsync(this, path, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens an appender object for appending: writes are buffered (<paramref name="bufferSize"/> bytes,
    /// default 4 MiB) and each flush is one atomic append.</summary>
    /// <param name="create">Create an empty appender object when nothing is at the path.</param>
    /// <exception cref="ConflictException">The object is not an appender object.</exception>
    public async Task<RemoteAppendStream> OpenAppendAsync(DepotPath path, bool create = false, int bufferSize = 4 * 1024 * 1024,
        CancellationToken cancellationToken = default)
    {
        var current = create
            ? await TryStatAsync(path, cancellationToken).ConfigureAwait(false) ?? await CreateAppenderAsync(path, createOnly: true, cancellationToken).ConfigureAwait(false)
            : await StatAsync(path, cancellationToken).ConfigureAwait(false);
        if (!current.Appendable)
        {
            throw new ConflictException(Depot.Core.Errors.ErrorCodes.Conflict,
                $"open {path} for appending: it is an ordinary object. Create it as an appender object (UploadOptions.Appendable).");
        }

        return new RemoteAppendStream(this, path, current, bufferSize);
    }
}
