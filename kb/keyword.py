"""Keyword leg: a BM25 index (bm25s) over the index entries' tokens; saved and loaded beside the vectors.

Besides raw BM25 it gives a query's *attainable* score — the sum over query tokens of each token's best
contribution in the collection — so the fusion can read keyword evidence as "how much of the query matched"
instead of min-max stretching whatever matched best (which over-rates a lone incidental word match).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=False))

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
