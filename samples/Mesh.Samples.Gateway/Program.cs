using System.Text.Json.Nodes;
using Mesh.AspNetCore.Identity;
using Mesh.Samples.Gateway;

// The public API. Orders is a logical name: the mesh finds its instances in meshd and applies meshd's policy for it.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddMeshServer();
builder.Services.AddHttpClient<OrdersClient>(c => c.BaseAddress = new Uri("http://orders")).AddMesh();
builder.Services.AddRequestTimeouts(o => o.DefaultPolicy = new() { Timeout = TimeSpan.FromSeconds(5) });

var app = builder.Build();
app.UseRequestTimeouts();
app.UseMeshDeadlines();
app.MapMeshEndpoints();
app.MapGet("/healthz", () => Results.Ok(new { status = "ok" }));

// POST /orders { "sku": "sku-1", "quantity": 2 } -> 200 charged, 202 payment pending, 409 out of stock, 503 unavailable.
app.MapPost("/orders", async (HttpRequest request, OrdersClient orders, CancellationToken cancellationToken) =>
{
    using var reader = new StreamReader(request.Body);
    var body = await reader.ReadToEndAsync(cancellationToken);
    var orderId = request.Headers["Idempotency-Key"].FirstOrDefault() ?? $"ord_{Guid.NewGuid():N}";
    var (status, answer) = await orders.PlaceAsync(orderId, body, cancellationToken);

    // Orders' answer lists the caller each service verified over mutual TLS; the gateway adds the one it verified (null: none).
    if (JsonNode.Parse(answer) is JsonObject order && order["verifiedCallers"] is JsonObject callers)
    {
        callers.Insert(0, "gateway", request.HttpContext.Features.Get<IMeshCallerFeature>()?.Id.ToString());
        answer = order.ToJsonString();
    }

    return Results.Content(answer, "application/json", statusCode: status);
});

app.Run();
