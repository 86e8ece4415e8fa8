"""Vector leg: FAISS inner-product search over L2-normalised vectors (row i = entry i of one segment).

The build saves a FAISS index as `ann.faiss` next to the vectors (`vectors.npy`: float16, the source of exact
scores — computed in float32 from those values — and of reused vectors on rebuilds): an exact flat inner-product index for small collections, and above IVF_MIN_ENTRIES an
IVF index holding 8-bit scalar-quantised codes (a quarter of the vectors' size). The IVF only proposes candidates:
the query layer re-scores every candidate exactly from the stored vectors, so scores and ranking
are those of exact search whenever the true neighbours are among the candidates. nlist ≈ 2·√n lists with
IVF_NPROBE probes keeps recall@10 against exact search ≥ 0.99 at 200k entries (`python -m benchmarks.bench`,
BENCHMARKS.md). Search memory-maps both files: only the pages a query touches are read.
"""

from __future__ import annotations

import errno
import math
import os
import threading
from pathlib import Path

import numpy as np

from kb.core import safeio
from kb.embed.embedder import passive_openmp

IVF_MIN_ENTRIES = 50_000
IVF_NPROBE = 128
# A filter keeping under FILTERED_SHARE of the entries probes FILTERED_NPROBE_FACTOR times more lists: its best
# entries lie farther from the query. Measured at 200k entries (BENCHMARKS.md): a date window keeping 10% gave
# recall@10 0.9975 at nprobe 128 and 1.0 at 256; probing every list costs 5-10x more (the selector checks each code).
FILTERED_SHARE = 0.05
FILTERED_NPROBE_FACTOR = 4
ADD_ROWS = 16_384


def ivf_nlist(n: int) -> int:
    return max(16, min(4096, int(2 * math.sqrt(n))))


def _faiss():
    passive_openmp()                     # before FAISS loads its own OpenMP runtime
    import faiss

    return faiss


def build_ann(vectors: np.ndarray):
    """The FAISS index for a collection (float32 or the stored float16 vectors): exact (flat) below IVF_MIN_ENTRIES,
    IVF above."""
    if len(vectors) >= IVF_MIN_ENTRIES:
        return build_ivf(vectors)
    index = _faiss().IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def save_ann(index, path: Path) -> None:
    """Write a FAISS index as a new file. FAISS gets a writer that calls back into Python, so the file is opened by
    kb.core.safeio (no symlink followed), a full disk raises the usual OSError(ENOSPC), and FAISS never prints its raw
    'close error' line; any other FAISS failure becomes an OSError for kb.storage.store.describe_write_error."""
    faiss = _faiss()
    with safeio.create_new(path) as f:
        writer = faiss.PyCallbackIOWriter(f.write)
        try:
            faiss.write_index(index, writer)
        except RuntimeError as err:
            msg = str(err).strip().split("\n")[0][:200]
            code = next((c for c in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES) if os.strerror(c) in msg),
                        None)
            text = f"FAISS could not write {Path(path).name}: {msg}"
            raise (OSError(code, text) if code else OSError(text)) from None
        finally:
            del writer


def build_ivf(vectors: np.ndarray, seed: int = 0, codes: str = "sq8"):
    """Train and fill an IVF index for a large collection: 8-bit scalar-quantised codes (kb's), or "flat" (float32
    copies of the vectors, for comparison in benchmarks.bench)."""
    faiss = _faiss()

    n, d = vectors.shape
    nlist = ivf_nlist(n)
    quantizer = faiss.IndexFlatIP(d)
    if codes == "flat":
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(n, size=min(n, nlist * 40), replace=False)]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    for a in range(0, n, ADD_ROWS):                  # float32 copies of a run at a time, not of every vector
        index.add(np.ascontiguousarray(vectors[a:a + ADD_ROWS], dtype=np.float32))
    return index


def read_ann(f):
    """Read a FAISS index from an open binary file, into memory. (FAISS can memory-map an IVF's lists instead, but
    its searches over mapped lists measured 2.2× slower: 8.0 vs 3.6 ms p50 at 200k entries, nprobe 128.)"""
    faiss = _faiss()
    reader = faiss.PyCallbackIOReader(f.read)
    try:
        return faiss.read_index(reader)
    finally:
        del reader


