using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Mesh.Discovery.Etcd;

/// <summary>
/// etcd's v3 API through its JSON gateway (<c>/v3/kv/range</c>, <c>/v3/watch</c>) over plain HttpClient, so the client
/// package needs no gRPC stack. Answers are bounded: a range answer of at most <see cref="MaxRangeBytes"/>, a watch
/// message of at most <see cref="MaxMessageBytes"/>; more is a failure. Over https, etcd's certificate is checked against
/// <see cref="EtcdDiscoveryOptions.CaFile"/> when set and a client certificate is presented when configured; with a
/// user name, the gateway signs in (<c>/v3/auth/authenticate</c>), sends the token with each request, and signs in again
/// once when etcd refuses it (etcd drops tokens after a while and on restart).
/// </summary>
internal sealed class EtcdGateway : IDisposable
{
    public const int MaxRangeBytes = 16 * 1024 * 1024;
    public const int MaxMessageBytes = 4 * 1024 * 1024;
    private const int MaxAuthBytes = 64 * 1024;

    private static readonly TimeSpan s_rangeTimeout = TimeSpan.FromSeconds(5);
    private readonly HttpClient _http;
    private readonly Uri[] _endpoints;
    private readonly (string User, string Password)? _signIn;
    private readonly X509Certificate2Collection? _roots;
    private readonly X509Certificate2? _clientCertificate;
    private string? _token;
    private int _current;

