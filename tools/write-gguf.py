#!/usr/bin/env python3
"""Writes the weights of a generated fp32 test model (tools/make-test-model.py) as a GGUF file that llama.cpp loads.

    tools/write-gguf.py MODEL_DIR OUT.gguf [--type f32|f16]

Reads MODEL_DIR/model.onnx (its initializers, by the names the generator gives them), config.json (the shape) and
tokenizer.json (the vocabulary and merges), and writes a GGUF v3 file of llama.cpp's `qwen2` architecture: the same
weights, so that llama.cpp and our engine compute the same function (bench/Rank1.Benchmarks, and the GGUF parity test
in tests/Rank1.Inference.PeerParity.Tests). The tied embedding is written once (`token_embd.weight`); llama.cpp uses
it as the output layer when `output.weight` is absent. Norms and biases stay f32, as llama.cpp's own converter writes
them; with --type f16 every matrix is f16. Quantized files (q8_0, q4_0) are made from this one by llama.cpp's own
quantizer (the benchmark does it through LLamaSharp).

Needs only python3-onnx and python3-numpy (Debian packages).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

# gguf metadata value types
T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY = 4, 5, 6, 7, 8, 9
# ggml tensor types
GGML_F32, GGML_F16 = 0, 1
# llama.cpp token types
TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED = 1, 3, 4, 5


def s(text):
    b = text.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


class Writer:
    def __init__(self):
        self.kv = []  # (key, bytes of type + value)
        self.tensors = []  # (name, array)

    def u32(self, key, v):
        self.kv.append((key, struct.pack("<I", T_UINT32) + struct.pack("<I", v)))

    def i32(self, key, v):
        self.kv.append((key, struct.pack("<I", T_INT32) + struct.pack("<i", v)))

    def f32(self, key, v):
        self.kv.append((key, struct.pack("<I", T_FLOAT32) + struct.pack("<f", v)))

    def bool(self, key, v):
        self.kv.append((key, struct.pack("<I", T_BOOL) + struct.pack("<?", v)))

    def str(self, key, v):
        self.kv.append((key, struct.pack("<I", T_STRING) + s(v)))

    def strs(self, key, values):
        body = b"".join(s(v) for v in values)
        self.kv.append((key, struct.pack("<IIQ", T_ARRAY, T_STRING, len(values)) + body))

    def i32s(self, key, values):
        arr = np.asarray(values, dtype="<i4")
        self.kv.append((key, struct.pack("<IIQ", T_ARRAY, T_INT32, len(arr)) + arr.tobytes()))

    def tensor(self, name, array):
        self.tensors.append((name, np.ascontiguousarray(array)))

    def write(self, path):
        def pad(n):
            return (ALIGNMENT - n % ALIGNMENT) % ALIGNMENT

        with open(path, "wb") as f:
            f.write(GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv)))
            for key, value in self.kv:
                f.write(s(key) + value)
            offset = 0
            for name, arr in self.tensors:
                # ggml lists dimensions innermost first: a row-major [rows, cols] matrix is ne = [cols, rows].
                dims = list(reversed(arr.shape))
                kind = GGML_F16 if arr.dtype == np.float16 else GGML_F32
                f.write(s(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
                        + struct.pack("<IQ", kind, offset))
                offset += arr.nbytes + pad(arr.nbytes)
            f.write(b"\0" * pad(f.tell()))
            for _, arr in self.tensors:
                f.write(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
                f.write(b"\0" * pad(arr.nbytes))


def tokenizer_metadata(w, tokenizer_path, vocab_size, config):
    tok = json.load(open(tokenizer_path, encoding="utf-8"))
    model = tok["model"]
    if model.get("type") != "BPE":
        sys.exit(f"write-gguf: {tokenizer_path} is not a BPE tokenizer")
    tokens = [None] * vocab_size
    types = [TOKEN_NORMAL] * vocab_size
    for text, i in model["vocab"].items():
        tokens[i] = text
    for added in tok.get("added_tokens", []):
        tokens[added["id"]] = added["content"]
        types[added["id"]] = TOKEN_CONTROL if added.get("special") else TOKEN_USER_DEFINED
    for i in range(vocab_size):
        if tokens[i] is None:  # the rows past the tokenizer's vocabulary (Qwen pads to 151,936)
            tokens[i] = f"[PAD{i}]"
            types[i] = TOKEN_UNUSED
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    w.str("tokenizer.ggml.model", "gpt2")
    w.str("tokenizer.ggml.pre", "qwen2")
    w.strs("tokenizer.ggml.tokens", tokens)
    w.i32s("tokenizer.ggml.token_type", types)
    w.strs("tokenizer.ggml.merges", merges)
    eos = config.get("eos_token_id", 151643)
    w.u32("tokenizer.ggml.eos_token_id", eos)
    w.u32("tokenizer.ggml.bos_token_id", config.get("bos_token_id", eos))
    w.u32("tokenizer.ggml.padding_token_id", eos)
    w.bool("tokenizer.ggml.add_bos_token", False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("out")
    ap.add_argument("--type", choices=["f32", "f16"], default="f32", help="element type of the matrices")
    args = ap.parse_args()

    config = json.load(open(os.path.join(args.model_dir, "config.json")))
    precision = (config.get("rank1_test_model") or {}).get("precision", "fp32")
    if precision != "fp32":
        sys.exit(f"write-gguf: {args.model_dir} is a {precision} model; write the GGUF from the fp32 model of the same weights")
    graph = onnx.load(os.path.join(args.model_dir, "model.onnx")).graph
    inits = {t.name: t for t in graph.initializer}

    def get(name):
        if name not in inits:
            sys.exit(f"write-gguf: {args.model_dir}/model.onnx has no initializer {name} (not a make-test-model.py graph?)")
        return numpy_helper.to_array(inits[name]).astype(np.float32)

    mtype = np.float16 if args.type == "f16" else np.float32

    def matrix(name):
        # The generator stores projections as [in, out] (x @ W); llama.cpp wants [out, in] rows, as PyTorch's Linear.
        return get(name).T.astype(mtype)

    L, H = config["num_hidden_layers"], config["hidden_size"]
    vocab = config["vocab_size"]
    w = Writer()
    w.str("general.architecture", "qwen2")
    w.str("general.name", os.path.basename(os.path.normpath(args.model_dir)))
    w.u32("general.file_type", 1 if args.type == "f16" else 0)
    w.u32("general.alignment", ALIGNMENT)
    w.u32("qwen2.context_length", config["max_position_embeddings"])
    w.u32("qwen2.embedding_length", H)
    w.u32("qwen2.block_count", L)
    w.u32("qwen2.feed_forward_length", config["intermediate_size"])
    w.u32("qwen2.attention.head_count", config["num_attention_heads"])
    w.u32("qwen2.attention.head_count_kv", config["num_key_value_heads"])
    w.f32("qwen2.rope.freq_base", config["rope_theta"])
    w.f32("qwen2.attention.layer_norm_rms_epsilon", config["rms_norm_eps"])
    tokenizer_metadata(w, os.path.join(args.model_dir, "tokenizer.json"), vocab, config)

    w.tensor("token_embd.weight", get("model.embed_tokens.weight").astype(mtype))
    for i in range(L):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        w.tensor(b + "attn_norm.weight", get(p + "input_layernorm.weight"))
        for ours, theirs in (("q", "q"), ("k", "k"), ("v", "v")):
            w.tensor(b + f"attn_{theirs}.weight", matrix(p + f"self_attn.{ours}_proj.weight"))
            w.tensor(b + f"attn_{theirs}.bias", get(p + f"self_attn.{ours}_proj.bias"))
        w.tensor(b + "attn_output.weight", matrix(p + "self_attn.o_proj.weight"))
        w.tensor(b + "ffn_norm.weight", get(p + "post_attention_layernorm.weight"))
        w.tensor(b + "ffn_gate.weight", matrix(p + "mlp.gate_proj.weight"))
        w.tensor(b + "ffn_up.weight", matrix(p + "mlp.up_proj.weight"))
        w.tensor(b + "ffn_down.weight", matrix(p + "mlp.down_proj.weight"))
    w.tensor("output_norm.weight", get("model.norm.weight"))
    w.write(args.out)
    print(f"write-gguf: wrote {args.out} ({args.type}, {L} layers, hidden {H})")


if __name__ == "__main__":
    main()
