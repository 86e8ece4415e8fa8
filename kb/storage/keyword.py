"""Keyword leg: BM25 over the index entries' tokens, scored at query time from stored term frequencies.

Each segment of an index stores, per token, the entries holding it with their term frequency (a kb.storage.tables key
table, `terms.*`) and every entry's length (`doclen.npy`). A query's scores use the statistics of the live
entries of all segments together — entry count, average length, each token's document frequency — so an index
made of a large segment and a small delta scores exactly like one built from scratch (Lucene does the same).
The arithmetic is bm25s's Lucene variant (k1 1.2, b 0.75, idf = ln(1 + (N − df + 0.5)/(df + 0.5)) rounded to
float32, tf/(tf + k1·(1 − b + b·dl/avgdl)) in float64, each product rounded to float32 and summed per entry in
float32 in query-token order): scores are bit for bit those of `bm25s.BM25(k1=1.2, b=0.75)` on the same entries
(tests/test_segments.py checks it).

Besides raw BM25 it gives a query's *attainable* score — the sum over query tokens of each token's best
contribution in the collection — so the fusion can read keyword evidence as "how much of the query matched"
instead of min-max stretching whatever matched best (which over-rates a lone incidental word match).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from kb.storage.tables import KeyTable, load_array, postings_from_lists, save_array, write_postings

BM25_K1 = 1.2
BM25_B = 0.75
# Columns kept per process: a token's column costs 8 bytes a posting (entry, score); the most common Hangul bigram
# at 100k sections has ~70k postings (0.55 MB).
COLUMN_CACHE_BYTES = 32 << 20
TERMS = "terms"
# A token whose postings cover more than 1/DENSE_ADD_SHARE of a segment's entries is added to the scores as a dense
# column (its contributions scattered into zeros) instead of by an indexed add: at 200k entries 146 vs 234 µs for 60k
# postings, 80 vs 86 µs for 20k (an indexed add reads, adds and writes back through the index).
DENSE_ADD_SHARE = 10


def entry_lists(tokens: Iterable[Sequence[str]], lengths: list[int]) -> Iterable[Sequence[str]]:
    """Each entry's tokens as indexed (an entry without tokens holds the empty token, as in bm25s), recording
    each entry's length into `lengths`."""
    for t in tokens:
        t = t if t else [""]
        lengths.append(len(t))
        yield t


def new_terms(tokens: Iterable[Sequence[str]]) -> tuple[tuple, np.ndarray]:
    """(a write_postings part over entries 0..k-1, their lengths) from each entry's tokens."""
    lengths: list[int] = []
    part = postings_from_lists(entry_lists(tokens, lengths), count=True)
    return part, np.array(lengths, dtype=np.int32)


def write_terms(folder: Path, parts: list, doclen: np.ndarray) -> None:
    write_postings(folder, TERMS, parts, values=True)
    save_array(folder / "doclen.npy", doclen.astype(np.int32))


class SegmentTerms:
    """One segment's stored postings (token → entries, term frequencies) and entry lengths, memory-mapped."""

    def __init__(self, folder: Path):
        self.table = KeyTable(folder, TERMS, values=True)
        self.doclen = load_array(folder / "doclen.npy")


