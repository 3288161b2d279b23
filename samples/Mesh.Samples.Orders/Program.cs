using Grpc.Core;
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

    if (item.Quantity < order.Quantity)
    {
        return Results.Conflict(new { orderId, status = "out-of-stock" });
    }

    var amount = order.Quantity * 9.99m;
    try
    {
        var charge = await payments.ChargeAsync(orderId, amount, context.RequestAborted);
        return Results.Ok(new OrderResult(orderId, "charged", item.Instance, charge?.Id));
    }
    catch (Exception ex) when (ex is MeshCircuitOpenException or HttpRequestException && !context.RequestAborted.IsCancellationRequested)
    {
        // Payments is down or its circuit is open: take the order and charge it later rather than lose the sale.
        return Results.Accepted(value: new OrderResult(orderId, "payment-pending", item.Instance, null));
    }
});

app.Run();

internal sealed record OrderRequest(string Sku, int Quantity);

internal sealed record OrderResult(string OrderId, string Status, string Inventory, string? ChargeId);
