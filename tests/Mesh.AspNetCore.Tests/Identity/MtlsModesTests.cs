using Mesh.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.AspNetCore.Tests.Identity;

/// <summary>The mode a new connection gets, read from the options in force through the real options and reload machinery.</summary>
public sealed class MtlsModesTests
{
    [Fact]
    public void A_reloaded_mode_applies_and_a_refused_reload_keeps_the_last_good_mode()
    {
        var configuration = new ReloadableConfiguration(Settings(("Mesh:Services:payments:Mtls:Mode", "Strict")));
        using var provider = Server(configuration);
        var modes = provider.GetRequiredService<MtlsModes>();
        Assert.Equal(MtlsMode.Strict, modes.Current);

        configuration.Replace(Settings(("Mesh:Services:payments:Mtls:Mode", "permissive")));
        Assert.Equal(MtlsMode.Permissive, modes.Current);

        configuration.Replace(Settings(("Mesh:Services:payments:Mtls:Mode", "Strict")));
        Assert.Equal(MtlsMode.Strict, modes.Current);

        // A mode no one knows, or a mistake anywhere else in the section, is refused whole: strict stays.
        configuration.Replace(Settings(("Mesh:Services:payments:Mtls:Mode", "Strictly")));
        Assert.Equal(MtlsMode.Strict, modes.Current);
        configuration.Replace(Settings(("Mesh:Services:payments:Mtls:Mode", "Off"), ("Mesh:Services:payments:Timout", "00:00:01")));
        Assert.Equal(MtlsMode.Strict, modes.Current);

        // An entry without Mtls is the default, permissive.
        configuration.Replace(Settings());
        Assert.Equal(MtlsMode.Permissive, modes.Current);
    }

    [Fact]
    public void A_service_without_a_mode_has_the_mesh_wide_one_and_a_refused_mesh_wide_mode_keeps_the_last_good()
    {
        var configuration = new ReloadableConfiguration(Settings(("Mesh:Mtls:Mode", "Strict")));
        using var provider = Server(configuration);
        var modes = provider.GetRequiredService<MtlsModes>();
        Assert.Equal(MtlsMode.Strict, modes.Current);

        configuration.Replace(Settings(("Mesh:Mtls:Mode", "off")));
        Assert.Equal(MtlsMode.Off, modes.Current);

        configuration.Replace(Settings(("Mesh:Mtls:Mode", "Off"), ("Mesh:Services:payments:Mtls:Mode", "Strict")));
        Assert.Equal(MtlsMode.Strict, modes.Current);

        // A mesh-wide mode no one knows is refused whole, whatever the service says: strict stays.
        configuration.Replace(Settings(("Mesh:Mtls:Mode", "Of"), ("Mesh:Services:payments:Mtls:Mode", "Off")));
        Assert.Equal(MtlsMode.Strict, modes.Current);

        // Neither set: permissive.
        configuration.Replace(Settings());
        Assert.Equal(MtlsMode.Permissive, modes.Current);
    }

    // A server's services over this configuration, as AddMeshServer() registers them.
    private static ServiceProvider Server(ReloadableConfiguration configuration)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Add(configuration).Build());
        services.AddMeshServer();
        return services.BuildServiceProvider();
    }

    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mesh:ServiceName"] = "payments",
            ["Mesh:Services:payments:Endpoints:0"] = "http://127.0.0.1:5001",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }
}
