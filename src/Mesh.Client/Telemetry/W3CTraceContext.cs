using System.Diagnostics;

namespace Mesh.Telemetry;

/// <summary>
/// The rules of W3C Trace Context (Level 1, with Level 2's stricter and newer rules) for the <c>traceparent</c> and
/// <c>tracestate</c> headers, applied the same way to what arrives and to what is sent.
/// </summary>
/// <remarks>
/// <para><b>traceparent</b> (<c>version-trace-id-parent-id-trace-flags</c>), after spaces and tabs around it are trimmed:</para>
/// <list type="bullet">
/// <item>every field is lowercase hex (<c>0-9a-f</c>); uppercase or any other character makes the header invalid;</item>
/// <item>version is two characters followed by a dash; <c>ff</c> is invalid;</item>
/// <item>version <c>00</c> is exactly 55 characters: trace-id 32, parent-id 16, flags 2, dash-separated, nothing after;</item>
/// <item>a higher version is at least 55 characters and, when longer, goes on with a dash after the flags; its first
///   three fields are read as version 00's and the trace continues as version 00 (at most 512 characters are read);</item>
/// <item>a trace-id or parent-id of all zeros is invalid;</item>
/// <item>more than one traceparent (two header fields, or a list) is invalid;</item>
/// <item>an invalid traceparent starts a new trace, and the tracestate that came with it is not read.</item>
/// </list>
/// <para>Sent: always version 00; flags carry the sampled bit (<c>01</c>, the span is recorded) and the random-trace-id
/// bit (<c>02</c>: as received when the trace was continued; set when the trace started here with the platform's random
/// trace ids); every other bit is zero.</para>
/// <para><b>tracestate</b>: several header fields are one list, joined in the order received; spaces and tabs around
/// members are trimmed and empty members dropped. A member is <c>key=value</c>: the key 1 to 256 characters, starting
/// with <c>a-z</c> or <c>0-9</c>, then <c>a-z 0-9 _ - * / @</c>; the value 1 to 256 printable ASCII characters
/// (<c>0x20-0x7e</c>) other than <c>,</c> and <c>=</c>, not ending in a space. One bad member, or more than 32 members,
/// makes the whole header invalid, and it is dropped. Of a key present twice the first (left-most, most recent) is
/// kept. Sent without optional whitespace; longer than <see cref="MaxPropagatedTraceState"/> characters, whole members are
/// removed, those over 128 characters first, then from the right. Input longer than
/// <see cref="MaxTraceStateInput"/> characters is not read.</para>
/// </remarks>
internal static class W3CTraceContext
{
    /// <summary>The traceparent header's name.</summary>
    public const string TraceParent = "traceparent";

    /// <summary>The tracestate header's name.</summary>
    public const string TraceState = "tracestate";

    /// <summary>The most list members a tracestate may hold.</summary>
    public const int MaxMembers = 32;

    /// <summary>The longest key and the longest value of a tracestate member.</summary>
    public const int MaxKeyOrValue = 256;

    /// <summary>The longest tracestate read: 32 members of the longest key and value, with room for whitespace.</summary>
    public const int MaxTraceStateInput = 32 * 1024;

    /// <summary>The longest tracestate sent (the specification asks for at least 512).</summary>
    public const int MaxPropagatedTraceState = 8192;

    /// <summary>Members longer than this go first when a tracestate is cut to size.</summary>
    public const int LongMember = 128;

    /// <summary>The longest traceparent of a future version read.</summary>
    public const int MaxTraceParentInput = 512;

    /// <summary>The sampled bit of trace-flags.</summary>
    public const byte Sampled = 0x01;

    /// <summary>The random-trace-id bit of trace-flags (Level 2).</summary>
    public const byte RandomTraceId = 0x02;

    private const int Version00Length = 55;

