using Depot.Client.Tests.Infrastructure;

namespace Depot.Client.Tests.Resilience;

public sealed class DiagTemp
{
    [Fact]
    public async Task Diag_Reset_Exception()
    {
        await using var context = await ClientTestContext.StartAsync();
        await using var proxy = await FaultProxy.StartAsync(context.Server.BaseUrl);
        proxy.RefuseConnections(mode: DropMode.Reset);
        for (var i = 0; i < 5; i++)
        {
            using var http = new HttpClient();
            try
            {
                using var r = await http.PostAsync(proxy.Url + "v1/_uploads", new StringContent("{}"), TestContext.Current.CancellationToken);
                TestContext.Current.TestOutputHelper!.WriteLine("answer " + r.StatusCode);
            }
            catch (Exception e)
            {
                TestContext.Current.TestOutputHelper!.WriteLine(e.GetType().Name + " " + (e as HttpRequestException)?.HttpRequestError + " inner " + e.InnerException?.GetType().Name + " " + e.InnerException?.Message + " / " + e.InnerException?.InnerException?.GetType().Name + " " + (e.InnerException?.InnerException as System.Net.Sockets.SocketException)?.SocketErrorCode);
            }
        }
    }
}
