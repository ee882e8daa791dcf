namespace Depot.Core.Errors;

/// <summary>Thrown by a blob store when the device has no space left. The engine turns it into
/// <see cref="ErrorCodes.InsufficientStorage"/> after removing whatever was half-written.</summary>
public sealed class StorageFullException : IOException
{
    public StorageFullException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>ENOSPC (28) and EDQUOT (122) on Linux, as .NET reports them in <see cref="Exception.HResult"/>.</summary>
    public static bool IsDiskFull(Exception e) =>
        e is StorageFullException
        || (e is IOException io && ((io.HResult & 0xFFFF) is 28 or 122 || io.HResult == unchecked((int)0x80070070)));
}