    public EtcdGateway(EtcdDiscoveryOptions options)
    {
        _endpoints = [.. options.Endpoints.Select(e => new Uri(e, UriKind.Absolute))];
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2), PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) };
        if (options.CaFile is { } caFile)
        {
            _roots = EtcdCertificates.LoadRoots(caFile);
            handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            handler.SslOptions.CertificateChainPolicy.CustomTrustStore.AddRange(_roots);
        }

        if (options.ClientCertificateFile is { } certificateFile && options.ClientKeyFile is { } keyFile)
        {
            _clientCertificate = EtcdCertificates.LoadClientCertificate(certificateFile, keyFile);
            handler.SslOptions.ClientCertificates = [_clientCertificate];
        }

        if (options.Username is { } user && options.Password is { } password)
        {
            _signIn = (user, password);
        }

        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Gets the endpoint in use.</summary>
    public Uri Current => _endpoints[(_current & int.MaxValue) % _endpoints.Length];

    /// <summary>Moves to the next endpoint, after a failure.</summary>
    public void Next() => Interlocked.Increment(ref _current);

    /// <summary>Reads every key under <paramref name="prefix"/>: the store's revision and the keys with their values.</summary>
    public async Task<(long Revision, List<KeyValuePair<string, byte[]>> Kvs)> RangeAsync(string prefix, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_rangeTimeout);
        using var response = await SendAsync("/v3/kv/range", () => Body(prefix, startRevision: null), timeout.Token).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
        var body = await ReadBoundedAsync(stream, MaxRangeBytes, timeout.Token).ConfigureAwait(false);
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        var revision = Int64(root.GetProperty("header"), "revision");
        var kvs = new List<KeyValuePair<string, byte[]>>();
        if (root.TryGetProperty("kvs", out var items))
        {
            foreach (var kv in items.EnumerateArray())
            {
                kvs.Add(new(Encoding.UTF8.GetString(kv.GetProperty("key").GetBytesFromBase64()), kv.TryGetProperty("value", out var value) ? value.GetBytesFromBase64() : []));
            }
        }

        return (revision, kvs);
    }

    /// <summary>Opens a watch on every key under <paramref name="prefix"/> from <paramref name="startRevision"/>; the caller reads its messages.</summary>
    public async Task<WatchStream> WatchAsync(string prefix, long startRevision, CancellationToken cancellationToken)
    {
        var response = await SendAsync("/v3/watch", () => Body(prefix, startRevision), cancellationToken).ConfigureAwait(false);
        try
        {
            response.EnsureSuccessStatusCode();
            return new WatchStream(response, await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _clientCertificate?.Dispose();
        if (_roots is not null)
        {
            foreach (var root in _roots)
            {
                root.Dispose();
            }
        }
    }

    /// <summary>
    /// A POST of <paramref name="body"/> to <paramref name="path"/> at the current endpoint, with the token when the
    /// gateway signs in: signed in first when it has none, and again once when etcd answers that the token is not valid.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(string path, Func<HttpContent> body, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var token = _signIn is null ? null : Volatile.Read(ref _token) ?? await SignInAsync(cancellationToken).ConfigureAwait(false);
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Current, path)) { Content = body() };
            if (token is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", token);
            }

            var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (token is null || attempt > 0 || response.StatusCode != HttpStatusCode.Unauthorized)
            {
                return response;
            }

            // Dropped by etcd (its token lifetime, or a restart): sign in again, once.
            response.Dispose();
            Interlocked.CompareExchange(ref _token, null, token);
        }
    }

    private async Task<string> SignInAsync(CancellationToken cancellationToken)
    {
        var (user, password) = _signIn!.Value;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("name", user);
            json.WriteString("password", password);
            json.WriteEndObject();
        }

        using var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_rangeTimeout);
        using var response = await _http.PostAsync(new Uri(Current, "/v3/auth/authenticate"), content, timeout.Token).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new EtcdSignInException($"etcd refused to sign in user '{user}' (HTTP {(int)response.StatusCode}): check Mesh:Discovery:Etcd:Username and Password");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
        using var document = JsonDocument.Parse(await ReadBoundedAsync(stream, MaxAuthBytes, timeout.Token).ConfigureAwait(false));
        var token = document.RootElement.TryGetProperty("token", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        if (string.IsNullOrEmpty(token) || token.Length > 4096 || token.Any(c => c < 0x21 || c > 0x7e))
        {
            throw new InvalidDataException("etcd's sign-in answer holds no usable token.");
        }

        Volatile.Write(ref _token, token);
        return token;
    }

    internal static long Int64(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value)
            ? value.ValueKind == JsonValueKind.String ? long.Parse(value.GetString()!, CultureInfo.InvariantCulture) : value.GetInt64()
            : 0;

    /// <summary>The body of a range request, or of a watch's create request when <paramref name="startRevision"/> is set.</summary>
    private static ByteArrayContent Body(string prefix, long? startRevision)
    {
        var key = Encoding.UTF8.GetBytes(prefix);
        var end = (byte[])key.Clone();
        end[^1]++;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (startRevision is not null)
            {
                json.WriteStartObject("create_request");
            }

            json.WriteBase64String("key", key);
            json.WriteBase64String("range_end", end);
            if (startRevision is { } revision)
            {
                json.WriteString("start_revision", revision.ToString(CultureInfo.InvariantCulture));
                json.WriteBoolean("progress_notify", true);
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static async Task<byte[]> ReadBoundedAsync(Stream stream, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new InvalidDataException($"etcd's answer is larger than {limit} bytes.");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>The open stream of a watch: one JSON message per line.</summary>
    internal sealed class WatchStream(HttpResponseMessage response, Stream stream) : IDisposable
    {
        private readonly byte[] _chunk = new byte[16 * 1024];
        private readonly MemoryStream _line = new();
        private int _start;
        private int _end;

        /// <summary>Reads the next message; <see langword="null"/> when etcd ends the stream.</summary>
        public async Task<JsonDocument?> ReadAsync(CancellationToken cancellationToken)
        {
            _line.SetLength(0);
            while (true)
            {
                if (_start == _end)
                {
                    _start = 0;
                    _end = await stream.ReadAsync(_chunk, cancellationToken).ConfigureAwait(false);
                    if (_end == 0)
                    {
                        return null;
                    }
                }

                var newline = Array.IndexOf(_chunk, (byte)'\n', _start, _end - _start);
                var stop = newline < 0 ? _end : newline;
                if (_line.Length + (stop - _start) > MaxMessageBytes)
                {
                    throw new InvalidDataException($"a watch message from etcd is larger than {MaxMessageBytes} bytes.");
                }

                _line.Write(_chunk, _start, stop - _start);
                _start = newline < 0 ? _end : newline + 1;
                if (newline >= 0 && _line.Length > 0)
                {
                    return JsonDocument.Parse(_line.GetBuffer().AsMemory(0, (int)_line.Length));
                }
            }
        }

        public void Dispose()
        {
            stream.Dispose();
            response.Dispose();
            _line.Dispose();
        }
    }
}

/// <summary>etcd refused the configured user name and password; the message names the user, never the password.</summary>
internal sealed class EtcdSignInException(string message) : Exception(message);
