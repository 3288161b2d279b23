using Mesh.Identity;

namespace Mesh.Client.Tests.Identity;

/// <summary>The SPIFFE ID corpus: each valid and each invalid form the standard names, one test case each.</summary>
public sealed class SpiffeIdTests
{
    public static TheoryData<string, string, string> Valid => new()
    {
        { "spiffe://mesh.local/svc/payments", "mesh.local", "/svc/payments" },
        { "spiffe://example.org", "example.org", string.Empty },
        { "spiffe://td/a/b/c", "td", "/a/b/c" },
        { "spiffe://under_score-dash.9/Mixed.Case_Path-1", "under_score-dash.9", "/Mixed.Case_Path-1" },
        { "spiffe://10.0.0.1/workload", "10.0.0.1", "/workload" },
        { "spiffe://td/.../a..b/.hidden", "td", "/.../a..b/.hidden" },
    };

    public static TheoryData<string, string> Invalid => new()
    {
        { string.Empty, "empty" },
        { "http://td/svc/a", "scheme must be 'spiffe'" },
        { "SPIFFE://td/svc/a", "scheme must be 'spiffe' in lower case" },
        { "spiffe:/td/svc/a", "scheme must be 'spiffe'" },
        { "spiffe:td", "scheme must be 'spiffe'" },
        { "spiffe://", "trust domain is missing" },
        { "spiffe:///svc/a", "trust domain is missing" },
        { "spiffe://Mesh.Local/svc/a", "must be lower case" },
        { "spiffe://td:8443/svc/a", "must not have a port" },
        { "spiffe://td:/svc/a", "must not have a port" },
        { "spiffe://user@td/svc/a", "must not have user info" },
        { "spiffe://td/svc/a?x=1", "must not have a query" },
        { "spiffe://td?x=1", "must not have a query" },
        { "spiffe://td/svc/a#part", "must not have a fragment" },
        { "spiffe://t%64/svc/a", "trust domain must not hold percent-encoded" },
        { "spiffe://td/svc/a%2fb", "path must not hold percent-encoded" },
        { "spiffe://td/svc//a", "empty segment" },
        { "spiffe://td//", "empty segment" },
        { "spiffe://td/./a", "'.' or '..' segment" },
        { "spiffe://td/a/..", "'.' or '..' segment" },
        { "spiffe://td/svc/a/", "trailing '/'" },
        { "spiffe://td/", "trailing '/'" },
        { "spiffe://td/svc/a b", "only letters, digits" },
        { "spiffe://td/svc/a$b", "only letters, digits" },
        { "spiffe://td/svc/caf\u00e9", "only letters, digits" },
        { "spiffe://[::1]/svc/a", "only lower-case letters, digits" },
        { "spiffe://t d/svc/a", "only lower-case letters, digits" },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void A_valid_ID_parses_into_its_trust_domain_and_path(string text, string trustDomain, string path)
    {
        var id = SpiffeId.Parse(text);

        Assert.Equal(trustDomain, id.TrustDomain);
        Assert.Equal(path, id.Path);
        Assert.Equal(text, id.ToString());
        Assert.True(SpiffeId.TryParse(text, out var again, out var problem));
        Assert.Null(problem);
        Assert.Equal(id, again);
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void An_invalid_ID_is_refused_with_the_reason(string text, string reason)
    {
        Assert.False(SpiffeId.TryParse(text, out var id, out var problem));
        Assert.Null(id);
        Assert.Contains(reason, problem, StringComparison.Ordinal);

        var error = Assert.Throws<FormatException>(() => SpiffeId.Parse(text));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.False(SpiffeId.TryParse(text, out _));
    }

    [Fact]
    public void An_ID_of_exactly_2048_bytes_is_accepted()
    {
        var text = IdOfLength(2048);

        var id = SpiffeId.Parse(text);

        Assert.Equal(2048, id.ToString().Length);
    }

    [Fact]
    public void An_ID_of_2049_bytes_is_refused()
    {
        var text = IdOfLength(2049);

        Assert.False(SpiffeId.TryParse(text, out _, out var problem));
        Assert.Contains("longer than 2048 bytes", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_trust_domain_of_255_bytes_is_accepted_and_256_refused()
    {
        Assert.True(SpiffeId.TryParse($"spiffe://{new string('a', 255)}/x", out _));
        Assert.False(SpiffeId.TryParse($"spiffe://{new string('a', 256)}/x", out _, out var problem));
        Assert.Contains("longer than 255 bytes", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_is_refused()
    {
        Assert.False(SpiffeId.TryParse(null, out _, out var problem));
        Assert.Contains("empty", problem, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => SpiffeId.Parse(null!));
    }

    [Fact]
    public void Equality_is_ordinal_and_the_path_is_case_sensitive()
    {
        var lower = SpiffeId.Parse("spiffe://td/svc/orders");
        var same = SpiffeId.Parse("spiffe://td/svc/orders");
        var upper = SpiffeId.Parse("spiffe://td/svc/Orders");

        Assert.Equal(lower, same);
        Assert.True(lower == same);
        Assert.Equal(lower.GetHashCode(), same.GetHashCode());
        Assert.NotEqual(lower, upper);
        Assert.True(lower != upper);
        Assert.False(lower.Equals(null));
        Assert.False(lower == null);
        Assert.True((SpiffeId?)null == null);
    }

    [Fact]
    public void ForService_makes_the_mesh_identity_of_a_service()
    {
        var id = SpiffeId.ForService("mesh.local", "payments");

        Assert.Equal("spiffe://mesh.local/svc/payments", id.ToString());
        Assert.Equal("mesh.local", id.TrustDomain);
        Assert.Equal("/svc/payments", id.Path);
        Assert.Equal("payments", id.ServiceName);
        Assert.Equal(SpiffeId.Parse("spiffe://mesh.local/svc/payments"), id);
    }

    [Theory]
    [InlineData("mesh.local", "a/b", "serviceName", "only letters, digits")]
    [InlineData("mesh.local", "", "serviceName", "empty segment")]
    [InlineData("mesh.local", "..", "serviceName", "'.' or '..' segment")]
    [InlineData("mesh.local", "pay ments", "serviceName", "only letters, digits")]
    [InlineData("Mesh.Local", "payments", "trustDomain", "lower case")]
    [InlineData("", "payments", "trustDomain", "missing")]
    [InlineData("td:1", "payments", "trustDomain", "port")]
    public void ForService_refuses_what_would_not_be_a_valid_ID(string trustDomain, string service, string parameter, string reason)
    {
        var error = Assert.Throws<ArgumentException>(() => SpiffeId.ForService(trustDomain, service));

        Assert.Equal(parameter, error.ParamName);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ForService_refuses_a_service_name_that_makes_the_ID_too_long()
    {
        var error = Assert.Throws<ArgumentException>(() => SpiffeId.ForService("td", new string('s', 2048)));

        Assert.Contains("longer than 2048 bytes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("spiffe://td/svc/orders", "orders")]
    [InlineData("spiffe://td/svc/orders/extra", null)]
    [InlineData("spiffe://td/ns/orders", null)]
    [InlineData("spiffe://td", null)]
    public void ServiceName_is_read_only_from_the_mesh_form(string text, string? service)
    {
        Assert.Equal(service, SpiffeId.Parse(text).ServiceName);
    }

    private static string IdOfLength(int length)
    {
        // Segments of up to 100 letters after "spiffe://td"; the last one long enough to reach the length exactly.
        const string prefix = "spiffe://td";
        var segments = new List<string>();
        var left = length - prefix.Length;
        while (left > 0)
        {
            var size = Math.Min(100, left - 1);
            if (left - 1 - size == 1)
            {
                size--;
            }

            segments.Add(new string('a', size));
            left -= size + 1;
        }

        var result = prefix + string.Concat(segments.Select(s => "/" + s));
        Assert.Equal(length, result.Length);
        return result;
    }
}
