namespace Depot.Cli.Shell;

/// <summary>An error the CLI found itself (bad arguments, a missing local file): the message is printed as is.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    public static CliException Usage(string message) => new(ExitCodes.Usage, message);

    public static CliException NotFound(string message) => new(ExitCodes.NotFound, message);

    public static CliException Exists(string message) => new(ExitCodes.AlreadyExists, message);
}
