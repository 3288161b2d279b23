using System.Net;

namespace Mesh.Discovery;

/// <summary>Validates the discovery settings, mesh-wide and per service, for the mesh's one validator; each failure names its field.</summary>
internal static class DiscoveryOptionsValidator
{
    /// <summary>The longest etcd key prefix taken.</summary>
    internal const int MaxPrefix = 256;

    /// <summary>The source a service takes its endpoints from: its own, else <c>config</c> when it has endpoints, else the mesh-wide default; <see langword="null"/> for the default order.</summary>
    internal static string? EffectiveSource(MeshDiscoveryOptions mesh, MeshServiceOptions service) =>
        service.Discovery.Source ?? (service.Endpoints.Count > 0 ? DiscoverySourceNames.Config : mesh.Source);

    /// <summary>Validates <c>Mesh:Discovery</c> and every service's <c>Discovery</c>.</summary>
    public static void Validate(MeshOptions options, string section, List<string> failures)
    {
        var path = $"{section}:Discovery";
        var discovery = options.Discovery;
        if (discovery.Source is { } source && !DiscoverySourceNames.IsKnown(source))
        {
            failures.Add($"{path}:Source: '{source}' is not a discovery source (known: {string.Join(", ", DiscoverySourceNames.All)}).");
        }

        ValidateDns(discovery.Dns, $"{path}:Dns", failures);
        ValidateEtcd(discovery.Etcd, $"{path}:Etcd", failures);
        ValidateConsul(discovery.Consul, $"{path}:Consul", failures);
        ValidateKubernetes(discovery.Kubernetes, $"{path}:Kubernetes", failures);

        var usesEtcd = false;
        var usesKubernetes = string.Equals(discovery.Source, DiscoverySourceNames.Kubernetes, StringComparison.OrdinalIgnoreCase);
        var usesMeshd = false;
        foreach (var (name, service) in options.Services)
        {
            if (service is null)
            {
                continue;
            }

            ValidateService(name, service, $"{section}:Services:{name}:Discovery", failures);
            var effective = EffectiveSource(discovery, service);
            usesEtcd |= string.Equals(effective, DiscoverySourceNames.Etcd, StringComparison.OrdinalIgnoreCase);
            usesMeshd |= string.Equals(effective, DiscoverySourceNames.Meshd, StringComparison.OrdinalIgnoreCase);
            usesKubernetes |= string.Equals(effective, DiscoverySourceNames.Kubernetes, StringComparison.OrdinalIgnoreCase);
        }

        usesEtcd |= string.Equals(discovery.Source, DiscoverySourceNames.Etcd, StringComparison.OrdinalIgnoreCase);
        if (usesEtcd && discovery.Etcd.Endpoints.Count == 0)
        {
            failures.Add($"{path}:Etcd:Endpoints: the etcd source is in use but no etcd endpoint is set.");
        }

        if (usesKubernetes && discovery.Kubernetes.Kubeconfig is null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST")))
        {
            failures.Add($"{path}:Kubernetes:Kubeconfig: the kubernetes source is in use outside a cluster (KUBERNETES_SERVICE_HOST is not set) and no kubeconfig file is set.");
        }

        if ((usesMeshd || string.Equals(discovery.Source, DiscoverySourceNames.Meshd, StringComparison.OrdinalIgnoreCase)) && !options.ControlPlane.IsEnabled)
        {
            failures.Add($"{path}:Source: 'meshd' needs the control plane: set {section}:ControlPlane:Address.");
        }
    }

    private static void ValidateService(string serviceName, MeshServiceOptions service, string path, List<string> failures)
    {
        var discovery = service.Discovery;
        if (discovery.Source is { } source)
        {
            if (!DiscoverySourceNames.IsKnown(source))
            {
                failures.Add($"{path}:Source: '{source}' is not a discovery source for service '{serviceName}' (known: {string.Join(", ", DiscoverySourceNames.All)}).");
            }
            else if (service.Endpoints.Count > 0 && !string.Equals(source, DiscoverySourceNames.Config, StringComparison.OrdinalIgnoreCase))
            {
                failures.Add($"{path}:Source: service '{serviceName}' takes its endpoints from '{source}' but also lists Endpoints; remove one of the two.");
            }
        }

        if (discovery.Name is { } name && !IsDnsName(name))
        {
            var shown = name.Length <= 253 && !name.Any(char.IsControl) ? $"'{name}'" : "the name";
            failures.Add($"{path}:Name: {shown} is not a valid name for service '{serviceName}' (dot-separated labels of letters, digits, '-' and '_', each 1 to 63 characters, 253 in all).");
        }

        if (discovery.PortName is { } portName && !IsPortName(portName))
        {
            failures.Add($"{path}:PortName: {ShownLabel(portName)} is not a port name for service '{serviceName}' (1 to 15 lower-case letters, digits and '-', with a letter).");
        }

        if (discovery.Namespace is { } ns && !IsDnsLabel(ns))
        {
            failures.Add($"{path}:Namespace: {ShownLabel(ns)} is not a namespace for service '{serviceName}' (a DNS label: 1 to 63 lower-case letters, digits and '-').");
        }

        if (discovery.Port is { } port && port is < 1 or > 65535)
        {
            failures.Add($"{path}:Port: {port} is out of range for service '{serviceName}' (1 to 65535).");
        }

        if (discovery.Tag is { } tag && (tag.Length is 0 or > MaxConsulText || tag.Any(char.IsControl)))
        {
            failures.Add($"{path}:Tag: the tag is not 1 to {MaxConsulText} printable characters (service '{serviceName}').");
        }

        if (!string.Equals(discovery.Scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase) && !string.Equals(discovery.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"{path}:Scheme: '{discovery.Scheme}' is not http or https (service '{serviceName}').");
        }
    }

    private static void ValidateKubernetes(KubernetesDiscoveryOptions kubernetes, string path, List<string> failures)
    {
        if (kubernetes.Kubeconfig is { } kubeconfig && (kubeconfig.Length is 0 or > 4096 || kubeconfig.Any(char.IsControl) || !File.Exists(kubeconfig)))
        {
            var shown = kubeconfig.Length <= 4096 && !kubeconfig.Any(char.IsControl) ? $"'{kubeconfig}'" : "the path";
            failures.Add($"{path}:Kubeconfig: {shown} is not a readable file.");
        }

        if (!IsDnsLabel(kubernetes.Namespace))
        {
            failures.Add($"{path}:Namespace: {ShownLabel(kubernetes.Namespace)} is not a namespace (a DNS label: 1 to 63 lower-case letters, digits and '-').");
        }

        if (!string.Equals(kubernetes.Scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase) && !string.Equals(kubernetes.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"{path}:Scheme: {ShownLabel(kubernetes.Scheme)} is not http or https.");
        }
    }

    /// <summary>Whether <paramref name="value"/> is a DNS label as Kubernetes names namespaces: lower-case letters, digits and '-', 1 to 63.</summary>
    internal static bool IsDnsLabel(string? value) =>
        value is { Length: >= 1 and <= 63 } && value[0] != '-' && value[^1] != '-' && value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    /// <summary>Whether <paramref name="value"/> is a port name as Kubernetes takes it: 1 to 15 lower-case letters, digits and '-', with a letter.</summary>
    internal static bool IsPortName(string? value) =>
        value is { Length: >= 1 and <= 15 } && value[0] != '-' && value[^1] != '-' && !value.Contains("--", StringComparison.Ordinal)
            && value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') && value.Any(char.IsAsciiLetterLower);

    private static string ShownLabel(string? value) => value is null ? "nothing" : value.Length <= 253 && !value.Any(char.IsControl) ? $"'{value}'" : "the value";

    private static void ValidateDns(DnsDiscoveryOptions dns, string path, List<string> failures)
    {
        if (dns.Server is { } server && ParseServer(server) is null)
        {
            failures.Add($"{path}:Server: '{server}' is not an IP address with an optional port (such as 10.96.0.10 or 127.0.0.1:5353).");
        }

        if (dns.MaxRefresh <= TimeSpan.Zero || dns.MaxRefresh > TimeSpan.FromDays(1))
        {
            failures.Add($"{path}:MaxRefresh: {Format(dns.MaxRefresh)} is out of range (more than 0, at most 1 day).");
        }

        if (dns.MinRefresh < TimeSpan.FromMilliseconds(100) || dns.MinRefresh > dns.MaxRefresh)
        {
            failures.Add($"{path}:MinRefresh: {Format(dns.MinRefresh)} is out of range (at least 100 ms, at most MaxRefresh).");
        }

        if (dns.Timeout < TimeSpan.FromMilliseconds(100) || dns.Timeout > TimeSpan.FromSeconds(30))
        {
            failures.Add($"{path}:Timeout: {Format(dns.Timeout)} is out of range (100 ms to 30 seconds).");
        }
    }

    private static void ValidateEtcd(EtcdDiscoveryOptions etcd, string path, List<string> failures)
    {
        var signsIn = etcd.Username is not null || etcd.Password is not null;
        for (var i = 0; i < etcd.Endpoints.Count; i++)
        {
            var endpoint = etcd.Endpoints[i];
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || uri.AbsolutePath != "/" || uri.Query.Length != 0 || uri.Fragment.Length != 0 || uri.UserInfo.Length != 0)
            {
                failures.Add($"{path}:Endpoints:{i}: '{endpoint}' is not an absolute http or https URI without path, query, fragment or user info.");
            }
            else if (signsIn && uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback)
            {
                failures.Add($"{path}:Endpoints:{i}: '{endpoint}' is plain http to another machine, and the source signs in with a password (Username, Password): use https.");
            }
        }

        if ((etcd.Username is null) != (etcd.Password is null) || etcd.Username?.Length is 0 or > MaxEtcdCredential || etcd.Password?.Length is 0 or > MaxEtcdCredential)
        {
            failures.Add($"{path}:Username: a user name and a password go together, each 1 to {MaxEtcdCredential} characters (Username, Password).");
        }

        if ((etcd.ClientCertificateFile is null) != (etcd.ClientKeyFile is null))
        {
            failures.Add($"{path}:ClientCertificateFile: a client certificate and its key go together (ClientCertificateFile, ClientKeyFile).");
        }

        var missing = false;
        foreach (var (name, file) in new[] { ("CaFile", etcd.CaFile), ("ClientCertificateFile", etcd.ClientCertificateFile), ("ClientKeyFile", etcd.ClientKeyFile) })
        {
            if (file is not null && !File.Exists(file))
            {
                failures.Add($"{path}:{name}: the file '{file}' does not exist.");
                missing = true;
            }
        }

        if (!missing)
        {
            if (etcd.CaFile is { } ca)
            {
                ReadsAsPem(
                    () =>
                    {
                        var roots = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
                        roots.ImportFromPemFile(ca);
                        var count = roots.Count;
                        roots.ToList().ForEach(root => root.Dispose());
                        if (count == 0)
                        {
                            throw new InvalidDataException($"'{ca}' holds no PEM certificate.");
                        }
                    },
                    $"{path}:CaFile",
                    failures);
            }

            if (etcd is { ClientCertificateFile: { } certificate, ClientKeyFile: { } key })
            {
                ReadsAsPem(() => System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certificate, key).Dispose(), $"{path}:ClientCertificateFile", failures);
            }
        }

