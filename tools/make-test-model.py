#!/usr/bin/env python3
"""Writes a random-weight Qwen2-architecture decoder as an ONNX model folder that Rank1.Inference loads.

Architecture (as Qwen2): token embedding, N decoder layers of RMSNorm -> grouped-query attention with
rotary positions and q/k/v biases -> residual -> RMSNorm -> SwiGLU MLP -> residual, a final RMSNorm and
logits from the tied embedding matrix. Only standard ONNX ops (opset 17), so any ONNX Runtime runs it.

Conventions (--convention):
  optimum  int64 input_ids, attention_mask, position_ids, past_key_values.N.key/value -> logits,
           present.N.key/value (what `optimum-cli export onnx --task text-generation-with-past` writes).
  builder  int32 input_ids, attention_mask, NO position_ids (positions come from the attention mask inside
           the graph), standard ops otherwise. Same weights for the same seed.
  genai    the graph the onnxruntime-genai model builder writes for Qwen2 on CPU (read from its source,
           src/python/py/models/builders/base.py): int64 input_ids, attention_mask, no position_ids;
           seqlens_k / total_sequence_length computed from attention_mask; packed QKV MatMul + Add;
           GroupQueryAttention (com.microsoft) with do_rotary over cos_cache/sin_cache; SimplifiedLayerNormalization
           then SkipSimplifiedLayerNormalization; SiLU as Sigmoid x Mul; the tied embedding written twice (Gather
           input, lm_head.MatMul.weight output layer); int4: every MatMul incl. /lm_head/MatMul as MatMulNBits
           (symmetric, block 32 unless --int4-block, accuracy_level 4, scales as onnxruntime's quantizer computes them); the builder's
           node, initializer and I/O names and its genai_config.json (past_present_share_buffer true). fp16 is the same
           graph in fp16 (the builder writes that GQA graph for CUDA/WebGPU; for CPU fp16 it falls back to
           MultiHeadAttention, which this generator does not write). Same weights for the same seed and size.

Sizes (--size): tiny (tests, demo: 2 layers, hidden 32), tiny64 (tests of genai graphs: hidden 64, head size 16, the
least GroupQueryAttention's rotary accepts) and qwen2.5-0.5b (24 layers, hidden 896, 14 heads,
2 KV heads, MLP 4864: benchmarks only, ~2 GB in fp32, never committed).

The vocabulary size is the real Qwen one (151,936 rows) so the real tokenizer drives the model; the
tokenizer files are copied from --tokenizer-dir. Fixed seed: the same arguments write the same weights.

Needs only python3-onnx and python3-numpy (Debian packages).
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZES = {
    "tiny": dict(layers=2, hidden=32, heads=4, kv_heads=2, intermediate=64),
    # Head size 16: GroupQueryAttention with rotary inside (--convention genai) needs a multiple of 16.
    "tiny64": dict(layers=2, hidden=64, heads=4, kv_heads=2, intermediate=128),
    "qwen2.5-0.5b": dict(layers=24, hidden=896, heads=14, kv_heads=2, intermediate=4864),
}
VOCAB = 151936
ROPE_THETA = 1000000.0
RMS_EPS = 1e-6


class Graph:
    def __init__(self, dtype):
        self.nodes, self.inits, self.n = [], [], 0
        self.dtype = dtype  # numpy float dtype of weights and activations

    def name(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def const(self, value, dtype=None):
        arr = np.array(value, dtype=dtype if dtype is not None else self.dtype)
        return self.init(self.name("const"), arr)

    def op(self, op_type, inputs, hint=None, outputs=None, **attrs):
        outs = outputs or [self.name(hint or op_type.lower())]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), **attrs))
        return outs[0] if len(outs) == 1 else outs


INT4_BLOCK = 32
INT4_ACCURACY_LEVEL = 0  # set by --int4-accuracy-level: 0 leaves it unset (fp32 compute), 4 computes with int8 activations


def int4_quantize(w):
    """w [K, N] -> (codes [N, blocks, 32] in 0..15 around zero point 8, scales [N, blocks]): one absmax/7 scale per block of K."""
    k, n = w.shape
    blocks = (k + INT4_BLOCK - 1) // INT4_BLOCK
    wt = np.zeros((n, blocks * INT4_BLOCK), dtype=np.float32)
    wt[:, :k] = w.T.astype(np.float32)
    wt = wt.reshape(n, blocks, INT4_BLOCK)
    scales = np.abs(wt).max(axis=2) / 7.0
    scales[scales == 0] = 1.0
    q = np.clip(np.round(wt / scales[:, :, None]) + 8, 0, 15).astype(np.uint8)
    return q, scales.astype(np.float32)


def int4_dequantize(w):
    """The fp32 weights an int4 graph computes with: the reference twin of --precision int4."""
    k, n = w.shape
    q, scales = int4_quantize(w)
    deq = ((q.astype(np.float32) - 8.0) * scales[:, :, None]).reshape(n, -1)[:, :k]
    return deq.T.copy()


def int4_matmul(g, x, weight_name, w, outputs=None):
    """x @ w with w [K, N] stored as com.microsoft MatMulNBits: 4-bit, symmetric around 8, one fp32 scale per block."""
    k, n = w.shape
    q, scales = int4_quantize(w)
    packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)  # low nibble first
    b = g.init(weight_name + ".int4", packed)
    sc = g.init(weight_name + ".scales", scales.reshape(-1).astype(np.float32))
    attrs = {"accuracy_level": INT4_ACCURACY_LEVEL} if INT4_ACCURACY_LEVEL else {}
    return g.op("MatMulNBits", [x, b, sc], domain="com.microsoft", outputs=outputs, K=k, N=n, bits=4, block_size=INT4_BLOCK,
                **attrs)


def rms_norm(g, x, weight):
    sq = g.op("Mul", [x, x])
    mean = g.op("ReduceMean", [sq], axes=[-1], keepdims=1)
    denom = g.op("Sqrt", [g.op("Add", [mean, g.const(RMS_EPS)])])
    return g.op("Mul", [g.op("Div", [x, denom]), weight])


def rotate_half(g, x, half):
    x1 = g.op("Slice", [x, g.const([0], np.int64), g.const([half], np.int64), g.const([-1], np.int64)])
    x2 = g.op("Slice", [x, g.const([half], np.int64), g.const([2 * half], np.int64), g.const([-1], np.int64)])
    return g.op("Concat", [g.op("Neg", [x2]), x1], axis=-1)


def build(args):
    cfg = SIZES[args.size]
    L, H, nh, kvh, I = cfg["layers"], cfg["hidden"], cfg["heads"], cfg["kv_heads"], cfg["intermediate"]
    hd = H // nh
    rep = nh // kvh
    wdtype = np.float16 if args.precision == "fp16" else np.float32
    onnx_dtype = TensorProto.FLOAT16 if args.precision == "fp16" else TensorProto.FLOAT
    rng = np.random.default_rng(args.seed)
    g = Graph(wdtype)

    def w(shape, std):
        return (rng.standard_normal(shape, dtype=np.float32) * std).astype(wdtype)

    # Weights are drawn in a fixed order so both conventions get identical weights for one seed.
    # The embedding is scaled so that logits are spread (random models otherwise tie at the argmax).
    embed_w = w((VOCAB, H), args.embed_std)
    embed = g.init("model.embed_tokens.weight", embed_w)
    ids_type = TensorProto.INT64 if args.convention == "optimum" else TensorProto.INT32

    inputs = [
        helper.make_tensor_value_info("input_ids", ids_type, ["batch_size", "sequence_length"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
    ]
    if args.convention == "optimum":
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]))
    outputs = [helper.make_tensor_value_info("logits", onnx_dtype, ["batch_size", "sequence_length", VOCAB])]
    for i in range(L):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", onnx_dtype,
                                                        ["batch_size", kvh, "past_sequence_length", hd]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", onnx_dtype,
                                                         ["batch_size", kvh, "total_sequence_length", hd]))

    ids = "input_ids" if args.convention == "optimum" else g.op("Cast", ["input_ids"], to=TensorProto.INT64)
    x = g.op("Gather", [embed, ids], axis=0)  # [B,S,H]

    # Shapes: S (new tokens), T (total = past + new), P = T - S.
    ids_shape = g.op("Shape", ["input_ids"])
    S = g.op("Gather", [ids_shape, g.const(1, np.int64)], axis=0)
    T = g.op("Gather", [g.op("Shape", ["attention_mask"]), g.const(1, np.int64)], axis=0)
    P = g.op("Sub", [T, S])

    if args.convention == "optimum":
        pos = "position_ids"
    else:
        # Builder convention: position = (number of attended tokens so far) - 1, for the last S slots.
        cums = g.op("CumSum", ["attention_mask", g.const(1, np.int64)])
        pos_all = g.op("Sub", [cums, g.const(1, np.int64)])
        pos_all = g.op("Max", [pos_all, g.const(0, np.int64)])
        pos = g.op("Slice", [pos_all, g.op("Unsqueeze", [P, g.const([0], np.int64)]),
                             g.op("Unsqueeze", [T, g.const([0], np.int64)]), g.const([1], np.int64)])

    # Rotary tables: freqs[b,s,j] = pos[b,s] * inv_freq[j]; cos/sin of concat(freqs, freqs): [B,1,S,hd].
    inv_freq = (1.0 / (ROPE_THETA ** (np.arange(0, hd, 2, dtype=np.float64) / hd))).astype(np.float32)
    posf = g.op("Unsqueeze", [g.op("Cast", [pos], to=TensorProto.FLOAT), g.const([2], np.int64)])
    freqs = g.op("Mul", [posf, g.const(inv_freq, np.float32)])
    emb = g.op("Concat", [freqs, freqs], axis=-1)
    cos = g.op("Unsqueeze", [g.op("Cos", [emb]), g.const([1], np.int64)])
    sin = g.op("Unsqueeze", [g.op("Sin", [emb]), g.const([1], np.int64)])
    if wdtype == np.float16:
        cos = g.op("Cast", [cos], to=TensorProto.FLOAT16)
        sin = g.op("Cast", [sin], to=TensorProto.FLOAT16)

    # Mask [B,1,S,T]: key j visible to query i (absolute P+i) when j <= P+i and attention_mask[b,j] == 1.
    key_idx = g.op("Range", [g.const(0, np.int64), T, g.const(1, np.int64)])
    q_idx = g.op("Range", [P, T, g.const(1, np.int64)])
    causal = g.op("LessOrEqual", [g.op("Unsqueeze", [key_idx, g.const([0], np.int64)]),
                                  g.op("Unsqueeze", [q_idx, g.const([1], np.int64)])])  # [S,T]
    pad = g.op("Equal", [g.op("Unsqueeze", ["attention_mask", g.const([1, 2], np.int64)]), g.const(1, np.int64)])
    allowed = g.op("And", [g.op("Unsqueeze", [causal, g.const([0, 1], np.int64)]), pad])  # [B,1,S,T]
    neg = -1e4 if wdtype == np.float16 else -1e9
    bias = g.op("Where", [allowed, g.const(0.0), g.const(neg)])

    scale = g.const(1.0 / np.sqrt(hd))
    for i in range(L):
        p = f"model.layers.{i}."
        ln1 = g.init(p + "input_layernorm.weight", (1.0 + w((H,), 0.1)).astype(wdtype))
        wq, bq = w((H, nh * hd), args.std), g.init(p + "self_attn.q_proj.bias", w((nh * hd,), args.std))
        wk, bk = w((H, kvh * hd), args.std), g.init(p + "self_attn.k_proj.bias", w((kvh * hd,), args.std))
        wv, bv = w((H, kvh * hd), args.std), g.init(p + "self_attn.v_proj.bias", w((kvh * hd,), args.std))
        wo = w((nh * hd, H), args.std)
        ln2 = g.init(p + "post_attention_layernorm.weight", (1.0 + w((H,), 0.1)).astype(wdtype))
        wg, wu, wd = w((H, I), args.std), w((H, I), args.std), w((I, H), args.std)

        def mm(x_in, name, array):
            # Projections: a plain MatMul, or 4-bit MatMulNBits for --precision int4. Same draws either way.
            if args.precision == "int4":
                return int4_matmul(g, x_in, p + name, array)
            if args.precision == "int4-reference":
                array = int4_dequantize(array)  # fp32 MatMul over exactly the weights the int4 graph holds
            return g.op("MatMul", [x_in, g.init(p + name, array)])

        h = rms_norm(g, x, ln1)
        q = g.op("Add", [mm(h, "self_attn.q_proj.weight", wq), bq])
        k = g.op("Add", [mm(h, "self_attn.k_proj.weight", wk), bk])
        v = g.op("Add", [mm(h, "self_attn.v_proj.weight", wv), bv])
        q = g.op("Transpose", [g.op("Reshape", [q, g.const([0, 0, nh, hd], np.int64)])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [k, g.const([0, 0, kvh, hd], np.int64)])], perm=[0, 2, 1, 3])
        v = g.op("Transpose", [g.op("Reshape", [v, g.const([0, 0, kvh, hd], np.int64)])], perm=[0, 2, 1, 3])
        q = g.op("Add", [g.op("Mul", [q, cos]), g.op("Mul", [rotate_half(g, q, hd // 2), sin])])
        k = g.op("Add", [g.op("Mul", [k, cos]), g.op("Mul", [rotate_half(g, k, hd // 2), sin])])
        k_all = g.op("Concat", [f"past_key_values.{i}.key", k], axis=2, outputs=[f"present.{i}.key"])
        v_all = g.op("Concat", [f"past_key_values.{i}.value", v], axis=2, outputs=[f"present.{i}.value"])

        def repeat_kv(t):
            # [B,kvh,T,hd] -> [B,kvh,rep,T,hd] -> [B,nh,T,hd]
            t5 = g.op("Unsqueeze", [t, g.const([2], np.int64)])
            shp = g.op("Shape", [t5])
            tgt = g.op("Mul", [shp, g.const([1, 1, rep, 1, 1], np.int64)])
            return g.op("Reshape", [g.op("Expand", [t5, tgt]), g.const([0, nh, -1, hd], np.int64)])

        kr, vr = repeat_kv(k_all), repeat_kv(v_all)
        scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [kr], perm=[0, 1, 3, 2])]), scale])
        probs = g.op("Softmax", [g.op("Add", [scores, bias])], axis=-1)
        attn = g.op("Transpose", [g.op("MatMul", [probs, vr])], perm=[0, 2, 1, 3])
        attn = mm(g.op("Reshape", [attn, g.const([0, 0, nh * hd], np.int64)]), "self_attn.o_proj.weight", wo)
        x = g.op("Add", [x, attn])

        h2 = rms_norm(g, x, ln2)
        gate = mm(h2, "mlp.gate_proj.weight", wg)
        act = g.op("Mul", [gate, g.op("Sigmoid", [gate])])
        mlp = mm(g.op("Mul", [act, mm(h2, "mlp.up_proj.weight", wu)]), "mlp.down_proj.weight", wd)
        x = g.op("Add", [x, mlp])

    norm_w = g.init("model.norm.weight", (1.0 + w((H,), 0.1)).astype(wdtype))
    x = rms_norm(g, x, norm_w)
    if args.precision in ("int4", "int4-reference") and args.int4_output_layer == "int4":
        # The output layer quantized too, as the onnxruntime-genai builder's int4 does (/lm_head/MatMul is a MatMulNBits
        # over its own copy of the tied matrix): blocks of 32 along the hidden size of each embedding row. The input
        # embedding (Gather) stays fp32.
        if args.precision == "int4":
            int4_matmul(g, x, "lm_head.weight", embed_w.T, outputs=["logits"])
            g.nodes[-1].name = "/lm_head/MatMul_Q4"  # the builder's name for it
        else:
            g.op("MatMul", [x, g.init("lm_head.weight", int4_dequantize(embed_w.T))], outputs=["logits"])
    else:
        embed_t = g.op("Transpose", [embed], perm=[1, 0])
        g.op("MatMul", [x, embed_t], outputs=["logits"])
    if args.deform_batch == "rounding":
        # Test-only, as the genai graph's (build_genai): at a step of more than one row every row's logits scaled by
        # 1 + 1e-2, a function of its own tokens only. The output layer's node writes "raw_logits" instead.
        g.nodes[-1].output[0] = "raw_logits"
        rows = g.op("Shape", ["input_ids"], start=0, end=1)
        several = g.op("Cast", [g.op("Greater", [rows, g.const([1], np.int64)])], to=onnx_dtype)
        scale = g.op("Add", [g.const([1.0]), g.op("Mul", [several, g.const([1e-2])])])
        g.op("Mul", ["raw_logits", scale], outputs=["logits"])

    graph = helper.make_graph(g.nodes, "rank1-test-qwen2", inputs, outputs, g.inits)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.microsoft", 1)] if args.precision == "int4" else [])
    model = helper.make_model(graph, opset_imports=opsets,
                              producer_name="rank1-searchbridge/tools/make-test-model.py")
    model.ir_version = 8
    return model, dict(L=L, H=H, nh=nh, kvh=kvh, hd=hd, I=I)


def mlas_int4_quantize(w):
    """w [K, N] -> (codes [N, blocks, 32] in 0..15 around 8, scales [N * blocks]) as the onnxruntime-genai builder's int4
    quantizes (onnxruntime's MatMulNBitsQuantizer, DEFAULT method, symmetric): per block of K, the element of largest
    magnitude, sign kept, over -8 is the scale (so it maps to code 0), codes = clip(round(w / scale) + 8, 0, 15)."""
    k, n = w.shape
    blocks = (k + INT4_BLOCK - 1) // INT4_BLOCK
    wt = np.zeros((n, blocks * INT4_BLOCK), dtype=np.float32)
    wt[:, :k] = w.T.astype(np.float32)
    wt = wt.reshape(n, blocks, INT4_BLOCK)
    hi, lo = wt.max(axis=2), wt.min(axis=2)
    scales = np.where(np.abs(hi) > np.abs(lo), hi, lo) / -8.0
    safe = np.where(scales == 0, 1.0, scales)
    q = np.where(scales[:, :, None] == 0, 8, np.clip(np.round(wt / safe[:, :, None]) + 8, 0, 15)).astype(np.uint8)
    return q, scales.astype(np.float32).reshape(-1)


def draw_weights(args, wdtype):
    """The random weights of build(), drawn in the same order from the same seed: the same model in every convention."""
    cfg = SIZES[args.size]
    L, H, nh, kvh, I = cfg["layers"], cfg["hidden"], cfg["heads"], cfg["kv_heads"], cfg["intermediate"]
    hd = H // nh
    rng = np.random.default_rng(args.seed)

    def w(shape, std):
        return (rng.standard_normal(shape, dtype=np.float32) * std).astype(wdtype)

    embed = w((VOCAB, H), args.embed_std)
    layers = []
    for _ in range(L):
        d = {"ln1": (1.0 + w((H,), 0.1)).astype(wdtype)}
        d["wq"], d["bq"] = w((H, nh * hd), args.std), w((nh * hd,), args.std)
        d["wk"], d["bk"] = w((H, kvh * hd), args.std), w((kvh * hd,), args.std)
        d["wv"], d["bv"] = w((H, kvh * hd), args.std), w((kvh * hd,), args.std)
        d["wo"] = w((nh * hd, H), args.std)
        d["ln2"] = (1.0 + w((H,), 0.1)).astype(wdtype)
        d["wg"], d["wu"], d["wd"] = w((H, I), args.std), w((H, I), args.std), w((I, H), args.std)
        layers.append(d)
    norm = (1.0 + w((H,), 0.1)).astype(wdtype)
    return embed, layers, norm


GENAI_CONTEXT = 32768  # max_position_embeddings of Qwen2.5-0.5B: the builder's context_length and rotary cache length


def build_genai(args):
    """The graph the onnxruntime-genai model builder (src/python/py/models/builders/base.py) writes for Qwen2 on CPU:
    GroupQueryAttention with packed QKV and rotary inside (do_rotary, cos/sin caches), seqlens_k and total_sequence_length
    from attention_mask, (Skip)SimplifiedLayerNormalization, SiLU as Sigmoid x Mul, the tied embedding written twice
    (the input embedding a Gather over model.embed_tokens.weight, the output layer its own lm_head.MatMul.weight), and for
    int4 every MatMul, /lm_head/MatMul included, as MatMulNBits (symmetric, block 32, accuracy_level 4), node and
    initializer names as the builder and onnxruntime's MatMulNBitsQuantizer write them."""
    cfg = SIZES[args.size]
    L, H, nh, kvh, I = cfg["layers"], cfg["hidden"], cfg["heads"], cfg["kv_heads"], cfg["intermediate"]
    hd = H // nh
    fp16 = args.precision == "fp16"
    wdtype = np.float16 if fp16 else np.float32
    io = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    embed_w, layers, norm_w = draw_weights(args, wdtype)
    nodes, inits, names = [], [], set()

    def init(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op, inputs, outputs, name, domain="", **attrs):
        for i in inputs:  # the builder's constants are Constant nodes named after their value
            if i.startswith("/model/constants/") and i not in names:
                names.add(i)
                path = i.split("/")
                value = np.array(json.loads(path[-1]), dtype={"INT64": np.int64, "INT32": np.int32}[path[-2]])
                nodes.append(helper.make_node("Constant", [], [i], name=i.replace("constants", "constant_nodes"),
                                              value=numpy_helper.from_array(value, i)))
        nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain or None, **attrs))
        return outputs[0]

    def matmul(name, x, weight, output=None):
        # name like /model/layers.0/attn/o_proj/MatMul; weight [K, N]; output defaults to {name}/output_0
        out = output or f"{name}/output_0"
        wname = name[1:].replace("/", ".") + ".weight"
        if args.precision != "int4":
            return node("MatMul", [x, init(wname, weight.astype(wdtype))], [out], name)
        k, n = weight.shape
        q, scales = mlas_int4_quantize(weight)
        packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)  # [N, blocks, 16], low nibble first
        return node("MatMulNBits", [x, init(wname + "_Q4", packed), init(wname + "_scales", scales)], [out], name + "_Q4",
                    domain="com.microsoft", K=k, N=n, bits=4, block_size=INT4_BLOCK, accuracy_level=4)

    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", io, ["batch_size", "sequence_length", VOCAB])]
    for i in range(L):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", io,
                                                        ["batch_size", kvh, "past_sequence_length", "kv_cache_dim"]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", io,
                                                         ["batch_size", kvh, "total_sequence_length", "kv_cache_dim"]))

    # seqlens_k = sum(attention_mask) - 1 and total_sequence_length = attention_mask.shape[1], both int32.
    m = "/model/attn_mask_reformat/attn_mask_subgraph"
    node("ReduceSum", ["attention_mask", "/model/constants/INT64/[1]"], [f"{m}/ReduceSum/output_0"], f"{m}/ReduceSum", keepdims=0)
    node("Sub", [f"{m}/ReduceSum/output_0", "/model/constants/INT64/1"], [f"{m}/Sub/output_0"], f"{m}/Sub")
    seqlens_k = node("Cast", [f"{m}/Sub/output_0"], [f"{m}/Sub/Cast/output_0"], f"{m}/Sub/Cast", to=TensorProto.INT32)
    node("Shape", ["attention_mask"], [f"{m}/Shape/output_0"], f"{m}/Shape")
    node("Gather", [f"{m}/Shape/output_0", "/model/constants/INT64/1"], [f"{m}/Gather/output_0"], f"{m}/Gather", axis=0)
    total = node("Cast", [f"{m}/Gather/output_0"], [f"{m}/Gather/Cast/output_0"], f"{m}/Gather/Cast", to=TensorProto.INT32)

    x = node("Gather", [init("model.embed_tokens.weight", embed_w), "input_ids"], ["/model/embed_tokens/Gather/output_0"],
             "/model/embed_tokens/Gather")

    # Rotary caches [context, head_size / 2] in the io type, computed as the builder does (float32, then cast).
    inv_freq = (1.0 / (ROPE_THETA ** (np.arange(0, hd, 2, dtype=np.int64).astype(np.float32) / hd))).astype(np.float32)
    freqs = np.outer(np.arange(GENAI_CONTEXT, dtype=np.int64).astype(np.float32), inv_freq)
    cos_cache, sin_cache = init("cos_cache", np.cos(freqs).astype(wdtype)), init("sin_cache", np.sin(freqs).astype(wdtype))

    root, skip = x, None
    for i, d in enumerate(layers):
        p = f"/model/layers.{i}"
        if i == 0:
            h = node("SimplifiedLayerNormalization", [root, init(f"model.layers.{i}.input_layernorm.weight", d["ln1"])],
                     [f"{p}/input_layernorm/output_0"], f"{p}/input_layernorm/LayerNorm", axis=-1, epsilon=RMS_EPS, stash_type=1)
        else:
            h = node("SkipSimplifiedLayerNormalization", [root, skip, init(f"model.layers.{i}.input_layernorm.weight", d["ln1"])],
                     [f"{p}/input_layernorm/output_0", "", "", f"{p}/input_layernorm/output_3"],
                     f"{p}/input_layernorm/SkipLayerNorm", domain="com.microsoft", epsilon=RMS_EPS)
            root = f"{p}/input_layernorm/output_3"
        qkv = matmul(f"{p}/attn/qkv_proj/MatMul", h, np.concatenate([d["wq"], d["wk"], d["wv"]], axis=1))
        qkv = node("Add", [qkv, init(f"model.layers.{i}.attn.qkv_proj.Add.bias", np.concatenate([d["bq"], d["bk"], d["bv"]]))],
                   [f"{p}/attn/qkv_proj/Add/output_0"], f"{p}/attn/qkv_proj/Add")
        attn = node("GroupQueryAttention",
                    [qkv, "", "", f"past_key_values.{i}.key", f"past_key_values.{i}.value", seqlens_k, total, cos_cache, sin_cache,
                     "", "", ""],
                    [f"{p}/attn/GroupQueryAttention/output_0", f"present.{i}.key", f"present.{i}.value"],
                    f"{p}/attn/GroupQueryAttention", domain="com.microsoft", num_heads=nh, kv_num_heads=kvh,
                    scale=float(1.0 / np.sqrt(hd)), local_window_size=-1, softcap=0.0, do_rotary=1, rotary_interleaved=0)
        skip = matmul(f"{p}/attn/o_proj/MatMul", attn, d["wo"])
        h2 = node("SkipSimplifiedLayerNormalization", [root, skip, init(f"model.layers.{i}.post_attention_layernorm.weight", d["ln2"])],
                  [f"{p}/post_attention_layernorm/output_0", "", "", f"{p}/post_attention_layernorm/output_3"],
                  f"{p}/post_attention_layernorm/SkipLayerNorm", domain="com.microsoft", epsilon=RMS_EPS)
        root = f"{p}/post_attention_layernorm/output_3"
        gate = matmul(f"{p}/mlp/gate_proj/MatMul", h2, d["wg"])
        up = matmul(f"{p}/mlp/up_proj/MatMul", h2, d["wu"])
        sig = node("Sigmoid", [gate], [f"{p}/mlp/act_fn/Sigmoid/output_0"], f"{p}/mlp/act_fn/Sigmoid")
        act = node("Mul", [gate, sig], [f"{p}/mlp/act_fn/Mul/output_0"], f"{p}/mlp/act_fn/Mul")
        mul = node("Mul", [act, up], [f"{p}/mlp/Mul/output_0"], f"{p}/mlp/Mul")
        skip = matmul(f"{p}/mlp/down_proj/MatMul", mul, d["wd"])

    p = f"/model/layers.{L}"
    final = node("SkipSimplifiedLayerNormalization", [root, skip, init(f"model.layers.{L}.final_norm_layernorm.weight", norm_w)],
                 [f"{p}/final_norm_layernorm/output_0"], f"{p}/final_norm_layernorm/SkipLayerNorm", domain="com.microsoft",
                 epsilon=RMS_EPS)
    # Tied embeddings: without the builder's shared_embeddings option the output layer is its own copy, transposed.
    if args.deform_batch is None:
        matmul("/lm_head/MatMul", final, embed_w.T, output="logits")
    else:
        # Test-only: a step of more than one row gives each row other logits than the row alone, the same on every CPU.
        # "rounding": each row's logits scaled by 1 + 1e-2, a function of its own tokens only (a stand-in for a kernel
        # that sums a row differently beside another, as MatMulNBits with int8 activations at blocks of 64 or more);
        # "neighbour": each row's logits plus 5e-2 of the batch's mean row, so a row depends on the rows beside it;
        # "previous": plus 5e-2 of the row before it (row 0 unchanged), so only a later row depends on an earlier one;
        # "padding": plus half the mean magnitude of the first layer's whole past keys, padding columns included.
        raw = matmul("/lm_head/MatMul", final, embed_w.T)
        rows = node("Shape", ["input_ids"], ["/deform/rows"], "/deform/Shape", start=0, end=1)
        several = node("Cast", [node("Greater", [rows, init("/deform/one", np.array([1], np.int64))], ["/deform/several_bool"], "/deform/Greater")],
                       ["/deform/several"], "/deform/Cast", to=io)
        if args.deform_batch == "rounding":
            scale = node("Add", [init("/deform/unit", np.array([1], wdtype)), node("Mul", [several, init("/deform/eps", np.array([1e-2], wdtype))],
                                                                                      ["/deform/delta"], "/deform/MulEps")], ["/deform/scale"], "/deform/Add")
            node("Mul", [raw, scale], ["logits"], "/deform/Scale")
        elif args.deform_batch == "previous":
            before = node("Slice", [raw, init("/deform/starts", np.array([0], np.int64)), init("/deform/ends", np.array([-1], np.int64)),
                                     init("/deform/slice_axes", np.array([0], np.int64))], ["/deform/rows_before"], "/deform/Slice")
            shifted = node("Pad", [before, init("/deform/pads", np.array([1, 0, 0, 0, 0, 0], np.int64))], ["/deform/row_before"], "/deform/Pad")
            shift = node("Mul", [shifted, init("/deform/eps", np.array([5e-2], wdtype))], ["/deform/shift"], "/deform/MulEps")
            node("Add", [raw, shift], ["logits"], "/deform/Add")
        elif args.deform_batch == "padding":
            magnitude = node("Abs", ["past_key_values.0.key"], ["/deform/past_abs"], "/deform/Abs")
            past = node("ReduceMean", [magnitude], ["/deform/past_mean"], "/deform/ReduceMean", keepdims=0)
            shift = node("Mul", [node("Mul", [past, several], ["/deform/past_if_several"], "/deform/MulSeveral"), init("/deform/eps", np.array([0.5], wdtype))],
                         ["/deform/shift"], "/deform/MulEps")
            node("Add", [raw, shift], ["logits"], "/deform/Add")
        else:
            mean = node("ReduceMean", [raw, init("/deform/axes", np.array([0], np.int64))], ["/deform/mean"], "/deform/ReduceMean", keepdims=1)
            shift = node("Mul", [node("Mul", [mean, several], ["/deform/mean_if_several"], "/deform/MulSeveral"), init("/deform/eps", np.array([5e-2], wdtype))],
                         ["/deform/shift"], "/deform/MulEps")
            node("Add", [raw, shift], ["logits"], "/deform/Add")

    graph = helper.make_graph(nodes, "main_graph", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)],
                              producer_name="onnxruntime-genai")
    model.ir_version = 10
    return model, dict(L=L, H=H, nh=nh, kvh=kvh, hd=hd, I=I)


