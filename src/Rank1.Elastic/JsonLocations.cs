using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// Where a node of a parsed request body stood in its text, as Elasticsearch's parser reports a token's place
/// (<c>XContentLocation</c>: line and column from 1, the column counted in bytes of the UTF-8 text, as Jackson counts
/// them reading bytes): a <c>parsing_exception</c>'s <c>line</c> and <c>col</c>, an <c>x_content_parse_exception</c>'s
/// <c>[line:col]</c>. A <see cref="JsonNode"/> keeps no position: the text of a body is remembered beside its root
/// (<see cref="Remember"/>), and a node's place is found again, only for an error, by reading the text down the node's
/// path. Null when the body's text was not remembered, or no longer holds that path.
/// </summary>
internal static class JsonLocations
{
    private static readonly ConditionalWeakTable<JsonNode, byte[]> Texts = [];

    /// <summary>
    /// Remembers <paramref name="text"/> (a copy) as the text <paramref name="root"/> was parsed from, for as long as the
    /// root lives. The embedded backend, which makes query and document errors with their places, asks for it for every
    /// body; the proxy, which sends every body on, only for one with a value Jackson's accessor refuses
    /// (<see cref="SearchBody.ReadObject"/>): it keeps no second copy of another.
    /// </summary>
    /// <param name="root">The parsed body.</param>
    /// <param name="text">Its UTF-8 text.</param>
    /// <returns><paramref name="root"/>.</returns>
    public static T Remember<T>(T root, ReadOnlySpan<byte> text)
        where T : JsonNode
    {
        Texts.AddOrUpdate(root, RequestJson.ByteOrderMarkAsSpaces(text).ToArray()); // read as SearchBody read it
        return root;
    }

    /// <summary>Where <paramref name="node"/>'s first token starts (<c>{</c>, <c>[</c>, or the value).</summary>
    /// <param name="node">A node of a remembered body.</param>
    public static Location? Of(JsonNode node) => Find(node, null, name: false);

    /// <summary>
    /// Where the token after <paramref name="node"/>'s first token starts: an empty object's <c>}</c>, or what follows a
    /// value (the parser's <c>nextToken()</c> from it).
    /// </summary>
    /// <param name="node">A node of a remembered body.</param>
    public static Location? OfNext(JsonNode node) => Find(node, null, name: false, Step.Next);

    /// <summary>
    /// Where <paramref name="node"/>'s last token starts: an object's or array's closing <c>}</c> or <c>]</c> (where the
    /// parser stands once <c>readValue</c> has read it), a value's own token.
    /// </summary>
    /// <param name="node">A node of a remembered body.</param>
    public static Location? OfLast(JsonNode node) => Find(node, null, name: false, Step.Last);

    /// <summary>
    /// Where Jackson stands once <c>nextToken()</c> has read <paramref name="node"/>'s first token (a value, or an
    /// object's <c>{</c>): the byte after it (<c>getCurrentLocation()</c>, the place of an error raised by a value accessor
    /// such as <c>getLongValue()</c>). Not for a string, whose text Jackson reads only when asked.
    /// </summary>
    /// <param name="node">A node of a remembered body.</param>
    public static Location? After(JsonNode node) => Find(node, null, name: false, Step.After);

    /// <summary>Whether <paramref name="root"/>'s text is remembered.</summary>
    /// <param name="root">A parsed body.</param>
    public static bool Knows(JsonNode root) => Texts.TryGetValue(root, out _);

    /// <summary>The remembered text of <paramref name="node"/>'s body, or null (for Jackson's <c>[Source: ..]</c>).</summary>
    /// <param name="node">A node of a remembered body.</param>
    public static ReadOnlySpan<byte> TextOf(JsonNode node) => Texts.TryGetValue(node.Root, out var text) ? text : default;

    /// <summary>Where the value of <paramref name="key"/> in <paramref name="parent"/> starts (JSON <c>null</c> included).</summary>
    /// <param name="parent">An object of a remembered body.</param>
    /// <param name="key">One of its fields.</param>
    public static Location? OfValue(JsonObject parent, string key) => Find(parent, key, name: false);