    /// <summary>
    /// Reads a traceparent: <paramref name="traceParent"/> is the version 00 form of a valid one (the same string when
    /// it already is), <paramref name="flags"/> its trace-flags; false when the header is invalid.
    /// </summary>
    public static bool TryParseTraceParent(string? value, out string? traceParent, out byte flags)
    {
        traceParent = null;
        flags = 0;
        if (value is null)
        {
            return false;
        }

        var span = TrimOws(value.AsSpan());
        if (span.Length < Version00Length || span.Length > MaxTraceParentInput
            || !IsLowerHex(span[0]) || !IsLowerHex(span[1]) || span[2] != '-'
            || (span[0] == 'f' && span[1] == 'f'))
        {
            return false;
        }

        var version00 = span[0] == '0' && span[1] == '0';
        if (version00 ? span.Length != Version00Length : span.Length > Version00Length && span[Version00Length] != '-')
        {
            return false;
        }

        var traceId = span.Slice(3, 32);
        var parentId = span.Slice(36, 16);
        if (span[35] != '-' || span[52] != '-' || !IsIdentifier(traceId) || !IsIdentifier(parentId)
            || !IsLowerHex(span[53]) || !IsLowerHex(span[54]))
        {
            return false;
        }

        flags = (byte)((HexValue(span[53]) << 4) | HexValue(span[54]));
        traceParent = version00 && span.Length == value.Length ? value : string.Concat("00", span[2..Version00Length]);
        return true;
    }

    /// <summary>
    /// Reads a tracestate: <paramref name="traceState"/> is its canonical form (the same string when it already is),
    /// null when it holds no member; false, with null, when it breaks a rule and must be dropped whole.
    /// </summary>
    public static bool TryParseTraceState(string? value, out string? traceState)
    {
        traceState = null;
        if (string.IsNullOrEmpty(value))
        {
            return true;
        }

        if (value.Length > MaxTraceStateInput)
        {
            return false;
        }

        Span<Range> members = stackalloc Range[MaxMembers];
        var count = 0;
        var canonical = true;
        var input = value.AsSpan();
        var start = 0;
        while (start <= input.Length)
        {
            var comma = input[start..].IndexOf(',');
            var end = comma < 0 ? input.Length : start + comma;
            var raw = input[start..end];
            var member = TrimOws(raw);
            if (member.IsEmpty)
            {
                // An empty member is allowed (header fields joined by a comma make them); it is not sent on.
                canonical = false;
            }
            else
            {
                if (count == MaxMembers || !IsMember(member))
                {
                    return false;
                }

                var offset = start + raw.Length - raw.TrimStart(" \t").Length;
                if (member.Length != raw.Length)
                {
                    canonical = false;
                }

                var range = new Range(offset, offset + member.Length);
                if (IsDuplicate(input, members[..count], member))
                {
                    // The left-most of a key is its most recent value; later ones are dropped.
                    canonical = false;
                }
                else
                {
                    members[count++] = range;
                }
            }

            if (comma < 0)
            {
                break;
            }

            start = end + 1;
        }

        if (count == 0)
        {
            return true;
        }

        var length = -1;
        for (var i = 0; i < count; i++)
        {
            length += members[i].GetOffsetAndLength(input.Length).Length + 1;
        }

        if (length > MaxPropagatedTraceState)
        {
            count = Truncate(input, members, count);
            canonical = false;
        }

        traceState = canonical ? value : Join(input, members[..count]);
        return true;
    }

    /// <summary>The traceparent to send for <paramref name="activity"/>: version 00, only the defined flags.</summary>
    public static string TraceParentOf(Activity activity)
    {
        var flags = (byte)((activity.Recorded ? Sampled : 0) | RandomBit(activity));

        // The platform's id carries the span's flags byte as it is: reused when that byte is what is sent.
        if ((byte)activity.ActivityTraceFlags == flags && activity.Id is { Length: Version00Length } id && id.StartsWith("00-", StringComparison.Ordinal))
        {
            return id;
        }

        return string.Create(Version00Length, (activity.TraceId, activity.SpanId, flags), static (chars, state) =>
        {
            "00-".CopyTo(chars);
            state.TraceId.ToHexString().CopyTo(chars[3..]);
            chars[35] = '-';
            state.SpanId.ToHexString().CopyTo(chars[36..]);
            chars[52] = '-';
            chars[53] = '0';
            chars[54] = (char)('0' + state.flags);
        });
    }

