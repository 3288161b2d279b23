using Grpc.Core;
using Mesh.AspNetCore.Identity;
using Mesh.CircuitBreaking;
using Mesh.Grpc.Inventory;
using Mesh.Samples.Orders;

// Orders over HTTP: stock from inventory (gRPC), then a charge through payments (HTTP), both through the mesh. The
// deadline of the inbound request (the mesh-timeout header the gateway sends) bounds both calls.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddMeshServer();
builder.Services.AddGrpcClient<Inventory.InventoryClient>(o => o.Address = new Uri("http://inventory")).AddMesh();
builder.Services.AddHttpClient<PaymentsClient>(c => c.BaseAddress = new Uri("http://payments")).AddMesh();

var app = builder.Build();
app.UseMeshDeadlines();
app.MapMeshEndpoints();
app.MapGet("/healthz", () => Results.Ok(new { status = "ok" }));

app.MapPost("/orders", async (OrderRequest order, HttpContext context, Inventory.InventoryClient inventory, PaymentsClient payments) =>
{
    var orderId = context.Request.Headers["Idempotency-Key"].FirstOrDefault() ?? Guid.NewGuid().ToString("N");

    // The caller each service of this order verified over mutual TLS (null: none proved), this one's first.
    var callers = new Dictionary<string, string?>(StringComparer.Ordinal) { ["orders"] = context.Features.Get<IMeshCallerFeature>()?.Id.ToString() };
    Item item;
    try
    {
        item = await inventory.GetItemAsync(new ItemRequest { Sku = order.Sku }, cancellationToken: context.RequestAborted);
    }
    catch (RpcException ex)
    {
        // Inventory is the one dependency an order cannot do without.
        return Results.Problem($"inventory: {ex.Status.StatusCode}", statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    callers["inventory"] = item.Caller.Length == 0 ? null : item.Caller;
    if (item.Quantity < order.Quantity)
    {
        return Results.Conflict(new { orderId, status = "out-of-stock", verifiedCallers = callers });
    }

    var amount = order.Quantity * 9.99m;
    try
    {
        var charge = await payments.ChargeAsync(orderId, amount, context.RequestAborted);
        callers["payments"] = charge?.Caller;
        return Results.Ok(new OrderResult(orderId, "charged", item.Instance, charge?.Id, callers));
    }
    catch (Exception ex) when (ex is MeshCircuitOpenException or HttpRequestException && !context.RequestAborted.IsCancellationRequested)
    {
        // Payments is down or its circuit is open: take the order and charge it later rather than lose the sale.
        return Results.Accepted(value: new OrderResult(orderId, "payment-pending", item.Instance, null, callers));
    }
});

app.Run();

internal sealed record OrderRequest(string Sku, int Quantity);

internal sealed record OrderResult(string OrderId, string Status, string Inventory, string? ChargeId, IReadOnlyDictionary<string, string?> VerifiedCallers);
