using System.Text.Json;
using Mesh;

// The test service the W3C Trace Context suite (test/test.py of w3c/trace-context) drives: for each instruction it
// posts, call its URL with its arguments. The harness is reached as the mesh service "harness", so every call goes
// out through the mesh's propagator, and every request comes in through AddMeshServer()'s.
//   dotnet run --project samples/Mesh.TraceContextService [--urls http://127.0.0.1:5000] [--harness http://127.0.0.1:7777]
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("Mesh.TraceContextService: the W3C Trace Context suite's test service, meshed.");
    Console.WriteLine("  --urls URL       where it listens (default http://127.0.0.1:5000; the suite posts to URL/test)");
    Console.WriteLine("  --harness URL    the suite's harness (default http://127.0.0.1:7777: HARNESS_HOST, HARNESS_PORT)");
    return;
}

var harness = new Uri(Argument("--harness") ?? "http://127.0.0.1:7777");
var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseUrls(Argument("--urls") ?? "http://127.0.0.1:5000");
builder.Services.AddMeshServer();
builder.Services.AddMesh(o =>
{
    o.ServiceName = "tracecontext-service";
    o.Services["harness"] = new MeshServiceOptions { Endpoints = { new(harness.ToString()) } };
});
builder.Services.AddHttpClient("harness").AddMesh();
var app = builder.Build();
app.MapPost("/test", async (HttpContext context, IHttpClientFactory clients) =>
{
    using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
    var client = clients.CreateClient("harness");
    foreach (var action in body.RootElement.EnumerateArray())
    {
        // Only the harness is called: the instructions name it, and nothing else is a service of this mesh.
        var url = new Uri(action.GetProperty("url").GetString()!);
        if (url.Authority != harness.Authority)
        {
            return Results.BadRequest($"{url} is not the harness {harness}.");
        }

        using var response = await client.PostAsJsonAsync(new Uri("http://harness" + url.PathAndQuery), action.GetProperty("arguments"), context.RequestAborted);
    }

    return Results.Ok();
});
app.Run();

string? Argument(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
