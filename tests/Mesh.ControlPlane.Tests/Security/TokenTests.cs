using System.Net;
using System.Net.Http.Headers;
using Meshd.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Meshd.Tests.Security;

public sealed class TokenTests
{
    [Fact]
    public void Tokens_are_generated_once_kept_owner_only_and_printed_only_the_first_time()
    {
        using var directory = new TempDirectory();
        var settings = new MeshdSettings { DataDirectory = directory.Path };

        using var first = new StringWriter();
        var generated = TokenStore.Resolve(settings, first);
        Assert.Contains(generated.AdminToken, first.ToString(), StringComparison.Ordinal);
        Assert.Contains(generated.WorkloadToken, first.ToString(), StringComparison.Ordinal);
        Assert.NotEqual(generated.AdminToken, generated.WorkloadToken);
        Assert.Equal(43, generated.AdminToken.Length);

        using var second = new StringWriter();
        var kept = TokenStore.Resolve(settings, second);
        Assert.Equal(generated.AdminToken, kept.AdminToken);
        Assert.Equal(generated.WorkloadToken, kept.WorkloadToken);
        Assert.Empty(second.ToString());

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory.Path, TokenStore.FileName)));
        }

        Assert.Equal(TokenRole.Admin, kept.Identify(generated.AdminToken));
        Assert.Equal(TokenRole.Workload, kept.Identify(generated.WorkloadToken));
        Assert.Equal(TokenRole.None, kept.Identify(generated.AdminToken[..^1]));
        Assert.Equal(TokenRole.None, kept.Identify(null));
    }

    [Fact]
    public async Task No_token_right_or_wrong_reaches_a_log_line()
    {
        using var directory = new TempDirectory();
        var logs = new LogCollector();
        await using var meshd = await TestMeshd.StartAsync(
            TestMeshd.Settings(directory.Path, ("Logging:LogLevel:Default", "Trace")),
            services => services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace)));
        const string Wrong = "wrong-token-that-must-not-be-logged";

        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");
        using var wrong = TestMeshd.Client(meshd.Host.Address, Wrong);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/v1/snapshot")).StatusCode);
        using var basic = TestMeshd.Client(meshd.Host.Address, null);
        basic.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Wrong);
        Assert.Equal(HttpStatusCode.Unauthorized, (await basic.GetAsync("/v1/snapshot")).StatusCode);

        Assert.NotEmpty(logs.Entries);
        foreach (var entry in logs.Entries)
        {
            foreach (var secret in new[] { TestMeshd.AdminToken, TestMeshd.WorkloadToken, Wrong })
            {
                Assert.DoesNotContain(secret, entry.Message, StringComparison.Ordinal);
                Assert.DoesNotContain(secret, entry.Exception?.ToString() ?? string.Empty, StringComparison.Ordinal);
            }
        }
    }
}
