using System.Security.Cryptography;
using Depot.Core.Errors;
using Depot.Core.Paths;
using Depot.Core.Storage;

#pragma warning disable CA5351 // MD5 is what clients declare (Content-MD5, tus, sessions); it is verified, not trusted for security

namespace Depot.Core.Uploads;

/// <summary>Checksums of a whole upload declared when it is completed, by a client that hashed the bytes while sending
/// them (chunks in parallel: the SHA-256 is known only at the end).</summary>
/// <param name="Sha256">The expected SHA-256 (32 bytes), or null.</param>
/// <param name="Md5">The expected MD5 (16 bytes), or null.</param>
public sealed record UploadChecksums(byte[]? Sha256, byte[]? Md5);

/// <summary>Checksums declared at completion.</summary>
public sealed partial class UploadEngine
{
    /// <summary><c>invalid_request</c> when the completion declares a checksum other than the one the session declared at
    /// creation: one of them is wrong, and which one the server cannot tell.</summary>
    private static DepotError? ConflictingDeclaration(UploadSession session, UploadChecksums? declared)
    {
        if (declared?.Sha256 is { } sha && session.ExpectedSha256 is { } createdSha && !sha.AsSpan().SequenceEqual(createdSha))
        {
            return DepotError.InvalidRequest($"The completion declares sha256 {Convert.ToHexStringLower(sha)}, but upload session '{session.Id}' was created with {Convert.ToHexStringLower(createdSha)}. Send the one that is right, or none.");
        }

        if (declared?.Md5 is { } md5 && session.ExpectedMd5 is { } createdMd5 && !md5.AsSpan().SequenceEqual(createdMd5))
        {
            return DepotError.InvalidRequest($"The completion declares md5 {Convert.ToHexStringLower(md5)}, but upload session '{session.Id}' was created with {Convert.ToHexStringLower(createdMd5)}. Send the one that is right, or none.");
        }

        return null;
    }

    /// <summary>For a completed session asked again with checksums: <c>checksum_mismatch</c> when they are not those of the
    /// bytes it published, null when they are.</summary>
    private async Task<DepotError?> CheckCompletedAsync(UploadSession session, UploadChecksums declared, CancellationToken cancellationToken)
    {
        if (declared.Sha256 is { } sha && session.ResultSha256 is { } published && !string.Equals(Convert.ToHexStringLower(sha), published, StringComparison.OrdinalIgnoreCase))
        {
            return DepotError.ChecksumMismatch($"Upload session '{session.Id}' published bytes with SHA-256 {published}, not {Convert.ToHexStringLower(sha)}.");
        }

        if (declared.Md5 is not { } md5)
        {
            return null;
        }

        // The MD5 the completion verified, or else that of the published object while it is still at its key.
        var known = session.ExpectedMd5;
        if (known is null && session.ResultSha256 is { } resultSha && !session.Partial)
        {
            known = await PublishedMd5Async(session, resultSha, cancellationToken);
        }

        if (known is null)
        {
            return DepotError.Conflict($"Upload session '{session.Id}' completed without an MD5 and the object it published is no longer at '{session.Key}', so an MD5 cannot be checked now; check its sha256 instead.");
        }

        return known.AsSpan().SequenceEqual(md5)
            ? null
            : DepotError.ChecksumMismatch($"Upload session '{session.Id}' published bytes with MD5 {Convert.ToHexStringLower(known)}, not {Convert.ToHexStringLower(md5)}.");
    }

    /// <summary>The MD5 of the object at the session's key when it holds the bytes with <paramref name="sha256Hex"/>; null
    /// when it is gone or was replaced. Reads the whole object: only for an MD5 declared after the bytes were published.</summary>
    private async Task<byte[]?> PublishedMd5Async(UploadSession session, string sha256Hex, CancellationToken cancellationToken)
    {
        if (!ObjectKey.Parse(session.Key).TryGetValue(out var key, out _)
            || !(await _objects.OpenReadAsync(session.Bucket, key, cancellationToken)).TryGetValue(out var read, out _))
        {
            return null;
        }

        await using (read.Content)
        {
            return string.Equals(read.Record.Sha256Hex, sha256Hex, StringComparison.OrdinalIgnoreCase)
                ? await MD5.HashDataAsync(read.Content, cancellationToken)
                : null;
        }
    }

    /// <summary>The MD5 of the first <paramref name="length"/> staged bytes, for an MD5 the running hash did not compute
    /// (it was declared only at completion).</summary>
    private static async Task<byte[]> Md5OfStagedAsync(IStagedUpload file, long length, CancellationToken cancellationToken)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            for (long at = 0; at < length;)
            {
                var read = await file.ReadAtAsync(at, buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - at)), cancellationToken);
                if (read <= 0)
                {
                    throw new IOException($"The staged upload ends at {at}, before {length}.");
                }

                md5.AppendData(buffer, 0, read);
                at += read;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        return md5.GetHashAndReset();
    }
}
