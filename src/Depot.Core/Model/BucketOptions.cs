namespace Depot.Core.Model;

/// <summary>One bucket: where its bytes live and its limits.</summary>
public sealed class BucketOptions
{
    /// <summary>The directory that holds the bucket's files (embedded default backend).</summary>
    public string Path { get; set; } = "";

    /// <summary>Largest object in bytes; larger uploads get <c>too_large</c> (413) before any byte is stored.</summary>
    public long MaxObjectSize { get; set; } = 1L << 40;

    /// <summary>Longest key in UTF-8 bytes; longer keys get <c>too_large</c> (413).</summary>
    public int MaxKeyLength { get; set; } = 1024;

    /// <summary>Longest user metadata name in bytes.</summary>
    public int MaxMetadataNameBytes { get; set; } = 64;

    /// <summary>Longest user metadata value in UTF-8 bytes.</summary>
    public int MaxMetadataValueBytes { get; set; } = 256;

    /// <summary>Most user metadata entries on one object.</summary>
    public int MaxMetadataEntries { get; set; } = 64;

    /// <summary>Smallest chunk size an upload session may declare (the last chunk may be shorter); smaller ones are refused
    /// with <c>invalid_request</c> when the session is created.</summary>
    public long MinChunkSize { get; set; } = 1;

    /// <summary>Largest chunk an upload session may declare or send in one request (tus PATCH bodies are bounded by the
    /// upload's length instead); larger ones are refused with <c>too_large</c> before the bytes arrive.</summary>
    public long MaxChunkSize { get; set; } = 1L << 30;

    /// <summary>Refuse every change (uploads, deletes, moves) with <c>forbidden</c>.</summary>
    public bool ReadOnly { get; set; }
}
