using Google.Protobuf;

namespace Rank1.Inference.Model;

/// <summary>
/// Rewrites a causal LM's ONNX graph so that its output layer runs on the last position only. Exported graphs (the
/// onnxruntime-genai builder's and Optimum's alike) return logits for every position they are fed, and ONNX Runtime runs
/// every node whatever outputs are asked for; but every call the engine makes reads only the last position of each row
/// (a prompt's prefill is fed one row at a time or padded on the left, a decode step feeds one token). The output layer
/// (vocabulary × hidden, a quarter of a 0.5B model's multiply-adds per token) thus ran on every prompt token for nothing,
/// and a 128-position chunk returned 128 × vocabulary logits. The rewrite puts a <c>Slice</c> of the last position
/// (starts -1, ends int64 max, axis 1: <c>hidden[:, -1:, :]</c>, as exporters write it) in front of the output layer's <c>MatMul</c> / <c>MatMulNBits</c>, as llama.cpp computes logits
/// only for the tokens asked for. The logits output then has one position per row; nothing else in the graph changes.
/// </summary>
/// <remarks>
/// It edits the serialized <c>ModelProto</c> at the wire level (Google.Protobuf's coded streams), so every field it
/// does not touch (weights, external-data references, metadata, opsets, unknown fields) is carried over byte for byte.
/// Given the graph file's name, it also moves every initializer's inline bytes (<c>raw_data</c>) out of the rewritten
/// graph: the initializer becomes an external-data reference to where those bytes already are, inside the graph file
/// itself (its name as <c>location</c>, their byte <c>offset</c> and <c>length</c>, as ONNX's external data spells
/// it). The rewritten graph is then a few hundred kilobytes whatever the model's size, handed to ONNX Runtime from
/// memory, and the weights are read from the exported file once, as for an export that keeps them beside the graph.
/// ONNX field numbers: ModelProto.graph 7; GraphProto.node 1, initializer 5; NodeProto input 1, output 2, name 3,
/// op_type 4, domain 7; TensorProto dims 1, data_type 2, int64_data 7, name 8, raw_data 9, external_data 13,
/// data_location 14; StringStringEntryProto key 1, value 2.
/// </remarks>
internal static class LastPositionLogits
{
    /// <summary>Name of the hidden state at the last position, the output layer's new input.</summary>
    public const string LastHidden = "rank1/last_position/hidden";

    private const string NodeName = "rank1/last_position/Slice";
    private const string Starts = "rank1/last_position/starts";
    private const string Ends = "rank1/last_position/ends";
    private const string Axes = "rank1/last_position/axes";

