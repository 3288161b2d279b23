using System.Runtime.InteropServices;

namespace Mesh.Chaos.Tests;

/// <summary><c>SIGSTOP</c> and <c>SIGCONT</c> to one child process, by its pid, through libc <c>kill(2)</c>.</summary>
internal static partial class Signals
{
    private const int SigStop = 19;
    private const int SigCont = 18;

    /// <summary>Freezes process <paramref name="pid"/> (SIGSTOP): its sockets stay open and nothing answers.</summary>
    public static void Stop(int pid) => Send(pid, SigStop, "SIGSTOP");

    /// <summary>Lets a frozen process <paramref name="pid"/> go on (SIGCONT).</summary>
    public static void Continue(int pid) => Send(pid, SigCont, "SIGCONT");

    private static void Send(int pid, int signal, string name)
    {
        if (NativeKill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"{name} to {pid} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int NativeKill(int pid, int signal);
}
