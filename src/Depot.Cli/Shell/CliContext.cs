using System.CommandLine;
using Depot.Cli.Configuration;
using Depot.Client;

namespace Depot.Cli.Shell;

/// <summary>What a running client command needs: its parsed arguments, output, cancellation, and a client created on first use
/// (so that commands that never reach the server, like <c>config</c>, never need a URL or key).</summary>
internal sealed class CliContext(ParseResult parse, CliOutput output, CancellationToken cancellation) : IAsyncDisposable
{
    private DepotClient? _client;
    private ConnectionSettings? _connection;

    public ParseResult Parse { get; } = parse;

    public CliOutput Output { get; } = output;

    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>The remote path (or local file) the command is working on, named in an error line when the error's
    /// own message does not name it.</summary>
    public string? Subject { get; set; }

    public ConnectionSettings Connection => _connection ??= ConnectionSettings.Resolve(
        Parse.GetValue(GlobalOptions.Url), Parse.GetValue(GlobalOptions.Key), Parse.GetValue(GlobalOptions.Fingerprint),
        Parse.GetValue(GlobalOptions.Timeout), Parse.GetValue(GlobalOptions.Profile));

    public DepotClient Client => _client ??= new DepotClient(Connection.ToClientOptions());

    public T Value<T>(Argument<T> argument) => Parse.GetValue(argument)!;

    public T Value<T>(Option<T> option) => Parse.GetValue(option)!;

    /// <summary>A remote path argument (<c>bucket/key</c> or <c>/key</c>); a leading <c>:</c> (an explicit remote marker) is dropped.</summary>
    public static DepotPath RemotePath(string text)
    {
        if (text.StartsWith(':'))
        {
            text = text[1..];
        }

        try
        {
            return DepotPath.Parse(text);
        }
        catch (FormatException e)
        {
            throw CliException.Usage(e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
    }
}
