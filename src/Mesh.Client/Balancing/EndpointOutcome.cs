namespace Mesh.Balancing;

/// <summary>How an attempt on an endpoint ended, as its lease records it.</summary>
internal enum EndpointOutcome
{
    /// <summary>A response below 500 arrived.</summary>
    Success,

    /// <summary>A 5xx response arrived, or the exchange failed after the request was sent.</summary>
    Failure,

    /// <summary>The request never reached the endpoint (connection refused, name or TLS failure).</summary>
    NotSent,

    /// <summary>The caller cancelled; says nothing about the endpoint.</summary>
    Canceled,
}
