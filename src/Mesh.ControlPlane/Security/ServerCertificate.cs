using System.Security.Cryptography.X509Certificates;

namespace Meshd.Security;

/// <summary>
/// meshd's TLS certificate from <c>Meshd:Tls:CertificateFile</c> and <c>Meshd:Tls:KeyFile</c>. The files are looked at
/// again at most every few seconds during handshakes, so a renewed certificate (cert-manager, ACME) is served without
/// a restart; a renewal that cannot be read keeps the last good certificate and is logged.
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
    private DateTime _certificateWritten;
    private DateTime _keyWritten;
    private long _nextCheck;

    public ServerCertificate(string certificateFile, string keyFile, TimeProvider time, ILogger logger)
    {
        _certificateFile = certificateFile;
        _keyFile = keyFile;
        _time = time;
        _logger = logger;
        _certificateWritten = File.GetLastWriteTimeUtc(certificateFile);
        _keyWritten = File.GetLastWriteTimeUtc(keyFile);
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

    private void Reload()
    {
        try
        {
            var certificateWritten = File.GetLastWriteTimeUtc(_certificateFile);
            var keyWritten = File.GetLastWriteTimeUtc(_keyFile);
            if (certificateWritten == _certificateWritten && keyWritten == _keyWritten)
            {
                return;
            }

            var next = MeshdCertificates.Load(_certificateFile, _keyFile, "Meshd:Tls:CertificateFile");
            (_certificateWritten, _keyWritten) = (certificateWritten, keyWritten);
            Volatile.Write(ref _current, next);
            LogReloaded(_logger, _certificateFile, next.NotAfter);
        }
        catch (Exception ex) when (ex is MeshdStartupException or IOException or UnauthorizedAccessException)
        {
            LogReloadFailed(_logger, _certificateFile, ex.Message);
        }
    }
}
