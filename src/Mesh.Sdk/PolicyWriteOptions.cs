namespace Mesh.Sdk;

/// <summary>How a policy write is made: against which version, and whether it is only tried.</summary>
/// <example>
/// <code>
/// // What would be stored, or the validator's 400 naming the field; nothing is written.
/// var wouldBe = await meshd.PutPolicyAsync("orders", policy, new PolicyWriteOptions { DryRun = true });
/// </code>
/// </example>
public sealed class PolicyWriteOptions
{
    /// <summary>Gets or sets the version the write expects to replace (sent as <c>If-Match</c>); meshd answers 412 when it is no longer the current one.</summary>
    /// <value><see langword="null"/> by default: the write replaces whatever version is current.</value>
    public long? IfMatch { get; set; }

    /// <summary>Gets or sets whether meshd only validates the write and answers with the document it would store, storing nothing (<c>?dryRun=true</c>).</summary>
    /// <value><see langword="false"/> by default.</value>
    public bool DryRun { get; set; }
}
