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

    /// <summary>The read-only token: reads what the admin reads, writes nothing. Checked apart from the order above.</summary>
    Reader,
}

/// <summary>
/// The admin and shared workload tokens: from configuration, or generated once and kept in the data directory
/// (owner-only file mode). Tokens are compared as SHA-256 digests in constant time. The shared workload token acts for
/// any service and is deprecated: with <c>Meshd:RequireServiceCredentials</c> it is refused, and none is generated.
/// Per-service credentials are <see cref="ServiceCredentials"/>.
/// </summary>
internal sealed class TokenStore
{
    internal const string FileName = "tokens.json";

    private readonly byte[] _admin;
    private readonly byte[] _workload;
    private byte[]? _reader;

    private TokenStore(string admin, string workload, bool acceptsWorkload)
    {
        AdminToken = admin;
        WorkloadToken = workload;
        AcceptsSharedWorkloadToken = acceptsWorkload;
        _admin = Digest(admin);
        _workload = Digest(workload);
    }

    public string AdminToken { get; }

    public string WorkloadToken { get; }

    /// <summary>Gets whether the shared workload token is taken (false with <c>Meshd:RequireServiceCredentials=true</c>).</summary>
    public bool AcceptsSharedWorkloadToken { get; }

    /// <summary>
    /// Resolves the tokens; a token neither configured nor kept is generated, saved and written once to
    /// <paramref name="console"/>, the only place it is ever printed.
    /// </summary>
    public static TokenStore Resolve(MeshdSettings settings, TextWriter console)
    {
        var accepts = !settings.RequireServiceCredentials;
        if (settings.AdminToken is { } admin && settings.WorkloadToken is { } workload)
        {
            return new TokenStore(admin, workload, accepts).WithReader(settings.ReaderToken);
        }

        if (!Directory.Exists(settings.DataDirectory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(settings.DataDirectory);
            }
            else
            {
                Directory.CreateDirectory(settings.DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        var path = Path.Combine(settings.DataDirectory, FileName);
        string? keptAdmin = null;
        string? keptWorkload = null;
        if (File.Exists(path))
        {
            (keptAdmin, keptWorkload) = ReadKept(path);
        }

        var generated = new List<string>();
        var resolvedAdmin = settings.AdminToken ?? keptAdmin ?? Generate("admin", generated);
        // A workload token that would be refused is not generated; an unusable random one stands in for it.
        var resolvedWorkload = settings.WorkloadToken ?? keptWorkload ?? (accepts ? Generate("workload", generated) : Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)));
        if (generated.Count > 0)
        {
            Save(path, settings.AdminToken is null ? resolvedAdmin : keptAdmin, settings.WorkloadToken is null && accepts ? resolvedWorkload : keptWorkload);
            foreach (var line in generated)
            {
                console.WriteLine($"meshd: generated the {line} token: {(line == "admin" ? resolvedAdmin : resolvedWorkload)} (kept in {path}; set Meshd:{(line == "admin" ? "AdminToken" : "WorkloadToken")} to choose your own)");
            }
        }

        return new TokenStore(resolvedAdmin, resolvedWorkload, accepts).WithReader(settings.ReaderToken);
    }

    private TokenStore WithReader(string? reader)
    {
        if (reader is not null)
        {
            if (reader == AdminToken || reader == WorkloadToken)
            {
                throw new MeshdStartupException("Meshd:ReaderToken must differ from the admin and the workload token: a read-only token that is also a writing one reads nothing only.");
            }

            _reader = Digest(reader);
        }

        return this;
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
        var isReader = _reader is not null && CryptographicOperations.FixedTimeEquals(digest, _reader);
        return isAdmin ? TokenRole.Admin : isWorkload ? TokenRole.Workload : isReader ? TokenRole.Reader : TokenRole.None;
    }

    private static string Generate(string name, List<string> generated)
    {
        generated.Add(name);
        return Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
    }

    /// <summary>Reads the kept tokens strictly; a damaged file stops the start, naming it and what to do.</summary>
    private static (string? Admin, string? Workload) ReadKept(string path)
    {
        var fullPath = Path.GetFullPath(path);
        MeshdStartupException Damaged(string what) => new(
            $"{fullPath} {what}, so meshd cannot trust the tokens in it. Delete it to have new tokens generated (and give them to every client), " +
            "or set Meshd:AdminToken and Meshd:WorkloadToken.");
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite)) != 0)
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 4 });
        }
        catch (JsonException)
        {
            throw Damaged("is not a whole JSON document (damaged or cut short)");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Damaged("does not hold a JSON object");
            }

            string? admin = null;
            string? workload = null;
            string? checksum = null;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var text = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                if (text is null || text.Length == 0 || text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                {
                    throw Damaged($"has a field '{property.Name}' that is not a token");
                }

                switch (property.Name)
                {
                    case "admin":
                        admin = text;
                        break;
                    case "workload":
                        workload = text;
                        break;
                    case "sha256":
                        checksum = text;
                        break;
                    default:
                        throw Damaged($"has an unexpected field '{property.Name}'");
                }
            }

            if (checksum is not null && checksum != Checksum(admin, workload))
            {
                throw Damaged("does not match its checksum");
            }

            return (admin, workload);
        }
    }

    private static string Checksum(string? admin, string? workload) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"admin={admin}\nworkload={workload}")));

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

                writer.WriteString("sha256", Checksum(admin, workload));

                writer.WriteEndObject();
            }

            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    private static byte[] Digest(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
