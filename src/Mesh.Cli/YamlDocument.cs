using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Mesh.Cli;

/// <summary>
/// A policy file written in YAML, read into the JSON meshd takes. Scalars follow YAML 1.2's core schema: an unquoted
/// <c>3</c>, <c>0.5</c>, <c>true</c> or <c>null</c> is a number, a boolean or null, anything quoted is a string. One
/// document; no anchors or aliases (a file that expands itself is refused, not expanded); nesting bounded as JSON's is.
/// </summary>
internal static partial class YamlDocument
{
    private const int MaxDepth = 64;

    /// <summary>Gets whether <paramref name="file"/> is named as YAML (<c>.yaml</c> or <c>.yml</c>).</summary>
    public static bool IsYaml(FileInfo file) =>
        file.Extension.Equals(".yaml", StringComparison.OrdinalIgnoreCase) || file.Extension.Equals(".yml", StringComparison.OrdinalIgnoreCase);

    /// <summary>The JSON of the YAML in <paramref name="text"/>; a <see cref="FormatException"/> says where it is wrong.</summary>
    public static JsonDocument Parse(string text)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var parser = new Parser(new StringReader(text));
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { MaxDepth = MaxDepth }))
        {
            try
            {
                parser.Consume<StreamStart>();
                if (parser.TryConsume<StreamEnd>(out _))
                {
                    throw new FormatException("it holds no document.");
                }

                parser.Consume<DocumentStart>();
                Value(parser, writer, 0);
                parser.Consume<DocumentEnd>();
                if (!parser.TryConsume<StreamEnd>(out _))
                {
                    throw new FormatException($"it holds more than one document (line {parser.Current?.Start.Line}); give one policy a file.");
                }
            }
            catch (YamlException e)
            {
                throw new FormatException($"line {e.Start.Line}, column {e.Start.Column}: {e.InnerException?.Message ?? e.Message}", e);
            }
        }

        return JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = MaxDepth });
    }

    private static void Value(IParser parser, Utf8JsonWriter writer, int depth)
    {
        if (depth >= MaxDepth)
        {
            throw new FormatException($"line {parser.Current?.Start.Line}: nested deeper than {MaxDepth} levels.");
        }

        if (parser.Current is AnchorAlias alias)
        {
            throw new FormatException($"line {alias.Start.Line}: aliases (*{alias.Value}) are not taken; write the value out.");
        }

        if (parser.Current is NodeEvent { Anchor.IsEmpty: false } anchored)
        {
            throw new FormatException($"line {anchored.Start.Line}: anchors (&{anchored.Anchor.Value}) are not taken; write the value out.");
        }

        if (parser.TryConsume<Scalar>(out var scalar))
        {
            Scalar(scalar, writer);
        }
        else if (parser.TryConsume<MappingStart>(out _))
        {
            writer.WriteStartObject();
            var keys = new HashSet<string>(StringComparer.Ordinal);
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                if (!parser.TryConsume<Scalar>(out var key))
                {
                    throw new FormatException($"line {parser.Current?.Start.Line}: a key must be a plain name, not a list or a map.");
                }

                if (!keys.Add(key.Value))
                {
                    throw new FormatException($"line {key.Start.Line}: the key '{key.Value}' appears twice.");
                }

                writer.WritePropertyName(key.Value);
                Value(parser, writer, depth + 1);
            }

            writer.WriteEndObject();
        }
        else if (parser.TryConsume<SequenceStart>(out _))
        {
            writer.WriteStartArray();
            while (!parser.TryConsume<SequenceEnd>(out _))
            {
                Value(parser, writer, depth + 1);
            }

            writer.WriteEndArray();
        }
        else
        {
            throw new FormatException($"line {parser.Current?.Start.Line}: unexpected {parser.Current?.GetType().Name}.");
        }
    }

    private static void Scalar(Scalar scalar, Utf8JsonWriter writer)
    {
        var text = scalar.Value;
        if (scalar.Style == ScalarStyle.Plain)
        {
            if (text is "" or "~" or "null" or "Null" or "NULL")
            {
                writer.WriteNullValue();
                return;
            }

            if (text is "true" or "True" or "TRUE" or "false" or "False" or "FALSE")
            {
                writer.WriteBooleanValue(text[0] is 't' or 'T');
                return;
            }

            if (Integer().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
            {
                writer.WriteNumberValue(whole);
                return;
            }

            if (Float().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real))
            {
                writer.WriteNumberValue(real);
                return;
            }
        }

        writer.WriteStringValue(text);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Float();
}
