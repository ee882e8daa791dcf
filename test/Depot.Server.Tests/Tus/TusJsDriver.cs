using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Depot.Server.Tests.Tus;

/// <summary>Runs <c>test/js/tus-driver.mjs</c>, which drives the real tus-js-client from npm, and reads its result line.</summary>
/// <remarks>Needs <c>node</c> on the PATH and <c>npm ci</c> run in <c>test/js</c> (test.sh does both); without them the
/// tests fail with a message saying so, they are never skipped.</remarks>
internal static class TusJsDriver
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    /// <summary>The repository root: the folder above the test binaries that holds Depot.slnx.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string JsDirectory => Path.Combine(RepositoryRoot, "test", "js");

    /// <summary>Runs the driver with <paramref name="arguments"/> (see the top of tus-driver.mjs) and returns its result.</summary>
    public static async Task<TusJsResult> RunAsync(JsonObject arguments, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Combine(JsDirectory, "node_modules", "tus-js-client", "package.json")))
        {
            throw new InvalidOperationException($"tus-js-client is not installed: run 'npm ci' in {JsDirectory} (test.sh does).");
        }

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = JsDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("tus-driver.mjs");
        start.ArgumentList.Add(arguments.ToJsonString());
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException("Node.js is needed to run the tus-js-client tests: install nodejs and npm (test.sh does).", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"tus-driver.mjs did not finish within {Timeout}: {await stderr}");
            }

            var output = await stdout;
            var errors = await stderr;
            var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
            if (process.ExitCode != 0 || line is null)
            {
                throw new InvalidOperationException($"tus-driver.mjs failed (exit {process.ExitCode}): {errors}{output}");
            }

            return TusJsResult.Parse(line);
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Depot.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Depot.slnx above {AppContext.BaseDirectory}.");
    }
}

/// <summary>One request the driver made: its method (after X-HTTP-Method-Override), status, Upload-Offset sent or
/// answered (HEAD), and body bytes.</summary>
internal sealed record TusJsRequest(string Method, int Status, long? Offset, long? HeadOffset, long Bytes);

/// <summary>The driver's result line.</summary>
internal sealed record TusJsResult(
    bool Ok,
    string? Url,
    int? Status,
    string? Error,
    bool Aborted,
    long BytesSent,
    long BytesAcknowledged,
    IReadOnlyList<TusJsRequest> Requests,
    string Raw)
{
    public static TusJsResult Parse(string line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        var requests = root.GetProperty("requests").EnumerateArray().Select(r => new TusJsRequest(
            r.GetProperty("method").GetString()!,
            r.GetProperty("status").GetInt32(),
            r.GetProperty("offset").ValueKind == JsonValueKind.Number ? r.GetProperty("offset").GetInt64() : null,
            r.GetProperty("headOffset").ValueKind == JsonValueKind.Number ? r.GetProperty("headOffset").GetInt64() : null,
            r.GetProperty("bytes").GetInt64())).ToList();
        return new TusJsResult(
            root.GetProperty("ok").GetBoolean(),
            root.GetProperty("url").GetString(),
            root.GetProperty("status").ValueKind == JsonValueKind.Number ? root.GetProperty("status").GetInt32() : null,
            root.GetProperty("error").GetString(),
            root.GetProperty("aborted").GetBoolean(),
            root.GetProperty("bytesSent").GetInt64(),
            root.GetProperty("bytesAcknowledged").GetInt64(),
            requests,
            line);
    }

    public override string ToString() => Raw;
}
