using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Mesh.Discovery.Consul;

/// <summary>
/// Consul's HTTP API, as the <c>consul</c> source uses it: blocking queries of <c>/v1/health/service/{name}</c> over plain
/// HttpClient. The ACL token goes in the <c>X-Consul-Token</c> header only. Answers are bounded
/// (<see cref="ConsulEntry.MaxBodyBytes"/>, <see cref="ConsulEntry.MaxEntries"/>); more is a failure.
/// </summary>
internal sealed class ConsulClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly ConsulDiscoveryOptions _options;
    private readonly TimeProvider _time;

    public ConsulClient(ConsulDiscoveryOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        Address = new Uri(options.Address, UriKind.Absolute);
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2), PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>Gets the agent's address.</summary>
    public Uri Address { get; }

    /// <summary>The query of a service's passing instances, blocking on <paramref name="index"/> (0: answer at once).</summary>
    public Uri HealthUri(string name, string? tag, long index)
    {
        var query = new StringBuilder("/v1/health/service/").Append(Uri.EscapeDataString(name))
            .Append("?passing=true&index=").Append(index.ToString(CultureInfo.InvariantCulture))
            .Append("&wait=").Append(((long)_options.Wait.TotalSeconds).ToString(CultureInfo.InvariantCulture)).Append('s');
        if (_options.Datacenter is { } dc)
        {
            query.Append("&dc=").Append(Uri.EscapeDataString(dc));
        }

        if (tag is not null)
        {
            query.Append("&tag=").Append(Uri.EscapeDataString(tag));
        }

        return new Uri(Address, query.ToString());
    }

    /// <summary>Asks for a service's passing instances: the answer's <c>X-Consul-Index</c> (0 when absent) and its JSON array.</summary>
    public async Task<(long Index, JsonDocument Body)> HealthAsync(string name, string? tag, long index, CancellationToken cancellationToken)
    {
        // Consul adds up to a sixteenth of the wait as jitter; the rest is slack for a slow network.
        using var timeout = new CancellationTokenSource(_options.Wait + (_options.Wait / 16) + TimeSpan.FromSeconds(5), _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using var request = new HttpRequestMessage(HttpMethod.Get, HealthUri(name, tag, index));
        if (_options.Token is { } token)
        {
            request.Headers.Add("X-Consul-Token", token);
        }

        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException(HttpRequestError.Unknown, $"HTTP {(int)response.StatusCode}", statusCode: response.StatusCode);
        }

        long answered = 0;
        if (response.Headers.TryGetValues("X-Consul-Index", out var values) && values.FirstOrDefault() is { } text
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            answered = parsed;
        }

        if (response.Content.Headers.ContentLength > ConsulEntry.MaxBodyBytes)
        {
            throw new InvalidDataException($"the answer is larger than {ConsulEntry.MaxBodyBytes} bytes");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(linked.Token).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, linked.Token).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > ConsulEntry.MaxBodyBytes)
            {
                throw new InvalidDataException($"the answer is larger than {ConsulEntry.MaxBodyBytes} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        var document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), new JsonDocumentOptions { MaxDepth = 16 });
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            document.Dispose();
            throw new InvalidDataException("the answer is not a JSON array");
        }

        if (document.RootElement.GetArrayLength() > ConsulEntry.MaxEntries)
        {
            document.Dispose();
            throw new InvalidDataException($"the answer has more than {ConsulEntry.MaxEntries} instances");
        }

        return (answered, document);
    }

    public void Dispose() => _http.Dispose();
}
