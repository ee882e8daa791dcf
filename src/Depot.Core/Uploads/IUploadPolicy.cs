using Depot.Core.Model;

namespace Depot.Core.Uploads;

/// <summary>
/// The server-side hooks of every upload (AccessGrid's callbacks, IndexedCP's file-name generator): may this identity
/// upload this file, where does it go, it completed, it was cancelled. Register one through <c>AddDepot()</c>; the same
/// events also go out as webhooks.
/// </summary>
/// <remarks>Called for sessions of every door (native, tus, IndexedCP, manifests) and for manifest entries before any byte
/// moves. <see cref="DecideAsync"/> runs on the request path: keep it fast. The notifications run after the fact; an
/// exception there is logged and never undoes the upload.</remarks>
public interface IUploadPolicy
{
    /// <summary>May <see cref="UploadProposal.Identity"/> upload this file, and at which key?</summary>
    ValueTask<UploadDecision> DecideAsync(UploadProposal proposal, CancellationToken cancellationToken);

    /// <summary>An upload was published.</summary>
    ValueTask CompletedAsync(UploadCompleted completed, CancellationToken cancellationToken);

    /// <summary>An upload was aborted by its client or expired unfinished; its bytes are gone.</summary>
    ValueTask CancelledAsync(UploadCancelled cancelled, CancellationToken cancellationToken);
}

/// <summary>An upload about to start.</summary>
/// <param name="Identity">Who uploads (the API key's name, or its id).</param>
/// <param name="Protocol">Which door (<see cref="UploadProtocols"/>).</param>
/// <param name="Bucket">The target bucket.</param>
/// <param name="Key">The key asked for; null when the server assigns an id.</param>
/// <param name="ClientName">The name the client gave the file, when it gave one.</param>
/// <param name="Length">The declared size, when declared.</param>
/// <param name="Sha256">The declared SHA-256 (hex), when declared.</param>
/// <param name="Md5">The declared MD5 (hex), when declared.</param>
/// <param name="ContentType">The declared media type.</param>
/// <param name="Metadata">The declared user metadata.</param>
public sealed record UploadProposal(
    string Identity,
    string Protocol,
    string Bucket,
    string? Key,
    string? ClientName,
    long? Length,
    string? Sha256,
    string? Md5,
    string? ContentType,
    IReadOnlyDictionary<string, string> Metadata);

/// <summary>A policy's answer.</summary>
public sealed record UploadDecision
{
    private UploadDecision(bool allowed, string? reason, string? key)
    {
        Allowed = allowed;
        Reason = reason;
        Key = key;
    }

    /// <summary>Go ahead (at the key asked for, or the assigned id).</summary>
    public static UploadDecision Allow { get; } = new(true, null, null);

    public bool Allowed { get; }

    /// <summary>Why not (shown to the client).</summary>
    public string? Reason { get; }

    /// <summary>The key to store at instead of the one asked for (validated like any key, inside the same bucket).</summary>
    public string? Key { get; }

    /// <summary>Go ahead, but store at <paramref name="key"/>.</summary>
    public static UploadDecision AllowAt(string key) => new(true, null, key);

    public static UploadDecision Reject(string reason) => new(false, reason, null);
}

/// <summary>An upload was published.</summary>
public sealed record UploadCompleted(string SessionId, string Identity, string Protocol, string? ClientName, ObjectRecord Object);

/// <summary>An upload ended without publishing.</summary>
/// <param name="Reason"><c>aborted</c> or <c>expired</c>.</param>
public sealed record UploadCancelled(string SessionId, string Identity, string Protocol, string Bucket, string Key, string? ClientName, string Reason, long BytesReceived);

/// <summary>Allows everything and ignores events: the default.</summary>
public sealed class AllowAllUploadPolicy : IUploadPolicy
{
    public static AllowAllUploadPolicy Instance { get; } = new();

    public ValueTask<UploadDecision> DecideAsync(UploadProposal proposal, CancellationToken cancellationToken) => ValueTask.FromResult(UploadDecision.Allow);

    public ValueTask CompletedAsync(UploadCompleted completed, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask CancelledAsync(UploadCancelled cancelled, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
