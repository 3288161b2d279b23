using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;

namespace Mesh.Discovery.Dns;

/// <summary>
/// Turns a <see cref="DnsQuery"/> into endpoints with <c>DnsClient</c>, asking the configured server (or the system's)
/// with no cache of its own, as the refresh follows the records' time to live. SRV: the lowest priority group that has
/// an endpoint, each target's addresses from the additional section or looked up, the SRV weight as the endpoint's weight
/// (a group whose weights are all 0 is spread evenly). A/AAAA: every address with the configured port. Answers are
/// bounded: more than <see cref="MaxEndpoints"/> endpoints is a failure, not a truncation.
/// </summary>
internal sealed class DnsResolver
{
    /// <summary>The most endpoints one service may get from DNS.</summary>
    public const int MaxEndpoints = 512;

    private static readonly QueryType[] s_addressTypes = [QueryType.A, QueryType.AAAA];

    private readonly LookupClient _client;

    public DnsResolver(DnsDiscoveryOptions options)
    {
        var server = options.Server is { } configured ? DiscoveryOptionsValidator.ParseServer(configured) : null;
        var lookup = server is null ? new LookupClientOptions() : new LookupClientOptions(server);
        lookup.UseCache = false;
        lookup.Timeout = options.Timeout;
        lookup.Retries = 1;
        lookup.ThrowDnsErrors = false;
        lookup.UseTcpFallback = true;
        _client = new LookupClient(lookup);
    }

