namespace Mesh.Demo.Scenes;

/// <summary>One part of the demo: a capability of the mesh, shown on real loopback traffic.</summary>
internal interface IScene
{
    string Title { get; }

    Task RunAsync(DemoOptions options, TextWriter output, CancellationToken cancellationToken);
}
