using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Depot.Server.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Tests.Http;

/// <summary>What the server logs: one line per request (method, path, status), and never a secret (design §2.6).</summary>
public sealed class LoggingTests
{
    private const int RequestLogEventId = 1;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Logs_AfterRequestsWithSecrets_ContainNoSecret()
    {
        await AssertNoSecretsLoggedAsync(minimumLevel: null, tokenInQuery: true);
    }

    [Fact]
    public async Task Logs_AtTraceLevelForEveryCategory_ContainNoSecret()
    {
        // Not the query string here: ASP.NET Core's own request lines (Information) print it whole; Depot keeps that
        // category at Warning and takes no secret in a query string.
        await AssertNoSecretsLoggedAsync(minimumLevel: LogLevel.Trace, tokenInQuery: false);
    }

    [Fact]
    public async Task Logs_EachRequest_HasExactlyOneLineWithMethodPathAndStatus()
    {
        await using var server = await DepotTestServer.StartAsync();
        var reader = await server.CreateKeyAsync(["read"]);
        using var readerClient = server.CreateClient(reader.Token);
        using var anonymous = server.CreateClient(null);
        var requests = new List<(string Method, string Path, int Status)>();

        async Task SendAsync(HttpClient client, HttpMethod method, string path, HttpContent? content = null)
        {
            using var request = new HttpRequestMessage(method, path.TrimStart('/')) { Content = content };
            using var response = await client.SendAsync(request, Ct);
            requests.Add((method.Method, path, (int)response.StatusCode));
        }

        var before = server.Logs.Count(l => l.EventId.Id == RequestLogEventId);
        await SendAsync(server.Client, HttpMethod.Put, "/v1/default/log/a.txt", new ByteArrayContent("a"u8.ToArray()));
        await SendAsync(server.Client, HttpMethod.Get, "/v1/default/log/a.txt");
        await SendAsync(server.Client, HttpMethod.Head, "/v1/default/log/a.txt");
        await SendAsync(server.Client, HttpMethod.Get, "/v1/default/log/");
        await SendAsync(server.Client, HttpMethod.Get, "/v1/default/log/missing.txt");
        await SendAsync(readerClient, HttpMethod.Delete, "/v1/default/log/a.txt");
        await SendAsync(anonymous, HttpMethod.Get, "/v1/default/log/a.txt");
        await SendAsync(server.Client, HttpMethod.Delete, "/v1/default/log/a.txt");
        await SendAsync(server.Client, HttpMethod.Get, "/v1/Not_A_Bucket/x");
        await SendAsync(server.Client, new HttpMethod("PATCH"), "/v1/default/log/b.txt");
        await SendAsync(anonymous, HttpMethod.Get, "/healthz");

        Assert.Equal([201, 200, 200, 200, 404, 403, 401, 204, 400, 405, 200], requests.Select(r => r.Status));
        var expected = before + requests.Count;
        await server.WaitForLogsAsync(logs => logs.Count(l => l.EventId.Id == RequestLogEventId) >= expected);
        await Task.Delay(200, Ct); // a duplicate line would come right after
        var lines = server.Logs.Where(l => l.EventId.Id == RequestLogEventId).Skip(before).Select(l => l.Message).ToList();

        Assert.True(lines.Count == requests.Count, "one line per request:\n" + string.Join("\n", lines));
        foreach (var (method, path, status) in requests)
        {
            var decodedPath = Uri.UnescapeDataString(path);
            var matching = lines.Where(l => l.StartsWith($"{method} ", StringComparison.Ordinal)
                && (l.Contains($" {path} ", StringComparison.Ordinal) || l.Contains($" {decodedPath} ", StringComparison.Ordinal))
                && l.Contains($" {status} ", StringComparison.Ordinal)).ToList();
            Assert.True(matching.Count == 1, $"{method} {path} {status}: expected one line, found {matching.Count} in\n{string.Join("\n", lines)}");
        }
    }

