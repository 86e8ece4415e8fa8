"""8-bit codes of snippet-sentence vectors: each vector as int8 codes times one float32 scale of its own.

A sentence vector is only ever compared with other sentences of its own section (which one is closest to the query,
kb.query.snippets), so each row is scaled on its own: code = round(v / s) with s = max|v| / 127, read back as
code * s. Re-quantising a decoded row gives the same codes, so a vector reused by a rebuild is stored unchanged.
At 100k bench sections this halves sentences.npy (312 → 156 MB); BENCHMARKS.md measures how many snippets change.
"""

from __future__ import annotations

import numpy as np

CODE_MAX = 127


def quantise(vectors: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 scale per row) of float vectors (n, dim), a chunk of rows at a time."""
    n = len(vectors)
    codes = np.empty(vectors.shape, dtype=np.int8)
    scales = np.empty(n, dtype=np.float32)
    for a in range(0, n, chunk):
        v = np.asarray(vectors[a:a + chunk], dtype=np.float32)
        top = np.abs(v).max(axis=1) if v.shape[1] else np.zeros(len(v), dtype=np.float32)
        s = (top / np.float32(CODE_MAX)).astype(np.float32)
        scales[a:a + len(v)] = s
        safe = np.where(s > 0, s, np.float32(1))[:, None]
        codes[a:a + len(v)] = np.clip(np.rint(v / safe), -CODE_MAX, CODE_MAX).astype(np.int8)
    return codes, scales


def dequantise(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The float32 vectors the codes stand for."""
    return np.asarray(codes, dtype=np.float32) * np.asarray(scales, dtype=np.float32)[:, None]
