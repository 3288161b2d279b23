namespace Mesh.Samples.Orders;

/// <summary>Payments, called by its logical name through the mesh.</summary>
internal sealed class PaymentsClient(HttpClient http)
{
    /// <summary>Charges an order once: the order id is the idempotency key, which also lets the mesh retry the POST.</summary>
    public async Task<Charge?> ChargeAsync(string orderId, decimal amount, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/charges") { Content = JsonContent.Create(new { orderId, amount }) };
        request.Headers.Add("Idempotency-Key", orderId);
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<Charge>(cancellationToken);
    }
}

/// <summary>A charge as payments answers it; <see cref="Caller"/> is the identity payments verified of this service, if any.</summary>
internal sealed record Charge(string Id, string OrderId, decimal Amount, string? Caller);
