namespace Depot.Protocol;

/// <summary>Header names of the native API beyond the standard HTTP ones.</summary>
public static class DepotHeaders
{
    /// <summary>Request: the SHA-256 (hex) the body must have. Response: the object's SHA-256 (hex).</summary>
    public const string Sha256 = "X-Depot-Sha256";

    /// <summary>Prefix of user metadata headers: <c>X-Depot-Meta-{name}: {value}</c>.</summary>
    public const string MetaPrefix = "X-Depot-Meta-";

    /// <summary>Response: created time of the object (RFC 1123).</summary>
    public const string Created = "X-Depot-Created";

    /// <summary>Response: "file" or "directory" on HEAD.</summary>
    public const string EntryType = "X-Depot-Type";
}

/// <summary>Paths of the HTTP surface (design §4). The object API lives under <see cref="ApiPrefix"/>.</summary>
public static class DepotRoutes
{
    public const string ApiPrefix = "/v1";
    public const string Health = "/healthz";
    public const string OpenApi = "/openapi/v1.json";
    public const string Buckets = "/v1/";
    public const string Keys = "/v1/_keys";

    /// <summary>The URL path of an object: <c>/v1/{bucket}/{key}</c> with each key segment percent-encoded.</summary>
    public static string Object(string bucket, string key) =>
        $"{ApiPrefix}/{Uri.EscapeDataString(bucket)}/{string.Join('/', key.Split('/').Select(Uri.EscapeDataString))}";
}

/// <summary>Query switches of the object API.</summary>
public static class DepotQuery
{
    public const string List = "list";
    public const string Stat = "stat";
    public const string Move = "move";
    public const string Copy = "copy";
    public const string Recursive = "recursive";
    public const string Limit = "limit";
    public const string Cursor = "cursor";
    public const string Download = "download";
}
