using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mesh.ControlPlane.Tests.Identity;
using Mesh.Identity;

namespace Meshd.Tests.Api;

/// <summary>
/// Bad input to the identity routes (SVIDs, registrations with an identity, credentials, authorities): a 4xx problem
/// naming the field, never a 5xx, and nothing stored: the snapshot, the credentials and the authorities stay as they were.
/// </summary>
public sealed class IdentityBadInputTests(IdentityBadInputTests.Meshd meshd) : IClassFixture<IdentityBadInputTests.Meshd>
{
    private const string Svid = "/v1/services/orders/svid";
    private const string Instance = "/v1/services/orders/instances/o-9";
    private const string Credentials = "/v1/credentials";
    private const string Authorities = "/v1/identity/authorities";

    public static TheoryData<string, string, string, string, string, string, int, string?> Cases => new()
    {
        // name, method, path, token (admin or orders' credential), content type, body, status, field named in errors
        { "malformed JSON", "POST", Svid, "orders", "application/json", """{ "csr": """, 400, "$" },
        { "not an object", "POST", Svid, "orders", "application/json", "[1]", 400, "$" },
        { "no csr", "POST", Svid, "orders", "application/json", "{}", 400, "csr" },
        { "csr: a number", "POST", Svid, "orders", "application/json", """{ "csr": 5 }""", 400, "csr" },
        { "csr: null", "POST", Svid, "orders", "application/json", """{ "csr": null }""", 400, "csr" },
        { "csr: an array", "POST", Svid, "orders", "application/json", """{ "csr": [ "x" ] }""", 400, "csr" },
        { "csr: empty", "POST", Svid, "orders", "application/json", """{ "csr": "" }""", 400, "csr" },
        { "csr: not PEM", "POST", Svid, "orders", "application/json", """{ "csr": "hello" }""", 400, "csr" },
        { "csr: a certificate", "POST", Svid, "orders", "application/json", """{ "csr": {certificate} }""", 400, "csr" },
        { "csr: huge", "POST", Svid, "orders", "application/json", """{ "csr": {huge} }""", 400, "csr" },
        { "csr: signature does not verify", "POST", Svid, "orders", "application/json", """{ "csr": {tampered} }""", 400, "csr" },
        { "csr: RSA of 1024 bits", "POST", Svid, "orders", "application/json", """{ "csr": {rsa1024} }""", 400, "csr" },
        { "unknown field", "POST", Svid, "orders", "application/json", """{ "csr": {csr}, "san": "spiffe://mesh.local/svc/payments" }""", 400, "san" },
        { "field in another case", "POST", Svid, "orders", "application/json", """{ "Csr": {csr} }""", 400, "Csr" },
        { "field twice in two cases", "POST", Svid, "orders", "application/json", """{ "csr": {csr}, "CSR": {csr} }""", 400, "CSR" },
        { "ttl: a number", "POST", Svid, "orders", "application/json", """{ "csr": {csr}, "ttl": 3600 }""", 400, "ttl" },
        { "ttl: a bare number in a string", "POST", Svid, "orders", "application/json", """{ "csr": {csr}, "ttl": "3600" }""", 400, "ttl" },
        { "ttl: negative", "POST", Svid, "orders", "application/json", """{ "csr": {csr}, "ttl": "-01:00:00" }""", 400, "ttl" },
        { "ttl: zero", "POST", Svid, "orders", "application/json", """{ "csr": {csr}, "ttl": "00:00:00" }""", 400, "ttl" },
        { "ttl: an object", "POST", Svid, "orders", "application/json", """{ "csr": {csr}, "ttl": { "hours": 1 } }""", 400, "ttl" },
        { "svid: wrong media type", "POST", Svid, "orders", "text/plain", """{ "csr": {csr} }""", 415, null },
        { "svid: oversized body", "POST", Svid, "orders", "application/json", "{ \"csr\": \"" + new string('A', 70_000) + "\" }", 413, null },
        { "svid: bad service name", "POST", "/v1/services/a..b/svid", "admin", "application/json", """{ "csr": {csr} }""", 400, "service" },

        { "identity of another service", "PUT", Instance, "orders", "application/json", """{ "address": "https://127.0.0.1:5001", "identity": "spiffe://mesh.local/svc/payments" }""", 400, "identity" },
        { "identity of another trust domain", "PUT", Instance, "orders", "application/json", """{ "address": "https://127.0.0.1:5001", "identity": "spiffe://example.org/svc/orders" }""", 400, "identity" },
        { "identity in another case", "PUT", Instance, "orders", "application/json", """{ "address": "https://127.0.0.1:5001", "identity": "spiffe://mesh.local/svc/Orders" }""", 400, "identity" },
        { "identity with a trailing slash", "PUT", Instance, "orders", "application/json", """{ "address": "https://127.0.0.1:5001", "identity": "spiffe://mesh.local/svc/orders/" }""", 400, "identity" },
        { "identity not spiffe", "PUT", Instance, "orders", "application/json", """{ "address": "https://127.0.0.1:5001", "identity": "https://mesh.local/svc/orders" }""", 400, "identity" },
        { "identity: a number", "PUT", Instance, "orders", "application/json", """{ "address": "https://127.0.0.1:5001", "identity": 7 }""", 400, "identity" },
        { "identity with an http address", "PUT", Instance, "orders", "application/json", """{ "address": "http://127.0.0.1:5001", "identity": "spiffe://mesh.local/svc/orders" }""", 400, "address" },

        { "credential: no service", "POST", Credentials, "admin", "application/json", "{}", 400, "service" },
        { "credential: bad service", "POST", Credentials, "admin", "application/json", """{ "service": "a..b" }""", 400, "service" },
        { "credential: service a number", "POST", Credentials, "admin", "application/json", """{ "service": 3 }""", 400, "service" },
        { "credential: unknown field", "POST", Credentials, "admin", "application/json", """{ "service": "orders", "ttl": "01:00:00" }""", 400, "ttl" },
        { "credential: not an object", "POST", Credentials, "admin", "application/json", "[]", 400, "$" },
        { "credential: malformed JSON", "POST", Credentials, "admin", "application/json", "{", 400, "$" },
        { "credential: bad id", "DELETE", Credentials + "/not-an-id", "admin", "application/json", string.Empty, 400, "id" },

        { "authority: certificate without key", "POST", Authorities, "admin", "application/json", """{ "certificatePem": {certificate} }""", 400, "keyPem" },
        { "authority: key without certificate", "POST", Authorities, "admin", "application/json", """{ "keyPem": {foreignKey} }""", 400, "certificatePem" },
        { "authority: not PEM", "POST", Authorities, "admin", "application/json", """{ "certificatePem": "x", "keyPem": "y" }""", 400, "certificatePem" },
        { "authority: a CA of another trust domain", "POST", Authorities, "admin", "application/json", """{ "certificatePem": {foreignCa}, "keyPem": {foreignKey} }""", 400, "certificatePem" },
        { "authority: unknown field", "POST", Authorities, "admin", "application/json", """{ "generate": true }""", 400, "generate" },
        { "authority: a number for a PEM", "POST", Authorities, "admin", "application/json", """{ "certificatePem": 1, "keyPem": 2 }""", 400, "certificatePem" },
        { "authority: bad id to activate", "POST", Authorities + "/xyz/activate", "admin", "application/json", string.Empty, 400, "id" },
        { "authority: bad id to remove", "DELETE", Authorities + "/zz", "admin", "application/json", string.Empty, 400, "id" },
        { "authority: force neither true nor false", "DELETE", Authorities + "/0123456789abcdef?force=yes", "admin", "application/json", string.Empty, 400, "force" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_input_gets_a_problem_naming_the_field_and_nothing_is_stored(string name, string method, string path, string token, string contentType, string body, int status, string? field)
    {
        var before = await meshd.StateAsync();
        using var client = token == "admin" ? TestMeshd.Client(meshd.Address, TestMeshd.AdminToken) : TestMeshd.Client(meshd.Address, meshd.OrdersToken);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body.Length > 0)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(meshd.Fill(body))) { Headers = { ContentType = new MediaTypeHeaderValue(contentType) } };
        }

