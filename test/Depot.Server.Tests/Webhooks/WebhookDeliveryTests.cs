using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Depot.Core.Uploads.Manifests;
using Depot.Server.Hosting;
using Depot.Server.Tests.Http;
using Depot.Server.Tests.Infrastructure;
using Depot.Server.Tests.Policy;
using Depot.Server.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Tests.Webhooks;

/// <summary>Upload events delivered as webhooks by a real server to a real receiver on 127.0.0.1: signature, headers and
/// body; retries with the same delivery id; backoff on the server's clock; giving up; restarts (docs/uploads-policy.md).</summary>
public sealed class WebhookDeliveryTests
{
    private const string Secret = "whsec-test-0123456789abcdef-never-logged";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UploadCompleted_IsPostedSignedWithItsHeadersAndBody()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await StartAsync(receiver);
        var key = await server.CreateKeyAsync(["write"], name: "camera");
        var bytes = TestBytes.Random(2500, seed: 1);

        var completed = await NativeUploads.UploadAsync(server.CreateClient(key.Token), "default", "photos/cat.jpg", bytes, Ct);

        var hook = Assert.Single(await receiver.WaitForAsync(1));
        Assert.Equal("/hook", hook.Path);
        Assert.Equal(WebhookEvents.UploadCompleted, hook.Header("X-Depot-Event"));
        Assert.StartsWith("application/json", hook.Header("Content-Type"), StringComparison.Ordinal);
        Assert.True(VerifyIndependently(Secret, hook.Header("X-Depot-Signature"), hook.Body), hook.Header("X-Depot-Signature"));
        Assert.False(VerifyIndependently("another secret", hook.Header("X-Depot-Signature"), hook.Body));

        using var body = JsonDocument.Parse(hook.Body);
        var root = body.RootElement;
        Assert.Equal("upload.completed", root.GetProperty("event").GetString());
        Assert.Equal(hook.Header("X-Depot-Delivery"), root.GetProperty("deliveryId").GetString());
        Assert.Equal(key.Id, root.GetProperty("identity").GetString());
        Assert.Equal("default", root.GetProperty("bucket").GetString());
        Assert.Equal("photos/cat.jpg", root.GetProperty("key").GetString());
        Assert.Equal(2500, root.GetProperty("size").GetInt64());
        Assert.Equal(TestBytes.Sha256Hex(bytes), root.GetProperty("sha256").GetString());
        Assert.Equal(TestBytes.ETagOf(bytes), root.GetProperty("etag").GetString());
        Assert.Equal("native", root.GetProperty("protocol").GetString());
        Assert.Equal("photos/cat.jpg", root.GetProperty("clientName").GetString());
        Assert.Equal(completed.GetProperty("id").GetString(), root.GetProperty("sessionId").GetString());
        Assert.InRange(root.GetProperty("time").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
        await AssertOutboxEmptiesAsync(server);
    }

    [Fact]
    public async Task UploadCancelled_IsPostedWithTheReasonAndTheBytesThatHadArrived()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await StartAsync(receiver);
        using var created = await NativeUploads.CreateAsync(server.Client, new JsonObject { ["key"] = "gone.bin", ["length"] = 100 }, Ct);
        var session = await NativeUploads.ReadJsonAsync(created, HttpStatusCode.Created, Ct);
        var url = session.GetProperty("url").GetString()!;
        using (var part = await NativeUploads.SendAsync(server.Client, url, 0, new byte[30], Ct))
        {
            Assert.Equal(HttpStatusCode.OK, part.StatusCode);
        }

        using (var aborted = await server.Client.DeleteAsync(url.TrimStart('/'), Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, aborted.StatusCode);
        }

