using Depot.Core.Uploads;
using Depot.Core.Uploads.Manifests;
using Depot.Server.Manifests;
using Depot.Server.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Depot.Server.Hosting;

/// <summary>
/// <c>services.AddDepot()</c>: the extension points of a Depot server. <see cref="DepotServer"/> calls it itself and then
/// runs <see cref="DepotServerOptions.ConfigureServices"/>, where an application adds its own policies:
/// <code>
/// options.ConfigureServices = services => services.AddDepot().AddUploadPolicy&lt;QuotaPolicy&gt;();
/// </code>
/// </summary>
public static class DepotServiceCollectionExtensions
{
    /// <summary>Registers the upload policy pipeline, webhook delivery and manifests (once, however often it is called)
    /// and returns a builder to add upload policies with.</summary>
    /// <remarks>Expects the stores, engines and <see cref="DepotServerOptions"/> that <see cref="DepotServer"/> registers.</remarks>
    public static DepotBuilder AddDepot(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(DepotBuilder)))
        {
            var builder = new DepotBuilder(services);
            services.AddSingleton(builder);
            services.TryAddSingleton<WebhookSignal>();
            services.TryAddSingleton<WebhookSender>();
            services.TryAddSingleton<UploadEventPublisher>();
            services.TryAddSingleton<IManifestEvents>(sp => sp.GetRequiredService<UploadEventPublisher>());
            services.TryAddSingleton<ManifestTracker>();
            services.TryAddSingleton(sp =>
            {
                var options = sp.GetRequiredService<DepotServerOptions>();
                return new ManifestOptions { MaxFiles = options.MaxManifestFiles, Expiry = options.UploadSessionExpiry };
            });
            services.TryAddSingleton<ManifestService>();
            services.TryAddSingleton<ManifestHandlers>();
            // The engine is handed the pipeline, which asks every added policy (replacing the allow-all default).
            services.Replace(ServiceDescriptor.Singleton<IUploadPolicy, UploadPolicyPipeline>());
            services.AddHostedService<WebhookDispatcher>();
            services.AddHostedService<ManifestSweeper>();
        }

        return (DepotBuilder)services.First(d => d.ServiceType == typeof(DepotBuilder)).ImplementationInstance!;
    }
}

/// <summary>Adds to a Depot server's services; see <see cref="DepotServiceCollectionExtensions.AddDepot"/>.</summary>
public sealed class DepotBuilder
{
    internal DepotBuilder(IServiceCollection services) => Services = services;

    public IServiceCollection Services { get; }

    /// <summary>Adds an upload policy, resolved from the container (as a singleton) when the first upload needs it.</summary>
    /// <remarks>Policies are asked in the order added; all must allow, and the last one that picks a key wins (each is
    /// asked about the key chosen so far). Every policy hears every completion and cancellation; an exception there is
    /// logged and never fails the upload. An exception in <see cref="IUploadPolicy.DecideAsync"/> refuses the upload
    /// (503 <c>unavailable</c>).</remarks>
    public DepotBuilder AddUploadPolicy<TPolicy>() where TPolicy : class, IUploadPolicy
    {
        Services.TryAddSingleton<TPolicy>();
        Services.AddSingleton(new UploadPolicyRegistration(sp => sp.GetRequiredService<TPolicy>()));
        return this;
    }

    /// <summary>Adds an upload policy instance (see <see cref="AddUploadPolicy{TPolicy}()"/> for how policies combine).</summary>
    public DepotBuilder AddUploadPolicy(IUploadPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        Services.AddSingleton(new UploadPolicyRegistration(_ => policy));
        return this;
    }

    /// <summary>Adds an upload policy made by <paramref name="factory"/> at first use.</summary>
    public DepotBuilder AddUploadPolicy(Func<IServiceProvider, IUploadPolicy> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.AddSingleton(new UploadPolicyRegistration(factory));
        return this;
    }
}
