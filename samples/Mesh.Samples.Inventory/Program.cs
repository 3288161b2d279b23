using Mesh.Grpc.Inventory;
using Mesh.Samples.Inventory;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// The inventory over gRPC. Its version (Inventory:Version) is registered with meshd as the label version=v1 or v2.
var builder = WebApplication.CreateBuilder(args);
var version = builder.Configuration["Inventory:Version"] ?? "v1";
builder.Configuration["Mesh:Server:Labels:version"] = version;

// gRPC without TLS is HTTP/2 with prior knowledge (h2c), which Kestrel serves only on an HTTP/2-only endpoint; so /healthz
// is HTTP/2 too (curl --http2-prior-knowledge).
builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(e => e.Protocols = HttpProtocols.Http2));
builder.Services.AddGrpc(o => o.Interceptors.Add<VerifiedCaller>());
builder.Services.AddMeshServer();
builder.Services.AddSingleton(new InventoryBehavior($"{version}@{Environment.ProcessId}"));

var app = builder.Build();
app.UseMeshDeadlines();
app.MapGrpcService<InventoryService>();
app.MapMeshEndpoints();
app.MapGet("/healthz", () => Results.Ok(new { status = "ok", version }));
app.Run();
