using Depot.Core.Errors;
using Depot.Core.Paths;
using Depot.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Depot.Server.Handlers;

/// <summary>A request's validated bucket and key, and whether the path ended in '/' (directory form).</summary>
public sealed record ObjectTarget(string Bucket, ObjectKey Key, bool DirectoryForm)
{
    public static Result<ObjectTarget> From(HttpContext context)
    {
        if (!RawKeyPath.Parse(context).TryGetValue(out var raw, out var error))
        {
            return error;
        }

        var bucketOk = BucketName.Validate(raw.Bucket);
        if (!bucketOk.IsSuccess)
        {
            return bucketOk.Error!;
        }

        if (!ObjectKey.Parse(raw.Key, allowRoot: true).TryGetValue(out var key, out var keyError))
        {
            return keyError;
        }

        return new ObjectTarget(raw.Bucket, key, raw.TrailingSlash || key.IsRoot);
    }
}
