namespace Mesh.Samples.Gateway;

/// <summary>Orders, called by its logical name through the mesh.</summary>
internal sealed class OrdersClient(HttpClient http)
{
    /// <summary>
    /// Places an order and hands back orders' answer as it is. The order id travels as the Idempotency-Key, so orders and
    /// payments see one order however often the mesh retries it.
    /// </summary>
    public async Task<(int Status, string Body)> PlaceAsync(string orderId, string body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/orders") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", orderId);
        using var response = await http.SendAsync(request, cancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }
}
