using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mesh.Identity;

/// <summary>Writes the subject alternative name extension of an X.509-SVID: one URI, the SPIFFE ID, byte for byte.</summary>
internal static class SpiffeSan
{
    /// <summary>Creates the extension; critical when the certificate has an empty subject, as RFC 5280 requires.</summary>
    /// <remarks><see cref="SubjectAlternativeNameBuilder"/> is not used: it goes through <see cref="Uri"/>, which adds a '/' to <c>spiffe://td</c>.</remarks>
    public static X509Extension Create(SpiffeId id, bool critical)
    {
        ArgumentNullException.ThrowIfNull(id);
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteCharacterString(UniversalTagNumber.IA5String, id.ToString(), new Asn1Tag(TagClass.ContextSpecific, 6));
        }

        return new X509Extension(new Oid(X509Oids.SubjectAlternativeName, null), writer.Encode(), critical);
    }
}
