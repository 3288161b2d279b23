using System.Text.Json.Nodes;
using Meshd.Security;
using Meshd.Storage;

namespace Meshd.Tests.Storage;

/// <summary>Issue #15, item 6: damaged data files stop the start with a message naming the file and what to do.</summary>
public sealed class DamagedFileTests
{
    public static TheoryData<string> Damages => ["truncated", "not JSON", "one flipped character", "revision lowered", "an entry twice"];

    [Theory]
    [MemberData(nameof(Damages))]
    public async Task A_damaged_store_file_stops_the_start_naming_the_file_and_what_to_do(string damage)
    {
        using var directory = new TempDirectory();
        await WriteSomeStateAsync(directory.Path);
        var path = Path.Combine(directory.Path, FileKeyValueStore.FileName);
        var text = await File.ReadAllTextAsync(path);
        await File.WriteAllTextAsync(path, damage switch
        {
            "truncated" => text[..(text.Length / 2)],
            "not JSON" => "not json",
            "one flipped character" => Flip(text, text.IndexOf("\"value\":\"", StringComparison.Ordinal) + 12),
            "revision lowered" => LowerRevision(text),
            "an entry twice" => DuplicateEntry(text),
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        });

        var failure = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(TestMeshd.Settings(directory.Path)));

        Assert.Contains(path, failure.Message, StringComparison.Ordinal);
        Assert.Contains("Restore it from a backup, or move it away", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_file_whose_revision_was_lowered_without_a_checksum_is_refused_too()
    {
        using var directory = new TempDirectory();
        await WriteSomeStateAsync(directory.Path);
        var path = Path.Combine(directory.Path, FileKeyValueStore.FileName);

        // As an older meshd wrote it (no checksum), then edited: the snapshot version would go backwards.
        var document = JsonNode.Parse(await File.ReadAllTextAsync(path))!.AsObject();
        document.Remove("sha256");
        document["revision"] = 1;
        await File.WriteAllTextAsync(path, document.ToJsonString());

        var failure = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(TestMeshd.Settings(directory.Path)));
        Assert.Contains("below that of its newest entry", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_file_without_a_checksum_from_an_older_meshd_still_loads_and_gets_one_at_the_next_write()
    {
        using var directory = new TempDirectory();
        await WriteSomeStateAsync(directory.Path);
        var path = Path.Combine(directory.Path, FileKeyValueStore.FileName);
        var document = JsonNode.Parse(await File.ReadAllTextAsync(path))!.AsObject();
        document.Remove("sha256");
        await File.WriteAllTextAsync(path, document.ToJsonString());

        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(directory.Path));
        Assert.Equal("RoundRobin", (string?)(await meshd.SnapshotAsync())["services"]!["inventory"]!["policy"]!["LoadBalancer"]);
        await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "Random" }""");
        Assert.NotNull(JsonNode.Parse(await File.ReadAllTextAsync(path))!["sha256"]);
    }

    [Theory]
    [InlineData("{ \"admin\": \"abc")]
    [InlineData("[]")]
    [InlineData("{ \"admin\": 3 }")]
    [InlineData("{ \"admin\": \"a\", \"workload\": \"b\", \"sha256\": \"0000\" }")]
    public async Task A_damaged_token_file_stops_the_start_naming_it_and_what_to_do(string content)
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, TokenStore.FileName);
        await File.WriteAllTextAsync(path, content);
        var settings = TestMeshd.Settings(directory.Path);
        settings.Remove("Meshd:AdminToken");
        settings.Remove("Meshd:WorkloadToken");

        var failure = await Assert.ThrowsAsync<MeshdStartupException>(() => TestMeshd.StartAsync(settings));

        Assert.Contains(path, failure.Message, StringComparison.Ordinal);
        Assert.Contains("Delete it to have new tokens generated", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_command_line_meshd_says_what_is_wrong_without_a_stack_trace_and_exits_non_zero()
    {
        using var directory = new TempDirectory();
        await WriteSomeStateAsync(directory.Path);
        var path = Path.Combine(directory.Path, FileKeyValueStore.FileName);
        await File.WriteAllTextAsync(path, (await File.ReadAllTextAsync(path))[..40]);
        var settings = TestMeshd.Settings(directory.Path);

        var run = await ChildProcess.RunAsync("dotnet", [typeof(MeshdHost).Assembly.Location, .. settings.Select(s => $"--{s.Key}={s.Value}")], TimeSpan.FromSeconds(60));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"meshd: cannot start: {path}", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error + run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_store_file_and_the_data_directory_are_owner_only_even_when_the_file_was_not()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var parent = new TempDirectory();
        var data = Path.Combine(parent.Path, "data");
        await WriteSomeStateAsync(data);
        var path = Path.Combine(data, FileKeyValueStore.FileName);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data));

        // As an older meshd left it: readable by everyone.
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(data));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    private static async Task WriteSomeStateAsync(string directory)
    {
        await using var meshd = await TestMeshd.StartAsync(TestMeshd.Settings(directory));
        await meshd.RegisterAsync("inventory", "inv-1", "http://127.0.0.1:5001");
        await meshd.PutPolicyAsync("inventory", """{ "LoadBalancer": "RoundRobin" }""");
        await meshd.RegisterAsync("inventory", "inv-2", "http://127.0.0.1:5002");
    }

    private static string Flip(string text, int at)
    {
        var chars = text.ToCharArray();
        chars[at] = chars[at] == 'A' ? 'B' : 'A';
        return new string(chars);
    }

    private static string LowerRevision(string text)
    {
        var document = JsonNode.Parse(text)!.AsObject();
        document["revision"] = 1;
        return document.ToJsonString();
    }

    private static string DuplicateEntry(string text)
    {
        var document = JsonNode.Parse(text)!.AsObject();
        var entries = document["entries"]!.AsArray();
        entries.Add(entries[0]!.DeepClone());
        return document.ToJsonString();
    }
}