    /// <summary>
    /// The operator types of the graph's nodes (<c>MatMulNBits</c>, <c>GroupQueryAttention</c>, ...), or null when the
    /// graph cannot be read. Reads the fields' headers and the nodes, never the weights.
    /// </summary>
    /// <param name="source">The model file.</param>
    public static IReadOnlySet<string>? OperatorTypes(Source source)
    {
        ArgumentNullException.ThrowIfNull(source);
        try
        {
            return ReadGraph(source, out _) is { } graph ? graph.Nodes.Select(n => n.Node.OpType).ToHashSet(StringComparer.Ordinal) : null;
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidDataException or IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// The model's top-level fields, its one graph's fields and that graph's nodes; null (with <paramref name="reason"/>)
    /// when the model has not exactly one graph.
    /// </summary>
    private static (List<Field> Top, List<Field> GraphFields, List<(Field Field, Node Node)> Nodes)? ReadGraph(Source source, out string reason)
    {
        var top = Fields(source, 0, source.Length);
        var graphs = top.Where(f => f.Number == 7).ToList();
        if (graphs.Count != 1)
        {
            reason = $"the model has {graphs.Count} graph fields, not one";
            return null;
        }

        var graphFields = Fields(source, graphs[0].ValueStart, graphs[0].ValueEnd);
        reason = string.Empty;
        return (top, graphFields, graphFields.Where(f => f.Number == 1).Select(f => (f, Node.Read(source, f))).ToList());
    }

    /// <summary>Inline initializers of at least this many bytes are referred to in the graph file rather than copied.</summary>
    internal const int MinExternalBytes = 1024;

    /// <summary>
    /// How to write the model of <paramref name="source"/> with its output layer on the last position only, or null
    /// (with <paramref name="reason"/>) when the graph does not have the shape the rewrite knows: the logits output made
    /// by a <c>MatMul</c> or <c>MatMulNBits</c> whose first input is the hidden state, directly or through one <c>Cast</c>.
    /// Reads the fields' headers and the nodes, never the weights.
    /// </summary>
    /// <param name="source">The exported model.</param>
    /// <param name="logits">The name of the graph's logits output.</param>
    /// <param name="files">
    /// Where the rewritten graph reads its weights from (<see cref="WeightFiles"/>); null keeps inline weights inline
    /// and external-data locations as they are.
    /// </param>
    /// <param name="reason">Why the graph is rewritten as it is, or why it is not.</param>
    public static Rewritten? Plan(Source source, string logits, WeightFiles? files, out string reason)
    {
        ArgumentNullException.ThrowIfNull(source);
        List<Field> top;
        List<Field> graphFields;
        List<(Field Field, Node Node)> nodes;
        Dictionary<long, byte[]> external;
        try
        {
            if (ReadGraph(source, out reason) is not { } graph)
            {
                return null;
            }

            (top, graphFields, nodes) = graph;
            external = files is null
                ? []
                : graphFields.Where(f => f.Number == 5 && f.WireType == WireFormat.WireType.LengthDelimited)
                    .Select(f => (f.Start, Tensor: ReferToInlineBytes(source, f, files.GraphFile) ?? Relocated(source, f, files.Relocate)))
                    .Where(t => t.Tensor is not null)
                    .ToDictionary(t => t.Start, t => t.Tensor!);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidDataException or IOException)
        {
            reason = $"the graph could not be read ({ex.Message})";
            return null;
        }

        if (nodes.Exists(n => n.Node.Name == NodeName || n.Node.Outputs.Contains(LastHidden)))
        {
            reason = "the graph already computes its logits on the last position only";
            return null;
        }

        (Field Field, Node Node)? Producer(string output) => nodes.FindIndex(n => n.Node.Outputs.Contains(output)) is var i and >= 0 ? nodes[i] : null;
        var target = Producer(logits);
        if (target is { Node.OpType: "Cast", Node.Domain: "" } cast && cast.Node.Inputs.Count == 1)
        {
            target = Producer(cast.Node.Inputs[0]);
        }

        if (target is not { } head || head.Node.OpType is not ("MatMul" or "MatMulNBits") || head.Node.Inputs.Count < 2 || head.Node.Inputs[0].Length == 0)
        {
            reason = $"the logits output '{logits}' is not made by a MatMul or MatMulNBits (through at most one Cast)";
            return null;
        }

        reason = $"'{head.Node.Name}' ({head.Node.OpType}) runs on the last position of '{head.Node.Inputs[0]}'";
        if (external.Count > 0)
        {
            reason += $"; {external.Count} initializers read where they are in '{files!.GraphFile}' or renamed external data, not copied";
        }

        return new Rewritten(source, top, graphFields, head.Field, SliceNode(head.Node.Inputs[0]), ReplaceFirstInput(source.Read(head.Field), LastHidden), external);
    }

    /// <summary>
    /// Where a rewritten graph, handed to ONNX Runtime from memory with an external-data folder, finds its weights:
    /// <paramref name="GraphFile"/> is the exported graph file (for its inline bytes), and <paramref name="Relocate"/>
    /// gives each external-data <c>location</c> the export wrote (relative to the graph's own folder) as it is to be
    /// written, both relative to that folder. They differ from the names in the model's folder when its files are links
    /// to files elsewhere (a Hugging Face cache snapshot links each file to a blob): ONNX Runtime resolves links, and
    /// refuses external data that resolves outside the folder it was given.
    /// </summary>
    /// <param name="GraphFile">The exported graph file, relative to the external-data folder.</param>
    /// <param name="Relocate">An external-data location as exported to the location to write.</param>
    internal sealed record WeightFiles(string GraphFile, Func<string, string> Relocate);

    /// <summary>
    /// The initializer (a TensorProto) in <paramref name="initializer"/> with its external-data <c>location</c> as
    /// <paramref name="relocate"/> gives it, or null when it has none or it is unchanged. Every other field is kept
    /// byte for byte.
    /// </summary>
    private static byte[]? Relocated(Source source, Field initializer, Func<string, string> relocate)
    {
        var fields = Fields(source, initializer.ValueStart, initializer.ValueEnd);
        if (!fields.Exists(f => f.Number == 13))
        {
            return null; // no external data: nothing to rename, and its bytes are not read
        }

        var changed = false;
        var tensor = new MemoryStream();
        var buffer = new byte[256];
        foreach (var field in fields)
        {
            if (field.Number == 13 && field.WireType == WireFormat.WireType.LengthDelimited && EntryOf(source.Read(field)) is ("location", { } location)
                && relocate(location) is var moved && moved != location)
            {
                WriteField(tensor, 13, Entry("location", moved));
                changed = true;
            }
            else
            {
                source.CopyTo(tensor, field.Start, field.End, buffer);
            }
        }

        return changed ? tensor.ToArray() : null;

        static (string? Key, string? Value) EntryOf(byte[] entry)
        {
            string? key = null, value = null;
            foreach (var f in Fields(new ArraySource(entry), 0, entry.Length).Where(f => f.WireType == WireFormat.WireType.LengthDelimited))
            {
                var text = System.Text.Encoding.UTF8.GetString(entry, (int)f.ValueStart, (int)(f.ValueEnd - f.ValueStart));
                (key, value) = f.Number switch { 1 => (text, value), 2 => (key, text), _ => (key, value) };
            }

            return (key, value);
        }
    }

    /// <summary>
    /// The initializer (a TensorProto) in <paramref name="initializer"/> with its inline bytes replaced by a reference to
    /// them in <paramref name="graphFile"/>, or null when it has no <c>raw_data</c> of at least
    /// <see cref="MinExternalBytes"/> (or already says where its data is). Every other field is kept byte for byte.
    /// </summary>
    private static byte[]? ReferToInlineBytes(Source source, Field initializer, string graphFile)
    {
        var fields = Fields(source, initializer.ValueStart, initializer.ValueEnd);
        var raw = fields.FindAll(f => f.Number == 9);
        if (raw.Count != 1 || raw[0].WireType != WireFormat.WireType.LengthDelimited || raw[0].ValueEnd - raw[0].ValueStart < MinExternalBytes
            || fields.Exists(f => f.Number is 13 or 14))
        {
            return null;
        }

        var tensor = new MemoryStream();
        var buffer = new byte[256];
        foreach (var field in fields.Where(f => f.Number != 9))
        {
            source.CopyTo(tensor, field.Start, field.End, buffer);
        }

        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        WriteField(tensor, 13, Entry("location", graphFile));
        WriteField(tensor, 13, Entry("offset", raw[0].ValueStart.ToString(invariant)));
        WriteField(tensor, 13, Entry("length", (raw[0].ValueEnd - raw[0].ValueStart).ToString(invariant)));
        tensor.Write([(14 << 3) | (byte)WireFormat.WireType.Varint, 1]); // data_location: EXTERNAL
        return tensor.ToArray();
    }

    /// <summary>A StringStringEntryProto (key 1, value 2): one of a TensorProto's external-data entries.</summary>
    private static byte[] Entry(string key, string value) => Message(o =>
    {
        o.WriteTag(1, WireFormat.WireType.LengthDelimited);
        o.WriteString(key);
        o.WriteTag(2, WireFormat.WireType.LengthDelimited);
        o.WriteString(value);
    });

    /// <summary>A rewrite ready to be written: the fields to copy from the source and the new pieces.</summary>
    internal sealed class Rewritten
    {
        private readonly Source _source;
        private readonly List<Field> _top;
        private readonly List<Field> _graph;
        private readonly Field _head;
        private readonly byte[] _slice;
        private readonly byte[] _newHead;
        private readonly byte[][] _initializers;
        private readonly Dictionary<long, byte[]> _external;
        private readonly long _graphLength;

        internal Rewritten(Source source, List<Field> top, List<Field> graph, Field head, byte[] slice, byte[] newHead, Dictionary<long, byte[]> external)
        {
            _source = source;
            _top = top;
            _graph = graph;
            _head = head;
            _slice = slice;
            _newHead = newHead;
            _external = external;
            _initializers = [Int64Tensor(Starts, -1), Int64Tensor(Ends, long.MaxValue), Int64Tensor(Axes, 1)];
            _graphLength = graph.Sum(f => external.TryGetValue(f.Start, out var tensor) ? FieldSize(5, tensor.Length) : f.End - f.Start)
                - (head.End - head.Start) + FieldSize(1, slice.Length) + FieldSize(1, newHead.Length)
                + _initializers.Sum(i => FieldSize(5, i.Length));
            Length = top.Sum(f => f.Number == 7 ? FieldSize(7, _graphLength) : f.End - f.Start);
        }

        /// <summary>How many initializers the rewritten graph reads from the exported graph file instead of holding them.</summary>
        public int ReferredInitializers => _external.Count;

        /// <summary>Bytes <see cref="WriteTo"/> writes.</summary>
        public long Length { get; }

        /// <summary>
        /// Writes the model: every field as it was, the graph with the Slice just before the output layer (nodes stay
        /// in topological order), the output layer reading the Slice's output, the initializers referred to in the graph
        /// file in place of their inline bytes, and the Slice's starts, ends and axes as new initializers.
        /// </summary>
        public void WriteTo(Stream output)
        {
            var buffer = new byte[1 << 20]; // one copy buffer for every field, the weights' included
            foreach (var field in _top)
            {
                if (field.Number != 7)
                {
                    _source.CopyTo(output, field.Start, field.End, buffer);
                    continue;
                }

                WriteHeader(output, 7, _graphLength);
                foreach (var g in _graph)
                {
                    if (g.Start == _head.Start)
                    {
                        WriteField(output, 1, _slice);
                        WriteField(output, 1, _newHead);
                    }
                    else if (_external.TryGetValue(g.Start, out var tensor))
                    {
                        WriteField(output, 5, tensor);
                    }
                    else
                    {
                        _source.CopyTo(output, g.Start, g.End, buffer);
                    }
                }

                foreach (var initializer in _initializers)
                {
                    WriteField(output, 5, initializer);
                }
            }
        }

        private static long FieldSize(int number, long length) => CodedOutputStream.ComputeTagSize(number) + CodedOutputStream.ComputeLengthSize(checked((int)length)) + length;
    }

    /// <summary>Where a serialized model is read from: a byte array or a file, read at offsets.</summary>
    internal abstract class Source
    {
        public abstract long Length { get; }

        /// <summary>Reads up to <paramref name="into"/>'s length from <paramref name="offset"/>; returns how many were read.</summary>
        public abstract int Read(long offset, Span<byte> into);

        public byte[] Read(Field field)
        {
            var bytes = new byte[field.ValueEnd - field.ValueStart];
            for (var done = 0; done < bytes.Length;)
            {
                var n = Read(field.ValueStart + done, bytes.AsSpan(done));
                if (n == 0)
                {
                    throw new InvalidDataException($"the model ends inside a field at byte {field.ValueStart}");
                }

                done += n;
            }

            return bytes;
        }

        public void CopyTo(Stream output, long start, long end, byte[] buffer)
        {
            for (var at = start; at < end;)
            {
                var n = Read(at, buffer.AsSpan(0, (int)Math.Min(buffer.Length, end - at)));
                if (n == 0)
                {
                    throw new InvalidDataException($"the model ends at byte {at}, inside a field that runs to {end}");
                }

                output.Write(buffer, 0, n);
                at += n;
            }
        }
    }

    internal sealed class ArraySource(byte[] bytes) : Source
    {
        public override long Length => bytes.Length;

        public override int Read(long offset, Span<byte> into)
        {
            var n = (int)Math.Clamp(bytes.Length - offset, 0, into.Length);
            bytes.AsSpan((int)offset, n).CopyTo(into);
            return n;
        }
    }

    internal sealed class FileSource(Microsoft.Win32.SafeHandles.SafeFileHandle file) : Source
    {
        public override long Length { get; } = RandomAccess.GetLength(file);

        public override int Read(long offset, Span<byte> into) => RandomAccess.Read(file, into, offset);
    }

    /// <summary>The fields of the message in [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="source"/>, in order; only their headers are read.</summary>
    private static List<Field> Fields(Source source, long start, long end)
    {
        var fields = new List<Field>();
        var buffer = new byte[20]; // a tag and a length: two varints of at most 5 and 10 bytes
        for (var at = start; at < end;)
        {
            var read = source.Read(at, buffer.AsSpan(0, (int)Math.Min(buffer.Length, end - at)));
            var input = new CodedInputStream(buffer, 0, read);
            var tag = input.ReadTag();
            var wireType = WireFormat.GetTagWireType(tag);
            long valueStart, valueEnd;
            if (wireType == WireFormat.WireType.LengthDelimited)
            {
                var length = input.ReadLength();
                valueStart = at + input.Position;
                valueEnd = valueStart + length;
                if (length < 0 || length > end - valueStart)
                {
                    throw new InvalidDataException($"a field of {length} bytes at byte {at} runs past its message");
                }
            }
            else
            {
                valueStart = at + input.Position;
                input.SkipLastField(); // varints and fixed values fit the header; a group (which ONNX does not use) fails here
                valueEnd = at + input.Position;
            }

            fields.Add(new Field(WireFormat.GetTagFieldNumber(tag), wireType, at, valueStart, valueEnd));
            at = valueEnd;
        }

        return fields;
    }

    private static void WriteField(Stream to, int number, byte[] value)
    {
        WriteHeader(to, number, value.Length);
        to.Write(value);
    }

    private static void WriteHeader(Stream to, int number, long length)
    {
        var header = new byte[CodedOutputStream.ComputeTagSize(number) + CodedOutputStream.ComputeLengthSize(checked((int)length))];
        var output = new CodedOutputStream(header);
        output.WriteTag(number, WireFormat.WireType.LengthDelimited);
        output.WriteLength((int)length);
        output.Flush();
        to.Write(header);
    }

    /// <summary>The node (its serialized fields) with its first input (field 1) renamed; every other field as it was.</summary>
    private static byte[] ReplaceFirstInput(byte[] node, string input)
    {
        var result = new MemoryStream(node.Length + input.Length);
        var replaced = false;
        foreach (var field in Fields(new ArraySource(node), 0, node.Length))
        {
            if (!replaced && field.Number == 1 && field.WireType == WireFormat.WireType.LengthDelimited)
            {
                WriteField(result, 1, System.Text.Encoding.UTF8.GetBytes(input));
                replaced = true;
            }
            else
            {
                result.Write(node, (int)field.Start, (int)(field.End - field.Start));
            }
        }

        return result.ToArray();
    }

    /// <summary>Slice(hidden, [-1], [int64 max], [1]): [batch, positions, hidden] to [batch, 1, hidden].</summary>
    private static byte[] SliceNode(string hidden) => Message(o =>
    {
        foreach (var input in new[] { hidden, Starts, Ends, Axes })
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteString(input);
        }

        o.WriteTag(2, WireFormat.WireType.LengthDelimited);
        o.WriteString(LastHidden);
        o.WriteTag(3, WireFormat.WireType.LengthDelimited);
        o.WriteString(NodeName);
        o.WriteTag(4, WireFormat.WireType.LengthDelimited);
        o.WriteString("Slice");
    });

    /// <summary>The int64 tensor [<paramref name="value"/>] of shape [1], named <paramref name="name"/>.</summary>
    private static byte[] Int64Tensor(string name, long value) => Message(o =>
    {
        o.WriteTag(1, WireFormat.WireType.Varint);
        o.WriteInt64(1);
        o.WriteTag(2, WireFormat.WireType.Varint);
        o.WriteInt32(7); // TensorProto.INT64
        o.WriteTag(7, WireFormat.WireType.Varint);
        o.WriteInt64(value);
        o.WriteTag(8, WireFormat.WireType.LengthDelimited);
        o.WriteString(name);
    });

    private static byte[] Message(Action<CodedOutputStream> write)
    {
        var stream = new MemoryStream();
        using (var output = new CodedOutputStream(stream, leaveOpen: true))
        {
            write(output);
        }

        return stream.ToArray();
    }

    /// <summary>One field of a message: its tag at <see cref="Start"/>, its value in [<see cref="ValueStart"/>, <see cref="ValueEnd"/>).</summary>
    internal readonly record struct Field(int Number, WireFormat.WireType WireType, long Start, long ValueStart, long ValueEnd)
    {
        public long End => ValueEnd;
    }

    /// <summary>What the rewrite reads of a NodeProto.</summary>
    private sealed record Node(List<string> Inputs, List<string> Outputs, string Name, string OpType, string Domain)
    {
        public static Node Read(Source source, Field field)
        {
            var bytes = source.Read(field);
            var node = new Node([], [], "", "", "");
            var name = node.Name;
            var op = node.OpType;
            var domain = node.Domain;
            foreach (var f in Fields(new ArraySource(bytes), 0, bytes.Length))
            {
                if (f.WireType != WireFormat.WireType.LengthDelimited || f.Number is not (1 or 2 or 3 or 4 or 7))
                {
                    continue;
                }

                var text = System.Text.Encoding.UTF8.GetString(bytes, (int)f.ValueStart, (int)(f.ValueEnd - f.ValueStart));
                switch (f.Number)
                {
                    case 1: node.Inputs.Add(text); break;
                    case 2: node.Outputs.Add(text); break;
                    case 3: name = text; break;
                    case 4: op = text; break;
                    default: domain = text == "ai.onnx" ? "" : text; break;
                }
            }

            return node with { Name = name, OpType = op, Domain = domain };
        }
    }
}
