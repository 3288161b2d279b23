using System.ComponentModel;
using System.Globalization;

namespace Mesh.Discovery;

/// <summary>
/// One statically configured endpoint of a service. In configuration, a plain string is read as its
/// <see cref="Address"/>.
/// </summary>
[TypeConverter(typeof(MeshEndpointOptionsConverter))]
public sealed class MeshEndpointOptions
{
    /// <summary>Initializes a new instance with no address.</summary>
    public MeshEndpointOptions()
    {
    }

    /// <summary>Initializes a new instance with the given address.</summary>
    /// <param name="address">An absolute <c>http</c> or <c>https</c> URI with no path, such as <c>http://127.0.0.1:5001</c>.</param>
    public MeshEndpointOptions(string address)
    {
        Address = address;
    }

    /// <summary>Gets or sets the address of the endpoint.</summary>
    /// <value>Required: an absolute <c>http</c> or <c>https</c> URI with no path, query or fragment.</value>
    public string? Address { get; set; }

    /// <summary>Gets or sets the zone (rack, availability zone) the endpoint runs in.</summary>
    /// <value><see langword="null"/> by default.</value>
    public string? Zone { get; set; }

    /// <summary>Gets or sets the share of traffic the endpoint receives relative to the others of its service.</summary>
    /// <value>1 by default; 0 drains the endpoint; negative values are refused.</value>
    public int Weight { get; set; } = 1;

    /// <summary>Gets or sets the identity the endpoint presents over mutual TLS, such as <c>spiffe://mesh.local/svc/inventory</c>.</summary>
    /// <value><see langword="null"/> by default: the endpoint has no mesh identity and is called as its address says.</value>
    public string? Identity { get; set; }

    /// <summary>Gets the labels of the endpoint, such as <c>version=v2</c>.</summary>
    /// <value>Empty by default.</value>
    public IDictionary<string, string> Labels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    private sealed class MeshEndpointOptionsConverter : TypeConverter
    {
        public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) =>
            sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

        public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
            value is string address ? new MeshEndpointOptions(address) : base.ConvertFrom(context, culture, value);
    }
}
