"""`python -m benchmarks.milvus_filters`: what the Milvus backend's small-filter shortcut (kb.backends.milvus.backend.
BRUTE_ROWS) trades — kb's BM25 over a filtered set of sections scored in this process (cold: its sections' tokens
not yet cached; warm: cached) against one keyword search asked of Milvus — on a synthetic corpus synced with a fake
embedder to a milvus-lite server started here. Medians of 3 (scoring) and 5 (Milvus) runs.

    python -m benchmarks.milvus_filters --sections 5000
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.backends import start_server
from benchmarks.harness import write_corpus
from kb.backends import milvus as M
from kb.backends.filters import Filters
from kb.core.config import Settings
from kb.core.types import KeywordQuery
from kb.text.tokenize import tokenize_query

QUERY = "강화학습 트레이딩 데이터"


class HashEmbedder:
    """Unit vectors seeded by a text's hash: the sync needs vectors, this measurement does not look at them."""

    name, dim = "hash-embedder", 32

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[:8], "big")
            v = np.random.default_rng(seed).normal(size=self.dim)
            out[i] = v / np.linalg.norm(v)
        return out


def _ms(runs: list[float]) -> int:
    return round(statistics.median(runs) * 1000)


def measure(uri: str, sizes: list[int]) -> None:
    q = KeywordQuery(tokenize_query(QUERY), [])
    for rows in sizes:
        cold, warm = [], []
        for _ in range(3):
            b = M.open_milvus(uri, "kb")
            r = np.arange(min(rows, len(b.sections)))
            t = time.perf_counter()
            b.keyword_scores(q, r)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            b.keyword_scores(q, r)
            warm.append(time.perf_counter() - t)
        print(f"score {rows} sections here: cold {_ms(cold)} ms, warm {_ms(warm)} ms")
    b, runs = M.open_milvus(uri, "kb"), []
    for _ in range(5):
        b._counts.cache_clear()
        t = time.perf_counter()
        b.keyword_search(q, Filters(), 10)
        runs.append(time.perf_counter() - t)
    print(f"one keyword search asked of Milvus (k=10, candidates re-scored here, cold): {_ms(runs)} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sections", type=int, default=5000, help="sections in the synthetic corpus (default 5000)")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kb-milvus-filters-"))
    write_corpus(work / "content", args.sections)
    proc, uri = start_server(work / "milvus")
    try:
        M.sync_milvus(Settings.load(work / "content", work / "unused"), uri, "kb", embedder=HashEmbedder())
        measure(uri, [s for s in (500, 2000, 5000) if s <= args.sections])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
