using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Http;

/// <summary>Listings carry the user metadata of files (docs/http-api.md §3.7): the same set <c>?stat</c> and <c>?meta</c>
/// answer, omitted for files without any, in flat, recursive and paged listings, and following the PUT (§3.4) and
/// <c>?meta</c> (§3.20) rules.</summary>
public sealed class ListMetadataApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task List_FileWithMetadata_EntryCarriesIt()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (var put = await PutAsync(server.Client, "sync/a.txt", "a", ("Mtime", "1700000000"), ("Author", Uri.EscapeDataString("Zoë"))))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var page = await ListAsync(server.Client, "v1/default/sync/");

        var entry = Assert.Single(page.Entries);
        Assert.Equal(new Dictionary<string, string> { ["mtime"] = "1700000000", ["author"] = "Zoë" }, entry.Metadata);
        Assert.Equal(await StatMetadataAsync(server.Client, "sync/a.txt"), entry.Metadata);
    }

    [Fact]
    public async Task List_FileWithoutMetadata_EntryHasNoMetadataMember()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (await PutAsync(server.Client, "mixed/plain.txt", "plain"))
        using (await PutAsync(server.Client, "mixed/tagged.txt", "tagged", ("Mtime", "5")))
        using (await server.Client.PutAsync("v1/default/mixed/sub/", null, Ct))
        {
        }

        using var response = await server.Client.GetAsync("v1/default/mixed/", Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var entries = JsonDocument.Parse(text).RootElement.GetProperty("entries").EnumerateArray().ToDictionary(e => e.GetProperty("key").GetString()!);
        Assert.False(entries["mixed/plain.txt"].TryGetProperty("metadata", out _), text);
        Assert.False(entries["mixed/sub"].TryGetProperty("metadata", out _), text);
        Assert.Equal("5", entries["mixed/tagged.txt"].GetProperty("metadata").GetProperty("mtime").GetString());
    }

    [Fact]
    public async Task List_Recursive_CarriesMetadataOfFilesAtEveryDepth()
    {
        await using var server = await DepotTestServer.StartAsync();
        string[] keys = ["tree/top.txt", "tree/a/mid.txt", "tree/a/b/deep.txt", "tree/a/b/bare.txt"];
        foreach (var key in keys)
        {
            using var put = key.EndsWith("bare.txt", StringComparison.Ordinal)
                ? await PutAsync(server.Client, key, key)
                : await PutAsync(server.Client, key, key, ("Mtime", key.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.True(put.IsSuccessStatusCode);
        }

        var page = await ListAsync(server.Client, "v1/default/tree/?recursive");

        var files = page.Entries.Where(e => e.Type == "file").ToDictionary(e => e.Key);
        Assert.Equal(keys.Order(StringComparer.Ordinal), files.Keys.Order(StringComparer.Ordinal));
        foreach (var key in keys.Where(k => !k.EndsWith("bare.txt", StringComparison.Ordinal)))
        {
            Assert.Equal(key.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), files[key].Metadata!["mtime"]);
        }

        Assert.Null(files["tree/a/b/bare.txt"].Metadata);
        Assert.All(page.Entries.Where(e => e.Type == "directory"), d => Assert.Null(d.Metadata));
    }

    [Fact]
    public async Task List_Paged_EveryPageCarriesTheMetadataOfItsFiles()
    {
        await using var server = await DepotTestServer.StartAsync();
        for (var i = 0; i < 7; i++)
        {
            using var put = await PutAsync(server.Client, $"paged/d{i % 2}/f{i}.txt", "x", ("Mtime", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.True(put.IsSuccessStatusCode);
        }

        var seen = new Dictionary<string, string>();
        var pages = 0;
        string? cursor = null;
        do
        {
            var page = await ListAsync(server.Client, "v1/default/paged/?recursive&limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            foreach (var file in page.Entries.Where(e => e.Type == "file"))
            {
                seen.Add(file.Key, file.Metadata!["mtime"]);
            }

            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null);

        Assert.True(pages >= 4, $"expected several pages, got {pages}");
        Assert.Equal(7, seen.Count);
        for (var i = 0; i < 7; i++)
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), seen[$"paged/d{i % 2}/f{i}.txt"]);
        }
    }

    [Fact]
    public async Task List_AfterMetaPatch_ShowsTheMergedSet()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (await PutAsync(server.Client, "m/a.txt", "a", ("Mtime", "1"), ("Lang", "en")))
        using (var patch = await SendJsonAsync(server.Client, HttpMethod.Patch, "v1/default/m/a.txt?meta", """{"mtime":"2","lang":null,"reviewed":"yes"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        var entry = Assert.Single((await ListAsync(server.Client, "v1/default/m/")).Entries);

        Assert.Equal(new Dictionary<string, string> { ["mtime"] = "2", ["reviewed"] = "yes" }, entry.Metadata);
    }

    [Fact]
    public async Task List_AfterMetaPut_ShowsTheReplacedSetAndNoneAfterEmptying()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (await PutAsync(server.Client, "m/a.txt", "a", ("Mtime", "1"), ("Lang", "en")))
        using (var put = await SendJsonAsync(server.Client, HttpMethod.Put, "v1/default/m/a.txt?meta", """{"Title":"Greeting"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var replaced = Assert.Single((await ListAsync(server.Client, "v1/default/m/")).Entries);
        using (var empty = await SendJsonAsync(server.Client, HttpMethod.Put, "v1/default/m/a.txt?meta", "{}"))
        {
            Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
        }

        var emptied = Assert.Single((await ListAsync(server.Client, "v1/default/m/")).Entries);

        Assert.Equal(new Dictionary<string, string> { ["title"] = "Greeting" }, replaced.Metadata);
        Assert.Null(emptied.Metadata);
    }

    [Fact]
    public async Task List_AfterMetaDeleteOfEveryName_EntryHasNoMetadata()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (await PutAsync(server.Client, "m/a.txt", "a", ("Mtime", "1")))
        using (var delete = await server.Client.DeleteAsync("v1/default/m/a.txt?meta=mtime", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        }

        var entry = Assert.Single((await ListAsync(server.Client, "v1/default/m/")).Entries);

        Assert.Null(entry.Metadata);
    }

    [Fact]
    public async Task List_FileReplacedWithoutMetaHeaders_KeepsThePreviousMetadata()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (await PutAsync(server.Client, "r/a.txt", "first", ("Mtime", "1")))
        using (var replace = await PutAsync(server.Client, "r/a.txt", "second, longer"))
        {
            Assert.Equal(HttpStatusCode.OK, replace.StatusCode);
        }

        var entry = Assert.Single((await ListAsync(server.Client, "v1/default/r/")).Entries);

        Assert.Equal("second, longer".Length, entry.Size);
        Assert.Equal(TestBytes.Sha256Hex(Encoding.UTF8.GetBytes("second, longer")), entry.Sha256);
        Assert.Equal(new Dictionary<string, string> { ["mtime"] = "1" }, entry.Metadata);
    }

    [Fact]
    public async Task List_FileReplacedWithMetaHeaders_HasOnlyTheNewSet()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (await PutAsync(server.Client, "r/a.txt", "first", ("Mtime", "1"), ("Lang", "en")))
        using (var replace = await PutAsync(server.Client, "r/a.txt", "second", ("Mtime", "2")))
        {
            Assert.Equal(HttpStatusCode.OK, replace.StatusCode);
        }

        var entry = Assert.Single((await ListAsync(server.Client, "v1/default/r/")).Entries);

        Assert.Equal(new Dictionary<string, string> { ["mtime"] = "2" }, entry.Metadata);
    }

    [Fact]
    public async Task List_FileChangedBehindDepotsBack_NoSha256ButTheMetadataStatAnswers()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (await PutAsync(server.Client, "ext/a.txt", "by depot", ("Mtime", "1")))
        {
        }

        await File.WriteAllTextAsync(Path.Combine(server.DataDirectory, "ext", "a.txt"), "changed from outside", Ct);
        var entry = Assert.Single((await ListAsync(server.Client, "v1/default/ext/")).Entries);

        // The checksum is stale until the file is described again; the metadata is kept when it is (as ?stat shows).
        Assert.Null(entry.Sha256);
        Assert.Equal(new Dictionary<string, string> { ["mtime"] = "1" }, entry.Metadata);
        Assert.Equal(entry.Metadata, await StatMetadataAsync(server.Client, "ext/a.txt"));
    }

    [Fact]
    public async Task List_PrefixLimitedKey_SeesMetadataOnlyOfFilesUnderItsPrefix()
    {
        await using var server = await DepotTestServer.StartAsync();
        using (await PutAsync(server.Client, "pub/a.txt", "a", ("Mtime", "1")))
        using (await PutAsync(server.Client, "private/b.txt", "b", ("Secret", "s")))
        {
        }

        var key = await server.CreateKeyAsync(["read"], prefix: "pub/");
        using var limited = server.CreateClient(key.Token);

        var page = await ListAsync(limited, "v1/default/?recursive");

        Assert.Equal(["pub", "pub/a.txt"], page.Entries.Select(e => e.Key));
        Assert.Equal(new Dictionary<string, string> { ["mtime"] = "1" }, page.Entries.Single(e => e.Key == "pub/a.txt").Metadata);
    }

    private static async Task<HttpResponseMessage> PutAsync(HttpClient client, string key, string body, params (string Name, string Value)[] metadata)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "v1/default/" + key) { Content = new StringContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        foreach (var (name, value) in metadata)
        {
            request.Headers.Add(DepotHeaders.MetaPrefix + name, value);
        }

        return await client.SendAsync(request, Ct);
    }

    private static async Task<HttpResponseMessage> SendJsonAsync(HttpClient client, HttpMethod method, string url, string json)
    {
        using var request = new HttpRequestMessage(method, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        return await client.SendAsync(request, Ct);
    }

    private static async Task<ListPageDto> ListAsync(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
        return (await response.Content.ReadFromJsonAsync(DepotJson.Default.ListPageDto, Ct))!;
    }

    private static async Task<IReadOnlyDictionary<string, string>?> StatMetadataAsync(HttpClient client, string key)
    {
        using var response = await client.GetAsync("v1/default/" + key + "?stat", Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync(Ct));
        return (await response.Content.ReadFromJsonAsync(DepotJson.Default.ObjectInfoDto, Ct))!.Metadata;
    }
}
