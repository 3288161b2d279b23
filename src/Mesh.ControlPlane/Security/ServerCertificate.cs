using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Meshd.Security;

/// <summary>
/// meshd's TLS certificate from <c>Meshd:Tls:CertificateFile</c> and <c>Meshd:Tls:KeyFile</c>. The files are looked at
/// again at most every few seconds during handshakes, so a renewed certificate (cert-manager, ACME) is served without
/// a restart; a renewal that cannot be read keeps the last good certificate and is logged once (until the files change
/// again). Files are compared by content, so a copy that keeps the old modification time is seen too.
/// </summary>
internal sealed partial class ServerCertificate
{
    private static readonly TimeSpan s_checkEvery = TimeSpan.FromSeconds(5);
    private readonly string _certificateFile;
    private readonly string _keyFile;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private X509Certificate2 _current;
    private byte[] _seen;
    private string? _problem;
    private long _nextCheck;

    public ServerCertificate(string certificateFile, string keyFile, TimeProvider time, ILogger logger)
    {
        _certificateFile = certificateFile;
        _keyFile = keyFile;
        _time = time;
        _logger = logger;
        _seen = Fingerprint(certificateFile, keyFile);
        _current = MeshdCertificates.Load(certificateFile, keyFile, "Meshd:Tls:CertificateFile");
        _nextCheck = time.GetTimestamp() + (long)(s_checkEvery.TotalSeconds * time.TimestampFrequency);
    }

    public X509Certificate2 Current
    {
        get
        {
            var now = _time.GetTimestamp();
            if (now < Volatile.Read(ref _nextCheck))
            {
                return Volatile.Read(ref _current);
            }

            lock (_lock)
            {
                if (now >= _nextCheck)
                {
                    _nextCheck = now + (long)(s_checkEvery.TotalSeconds * _time.TimestampFrequency);
                    Reload();
                }

                return _current;
            }
        }
    }

    private static byte[] Fingerprint(string certificateFile, string keyFile)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(File.ReadAllBytes(certificateFile));
        hash.AppendData([0]);
        hash.AppendData(File.ReadAllBytes(keyFile));
        return hash.GetHashAndReset();
    }

    private void Reload()
    {
        try
        {
            // Whatever is tried is remembered, so a broken renewal is tried and logged once, not at every check.
            var seen = Fingerprint(_certificateFile, _keyFile);
            if (seen.AsSpan().SequenceEqual(_seen))
            {
                return;
            }

            _seen = seen;
            var next = MeshdCertificates.Load(_certificateFile, _keyFile, "Meshd:Tls:CertificateFile");
            Volatile.Write(ref _current, next);
            _problem = null;
            LogReloaded(_logger, _certificateFile, next.NotAfter);
        }
        catch (Exception ex) when (ex is MeshdStartupException or IOException or UnauthorizedAccessException)
        {
            // Files that cannot even be read (moved away) fail the same way at every check: said once.
            if (ex.Message != _problem)
            {
                _problem = ex.Message;
                LogReloadFailed(_logger, _certificateFile, ex.Message);
            }
        }
    }
}