class KeywordLeg:
    """BM25 over the live entries of one or more segments. `live[s]` masks segment s's entries (None: all live)."""

    def __init__(self, segments: list[SegmentTerms], live: list[np.ndarray | None]):
        self.segments = segments
        self.live = live
        self.num_docs = 0
        total = 0
        for seg, m in zip(segments, live, strict=True):
            dl = np.asarray(seg.doclen, dtype=np.int64)
            self.num_docs += len(dl) if m is None else int(m.sum())
            total += int(dl.sum() if m is None else dl[m].sum())
        self.avgdl = total / self.num_docs if self.num_docs else 1.0
        # dead entries, sorted (postings are sorted by entry): counted out of a token's df by binary search, and
        # given an infinite length norm so that they score exactly 0 without filtering every posting list
        self._dead = [None if m is None else np.flatnonzero(~m) for m in live]
        self._norm: list[np.ndarray | None] = [None] * len(segments)
        self._max: dict[str, float] = {}
        # explicit cache: the last tokens' columns (their scores are fixed for this set of segments), by bytes
        self.cache_bytes = COLUMN_CACHE_BYTES
        self._columns: OrderedDict[str, list] = OrderedDict()
        self._cached = 0
        self._lock = threading.Lock()

    def _norms(self, s: int) -> np.ndarray:
        if self._norm[s] is None:
            dl = np.asarray(self.segments[s].doclen, dtype=np.float64)
            norm = BM25_K1 * ((1 - BM25_B) + BM25_B * dl / self.avgdl)
            if self._dead[s] is not None:
                norm[self._dead[s]] = np.inf
            self._norm[s] = norm
        return self._norm[s]

    def _live_count(self, s: int, doc: np.ndarray) -> int:
        dead = self._dead[s]
        if dead is None or not len(dead) or not len(doc):
            return len(doc)
        pos = np.searchsorted(doc, dead)
        hit = pos < len(doc)
        return len(doc) - int(np.count_nonzero(doc[pos[hit]] == dead[hit]))

    def column(self, token: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """The token's scores: [(segment, entries, float32 scores)] (empty if it occurs in no live entry). The
        entries are the token's postings as stored; a dead entry among them scores 0. Kept in a small cache."""
        with self._lock:
            col = self._columns.get(token)
            if col is not None:
                self._columns.move_to_end(token)
                return col
        col = self._column(token)
        size = sum(doc.nbytes + sc.nbytes for _, doc, sc in col)
        if size <= self.cache_bytes // 4:
            with self._lock:
                if token not in self._columns:
                    self._columns[token] = col
                    self._cached += size
                while self._cached > self.cache_bytes:
                    self._cached -= sum(d.nbytes + c.nbytes for _, d, c in self._columns.popitem(last=False)[1])
        return col

    def clear_cache(self) -> None:
        with self._lock:
            self._columns.clear()
            self._cached = 0

    def _column(self, token: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        found, df = [], 0
        for s, seg in enumerate(self.segments):
            i = seg.table.find(token)
            if i < 0:
                continue
            doc, tf = seg.table.postings(i)
            live = self._live_count(s, doc)
            if live:
                found.append((s, doc, tf))
                df += live
        if not df:
            self._max[token] = 0.0
            return []
        idf = float(np.float32(math.log(1 + (self.num_docs - df + 0.5) / (df + 0.5))))
        out = []
        for s, doc, tf in found:
            # idf · tf / (norm + tf) in float64, rounded to float32 (bm25s's arithmetic; + and · commute exactly)
            tf64 = tf.astype(np.float64)
            x = self._norms(s)[doc]
            x += tf64
            np.divide(tf64, x, out=x)
            x *= idf
            out.append((s, doc, x.astype(np.float32)))
        self._max[token] = float(max(float(sc.max()) for _, _, sc in out))
        return out

    def scores(self, tokens: list[str]) -> list[np.ndarray]:
        """BM25 of every entry of every segment for the query tokens: one float32 array per segment (dead entries
        included, to be ignored by the caller)."""
        out = [np.zeros(len(seg.doclen), dtype=np.float32) for seg in self.segments]
        for t in tokens:
            if not t:
                continue
            for s, doc, sc in self.column(t):
                if len(doc) * DENSE_ADD_SHARE < len(out[s]):
                    out[s][doc] += sc              # a token's postings name each entry once
                else:                              # a common token: a dense column added (x + 0 = x: the same sums)
                    dense = np.zeros(len(out[s]), dtype=np.float32)
                    dense[doc] = sc
                    out[s] += dense
        return out

    def token_max(self, token: str) -> float:
        if token not in self._max:
            self.column(token)
        return self._max[token]

    def attainable(self, tokens: list[str]) -> float:
        """Upper bound of a document's score for these tokens; a token absent from the collection counts as much
        as the average present one (a query whose words are mostly missing can only match weakly)."""
        best = [self.token_max(t) if t else 0.0 for t in tokens]
        known = [b for b in best if b > 0]
        if not known:
            return 0.0
        fill = sum(known) / len(known)
        return sum(b if b > 0 else fill for b in best)


def bm25_idf(num_docs: int, df: int) -> float:
    """A token's IDF among `num_docs` entries, `df` of which hold it (rounded to float32, as bm25s)."""
    return float(np.float32(math.log(1 + (num_docs - df + 0.5) / (df + 0.5))))


def bm25_terms(idf: float, tf: np.ndarray, doclen: np.ndarray, avgdl: float) -> np.ndarray:
    """One token's float32 contributions to entries with term frequencies `tf` and lengths `doclen`."""
    tf64 = np.asarray(tf, dtype=np.float64)
    norm = BM25_K1 * ((1 - BM25_B) + BM25_B * np.asarray(doclen, dtype=np.float64) / avgdl)
    return (idf * (tf64 / (norm + tf64))).astype(np.float32)


def attainable_score(best: list[float]) -> float:
    """KeywordLeg.attainable from each query token's best contribution (0: absent from the collection)."""
    known = [b for b in best if b > 0]
    if not known:
        return 0.0
    fill = sum(known) / len(known)
    return sum(b if b > 0 else fill for b in best)