    [Fact]
    public async Task Logs_RequestPathWithEncodedLineBreaks_CannotForgeALogLine()
    {
        await using var server = await DepotTestServer.StartAsync();
        const string forged = "GET /v1/default/forged -> 200 (0 bytes) in 0.1 ms, key admin";

        var response = await RawHttp.SendAsync(server.Port, "GET", "/v1/default/x%0d%0a" + Uri.EscapeDataString(forged), [("Authorization", "Bearer " + server.AdminKey)]);
        await server.WaitForLogsAsync(logs => logs.Any(l => l.EventId.Id == RequestLogEventId && l.Message.Contains("forged", StringComparison.Ordinal)));

        Assert.Equal(400, response.Status);
        var line = server.Logs.Single(l => l.EventId.Id == RequestLogEventId && l.Message.Contains("forged", StringComparison.Ordinal));
        // A console or file sink writes the message as is: a CR or LF from the path would start a line of the caller's.
        Assert.False(line.Message.Any(char.IsControl), "the logged path holds control characters: " + line.Message.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal));
    }

    private static async Task AssertNoSecretsLoggedAsync(LogLevel? minimumLevel, bool tokenInQuery)
    {
        var expectedLines = tokenInQuery ? 12 : 11;
        await using var server = await DepotTestServer.StartAsync(minimumLogLevel: minimumLevel);
        var created = await server.CreateKeyAsync(["read", "write", "delete"], name: "logged-key");
        var wrongToken = "dpk_" + created.Id + "_" + new string('W', 43);
        var unknownToken = "dpk_0123456789abcdef_" + Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=');
        var plainWrong = "not-a-key-" + Guid.NewGuid().ToString("N");
        using var createdClient = server.CreateClient(created.Token);
        using var wrongClient = server.CreateClient(wrongToken);
        using var unknownClient = server.CreateClient(unknownToken);
        using var plainClient = server.CreateClient(plainWrong);

        using (var put = await ObjectApiTests.PutAsync(server.Client, "v1/default/s/a.txt", "a"u8.ToArray()))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using (var get = await createdClient.GetAsync("v1/default/s/a.txt", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        }

        using (var put = await ObjectApiTests.PutAsync(createdClient, "v1/default/s/b.txt", "b"u8.ToArray()))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        foreach (var client in new[] { wrongClient, unknownClient, plainClient })
        {
            using var refused = await client.GetAsync("v1/default/s/a.txt", Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        // Secrets in other places a careless log could pick up: a Basic header, a body, a query string.
        using (var basic = new HttpRequestMessage(HttpMethod.Get, "v1/default/s/a.txt"))
        {
            basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("u:" + server.AdminKey)));
            using var response = await server.CreateClient(null).SendAsync(basic, Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        using (var bad = await server.Client.PostAsync("v1/_keys", new StringContent("{\"scopes\": [\"" + created.Token + "\"]}", Encoding.UTF8, "application/json"), Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        if (tokenInQuery)
        {
            using var query = await server.Client.GetAsync("v1/default/s/a.txt?token=" + Uri.EscapeDataString(created.Token), Ct);
            Assert.Equal(HttpStatusCode.OK, query.StatusCode);
        }

        using (var revoke = await server.Client.DeleteAsync("v1/_keys/" + created.Id, Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }

        using (var revoked = await createdClient.GetAsync("v1/default/s/a.txt", Ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
        }

        Assert.True(await server.WaitForLogsAsync(logs => logs.Count(l => l.EventId.Id == RequestLogEventId) >= expectedLines), "the requests were logged:\n" + string.Join("\n", server.LogLines));
        var logLines = server.LogLines;
        // dpk_{id}_{secret}: the secret is base64url and may itself hold '_', so it starts after the id's underscore
        // (its last '_' could leave a one-letter tail that any log line contains).
        var secretPart = created.Token[(created.Token.IndexOf('_', "dpk_".Length) + 1)..];
        foreach (var (what, secret) in new[]
        {
            ("the admin key", server.AdminKey),
            ("the created key's token", created.Token),
            ("the created key's secret part", secretPart),
            ("a wrong token", wrongToken),
            ("an unknown token", unknownToken),
            ("a plain wrong key", plainWrong),
        })
        {
            var leaking = logLines.Where(l => l.Contains(secret, StringComparison.Ordinal)).ToList();
            Assert.True(leaking.Count == 0, $"{what} appears in the log:\n{string.Join("\n", leaking)}");
        }

        // The key id is not a secret and is what the request lines name.
        Assert.Contains(logLines, l => l.Contains(created.Id, StringComparison.Ordinal));
    }
}
