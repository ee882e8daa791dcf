using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Logging;

/// <summary>
/// One line per log entry on stdout, written by a background task through a 64 KiB buffer that is flushed whenever
/// the queue runs empty.
/// </summary>
/// <remarks>The stock console logger issues one write(2) per line; at tens of thousands of requests per second that
/// cost 15–25 % of small-GET throughput (docs/decisions/0006). Lines are formatted on the caller's thread; when the
/// queue is full, callers wait (no line is dropped). Disposing flushes what is queued.</remarks>
public sealed class BufferedConsoleLoggerProvider : ILoggerProvider
{
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(65_536)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(10);
    private readonly Task _writer;

    public BufferedConsoleLoggerProvider(Stream? output = null)
    {
        var stream = output ?? Console.OpenStandardOutput();
        _writer = Task.Run(() => WriteLoopAsync(stream));
    }

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, ShortCategory(categoryName));

    public void Dispose()
    {
        _lines.Writer.TryComplete();
        _writer.Wait(TimeSpan.FromSeconds(5));
    }

    private void Enqueue(string line)
    {
        if (!_lines.Writer.TryWrite(line))
        {
            // Full: wait for room rather than lose a line (or, after disposal, drop it).
            _ = _lines.Writer.WriteAsync(line).AsTask().Wait(TimeSpan.FromSeconds(5));
        }
    }

    private async Task WriteLoopAsync(Stream stream)
    {
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false), 64 << 10) { AutoFlush = false };
        var reader = _lines.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var line))
            {
                writer.Write(line); // into the 64 KiB buffer: no system call, and no async state per line
            }

            await writer.FlushAsync();
            // Let lines gather before the next write: a reader woken for every line costs a thread-pool dispatch and a
            // write(2) per request at high request rates. Lines reach stdout at most this much later.
            await Task.Delay(FlushInterval);
        }
    }

    private static string ShortCategory(string category)
    {
        var dot = category.LastIndexOf('.');
        return dot < 0 ? category : category[(dot + 1)..];
    }

    private sealed class LineLogger(BufferedConsoleLoggerProvider owner, string category) : ILogger
    {
        [ThreadStatic]
        private static StringBuilder? _line;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var message = formatter(state, exception);
            // UTC, formatted without a time-zone lookup, into one reused builder per thread: this runs once per request.
            var line = _line ??= new StringBuilder(256);
            line.Clear();
            Span<char> stamp = stackalloc char[32];
            DateTime.UtcNow.TryFormat(stamp, out var written, "yyyy-MM-ddTHH:mm:ss.fffZ ", System.Globalization.CultureInfo.InvariantCulture);
            line.Append(stamp[..written])
                .Append(Level(logLevel)).Append(' ')
                .Append(category).Append(": ")
                .Append(message);
            if (exception is not null)
            {
                // Exceptions on one line too: the log stays one entry per line.
                line.Append(" | ").Append(exception.ToString().ReplaceLineEndings(" | "));
            }

            owner.Enqueue(line.Append('\n').ToString());
            if (line.Capacity > 4096)
            {
                _line = null; // do not keep a huge builder after one long exception
            }
        }

        private static string Level(LogLevel level) => level switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            LogLevel.Critical => "crit",
            _ => "none",
        };
    }
}
