using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Meshd.Security;

/// <summary>Who a bearer token belongs to.</summary>
internal enum TokenRole
{
    None,
    Workload,
    Admin,
}

/// <summary>
/// The admin and workload tokens: from configuration, or generated once and kept in the data directory (owner-only
/// file mode). Tokens are compared as SHA-256 digests in constant time.
/// </summary>
internal sealed class TokenStore
{
    internal const string FileName = "tokens.json";

    private readonly byte[] _admin;
    private readonly byte[] _workload;

    private TokenStore(string admin, string workload)
    {
        AdminToken = admin;
        WorkloadToken = workload;
        _admin = Digest(admin);
        _workload = Digest(workload);
    }

    public string AdminToken { get; }

    public string WorkloadToken { get; }

    /// <summary>
    /// Resolves the tokens; a token neither configured nor kept is generated, saved and written once to
    /// <paramref name="console"/>, the only place it is ever printed.
    /// </summary>
    public static TokenStore Resolve(MeshdSettings settings, TextWriter console)
    {
        if (settings.AdminToken is { } admin && settings.WorkloadToken is { } workload)
        {
            return new TokenStore(admin, workload);
        }

        Directory.CreateDirectory(settings.DataDirectory);
        var path = Path.Combine(settings.DataDirectory, FileName);
        string? keptAdmin = null;
        string? keptWorkload = null;
        if (File.Exists(path))
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            keptAdmin = document.RootElement.TryGetProperty("admin", out var a) ? a.GetString() : null;
            keptWorkload = document.RootElement.TryGetProperty("workload", out var w) ? w.GetString() : null;
        }

        var generated = new List<string>();
        var resolvedAdmin = settings.AdminToken ?? keptAdmin ?? Generate("admin", generated);
        var resolvedWorkload = settings.WorkloadToken ?? keptWorkload ?? Generate("workload", generated);
        if (generated.Count > 0)
        {
            Save(path, settings.AdminToken is null ? resolvedAdmin : keptAdmin, settings.WorkloadToken is null ? resolvedWorkload : keptWorkload);
            foreach (var line in generated)
            {
                console.WriteLine($"meshd: generated the {line} token: {(line == "admin" ? resolvedAdmin : resolvedWorkload)} (kept in {path}; set Meshd:{(line == "admin" ? "AdminToken" : "WorkloadToken")} to choose your own)");
            }
        }

        return new TokenStore(resolvedAdmin, resolvedWorkload);
    }

    public TokenRole Identify(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return TokenRole.None;
        }

        var digest = Digest(token);
        var isAdmin = CryptographicOperations.FixedTimeEquals(digest, _admin);
        var isWorkload = CryptographicOperations.FixedTimeEquals(digest, _workload);
        return isAdmin ? TokenRole.Admin : isWorkload ? TokenRole.Workload : TokenRole.None;
    }

    private static string Generate(string name, List<string> generated)
    {
        generated.Add(name);
        return Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
    }

    private static void Save(string path, string? admin, string? workload)
    {
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temp, options))
        {
            using (var writer = new Utf8JsonWriter(stream))
            {
                writer.WriteStartObject();
                if (admin is not null)
                {
                    writer.WriteString("admin", admin);
                }

                if (workload is not null)
                {
                    writer.WriteString("workload", workload);
                }

                writer.WriteEndObject();
            }

            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    private static byte[] Digest(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
