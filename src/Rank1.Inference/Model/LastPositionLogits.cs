using Google.Protobuf;

namespace Rank1.Inference.Model;

/// <summary>
/// Rewrites a causal LM's ONNX graph so that its output layer runs on the last position only. Exported graphs (the
/// onnxruntime-genai builder's and Optimum's alike) return logits for every position they are fed, and ONNX Runtime runs
/// every node whatever outputs are asked for; but every call the engine makes reads only the last position of each row
/// (a prompt's prefill is fed one row at a time or padded on the left, a decode step feeds one token). The output layer
/// (vocabulary × hidden, a quarter of a 0.5B model's multiply-adds per token) thus ran on every prompt token for nothing,
/// and a 128-position chunk returned 128 × vocabulary logits. The rewrite puts a <c>Gather</c> of the last position
/// (index -1 on axis 1) in front of the output layer's <c>MatMul</c> / <c>MatMulNBits</c>, as llama.cpp computes logits
/// only for the tokens asked for. The logits output then has one position per row; nothing else in the graph changes.
/// </summary>
/// <remarks>
/// It edits the serialized <c>ModelProto</c> at the wire level (Google.Protobuf's coded streams), so every field it
/// does not touch (weights, external-data references, metadata, opsets, unknown fields) is carried over byte for byte.
/// ONNX field numbers: ModelProto.graph 7; GraphProto.node 1, initializer 5; NodeProto input 1, output 2, name 3,
/// op_type 4, attribute 5, domain 7; AttributeProto name 1, i 3, type 20; TensorProto dims 1, data_type 2, int64_data 7, name 8.
/// </remarks>
internal static class LastPositionLogits
{
    /// <summary>Name of the hidden state at the last position, the output layer's new input.</summary>
    public const string LastHidden = "rank1/last_position/hidden";

    private const string IndexName = "rank1/last_position/index";
    private const string NodeName = "rank1/last_position/Gather";

    /// <summary>
    /// The model with its output layer on the last position only, or null (with <paramref name="reason"/>) when the
    /// graph does not have the shape the rewrite knows: the logits output made by a <c>MatMul</c> or <c>MatMulNBits</c>
    /// whose first input is the hidden state, directly or through one <c>Cast</c>.
    /// </summary>
    public static byte[]? Rewrite(byte[] model, string logits, out string reason)
    {
        ArgumentNullException.ThrowIfNull(model);
        List<Field> top;
        List<Field> graphFields;
        List<(Field Field, Node Node)> nodes;
        try
        {
            top = Fields(model, 0, model.Length);
            var graphs = top.Where(f => f.Number == 7).ToList();
            if (graphs.Count != 1)
            {
                reason = $"the model has {graphs.Count} graph fields, not one";
                return null;
            }

            graphFields = Fields(model, graphs[0].ValueStart, graphs[0].ValueEnd);
            nodes = graphFields.Where(f => f.Number == 1).Select(f => (f, Node.Read(model, f))).ToList();
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidDataException)
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

        // The graph: every field as it was, the Gather just before the output layer (nodes stay in topological order),
        // the output layer reading the Gather's output, and the index as a new initializer.
        var graph = new MemoryStream(graphFields[^1].End - graphFields[0].Start + 256);
        foreach (var field in graphFields)
        {
            if (field.Start == head.Field.Start)
            {
                WriteField(graph, 1, Gather(head.Node.Inputs[0]));
                WriteField(graph, 1, ReplaceFirstInput(model, head.Field, LastHidden));
            }
            else
            {
                graph.Write(model, field.Start, field.End - field.Start);
            }
        }

        WriteField(graph, 5, IndexTensor());

        var result = new MemoryStream(model.Length + 256);
        foreach (var field in top)
        {
            if (field.Number == 7)
            {
                WriteField(result, 7, graph.ToArray());
            }
            else
            {
                result.Write(model, field.Start, field.End - field.Start);
            }
        }

        reason = $"'{head.Node.Name}' ({head.Node.OpType}) runs on the last position of '{head.Node.Inputs[0]}'";
        return result.ToArray();
    }

