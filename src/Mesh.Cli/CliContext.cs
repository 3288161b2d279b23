using System.Text.Json;
using Mesh.Sdk;

namespace Mesh.Cli;

/// <summary>
/// Where meshd is and which token to send: <c>--address</c>/<c>--token</c>, then <c>MESH_ADDRESS</c>/<c>MESH_TOKEN</c>,
/// then <c>$XDG_CONFIG_HOME/mesh/meshctl.json</c> (<c>~/.config/mesh/meshctl.json</c>), each setting on its own.
/// The file holds a token, so one that its group or others may read is refused, as ssh refuses such a key.
/// </summary>
internal sealed record CliContext(Uri Address, string? Token, string AddressFrom)
{
    public const string AddressVariable = "MESH_ADDRESS";
    public const string TokenVariable = "MESH_TOKEN";
    private const int MaxConfigBytes = 16 * 1024;

    public static string ConfigPath(IReadOnlyDictionary<string, string?> environment)
    {
        var home = environment.GetValueOrDefault("XDG_CONFIG_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(environment.GetValueOrDefault("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return Path.Combine(home, "mesh", "meshctl.json");
    }

    /// <summary>The context, or a usage error naming what is missing or wrong.</summary>
    public static CliContext Resolve(string? address, string? token, IReadOnlyDictionary<string, string?> environment)
    {
        string? from = address is null ? null : "--address";
        address ??= environment.GetValueOrDefault(AddressVariable) is { Length: > 0 } a ? a : null;
        from ??= address is null ? null : AddressVariable;
        token ??= environment.GetValueOrDefault(TokenVariable) is { Length: > 0 } t ? t : null;
        if (address is null || token is null)
        {
            var path = ConfigPath(environment);
            if (File.Exists(path))
            {
                var (fileAddress, fileToken) = ReadConfig(path);
                from ??= fileAddress is null ? null : path;
                address ??= fileAddress;
                token ??= fileToken;
            }
        }

        if (address is null)
        {
            throw new UsageException($"No meshd address: give --address, set {AddressVariable}, or write {{ \"address\": \"http://127.0.0.1:7070\" }} to {ConfigPath(environment)}.");
        }

        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"The meshd address '{address}' (from {from}) is not an http:// or https:// address.");
        }

        if (token is not null && (token.Length == 0 || token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            throw new UsageException("The token has white space or control characters in it.");
        }

        return new CliContext(uri, token, from!);
    }

    public MeshdClient Client(TimeSpan timeout) => new(new MeshdClientOptions { Addresses = { Address }, Token = Token, Timeout = timeout });

    private static (string? Address, string? Token) ReadConfig(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            {
                throw new UsageException($"{path} holds a token but its group or others may read or write it: chmod 600 {path}.");
            }
        }

        var info = new FileInfo(path);
        if (info.Length > MaxConfigBytes)
        {
            throw new UsageException($"{path} is over {MaxConfigBytes} bytes: it holds an address and a token only.");
        }

        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Skip });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new UsageException($"{path} is not a JSON object such as {{ \"address\": \"http://127.0.0.1:7070\", \"token\": \"…\" }}.");
            }

            string? address = null, token = null;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "address" when property.Value.ValueKind == JsonValueKind.String:
                        address = property.Value.GetString();
                        break;
                    case "token" when property.Value.ValueKind == JsonValueKind.String:
                        token = property.Value.GetString();
                        break;
                    default:
                        throw new UsageException($"{path}: '{property.Name}' is not a setting of meshctl or not a string (known: address, token).");
                }
            }

            return (address, token);
        }
        catch (JsonException e)
        {
            throw new UsageException($"{path} is not valid JSON: {e.Message}");
        }
    }
}

/// <summary>The command line or its context is wrong: exit code 2, with the message.</summary>
internal sealed class UsageException(string message) : Exception(message);
