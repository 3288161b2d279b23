using Grpc.Core;

namespace Mesh.Grpc.Inventory;

/// <summary>The inventory service: answers from memory, and can be told to fail or to answer late.</summary>
public sealed class InventoryService(InventoryBehavior behavior) : Inventory.InventoryBase
{
    /// <inheritdoc />
    public override async Task<Item> GetItem(ItemRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        behavior.Seen(context);
        if (behavior.NextAbort())
        {
            context.GetHttpContext().Abort();
            throw new RpcException(new Status(StatusCode.Aborted, $"{behavior.Instance} broke the connection"));
        }

        if (behavior.NextFailure() is { } failure)
        {
            var trailers = new Metadata();
            if (failure.Pushback is { } pushback)
            {
                trailers.Add("grpc-retry-pushback-ms", pushback);
            }

            throw new RpcException(new Status(failure.Status, $"{behavior.Instance} was told to fail"), trailers);
        }

        if (behavior.Delay > TimeSpan.Zero)
        {
            await Task.Delay(behavior.Delay, context.CancellationToken).ConfigureAwait(false);
        }

        return new Item { Sku = request.Sku, Quantity = 42, Instance = behavior.Instance };
    }

    /// <inheritdoc />
    public override async Task ListItems(ListRequest request, IServerStreamWriter<Item> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        behavior.Seen(context);
        for (var i = 0; i < request.Count; i++)
        {
            await responseStream.WriteAsync(new Item { Sku = $"sku-{i}", Quantity = i, Instance = behavior.Instance }, context.CancellationToken).ConfigureAwait(false);
        }
    }
}
