using System.Globalization;

namespace Mesh.LoadBench;

/// <summary>The CPU time another process has used so far, from <c>/proc/{pid}/stat</c> (Linux; zero elsewhere).</summary>
internal static class ProcessCpu
{
    public static TimeSpan Of(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

            // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 a second on Linux).
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }
    }
}
