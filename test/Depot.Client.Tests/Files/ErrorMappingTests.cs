using System.Net;
using System.Text;
using Depot.Client.Tests.Infrastructure;
using Depot.Protocol;

namespace Depot.Client.Tests.Files;

public sealed class ErrorMappingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ApiKeys_CreateListRevoke_RevokedKeyGetsUnauthorized()
    {
        await using var context = await ClientTestContext.StartAsync();
        var created = await context.Client.CreateApiKeyAsync(new CreateKeyRequestDto { Name = "ci", Scopes = ["read", "write"] }, Ct);
        var keyed = context.CreateClient(created.Token);
        await keyed.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/x.txt", cancellationToken: Ct);

        var listed = await context.Client.ListApiKeysAsync(Ct);
        var entry = Assert.Single(listed, k => k.Id == created.Id);
        Assert.Equal("ci", entry.Name);
        Assert.Equal(["read", "write"], entry.Scopes);
        Assert.Null(entry.Token);
        Assert.Null(entry.Revoked);
        Assert.StartsWith("dpk_" + created.Id + "_", created.Token, StringComparison.Ordinal);

        await context.Client.RevokeApiKeyAsync(created.Id, Ct);

        var e = await Assert.ThrowsAsync<UnauthorizedException>(() => keyed.StatAsync("default/x.txt", Ct));
        Assert.Equal("unauthorized", e.Code);
        Assert.Equal(HttpStatusCode.Unauthorized, e.StatusCode);
        Assert.False(e.IsTransient);
        Assert.DoesNotContain(created.Token!, e.ToString(), StringComparison.Ordinal);
        Assert.NotNull(Assert.Single(await context.Client.ListApiKeysAsync(Ct), k => k.Id == created.Id).Revoked);
    }

    [Fact]
    public async Task RevokeApiKey_UnknownId_ThrowsNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        await Assert.ThrowsAsync<NotFoundException>(() => context.Client.RevokeApiKeyAsync("0123456789abcdef", Ct));
    }

    [Fact]
    public async Task CreateApiKey_WithLimitedKey_ThrowsForbidden()
    {
        await using var context = await ClientTestContext.StartAsync();
        var limited = await context.Server.CreateKeyAsync(["admin"], bucket: "default");

        var e = await Assert.ThrowsAsync<ForbiddenException>(() =>
            context.CreateClient(limited.Token).CreateApiKeyAsync(new CreateKeyRequestDto { Scopes = ["read"] }, Ct));

        Assert.Equal("forbidden", e.Code);
    }

    [Fact]
    public async Task Upload_ReadOnlyKey_ThrowsForbiddenWithoutTheKeyInTheMessage()
    {
        await using var context = await ClientTestContext.StartAsync();
        var readOnly = await context.Server.CreateKeyAsync(["read"]);
        var client = context.CreateClient(readOnly.Token);

        var e = await Assert.ThrowsAsync<ForbiddenException>(() => client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/x.txt", cancellationToken: Ct));

        Assert.Equal("forbidden", e.Code);
        Assert.Equal(HttpStatusCode.Forbidden, e.StatusCode);
        Assert.False(e.IsTransient);
        Assert.Contains("default/x.txt", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(readOnly.Token, e.ToString(), StringComparison.Ordinal);
        Assert.Null(await context.Client.TryStatAsync("default/x.txt", Ct));
    }

    [Fact]
    public async Task UploadSession_ReadOnlyKey_ThrowsForbidden()
    {
        await using var context = await ClientTestContext.StartAsync();
        var readOnly = await context.Server.CreateKeyAsync(["read"]);
        var local = context.WriteFile("big.bin", 2 * 1024 * 1024);

        await Assert.ThrowsAsync<ForbiddenException>(() => context.SessionClient(readOnly.Token).UploadAsync(local, "default/big.bin", cancellationToken: Ct));
    }

    [Fact]
    public async Task PrefixLimitedKey_OutsidePrefix_ThrowsForbidden_InsideWorks()
    {
        await using var context = await ClientTestContext.StartAsync();
        var photos = await context.Server.CreateKeyAsync(["read", "write"], prefix: "photos/");
        var client = context.CreateClient(photos.Token);

        await client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/photos/a.jpg", cancellationToken: Ct);

        await Assert.ThrowsAsync<ForbiddenException>(() => client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/docs/a.txt", cancellationToken: Ct));
    }

    [Fact]
    public async Task NoKey_Upload_ThrowsUnauthorized()
    {
        await using var context = await ClientTestContext.StartAsync();
        using var anonymous = new DepotClient(context.Server.BaseUrl.ToString());

        var e = await Assert.ThrowsAsync<UnauthorizedException>(() => anonymous.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/x", cancellationToken: Ct));

        Assert.False(e.IsTransient);
    }

    [Fact]
    public async Task Upload_KeyWithDotDotSegment_IsRefusedNotRedirected()
    {
        await using var context = await ClientTestContext.StartAsync();

        // System.Uri removes dot segments, so without care the request would go to /v1/default/b.
        var error = await Record.ExceptionAsync(() => context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/a/../b", cancellationToken: Ct));

        Assert.Null(await context.Client.TryStatAsync("default/b", Ct));
        var e = Assert.IsType<InvalidRequestException>(error);
        Assert.Equal("invalid_path", e.Code);
        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
    }

    [Fact]
    public async Task Upload_KeyWithDotSegment_IsRefusedNotRedirected()
    {
        await using var context = await ClientTestContext.StartAsync();

        var error = await Record.ExceptionAsync(() => context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/a/./b", cancellationToken: Ct));

        Assert.Null(await context.Client.TryStatAsync("default/a/b", Ct));
        Assert.IsType<InvalidRequestException>(error);
    }

    [Fact]
    public async Task Upload_KeyClimbingOutOfItsBucket_DoesNotWriteIntoAnotherBucket()
    {
        await using var context = await ClientTestContext.StartAsync((o, root) =>
            o.Buckets["backup"] = new Depot.Server.Hosting.BucketConfig { Path = Depot.Server.Tests.Infrastructure.DepotTestServer.BucketDirectory(root, "backup") });

        var error = await Record.ExceptionAsync(() => context.Client.UploadAsync(Encoding.UTF8.GetBytes("evil"),
            new DepotPath("default", "x/../../backup/evil.txt"), cancellationToken: Ct));

        Assert.Null(await context.Client.TryStatAsync("backup/evil.txt", Ct));
        Assert.IsType<InvalidRequestException>(error);
    }

    [Fact]
    public async Task Delete_KeyWithDotDotSegment_DoesNotDeleteAnotherObject()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("keep me"), "default/b.txt", cancellationToken: Ct);

        var error = await Record.ExceptionAsync(() => context.Client.DeleteAsync("default/a/../b.txt", cancellationToken: Ct));

        Assert.NotNull(await context.Client.TryStatAsync("default/b.txt", Ct));
        Assert.IsType<InvalidRequestException>(error);
    }

    [Fact]
    public async Task UnknownBucket_ThrowsNotFound()
    {
        await using var context = await ClientTestContext.StartAsync();

        var e = await Assert.ThrowsAsync<NotFoundException>(() => context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "nosuch/x", cancellationToken: Ct));

        Assert.Equal("not_found", e.Code);
        Assert.NotNull(e.Detail);
        Assert.NotNull(e.Instance);
    }

    [Fact]
    public async Task UnreachableServer_ThrowsTransientNetworkErrorAfterRetries()
    {
        await using var context = await ClientTestContext.StartAsync();
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var client = context.CreateClient(url: new Uri($"http://127.0.0.1:{port}/"), configure: o => o.Retry.MaxAttempts = 2);

        var e = await Assert.ThrowsAsync<DepotUnavailableException>(() => client.StatAsync("default/x", Ct));

        Assert.Equal(ClientErrorCodes.Network, e.Code);
        Assert.True(e.IsTransient);
        Assert.Equal((HttpStatusCode)0, e.StatusCode);
        Assert.DoesNotContain(context.Server.AdminKey, e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Errors_NeverContainTheAdminKey()
    {
        await using var context = await ClientTestContext.StartAsync();
        await context.Client.UploadAsync(Encoding.UTF8.GetBytes("x"), "default/x.txt", cancellationToken: Ct);

        var errors = new DepotException[]
        {
            await Assert.ThrowsAsync<NotFoundException>(() => context.Client.StatAsync("default/none", Ct)),
            await Assert.ThrowsAsync<AlreadyExistsException>(() => context.Client.UploadAsync(Encoding.UTF8.GetBytes("y"), "default/x.txt",
                new UploadOptions { Overwrite = false }, cancellationToken: Ct)),
            await Assert.ThrowsAsync<PreconditionFailedException>(() => context.Client.UploadAsync(Encoding.UTF8.GetBytes("y"), "default/x.txt",
                new UploadOptions { IfMatch = new string('0', 64) }, cancellationToken: Ct)),
            await Assert.ThrowsAsync<ConflictException>(() => context.Client.AppendAsync("default/x.txt", Encoding.UTF8.GetBytes("y"), Ct)),
            await Assert.ThrowsAsync<InvalidRequestException>(() => context.Client.DownloadBytesAsync("default/x.txt", new DownloadOptions { Offset = 5 }, Ct)),
        };

        Assert.All(errors, e =>
        {
            Assert.False(e.IsTransient);
            Assert.DoesNotContain(context.Server.AdminKey, e.ToString(), StringComparison.Ordinal);
        });
    }
}