        var hook = Assert.Single(await receiver.WaitForAsync(1));
        Assert.Equal(WebhookEvents.UploadCancelled, hook.Header("X-Depot-Event"));
        using var body = JsonDocument.Parse(hook.Body);
        Assert.Equal("aborted", body.RootElement.GetProperty("reason").GetString());
        Assert.Equal(30, body.RootElement.GetProperty("bytesReceived").GetInt64());
        Assert.Equal("gone.bin", body.RootElement.GetProperty("key").GetString());
        Assert.Equal("admin", body.RootElement.GetProperty("identity").GetString());
    }

    [Fact]
    public async Task Endpoint_ThatListsEvents_GetsOnlyThose()
    {
        await using var everything = await WebhookReceiver.StartAsync();
        await using var cancellations = await WebhookReceiver.StartAsync();
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Webhooks.Add(new WebhookEndpoint { Url = everything.Url(), Secret = Secret });
            o.Webhooks.Add(new WebhookEndpoint { Url = cancellations.Url(), Secret = Secret, Events = [WebhookEvents.UploadCancelled] });
        });

        await NativeUploads.UploadAsync(server.Client, "default", "one.bin", [1], Ct);
        using var created = await NativeUploads.CreateAsync(server.Client, new JsonObject { ["key"] = "two.bin", ["length"] = 5 }, Ct);
        var url = (await NativeUploads.ReadJsonAsync(created, HttpStatusCode.Created, Ct)).GetProperty("url").GetString()!;
        using (await server.Client.DeleteAsync(url.TrimStart('/'), Ct))
        {
        }

        Assert.Equal(2, (await everything.WaitForAsync(2)).Count);
        var only = Assert.Single(await cancellations.WaitForAsync(1));
        Assert.Equal(WebhookEvents.UploadCancelled, only.Header("X-Depot-Event"));
        await AssertOutboxEmptiesAsync(server);
        Assert.Single(cancellations.Received);
        // Each endpoint has its own delivery of the event.
        Assert.NotEqual(everything.Received.Single(r => r.Header("X-Depot-Event") == WebhookEvents.UploadCancelled).Header("X-Depot-Delivery"), only.Header("X-Depot-Delivery"));
    }

    [Fact]
    public async Task Delivery_FailingTwiceThenSucceeding_SendsTheSameDeliveryIdAndBodyThreeTimes()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = (_, before) => (before < 2 ? 500 : 200, null);
        await using var server = await StartAsync(receiver, fast: true);

        await NativeUploads.UploadAsync(server.Client, "default", "retry.bin", [1, 2, 3], Ct);

        var attempts = await receiver.WaitForAsync(3);
        Assert.Equal(3, attempts.Count);
        Assert.Single(attempts.Select(a => a.Header("X-Depot-Delivery")).Distinct());
        Assert.Single(attempts.Select(a => a.Body).Distinct());
        Assert.All(attempts, a => Assert.True(VerifyIndependently(Secret, a.Header("X-Depot-Signature"), a.Body)));
        await AssertOutboxEmptiesAsync(server);
        Assert.Equal(3, receiver.Received.Count); // delivered: no fourth attempt
        Assert.Contains(server.Logs, l => l.EventId.Id == 63 && l.Message.Contains("HTTP 500", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Retry_IsScheduledOnTheServerClockWithExponentialBackoff()
    {
        var clock = new TestClock();
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = (_, _) => (503, null);
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Time = clock;
            o.Webhooks.Add(new WebhookEndpoint { Url = receiver.Url(), Secret = Secret });
            // Retries an hour apart in real time: only moving the server's clock brings them on.
            o.WebhookDelivery = new WebhookDeliveryOptions { FirstRetryDelay = TimeSpan.FromHours(1), MaxRetryDelay = TimeSpan.FromHours(3), PollInterval = TimeSpan.FromMilliseconds(50) };
        });
        var outbox = server.Services.GetRequiredService<IWebhookOutbox>();

        await NativeUploads.UploadAsync(server.Client, "default", "clock.bin", [7], Ct);

        Assert.Single(await receiver.WaitForAsync(1));
        var first = await WaitForAttemptsAsync(outbox, 1);
        AssertScheduled(first, clock, TimeSpan.FromHours(1));
        Assert.Single(receiver.Received); // not due yet: nothing more is sent

        clock.Advance(TimeSpan.FromHours(1.3));
        Assert.Equal(2, (await receiver.WaitForAsync(2)).Count);
        var second = await WaitForAttemptsAsync(outbox, 2);
        AssertScheduled(second, clock, TimeSpan.FromHours(2));

        clock.Advance(TimeSpan.FromHours(2.6));
        Assert.Equal(3, (await receiver.WaitForAsync(3)).Count);
        var third = await WaitForAttemptsAsync(outbox, 3);
        AssertScheduled(third, clock, TimeSpan.FromHours(3)); // capped at the maximum
        Assert.Equal("HTTP 503", third.LastError);
        Assert.Single(receiver.Received.Select(r => r.Header("X-Depot-Delivery")).Distinct());
    }

    [Fact]
    public async Task Delivery_ThatKeepsFailing_IsGivenUpAfterMaxAttemptsAndLogged()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = (_, _) => (410, null);
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Webhooks.Add(new WebhookEndpoint { Url = receiver.Url(), Secret = Secret });
            o.WebhookDelivery = Fast(maxAttempts: 3);
        });

        await NativeUploads.UploadAsync(server.Client, "default", "doomed.bin", [1], Ct);

        Assert.Equal(3, (await receiver.WaitForAsync(3)).Count);
        await AssertOutboxEmptiesAsync(server);
        Assert.True(await server.WaitForLogsAsync(logs => logs.Any(l => l.EventId.Id == 64 && l.Level == LogLevel.Error)));
        await Task.Delay(300, Ct);
        Assert.Equal(3, receiver.Received.Count);
    }

    [Fact]
    public async Task Delivery_NotAnsweredInTime_CountsAsAFailureAndIsRetried()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Delay = TimeSpan.FromSeconds(5);
        await using var server = await DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Webhooks.Add(new WebhookEndpoint { Url = receiver.Url(), Secret = Secret });
            o.WebhookDelivery = Fast();
            o.WebhookDelivery.Timeout = TimeSpan.FromMilliseconds(300);
        });

        await NativeUploads.UploadAsync(server.Client, "default", "slow.bin", [1], Ct);
        Assert.Single(await receiver.WaitForAsync(1));
        receiver.Delay = TimeSpan.Zero;

        var attempts = await receiver.WaitForAsync(2);
        Assert.True(attempts.Count >= 2);
        Assert.Single(attempts.Select(a => a.Header("X-Depot-Delivery")).Distinct());
        await AssertOutboxEmptiesAsync(server);
        Assert.Contains(server.Logs, l => l.EventId.Id == 63 && l.Message.Contains("no answer within", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Outbox_UndeliveredEventsSurviveARestartAndKeepTheirDeliveryId()
    {
        var root = Path.Combine(Path.GetTempPath(), "depot-webhook-restart-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            await using var receiver = await WebhookReceiver.StartAsync();
            receiver.Respond = (_, _) => (500, null);
            await using (var first = await StartOnAsync(root, receiver, TimeSpan.FromMilliseconds(200)))
            {
                using var client = AdminClient(first);
                await NativeUploads.UploadAsync(client, "default", "restart.bin", [4, 2], Ct);
                Assert.NotEmpty(await receiver.WaitForAsync(1));
                await WaitForAttemptsAsync(first.Services.GetRequiredService<IWebhookOutbox>(), 1);
                await first.StopAsync(Ct);
            }

            var before = receiver.Received.Count;
            receiver.Respond = (_, _) => (200, null);
            await using var second = await StartOnAsync(root, receiver, TimeSpan.FromMilliseconds(200));

            var all = await receiver.WaitForAsync(before + 1);
            Assert.True(all.Count > before, "the restarted server delivered nothing");
            Assert.Single(all.Select(a => a.Header("X-Depot-Delivery")).Distinct());
            Assert.Equal("restart.bin", JsonDocument.Parse(all[^1].Body).RootElement.GetProperty("key").GetString());
            await AssertOutboxEmptiesAsync(second.Services.GetRequiredService<IWebhookOutbox>());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Logs_NeverHoldTheSecretOrTheUrlsQuery()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = (_, before) => (before == 0 ? 500 : 200, null);
        await using var server = await DepotTestServer.StartAsync(
            configure: (o, _) =>
            {
                o.Webhooks.Add(new WebhookEndpoint { Url = receiver.Url("/hook?token=query-token-must-not-leak"), Secret = Secret });
                o.WebhookDelivery = Fast();
            },
            minimumLogLevel: LogLevel.Trace);

        await NativeUploads.UploadAsync(server.Client, "default", "quiet.bin", [1], Ct);

        Assert.Equal(2, (await receiver.WaitForAsync(2)).Count);
        await AssertOutboxEmptiesAsync(server);
        Assert.True(await server.WaitForLogsAsync(logs => logs.Any(l => l.EventId.Id == 62)));
        Assert.Contains(server.Logs, l => l.EventId.Id == 63 && l.Message.Contains("/hook", StringComparison.Ordinal));
        Assert.DoesNotContain(server.LogLines, l => l.Contains(Secret, StringComparison.Ordinal) || l.Contains("query-token-must-not-leak", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_WithAWebhookWithoutSecret_IsRefused()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => DepotTestServer.StartAsync(configure: (o, _) =>
            o.Webhooks.Add(new WebhookEndpoint { Url = "http://127.0.0.1:9/hook" })));
        Assert.Contains("DEPOT_WEBHOOK_SECRET", error.Message, StringComparison.Ordinal);

        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => DepotTestServer.StartAsync(configure: (o, _) =>
            o.Webhooks.Add(new WebhookEndpoint { Url = "http://127.0.0.1:9/hook", Secret = Secret, Events = ["upload.finished"] })));
        Assert.Contains("upload.finished", unknown.Message, StringComparison.Ordinal);
    }

    // ---- store ----

    [Fact]
    public async Task SqliteOutbox_MessagesAndTheirRetryStateSurviveReopening()
    {
        var dir = Path.Combine(Path.GetTempPath(), "depot-outbox-" + Guid.NewGuid().ToString("N"));
        var path = Path.Combine(dir, "depot.db");
        var now = new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
        try
        {
            await using (var store = new Storage.Sqlite.SqliteMetadataStore(path))
            {
                await store.InitializeAsync(Ct);
                await store.EnqueueAsync(
                [
                    new OutboxMessage(0, "upload.completed", "http://a.example/hook", "delivery-1", "{\"n\":1}", 0, now, now, null),
                    new OutboxMessage(0, "manifest.completed", "http://b.example/hook", "delivery-2", "{\"n\":\"ü\"}", 0, now.AddSeconds(5), now, null),
                ], Ct);
                var first = (await store.GetDueAsync(now, 10, Ct)).Single();
                await store.RescheduleAsync(first.Id, 3, now.AddMinutes(4), "HTTP 502", Ct);
            }

            await using (var reopened = new Storage.Sqlite.SqliteMetadataStore(path))
            {
                await reopened.InitializeAsync(Ct);
                Assert.Equal(now.AddSeconds(5), await reopened.GetNextDueAsync(Ct));
                Assert.Empty(await reopened.GetDueAsync(now, 10, Ct));
                var due = await reopened.GetDueAsync(now.AddHours(1), 10, Ct);
                Assert.Equal(["delivery-2", "delivery-1"], due.Select(m => m.DeliveryId));
                var retried = due[1];
                Assert.Equal(("upload.completed", "http://a.example/hook", "{\"n\":1}", 3, "HTTP 502"), (retried.Kind, retried.Destination, retried.Body, retried.Attempts, retried.LastError));
                Assert.Equal(now.AddMinutes(4), retried.NextAttemptUtc);
                Assert.Equal("{\"n\":\"ü\"}", due[0].Body);

                await reopened.DeleteAsync(retried.Id, Ct);
                await reopened.DeleteAsync(due[0].Id, Ct);
                Assert.Null(await reopened.GetNextDueAsync(Ct));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // ---- pure ----

    [Fact]
    public void Backoff_DoublesFromTheFirstDelayUpToTheCapWithAtMostAQuarterOfJitter()
    {
        var options = new WebhookDeliveryOptions();
        var expected = new[] { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600 };
        for (var attempt = 1; attempt <= expected.Length; attempt++)
        {
            Assert.Equal(TimeSpan.FromSeconds(expected[attempt - 1]), WebhookBackoff.Delay(attempt, options, jitter: 0));
            Assert.Equal(TimeSpan.FromSeconds(expected[attempt - 1] * 1.25), WebhookBackoff.Delay(attempt, options, jitter: 1));
        }

        Assert.Equal(TimeSpan.FromMinutes(10), WebhookBackoff.Delay(1000, options, jitter: 0));
    }

    [Fact]
    public void Signature_MatchesOnlyTheSameSecretBodyAndAFreshTime()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        var header = WebhookSignature.Create("s3cret", now.ToUnixTimeSeconds(), "{\"a\":1}");

        Assert.Equal($"t=1800000000,v1={Convert.ToHexStringLower(HMACSHA256.HashData("s3cret"u8.ToArray(), "1800000000.{\"a\":1}"u8.ToArray()))}", header);
        Assert.True(WebhookSignature.Verify("s3cret", header, "{\"a\":1}", now.AddSeconds(30), TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify("other", header, "{\"a\":1}", now, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify("s3cret", header, "{\"a\":2}", now, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify("s3cret", header, "{\"a\":1}", now.AddMinutes(10), TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify("s3cret", "t=1800000000,v1=zz", "{\"a\":1}", now, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify("s3cret", null, "{\"a\":1}", now, TimeSpan.FromMinutes(5)));
    }

    // ---- helpers ----

    internal static WebhookDeliveryOptions Fast(int maxAttempts = 20) => new()
    {
        MaxAttempts = maxAttempts,
        FirstRetryDelay = TimeSpan.FromMilliseconds(50),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
        PollInterval = TimeSpan.FromMilliseconds(50),
    };

    private static Task<DepotTestServer> StartAsync(WebhookReceiver receiver, bool fast = false) =>
        DepotTestServer.StartAsync(configure: (o, _) =>
        {
            o.Webhooks.Add(new WebhookEndpoint { Url = receiver.Url(), Secret = Secret });
            if (fast)
            {
                o.WebhookDelivery = Fast();
            }
        });

    /// <summary>A server on <paramref name="root"/>/data that is not deleted when it stops (for restarts).</summary>
    private static async Task<DepotServer> StartOnAsync(string root, WebhookReceiver receiver, TimeSpan firstRetry)
    {
        var options = new DepotServerOptions
        {
            DataDirectory = Path.Combine(root, "data"),
            Listen = "127.0.0.1:0",
            AdminKey = "restart-test-admin-key-0123456789",
            ScanOnStart = false,
            ShutdownTimeout = TimeSpan.FromSeconds(5),
            WebhookDelivery = new WebhookDeliveryOptions { FirstRetryDelay = firstRetry, MaxRetryDelay = firstRetry, PollInterval = TimeSpan.FromMilliseconds(50) },
        };
        options.Webhooks.Add(new WebhookEndpoint { Url = receiver.Url(), Secret = Secret });
        var server = await DepotServer.CreateAsync(options, logging: b => b.ClearProviders());
        await server.StartAsync();
        return server;
    }

    private static HttpClient AdminClient(DepotServer server)
    {
        var client = new HttpClient { BaseAddress = new Uri(server.Urls.Single().TrimEnd('/') + "/") };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "restart-test-admin-key-0123456789");
        return client;
    }

    /// <summary>The one outbox message once it has failed <paramref name="attempts"/> times.</summary>
    private static async Task<OutboxMessage> WaitForAttemptsAsync(IWebhookOutbox outbox, int attempts)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var pending = await outbox.GetDueAsync(DateTimeOffset.MaxValue.AddDays(-1), 10, CancellationToken.None);
            if (pending is [var only] && only.Attempts >= attempts)
            {
                return only;
            }

            Assert.True(DateTime.UtcNow < until, $"The outbox never showed {attempts} failed attempts: {string.Join(", ", pending)}");
            await Task.Delay(20);
        }
    }

    private static void AssertScheduled(OutboxMessage message, TestClock clock, TimeSpan backoff)
    {
        // Scheduled from the server's clock at the failure: between "backoff" and "backoff plus a quarter" ahead of it.
        var now = clock.GetUtcNow();
        Assert.InRange(message.NextAttemptUtc, now + backoff - TimeSpan.FromMinutes(1), now + (backoff * 1.25));
    }

    private static Task AssertOutboxEmptiesAsync(DepotTestServer server) => AssertOutboxEmptiesAsync(server.Services.GetRequiredService<IWebhookOutbox>());

    internal static async Task AssertOutboxEmptiesAsync(IWebhookOutbox outbox)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (await outbox.GetNextDueAsync(CancellationToken.None) is not null)
        {
            Assert.True(DateTime.UtcNow < until, "The outbox still holds deliveries.");
            await Task.Delay(20);
        }
    }

    /// <summary>Checks <c>X-Depot-Signature</c> as a receiver in another language would: HMAC-SHA256 over "t.body".</summary>
    internal static bool VerifyIndependently(string secret, string header, string body)
    {
        var parts = header.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(parts["t"] + "." + body));
        return parts["v1"] == Convert.ToHexStringLower(expected)
            && Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - long.Parse(parts["t"], System.Globalization.CultureInfo.InvariantCulture)) < 300;
    }
}