        using var response = await client.SendAsync(request);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"{name}: expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        if (field is not null)
        {
            var errors = JsonNode.Parse(text)!["errors"]!.AsObject();
            Assert.True(errors.ContainsKey(field), $"{name}: errors name {string.Join(", ", errors.Select(e => e.Key))}, not {field}");
        }

        Assert.Equal(before, await meshd.StateAsync());
    }

    /// <summary>One meshd with its CA on for every case, a credential of <c>orders</c>, and the inputs the cases fill in.</summary>
    public sealed class Meshd : IAsyncLifetime
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
        private TestMeshd? _meshd;

        public Uri Address => _meshd!.Address;

        public string OrdersToken { get; private set; } = string.Empty;

        public async Task InitializeAsync()
        {
            _meshd = await TestMeshd.StartWithIdentityAsync();
            (_, OrdersToken) = await _meshd.CreateCredentialAsync("orders");
            await _meshd.PutPolicyAsync("orders", """{ "LoadBalancer": "RoundRobin" }""");

            using var csr = SvidSigningRequest.Create(SpiffeId.ForService("mesh.local", "orders"));
            using var rsa = RSA.Create(1024);
            using var foreign = TestPki.CreateRoot("Foreign Root", trustDomain: "example.org");

            // One bit of the signature's last integer flipped: still well-formed DER, but the signature does not verify.
            var der = Convert.FromBase64String(string.Concat(csr.Pem.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("-----", StringComparison.Ordinal))));
            der[^5] ^= 0x01;
            _values["{csr}"] = csr.Pem;
            _values["{certificate}"] = foreign.CertificatePem;
            _values["{huge}"] = "-----BEGIN CERTIFICATE REQUEST-----\n" + string.Concat(Enumerable.Repeat(new string('A', 64) + "\n", 300)) + "-----END CERTIFICATE REQUEST-----\n";
            _values["{tampered}"] = PemEncoding.WriteString("CERTIFICATE REQUEST", der);
            _values["{rsa1024}"] = CaTestSupport.Csr(rsa);
            _values["{foreignCa}"] = foreign.CertificatePem;
            _values["{foreignKey}"] = foreign.KeyPem;
        }

        /// <summary>The body with each placeholder replaced by its value as a JSON string.</summary>
        public string Fill(string body) => _values.Aggregate(body, (text, value) => text.Replace(value.Key, JsonSerializer.Serialize(value.Value), StringComparison.Ordinal));

        /// <summary>What a refused request must leave as it was: the snapshot, the credentials, the authorities.</summary>
        public async Task<string> StateAsync() =>
            (await _meshd!.SnapshotAsync()).ToJsonString()
            + await _meshd.Admin.GetStringAsync("/v1/credentials")
            + await _meshd.Admin.GetStringAsync("/v1/identity/authorities");

        public async Task DisposeAsync()
        {
            if (_meshd is not null)
            {
                await _meshd.DisposeAsync();
            }
        }
    }
}
