namespace Mesh.Discovery;

/// <summary>
/// Settings of the <c>kubernetes</c> source, bound from <c>Mesh:Discovery:Kubernetes</c> and read once, at start. A service's
/// endpoints are those of the <c>discovery.k8s.io/v1</c> EndpointSlices labelled <c>kubernetes.io/service-name={Name}</c>
/// in its namespace, listed and then watched.
/// </summary>
public sealed class KubernetesDiscoveryOptions
{
    /// <summary>Gets or sets the path of a kubeconfig file whose current context names the API server and the credentials.</summary>
    /// <value>
    /// <see langword="null"/> by default: the in-cluster configuration (the pod's service account), which needs
    /// <c>KUBERNETES_SERVICE_HOST</c> to be set, as it is in a pod.
    /// </value>
    public string? Kubeconfig { get; set; }

    /// <summary>Gets or sets the namespace of the services that name none in <c>Discovery:Namespace</c>.</summary>
    /// <value><c>default</c> by default; a DNS label.</value>
    public string Namespace { get; set; } = "default";

    /// <summary>Gets or sets the scheme of the addresses made from the slices' endpoints: <c>http</c> or <c>https</c>.</summary>
    /// <value><c>http</c> by default.</value>
    public string Scheme { get; set; } = "http";
}
