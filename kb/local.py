"""The local backend: a verified index folder (kb.store) read into a sections table, bm25s and FAISS.

`open_local(index_dir)` finds the live version, checks its manifest and checksums, and loads the sections and
posts tables, the BM25 index and the vectors; the object then answers kb.backend's protocol.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np

from kb import store
from kb.entries import entry_ids, entry_rows, per_section
from kb.errors import IndexCorrupt, KbError
from kb.filters import Filters, mask, section_dates
from kb.keyword import KeywordIndex
from kb.types import KeywordQuery, Manifest, PostRecord, Section
from kb.vector import VectorIndex

EXACT_FILTERED_ROWS = 20_000   # a filter that keeps at most this many sections is searched exactly


class LocalBackend:
    """A loaded index folder. Read-only after load; safe for concurrent searches."""

    name = "local"

    def __init__(self, index_dir: Path, version_dir: Path, manifest: Manifest, sections: list[Section],
                 posts: list[PostRecord], keyword: KeywordIndex, vectors: VectorIndex):
        self.index_dir = index_dir
        self.version_dir = version_dir
        self.manifest = manifest
        self.sections = sections
        self.posts = posts
        self.keyword = keyword
        self.vectors = vectors
        self._n = len(sections)
        self._dates = section_dates(sections)
        self._masks: OrderedDict[str, np.ndarray | None] = OrderedDict()     # explicit cache: last few filters
        self._dense: OrderedDict[tuple, np.ndarray] = OrderedDict()         # explicit cache: last few queries
        self._sentences: tuple[np.ndarray, np.ndarray] | None = None          # loaded on first use

    @property
    def version(self) -> str:
        return self.version_dir.name

    def is_stale(self) -> bool:
        try:
            return store.current_version(self.index_dir).name != self.version
        except KbError:
            return False

    def mask(self, f: Filters) -> np.ndarray | None:
        key = repr((f.since, f.until, sorted(f.tags), sorted(f.categories), f.post,
                    None if f.rows is None else sorted(f.rows)))
        if key not in self._masks:
            self._masks[key] = mask(f, self.sections, self._dates)
            while len(self._masks) > 8:
                self._masks.popitem(last=False)
        return self._masks[key]

    # ---- keyword leg --------------------------------------------------------------------------------------------
    def _keyword_all(self, q: KeywordQuery) -> np.ndarray:
        key = (tuple(q.tokens), tuple(q.extra), q.extra_weight)
        if key not in self._dense:
            raw = per_section(self.keyword.scores(q.tokens), self._n)
            if q.extra:
                raw = raw + q.extra_weight * per_section(self.keyword.scores(q.extra), self._n)
            self._dense[key] = raw
            while len(self._dense) > 4:
                self._dense.popitem(last=False)
        return self._dense[key]

    def keyword_search(self, q: KeywordQuery, filters: Filters, limit: int) -> tuple[np.ndarray, np.ndarray]:
        raw = self._keyword_all(q)
        m = self.mask(filters)
        rows = np.flatnonzero((raw > 0) if m is None else (raw > 0) & m)
        if len(rows) > limit:
            rows = rows[np.argpartition(-raw[rows], limit - 1)[:limit]]
        rows = rows[np.argsort(-raw[rows], kind="stable")]
        return rows, raw[rows]

    def keyword_scores(self, q: KeywordQuery, rows: np.ndarray) -> np.ndarray:
        return self._keyword_all(q)[np.asarray(rows, dtype=np.int64)]

    def keyword_bound(self, tokens: list[str]) -> float:
        return self.keyword.attainable(tokens)

    # ---- vector leg ---------------------------------------------------------------------------------------------
    def vector_search(self, qv: np.ndarray, filters: Filters, limit: int) -> np.ndarray:
        n = self._n
        m = self.mask(filters)
        if m is not None and m.sum() <= max(EXACT_FILTERED_ROWS, limit):
            return np.flatnonzero(m)
        _, ids = self.vectors.search(qv, limit * 2 if m is None else limit * 8)
        rows = np.fromiter(dict.fromkeys(entry_rows(ids, n).tolist()), dtype=np.int64)
        if m is not None:
            rows = rows[m[rows]]
            if len(rows) < limit:
                return np.flatnonzero(m)
        return rows

    def sentence_vectors(self, row: int) -> np.ndarray | None:
        """Vectors of section `row`'s snippet sentences (kb.snippets), or None when the build has none."""
        if self._sentences is None:
            path = self.version_dir / "sentences.npy"
            if not path.is_file():
                return None
            self._sentences = (np.load(path, mmap_mode="r"), np.load(self.version_dir / "sentence_starts.npy"))
        vectors, starts = self._sentences
        if not 0 <= row < len(starts) - 1:
            return None
        return vectors[starts[row]:starts[row + 1]]

    def entry_vectors(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = entry_ids(rows, self._n)
        order = np.argsort(ids, kind="stable")               # sorted reads: sequential on a memory-mapped file
        v = np.empty((len(ids), self.vectors.vectors.shape[1]), dtype=np.float32)
        v[order] = self.vectors.vectors[ids[order]]
        k = len(rows)
        return v[:k], v[k:]


def open_local(index_dir: Path, model: str | None = None) -> LocalBackend:
    """The live build of an index folder, verified. Raises IndexMissing/Mismatch/Corrupt (one line each).
    Given `model` (a canonical name), refuse an index built with another one."""
    index_dir = Path(index_dir)
    for attempt in range(3):
        vdir = store.current_version(index_dir)
        try:
            return _open_version(index_dir, vdir, model)
        except IndexCorrupt:
            # a rebuild may have published twice while we read, removing this version: read the new one
            if attempt == 2 or store.current_version(index_dir) == vdir:
                raise
    raise AssertionError("unreachable")


def _open_version(index_dir: Path, vdir: Path, model: str | None) -> LocalBackend:
    manifest = store.read_manifest(vdir)
    if model:
        store.check_embedder(manifest, model)
    store.verify_files(vdir, manifest)
    try:
        sections = [Section.from_dict(d) for d in json.loads((vdir / "sections.json").read_text(encoding="utf-8"))]
        posts = [PostRecord.from_dict(d) for d in json.loads((vdir / "posts.json").read_text(encoding="utf-8"))]
        keyword = KeywordIndex.load(vdir / "bm25")
        ann = vdir / "ann.faiss"
        vectors = VectorIndex.load(vdir / "vectors.npy", ann if ann.exists() else None)
        consistent = len(sections) == manifest.section_count and vectors.vectors.shape[0] == 2 * len(sections)
    except Exception as err:  # noqa: BLE001 - checksums passed, so this is a forged or foreign build: one line
        raise IndexCorrupt(f"the index in {index_dir} cannot be read ({type(err).__name__}); "
                           f"rebuild with: {store.REBUILD} --full") from None
    if not consistent:
        raise IndexCorrupt(f"the index in {index_dir} is inconsistent; rebuild with: {store.REBUILD} --full")
    return LocalBackend(index_dir, vdir, manifest, sections, posts, keyword, vectors)
