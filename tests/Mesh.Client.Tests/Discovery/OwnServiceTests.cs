using Mesh.Discovery;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Discovery;

/// <summary>
/// This process's own service may be configured with its server policy alone (no endpoints, no source that knows it);
/// any other service without endpoints is still refused.
/// </summary>
public sealed class OwnServiceTests
{
    [Fact]
    public async Task The_own_service_with_only_its_mode_is_accepted_and_calls_to_it_fail_as_to_a_service_with_no_instance()
    {
        using var host = MeshTestHost.Create(new Dictionary<string, string?>
        {
            ["Mesh:ServiceName"] = "payments",
            ["Mesh:Services:payments:Mtls:Mode"] = "Strict",
        });

        var error = await Assert.ThrowsAsync<MeshEndpointUnavailableException>(() => host.Client.GetAsync("http://payments/"));

        Assert.Contains("payments", host.Catalog.ServiceNames);
        Assert.Empty(error.EndpointsTried);
        Assert.Contains("'payments'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Another_service_with_only_its_mode_is_refused_naming_it()
    {
        using var host = MeshTestHost.Create(new Dictionary<string, string?>
        {
            ["Mesh:ServiceName"] = "orders",
            ["Mesh:Services:payments:Mtls:Mode"] = "Strict",
        });

        var error = Assert.ThrowsAny<OptionsValidationException>(() => host.Catalog);

        Assert.Contains("Mesh:Services:payments:Endpoints: service 'payments' has no endpoints", error.Message, StringComparison.Ordinal);
    }
}
