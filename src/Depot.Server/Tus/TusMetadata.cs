using System.Text;
using Depot.Core.Errors;

namespace Depot.Server.Tus;

/// <summary>A parsed <c>Upload-Metadata</c> header: unique keys with base64-decoded values.</summary>
public sealed class TusMetadata
{
    /// <summary>The value names Depot reads (everything else may become user metadata).</summary>
    public const string FileName = "filename";
    public const string FileType = "filetype";
    public const string Bucket = "bucket";
    public const string Key = "key";

    /// <summary>Headers are not the place for more pairs than this.</summary>
    private const int MaxPairs = 256;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Dictionary<string, byte[]> _values;

    private TusMetadata(Dictionary<string, byte[]> values) => _values = values;

    public static TusMetadata Empty { get; } = new(new Dictionary<string, byte[]>(StringComparer.Ordinal));

    /// <summary>The pairs in the order of the header.</summary>
    public IEnumerable<KeyValuePair<string, byte[]>> Pairs => _values;

    public int Count => _values.Count;

    /// <summary>"The Upload-Metadata request and response header MUST consist of one or more comma-separated key-value
    /// pairs. The key and value MUST be separated by a space. The key MUST NOT contain spaces and commas and MUST NOT be
    /// empty. [...] the value MUST be Base64 encoded. All keys MUST be unique. The value MAY be empty."</summary>
    /// <returns>The pairs; <c>invalid_request</c> for anything else.</returns>
    public static Result<TusMetadata> Parse(string? header)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return Empty;
        }

        var values = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var rawPair in header.Split(','))
        {
            var pair = rawPair.Trim();
            var space = pair.IndexOf(' ', StringComparison.Ordinal);
            var key = space < 0 ? pair : pair[..space];
            var encoded = space < 0 ? "" : pair[(space + 1)..].Trim();
            if (key.Length == 0 || key.Any(c => char.IsControl(c) || c > '\u007e'))
            {
                return DepotError.InvalidRequest($"{TusProtocol.UploadMetadata} has an empty or non-ASCII key; it is 'key base64value' pairs separated by commas.");
            }

            if (encoded.Contains(' ', StringComparison.Ordinal))
            {
                return DepotError.InvalidRequest($"The value of '{TusProtocol.Printable(key)}' in {TusProtocol.UploadMetadata} is not one base64 string.");
            }

            byte[] value;
            try
            {
                value = Convert.FromBase64String(encoded);
            }
            catch (FormatException)
            {
                return DepotError.InvalidRequest($"The value of '{TusProtocol.Printable(key)}' in {TusProtocol.UploadMetadata} is not valid base64.");
            }

            if (!values.TryAdd(key, value))
            {
                return DepotError.InvalidRequest($"The key '{TusProtocol.Printable(key)}' appears twice in {TusProtocol.UploadMetadata}; keys must be unique.");
            }

            if (values.Count > MaxPairs)
            {
                return DepotError.InvalidRequest($"{TusProtocol.UploadMetadata} has more than {MaxPairs} pairs.");
            }
        }

        return new TusMetadata(values);
    }

    public bool Contains(string key) => _values.ContainsKey(key);

    /// <summary>The value of <paramref name="key"/> as text; null when absent; <c>invalid_request</c> when it is not
    /// UTF-8 without control characters (these values become names, keys and headers).</summary>
    public Result<string?> GetText(string key)
    {
        if (!_values.TryGetValue(key, out var bytes))
        {
            return (string?)null;
        }

        var text = TryDecode(bytes);
        if (text is null || text.Any(char.IsControl))
        {
            return DepotError.InvalidRequest($"The value of '{key}' in {TusProtocol.UploadMetadata} must be UTF-8 text without control characters.");
        }

        return text;
    }

    /// <summary>The value as UTF-8 text, or null when the bytes are not UTF-8.</summary>
    public static string? TryDecode(byte[] bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