    /// <summary>Where the name of <paramref name="key"/> in <paramref name="parent"/> starts (the parser's <c>FIELD_NAME</c> token).</summary>
    /// <param name="parent">An object of a remembered body.</param>
    /// <param name="key">One of its fields.</param>
    public static Location? OfName(JsonObject parent, string key) => Find(parent, key, name: true);

    /// <summary>Where element <paramref name="index"/> of <paramref name="parent"/> starts (JSON <c>null</c> included).</summary>
    /// <param name="parent">An array of a remembered body.</param>
    /// <param name="index">One of its indexes.</param>
    public static Location? OfElement(JsonArray parent, int index) => Find(parent, index, name: false);

    // Which token of the node found: its first, the one after it, its last, or the byte after its first.
    private enum Step
    {
        First,
        Next,
        Last,
        After,
    }

    private static Location? Find(JsonNode node, object? key, bool name, Step step = Step.First)
    {
        if (!Texts.TryGetValue(node.Root, out var text))
        {
            return null;
        }

        var steps = new List<object>();
        if (key is not null)
        {
            steps.Add(key);
        }

        for (var n = node; n.Parent is { } parent; n = parent)
        {
            steps.Add(parent is JsonObject ? n.GetPropertyName() : n.GetElementIndex());
        }

        steps.Reverse();
        return At(text, steps, name, step);
    }

    private static Location? At(ReadOnlySpan<byte> text, List<object> steps, bool name, Step step)
    {
        try
        {
            return Offset(text, steps, name, step) is { } offset ? Location.Of(text, offset) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    // The byte offset of the token at the end of steps (field names and array indices from the root).
    private static long? Offset(ReadOnlySpan<byte> text, List<object> steps, bool name, Step step)
    {
        var reader = new Utf8JsonReader(text, RequestJson.ReaderOptions with { AllowMultipleValues = true });
        if (!reader.Read())
        {
            return null;
        }

        for (var i = 0; i < steps.Count; i++)
        {
            if (steps[i] is string field)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return null;
                }

                while (true)
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.PropertyName)
                    {
                        return null;
                    }

                    if (reader.ValueTextEquals(field))
                    {
                        if (name && i == steps.Count - 1)
                        {
                            return reader.TokenStartIndex;
                        }

                        reader.Read();
                        break;
                    }

                    reader.Skip();
                }
            }
            else
            {
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    return null;
                }

                for (var j = 0; j <= (int)steps[i]; j++)
                {
                    if (j > 0)
                    {
                        reader.Skip();
                    }

                    reader.Read();
                    if (reader.TokenType == JsonTokenType.EndArray)
                    {
                        return null;
                    }
                }
            }
        }

        switch (step)
        {
            case Step.Next:
                return reader.Read() ? reader.TokenStartIndex : null;
            case Step.Last:
                reader.Skip(); // to an object's or array's closing token; a value stays where it is
                return reader.TokenStartIndex;
            case Step.After:
                return reader.BytesConsumed;
            default:
                return reader.TokenStartIndex;
        }
    }
}

/// <summary>A token's place in a request body, as Elasticsearch's <c>XContentLocation</c> gives it.</summary>
/// <param name="Line">The line, from 1.</param>
/// <param name="Column">The column, from 1, in bytes.</param>
internal readonly record struct Location(int Line, int Column)
{
    /// <summary>Where byte <paramref name="index"/> of <paramref name="text"/> is.</summary>
    /// <param name="text">The UTF-8 text.</param>
    /// <param name="index">A byte offset into it.</param>
    public static Location Of(ReadOnlySpan<byte> text, long index)
    {
        var before = text[..(int)index];
        return new(before.Count((byte)'\n') + 1, before.Length - (before.LastIndexOf((byte)'\n') + 1) + 1);
    }

    /// <summary><c>[line:col]</c>, as an <c>x_content_parse_exception</c>'s reason starts.</summary>
    public override string ToString() => $"[{Line}:{Column}]";
}
