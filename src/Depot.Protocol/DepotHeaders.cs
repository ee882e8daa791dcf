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

    /// <summary>Request (PUT, POST uploads): when the object expires, RFC 3339 or IMF-fixdate. Response: its expiry (RFC 1123).</summary>
    public const string Expires = "X-Depot-Expires";

    /// <summary>Request (PUT, POST uploads): the object expires this many seconds from now.</summary>
    public const string Ttl = "X-Depot-Ttl";

    /// <summary>Response: "true" on appender objects.</summary>
    public const string Appendable = "X-Depot-Appendable";

    /// <summary>Response: the master's key on slave files.</summary>
    public const string Master = "X-Depot-Master";
}

/// <summary>Paths of the HTTP surface (design §4). The object API lives under <see cref="ApiPrefix"/>.</summary>
public static class DepotRoutes
{
    public const string ApiPrefix = "/v1";
    public const string Health = "/healthz";
    public const string OpenApi = "/openapi/v1.json";
    public const string Buckets = "/v1/";
    public const string Keys = "/v1/_keys";
    public const string Cluster = "/v1/_cluster";

    /// <summary>Replaces the share-link secret (admin): every earlier link stops working.</summary>
    public const string ShareRotate = "/v1/_share/rotate";

    /// <summary>Resumable upload sessions: <c>POST</c> creates one; <c>/v1/_uploads/{id}</c> is a session.</summary>
    public const string Uploads = "/v1/_uploads";

    /// <summary>The URL path of an upload session.</summary>
    public static string Upload(string id) => $"{Uploads}/{id}";

    /// <summary>Manifests: <c>POST</c> declares one; <c>/v1/_manifests/{id}</c> is a manifest.</summary>
    public const string Manifests = "/v1/_manifests";

    /// <summary>The URL path of a manifest.</summary>
    public static string Manifest(string id) => $"{Manifests}/{id}";

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

    /// <summary>GET/PUT/PATCH/DELETE: an object's user metadata (DELETE ?meta=a,b removes those names).</summary>
    public const string Meta = "meta";

    /// <summary>PUT (and POST uploads): create an appender object.</summary>
    public const string Appendable = "appendable";

    /// <summary>POST: append the body to an appender object.</summary>
    public const string Append = "append";

    /// <summary>POST: write the body at ?offset= of an appender object (?extend=true to pass its end).</summary>
    public const string Modify = "modify";

    /// <summary>POST ?truncate=N: cut an appender object to N bytes.</summary>
    public const string Truncate = "truncate";

    public const string Extend = "extend";

    /// <summary>GET: download from this byte (with <see cref="Length"/>; FastDFS-style ranged download). POST ?modify: where to write.</summary>
    public const string Offset = "offset";

    /// <summary>GET with <see cref="Offset"/>: how many bytes (0 or absent: to the end).</summary>
    public const string Length = "length";

    /// <summary>POST on a bucket: the extension of the assigned id (up to 6 letters and digits). POST ?slave: the slave's.</summary>
    public const string Ext = "ext";

    /// <summary>POST ?slave=PREFIX on a master: upload a slave file.</summary>
    public const string Slave = "slave";

    /// <summary>POST ?slave, ?move, ?copy: replace an existing file at the destination.</summary>
    public const string Overwrite = "overwrite";

    /// <summary>DELETE ?take: get-and-delete; the answer carries the removed value.</summary>
    public const string Take = "take";

    /// <summary>POST: create a share link for the object (with <see cref="Ttl"/> or <see cref="Expires"/>).</summary>
    public const string Share = "share";

    /// <summary>Seconds a new share link stays valid.</summary>
    public const string Ttl = "ttl";

    /// <summary>POST ?share: an RFC 3339 time. On a share link: its expiry in Unix seconds.</summary>
    public const string Expires = "expires";

    /// <summary>On a share link: its HMAC-SHA256 signature, base64url without padding.</summary>
    public const string Sig = "sig";
}
