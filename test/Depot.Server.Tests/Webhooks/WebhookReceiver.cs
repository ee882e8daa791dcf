using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Depot.Server.Tests.Webhooks;

/// <summary>One POST a <see cref="WebhookReceiver"/> got.</summary>
public sealed record ReceivedWebhook(string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string Header(string name) => Headers.TryGetValue(name, out var value) ? value : "";
}

/// <summary>
/// A real HTTP server (Kestrel on <c>127.0.0.1:0</c>) that records every request it gets and answers as
/// <see cref="Respond"/> says (by default 200), for webhook tests.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();

    private WebhookReceiver(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; private set; }

    /// <summary>The URL of <paramref name="path"/> on this receiver.</summary>
    public string Url(string path = "/hook") => $"http://127.0.0.1:{Port}{path}";

    /// <summary>Decides each answer from the request and how many requests came before it (0 for the first):
    /// status, body. Set before the requests arrive.</summary>
    public Func<ReceivedWebhook, int, (int Status, string? Body)> Respond { get; set; } = (_, _) => (200, null);

    /// <summary>Holds each answer this long first (to test timeouts).</summary>
    public TimeSpan Delay { get; set; }

    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    /// <summary>Starts a receiver; <paramref name="port"/> 0 picks a free port (a fixed one revives a stopped receiver's URL).</summary>
    public static async Task<WebhookReceiver> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app, port);
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        receiver.Port = new Uri(app.Urls.Single()).Port;
        return receiver;
    }

    /// <summary>Waits until at least <paramref name="count"/> requests arrived (or the timeout passed); returns them.</summary>
    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (_received.Count < count && DateTime.UtcNow < until)
        {
            await Task.Delay(20);
        }

        return Received;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var request = new ReceivedWebhook(context.Request.Path.Value ?? "/", headers, body);
        int before;
        lock (_received)
        {
            before = _received.Count;
            _received.Enqueue(request);
        }

        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, context.RequestAborted);
        }

        var (status, answer) = Respond(request, before);
        context.Response.StatusCode = status;
        if (answer is not null)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer, context.RequestAborted);
        }
    }
}