    // Continued traces keep the caller's random bit; traces started here have it when their ids are the platform's random ones.
    private static byte RandomBit(Activity activity)
    {
        var root = activity;
        while (root.Parent is { } parent)
        {
            root = parent;
        }

        if (root.ParentSpanId == default)
        {
            return Activity.TraceIdGenerator is null ? RandomTraceId : (byte)0;
        }

        return root.ParentId is { Length: Version00Length } parentId && IsLowerHex(parentId[54])
            ? (byte)(HexValue(parentId[54]) & RandomTraceId)
            : (byte)0;
    }

    private static bool IsMember(ReadOnlySpan<char> member)
    {
        var equals = member.IndexOf('=');
        if (equals < 1 || equals > MaxKeyOrValue)
        {
            return false;
        }

        var key = member[..equals];
        var value = member[(equals + 1)..];
        if (!char.IsAsciiLetterLower(key[0]) && !char.IsAsciiDigit(key[0]))
        {
            return false;
        }

        foreach (var c in key[1..])
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c is not ('_' or '-' or '*' or '/' or '@'))
            {
                return false;
            }
        }

        if (value.IsEmpty || value.Length > MaxKeyOrValue || value[^1] == ' ')
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is < ' ' or > '~' or ',' or '=')
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsDuplicate(ReadOnlySpan<char> input, ReadOnlySpan<Range> kept, ReadOnlySpan<char> member)
    {
        var key = member[..(member.IndexOf('=') + 1)];
        foreach (var range in kept)
        {
            if (input[range].StartsWith(key, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    // The specification's order: members over 128 characters first, right-most first; then from the right.
    private static int Truncate(ReadOnlySpan<char> input, Span<Range> members, int count)
    {
        var length = -1;
        for (var i = 0; i < count; i++)
        {
            length += members[i].GetOffsetAndLength(input.Length).Length + 1;
        }

        for (var i = count - 1; i >= 0 && length > MaxPropagatedTraceState; i--)
        {
            var size = members[i].GetOffsetAndLength(input.Length).Length;
            if (size > LongMember)
            {
                length -= size + 1;
                members[(i + 1)..count].CopyTo(members[i..]);
                count--;
            }
        }

        while (length > MaxPropagatedTraceState)
        {
            count--;
            length -= members[count].GetOffsetAndLength(input.Length).Length + 1;
        }

        return count;
    }

    private static string Join(ReadOnlySpan<char> input, ReadOnlySpan<Range> members)
    {
        var length = -1;
        foreach (var range in members)
        {
            length += range.GetOffsetAndLength(input.Length).Length + 1;
        }

        Span<char> chars = length <= 1024 ? stackalloc char[length] : new char[length];
        var at = 0;
        foreach (var range in members)
        {
            if (at > 0)
            {
                chars[at++] = ',';
            }

            input[range].CopyTo(chars[at..]);
            at += input[range].Length;
        }

        return new string(chars);
    }

    private static ReadOnlySpan<char> TrimOws(ReadOnlySpan<char> value) => value.Trim(" \t");

    private static bool IsIdentifier(ReadOnlySpan<char> id)
    {
        var zero = true;
        foreach (var c in id)
        {
            if (!IsLowerHex(c))
            {
                return false;
            }

            zero &= c == '0';
        }

        return !zero;
    }

    private static bool IsLowerHex(char c) => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f';

    private static int HexValue(char c) => char.IsAsciiDigit(c) ? c - '0' : c - 'a' + 10;
}
