using System.Globalization;
using System.Security.Cryptography;
using Mesh.ControlPlane.Contract;
using Mesh.Identity;
using Meshd.Identity;
using Meshd.Security;
using Meshd.Storage;

namespace Meshd.Api;

/// <summary>
/// The certificate authority's routes: SVIDs for a service (that service's credential, the admin token, or the shared
/// workload token while it is taken), the trust bundle (any valid token), and the authorities of a root rotation (admin).
/// While the CA is off (<c>Meshd:Identity:Enabled</c>) each answers 404 saying so.
/// </summary>
internal static class IdentityEndpoints
{
    private const string SvidExample = "{ \"csr\": \"-----BEGIN CERTIFICATE REQUEST-----\\n…\", \"ttl\": \"01:00:00\" }";
    private const string AuthorityExample = "{ } to generate a new root, or { \"certificatePem\": \"…\", \"keyPem\": \"…\", \"chainPem\": \"…\" } to import one of your PKI";

    public static void Map(IEndpointRouteBuilder v1, TokenStore tokens, AuthThrottle throttle)
    {
        v1.MapPost("/services/{service}/svid", IssueAsync).AddEndpointFilter(new TokenFilter(tokens, TokenRole.Workload, throttle, forService: true));
        v1.MapGet("/identity/bundle", Bundle).AddEndpointFilter(new TokenFilter(tokens, TokenRole.Workload, throttle));
        var authorities = v1.MapGroup("/identity/authorities").AddEndpointFilter(new TokenFilter(tokens, TokenRole.Admin, throttle, reads: true));
        authorities.MapGet(string.Empty, List);
        authorities.MapPost(string.Empty, AddAsync);
        authorities.MapPost("/{id}/activate", ActivateAsync);
        authorities.MapDelete("/{id}", RemoveAsync);
    }

    private static async Task<IResult> IssueAsync(string service, HttpRequest request, IdentityService identity, MeshdSettings settings, MeshdMetrics metrics)
    {
        if (Names.CheckService(service) is { } badService)
        {
            metrics.SvidRefused("service");
            return Problems.Invalid("service", badService);
        }

        service = RegistryEndpoints.Canonical(service);
        if (identity.Authority is not { } ca)
        {
            metrics.SvidRefused("disabled");
            return Off();
        }

        var (body, problem) = await RequestBody.ReadJsonAsync(request, settings.MaxBodyBytes, "application/json").ConfigureAwait(false);
        if (problem is not null)
        {
            metrics.SvidRefused("csr");
            return problem;
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var asked = ContractBody.Read(body, Mesh.ControlPlane.Contract.ControlPlaneJson.Default.SvidRequest, SvidExample, errors, CheckSvidField);
        if (asked is null)
        {
            metrics.SvidRefused(errors.ContainsKey("ttl") && errors.Count == 1 ? "ttl" : "csr");
            return Problems.Invalid(errors, "The SVID request is invalid; nothing was signed.");
        }

        IssuedSvid issued;
        try
        {
            issued = ca.Sign(asked.Csr, service, asked.Ttl);
        }
        catch (CertificateRequestRefusedException ex)
        {
            metrics.SvidRefused("csr");
            return Problems.Invalid("csr", ex.Message);
        }
        catch (ArgumentException ex)
        {
            metrics.SvidRefused("service");
            return Problems.Invalid("service", ex.Message);
        }
        catch (InvalidOperationException ex)
        {
            // The signing certificate is about to expire: an operator must rotate, retrying does not help.
            metrics.SvidRefused("authority");
            return Problems.Status(StatusCodes.Status503ServiceUnavailable, "Service unavailable", ex.Message);
        }

        metrics.SvidIssued(service);
        return Results.Json(
            new SvidDocument(issued.Id.ToString(), issued.ChainPem, X509SvidValidator.NotBefore(issued.Certificate), issued.NotAfter),
            ControlPlaneJson.Default.SvidDocument);
    }

    private static string? CheckSvidField(string name, string value) => name switch
    {
        // A bare number is refused, as everywhere: "1" would be read as a day.
        "ttl" when !value.Contains(':', StringComparison.Ordinal) || !TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var ttl) =>
            $"'{Shorten(value)}' is not a duration such as \"01:00:00\".",
        "ttl" when TimeSpan.Parse(value, CultureInfo.InvariantCulture) <= TimeSpan.Zero => $"'{value}' is not a positive duration.",
        "csr" when value.Length == 0 => "A PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----) is required.",
        _ => null,
    };

    private static IResult Bundle(IdentityService identity) => identity.Authority is { } ca
        ? Results.Json(new TrustBundleDocument(ca.TrustDomain, ca.BundlePem), ControlPlaneJson.Default.TrustBundleDocument)
        : Off();

    private static IResult List(IdentityService identity) => identity.Authority is { } ca
        ? Results.Json(ca.Authorities.Select(Document).ToList(), ControlPlaneJson.Default.IReadOnlyListAuthorityDocument)
        : Off();

