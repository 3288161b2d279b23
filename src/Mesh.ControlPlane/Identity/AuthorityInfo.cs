namespace Meshd.Identity;

/// <summary>One signing authority of the CA, as operators see it: its certificate, and where it stands in a rotation.</summary>
/// <param name="Id">The authority's id: the SHA-256 fingerprint of its signing certificate, lower-case hexadecimal.</param>
/// <param name="Subject">The subject of its signing certificate.</param>
/// <param name="RootFingerprint">The SHA-256 fingerprint of the root it puts in the trust bundle (its own for a generated root).</param>
/// <param name="NotBefore">The start of its signing certificate's validity.</param>
/// <param name="NotAfter">The end of its signing certificate's validity.</param>
/// <param name="Origin"><c>generated</c> when meshd made it, <c>supplied</c> when it came from the user's PKI.</param>
/// <param name="IsActive">Whether new certificates are signed by it; exactly one authority is active.</param>
/// <param name="DeactivatedAt">When it last stopped being the active one; certificates it signed may be valid until this plus the longest TTL.</param>
internal sealed record AuthorityInfo(
    string Id,
    string Subject,
    string RootFingerprint,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    string Origin,
    bool IsActive,
    DateTimeOffset? DeactivatedAt);
