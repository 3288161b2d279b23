using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Meshd.Tests.Security;

/// <summary>Issue #15, item 4: failed authentications are throttled per client address.</summary>
public sealed class AuthThrottleTests
{
    [Fact]
    public async Task An_address_that_keeps_sending_wrong_tokens_gets_429_while_other_addresses_are_served()
    {
        using var directory = new TempDirectory();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path, ("Meshd:Limits:AuthFailuresPerMinute", "10")), TestMeshd.Clock(time));
        using var attacker = TestMeshd.ClientFrom(meshd.Address, "guess", IPAddress.Parse("127.0.0.2"));
        using var workload = TestMeshd.ClientFrom(meshd.Address, TestMeshd.WorkloadToken, IPAddress.Parse("127.0.0.3"));

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 50; i++)
        {
            using var response = await attacker.GetAsync("/v1/snapshot");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            }
        }

        Assert.Equal(Enumerable.Repeat(HttpStatusCode.Unauthorized, 10).Concat(Enumerable.Repeat(HttpStatusCode.TooManyRequests, 40)), statuses);
        Assert.Equal(HttpStatusCode.OK, (await workload.GetAsync("/v1/snapshot")).StatusCode);

        // The bucket refills with time: one more guess per six seconds.
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(HttpStatusCode.Unauthorized, (await attacker.GetAsync("/v1/snapshot")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await attacker.GetAsync("/v1/snapshot")).StatusCode);
    }
}
