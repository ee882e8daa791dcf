namespace Depot.Server.Tus;

/// <summary>What a tus upload keeps in <see cref="Core.Uploads.UploadSession.Properties"/>: the <c>Upload-Metadata</c>
/// and <c>Upload-Concat</c> headers as the client sent them, which HEAD must echo.</summary>
/// <remarks>Stored as header lines (<c>Name: value</c>, one per line): header values cannot contain line breaks, so the
/// format needs no escaping and stays readable in the session store.</remarks>
public sealed record TusSessionProperties(string? Metadata, string? Concat)
{
    /// <summary>True for the result of a concatenation (<c>Upload-Concat: final;...</c>).</summary>
    public bool IsFinal => Concat is not null && Concat.StartsWith("final;", StringComparison.Ordinal);

    public string? Format()
    {
        var lines = new List<string>(2);
        if (!string.IsNullOrEmpty(Metadata))
        {
            lines.Add(TusProtocol.UploadMetadata + ": " + Metadata);
        }

        if (!string.IsNullOrEmpty(Concat))
        {
            lines.Add(TusProtocol.UploadConcat + ": " + Concat);
        }

        return lines.Count == 0 ? null : string.Join('\n', lines);
    }

    public static TusSessionProperties Parse(string? properties)
    {
        string? metadata = null;
        string? concat = null;
        foreach (var line in (properties ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }

            var value = line[(colon + 2)..];
            switch (line[..colon])
            {
                case TusProtocol.UploadMetadata:
                    metadata = value;
                    break;
                case TusProtocol.UploadConcat:
                    concat = value;
                    break;
            }
        }

        return new TusSessionProperties(metadata, concat);
    }
}