class VectorIndex:
    """A segment's vectors (memory-mapped) and its FAISS index, read on the first search from the file opened with
    the segment (so a build published meanwhile cannot take it away, and a keyword-only process never reads it)."""

    def __init__(self, vectors: np.ndarray, ann=None, nprobe: int = IVF_NPROBE, ann_file=None):
        self.vectors = vectors
        self.nprobe = nprobe
        self._file = ann_file
        self._lock = threading.Lock()
        self._ann = None
        self._set(ann)

    def _set(self, ann) -> None:
        if ann is not None and hasattr(ann, "nprobe"):
            ann.nprobe = self.nprobe
        self._ann = ann                      # None (and no file): exact search over self.vectors with numpy

    @property
    def ann(self):
        if self._ann is None and self._file is not None:
            with self._lock:
                if self._file is not None:
                    try:
                        ann = read_ann(self._file)
                    except RuntimeError:
                        raise ValueError("the FAISS index cannot be read") from None
                    finally:
                        self._file.close()
                        self._file = None
                    if ann.ntotal != len(self.vectors) or ann.d != self.vectors.shape[1]:
                        raise ValueError("the FAISS index does not match the vectors")
                    self._set(ann)
        return self._ann

    @property
    def kind(self) -> str:
        return "ivf" if hasattr(self.ann, "nprobe") else "flat"

    @classmethod
    def load(cls, vectors_path: Path, ann_path: Path | None, nprobe: int = IVF_NPROBE) -> VectorIndex:
        """The vectors memory-mapped; the FAISS file opened now (kb.core.safeio: a regular file only) and read on the
        first search."""
        vectors = safeio.load_npy(vectors_path, mmap=True).view(np.ndarray)
        return cls(vectors, None, nprobe, safeio.open_file(ann_path) if ann_path is not None else None)

    def search(self, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k entries by inner product: (scores, ids), best first; ids are valid entry rows. `allowed` (a boolean
        mask over the entries) restricts the search to its entries inside FAISS (an ID selector), so a filter
        costs about what an unfiltered search costs; an IVF probes more lists for a narrow filter
        (FILTERED_NPROBE_FACTOR)."""
        n = len(self.vectors) if self.ann is None else self.ann.ntotal
        if n == 0 or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if self.ann is None:
            ids = np.arange(n) if allowed is None else np.flatnonzero(allowed[:n])
            s = np.asarray(self.vectors[ids].astype(np.float32) @ np.asarray(q, dtype=np.float32), dtype=np.float32)
            top = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
            top = top[np.argsort(-s[top], kind="stable")]
            return s[top], ids[top].astype(np.int64)
        params = None if allowed is None else self._params(allowed)
        scores, ids = self.ann.search(np.ascontiguousarray(q[None, :], dtype=np.float32), min(k, n), params=params)
        keep = (ids[0] >= 0) & (ids[0] < len(self.vectors))
        return scores[0][keep], ids[0][keep]

    def _params(self, allowed: np.ndarray):
        """FAISS search parameters restricting a search to the allowed entries (a bitmap selector)."""
        faiss = _faiss()
        bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
        sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
        if not hasattr(self.ann, "nprobe"):
            params = faiss.SearchParameters(sel=sel)
        else:
            share = int(np.count_nonzero(allowed)) / max(len(allowed), 1)
            nprobe = self.nprobe * (FILTERED_NPROBE_FACTOR if share < FILTERED_SHARE else 1)
            params = faiss.SearchParametersIVF(sel=sel, nprobe=min(self.ann.nlist, nprobe))
        params.bits = bits                   # the selector reads the array: keep it alive with the parameters
        params.selector = sel
        return params

    def score(self, q: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact inner products for given entry rows."""
        if len(ids) == 0:
            return np.zeros(0, np.float32)
        rows = self.vectors[np.sort(ids)].astype(np.float32)
        return np.asarray(rows @ q, dtype=np.float32)[np.argsort(np.argsort(ids))]
