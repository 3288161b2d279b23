using System.IO.Compression;
using System.Xml.Linq;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Mesh.Packaging.Tests;

/// <summary>
/// The packages on their own: packed into a folder of their own, then used by a new console project outside the
/// solution, by package reference only, against a real server on loopback.
/// </summary>
public sealed class PackageConsumptionTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("mesh-packaging-").FullName;

    // A version no earlier run can have left in the NuGet cache.
    private readonly string _version = $"0.1.0-t{DateTime.UtcNow:yyyyMMddHHmmss}{Random.Shared.Next(1000):D3}";

    public void Dispose()
    {
        Directory.Delete(_work, recursive: true);

        // The restore copied the test's own version into the NuGet cache; nothing else will ever use it.
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "mesh.client", "mesh.aspnetcore", "mesh.sdk", "mesh.cli" })
        {
            var folder = Path.Combine(cache, id, _version);
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_new_project_uses_Mesh_Client_from_its_package_alone()
    {
        var feed = Directory.CreateDirectory(Path.Combine(_work, "feed")).FullName;
        foreach (var project in new[] { "src/Mesh.Client/Mesh.Client.csproj", "src/Mesh.AspNetCore/Mesh.AspNetCore.csproj" })
        {
            await RunAsync("dotnet", ["pack", Path.Combine(RepositoryRoot, project), "-c", "Release", "-o", feed, $"-p:Version={_version}"], RepositoryRoot);
        }

        foreach (var id in new[] { "Mesh.Client", "Mesh.AspNetCore" })
        {
            var package = Path.Combine(feed, $"{id}.{_version}.nupkg");
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.{_version}.snupkg")), $"no symbols package for {id}");
            using var zip = ZipFile.OpenRead(package);
            Assert.NotNull(zip.GetEntry("README.md"));
            Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.dll"));
            Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.xml"));
            using var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
            var metadata = XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            Assert.Equal("MIT", metadata.Elements().Single(e => e.Name.LocalName == "license").Value);
            Assert.Equal("git", metadata.Elements().Single(e => e.Name.LocalName == "repository").Attribute("type")?.Value);
            Assert.Equal(_version, metadata.Elements().Single(e => e.Name.LocalName == "version").Value);
        }

        await using var server = await TestApp.StartAsync(_ => { }, app => app.MapGet("/hello/{name}", (string name, HttpContext context) =>
            $"hello {name}, deadline {context.Request.Headers["mesh-timeout"]} ms"));

        var consumer = Directory.CreateDirectory(Path.Combine(_work, "consumer")).FullName;
        await File.WriteAllTextAsync(Path.Combine(consumer, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="mesh-under-test" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        await File.WriteAllTextAsync(Path.Combine(consumer, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Mesh.Client" Version="{_version}" />
                <PackageReference Include="Microsoft.Extensions.Hosting" Version="10.0.12" />
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(consumer, "Program.cs"), """
            using Microsoft.Extensions.DependencyInjection;
            using Microsoft.Extensions.Hosting;

            var builder = Host.CreateApplicationBuilder();
            builder.Configuration["Mesh:Services:greeter:Endpoints:0"] = args[0];
            builder.Services.AddMesh();
            builder.Services.AddHttpClient<Greeter>(c => c.BaseAddress = new Uri("http://greeter")).AddMesh();
            using var host = builder.Build();
            await host.StartAsync();
            Console.WriteLine(await host.Services.GetRequiredService<Greeter>().GreetAsync("mesh"));
            await host.StopAsync();

            sealed class Greeter(HttpClient client)
            {
                public Task<string> GreetAsync(string name) => client.GetStringAsync($"/hello/{name}");
            }
            """);

        var output = await RunAsync("dotnet", ["run", "-c", "Release", "--", server.Address.ToString()], consumer);

        Assert.Matches(@"hello mesh, deadline \d+ ms", output);
    }

    [Fact]
    public async Task Meshctl_installs_as_a_dotnet_tool_from_its_package_and_reads_a_real_meshd()
    {
        var feed = Directory.CreateDirectory(Path.Combine(_work, "feed")).FullName;
        foreach (var project in new[] { "src/Mesh.Sdk/Mesh.Sdk.csproj", "src/Mesh.Cli/Mesh.Cli.csproj" })
        {
            await RunAsync("dotnet", ["pack", Path.Combine(RepositoryRoot, project), "-c", "Release", "-o", feed, $"-p:Version={_version}"], RepositoryRoot);
        }

        using (var sdk = ZipFile.OpenRead(Path.Combine(feed, $"Mesh.Sdk.{_version}.nupkg")))
        {
            Assert.NotNull(sdk.GetEntry("README.md"));
            Assert.NotNull(sdk.GetEntry("lib/net10.0/Mesh.Sdk.dll"));
            Assert.NotNull(sdk.GetEntry("lib/net10.0/Mesh.Sdk.xml"));
            using var nuspec = sdk.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
            var dependencies = XDocument.Load(nuspec).Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")?.Value).ToList();
            Assert.Empty(dependencies);
        }

        using (var cli = ZipFile.OpenRead(Path.Combine(feed, $"Mesh.Cli.{_version}.nupkg")))
        {
            Assert.NotNull(cli.GetEntry("README.md"));
            Assert.NotNull(cli.GetEntry("tools/net10.0/any/meshctl.dll"));
            Assert.NotNull(cli.GetEntry("tools/net10.0/any/Mesh.Sdk.dll"));
            Assert.NotNull(cli.GetEntry("tools/net10.0/any/DotnetToolSettings.xml"));
        }

        var tools = Path.Combine(_work, "tools");
        await RunAsync("dotnet", ["tool", "install", "Mesh.Cli", "--version", _version, "--tool-path", tools, "--add-source", feed], _work);

        await using var meshd = await TestMeshd.StartAsync();
        using (await meshd.PutPolicyAsync("orders", """{ "LoadBalancer": "RoundRobin" }"""))
        {
        }

        var meshctl = Path.Combine(tools, "meshctl");
        var output = await RunAsync(meshctl, ["get", "policies", "--address", meshd.Address.ToString(), "--token", TestMeshd.AdminToken], _work);
        Assert.Equal("SERVICE  VERSION  KEYS\norders   v1       LoadBalancer\n", output);

        var refused = await ChildProcess.RunAsync(meshctl, ["get", "services", "--address", meshd.Address.ToString(), "--token", "wrong"], TimeSpan.FromMinutes(1), _work);
        Assert.Equal(3, refused.ExitCode);
    }

    private static string RepositoryRoot => ChildProcess.RepositoryRoot;

    private static async Task<string> RunAsync(string file, string[] arguments, string directory)
    {
        var run = await ChildProcess.RunAsync(file, arguments, TimeSpan.FromMinutes(4), directory);
        Assert.True(run.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited with {run.ExitCode}\n{run.Output}\n{run.Error}");
        return run.Output;
    }
}
