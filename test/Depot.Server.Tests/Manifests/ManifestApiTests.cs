using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Depot.Core.Uploads;
using Depot.Server.Tests.Http;
using Depot.Server.Tests.Infrastructure;
using Depot.Server.Tests.Policy;
using Depot.Server.Tests.Webhooks;
using Depot.Server.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Tests.Manifests;

/// <summary>Manifests (<c>/v1/_manifests</c>, docs/manifests.md) against a real server: per-file answers before any byte
/// moves, uploads through the sessions they hand out, verification against the declared checksum, completion and its
/// event, who may see a manifest, bad input, deletion and expiry.</summary>
public sealed class ManifestApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_NewPresentAndRefusedFiles_AnswersPerFileAndAsksThePolicyOnlyAboutNewOnes()
    {
        var policy = new RecordingPolicy { Decide = p => p.ClientName?.EndsWith(".exe", StringComparison.Ordinal) == true ? UploadDecision.Reject("no executables") : UploadDecision.Allow };
        await using var server = await UploadPolicyTests.StartAsync(policy);
        var present = TestBytes.Random(700, seed: 1);
        await PutAsync(server, "photos/2024/b.jpg", present);
        var fresh = TestBytes.Random(1500, seed: 2);

        using var response = await CreateAsync(server.Client, "photos/2024",
            File("a.jpg", fresh),
            File("b.jpg", present),
            File("c.exe", TestBytes.Random(10, seed: 3)));

        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        var id = manifest.GetProperty("id").GetString()!;
        Assert.Equal($"/v1/_manifests/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("open", manifest.GetProperty("state").GetString());
        Assert.Equal("default", manifest.GetProperty("bucket").GetString());
        Assert.Equal("photos/2024", manifest.GetProperty("prefix").GetString());

        var a = FileIn(manifest, "a.jpg");
        Assert.Equal("accepted", a.GetProperty("status").GetString());
        Assert.Equal("photos/2024/a.jpg", a.GetProperty("key").GetString());
        var upload = a.GetProperty("upload");
        Assert.Equal("/v1/_uploads/" + upload.GetProperty("id").GetString(), upload.GetProperty("url").GetString());

        var b = FileIn(manifest, "b.jpg");
        Assert.Equal("present", b.GetProperty("status").GetString());
        Assert.False(b.TryGetProperty("upload", out _));

        var c = FileIn(manifest, "c.exe");
        Assert.Equal("rejected", c.GetProperty("status").GetString());
        Assert.Contains("no executables", c.GetProperty("reason").GetString());
        Assert.False(c.TryGetProperty("upload", out _));

        // The policy was asked about the files to send, once each, as manifest uploads; nothing was stored yet.
        Assert.Equal(["a.jpg", "c.exe"], policy.Proposals.Select(p => p.ClientName).Order());
        Assert.All(policy.Proposals, p => Assert.Equal(UploadProtocols.Manifest, p.Protocol));
        Assert.Equal(1500, policy.Proposals.Single(p => p.ClientName == "a.jpg").Length);
        Assert.Equal(TestBytes.Sha256Hex(fresh), policy.Proposals.Single(p => p.ClientName == "a.jpg").Sha256);
        Assert.False(System.IO.File.Exists(Path.Combine(server.DataDirectory, "photos", "2024", "a.jpg")));

        // Uploading the accepted file through its session completes the manifest.
        using (var done = await NativeUploads.SendAllAndCompleteAsync(server.Client, upload.GetProperty("url").GetString()!, fresh, Ct))
        {
            await NativeUploads.ReadJsonAsync(done, HttpStatusCode.OK, Ct);
        }

        var after = await GetAsync(server.Client, id, HttpStatusCode.OK);
        Assert.Equal("complete", after.GetProperty("state").GetString());
        Assert.True(after.TryGetProperty("completed", out _));
        Assert.Equal("uploaded", FileIn(after, "a.jpg").GetProperty("status").GetString());
        Assert.Equal("present", FileIn(after, "b.jpg").GetProperty("status").GetString());
        Assert.Equal("rejected", FileIn(after, "c.exe").GetProperty("status").GetString());
        Assert.Equal(fresh, await System.IO.File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "photos", "2024", "a.jpg"), Ct));
        Assert.False(System.IO.File.Exists(Path.Combine(server.DataDirectory, "photos", "2024", "c.exe")));
    }

    [Fact]
    public async Task Upload_WithAWrongDeclaredChecksum_IsRefusedAtCompletionAndTheManifestStaysOpen()
    {
        await using var server = await DepotTestServer.StartAsync();
        var declared = TestBytes.Random(1000, seed: 4);
        var sent = TestBytes.Random(1000, seed: 5);

        using var response = await CreateAsync(server.Client, "in", File("x.bin", declared));
        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        var url = FileIn(manifest, "x.bin").GetProperty("upload").GetProperty("url").GetString()!;

        using (var done = await NativeUploads.SendAllAndCompleteAsync(server.Client, url, sent, Ct))
        {
            await Problem.AssertAsync(done, (HttpStatusCode)422, "checksum_mismatch");
        }

        Assert.False(System.IO.File.Exists(Path.Combine(server.DataDirectory, "in", "x.bin")));
        var after = await GetAsync(server.Client, manifest.GetProperty("id").GetString()!, HttpStatusCode.OK);
        Assert.Equal("open", after.GetProperty("state").GetString());
        Assert.Equal("accepted", FileIn(after, "x.bin").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Upload_LongerThanDeclared_IsRefusedAndNothingIsPublished()
    {
        await using var server = await DepotTestServer.StartAsync();
        var declared = TestBytes.Random(100, seed: 6);

        using var response = await CreateAsync(server.Client, "", File("short.bin", declared));
        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        var url = FileIn(manifest, "short.bin").GetProperty("upload").GetProperty("url").GetString()!;

        using var tooMuch = await NativeUploads.SendAsync(server.Client, url, 0, TestBytes.Random(150, seed: 6), Ct);
        await Problem.AssertAsync(tooMuch, HttpStatusCode.RequestEntityTooLarge, "too_large");
        using var complete = await NativeUploads.CompleteAsync(server.Client, url, Ct);
        await Problem.AssertAsync(complete, HttpStatusCode.Conflict, "upload_incomplete");
        Assert.False(System.IO.File.Exists(Path.Combine(server.DataDirectory, "short.bin")));
    }

    [Fact]
    public async Task Create_WithAChunkSize_TheSessionsTakeChunksByIndex()
    {
        await using var server = await DepotTestServer.StartAsync();
        var bytes = TestBytes.Random(2500, seed: 7);

        using var response = await CreateAsync(server.Client, "chunks", chunkSize: 1024, File("c.bin", bytes));
        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        var url = FileIn(manifest, "c.bin").GetProperty("upload").GetProperty("url").GetString()!.TrimStart('/');

        foreach (var index in new[] { 2, 0, 1 })
        {
            var chunk = bytes.Skip(index * 1024).Take(1024).ToArray();
            using var content = new ByteArrayContent(chunk);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var put = await server.Client.PutAsync($"{url}/chunks/{index}", content, Ct);
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using (var complete = await NativeUploads.CompleteAsync(server.Client, url, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        }

        var after = await GetAsync(server.Client, manifest.GetProperty("id").GetString()!, HttpStatusCode.OK);
        Assert.Equal("complete", after.GetProperty("state").GetString());
        Assert.Equal(bytes, await System.IO.File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "chunks", "c.bin"), Ct));
    }

    [Fact]
    public async Task Create_Md5Declared_PresentOnlyWhenTheStoredBytesHaveThatMd5()
    {
        await using var server = await DepotTestServer.StartAsync();
        var stored = TestBytes.Random(900, seed: 8);
        await PutAsync(server, "m/same.bin", stored);
        await PutAsync(server, "m/changed.bin", stored);

        using var response = await CreateAsync(server.Client, "m",
            new JsonObject { ["name"] = "same.bin", ["size"] = 900, ["md5"] = Md5Hex(stored) },
            new JsonObject { ["name"] = "changed.bin", ["size"] = 900, ["md5"] = Md5Hex(TestBytes.Random(900, seed: 9)) });

        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        Assert.Equal("present", FileIn(manifest, "same.bin").GetProperty("status").GetString());
        Assert.Equal("accepted", FileIn(manifest, "changed.bin").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Create_EveryFileAlreadyPresent_IsCompleteAtOnce()
    {
        await using var server = await DepotTestServer.StartAsync();
        var stored = TestBytes.Random(64, seed: 10);
        await PutAsync(server, "p/one.bin", stored);

        using var response = await CreateAsync(server.Client, "p", File("one.bin", stored));

        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        Assert.Equal("complete", manifest.GetProperty("state").GetString());
        Assert.Equal("present", FileIn(manifest, "one.bin").GetProperty("status").GetString());
    }

    [Fact]
    public async Task ManifestCompleted_IsLoggedAndPostedOnceWithTheCounts()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Webhooks.Add(new WebhookEndpoint { Url = receiver.Url(), Secret = "manifest-test-secret" });
            o.WebhookDelivery = WebhookDeliveryTests.Fast();
        });
        var key = await server.CreateKeyAsync(["write"], name: "sync");
        var client = server.CreateClient(key.Token);
        var present = TestBytes.Random(10, seed: 11);
        await PutAsync(server, "w/present.bin", present);
        var one = TestBytes.Random(300, seed: 12);
        var two = TestBytes.Random(301, seed: 13);

        using var response = await CreateAsync(client, "w", File("one.bin", one), File("two.bin", two), File("present.bin", present), File("bad//name", one));
        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        var id = manifest.GetProperty("id").GetString()!;

        // Both uploads complete at the same moment: the manifest completes once.
        var uploads = await Task.WhenAll(
            NativeUploads.SendAllAndCompleteAsync(client, FileIn(manifest, "one.bin").GetProperty("upload").GetProperty("url").GetString()!, one, Ct),
            NativeUploads.SendAllAndCompleteAsync(client, FileIn(manifest, "two.bin").GetProperty("upload").GetProperty("url").GetString()!, two, Ct));
        Assert.All(uploads, u => Assert.Equal(HttpStatusCode.OK, u.StatusCode));
        foreach (var u in uploads)
        {
            u.Dispose();
        }

        var hooks = await receiver.WaitForAsync(3);
        Assert.Equal(3, hooks.Count);
        var completions = hooks.Where(h => h.Header("X-Depot-Event") == WebhookEvents.UploadCompleted).Select(h => JsonDocument.Parse(h.Body).RootElement).ToList();
        Assert.Equal(2, completions.Count);
        Assert.All(completions, c =>
        {
            Assert.Equal(id, c.GetProperty("manifestId").GetString());
            Assert.Equal("manifest", c.GetProperty("protocol").GetString());
            Assert.Equal(key.Id, c.GetProperty("identity").GetString());
        });

        var done = Assert.Single(hooks, h => h.Header("X-Depot-Event") == WebhookEvents.ManifestCompleted);
        Assert.True(WebhookDeliveryTests.VerifyIndependently("manifest-test-secret", done.Header("X-Depot-Signature"), done.Body));
        var body = JsonDocument.Parse(done.Body).RootElement;
        Assert.Equal(id, body.GetProperty("manifestId").GetString());
        Assert.Equal("w", body.GetProperty("prefix").GetString());
        Assert.Equal(key.Id, body.GetProperty("identity").GetString());
        Assert.Equal((2, 1, 1), (body.GetProperty("uploaded").GetInt32(), body.GetProperty("present").GetInt32(), body.GetProperty("rejected").GetInt32()));
        Assert.Single(server.Logs, l => l.EventId.Id == 60 && l.Level == LogLevel.Information && l.Message.Contains(id, StringComparison.Ordinal));

        // Reading the complete manifest again announces nothing more.
        Assert.Equal("complete", (await GetAsync(client, id, HttpStatusCode.OK)).GetProperty("state").GetString());
        await Task.Delay(300, Ct);
        Assert.Equal(3, receiver.Received.Count);
    }

    [Fact]
    public async Task Manifest_OfAnotherKey_IsNotFoundButAnAdminSeesIt()
    {
        await using var server = await DepotTestServer.StartAsync();
        var owner = server.CreateClient((await server.CreateKeyAsync(["write"])).Token);
        var other = server.CreateClient((await server.CreateKeyAsync(["write", "read", "delete"])).Token);
        var reader = server.CreateClient((await server.CreateKeyAsync(["read"])).Token);

        using var response = await CreateAsync(owner, "mine", File("f.bin", [1, 2]));
        var id = (await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct)).GetProperty("id").GetString()!;

        using (var peek = await other.GetAsync($"v1/_manifests/{id}", Ct))
        {
            await Problem.AssertAsync(peek, HttpStatusCode.NotFound, "not_found");
        }

        using (var delete = await other.DeleteAsync($"v1/_manifests/{id}", Ct))
        {
            await Problem.AssertAsync(delete, HttpStatusCode.NotFound, "not_found");
        }

        using (var readOnly = await reader.GetAsync($"v1/_manifests/{id}", Ct))
        {
            await Problem.AssertAsync(readOnly, HttpStatusCode.Forbidden, "forbidden");
        }

        using (var anonymous = await server.CreateClient(null).GetAsync($"v1/_manifests/{id}", Ct))
        {
            await Problem.AssertAsync(anonymous, HttpStatusCode.Unauthorized, "unauthorized");
        }

        Assert.Equal("open", (await GetAsync(server.Client, id, HttpStatusCode.OK)).GetProperty("state").GetString());
        Assert.Equal("open", (await GetAsync(owner, id, HttpStatusCode.OK)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Create_WithAKeyLimitedToAnotherPrefix_Answers403()
    {
        await using var server = await DepotTestServer.StartAsync();
        var limited = server.CreateClient((await server.CreateKeyAsync(["write"], prefix: "photos/")).Token);

        using (var outside = await CreateAsync(limited, "docs", File("a.txt", [1])))
        {
            await Problem.AssertAsync(outside, HttpStatusCode.Forbidden, "forbidden");
        }

        using var inside = await CreateAsync(limited, "photos/2024", File("a.txt", [1]));
        Assert.Equal(HttpStatusCode.Created, inside.StatusCode);
    }

    [Fact]
    public async Task Create_BadNames_AreRejectedOneByOneAndTheRestAccepted()
    {
        await using var server = await DepotTestServer.StartAsync();
        string[] bad = ["../escape.txt", "a//b.txt", "trailing/", ".depot/x", "dir/./x", "back\\slash", "nul\0.txt", "new\nline", "/absolute", "C:drive", "..", new string('n', 300)];

        using var response = await CreateAsync(server.Client, "names", [File("fine.txt", [1]), .. bad.Select(n => File(n, [1]))]);

        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        Assert.Equal("accepted", FileIn(manifest, "fine.txt").GetProperty("status").GetString());
        foreach (var name in bad)
        {
            var file = FileIn(manifest, name);
            Assert.Equal("rejected", file.GetProperty("status").GetString());
            Assert.False(string.IsNullOrEmpty(file.GetProperty("reason").GetString()), name);
        }

        // Declaring moved no byte: nothing was written anywhere, inside the bucket or out of it.
        Assert.Equal([".depot"], Directory.GetFileSystemEntries(server.DataDirectory).Select(Path.GetFileName));
        Assert.Equal(["data"], Directory.GetFileSystemEntries(server.RootDirectory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Create_AsManyFilesAsAllowed_AnswersEachInTheDeclaredOrder()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxManifestFiles = 300);
        var stored = TestBytes.Random(5, seed: 17);
        await PutAsync(server, "many/f7.bin", stored);
        var files = Enumerable.Range(0, 300).Select(i => i == 7 ? File("f7.bin", stored) : i % 50 == 3 ? File($"bad/../f{i}.bin", [1]) : File($"f{i}.bin", [(byte)i])).ToArray();

        using var response = await CreateAsync(server.Client, "many", files);

        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        var answers = manifest.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(files.Select(f => (string)f["name"]!), answers.Select(a => a.GetProperty("name").GetString()));
        Assert.Equal("present", answers[7].GetProperty("status").GetString());
        Assert.All(answers.Where((_, i) => i % 50 == 3), a => Assert.Equal("rejected", a.GetProperty("status").GetString()));
        var accepted = answers.Where((_, i) => i != 7 && i % 50 != 3).ToList();
        Assert.Equal(293, accepted.Count);
        Assert.All(accepted, a => Assert.Equal("accepted", a.GetProperty("status").GetString()));
        Assert.Equal(293, accepted.Select(a => a.GetProperty("upload").GetProperty("id").GetString()).Distinct().Count());
    }

    [Fact]
    public async Task Create_WhenThePolicyCannotDecide_FailsWhole503AndLeavesNoSession()
    {
        var policy = new RecordingPolicy { Decide = p => p.ClientName == "f20.bin" ? throw new TimeoutException("policy backend down") : UploadDecision.Allow };
        await using var server = await UploadPolicyTests.StartAsync(policy);

        using var response = await CreateAsync(server.Client, "fail", [.. Enumerable.Range(0, 40).Select(i => File($"f{i}.bin", [(byte)i]))]);

        await Problem.AssertAsync(response, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Empty(await AllSessionsAsync(server)); // those opened before the failure were aborted
        Assert.Contains(policy.Cancelled, c => c.Reason == "aborted");
    }

    [Fact]
    public async Task Create_MalformedBodies_Answer400ForTheWholeManifest()
    {
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) => o.MaxManifestFiles = 3);
        var sha = TestBytes.Sha256Hex([1]);

        async Task ExpectAsync(string json, HttpStatusCode status, string code)
        {
            using var response = await server.Client.PostAsync("v1/_manifests", new StringContent(json, System.Text.Encoding.UTF8, "application/json"), Ct);
            await Problem.AssertAsync(response, status, code);
        }

        await ExpectAsync("not json", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync("{}", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync("""{"files":[]}""", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync($$"""{"files":[{"name":"a","size":1,"sha256":"{{sha}}"},{"name":"a","size":1,"sha256":"{{sha}}"}]}""", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync($$"""{"files":[{"name":"a","sha256":"{{sha}}"}]}""", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync($$"""{"files":[{"size":1,"sha256":"{{sha}}"}]}""", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync($$"""{"files":[{"name":"a","size":-1,"sha256":"{{sha}}"}]}""", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync("""{"files":[{"name":"a","size":1}]}""", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync("""{"files":[{"name":"a","size":1,"sha256":"abc"}]}""", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync("""{"files":[{"name":"a","size":1,"md5":"zz000000000000000000000000000000"}]}""", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync($$"""{"files":[{"name":"a","size":1,"sha256":"{{sha}}","md5":"00000000000000000000000000000000"}]}""", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync($$"""{"files":[{"name":"a","size":1,"sha256":"{{sha}}"}],"chunkSize":0}""", HttpStatusCode.BadRequest, "invalid_request");
        await ExpectAsync($$"""{"prefix":"../up","files":[{"name":"a","size":1,"sha256":"{{sha}}"}]}""", HttpStatusCode.BadRequest, "invalid_path");
        await ExpectAsync($$"""{"bucket":"nosuch","files":[{"name":"a","size":1,"sha256":"{{sha}}"}]}""", HttpStatusCode.NotFound, "not_found");
        var four = string.Join(",", Enumerable.Range(0, 4).Select(i => $$"""{"name":"f{{i}}","size":1,"sha256":"{{sha}}"}"""));
        await ExpectAsync($$"""{"files":[{{four}}]}""", HttpStatusCode.RequestEntityTooLarge, "too_large");

        // None of it opened a session.
        Assert.Empty(await AllSessionsAsync(server));
    }

    [Fact]
    public async Task Delete_AbortsTheOpenUploadsAndKeepsTheUploadedFiles()
    {
        await using var server = await DepotTestServer.StartAsync();
        var done = TestBytes.Random(50, seed: 14);
        using var response = await CreateAsync(server.Client, "d", File("done.bin", done), File("open.bin", TestBytes.Random(60, seed: 15)));
        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        var id = manifest.GetProperty("id").GetString()!;
        using (var completed = await NativeUploads.SendAllAndCompleteAsync(server.Client, FileIn(manifest, "done.bin").GetProperty("upload").GetProperty("url").GetString()!, done, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, completed.StatusCode);
        }

        var openUrl = FileIn(manifest, "open.bin").GetProperty("upload").GetProperty("url").GetString()!;
        using (var part = await NativeUploads.SendAsync(server.Client, openUrl, 0, new byte[20], Ct))
        {
            Assert.Equal(HttpStatusCode.OK, part.StatusCode);
        }

        using (var deleted = await server.Client.DeleteAsync($"v1/_manifests/{id}", Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using (var session = await server.Client.GetAsync(openUrl.TrimStart('/'), Ct))
        {
            await Problem.AssertAsync(session, HttpStatusCode.NotFound, "not_found");
        }

        await GetAsync(server.Client, id, HttpStatusCode.NotFound);
        Assert.Equal(done, await System.IO.File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "d", "done.bin"), Ct));
        Assert.False(System.IO.File.Exists(Path.Combine(server.DataDirectory, "d", "open.bin")));
    }

    [Fact]
    public async Task Manifest_PastItsExpiry_Answers410AndIsThenForgotten()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Time = clock;
            o.UploadSessionExpiry = TimeSpan.FromHours(1);
            o.UploadSweepInterval = TimeSpan.FromHours(1); // the test sweeps itself
        });
        using var response = await CreateAsync(server.Client, "e", File("late.bin", [1, 2, 3]));
        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        var id = manifest.GetProperty("id").GetString()!;
        var expires = manifest.GetProperty("expires").GetDateTimeOffset();
        Assert.InRange(expires, clock.GetUtcNow().AddMinutes(55), clock.GetUtcNow().AddMinutes(61));

        clock.Advance(TimeSpan.FromMinutes(30));
        await GetAsync(server.Client, id, HttpStatusCode.OK);

        clock.Advance(TimeSpan.FromMinutes(45));
        var expired = await GetAsync(server.Client, id, HttpStatusCode.Gone);
        Assert.Equal("upload_expired", expired.GetProperty("code").GetString());

        // The sweep forgets it (a direct call: the background one runs every minute).
        var swept = await ((Core.Uploads.Manifests.ManifestService)server.Services.GetService(typeof(Core.Uploads.Manifests.ManifestService))!).SweepExpiredAsync(100, Ct);
        Assert.Equal(1, swept);
        await GetAsync(server.Client, id, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Manifest_WhileAnUploadIsActive_LivesAsLongAsItsSession()
    {
        var clock = new TestClock();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Time = clock;
            o.UploadSessionExpiry = TimeSpan.FromHours(1);
            o.UploadSweepInterval = TimeSpan.FromHours(1); // the test sweeps itself
        });
        var bytes = TestBytes.Random(200, seed: 16);
        using var response = await CreateAsync(server.Client, "slow", File("s.bin", bytes));
        var manifest = await NativeUploads.ReadJsonAsync(response, HttpStatusCode.Created, Ct);
        var id = manifest.GetProperty("id").GetString()!;
        var url = FileIn(manifest, "s.bin").GetProperty("upload").GetProperty("url").GetString()!;

        clock.Advance(TimeSpan.FromMinutes(50));
        using (var part = await NativeUploads.SendAsync(server.Client, url, 0, bytes[..100], Ct))
        {
            Assert.Equal(HttpStatusCode.OK, part.StatusCode);
        }

        clock.Advance(TimeSpan.FromMinutes(50)); // past the manifest's own expiry, not its session's
        var alive = await GetAsync(server.Client, id, HttpStatusCode.OK);
        Assert.Equal(100, FileIn(alive, "s.bin").GetProperty("upload").GetProperty("bytesReceived").GetInt64());
        var swept = await ((Core.Uploads.Manifests.ManifestService)server.Services.GetService(typeof(Core.Uploads.Manifests.ManifestService))!).SweepExpiredAsync(100, Ct);
        Assert.Equal(0, swept);

        using (var rest = await NativeUploads.SendAsync(server.Client, url, 100, bytes[100..], Ct))
        {
            Assert.Equal(HttpStatusCode.OK, rest.StatusCode);
        }

        using (var complete = await NativeUploads.CompleteAsync(server.Client, url, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        }

        Assert.Equal("complete", (await GetAsync(server.Client, id, HttpStatusCode.OK)).GetProperty("state").GetString());
    }

    // ---- helpers ----

    private static JsonObject File(string name, byte[] bytes) => new() { ["name"] = name, ["size"] = bytes.Length, ["sha256"] = TestBytes.Sha256Hex(bytes) };

    private static string Md5Hex(byte[] bytes)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        md5.AppendData(bytes);
        return Convert.ToHexStringLower(md5.GetHashAndReset());
    }

    private static Task<HttpResponseMessage> CreateAsync(HttpClient client, string prefix, params JsonObject[] files) => CreateAsync(client, prefix, null, files);

    private static Task<HttpResponseMessage> CreateAsync(HttpClient client, string prefix, long? chunkSize, params JsonObject[] files)
    {
        var body = new JsonObject { ["bucket"] = "default", ["prefix"] = prefix, ["files"] = new JsonArray([.. files]) };
        if (chunkSize is { } size)
        {
            body["chunkSize"] = size;
        }

        return client.PostAsync("v1/_manifests", NativeUploads.Json(body), Ct);
    }

    private static async Task<JsonElement> GetAsync(HttpClient client, string id, HttpStatusCode status)
    {
        using var response = await client.GetAsync($"v1/_manifests/{id}", Ct);
        return await NativeUploads.ReadJsonAsync(response, status, Ct);
    }

    /// <summary>Every upload session the server holds (the expired ones "by the end of time" are all of them).</summary>
    private static Task<IReadOnlyList<UploadSession>> AllSessionsAsync(DepotTestServer server) =>
        server.Services.GetRequiredService<IUploadSessionStore>().GetExpiredSessionsAsync(DateTimeOffset.MaxValue.AddDays(-1), 10_000, CancellationToken.None);

    private static JsonElement FileIn(JsonElement manifest, string name) =>
        manifest.GetProperty("files").EnumerateArray().Single(f => f.GetProperty("name").GetString() == name);

    private static async Task PutAsync(DepotTestServer server, string key, byte[] bytes)
    {
        using var content = new ByteArrayContent(bytes);
        using var put = await server.Client.PutAsync("v1/default/" + key, content, Ct);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }
}
