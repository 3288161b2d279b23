namespace Meshd.Tests.Infrastructure;

/// <summary>The tests that share one etcd.</summary>
[CollectionDefinition(Name)]
public sealed class EtcdGroup : ICollectionFixture<EtcdServer>
{
    public const string Name = "etcd";
}