    /// <summary>The fields of the message in <paramref name="buffer"/>[<paramref name="start"/>, <paramref name="end"/>), in order.</summary>
    private static List<Field> Fields(byte[] buffer, int start, int end)
    {
        var fields = new List<Field>();
        for (var at = start; at < end;)
        {
            // A stream per field: a length-delimited value is skipped by starting the next stream after it.
            var input = new CodedInputStream(buffer, at, end - at);
            var tag = input.ReadTag();
            var wireType = WireFormat.GetTagWireType(tag);
            int valueStart, valueEnd;
            if (wireType == WireFormat.WireType.LengthDelimited)
            {
                var length = input.ReadLength();
                valueStart = (int)input.Position;
                valueEnd = valueStart + length;
                if (length < 0 || length > end - valueStart)
                {
                    throw new InvalidDataException($"a field of {length} bytes at byte {at} runs past its message");
                }
            }
            else
            {
                valueStart = (int)input.Position;
                input.SkipLastField();
                valueEnd = (int)input.Position;
            }

            fields.Add(new Field(WireFormat.GetTagFieldNumber(tag), wireType, at, valueStart, valueEnd));
            at = valueEnd;
        }

        return fields;
    }

    private static void WriteField(MemoryStream to, int number, byte[] value)
    {
        var header = new byte[CodedOutputStream.ComputeTagSize(number) + CodedOutputStream.ComputeLengthSize(value.Length)];
        var output = new CodedOutputStream(header);
        output.WriteTag(number, WireFormat.WireType.LengthDelimited);
        output.WriteLength(value.Length);
        output.Flush();
        to.Write(header);
        to.Write(value);
    }

    /// <summary>The node with its first input (field 1) renamed; every other field as it was.</summary>
    private static byte[] ReplaceFirstInput(byte[] model, Field node, string input)
    {
        var result = new MemoryStream(node.ValueEnd - node.ValueStart + input.Length);
        var replaced = false;
        foreach (var field in Fields(model, node.ValueStart, node.ValueEnd))
        {
            if (!replaced && field.Number == 1 && field.WireType == WireFormat.WireType.LengthDelimited)
            {
                WriteField(result, 1, System.Text.Encoding.UTF8.GetBytes(input));
                replaced = true;
            }
            else
            {
                result.Write(model, field.Start, field.End - field.Start);
            }
        }

        return result.ToArray();
    }

    /// <summary>Gather(hidden, index) on axis 1: [batch, positions, hidden] to [batch, 1, hidden].</summary>
    private static byte[] Gather(string hidden)
    {
        var axis = Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteString("axis");
            o.WriteTag(3, WireFormat.WireType.Varint);
            o.WriteInt64(1);
            o.WriteTag(20, WireFormat.WireType.Varint);
            o.WriteEnum(2); // AttributeProto.INT
        });
        return Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteString(hidden);
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteString(IndexName);
            o.WriteTag(2, WireFormat.WireType.LengthDelimited);
            o.WriteString(LastHidden);
            o.WriteTag(3, WireFormat.WireType.LengthDelimited);
            o.WriteString(NodeName);
            o.WriteTag(4, WireFormat.WireType.LengthDelimited);
            o.WriteString("Gather");
            o.WriteTag(5, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFrom(axis));
        });
    }

    /// <summary>The int64 tensor [-1] of shape [1].</summary>
    private static byte[] IndexTensor() => Message(o =>
    {
        o.WriteTag(1, WireFormat.WireType.Varint);
        o.WriteInt64(1);
        o.WriteTag(2, WireFormat.WireType.Varint);
        o.WriteInt32(7); // TensorProto.INT64
        o.WriteTag(7, WireFormat.WireType.Varint);
        o.WriteInt64(-1);
        o.WriteTag(8, WireFormat.WireType.LengthDelimited);
        o.WriteString(IndexName);
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
    private readonly record struct Field(int Number, WireFormat.WireType WireType, int Start, int ValueStart, int ValueEnd)
    {
        public int End => ValueEnd;
    }

    /// <summary>What the rewrite reads of a NodeProto.</summary>
    private sealed record Node(List<string> Inputs, List<string> Outputs, string Name, string OpType, string Domain)
    {
        public static Node Read(byte[] model, Field field)
        {
            var node = new Node([], [], "", "", "");
            var name = node.Name;
            var op = node.OpType;
            var domain = node.Domain;
            foreach (var f in Fields(model, field.ValueStart, field.ValueEnd))
            {
                if (f.WireType != WireFormat.WireType.LengthDelimited || f.Number is not (1 or 2 or 3 or 4 or 7))
                {
                    continue;
                }

                var text = System.Text.Encoding.UTF8.GetString(model, f.ValueStart, f.ValueEnd - f.ValueStart);
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
