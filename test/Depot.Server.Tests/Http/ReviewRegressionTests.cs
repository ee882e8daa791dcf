using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Depot.Server.Hosting;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Http;

/// <summary>Regressions for findings of the first code review: each test failed before its fix.</summary>
public sealed class ReviewRegressionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ConditionalWrites_OnFilesWrittenOutsideDepot_CompleteInsteadOfDeadlocking()
    {
        await using var server = await DepotTestServer.StartAsync();
        await File.WriteAllTextAsync(Path.Combine(server.DataDirectory, "ext-delete.txt"), "outside", Ct);
        await File.WriteAllTextAsync(Path.Combine(server.DataDirectory, "ext-put.txt"), "outside", Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(20)); // a deadlock shows as a cancelled request, not a hung test

        using var delete = new HttpRequestMessage(HttpMethod.Delete, "v1/default/ext-delete.txt");
        delete.Headers.IfMatch.Add(EntityTagHeaderValue.Any);
        using var deleted = await server.Client.SendAsync(delete, timeout.Token);
        using var put = new HttpRequestMessage(HttpMethod.Put, "v1/default/ext-put.txt") { Content = new StringContent("replaced") };
        put.Headers.IfMatch.Add(EntityTagHeaderValue.Any);
        using var replaced = await server.Client.SendAsync(put, timeout.Token);

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.False(File.Exists(Path.Combine(server.DataDirectory, "ext-delete.txt")));
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode); // the key held an (unrecorded) file: replaced, not created
        Assert.Equal("replaced", await File.ReadAllTextAsync(Path.Combine(server.DataDirectory, "ext-put.txt"), Ct));
    }

    [Fact]
    public async Task Get_RangeEndingAtLongMaxValue_Answers206WithTheRest()
    {
        await using var server = await DepotTestServer.StartAsync();
        await server.Client.PutAsync("v1/default/r.bin", new ByteArrayContent(Encoding.ASCII.GetBytes("0123456789")), Ct);
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/default/r.bin");
        request.Headers.TryAddWithoutValidation("Range", "bytes=4-9223372036854775807");

        using var response = await server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal("456789", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("bytes 4-9/10", response.Content.Headers.ContentRange?.ToString());
    }

    [Fact]
    public async Task List_PrefixLimitedKeyPagingFromTheRoot_RevealsNothingOutsideItsPath()
    {
        await using var server = await DepotTestServer.StartAsync();
        foreach (var key in new[] { "aaa-secret/payroll.xlsx", "photos/2023/old.jpg", "photos/2024/cat.jpg", "photos/2024/dog.jpg", "zzz.txt" })
        {
            (await server.Client.PutAsync("v1/default/" + key, new StringContent(key), Ct)).EnsureSuccessStatusCode();
        }

        var limited = await server.CreateKeyAsync(["read"], bucket: "default", prefix: "photos/2024/");
        using var client = server.CreateClient(limited.Token);
        var seen = new List<string>();
        string? cursor = null;
        for (var page = 0; page < 50; page++)
        {
            var url = "v1/default/?recursive=true&limit=1" + (cursor is null ? "" : "&cursor=" + cursor);
            var listing = await client.GetFromJsonAsync<Depot.Protocol.ListPageDto>(url, Depot.Protocol.DepotJson.Wire.Options, Ct);
            seen.AddRange(listing!.Entries.Select(e => e.Key));
            cursor = listing.NextCursor;
            if (cursor is null)
            {
                break;
            }

            var padded = cursor.Replace('-', '+').Replace('_', '/') + new string('=', (4 - (cursor.Length % 4)) % 4);
            seen.Add(Encoding.UTF8.GetString(Convert.FromBase64String(padded)));
        }

        Assert.Contains("photos/2024/cat.jpg", seen);
        Assert.Contains("photos/2024/dog.jpg", seen);
        Assert.All(seen, key => Assert.True(key is "photos" or "photos/2024" || key.StartsWith("photos/2024/", StringComparison.Ordinal), $"revealed '{key}'"));
    }

    [Fact]
    public async Task Copy_WithAKeyLimitedToOneRequestPerSecond_CostsOneRequest()
    {
        await using var server = await DepotTestServer.StartAsync();
        (await server.Client.PutAsync("v1/default/src.txt", new StringContent("x"), Ct)).EnsureSuccessStatusCode();
        var slow = await server.CreateKeyAsync(["read", "write"], rateLimit: 1);
        using var client = server.CreateClient(slow.Token);

        using var copied = await client.PostAsync("v1/default/src.txt?copy", new StringContent("{\"to\":\"dst.txt\"}", Encoding.UTF8, "application/json"), Ct);

        Assert.Equal(HttpStatusCode.Created, copied.StatusCode);
    }

    [Fact]
    public async Task Move_JsonBodyOverTheLimit_Answers413TooLarge()
    {
        await using var server = await DepotTestServer.StartAsync();
        (await server.Client.PutAsync("v1/default/m.txt", new StringContent("x"), Ct)).EnsureSuccessStatusCode();
        var body = "{\"to\":\"" + new string('a', 100_000) + "\"}";

        using var response = await server.Client.PostAsync("v1/default/m.txt?move", new StringContent(body, Encoding.UTF8, "application/json"), Ct);

        await Problem.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge, "too_large");
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "m.txt")));
    }

    [Fact]
    public async Task Start_WithOneBucketInsideAnother_IsRefused()
    {
        var root = Path.Combine(Path.GetTempPath(), "depot-overlap-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new DepotServerOptions { DataDirectory = Path.Combine(root, "data"), Listen = "127.0.0.1:0", AdminKey = "overlap-admin-key-123456", ScanOnStart = false };
            options.Buckets["outer"] = new BucketConfig { Path = root };

            var error = await Assert.ThrowsAsync<ArgumentException>(() => DepotServer.CreateAsync(options, logging: _ => { }, cancellationToken: Ct));

            Assert.Contains("must not overlap", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
