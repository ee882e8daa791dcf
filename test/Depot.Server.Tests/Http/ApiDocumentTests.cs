using System.Net;
using System.Reflection;
using System.Text.Json;
using Depot.Core.Errors;
using Depot.Protocol;
using Depot.Server.Tests.Infrastructure;

namespace Depot.Server.Tests.Http;

/// <summary>The served OpenAPI document and docs/http-api.md stay true to the route table and the error codes.</summary>
public sealed class ApiDocumentTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OpenApi_GetWithoutKey_ServesTheRepositoryDocumentAsOpenApi31()
    {
        await using var server = await DepotTestServer.StartAsync();
        using var anonymous = server.CreateClient(null);

        using var response = await anonymous.GetAsync(DepotRoutes.OpenApi.TrimStart('/'), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var served = await response.Content.ReadAsStringAsync(Ct);
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "docs", "openapi.json"), Ct), served);
        using var document = JsonDocument.Parse(served);
        Assert.StartsWith("3.1", document.RootElement.GetProperty("openapi").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DepotRoutes.Health, "get")]
    [InlineData(DepotRoutes.OpenApi, "get")]
    [InlineData(DepotRoutes.Buckets, "get")]
    [InlineData(DepotRoutes.Keys, "get")]
    [InlineData(DepotRoutes.Keys, "post")]
    [InlineData(DepotRoutes.Keys + "/{id}", "delete")]
    [InlineData(DepotRoutes.ShareRotate, "post")]
    [InlineData(DepotRoutes.Cluster, "get")]
    [InlineData(DepotRoutes.Cluster + "/{bucket}", "get")]
    [InlineData("/v1/{bucket}", "post")]
    [InlineData(DepotRoutes.Manifests, "post")]
    [InlineData(DepotRoutes.Manifests + "/{id}", "get")]
    [InlineData(DepotRoutes.Manifests + "/{id}", "delete")]
    [InlineData(DepotRoutes.Uploads, "post")]
    [InlineData(DepotRoutes.Uploads + "/{id}", "get")]
    [InlineData(DepotRoutes.Uploads + "/{id}", "put")]
    [InlineData(DepotRoutes.Uploads + "/{id}", "patch")]
    [InlineData(DepotRoutes.Uploads + "/{id}", "delete")]
    [InlineData(DepotRoutes.Uploads + "/{id}/chunks/{index}", "put")]
    [InlineData(DepotRoutes.Uploads + "/{id}/complete", "post")]
    [InlineData("/v1/{bucket}/{key}", "get")]
    [InlineData("/v1/{bucket}/{key}", "head")]
    [InlineData("/v1/{bucket}/{key}", "put")]
    [InlineData("/v1/{bucket}/{key}", "patch")]
    [InlineData("/v1/{bucket}/{key}", "delete")]
    [InlineData("/v1/{bucket}/{key}", "post")]
    public void OpenApi_EveryRoute_IsDocumentedWithResponses(string path, string method)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "openapi.json")));

        var operation = document.RootElement.GetProperty("paths").GetProperty(path).GetProperty(method);

        Assert.True(operation.GetProperty("responses").EnumerateObject().Any());
    }

    [Fact]
    public void HttpApiDoc_EveryStableErrorCode_IsDocumentedWithItsStatus()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "http-api.md"));
        var codes = typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetValue(null)!).ToList();

        Assert.NotEmpty(codes);
        Assert.All(codes, code => Assert.Contains($"`{code}`", doc, StringComparison.Ordinal));
        Assert.All(codes.Where(c => c != ErrorCodes.Internal), code => Assert.NotEqual(500, ErrorStatus.For(code)));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Depot.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Run the tests from inside the repository.");
    }
}
