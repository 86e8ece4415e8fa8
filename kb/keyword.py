"""Keyword leg: a BM25 index (bm25s) over the index entries' tokens; saved and loaded beside the vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

BM25_K1 = 1.2
BM25_B = 0.75


class KeywordIndex:
    def __init__(self, retriever):
        self._r = retriever
        self._vocab = retriever.vocab_dict

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

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every entry for the query tokens (unknown tokens contribute nothing)."""
        known = [t for t in tokens if t in self._vocab and t]
        n = self._r.scores["num_docs"]
        if not known:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self._r.get_scores(known), dtype=np.float32)