    private static async Task<IResult> AddAsync(HttpRequest request, IdentityService identity, MeshdSettings settings)
    {
        if (identity.Authority is not { } ca)
        {
            return Off();
        }

        // No body at all asks for a new root, as an empty object does.
        AuthorityRequest asked = new();
        if (request.ContentLength is not 0)
        {
            var (body, problem) = await RequestBody.ReadJsonAsync(request, settings.MaxBodyBytes, "application/json").ConfigureAwait(false);
            if (problem is not null)
            {
                return problem;
            }

            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            if (ContractBody.Read(body, ControlPlaneJson.Default.AuthorityRequest, AuthorityExample, errors) is not { } read)
            {
                return Problems.Invalid(errors, "The authority request is invalid; nothing was added.");
            }

            asked = read;
        }

        if (asked.CertificatePem is null && (asked.KeyPem ?? asked.ChainPem) is not null)
        {
            return Problems.Invalid("certificatePem", "Required with keyPem and chainPem: the CA certificate they belong to.");
        }

        if (asked.CertificatePem is not null && asked.KeyPem is null)
        {
            return Problems.Invalid("keyPem", "Required with certificatePem: the CA certificate's private key.");
        }

        AuthorityInfo added;
        try
        {
            added = asked.CertificatePem is { } certificate ? ca.AddAuthority(certificate, asked.KeyPem!, asked.ChainPem) : ca.AddRoot();
        }
        catch (Exception ex) when (ex is InvalidDataException or CryptographicException or ArgumentException)
        {
            // The messages name the certificate and what is wrong with it, never the key.
            return Problems.Invalid("certificatePem", ex.Message);
        }
        catch (InvalidOperationException ex)
        {
            return Problems.Status(StatusCodes.Status409Conflict, "Conflict", ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return FilesFailed(ex);
        }

        if (await PublishAsync(request.HttpContext, identity, "The authority was added") is { } failed)
        {
            return failed;
        }

        return Results.Json(Document(added), ControlPlaneJson.Default.AuthorityDocument, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ActivateAsync(string id, HttpContext context, IdentityService identity)
    {
        if (identity.Authority is not { } ca)
        {
            return Off();
        }

        if (CheckId(id) is { } bad)
        {
            return bad;
        }

        AuthorityInfo active;
        try
        {
            active = ca.Activate(id);
        }
        catch (KeyNotFoundException ex)
        {
            return Problems.NotFound(ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return FilesFailed(ex);
        }

        return await PublishAsync(context, identity, $"Authority {active.Id} signs now") ?? Results.Json(Document(active), ControlPlaneJson.Default.AuthorityDocument);
    }

    private static async Task<IResult> RemoveAsync(string id, HttpContext context, IdentityService identity)
    {
        if (identity.Authority is not { } ca)
        {
            return Off();
        }

        if (CheckId(id) is { } bad)
        {
            return bad;
        }

        var force = false;
        if (context.Request.Query.TryGetValue("force", out var forceText))
        {
            if (forceText.Count != 1 || forceText[0] is not ("true" or "false"))
            {
                return Problems.Invalid("force", $"'{Shorten(forceText.ToString())}' is not true or false.");
            }

            force = forceText[0] == "true";
        }

        try
        {
            ca.Remove(id, force);
        }
        catch (KeyNotFoundException ex)
        {
            return Problems.NotFound(ex.Message);
        }
        catch (InvalidOperationException ex)
        {
            return Problems.Status(StatusCodes.Status409Conflict, "Conflict", ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return FilesFailed(ex);
        }

        return await PublishAsync(context, identity, $"Authority {id} was removed") ?? Results.NoContent();
    }

    /// <summary>Puts the changed bundle in the snapshot; null when done, else why not (the change itself is kept and written later).</summary>
    private static async Task<IResult?> PublishAsync(HttpContext context, IdentityService identity, string done)
    {
        try
        {
            await identity.PublishBundleAsync(context.RequestAborted).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is StoreUnavailableException or Registry.ConflictException)
        {
            return Problems.Refused(context, new Refusal(
                StatusCodes.Status503ServiceUnavailable,
                $"{done} and is kept by the CA, but the trust bundle could not be written to the store ({ex.Message}); meshd writes it every 5 s until it can, and snapshots carry it from then on. Do not repeat the request.",
                TimeSpan.FromSeconds(5)));
        }
    }

    private static IResult? CheckId(string id) =>
        id.Length is >= 8 and <= 64 && id.All(char.IsAsciiHexDigit)
            ? null
            : Problems.Invalid("id", $"'{Shorten(id)}' is not an authority id (its SHA-256 fingerprint, 64 hexadecimal digits, or a prefix of at least 8).");

    private static AuthorityDocument Document(AuthorityInfo info) =>
        new(info.Id, info.Subject, info.NotBefore, info.NotAfter, info.IsActive, info.Origin == SigningAuthority.Generated);

    private static IResult Off() => Problems.NotFound("meshd's certificate authority is off: start meshd with Meshd:Identity:Enabled=true to issue SVIDs and serve the trust bundle.");

    private static IResult FilesFailed(Exception ex) =>
        Problems.Status(StatusCodes.Status503ServiceUnavailable, "Service unavailable", $"The CA's files in the data directory could not be written ({ex.Message}); the change was not made.");

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
