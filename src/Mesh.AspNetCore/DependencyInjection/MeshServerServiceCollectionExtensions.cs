using System.Diagnostics;
using Mesh.AspNetCore.Authorization;
using Mesh.AspNetCore.Health;
using Mesh.AspNetCore.Identity;
using Mesh.AspNetCore.Registration;
using Mesh.AspNetCore.Telemetry;
using Mesh.Telemetry;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the inbound side of the mesh in an ASP.NET Core application.</summary>
public static class MeshServerServiceCollectionExtensions
{
    /// <summary>
    /// Adds the mesh's inbound side: golden metrics of every inbound request (<c>mesh.server.request.duration</c> on the
    /// <c>Mesh</c> meter) by caller service, route and status. Traces continue from the caller's <c>traceparent</c>
    /// and <c>tracestate</c>, read by the rules of W3C Trace Context (an invalid <c>traceparent</c> starts a new trace; an
    /// invalid <c>tracestate</c> is dropped whole). Also adds the outbound mesh (<c>AddMesh()</c>).
    /// </summary>
    /// <remarks>
    /// <para>
    /// With <c>Mesh:ControlPlane:Address</c> and <c>Mesh:ServiceName</c> set, the service registers with the control plane once
    /// Kestrel listens (settings under <c>Mesh:Server</c>, see <see cref="MeshServerOptions"/>), renews its lease, and on a
    /// graceful shutdown deregisters, keeps serving for <see cref="MeshServerOptions.DrainTime"/>, then stops. With
    /// <c>Mesh:Server:Consul:Register</c> (see <see cref="ConsulRegistrationOptions"/>), it also registers with the Consul
    /// agent of <c>Mesh:Discovery:Consul:Address</c>, keeps a TTL check passing, and deregisters before the drain.
    /// When the application has health checks of its own, registration with the control plane waits for them to report
    /// Healthy or Degraded; when they turn Unhealthy the instance drains (weight 0 for the drain time, then deregisters)
    /// and it registers again when they recover (<see cref="MeshServerOptions.HealthCheckTag"/>,
    /// <see cref="MeshServerOptions.HealthCheckInterval"/>).
    /// </para>
    /// <para>
    /// With a workload identity (<c>Mesh:Identity:Source</c>), every Kestrel endpoint the application serves in plaintext
    /// serves the mesh's mutual TLS with the workload's current certificate instead, as the service's
    /// <c>Mesh:Services:{Mesh:ServiceName}:Mtls:Mode</c> says (else the mesh-wide <c>Mesh:Mtls:Mode</c>, else permissive),
    /// read for each new connection: <c>Strict</c> (a client
    /// certificate the mesh signed is required; plaintext is closed), <c>Permissive</c> (mesh TLS and plaintext on the same
    /// port) or <c>Off</c> (plaintext). Endpoints the application gave its own TLS certificate are left alone. The caller a
    /// certificate proves becomes the request's identity (<see cref="Mesh.AspNetCore.Identity.IMeshCallerFeature"/> and
    /// <c>HttpContext.User</c>), and the service registers at <c>https</c> with that identity.
    /// </para>
    /// <para>
    /// The service's authorization, <c>Mesh:Services:{Mesh:ServiceName}:Authorization</c> (see
    /// <see cref="Mesh.Authorization.AuthorizationOptions"/>), decides every request before the application's pipeline runs, on
    /// the verified caller and the path routing matches: 403 when denied (gRPC <c>PERMISSION_DENIED</c>), 429 over the
    /// per-caller rate limit, each denial audited and counted in <c>mesh.server.authorization</c>.
    /// </para>
    /// <para>
    /// Readiness: a health check named <c>mesh</c>, tagged <c>ready</c>, is unhealthy while a configured control plane has
    /// delivered no snapshot or refuses the token, and while a workload with an identity has no valid certificate; degraded
    /// while the control plane cannot refresh the snapshot in force. Map it with
    /// <c>app.MapHealthChecks("/ready", new() { Predicate = c => c.Tags.Contains("ready") })</c>.
    /// </para>
    /// </remarks>
    /// <param name="services">The service collection.</param>
    /// <returns>The same service collection.</returns>
    public static IServiceCollection AddMeshServer(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddMesh();
        services.TryAddSingleton<ServerIdentity>();

        services.TryAddSingleton<MtlsModes>();
        services.TryAddSingleton<InboundTlsMetrics>();
        services.TryAddSingleton<MeshTlsEndpoints>();
        services.TryAddSingleton<MeshInbound>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<KestrelServerOptions>, MeshKestrelSetup>());
        services.TryAddSingleton<InboundStats>();
        services.TryAddSingleton<MeshServerMetrics>();
        services.TryAddSingleton<AuthorizationPolicies>();
        services.TryAddSingleton<AuthorizationMetrics>();
        services.TryAddSingleton<CallerRateLimiter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, MeshServerStartupFilter>());

        if (!services.Any(d => d.ServiceType == typeof(MeshRegistration)))
        {
            services.AddOptions<MeshServerOptions>().BindConfiguration(MeshServerOptionsValidator.Section, o => o.ErrorOnUnknownConfiguration = true).ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MeshServerOptions>, MeshServerOptionsValidator>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<HostOptions>, DrainShutdownTimeout>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<Mesh.MeshOptions>, ZoneFromRegistration>());
            services.AddSingleton<IHostedService, MeshTlsStartupCheck>();
            services.TryAddSingleton<ServerInstance>();
            services.TryAddSingleton<InstanceReporter>();
            services.TryAddSingleton<RegistrationHealth>();
            services.TryAddSingleton<RegistrationStates>();
            services.AddSingleton<MeshRegistration>();
            services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<MeshRegistration>());

            // After meshd's registration, so it stops (and deregisters from Consul) first.
            services.AddSingleton<ConsulRegistration>();
            services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<ConsulRegistration>());
        }

        // Readiness: the mesh's health check, for a probe that maps health checks tagged "ready".
        if (!services.Any(d => d.ServiceType == typeof(MeshReadinessCheck)))
        {
            services.AddSingleton<MeshReadinessCheck>();
            services.AddHealthChecks().Add(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckRegistration(
                MeshReadinessCheck.Name, static sp => sp.GetRequiredService<MeshReadinessCheck>(), failureStatus: null, tags: [MeshReadinessCheck.ReadyTag]));
        }

        // Incoming traceparent and tracestate are read by W3C Trace Context's rules (Mesh.Telemetry.W3CTraceContext).
        if (!services.Any(d => d.ServiceType == typeof(DistributedContextPropagator) && d.ImplementationFactory is not null && d.ImplementationFactory.Method.DeclaringType == typeof(MeshServerServiceCollectionExtensions)))
        {
            services.Replace(ServiceDescriptor.Singleton<DistributedContextPropagator>(static _ => TraceContextPropagator.Over(DistributedContextPropagator.Current)));
        }

        return services;
    }
}
