using System.Text.Json;

namespace Meshd.Identity;

/// <summary>
/// Root rotation, as operator actions: <see cref="AddRoot"/> (or <see cref="AddAuthority"/>) puts a new root in the
/// bundle while the old one still signs; once every workload has the new bundle, <see cref="Activate"/> signs with the new
/// one; once no certificate of the old one can still be valid, <see cref="Remove"/> takes it out of the bundle and
/// destroys its key. Each step is written to disk before it takes effect.
/// </summary>
internal sealed partial class CertificateAuthority
{
    /// <summary>Generates a new root (ECDSA P-256) and adds it to the trust bundle; the active authority keeps signing.</summary>
    public AuthorityInfo AddRoot()
    {
        var authority = SigningAuthority.Generate(_options.TrustDomain, _options.RootLifetime, _time.GetUtcNow(), _random);
        return Add(authority);
    }

    /// <summary>Adds a CA certificate of the user's PKI (with its key, and its chain up to the root) and its root to the trust bundle; the active authority keeps signing.</summary>
    /// <exception cref="InvalidDataException">The PEM is unusable; the message says why.</exception>
    /// <exception cref="InvalidOperationException">The authority is already there.</exception>
    public AuthorityInfo AddAuthority(string certificatePem, string keyPem, string? chainPem)
    {
        ArgumentNullException.ThrowIfNull(certificatePem);
        ArgumentNullException.ThrowIfNull(keyPem);
        var authority = SigningAuthority.FromPem(certificatePem, keyPem, chainPem, SigningAuthority.Supplied, _options.TrustDomain, _time.GetUtcNow(), "the supplied CA certificate");
        return Add(authority);
    }

    /// <summary>Makes <paramref name="id"/> (or an unambiguous prefix of at least 8 characters) the authority that signs; the previous one stays in the bundle.</summary>
    /// <exception cref="KeyNotFoundException">No authority has that id.</exception>
    public AuthorityInfo Activate(string id)
    {
        lock (_changeLock)
        {
            var snapshot = _snapshot;
            var target = Find(snapshot, id);
            if (target.Id == snapshot.Active.Id)
            {
                return Describe(target.Id);
            }

            var now = _time.GetUtcNow();
            var records = snapshot.State.Authorities.Select(r =>
                r.Id == snapshot.Active.Id ? r with { DeactivatedAt = now } : r.Id == target.Id ? r with { DeactivatedAt = null } : r).ToList();
            Commit(snapshot.State with { Active = target.Id, Authorities = records });
            LogActivated(_logger, target.Id, snapshot.Active.Id);
            return Describe(target.Id);
        }
    }

    /// <summary>
    /// Takes <paramref name="id"/> out of the trust bundle and destroys its key. Refused for the active authority, and, unless
    /// <paramref name="force"/>, while a certificate it signed may still be valid (until it stopped signing plus MaxTtl).
    /// </summary>
    /// <exception cref="KeyNotFoundException">No authority has that id.</exception>
    /// <exception cref="InvalidOperationException">It is the active authority, or its certificates may still be in use.</exception>
    public void Remove(string id, bool force = false)
    {
        lock (_changeLock)
        {
            var snapshot = _snapshot;
            var target = Find(snapshot, id);
            if (target.Id == snapshot.Active.Id)
            {
                throw new InvalidOperationException($"The authority {target.Id} is the one that signs; activate another before removing it.");
            }

            var record = snapshot.State.Authorities.Single(r => r.Id == target.Id);
            var lastValid = record.DeactivatedAt + _options.MaxTtl;
            if (!force && lastValid > _time.GetUtcNow())
            {
                throw new InvalidOperationException(
                    $"Certificates signed by the authority {target.Id} may be valid until {Mesh.Identity.X509SvidValidator.Format(lastValid.Value)}; removing its root now would break them. Wait until then, or force it once every workload has renewed.");
            }

            Commit(snapshot.State with { Authorities = [.. snapshot.State.Authorities.Where(r => r.Id != target.Id)] });
            Directory.Delete(Path.Combine(_directory, AuthoritiesDirectory, target.Id), recursive: true);
            LogRemoved(_logger, target.Id, force);
        }
    }

    private AuthorityInfo Add(SigningAuthority authority)
    {
        lock (_changeLock)
        {
            var snapshot = _snapshot;
            if (snapshot.All.Any(a => a.Id == authority.Id))
            {
                throw new InvalidOperationException($"The authority {authority.Id} is already in the CA.");
            }

            var record = new AuthorityRecord(authority.Id, authority.Origin, _time.GetUtcNow(), null);
            Commit(snapshot.State with { Authorities = [.. snapshot.State.Authorities, record] }, authority);
            LogAdded(_logger, authority.Origin, authority.Id, authority.Certificate.Subject, authority.NotAfter);
            return Describe(authority.Id);
        }
    }

    // The authority's files first, then the state that lists it: a crash in between leaves an unlisted directory, removed at the next start.
    private void Commit(CertificateAuthorityState state, SigningAuthority? added = null)
    {
        var authorities = _snapshot.All.Where(a => state.Authorities.Any(r => r.Id == a.Id)).ToList();
        if (added is not null)
        {
            added.Save(Path.Combine(_directory, AuthoritiesDirectory, added.Id));
            if (!authorities.Contains(added))
            {
                authorities.Add(added);
            }
        }

        var next = Snapshot.Create(state, authorities, _options.TrustDomain);
        CaFiles.Write(Path.Combine(_directory, StateFile), JsonSerializer.Serialize(state, CertificateAuthorityJson.Default.CertificateAuthorityState), secret: false);
        _snapshot = next;
    }

    private AuthorityInfo Describe(string id) => _snapshot.Describe().Single(a => a.Id == id);

    private static SigningAuthority Find(Snapshot snapshot, string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var exact = snapshot.All.FirstOrDefault(a => a.Id == id);
        if (exact is not null)
        {
            return exact;
        }

        var matches = id.Length >= 8 ? snapshot.All.Where(a => a.Id.StartsWith(id, StringComparison.OrdinalIgnoreCase)).ToList() : [];
        return matches.Count == 1
            ? matches[0]
            : throw new KeyNotFoundException(matches.Count > 1
                ? $"'{id}' names more than one authority; give more of the id."
                : $"No authority of the CA has the id '{id}' (known: {string.Join(", ", snapshot.All.Select(a => a.Id))}).");
    }
}
