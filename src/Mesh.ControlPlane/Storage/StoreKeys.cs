namespace Meshd.Storage;

/// <summary>The key layout, the same in every store.</summary>
internal static class StoreKeys
{
    public const string Instances = "instances/";
    public const string Leases = "leases/";
    public const string Policies = "policies/";
    public const string PolicyHistory = "policy-history/";

    public static string Instance(string service, string instanceId) => $"{Instances}{service}/{instanceId}";

    public static string Lease(string service, string instanceId) => $"{Leases}{service}/{instanceId}";

    public static string Policy(string service) => Policies + service;

    public static string History(string service) => $"{PolicyHistory}{service}/";

    public static string History(string service, long version) => $"{PolicyHistory}{service}/{version:D10}";

    /// <summary>Splits <c>prefix/service/id</c> into its service and id.</summary>
    public static bool TrySplit(string key, string prefix, out string service, out string id)
    {
        var rest = key.AsSpan(prefix.Length);
        var slash = rest.IndexOf('/');
        if (slash <= 0)
        {
            service = rest.ToString();
            id = string.Empty;
            return false;
        }

        service = rest[..slash].ToString();
        id = rest[(slash + 1)..].ToString();
        return true;
    }
}
