using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Demo;

/// <summary>A small HTTP service on 127.0.0.1 that answers with its name after an optional delay.</summary>
internal sealed class DemoBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private long _requests;
    private int _stopped;
    private int _failNext;

    private DemoBackend(string name, TimeSpan delay, WebApplication app, Uri address)
    {
        Name = name;
        Delay = delay;
        _app = app;
        Address = address;
    }

    public string Name { get; }

    /// <summary>Gets or sets how long the backend waits before answering.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Gets or sets the share of requests answered with 503, from 0 to 1.</summary>
    public double FailureRatio { get; set; }

    /// <summary>Makes the next <paramref name="count"/> requests fail with 503.</summary>
    public void FailNext(int count) => Volatile.Write(ref _failNext, count);

    /// <summary>Gets the number of requests that reached the backend.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    public Uri Address { get; }

    public static async Task<DemoBackend> StartAsync(string name, TimeSpan delay)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        DemoBackend? backend = null;
        app.Run(context => backend!.HandleAsync(context));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        backend = new DemoBackend(name, delay, app, new Uri(address));
        return backend;
    }

    /// <summary>Stops the backend; its port then refuses connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var delay = Delay;
        if (delay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(delay, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        context.Response.Headers["x-backend"] = Name;
#pragma warning disable CA5394 // A demo's failure injection needs no secure randomness.
        if (Interlocked.Decrement(ref _failNext) >= 0 || (FailureRatio > 0 && Random.Shared.NextDouble() < FailureRatio))
#pragma warning restore CA5394
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        await context.Response.WriteAsync(Name, context.RequestAborted);
    }
}
