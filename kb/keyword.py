"""Keyword leg: a BM25 index (bm25s) over the index entries' tokens; saved and loaded beside the vectors.

Besides raw BM25 it gives a query's *attainable* score — the sum over query tokens of each token's best
contribution in the collection — so the fusion can read keyword evidence as "how much of the query matched"
instead of min-max stretching whatever matched best (which over-rates a lone incidental word match).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kb import safeio
from kb.store import MAX_JSON_BYTES

BM25_K1 = 1.2
BM25_B = 0.75


class KeywordIndex:
    def __init__(self, retriever):
        self._r = retriever
        self._vocab = retriever.vocab_dict
        s = retriever.scores
        indptr = np.asarray(s["indptr"])
        data = np.asarray(s["data"], dtype=np.float32)
        self._token_max = np.zeros(len(indptr) - 1, dtype=np.float32)
        nonempty = np.flatnonzero(np.diff(indptr) > 0)
        if len(nonempty) and len(data):
            self._token_max[nonempty] = np.maximum.reduceat(data, indptr[nonempty])

    @classmethod
    def build(cls, docs_tokens: list[list[str]]) -> KeywordIndex:
        import bm25s

        r = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        r.index([t if t else [""] for t in docs_tokens], show_progress=False)
        return cls(r)

    def save(self, folder: Path) -> None:
        self._r.save(str(folder))

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        params = safeio.read_json(folder / "params.index.json", MAX_JSON_BYTES)
        if params.get("method", "lucene") in ("bm25l", "bm25+"):  # these need bm25s's non-occurrence scores
            import bm25s

            return cls(bm25s.BM25.load(str(folder), mmap=False))
        return cls(_SavedBM25(folder, params))

    @property
    def num_docs(self) -> int:
        return int(self._r.scores["num_docs"])

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every entry for the query tokens (unknown tokens contribute nothing)."""
        ids = [self._vocab[t] for t in tokens if t and t in self._vocab]
        if not ids:
            return np.zeros(self.num_docs, dtype=np.float32)
        return np.asarray(self._r.get_scores(ids), dtype=np.float32)

    def attainable(self, tokens: list[str]) -> float:
        """Upper bound of a document's score for these tokens; a token absent from the collection counts as much
        as the average present one (a query whose words are mostly missing can only match weakly)."""
        best = [float(self._token_max[self._vocab[t]]) if t and t in self._vocab else 0.0 for t in tokens]
        known = [b for b in best if b > 0]
        if not known:
            return 0.0
        fill = sum(known) / len(known)
        return sum(b if b > 0 else fill for b in best)


class _SavedBM25:
    """A saved bm25s index read with numpy alone (no bm25s/scipy import: ~0.5 s off every search process start).

    bm25s stores each token's postings as a CSC column: entries indices[indptr[t]:indptr[t+1]] with their
    precomputed BM25 contributions data[...]. A query's scores are the sum of its tokens' columns, added token by
    token in query order — the same arithmetic as bm25s's get_scores, so the scores are identical.
    """

    def __init__(self, folder: Path, params: dict):
        self.vocab_dict = safeio.read_json(folder / "vocab.index.json", MAX_JSON_BYTES)
        self.dtype = np.dtype(params.get("dtype", "float32"))
        self.scores = {
            "data": safeio.load_npy(folder / "data.csc.index.npy"),
            "indices": safeio.load_npy(folder / "indices.csc.index.npy"),
            "indptr": safeio.load_npy(folder / "indptr.csc.index.npy"),
            "num_docs": int(params["num_docs"]),
        }

    def get_scores(self, token_ids: list[int]) -> np.ndarray:
        s = self.scores
        data, indices, indptr = s["data"], s["indices"], s["indptr"]
        out = np.zeros(s["num_docs"], dtype=self.dtype)
        for t in token_ids:
            a, b = indptr[t], indptr[t + 1]
            out[indices[a:b]] += data[a:b]      # a token's postings name each entry once
        return out