        var prefix = etcd.Prefix;
        if (prefix is null || prefix.Length is < 2 or > MaxPrefix || prefix[0] != '/' || prefix[^1] == '/' || prefix.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            var shown = prefix is { Length: <= MaxPrefix } && !prefix.Any(char.IsControl) ? $"'{prefix}'" : "the prefix";
            failures.Add($"{path}:Prefix: {shown} is not a key prefix (it starts with '/', does not end with '/', has no white space, at most {MaxPrefix} characters).");
        }
    }

    /// <summary>The longest etcd user name or password taken.</summary>
    internal const int MaxEtcdCredential = 256;

    // Loads what a file holds once, at start, so a file that is not what its setting says fails there, naming it.
    private static void ReadsAsPem(Action load, string field, List<string> failures)
    {
        try
        {
            load();
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or InvalidDataException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            failures.Add($"{field}: cannot be read as PEM: {ex.Message}");
        }
    }

    /// <summary>The longest Consul tag, datacenter or token taken.</summary>
    internal const int MaxConsulText = 256;

    private static void ValidateConsul(ConsulDiscoveryOptions consul, string path, List<string> failures)
    {
        if (!Uri.TryCreate(consul.Address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || uri.AbsolutePath != "/" || uri.Query.Length != 0 || uri.Fragment.Length != 0 || uri.UserInfo.Length != 0)
        {
            var shown = consul.Address is { Length: <= 512 } a && !a.Any(char.IsControl) ? $"'{a}'" : "the address";
            failures.Add($"{path}:Address: {shown} is not an absolute http or https URI without path, query, fragment or user info.");
        }

        if (consul.Datacenter is { } dc && (dc.Length is 0 or > MaxConsulText || !dc.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            failures.Add($"{path}:Datacenter: the datacenter is not 1 to {MaxConsulText} letters, digits, '-', '_' or '.'.");
        }

        // The token is never repeated, only what is wrong with it.
        if (consul.Token is { } token && (token.Length is 0 or > MaxConsulText || token.Any(c => c is < '!' or > '~')))
        {
            failures.Add($"{path}:Token: the token is not 1 to {MaxConsulText} printable ASCII characters without spaces.");
        }

        if (consul.Wait < TimeSpan.FromSeconds(1) || consul.Wait > TimeSpan.FromMinutes(10) || consul.Wait.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            failures.Add($"{path}:Wait: {Format(consul.Wait)} is out of range (whole seconds, 1 second to 10 minutes).");
        }

        if (consul.MinInterval < TimeSpan.FromMilliseconds(10) || consul.MinInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{path}:MinInterval: {Format(consul.MinInterval)} is out of range (10 ms to 1 minute).");
        }
    }

    /// <summary>Parses <c>ip</c>, <c>ip:port</c> or <c>[ipv6]:port</c>; port 53 when none is given.</summary>
    internal static IPEndPoint? ParseServer(string server)
    {
        if (IPAddress.TryParse(server, out var address))
        {
            return new IPEndPoint(address, 53);
        }

        return IPEndPoint.TryParse(server, out var endpoint) && endpoint.Port != 0 ? endpoint : null;
    }

    /// <summary>Whether <paramref name="name"/> is a DNS name: labels of letters, digits, '-' and '_' (as in SRV names), a trailing dot allowed.</summary>
    internal static bool IsDnsName(string name)
    {
        var trimmed = name.EndsWith('.') ? name[..^1] : name;
        if (trimmed.Length is 0 or > 253)
        {
            return false;
        }

        foreach (var label in trimmed.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-' || !label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    private static string Format(TimeSpan value) => value.ToString("c", System.Globalization.CultureInfo.InvariantCulture);
}
