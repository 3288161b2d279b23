using System.Collections.Concurrent;
using System.Net;
using Mesh.AspNetCore.Identity;
using Mesh.Samples.Payments;

// Payments over HTTP. A charge carries an Idempotency-Key: the same key charges once, however often it is retried.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddMeshServer();
builder.Services.AddSingleton<Chaos>();
builder.Services.AddSingleton<ConcurrentDictionary<string, Charge>>();

var app = builder.Build();
app.UseMeshDeadlines();
app.MapMeshEndpoints();
app.MapGet("/healthz", () => Results.Ok(new { status = "ok" }));

app.MapPost("/charges", async (ChargeRequest request, HttpContext context, Chaos chaos, ConcurrentDictionary<string, Charge> charges) =>
{
    if (chaos.Delay > TimeSpan.Zero)
    {
        await Task.Delay(chaos.Delay, context.RequestAborted);
    }

    if (Random.Shared.NextDouble() < chaos.FailureRate)
    {
        return Results.Problem("payments was told to fail this request", statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    var key = context.Request.Headers["Idempotency-Key"].ToString();
    if (string.IsNullOrEmpty(key))
    {
        return Results.Problem("an Idempotency-Key header is required", statusCode: StatusCodes.Status400BadRequest);
    }

    var charge = charges.GetOrAdd(key, static (_, r) => new Charge($"ch_{Guid.NewGuid():N}"[..19], r.OrderId, r.Amount), request);

    // Who asked, as the mesh's mutual TLS proved it (never a header): null over plaintext.
    var caller = context.Features.Get<IMeshCallerFeature>()?.Id.ToString();
    return Results.Ok(new ChargeResult(charge.Id, charge.OrderId, charge.Amount, caller));
});

// Fault injection for demos and tests, from this machine only: { "failureRate": 0.2, "delay": "00:00:00.050" }.
app.MapPost("/admin/chaos", (ChaosRequest request, HttpContext context, Chaos chaos) =>
{
    if (context.Connection.RemoteIpAddress is not { } remote || !IPAddress.IsLoopback(remote))
    {
        return Results.StatusCode(StatusCodes.Status403Forbidden);
    }

    chaos.Set(request.FailureRate, request.Delay);
    return Results.Ok(new ChaosRequest(chaos.FailureRate, chaos.Delay));
});

app.Run();

internal sealed record ChargeRequest(string OrderId, decimal Amount);

internal sealed record Charge(string Id, string OrderId, decimal Amount);

internal sealed record ChargeResult(string Id, string OrderId, decimal Amount, string? Caller);

internal sealed record ChaosRequest(double? FailureRate, TimeSpan? Delay);
