using Mesh.AspNetCore.Registration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>Settings a server with an identity needs are checked at start, each failure naming its key.</summary>
public sealed class ServerIdentityValidationTests : IDisposable
{
    private readonly MeshPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task An_identity_without_a_service_name_and_timeouts_out_of_range_stop_start_up_naming_the_keys()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => MeshedServers.StartAsync(
            _pki,
            mode: null,
            mesh: o => o.ServiceName = null,
            services: s => s.Configure<MeshServerOptions>(o =>
            {
                o.ProtocolDetectionTimeout = TimeSpan.Zero;
                o.TlsHandshakeTimeout = TimeSpan.FromMinutes(2);
            })));

        Assert.Contains("Mesh:ServiceName: required when Mesh:Identity:Source is set", error.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Server:ProtocolDetectionTimeout: 00:00:00 is out of range", error.Message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Server:TlsHandshakeTimeout: 00:02:00 is out of range", error.Message, StringComparison.Ordinal);
    }
}
