using System.Diagnostics.Metrics;
using Mesh.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.Identity;

/// <summary>What the identity tests share: a container with metrics and collected logs, and SVIDs made by a test CA.</summary>
internal sealed class IdentityTestSupport : IDisposable
{
    private readonly ServiceProvider _services;

    public IdentityTestSupport()
    {
        _services = new ServiceCollection().AddMetrics().AddLogging(logging => logging.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace)).BuildServiceProvider();
        Metrics = new IdentityMetrics(Meters);
    }

    public LogCollector Logs { get; } = new();

    public IMeterFactory Meters => _services.GetRequiredService<IMeterFactory>();

    public IdentityMetrics Metrics { get; }

    public ILogger<T> Logger<T>() => _services.GetRequiredService<ILogger<T>>();

    /// <summary>Makes an SVID for <paramref name="id"/> valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>.</summary>
    public static WorkloadSvid Svid(TestPki ca, string id, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var leaf = ca.Issue(new TestLeaf { Uris = [id], NotBefore = notBefore, NotAfter = notAfter });
        return WorkloadSvid.FromPem(ca.ChainPem(leaf), TestPki.KeyPemOf(leaf), "test");
    }

    public void Dispose() => _services.Dispose();
}
