using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Identity;

/// <summary>
/// The <c>files</c> identity source: reads the workload's certificate chain, key and trust bundle from PEM files (written
/// by SPIRE's helper, cert-manager or the user's own PKI) into the <see cref="WorkloadCertificate"/>, and reads them again
/// when they change. Changes are seen by watching the files' directories (which also catches Kubernetes' symlink swaps),
/// debounced so a writer's several steps are read once, and by a slow poll in case a change notification is lost. A set of
/// files that does not make a valid X.509-SVID of the configured trust domain, chained to the bundle (a file half written,
/// a key that does not match), is refused whole: the last good certificate stays, and the problem is logged once.
/// </summary>
internal sealed partial class FileIdentitySource : IWorkloadIdentitySource, IDisposable
{
    internal static readonly TimeSpan DefaultDebounce = TimeSpan.FromMilliseconds(200);
    internal static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMinutes(1);

    private readonly string _certificatePath;
    private readonly string _keyPath;
    private readonly string _bundlePath;
    private readonly string _trustDomain;
    private readonly WorkloadCertificate _holder;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IdentityMetrics? _metrics;
    private readonly X509SvidValidator _validator;
    private readonly TimeSpan _debounce;
    private readonly TimeSpan _pollInterval;
    private readonly Lock _loadLock = new();
    private readonly List<FileSystemWatcher> _watchers = [];
    private ITimer? _debounceTimer;
    private ITimer? _pollTimer;
    private string? _appliedHash;
    private string? _failedHash;
    private bool _disposed;

    public FileIdentitySource(
        IdentityOptions options,
        WorkloadCertificate holder,
        TimeProvider time,
        ILogger<FileIdentitySource>? logger = null,
        IdentityMetrics? metrics = null,
        TimeSpan? debounce = null,
        TimeSpan? pollInterval = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(holder);
        ArgumentNullException.ThrowIfNull(time);
        _certificatePath = Path.GetFullPath(options.CertificatePath ?? throw new ArgumentException("CertificatePath is required with the files source.", nameof(options)));
        _keyPath = Path.GetFullPath(options.KeyPath ?? throw new ArgumentException("KeyPath is required with the files source.", nameof(options)));
        _bundlePath = Path.GetFullPath(options.BundlePath ?? throw new ArgumentException("BundlePath is required with the files source.", nameof(options)));
        _trustDomain = options.TrustDomain;
        _holder = holder;
        _time = time;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = metrics;
        _validator = new X509SvidValidator(time);
        _debounce = debounce ?? DefaultDebounce;
        _pollInterval = pollInterval ?? DefaultPollInterval;
    }

    /// <summary>Reads the files once, then watches them. A failed first read leaves the holder empty (connections fail closed) and is retried on the next change.</summary>
    /// <returns>Whether the first read installed a certificate.</returns>
    public bool Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var loaded = TryLoad();
        _debounceTimer = _time.CreateTimer(static state => ((FileIdentitySource)state!).TryLoad(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        foreach (var directory in new[] { _certificatePath, _keyPath, _bundlePath }.Select(Path.GetDirectoryName).Distinct(StringComparer.Ordinal))
        {
            Watch(directory!);
        }

        if (_pollInterval != Timeout.InfiniteTimeSpan)
        {
            _pollTimer = _time.CreateTimer(static state => ((FileIdentitySource)state!).TryLoad(), this, _pollInterval, _pollInterval);
        }

        return loaded;
    }

    /// <summary>Reads the three files and installs what they hold when it is new and valid.</summary>
    /// <returns>Whether the files now in place are the ones installed (new or unchanged).</returns>
    public bool TryLoad()
    {
        lock (_loadLock)
        {
            if (_disposed)
            {
                return false;
            }

            string certificatePem, keyPem, bundlePem;
            try
            {
                certificatePem = File.ReadAllText(_certificatePath);
                keyPem = File.ReadAllText(_keyPath);
                bundlePem = File.ReadAllText(_bundlePath);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A missing file is a half-finished write or a wrong path; the message names the file.
                Refuse(ex.Message, hash: ex.Message);
                return false;
            }

            var hash = Hash(certificatePem, keyPem, bundlePem);
            if (hash == _appliedHash)
            {
                return true;
            }

            if (hash == _failedHash)
            {
                return false;
            }

            try
            {
                var bundle = TrustBundle.FromPem(_trustDomain, bundlePem, _bundlePath);
                var svid = WorkloadSvid.FromPem(certificatePem, keyPem, $"{_certificatePath} with {_keyPath}");
                if (svid.Id.TrustDomain != _trustDomain)
                {
                    throw new InvalidDataException($"{_certificatePath}: the certificate's SPIFFE ID '{svid.Id}' is not in the configured trust domain '{_trustDomain}' (Mesh:Identity:TrustDomain).");
                }

                var verification = _validator.Validate(svid.Certificate, svid.Intermediates, bundle);
                if (!verification.IsValid)
                {
                    throw new InvalidDataException($"{_certificatePath}: {verification.Problem} (bundle {_bundlePath}).");
                }

                _holder.Update(svid, bundle);
                _appliedHash = hash;
                _failedHash = null;
                LogLoaded(_logger, svid.Id.ToString(), _certificatePath, svid.SerialNumber, svid.NotAfter, bundle.GetRoots(_trustDomain).Length);
                return true;
            }
            catch (Exception ex) when (ex is InvalidDataException or ArgumentException)
            {
                Refuse(ex.Message, hash);
                return false;
            }
        }
    }

    Task IWorkloadIdentitySource.StartAsync(CancellationToken cancellationToken)
    {
        Start();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        lock (_loadLock)
        {
            _disposed = true;
        }

        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }

        _debounceTimer?.Dispose();
        _pollTimer?.Dispose();
    }

    private void Refuse(string problem, string hash)
    {
        _metrics?.RenewalFailures.Add(1, new KeyValuePair<string, object?>(IdentityMetrics.SourceTag, IdentitySourceNames.Files));
        if (hash == _failedHash)
        {
            return;
        }

        _failedHash = hash;
        var current = _holder.Latest;
        var state = current is null
            ? "there is no certificate to present yet"
            : $"the certificate of '{current.Id}' (serial {current.SerialNumber}, valid until {X509SvidValidator.Format(current.NotAfter)}) stays in use";
        LogRefused(_logger, problem, state);
    }

    private void Watch(string directory)
    {
        try
        {
            var watcher = new FileSystemWatcher(directory)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                IncludeSubdirectories = false,
            };

            // Any event in the directory counts: Kubernetes swaps a '..data' symlink rather than writing the files by name.
            watcher.Changed += (_, _) => Schedule();
            watcher.Created += (_, _) => Schedule();
            watcher.Deleted += (_, _) => Schedule();
            watcher.Renamed += (_, _) => Schedule();
            watcher.Error += (_, _) => Schedule();
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            LogNotWatched(_logger, directory, ex.Message, _pollInterval.TotalSeconds);
        }
    }

    // Each event pushes the read back, so it happens once the writer has been quiet for the debounce time.
    private void Schedule() => _debounceTimer?.Change(_debounce, Timeout.InfiniteTimeSpan);

    private static string Hash(string certificatePem, string keyPem, string bundlePem)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in new[] { certificatePem, keyPem, bundlePem })
        {
            hash.AppendData(Encoding.UTF8.GetBytes(part));
            hash.AppendData([0]);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