    public async Task<DnsAnswer> ResolveAsync(DnsQuery query, CancellationToken cancellationToken)
    {
        try
        {
            return query.IsSrv
                ? await SrvAsync(query, cancellationToken).ConfigureAwait(false)
                : await AddressesAsync(query, cancellationToken).ConfigureAwait(false);
        }
        catch (DnsResponseException ex)
        {
            return DnsAnswer.Failed(ex.Code == DnsResponseCode.ConnectionTimeout ? "no answer in time" : $"{ex.Code}");
        }
        catch (SocketException ex)
        {
            return DnsAnswer.Failed($"socket error {ex.SocketErrorCode}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return DnsAnswer.Failed("no answer in time");
        }
        catch (ArgumentException)
        {
            // A record that makes no endpoint address (what DnsClient read but a URI refuses).
            return DnsAnswer.Failed("an answer holds a record that makes no endpoint address");
        }
    }

    private async Task<DnsAnswer> SrvAsync(DnsQuery query, CancellationToken cancellationToken)
    {
        var response = await _client.QueryAsync(query.Name, QueryType.SRV, QueryClass.IN, cancellationToken).ConfigureAwait(false);
        if (Negative(response) is { } negative)
        {
            return negative;
        }

        var records = response.Answers.SrvRecords().ToList();
        if (records.Count == 0)
        {
            return DnsAnswer.None(NegativeTtl(response), "no SRV records");
        }

        if (records.Count > MaxEndpoints)
        {
            return DnsAnswer.Failed($"{records.Count} SRV records, more than {MaxEndpoints}");
        }

        var ttl = records.Min(r => r.InitialTimeToLive);
        foreach (var group in records.GroupBy(r => r.Priority).OrderBy(g => g.Key))
        {
            var evenly = group.All(r => r.Weight == 0);
            var endpoints = new Dictionary<Uri, int>();
            foreach (var record in group)
            {
                var target = Trim(record.Target.Value);
                if (record.Port == 0 || target.Length == 0)
                {
                    // Target "." says the service is decidedly not offered there.
                    continue;
                }

                var (addresses, addressTtl, failure) = await TargetAddressesAsync(target, response, cancellationToken).ConfigureAwait(false);
                if (failure is not null)
                {
                    return failure;
                }

                ttl = Math.Min(ttl, addressTtl);
                foreach (var address in addresses)
                {
                    var uri = Address(query.Scheme, address, record.Port);
                    endpoints[uri] = endpoints.GetValueOrDefault(uri) + (evenly ? 1 : record.Weight);
                    if (endpoints.Count > MaxEndpoints)
                    {
                        return DnsAnswer.Failed($"more than {MaxEndpoints} endpoints");
                    }
                }
            }

            if (endpoints.Count > 0)
            {
                return DnsAnswer.Found(Endpoints(endpoints), TimeSpan.FromSeconds(ttl));
            }
        }

        return DnsAnswer.None(TimeSpan.FromSeconds(ttl), "no SRV target has an address");
    }

    private async Task<DnsAnswer> AddressesAsync(DnsQuery query, CancellationToken cancellationToken)
    {
        var (addresses, ttl, failure, noDomain) = await LookUpAddressesAsync(query.Name, cancellationToken).ConfigureAwait(false);
        if (failure is not null)
        {
            return failure;
        }

        if (addresses.Count == 0)
        {
            return DnsAnswer.None(TimeSpan.FromSeconds(ttl), noDomain ? "NXDOMAIN" : "no A or AAAA records");
        }

        if (addresses.Count > MaxEndpoints)
        {
            return DnsAnswer.Failed($"{addresses.Count} addresses, more than {MaxEndpoints}");
        }

        var endpoints = new Dictionary<Uri, int>();
        foreach (var address in addresses)
        {
            endpoints[Address(query.Scheme, address, query.Port!.Value)] = 1;
        }

        return DnsAnswer.Found(Endpoints(endpoints), TimeSpan.FromSeconds(ttl));
    }

    /// <summary>A target's addresses: from the SRV answer's additional section when it has them, else looked up.</summary>
    private async Task<(List<IPAddress> Addresses, int Ttl, DnsAnswer? Failure)> TargetAddressesAsync(string target, IDnsQueryResponse response, CancellationToken cancellationToken)
    {
        var addresses = new List<IPAddress>();
        var ttl = int.MaxValue;
        foreach (var record in response.Additionals)
        {
            if (record is AddressRecord address && string.Equals(Trim(record.DomainName.Value), target, StringComparison.OrdinalIgnoreCase))
            {
                addresses.Add(address.Address);
                ttl = Math.Min(ttl, record.InitialTimeToLive);
            }
        }

        if (addresses.Count > 0)
        {
            return (addresses, ttl, null);
        }

        var (found, foundTtl, failure, _) = await LookUpAddressesAsync(target, cancellationToken).ConfigureAwait(false);
        return (found, foundTtl, failure);
    }

    private async Task<(List<IPAddress> Addresses, int Ttl, DnsAnswer? Failure, bool NoDomain)> LookUpAddressesAsync(string name, CancellationToken cancellationToken)
    {
        var nxdomain = false;
        var addresses = new List<IPAddress>();
        var ttl = int.MaxValue;
        foreach (var type in s_addressTypes)
        {
            var response = await _client.QueryAsync(name, type, QueryClass.IN, cancellationToken).ConfigureAwait(false);
            if (Negative(response) is { } negative)
            {
                if (negative.Kind == DnsAnswerKind.Failed)
                {
                    return ([], 0, negative, false);
                }

                ttl = Math.Min(ttl, (int)negative.Ttl.TotalSeconds);
                nxdomain = true;

                // NXDOMAIN: the name has no records of any type.
                break;
            }

            var found = false;
            foreach (var record in response.Answers.OfType<AddressRecord>())
            {
                addresses.Add(record.Address);
                ttl = Math.Min(ttl, record.InitialTimeToLive);
                found = true;
            }

            if (!found)
            {
                ttl = Math.Min(ttl, (int)NegativeTtl(response).TotalSeconds);
            }
        }

        return (addresses, ttl == int.MaxValue ? 0 : ttl, null, nxdomain);
    }

    /// <summary>The answer a response with an error code makes: none for <c>NXDOMAIN</c>, a failure for the rest; <see langword="null"/> without error.</summary>
    private static DnsAnswer? Negative(IDnsQueryResponse response)
    {
        if (response.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
        {
            return DnsAnswer.None(NegativeTtl(response), "NXDOMAIN");
        }

        return response.HasError ? DnsAnswer.Failed(response.Header.ResponseCode.ToString()) : null;
    }

    /// <summary>How long a negative answer holds (RFC 2308: the smaller of the SOA's TTL and its minimum); 0 without a SOA.</summary>
    private static TimeSpan NegativeTtl(IDnsQueryResponse response)
    {
        var soa = response.Authorities.SoaRecords().FirstOrDefault();
        return soa is null ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min((long)soa.InitialTimeToLive, soa.Minimum));
    }

    private static string Trim(string name) => name.TrimEnd('.');

    private static Uri Address(string scheme, IPAddress address, int port)
    {
        var host = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        return new Uri($"{scheme}://{host}:{port}");
    }

    private static MeshEndpoint[] Endpoints(Dictionary<Uri, int> endpoints) =>
        [.. endpoints.OrderBy(e => e.Key.OriginalString, StringComparer.Ordinal).Select(e => new MeshEndpoint(e.Key, weight: e.Value))];
}
