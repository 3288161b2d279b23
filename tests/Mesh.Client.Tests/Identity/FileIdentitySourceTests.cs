using Mesh.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Identity;

/// <summary>The files identity source on real files in a temporary directory: read at start, read again on change, bad files refused whole.</summary>
public sealed class FileIdentitySourceTests : IDisposable
{
    private readonly TempDirectory _directory = new("mesh-identity-");
    private readonly TestPki _ca = TestPki.CreateRoot("Files CA", trustDomain: "mesh.local");
    private readonly IdentityTestSupport _support = new();
    private readonly WorkloadCertificate _holder = new(TimeProvider.System);
    private FileIdentitySource? _source;

    private string CertificatePath => Path.Combine(_directory.Path, "svid.pem");

    private string KeyPath => Path.Combine(_directory.Path, "svid_key.pem");

    private string BundlePath => Path.Combine(_directory.Path, "bundle.pem");

    private IEnumerable<LogCollector.Entry> Refusals => _support.Logs.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("refused", StringComparison.Ordinal));

    public void Dispose()
    {
        _source?.Dispose();
        _holder.Dispose();
        _support.Dispose();
        _ca.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public void The_files_are_read_at_start()
    {
        var leaf = WriteSvid(_ca, "spiffe://mesh.local/svc/orders");
        WriteBundle(_ca);

        Assert.True(StartSource().Start());

        var svid = _holder.GetCurrent();
        Assert.Equal("spiffe://mesh.local/svc/orders", svid.Id.ToString());
        Assert.Equal(leaf.SerialNumber, svid.SerialNumber);
        Assert.True(svid.Certificate.HasPrivateKey);
        Assert.Equal(_ca.Certificate.Thumbprint, Assert.Single(_holder.Bundle.GetRoots("mesh.local")).Thumbprint);
        Assert.Contains(_support.Logs.Entries, e => e.Level == LogLevel.Information && e.Message.Contains(CertificatePath, StringComparison.Ordinal));
    }

    [Fact]
    public void A_chain_with_an_intermediate_is_read_and_validated_through_it()
    {
        using var intermediate = _ca.CreateIntermediate("Files Intermediate", trustDomain: "mesh.local");
        WriteSvid(intermediate, "spiffe://mesh.local/svc/orders");
        WriteBundle(_ca);

        Assert.True(StartSource().Start());

        Assert.Equal(intermediate.Certificate.Thumbprint, Assert.Single(_holder.GetCurrent().Intermediates).Thumbprint);
    }

    [Fact]
    public async Task A_renewed_certificate_is_read_when_the_files_change()
    {
        WriteSvid(_ca, "spiffe://mesh.local/svc/orders");
        WriteBundle(_ca);
        var source = StartSource(pollInterval: Timeout.InfiniteTimeSpan);
        Assert.True(source.Start());
        var first = _holder.GetCurrent();
        var changed = _holder.GetChangeToken();

        var renewed = WriteSvid(_ca, "spiffe://mesh.local/svc/orders");

        await Eventually.WaitAsync(() => _holder.GetCurrent().SerialNumber == renewed.SerialNumber, "the renewed certificate to be read");
        Assert.NotEqual(first.SerialNumber, renewed.SerialNumber);
        Assert.True(changed.HasChanged);
    }

    [Fact]
    public async Task A_bad_file_keeps_the_last_good_certificate_and_is_logged_once()
    {
        WriteSvid(_ca, "spiffe://mesh.local/svc/orders");
        WriteBundle(_ca);
        var source = StartSource(pollInterval: Timeout.InfiniteTimeSpan);
        Assert.True(source.Start());
        var good = _holder.GetCurrent();

        File.WriteAllText(CertificatePath, "-----BEGIN CERTIFICATE-----\nMIIBnotacertificate\n-----END CERTIFICATE-----\n");

        await Eventually.WaitAsync(() => Refusals.Any(), "the bad certificate file to be refused");
        Assert.Same(good, _holder.GetCurrent());
        Assert.False(source.TryLoad());
        Assert.False(source.TryLoad());
        var refusal = Assert.Single(Refusals);
        Assert.Contains(CertificatePath, refusal.Message, StringComparison.Ordinal);
        Assert.Contains($"'{good.Id}'", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("stays in use", refusal.Message, StringComparison.Ordinal);

        var fixedLeaf = WriteSvid(_ca, "spiffe://mesh.local/svc/orders");
        await Eventually.WaitAsync(() => _holder.GetCurrent().SerialNumber == fixedLeaf.SerialNumber, "the repaired files to be read");
    }

    [Fact]
    public void A_half_written_pair_whose_key_does_not_match_is_refused_until_the_key_follows()
    {
        WriteSvid(_ca, "spiffe://mesh.local/svc/orders");
        WriteBundle(_ca);
        var source = StartSource(pollInterval: Timeout.InfiniteTimeSpan, debounce: Timeout.InfiniteTimeSpan);
        Assert.True(source.Start());
        var good = _holder.GetCurrent();
        using var next = _ca.Issue(new TestLeaf { Uris = ["spiffe://mesh.local/svc/orders"] });

        File.WriteAllText(CertificatePath, _ca.ChainPem(next));

        Assert.False(source.TryLoad());
        Assert.Same(good, _holder.GetCurrent());
        Assert.Contains("does not match", Assert.Single(Refusals).Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Refusals, e => e.Message.Contains("PRIVATE KEY", StringComparison.Ordinal));

        File.WriteAllText(KeyPath, TestPki.KeyPemOf(next));

        Assert.True(source.TryLoad());
        Assert.Equal(next.SerialNumber, _holder.GetCurrent().SerialNumber);
    }

    [Fact]
    public void A_certificate_that_does_not_chain_to_the_bundle_is_refused()
    {
        using var stranger = TestPki.CreateRoot("Stranger");
        WriteSvid(stranger, "spiffe://mesh.local/svc/orders");
        WriteBundle(_ca);

        Assert.False(StartSource().Start());

        Assert.Null(_holder.Latest);
        Assert.Contains("does not chain to a root of trust domain 'mesh.local'", Assert.Single(Refusals).Message, StringComparison.Ordinal);
        Assert.Contains("there is no certificate to present yet", Assert.Single(Refusals).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_of_another_trust_domain_is_refused_with_the_setting_to_change()
    {
        WriteSvid(_ca, "spiffe://example.org/svc/orders");
        WriteBundle(_ca);

        Assert.False(StartSource().Start());

        var message = Assert.Single(Refusals).Message;
        Assert.Contains("'spiffe://example.org/svc/orders' is not in the configured trust domain 'mesh.local'", message, StringComparison.Ordinal);
        Assert.Contains("Mesh:Identity:TrustDomain", message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_bundle_file_is_refused()
    {
        WriteSvid(_ca, "spiffe://mesh.local/svc/orders");
        File.WriteAllText(BundlePath, string.Empty);

        Assert.False(StartSource().Start());

        Assert.Contains("holds no root certificate", Assert.Single(Refusals).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Files_missing_at_start_are_read_once_they_appear()
    {
        var source = StartSource(pollInterval: Timeout.InfiniteTimeSpan);

        Assert.False(source.Start());
        Assert.Throws<WorkloadCertificateUnavailableException>(_holder.GetCurrent);
        Assert.Single(Refusals);

        WriteBundle(_ca);
        var leaf = WriteSvid(_ca, "spiffe://mesh.local/svc/orders");

        await Eventually.WaitAsync(() => _holder.TryGetCurrent(out var svid) && svid.SerialNumber == leaf.SerialNumber, "the files to be read once written");
    }

    [Fact]
    public async Task A_root_rotation_through_the_files_moves_to_the_new_root()
    {
        using var next = TestPki.CreateRoot("Files CA 2", trustDomain: "mesh.local");
        WriteSvid(_ca, "spiffe://mesh.local/svc/orders");
        WriteBundle(_ca);
        Assert.True(StartSource(pollInterval: Timeout.InfiniteTimeSpan).Start());

        // A → A+B: the bundle first, so peers with certificates of B are trusted before anyone has one.
        WriteBundle(_ca, next);
        await Eventually.WaitAsync(() => _holder.Bundle.GetRoots("mesh.local").Length == 2, "the bundle with both roots");

        // Issue from B, then B only.
        var fromNext = WriteSvid(next, "spiffe://mesh.local/svc/orders");
        await Eventually.WaitAsync(() => _holder.GetCurrent().SerialNumber == fromNext.SerialNumber, "the certificate of the new root");
        WriteBundle(next);
        await Eventually.WaitAsync(() => _holder.Bundle.GetRoots("mesh.local") is [var only] && only.Thumbprint == next.Certificate.Thumbprint, "the bundle with the new root only");
    }

    [Fact]
    public async Task A_Kubernetes_style_symlink_swap_is_seen()
    {
        // kubelet writes a new timestamped directory and renames a '..data' symlink over the old one; the files are symlinks into '..data'.
        var first = Directory.CreateDirectory(Path.Combine(_directory.Path, "..2026_01"));
        WriteSvid(_ca, "spiffe://mesh.local/svc/orders", first.FullName);
        WriteBundle(_ca, first.FullName);
        Directory.CreateSymbolicLink(Path.Combine(_directory.Path, "..data"), first.Name);
        foreach (var name in new[] { "svid.pem", "svid_key.pem", "bundle.pem" })
        {
            File.CreateSymbolicLink(Path.Combine(_directory.Path, name), Path.Combine("..data", name));
        }

        Assert.True(StartSource(pollInterval: Timeout.InfiniteTimeSpan).Start());

        var second = Directory.CreateDirectory(Path.Combine(_directory.Path, "..2026_02"));
        var renewed = WriteSvid(_ca, "spiffe://mesh.local/svc/orders", second.FullName);
        WriteBundle(_ca, second.FullName);
        var temporary = Path.Combine(_directory.Path, "..data_tmp");
        Directory.CreateSymbolicLink(temporary, second.Name);
        // rename(2) over the old link, as kubelet does: one atomic step.
        var moved = await ChildProcess.RunAsync("mv", ["-T", "-f", temporary, Path.Combine(_directory.Path, "..data")], TimeSpan.FromSeconds(30));
        Assert.True(moved.ExitCode == 0, moved.Error);

        await Eventually.WaitAsync(() => _holder.GetCurrent().SerialNumber == renewed.SerialNumber, "the certificate behind the swapped symlink");
    }

    [Fact]
    public void A_change_without_a_notification_is_read_at_the_next_poll()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var holder = new WorkloadCertificate(time);
        WriteSvid(_ca, "spiffe://mesh.local/svc/orders");
        WriteBundle(_ca);
        using var source = new FileIdentitySource(Options(), holder, time, debounce: Timeout.InfiniteTimeSpan, pollInterval: TimeSpan.FromMinutes(1));
        Assert.True(source.Start());

        var renewed = WriteSvid(_ca, "spiffe://mesh.local/svc/orders");
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.NotEqual(renewed.SerialNumber, holder.GetCurrent().SerialNumber);

        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(renewed.SerialNumber, holder.GetCurrent().SerialNumber);
    }

    private FileIdentitySource StartSource(TimeSpan? pollInterval = null, TimeSpan? debounce = null)
    {
        _source = new FileIdentitySource(Options(), _holder, TimeProvider.System, _support.Logger<FileIdentitySource>(), _support.Metrics, debounce ?? TimeSpan.FromMilliseconds(50), pollInterval);
        return _source;
    }

    private IdentityOptions Options() => new() { Source = IdentitySourceNames.Files, CertificatePath = CertificatePath, KeyPath = KeyPath, BundlePath = BundlePath };

    private System.Security.Cryptography.X509Certificates.X509Certificate2 WriteSvid(TestPki ca, string id, string? directory = null)
    {
        var leaf = ca.Issue(new TestLeaf { Uris = [id] });
        File.WriteAllText(Path.Combine(directory ?? _directory.Path, "svid_key.pem"), TestPki.KeyPemOf(leaf));
        File.WriteAllText(Path.Combine(directory ?? _directory.Path, "svid.pem"), ca.ChainPem(leaf));
        return leaf;
    }

    private static void WriteBundle(TestPki root, string directory) => File.WriteAllText(Path.Combine(directory, "bundle.pem"), root.Root.ExportCertificatePem());

    private void WriteBundle(params TestPki[] roots) => File.WriteAllText(BundlePath, string.Concat(roots.Select(r => r.Root.ExportCertificatePem() + "\n")));
}
