"""kb's BM25 statistics of a Milvus collection: per token its IDF and best contribution over all entries, computed
at sync time and stored with the manifest; scores are kb.storage.keyword's arithmetic, so the same float32 numbers
as the local backend's."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from kb.storage.keyword import attainable_score, bm25_idf, bm25_terms


@dataclass
class KeywordStats:
    """kb's BM25 (bm25s Lucene variant) over all entries of a generation."""
    idf: dict[str, float]
    token_max: dict[str, float]
    avgdl: float
    n_docs: int

    @classmethod
    def build(cls, docs_tokens: list[list[str]]) -> KeywordStats:
        docs = [t if t else [""] for t in docs_tokens]
        avgdl = float(np.array([len(d) for d in docs]).mean()) if docs else 1.0
        counts = [Counter(d) for d in docs]
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for j, c in enumerate(counts):
            for t, tf in c.items():
                docs_of, tfs = postings.setdefault(t, ([], []))
                docs_of.append(j)
                tfs.append(tf)
        lengths = np.array([len(d) for d in docs], dtype=np.int64)
        idf, best = {}, {}
        for t, (docs_of, tfs) in postings.items():
            idf[t] = bm25_idf(len(docs), len(docs_of))
            best[t] = float(bm25_terms(idf[t], np.array(tfs), lengths[docs_of], avgdl).max())
        return cls(idf, best, avgdl, len(docs))

    def vocabulary(self) -> dict[str, int]:
        """{term: document frequency}: idf = ln(1 + (N − df + 0.5)/(df + 0.5)) solved for df (kb.query.typos)."""
        out = {}
        for t, idf in self.idf.items():
            r = math.expm1(idf)
            if t:
                out[t] = max(1, round((self.n_docs + 0.5 - 0.5 * r) / (r + 1)))
        return out

    def to_json(self) -> dict:
        return {"idf": self.idf, "max": self.token_max, "avgdl": self.avgdl, "n_docs": self.n_docs}

    @classmethod
    def from_json(cls, d: dict) -> KeywordStats:
        return cls(d["idf"], d["max"], float(d["avgdl"]), int(d["n_docs"]))

    def score(self, tokens: list[str], docs: list[tuple[Counter, int]]) -> np.ndarray:
        """BM25 of each document (token counts, length) for the query tokens, float32, summed in token order."""
        out = np.zeros(len(docs), dtype=np.float32)
        lengths = np.array([dl for _, dl in docs], dtype=np.int64)
        for t in tokens:
            idf = self.idf.get(t) if t else None
            if idf is None:
                continue
            tf = np.array([c.get(t, 0) for c, _ in docs], dtype=np.int64)
            hit = np.flatnonzero(tf)
            if len(hit):
                out[hit] += bm25_terms(idf, tf[hit], lengths[hit], self.avgdl)
        return out

    def attainable(self, tokens: list[str]) -> float:
        """As kb.storage.keyword.KeywordLeg.attainable: the best score a document can reach for these tokens."""
        return attainable_score([float(self.token_max.get(t, 0.0)) if t else 0.0 for t in tokens])
