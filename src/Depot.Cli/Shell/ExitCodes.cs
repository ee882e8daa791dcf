namespace Depot.Cli.Shell;

/// <summary>
/// The exit status of every <c>depot</c> command, one per class of error, so that scripts can branch on what went wrong.
/// Documented in docs/cli.md; changing a value breaks users' scripts.
/// </summary>
internal static class ExitCodes
{
    /// <summary>Everything asked for was done.</summary>
    public const int Ok = 0;

    /// <summary>An error of no other class (a local I/O error, a server fault).</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong (unknown option, missing argument, bad value) or the server called the request invalid.</summary>
    public const int Usage = 2;

    /// <summary>The remote path (or a local source) does not exist.</summary>
    public const int NotFound = 3;

    /// <summary>The destination exists and the command was not told to replace it.</summary>
    public const int AlreadyExists = 4;

    /// <summary>No key, a wrong key, or a key without the right scope (401/403), or the server's policy refused.</summary>
    public const int Auth = 5;

    /// <summary>The object changed meanwhile or is in a state that does not allow the operation (409/412).</summary>
    public const int Conflict = 6;

    /// <summary>The server could not be reached, timed out, or was unavailable (network, 429, 503) — retrying later may work.</summary>
    public const int Network = 7;

    /// <summary>Bytes did not match their checksum, or encrypted data failed to authenticate.</summary>
    public const int Checksum = 8;

    /// <summary>Some of several items failed (the others were done); the output says which.</summary>
    public const int Partial = 9;

    /// <summary>The server is out of space or the object exceeds a server limit.</summary>
    public const int Storage = 10;

    /// <summary>Interrupted by Ctrl+C or SIGTERM (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    /// <summary>The reader of stdout went away (<c>depot cat big | head</c>): 128 + SIGPIPE, what a Unix tool killed by
    /// SIGPIPE reports; nothing is printed.</summary>
    public const int BrokenPipe = 141;
}
