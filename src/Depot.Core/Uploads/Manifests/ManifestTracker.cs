namespace Depot.Core.Uploads.Manifests;

/// <summary>
/// Follows the uploads of manifests: joins a manifest with the state of its sessions, records each accepted file once
/// its session completed, and completes the manifest (once) when the last accepted file is in.
/// </summary>
/// <remarks>Needs no upload engine, so the upload policy pipeline (which the engine calls) can report completions here
/// without a dependency cycle. A completion the notification missed (a crash between publishing and notifying) is
/// caught up the next time the manifest is read.</remarks>
public sealed class ManifestTracker(IManifestStore manifests, IUploadSessionStore sessions, IManifestEvents events, TimeProvider time)
{
    /// <summary>A session of manifest <paramref name="manifestId"/> completed: records it, and completes the manifest when
    /// it was the last accepted file. Returns the manifest now, or null when it is gone.</summary>
    public async Task<ManifestView?> SessionCompletedAsync(string manifestId, string sessionId, CancellationToken cancellationToken)
    {
        var manifest = await manifests.GetManifestAsync(manifestId, cancellationToken);
        return manifest is null ? null : await ViewAsync(manifest, [sessionId], cancellationToken);
    }

    /// <summary>The manifest now. Completed sessions not yet recorded in it are recorded (and may complete it).</summary>
    public Task<ManifestView> ViewAsync(ManifestRecord manifest, CancellationToken cancellationToken) =>
        ViewAsync(manifest, [], cancellationToken);

    private async Task<ManifestView> ViewAsync(ManifestRecord manifest, IReadOnlyCollection<string> alsoCompleted, CancellationToken cancellationToken)
    {
        var byId = new Dictionary<string, UploadSession>(StringComparer.Ordinal);
        foreach (var session in await sessions.GetManifestSessionsAsync(manifest.Id, cancellationToken))
        {
            byId[session.Id] = session;
        }

        var completed = new HashSet<string>(alsoCompleted, StringComparer.Ordinal);
        completed.UnionWith(byId.Values.Where(s => s.State == UploadState.Completed).Select(s => s.Id));
        var unrecorded = manifest.Files.Any(f => f is { Decision: ManifestDecision.Accepted, UploadedUtc: null } && completed.Contains(f.SessionId!));
        if (unrecorded || (manifest.CompletedUtc is null && AllUploaded(manifest.Files)))
        {
            var (recorded, completedNow) = await RecordAsync(manifest.Id, completed);
            manifest = recorded ?? manifest;
            if (completedNow)
            {
                var view = Describe(manifest, byId);
                // Best effort by design: the manifest is complete whatever a listener does with the news.
                await events.ManifestCompletedAsync(view, CancellationToken.None);
                return view;
            }
        }

        return Describe(manifest, byId);
    }

    /// <summary>Marks the accepted files whose sessions completed, and the manifest when that was the last one, in one
    /// atomic update; says whether this call completed the manifest.</summary>
    private async Task<(ManifestRecord? Manifest, bool CompletedNow)> RecordAsync(string id, HashSet<string> completedSessions)
    {
        var now = time.GetUtcNow();
        var completedNow = false;
        // The outcome of an upload is recorded even when the request that finished it has gone away.
        var update = await manifests.UpdateManifestAsync(id, stored =>
        {
            var changed = false;
            var files = stored.Files.ToArray();
            for (var i = 0; i < files.Length; i++)
            {
                if (files[i] is { Decision: ManifestDecision.Accepted, UploadedUtc: null, SessionId: { } session } && completedSessions.Contains(session))
                {
                    files[i] = files[i] with { UploadedUtc = now };
                    changed = true;
                }
            }

            var next = stored with { Files = files };
            if (stored.CompletedUtc is null && AllUploaded(files))
            {
                next = next with { CompletedUtc = now };
                completedNow = true;
                changed = true;
            }

            return changed ? next : null;
        }, CancellationToken.None);
        return (update.Manifest, completedNow && update.Changed);
    }

    private static bool AllUploaded(IEnumerable<ManifestEntry> files) =>
        files.All(f => f.Decision != ManifestDecision.Accepted || f.UploadedUtc is not null);

    private ManifestView Describe(ManifestRecord manifest, Dictionary<string, UploadSession> sessionsById)
    {
        var now = time.GetUtcNow();
        var expires = manifest.ExpiresUtc;
        var files = new List<ManifestFileView>(manifest.Files.Count);
        foreach (var entry in manifest.Files)
        {
            var session = entry.SessionId is { } id ? sessionsById.GetValueOrDefault(id) : null;
            var status = entry.Decision switch
            {
                ManifestDecision.Rejected => ManifestFileStatus.Rejected,
                ManifestDecision.Present => ManifestFileStatus.Present,
                _ when entry.UploadedUtc is not null || session?.State == UploadState.Completed => ManifestFileStatus.Uploaded,
                _ when session is not null && !session.IsExpiredAt(now) => ManifestFileStatus.Accepted,
                _ => ManifestFileStatus.Cancelled,
            };
            if (status == ManifestFileStatus.Accepted && session!.ExpiresUtc > expires)
            {
                // Every chunk pushes its session's expiry back; the manifest lives as long as its slowest open upload.
                expires = session.ExpiresUtc;
            }

            files.Add(new ManifestFileView(entry, status, session?.Key ?? entry.Key, session));
        }

        var state = manifest.CompletedUtc is not null ? ManifestState.Complete : ManifestState.Open;
        return new ManifestView(manifest, state, expires, files);
    }
}
