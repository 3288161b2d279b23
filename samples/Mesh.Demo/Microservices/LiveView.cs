namespace Mesh.Demo.Microservices;

/// <summary>
/// The scenario's screen. In a terminal the table is redrawn in place under the captions; when the output is redirected
/// (a log, a pipe) every table is a new block of plain lines, with no escape codes at all.
/// </summary>
internal sealed class LiveView(TextWriter output, bool interactive)
{
    private int _tableLines;

    public bool Interactive { get; } = interactive;

    /// <summary>Writes lines that stay (captions, results) above the live table.</summary>
    public void WriteLine(string line = "")
    {
        Erase();
        output.WriteLine(line);
    }

    /// <summary>Shows the table: in place in a terminal, as a new block otherwise.</summary>
    public void ShowTable(IReadOnlyList<string> lines)
    {
        if (!Interactive)
        {
            foreach (var line in lines)
            {
                output.WriteLine(line);
            }

            output.WriteLine();
            return;
        }

        Erase();
        var width = Width();
        foreach (var line in lines)
        {
            output.WriteLine(line.Length < width ? line : line[..(width - 1)]);
        }

        _tableLines = lines.Count;
        output.Flush();
    }

    /// <summary>Removes the table drawn last, in a terminal.</summary>
    public void Erase()
    {
        if (Interactive && _tableLines > 0)
        {
            // Cursor to the start of the table's first line, then clear to the end of the screen.
            output.Write($"\u001b[{_tableLines}F\u001b[J");
            _tableLines = 0;
        }
    }

    private static int Width()
    {
        try
        {
            return Console.WindowWidth > 20 ? Console.WindowWidth : 120;
        }
        catch (IOException)
        {
            return 120;
        }
    }
}
