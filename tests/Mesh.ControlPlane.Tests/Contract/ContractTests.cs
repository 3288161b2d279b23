using System.Collections;
using System.Globalization;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Mesh.ControlPlane;
using Mesh.ControlPlane.Contract;

namespace Meshd.Tests.Contract;

/// <summary>
/// meshd and its clients speak through one set of documents (Mesh.Client's contract). Every field of every document
/// survives the trip, through the serializer both sides use and through meshd itself: a field added to a document and
/// forgotten by either side fails here.
/// </summary>
public sealed class ContractTests
{
    /// <summary>Every document the serializer is generated for (lists of documents are covered by their element).</summary>
    public static TheoryData<Type> Documents => [.. typeof(ControlPlaneJson).CustomAttributes
        .Where(a => a.AttributeType == typeof(JsonSerializableAttribute))
        .Select(a => (Type)a.ConstructorArguments[0].Value!)
        .Where(t => !t.IsGenericType)];

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_field_of_a_document_survives_the_serializer_both_sides_use(Type type)
    {
        var original = Filled(type, seed: 1);
        var info = ControlPlaneJson.Default.GetTypeInfo(type)!;

        var json = JsonSerializer.Serialize(original, info);
        var read = JsonSerializer.Deserialize(json, info)!;

        AssertSame(original, read, type.Name);
        foreach (var property in info.Properties)
        {
            Assert.Contains($"\"{property.Name}\":", json, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("""{ "services": {} }""", "version")]
    [InlineData("""{ "version": 1 }""", "services")]
    [InlineData("""{ "version": 1, "services": { "a": { "instances": [ { "address": "http://127.0.0.1:1" } ] } } }""", "instanceId")]
    [InlineData("""{ "version": 1, "services": { "a": { "instances": [ { "instanceId": "a-1", "address": null } ] } } }""", "address")]
    public void A_snapshot_missing_a_field_without_default_is_refused_not_read_as_zero(string json, string field)
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(json, ControlPlaneJson.Default.SnapshotDocument));

        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fields_a_document_may_leave_out_take_their_documented_defaults()
    {
        var snapshot = JsonSerializer.Deserialize("""{ "version": 3, "services": { "a": { "instances": [ { "instanceId": "a-1", "address": "http://127.0.0.1:1" } ] }, "b": {} } }""", ControlPlaneJson.Default.SnapshotDocument)!;

        var instance = Assert.Single(snapshot.Services["a"].Instances!);
        Assert.Equal(1, instance.Weight);
        Assert.Null(instance.Zone);
        Assert.Equal(0, snapshot.Services["b"].PolicyVersion);
        Assert.Null(snapshot.Services["b"].Instances);
    }

    [Fact]
    public async Task A_registration_with_every_field_and_a_policy_written_by_meshd_reach_the_client_whole()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();
        var registration = (RegistrationRequest)Filled(typeof(RegistrationRequest), seed: 7) with { Address = "https://127.0.0.1:5007", Identity = "spiffe://mesh.local/svc/inventory" };
        using (var put = await meshd.Workload.PutAsJsonAsync(new Uri("/v1/services/inventory/instances/inv-7", UriKind.Relative), registration, ControlPlaneJson.Default.RegistrationRequest))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, put.StatusCode);
            var lease = (await put.Content.ReadFromJsonAsync(ControlPlaneJson.Default.LeaseDocument))!;
            Assert.Equal("inv-7", lease.InstanceId);
            Assert.True(lease.Ttl > TimeSpan.Zero && lease.ExpiresAt > DateTimeOffset.UnixEpoch);
        }

        using (var policy = await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin", "Retry": { "MaxAttempts": 2 } }"""))
        {
            policy.EnsureSuccessStatusCode();
        }

        using var response = await meshd.Workload.GetAsync(new Uri("/v1/snapshot", UriKind.Relative));
        var body = await response.Content.ReadAsByteArrayAsync();

        // As the client reads it: the contract's document, then what the client applies.
        var document = JsonSerializer.Deserialize(body, ControlPlaneJson.Default.SnapshotDocument)!;
        var service = document.Services["inventory"];
        var instance = Assert.Single(service.Instances!);
        Assert.Equal(new InstanceDocument("inv-7", registration.Address, registration.Zone, registration.Labels, registration.Weight!.Value, registration.Identity), instance with { Labels = registration.Labels });
        Assert.Equal(registration.Labels!.OrderBy(l => l.Key), instance.Labels!.OrderBy(l => l.Key));
        Assert.Equal(1, service.PolicyVersion);
        Assert.True(document.Version > 0);

        // The trust bundle in the snapshot is the one meshd serves, and a client can read its roots.
        var bundle = (await meshd.Workload.GetFromJsonAsync(new Uri("/v1/identity/bundle", UriKind.Relative), ControlPlaneJson.Default.TrustBundleDocument))!;
        Assert.Equal(bundle, document.TrustBundle);
        Assert.Equal("mesh.local", bundle.TrustDomain);
        Assert.Single(Mesh.Identity.TrustBundle.FromPem(bundle.TrustDomain, bundle.RootsPem).GetRoots("mesh.local"));

        var failures = new List<string>();
        var applied = ControlPlaneSnapshot.TryParse(body, failures);
        Assert.Empty(failures);
        var endpoint = Assert.Single(applied!.Instances["inventory"]);
        Assert.Equal(new Uri(registration.Address), endpoint.Address);
        Assert.Equal(registration.Zone, endpoint.Zone);
        Assert.Equal(registration.Weight, endpoint.Weight);
        Assert.Equal(registration.Labels!.OrderBy(l => l.Key), endpoint.Labels.OrderBy(l => l.Key));
        Assert.Equal("RoundRobin", applied.Keys["Mesh:Services:inventory:LoadBalancer"]);
        Assert.Equal("2", applied.Keys["Mesh:Services:inventory:Retry:MaxAttempts"]);
        Assert.Equal(document.Version, applied.Version);
    }

    [Fact]
    public async Task The_identity_documents_meshd_writes_reach_the_client_with_every_field()
    {
        await using var meshd = await TestMeshd.StartWithIdentityAsync();

        using var created = await meshd.Admin.PostAsJsonAsync(new Uri("/v1/credentials", UriKind.Relative), new CredentialRequest("inventory"), ControlPlaneJson.Default.CredentialRequest);
        var credential = (await created.Content.ReadFromJsonAsync(ControlPlaneJson.Default.CredentialDocument))!;
        Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(16, credential.Id.Length);
        Assert.Equal("inventory", credential.Service);
        Assert.True(credential.CreatedAt > DateTimeOffset.UnixEpoch);
        Assert.StartsWith("meshcred.", credential.Token, StringComparison.Ordinal);
        var listed = Assert.Single((await meshd.Admin.GetFromJsonAsync(new Uri("/v1/credentials", UriKind.Relative), ControlPlaneJson.Default.IReadOnlyListCredentialDocument))!);
        Assert.Equal(credential with { Token = null }, listed);

        using var csr = Mesh.Identity.SvidSigningRequest.Create(Mesh.Identity.SpiffeId.ForService("mesh.local", "inventory"));
        using var client = TestMeshd.Client(meshd.Address, credential.Token);
        using var issued = await client.PostAsJsonAsync(new Uri("/v1/services/inventory/svid", UriKind.Relative), new SvidRequest(csr.Pem, TimeSpan.FromHours(2)), ControlPlaneJson.Default.SvidRequest);
        var svid = (await issued.Content.ReadFromJsonAsync(ControlPlaneJson.Default.SvidDocument))!;
        Assert.Equal("spiffe://mesh.local/svc/inventory", svid.SpiffeId);
        Assert.Contains("-----BEGIN CERTIFICATE-----", svid.CertificateChainPem, StringComparison.Ordinal);
        Assert.True(svid.NotBefore < DateTimeOffset.UtcNow && svid.NotAfter > DateTimeOffset.UtcNow.AddHours(1));

        using var added = await meshd.Admin.PostAsJsonAsync(new Uri("/v1/identity/authorities", UriKind.Relative), new AuthorityRequest(), ControlPlaneJson.Default.AuthorityRequest);
        var authority = (await added.Content.ReadFromJsonAsync(ControlPlaneJson.Default.AuthorityDocument))!;
        Assert.Equal(64, authority.Id.Length);
        Assert.Contains("Mesh CA", authority.Subject, StringComparison.Ordinal);
        Assert.True(authority.NotBefore < authority.NotAfter);
        Assert.False(authority.Active);
        Assert.True(authority.Generated);
        var authorities = (await meshd.Admin.GetFromJsonAsync(new Uri("/v1/identity/authorities", UriKind.Relative), ControlPlaneJson.Default.IReadOnlyListAuthorityDocument))!;
        Assert.Equal([true, false], authorities.Select(a => a.Active));
        Assert.Equal(authority, authorities[1]);
    }

    /// <summary>An instance of a contract document with every field set to a value that is not its default.</summary>
    private static object Filled(Type type, int seed)
    {
        var constructor = type.GetConstructors().Single(c => c.GetParameters().Length > 0);
        var arguments = constructor.GetParameters().Select((p, i) => Value(p.ParameterType, p.Name!, seed + i)).ToArray();
        return constructor.Invoke(arguments);
    }

    private static object Value(Type type, string name, int seed)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        var text = seed.ToString(CultureInfo.InvariantCulture);
        return underlying switch
        {
            _ when underlying == typeof(string) => name.Contains("address", StringComparison.OrdinalIgnoreCase) ? $"http://127.0.0.1:{5000 + seed}" : $"{name}-{text}",
            _ when underlying == typeof(long) => (long)(100 + seed),
            _ when underlying == typeof(int) => 10 + seed,
            _ when underlying == typeof(double) => seed + 0.25,
            _ when underlying == typeof(bool) => seed % 2 == 0,
            _ when underlying == typeof(TimeSpan) => TimeSpan.FromSeconds(seed + 1),
            _ when underlying == typeof(DateTimeOffset) => new DateTimeOffset(2026, 12, 1, 10, 0, seed % 60, TimeSpan.Zero),
            _ when underlying == typeof(JsonElement) => JsonDocument.Parse($$"""{ "LoadBalancer": "RoundRobin", "Seed": {{text}} }""").RootElement.Clone(),
            _ when underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>) => Dictionary(underlying, seed),
            _ when underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) => List(underlying, seed),
            _ when underlying.Namespace == typeof(SnapshotDocument).Namespace => Filled(underlying, seed),
            _ => throw new InvalidOperationException($"No test value for a {type} ({name}): teach the contract test this type."),
        };
    }

    private static object Dictionary(Type type, int seed)
    {
        var (key, value) = (type.GetGenericArguments()[0], type.GetGenericArguments()[1]);
        var dictionary = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(key, value))!;
        dictionary[$"k{seed}"] = Value(value, "value", seed);
        dictionary[$"k{seed + 1}"] = Value(value, "value", seed + 1);
        return dictionary;
    }

    private static object List(Type type, int seed)
    {
        var element = type.GetGenericArguments()[0];
        var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element))!;
        list.Add(Value(element, "item", seed));
        list.Add(Value(element, "item", seed + 1));
        return list;
    }

    /// <summary>Deep equality, field by field, naming the first field that differs.</summary>
    private static void AssertSame(object? expected, object? actual, string path)
    {
        switch (expected)
        {
            case null:
                Assert.True(actual is null, $"{path}: expected null, got {actual}");
                return;
            case JsonElement element:
                Assert.True(actual is JsonElement other && JsonElement.DeepEquals(element, other), $"{path}: the JSON differs");
                return;
            case string or long or int or double or bool or TimeSpan or DateTimeOffset:
                Assert.True(Equals(expected, actual), $"{path}: expected {expected}, got {actual}");
                return;
            case IDictionary dictionary:
                var actualDictionary = Assert.IsAssignableFrom<IDictionary>(actual);
                Assert.Equal(dictionary.Count, actualDictionary.Count);
                foreach (DictionaryEntry entry in dictionary)
                {
                    AssertSame(entry.Value, actualDictionary[entry.Key], $"{path}[{entry.Key}]");
                }

                return;
            case IList list:
                var actualList = Assert.IsAssignableFrom<IList>(actual);
                Assert.Equal(list.Count, actualList.Count);
                for (var i = 0; i < list.Count; i++)
                {
                    AssertSame(list[i], actualList[i], $"{path}[{i}]");
                }

                return;
            default:
                Assert.NotNull(actual);
                foreach (var property in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.Name != "EqualityContract"))
                {
                    AssertSame(property.GetValue(expected), property.GetValue(actual), $"{path}.{property.Name}");
                }

                return;
        }
    }
}
