using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Depot.Client;

namespace Depot.Cli.Shell;

/// <summary>
/// Everything a command prints goes through here, so that the three modes hold for every command: a terminal gets
/// progress bars; a pipe or file gets plain lines without control characters; <c>--json</c> gets exactly one JSON
/// document on stdout (errors as JSON on stderr); <c>--quiet</c> leaves only the data asked for and errors.
/// </summary>
internal sealed class CliOutput
{
    private static readonly JsonSerializerOptions CompactJson = CreateJsonOptions(indented: false);
    private static readonly JsonSerializerOptions IndentedJson = CreateJsonOptions(indented: true);

    public CliOutput(bool json, bool quiet, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        Json = json;
        Quiet = quiet;
        Out = stdout ?? Console.Out;
        Error = stderr ?? Console.Error;
        IsTerminal = stdout is null && !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is not "dumb";
    }

    /// <summary><c>--json</c>: results as one JSON document on stdout.</summary>
    public bool Json { get; }

    /// <summary><c>--quiet</c>: no progress, no informational lines.</summary>
    public bool Quiet { get; }

    /// <summary>stdout is a terminal (not a pipe or file, and TERM is not "dumb").</summary>
    public bool IsTerminal { get; }

    /// <summary>Progress bars are drawn: a terminal, and neither <c>--quiet</c> nor <c>--json</c>.</summary>
    public bool ShowProgressBars => IsTerminal && !Quiet && !Json;

    /// <summary>Per-file progress lines (one per finished file of a multi-file transfer) instead of bars.</summary>
    public bool ShowProgressLines => !IsTerminal && !Quiet && !Json;

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    /// <summary>Data the user asked for (a listing, a value): printed unless in JSON mode (which prints it as JSON).</summary>
    public void Data(string line)
    {
        if (!Json)
        {
            Out.WriteLine(Sanitize(line));
        }
    }

    /// <summary>A line about what was done ("uploaded …"): not in quiet or JSON mode.</summary>
    public void Info(string line)
    {
        if (!Json && !Quiet)
        {
            Out.WriteLine(Sanitize(line));
        }
    }

    /// <summary>A warning on stderr (also in quiet mode; not in JSON mode, where it would break nothing but adds noise).</summary>
    public void Warn(string line)
    {
        if (!Json)
        {
            Error.WriteLine("depot: warning: " + Sanitize(line));
        }
    }

    /// <summary>The result in JSON mode; nothing otherwise. Indented on a terminal, one line in a pipe.</summary>
    public void WriteJson<T>(T value)
    {
        if (Json)
        {
            Out.WriteLine(JsonSerializer.Serialize(value, IsTerminal ? IndentedJson : CompactJson));
        }
    }

    public static string SerializeJson<T>(T value) => JsonSerializer.Serialize(value, CompactJson);

    /// <summary>Columns aligned with spaces (no box drawing: the output stays greppable and pipe-safe).</summary>
    public void Table(IReadOnlyList<string[]> rows, params bool[] rightAligned)
    {
        if (Json || rows.Count == 0)
        {
            return;
        }

        var widths = new int[rows.Max(r => r.Length)];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], Sanitize(row[i]).Length);
            }
        }

        var line = new StringBuilder();
        foreach (var row in rows)
        {
            line.Clear();
            for (var i = 0; i < row.Length; i++)
            {
                var cell = Sanitize(row[i]);
                var last = i == row.Length - 1;
                if (i < rightAligned.Length && rightAligned[i])
                {
                    line.Append(cell.PadLeft(widths[i]));
                }
                else
                {
                    line.Append(last ? cell : cell.PadRight(widths[i]));
                }

                if (!last)
                {
                    line.Append("  ");
                }
            }

            Out.WriteLine(line.ToString());
        }
    }

    /// <summary>Remote names may hold any character; control characters are shown escaped so that a name can never
    /// move the cursor or forge a line of output.</summary>
    public static string Sanitize(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            builder.Append(char.IsControl(c) ? $"\\x{(int)c:x2}" : c);
        }

        return builder.ToString();
    }

    private static JsonSerializerOptions CreateJsonOptions(bool indented)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            WriteIndented = indented,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.Converters.Add(new DepotPathJsonConverter());
        return options;
    }

    /// <summary>A remote path as the text users type (<c>bucket/key</c>).</summary>
    private sealed class DepotPathJsonConverter : JsonConverter<DepotPath>
    {
        public override DepotPath Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DepotPath.Parse(reader.GetString() ?? "");

        public override void Write(Utf8JsonWriter writer, DepotPath value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
    }
}
