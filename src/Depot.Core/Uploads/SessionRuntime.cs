using System.Security.Cryptography;
using Depot.Core.Hashing;
using Depot.Core.Storage;

namespace Depot.Core.Uploads;

/// <summary>
/// What the engine keeps in memory for an active session: the byte ranges being written now (so overlapping writes run
/// one after the other) and the running hash of the contiguous bytes received so far.
/// </summary>
/// <remarks>The hash is only a head start: lost with a restart, it is rebuilt from the staged bytes at completion. It
/// covers received bytes only, which are never written again (a repeat is compared, not written).</remarks>
internal sealed class SessionRuntime : IDisposable
{
    private const int HashBufferSize = 1 << 20;
    private readonly Lock _gate = new();
    private readonly List<(long Start, long End, TaskCompletionSource Done)> _inFlight = [];
    private readonly SemaphoreSlim _hashing = new(1, 1);
    private readonly bool _withMd5;
    private readonly bool _appendable;
    private IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private IncrementalHash? _md5;
    private AppenderHash? _appender;
    private long _hashedUpTo;
    private bool _disposed;

    public SessionRuntime(bool withMd5, bool appendable)
    {
        (_withMd5, _appendable) = (withMd5, appendable);
        _md5 = withMd5 ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null;
        _appender = appendable ? AppenderHash.Start() : null;
    }

    /// <summary>True while any write of the session runs.</summary>
    public bool HasWritesInFlight
    {
        get
        {
            lock (_gate)
            {
                return _inFlight.Count > 0;
            }
        }
    }

    /// <summary>Waits until no write overlapping [start, end) runs, then claims the range. Dispose the result to release it.</summary>
    public async Task<IDisposable> ReserveAsync(long start, long end, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task? wait = null;
            lock (_gate)
            {
                foreach (var (s, e, done) in _inFlight)
                {
                    if (s < end && start < e)
                    {
                        wait = done.Task;
                        break;
                    }
                }

                if (wait is null)
                {
                    var entry = (start, end, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                    _inFlight.Add(entry);
                    return new Reservation(this, entry);
                }
            }

            await wait.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Lends the running hash to a write that starts exactly where the hash stands, so its bytes are hashed as
    /// they stream instead of being read back later. Null when the hash is busy or stands elsewhere.</summary>
    public HashLease? TryLendHash(long offset)
    {
        if (!_hashing.Wait(0))
        {
            return null;
        }

        if (_disposed || _hashedUpTo != offset)
        {
            ReleaseHashing();
            return null;
        }

        return new HashLease(this, offset);
    }

    /// <summary>The running hash, lent to one write. <see cref="Commit"/> once the bytes are recorded as received; disposing
    /// without it (the write failed) restarts the hash from zero, since a hash cannot take bytes back.</summary>
    internal sealed class HashLease(SessionRuntime owner, long start) : IDisposable
    {
        private readonly long _start = start;
        private long _position = start;
        private bool _committed;
        private bool _released;

        public void Append(ReadOnlySpan<byte> data)
        {
            owner._sha256.AppendData(data);
            owner._md5?.AppendData(data);
            owner._appender?.Append(data);
            _position += data.Length;
        }

        /// <summary>The bytes up to <paramref name="end"/> are received; the hash now stands there.</summary>
        public void Commit(long end)
        {
            _committed = _position == end;
            if (_committed)
            {
                owner._hashedUpTo = end;
            }
        }

        public void Dispose()
        {
            if (_released)
            {
                return;
            }

            _released = true;
            if (!_committed && _position != _start && !owner._disposed)
            {
                owner.ResetHash();
            }

            owner.ReleaseHashing();
        }
    }

    /// <summary>Starts the hash over (the caller holds the hashing semaphore).</summary>
    private void ResetHash()
    {
        _sha256.Dispose();
        _md5?.Dispose();
        _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        _md5 = _withMd5 ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null;
        _appender = _appendable ? AppenderHash.Start() : null;
        _hashedUpTo = 0;
    }

    /// <summary>Hashes received bytes from where the hash stands up to <paramref name="until"/> (which must be received).</summary>
    public async Task AdvanceAsync(IStagedUpload file, long until, CancellationToken cancellationToken)
    {
        await _hashing.WaitAsync(cancellationToken);
        try
        {
            if (_disposed || _hashedUpTo >= until)
            {
                return;
            }

            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(HashBufferSize);
            try
            {
                while (_hashedUpTo < until)
                {
                    var want = (int)Math.Min(buffer.Length, until - _hashedUpTo);
                    var read = await file.ReadAtAsync(_hashedUpTo, buffer.AsMemory(0, want), cancellationToken);
                    if (read <= 0)
                    {
                        throw new IOException($"The staged upload ends at {_hashedUpTo}, before {until}.");
                    }

                    var span = buffer.AsSpan(0, read);
                    _sha256.AppendData(span);
                    _md5?.AppendData(span);
                    _appender?.Append(span);
                    _hashedUpTo += read;
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        finally
        {
            ReleaseHashing();
        }
    }

    /// <summary>The digests of exactly <paramref name="length"/> bytes (call after <see cref="AdvanceAsync"/> to it).</summary>
    public async Task<(byte[] Sha256, byte[]? Md5, byte[]? AppenderState)> FinishAsync(long length, CancellationToken cancellationToken)
    {
        await _hashing.WaitAsync(cancellationToken);
        try
        {
            if (_hashedUpTo != length)
            {
                throw new InvalidOperationException($"Hashed {_hashedUpTo} bytes, not {length}.");
            }

            return (_sha256.GetCurrentHash(), _md5?.GetCurrentHash(), _appender?.Export());
        }
        finally
        {
            ReleaseHashing();
        }
    }

    /// <summary>Never blocks: a write holding the hash (its body may stream for a long time) frees it when it ends.</summary>
    public void Dispose()
    {
        _disposed = true;
        if (_hashing.Wait(0))
        {
            ReleaseHashing();
        }
    }

    /// <summary>Releases the hashing semaphore, disposing the hashes first once the runtime is disposed.</summary>
    private void ReleaseHashing()
    {
        if (_disposed)
        {
            _sha256.Dispose();
            _md5?.Dispose();
        }

        _hashing.Release();
    }

    private void Release((long, long, TaskCompletionSource Done) entry)
    {
        lock (_gate)
        {
            _inFlight.Remove(entry);
        }

        entry.Done.TrySetResult();
    }

    private sealed class Reservation(SessionRuntime owner, (long, long, TaskCompletionSource) entry) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(entry);
            }
        }
    }
}
