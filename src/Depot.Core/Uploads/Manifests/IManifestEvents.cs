namespace Depot.Core.Uploads.Manifests;

/// <summary>Told when a manifest completes (the server turns it into a log line and a <c>manifest.completed</c>
/// webhook). Called exactly once per manifest.</summary>
public interface IManifestEvents
{
    ValueTask ManifestCompletedAsync(ManifestView manifest, CancellationToken cancellationToken);
}
