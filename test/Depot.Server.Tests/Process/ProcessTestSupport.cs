using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;

// Not "Depot.Server.Tests.Process": a namespace named Process would hide System.Diagnostics.Process from every other
// file of this project.
namespace Depot.Server.Tests.ProcessTests;

/// <summary>A fresh directory under the system temp folder, deleted (best effort) on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "depot-process-tests", $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A mount still busy or a file still open: leave it for the OS to clean up.
        }
    }
}

/// <summary>Deterministic pseudo-random bytes: byte <c>p</c> of seed <c>s</c> is the same however it is read.</summary>
internal static class SeededBytes
{
    public static byte[] Create(int length, int seed)
    {
        var bytes = new byte[length];
        Fill(bytes, 0, seed);
        return bytes;
    }

    public static void Fill(Span<byte> span, long position, int seed)
    {
        Span<byte> block = stackalloc byte[8];
        var i = 0;
        while (i < span.Length)
        {
            var p = position + i;
            var offset = (int)(p & 7);
            BinaryPrimitives.WriteUInt64LittleEndian(block, SplitMix64(((ulong)(uint)seed << 40) ^ (ulong)(p >> 3)));
            var take = Math.Min(8 - offset, span.Length - i);
            block.Slice(offset, take).CopyTo(span[i..]);
            i += take;
        }
    }

    public static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static ulong SplitMix64(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}

/// <summary>
/// An upload body of <c>length</c> seeded bytes that is never held in memory and that stops after
/// <c>pauseAfter</c> bytes: the upload is then reliably "in the middle" for as long as the test needs. After
/// <see cref="Abandon"/> the body fails, so the client's request ends.
/// </summary>
internal sealed class PausingBodyStream(long length, int seed, long pauseAfter) : Stream
{
    private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _abandoned = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _position;

    /// <summary>Completes when every byte before the pause has been handed to the client.</summary>
    public Task Paused => _paused.Task;

    public long BytesProduced => Interlocked.Read(ref _position);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Makes the paused body fail (the client's request then ends with an error).</summary>
    public void Abandon() => _abandoned.TrySetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position >= length || buffer.Length == 0)
        {
            return 0;
        }

        if (_position >= pauseAfter)
        {
            _paused.TrySetResult();
            await _abandoned.Task.WaitAsync(cancellationToken);
            throw new IOException("The test abandoned this upload body.");
        }

        var n = (int)Math.Min(buffer.Length, Math.Min(length, pauseAfter) - _position);
        SeededBytes.Fill(buffer.Span[..n], _position, seed);
        Interlocked.Add(ref _position, n);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read this body asynchronously.");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Requests, staging-folder checks and small facts shared by the process tests.</summary>
internal static class ProcessTestSupport
{
    public const long MiB = 1L << 20;

    public static string ObjectPath(string key) => DepotRoutes.Object("default", key);

    /// <summary><c>{dir}/.depot/tmp</c>, where uploads are staged.</summary>
    public static string StagingDirectory(string dataDirectory) => Path.Combine(dataDirectory, ".depot", "tmp");

    /// <summary>Everything in the staging folder (it should hold nothing once no upload is running).</summary>
    public static string[] StagedEntries(string dataDirectory)
    {
        var staging = StagingDirectory(dataDirectory);
        return Directory.Exists(staging) ? Directory.GetFileSystemEntries(staging) : [];
    }

    public static async Task<HttpResponseMessage> PutBytesAsync(HttpClient client, string key, byte[] bytes, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, ObjectPath(key)) { Content = new ByteArrayContent(bytes) };
        configure?.Invoke(request);
        return await client.SendAsync(request);
    }

    /// <summary>Starts a PUT whose body is <paramref name="body"/>; with a <paramref name="contentLength"/> it is sent
    /// with that Content-Length, otherwise chunked.</summary>
    public static Task<HttpResponseMessage> StartUpload(HttpClient client, string key, Stream body, long? contentLength, bool expectContinue = false)
    {
        var content = new StreamContent(body, 1 << 20);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var request = new HttpRequestMessage(HttpMethod.Put, ObjectPath(key)) { Content = content };
        if (contentLength is { } declared)
        {
            content.Headers.ContentLength = declared;
        }
        else
        {
            request.Headers.TransferEncodingChunked = true;
        }

        if (expectContinue)
        {
            request.Headers.ExpectContinue = true;
        }

        return Task.Run(async () =>
        {
            using (request)
            {
                return await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            }
        });
    }

    /// <summary>Waits until the staged upload files together hold more than <paramref name="bytes"/> bytes, i.e. the
    /// server has received and written that much of a body.</summary>
    public static async Task WaitForStagedBytesAsync(ServerProcess server, long bytes, Task<HttpResponseMessage> upload)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        long seen = 0;
        while (DateTime.UtcNow < deadline)
        {
            if (upload.IsCompleted)
            {
                var outcome = upload.IsCompletedSuccessfully ? $"HTTP {(int)upload.Result.StatusCode}" : upload.Exception?.GetBaseException().Message;
                Assert.Fail($"The upload ended ({outcome}) before the server had staged {bytes} bytes (saw {seen}).\n{server.Output}");
            }

            seen = StagedEntries(server.DataDirectory).Where(p => p.EndsWith(".part", StringComparison.Ordinal)).Sum(p => SafeLength(p));
            if (seen > bytes)
            {
                return;
            }

            await Task.Delay(20);
        }

        Assert.Fail($"The server staged only {seen} bytes within 60 s (waiting for more than {bytes}).\n{server.Output}");
    }

    /// <summary>Lets a request that the test broke (killed server, abandoned body) finish, and returns its status if it
    /// got one.</summary>
    public static async Task<HttpStatusCode?> EndAsync(Task<HttpResponseMessage> upload, PausingBodyStream body)
    {
        body.Abandon();
        try
        {
            using var response = await upload.WaitAsync(TimeSpan.FromSeconds(60));
            return response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Reads the <c>code</c> of a problem+json response.</summary>
    public static async Task<string?> ProblemCodeAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        try
        {
            using var json = JsonDocument.Parse(text);
            return json.RootElement.TryGetProperty("code", out var code) ? code.GetString() : null;
        }
        catch (JsonException)
        {
            return $"(not JSON: {text})";
        }
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(",", values)
            : null;

    /// <summary>GET /healthz answers 200.</summary>
    public static async Task AssertHealthyAsync(ServerProcess server)
    {
        using var client = server.CreateClient();
        using var response = await client.GetAsync(DepotRoutes.Health);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static long SafeLength(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