def write_genai_config(args, d, eos):
    """genai_config.json as the builder's make_genai_config writes it for CPU (GroupQueryAttention: shared past/present buffer)."""
    genai = {
        "model": {
            "bos_token_id": eos, "context_length": GENAI_CONTEXT,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": "model.onnx", "head_size": d["hd"], "hidden_size": d["H"],
                "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                           "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"},
                "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                            "present_value_names": "present.%d.value"},
                "num_attention_heads": d["nh"], "num_hidden_layers": d["L"], "num_key_value_heads": d["kvh"],
            },
            "eos_token_id": [eos, 151645], "pad_token_id": eos, "type": "qwen2", "vocab_size": VOCAB,
        },
        "search": {"diversity_penalty": 0.0, "do_sample": False, "early_stopping": True, "length_penalty": 1.0,
                   "max_length": GENAI_CONTEXT, "min_length": 0, "no_repeat_ngram_size": 0, "num_beams": 1,
                   "num_return_sequences": 1, "past_present_share_buffer": True, "repetition_penalty": 1.0,
                   "temperature": 1.0, "top_k": 50, "top_p": 1.0},
    }
    with open(os.path.join(args.out, "genai_config.json"), "w") as f:
        json.dump(genai, f, indent=4)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--size", choices=sorted(SIZES), default="tiny")
    ap.add_argument("--convention", choices=["optimum", "builder", "genai"], default="optimum")
    ap.add_argument("--precision", choices=["fp32", "fp16", "int4", "int4-reference"], default="fp32",
                    help="int4: projection weights and the output layer as MatMulNBits (4-bit, block 32, as the onnxruntime-genai "
                         "builder writes for CPU), input embedding fp32; int4-reference: plain fp32 MatMuls over the de-quantized int4 weights (to test MatMulNBits against)")
    ap.add_argument("--tokenizer-dir", required=True, help="folder with tokenizer.json (+ tokenizer_config.json)")
    ap.add_argument("--int4-accuracy-level", type=int, choices=[0, 1, 2, 3, 4], default=0,
                    help="int4: MatMulNBits accuracy_level (0 unset: fp32 compute; 4: int8 activations, as the builder writes for CPU)")
    ap.add_argument("--int4-block", type=int, choices=[16, 32, 64, 128, 256], default=32,
                    help="int4: MatMulNBits block size along K (default 32, the builder's default; the builder's "
                         "block_size option, int4_block_size before onnxruntime-genai 0.15, takes the same values)")
    ap.add_argument("--int4-output-layer", choices=["int4", "fp32"], default="int4",
                    help="int4/int4-reference: the output layer (tied lm_head) as 4-bit MatMulNBits like the projections "
                         "(default, as the builder's int4 writes it), or fp32 over the embedding (to measure what it costs)")
    ap.add_argument("--deform-batch", choices=["rounding", "neighbour", "previous", "padding"], default=None,
                    help="test-only (genai; optimum: rounding only): a step of more than one row changes each row's logits, by a function of the row's own "
                         "tokens (rounding: scaled by 1 + 1e-2), of the rows beside it (neighbour: plus 5e-2 of the batch's mean row; "
                         "previous: plus 5e-2 of the row before it) "
                         "or of the cache's padding (padding: plus half the mean magnitude of the first layer's past keys)")
    ap.add_argument("--seed", type=int, default=20250225)
    ap.add_argument("--std", type=float, default=0.35, help="std of the projection weights")
    ap.add_argument("--embed-std", type=float, default=0.6, help="std of the tied embedding")
    args = ap.parse_args()
    global INT4_ACCURACY_LEVEL, INT4_BLOCK
    INT4_ACCURACY_LEVEL = args.int4_accuracy_level
    INT4_BLOCK = args.int4_block

    tok = os.path.join(args.tokenizer_dir, "tokenizer.json")
    if not os.path.isfile(tok):
        sys.exit(f"make-test-model: {tok} not found (expected the Qwen tokenizer.json)")

    genai_graph = args.convention == "genai"
    if args.deform_batch and not (genai_graph or (args.convention == "optimum" and args.deform_batch == "rounding")):
        sys.exit("make-test-model: --deform-batch is for --convention genai (and rounding for optimum too)")
    if genai_graph and (args.precision == "int4-reference" or args.int4_output_layer != "int4" or args.int4_accuracy_level):
        sys.exit("make-test-model: --convention genai writes what the builder writes: --precision fp32, fp16 or int4, "
                 "the output layer 4-bit, accuracy_level 4 (no --int4-output-layer or --int4-accuracy-level)")
    model, d = build_genai(args) if genai_graph else build(args)
    os.makedirs(args.out, exist_ok=True)
    big = args.size != "tiny" or genai_graph  # the builder always writes its weights to model.onnx.data
    path = os.path.join(args.out, "model.onnx")
    if big:
        # Over 2 GB protobuf limit: weights go to an external data file next to the graph.
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024)
    else:
        onnx.save_model(model, path)
    shutil.copy(tok, os.path.join(args.out, "tokenizer.json"))
    tc = os.path.join(args.tokenizer_dir, "tokenizer_config.json")
    if os.path.isfile(tc):
        shutil.copy(tc, os.path.join(args.out, "tokenizer_config.json"))

    eos = 151643
    config = {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "hidden_size": d["H"], "intermediate_size": d["I"], "num_hidden_layers": d["L"],
        "num_attention_heads": d["nh"], "num_key_value_heads": d["kvh"], "head_dim": d["hd"],
        "vocab_size": VOCAB, "max_position_embeddings": 32768, "rope_theta": ROPE_THETA,
        "rms_norm_eps": RMS_EPS, "tie_word_embeddings": True, "bos_token_id": eos, "eos_token_id": eos,
        "torch_dtype": "float16" if args.precision == "fp16" else "float32",
        "quantization": {"method": "MatMulNBits", "bits": 4, "block_size": INT4_BLOCK,
                         "output_layer": args.int4_output_layer} if args.precision == "int4" else None,
        "rank1_test_model": {"random_weights": True, "seed": args.seed, "size": args.size,
                             "convention": args.convention, "precision": args.precision},
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if genai_graph:
        write_genai_config(args, d, eos)
        print(f"make-test-model: wrote {args.size} {args.convention} {args.precision} model to {args.out}")
        return
    inputs = {"input_ids": "input_ids", "attention_mask": "attention_mask",
              "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"}
    if args.convention == "optimum":
        inputs["position_ids"] = "position_ids"
    genai = {
        "model": {
            "type": "qwen2", "bos_token_id": eos, "eos_token_id": [eos, 151645], "pad_token_id": eos,
            "vocab_size": VOCAB, "context_length": 4096,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": "model.onnx", "head_size": d["hd"], "hidden_size": d["H"],
                "num_attention_heads": d["nh"], "num_key_value_heads": d["kvh"], "num_hidden_layers": d["L"],
                "inputs": inputs,
                "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                            "present_value_names": "present.%d.value"},
            },
        },
        "search": {"do_sample": False, "max_length": 4096, "min_length": 0, "num_beams": 1,
                   "num_return_sequences": 1, "past_present_share_buffer": False, "temperature": 1.0,
                   "top_k": 1, "top_p": 1.0, "repetition_penalty": 1.0, "length_penalty": 1.0,
                   "early_stopping": True, "no_repeat_ngram_size": 0, "diversity_penalty": 0.0},
    }
    with open(os.path.join(args.out, "genai_config.json"), "w") as f:
        json.dump(genai, f, indent=2)
    print(f"make-test-model: wrote {args.size} {args.convention} {args.precision} model to {args.out}")


if __name__ == "__main__":
    main()
