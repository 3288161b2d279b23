namespace Meshd.Storage;

/// <summary>The key layout, the same in every store.</summary>
internal static class StoreKeys
{
    public const string Instances = "instances/";
    public const string Leases = "leases/";
    public const string Policies = "policies/";
    public const string PolicyHistory = "policy-history/";

    /// <summary>Per-service credentials, one key per credential id; only a hash of each token is stored. Never in a snapshot.</summary>
    public const string Credentials = "credentials/";

    /// <summary>The trust bundle of meshd's CA, as served in every snapshot; absent while the CA is off.</summary>
    public const string TrustBundle = "identity/bundle";

    public static string Instance(string service, string instanceId) => $"{Instances}{service}/{instanceId}";

    public static string Lease(string service, string instanceId) => $"{Leases}{service}/{instanceId}";

    public static string Policy(string service) => Policies + service;

    public static string Credential(string id) => Credentials + id;

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
