"""The local backend: a verified index folder (kb.storage.store) whose segments (kb.storage.segment) are read lazily.

`open_local(index_dir)` finds the live version, checks its manifest and the files it lists, and maps the version's
files; the object then answers kb.backends.protocol's protocol. Nothing proportional to the corpus is parsed at open: the
sections table is decoded row by row when rows are asked for; postings and name keys are memory-mapped; the FAISS
index is read whole on the first vector search; candidates' vectors are read by map, or by pread in large segments. The version's files: kb/storage/FORMAT.md.

Rows of the sections table are in content order (the order a full build gives them), whatever segment holds them;
segment rows no row points at are dead (their post changed or went) and are left out of both legs and of the
keyword statistics until the next compaction rewrites the segments.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.backends.filters import Filters, MaskCache, content_mask, rows_mask
from kb.backends.protocol import open_retrying
from kb.core import safeio
from kb.core.errors import IndexCorrupt, KbError
from kb.core.types import KeywordQuery, Manifest, PostRecord, Section
from kb.storage import store
from kb.storage.keyword import KeywordLeg
from kb.storage.segment import Segment
from kb.storage.tables import RowFile, load_array

# Entries asked of each segment beyond 2·limit (a section has two entries, so 2·limit entries hold at least `limit`
# sections): equal scores at the cut come from entries with the same text (a post copied into two files, a repeated
# heading), and the extra 64 keep such a run whole, so which of them is returned does not depend on FAISS's order.
TIE_MARGIN = 64
ENTRIES_PER_SECTION = 2        # kb.ingest.entries: the section entry and its referenced-title entry
POSTS = "posts.jsonl"


@dataclass
class Version:
    """The mapped files of one version folder."""
    folder: Path
    manifest: Manifest
    segments: list[Segment]
    phys: np.ndarray           # sections-table row → row in the concatenated segments
    post_rows: np.ndarray      # posts.jsonl order → first row; last entry = row count
    posts: RowFile
    seg_start: np.ndarray      # first concatenated row of each segment; last entry = total

    @property
    def total(self) -> int:
        return int(self.seg_start[-1])

    def locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(segment, row in segment) of sections-table rows."""
        p = self.phys[np.asarray(rows, dtype=np.int64)]
        s = np.searchsorted(self.seg_start, p, side="right") - 1
        return s, p - self.seg_start[s]

    def logical(self) -> np.ndarray:
        """Concatenated segment row → sections-table row (-1: dead)."""
        out = np.full(self.total, -1, dtype=np.int64)
        out[self.phys] = np.arange(len(self.phys))
        return out


def open_version(vdir: Path, manifest: Manifest, search: bool = True) -> Version:
    """Map a verified version's files and check they agree with each other and the manifest (IndexCorrupt else).
    `search=False`: for a rebuild, which reads rows, vectors and postings but never searches."""
    try:
        segments = [Segment(vdir / s["name"], search) for s in manifest.segments]
        phys = load_array(vdir / "rows.npy", mmap_mode=None).astype(np.int64, copy=False)
        post_rows = load_array(vdir / "post_rows.npy", mmap_mode=None).astype(np.int64, copy=False)
        posts = RowFile(vdir / POSTS)
        seg_start = np.cumsum([0] + [s.m for s in segments]).astype(np.int64)
        n = manifest.section_count
        consistent = (
            len(phys) == n and len(post_rows) == len(posts) + 1 and len(posts) == manifest.post_count
            and int(post_rows[0]) == 0 and int(post_rows[-1]) == n and bool(np.all(np.diff(post_rows) >= 0))
            and [s.m for s in segments] == [int(s["rows"]) for s in manifest.segments]
            and all(s.vectors.shape[1] == manifest.embedder_dim for s in segments)
            and (n == 0 or (int(phys.min()) >= 0 and int(phys.max()) < int(seg_start[-1])))
            and (n == 0 or int(np.bincount(phys, minlength=int(seg_start[-1])).max()) == 1))
    except KbError:
        raise
    except (safeio.NotRegularFile, safeio.FileTooLarge) as err:   # swapped after the checksums were verified
        raise store.unreadable(Path(err.filename or vdir), err) from None
    except Exception as err:  # noqa: BLE001 - the files passed their checks, so this is a forged or foreign build
        raise IndexCorrupt(f"the index in {vdir.parent} cannot be read ({type(err).__name__}); "
                           f"rebuild with: {store.REBUILD} --full") from None
    if not consistent:
        raise IndexCorrupt(f"the index in {vdir.parent} is inconsistent; rebuild with: {store.REBUILD} --full")
    return Version(vdir, manifest, segments, phys, post_rows, posts, seg_start)


class SectionTable(Sequence):
    """The sections table (row i = section i), decoded a row at a time from the segments' mapped row files.

    A search reads a few hundred rows and keeps the last CACHE_ROWS. A process that reads the whole table — a full
    iteration, or more rows than a quarter of the table one by one (the app's browse pages, topics) — would decode
    it again on every pass (2.8 s at 100k sections), so the table then decodes every row once and keeps them all.
    """

    CACHE_ROWS = 4096

    def __init__(self, version: Version):
        self._v = version
        self._cache: OrderedDict[int, Section] = OrderedDict()     # the last rows asked for (hits, a post's rows)
        self._all: list[Section] | None = None                     # every row, once the process reads them all
        self._misses = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._v.phys)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if self._all is not None:
            return self._all[i]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        s = self._cache.get(i)
        if s is None:
            self._misses += 1
            if self._misses > max(self.CACHE_ROWS, len(self) // 4):
                return self._every_row()[i]
            seg, local = self._v.locate(np.array([i]))
            s = self._v.segments[int(seg[0])].section(int(local[0]))
            with self._lock:
                self._cache[i] = s
                while len(self._cache) > self.CACHE_ROWS:
                    self._cache.popitem(last=False)
        return s

    def __iter__(self) -> Iterator[Section]:
        return iter(self._every_row())

    def _every_row(self) -> list[Section]:
        if self._all is None:
            segs, local = self._v.locate(np.arange(len(self)))
            every = [self._v.segments[s].section(r) for s, r in zip(segs.tolist(), local.tolist(), strict=True)]
            with self._lock:
                self._all = every
                self._cache.clear()
        return self._all


class PostTable(Sequence):
    """The posts table, decoded when first read."""

    def __init__(self, rows: RowFile):
        self._rows = rows
        self._all: list[PostRecord] | None = None

    def _records(self) -> list[PostRecord]:
        if self._all is None:
            self._all = [PostRecord.from_dict(self._rows.get(j)) for j in range(len(self._rows))]
        return self._all

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, j):
        return self._records()[j]

    def __iter__(self) -> Iterator[PostRecord]:
        return iter(self._records())


def filter_mask(f: Filters, posts: Sequence[PostRecord], post_of_row, n: int) -> np.ndarray | None:
    """kb.backends.filters.mask over n section rows, computed on the posts table: a section's date, tags, categories and
    post path are its post's (kb.ingest.sections.split_sections copies them). `post_of_row()` maps rows to posts."""
    if not f.active():
        return None
    m = np.ones(n, dtype=bool)
    if (f.since or f.until or f.tags or f.categories or f.post) and n:
        m &= content_mask(f, posts, path=lambda p: p.path)[post_of_row()]
    return rows_mask(f, m)


class FilterMasks:
    """A version's filters as masks: over the sections table's rows, and per segment over the entries a vector search
    may return. An explicit cache holds the last few filters' masks."""


    def __init__(self, version: Version, posts: Sequence[PostRecord], logical: np.ndarray):
        self._v, self._posts, self._logical = version, posts, logical
        self._post_of_row: np.ndarray | None = None
        self._rows = MaskCache(lambda f: filter_mask(f, self._posts, self.post_of_row, len(self._v.phys)))
        self._entries = MaskCache(self._entries_of)

    def post_of_row(self) -> np.ndarray:
        """Row → its post's position in the posts table."""
        if self._post_of_row is None:
            self._post_of_row = np.repeat(np.arange(len(self._posts), dtype=np.int64), np.diff(self._v.post_rows))
        return self._post_of_row

    def mask(self, f: Filters) -> np.ndarray | None:
        """Row mask (None: no filter)."""
        return self._rows.get(f)

    def allowed(self, f: Filters) -> list[np.ndarray | None]:
        """Per segment, the entries an active filter keeps (its live rows' section and title entries), None where
        it keeps none."""
        return self._entries.get(f)

    def _entries_of(self, f: Filters) -> list[np.ndarray | None]:
        m = self.mask(f)
        keep = np.zeros(self._v.total, dtype=bool)
        live = self._logical >= 0
        keep[live] = m[self._logical[live]]
        out = []
        for s in range(len(self._v.segments)):
            rows = keep[self._v.seg_start[s]:self._v.seg_start[s + 1]]
            out.append(np.concatenate([rows, rows]) if rows.any() else None)
        return out


class LocalBackend:
    """A mapped index version. Read-only after open; safe for concurrent searches."""

    name = "local"

    def __init__(self, index_dir: Path, version: Version):
        self.index_dir, self.location = index_dir, str(index_dir)
        self.version_dir = version.folder
        self.manifest = version.manifest
        self._v = version
        self.sections = SectionTable(version)
        self.posts = PostTable(version.posts)
        self._n = len(version.phys)
        self._logical = version.logical()
        live, self._dead = [], []
        for s in range(len(version.segments)):
            alive = self._logical[version.seg_start[s]:version.seg_start[s + 1]] >= 0
            live.append(None if alive.all() else np.concatenate([alive, alive]))
            self._dead.append(2 * int((~alive).sum()))
        self.keyword = KeywordLeg([seg.terms for seg in version.segments], live)
        self._masks = FilterMasks(version, self.posts, self._logical)
        self._dense: OrderedDict[tuple, np.ndarray] = OrderedDict()         # explicit cache: last few queries

    @property
    def version(self) -> str:
        return self.version_dir.name

    @property
    def segments(self) -> list[Segment]:
        return self._v.segments

    def is_stale(self) -> bool:
        try:
            return store.current_version(self.index_dir).name != self.version
        except KbError:
            return False

    # ---- filters --------------------------------------------------------------------------------------------------
    def post_of_row(self) -> np.ndarray:
        return self._masks.post_of_row()

    def mask(self, f: Filters) -> np.ndarray | None:
        return self._masks.mask(f)

    # ---- exact names --------------------------------------------------------------------------------------------
    def name_rows(self, key: str) -> np.ndarray:
        """The rows carrying a normalised resource name (kb.text.names.normalise_name), ascending."""
        out = []
        for s, seg in enumerate(self._v.segments):
            i = seg.names.find(key) if key else -1
            if i >= 0:
                local, _ = seg.names.postings(i)
                out.append(self._logical[self._v.seg_start[s] + np.asarray(local, dtype=np.int64)])
        if not out:
            return np.zeros(0, dtype=np.int64)
        rows = np.concatenate(out)
        return np.sort(rows[rows >= 0])

    # ---- keyword leg --------------------------------------------------------------------------------------------
    def _per_section(self, tokens: list[str]) -> np.ndarray:
        """The better of each row's two entries' BM25, in sections-table order."""
        parts = [np.maximum(sc[:seg.m], sc[seg.m:2 * seg.m])
                 for sc, seg in zip(self.keyword.scores(tokens), self._v.segments, strict=True)]
        return (np.concatenate(parts) if parts else np.zeros(0, np.float32))[self._v.phys]

    def _keyword_all(self, q: KeywordQuery) -> np.ndarray:
        key = (tuple(q.tokens), tuple(q.extra), q.extra_weight)
        if key not in self._dense:
            raw = self._per_section(q.tokens)
            if q.extra:
                raw = raw + q.extra_weight * self._per_section(q.extra)
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
        """The best 2·limit entries over all segments, ties to the earlier entry, as rows. A filter is pushed into
        each segment's FAISS index (kb.storage.vector: an ID selector over the entries that pass it), so the rows are
        those an index holding only the filtered sections would give; a filter keeping at most `limit` sections
        gives them all. Each segment is asked for enough entries to cover its dead ones, so with exact (flat)
        segments the rows are exactly those one index of the live entries would give; IVF segments propose, the
        query layer re-scores."""
        m = self.mask(filters)
        if m is not None and int(np.count_nonzero(m)) <= limit:
            return np.flatnonzero(m)
        allowed = None if m is None else self._masks.allowed(filters)
        k = limit * ENTRIES_PER_SECTION
        n = self._n
        scores, entries = [], []
        for s, seg in enumerate(self._v.segments):
            dead, vi = self._dead[s], seg.vector_index()
            if allowed is None:
                sc, ids = vi.search(qv, k + (dead if vi.kind == "flat" else min(dead, k)) + TIE_MARGIN)
            elif allowed[s] is None:
                continue
            else:
                sc, ids = vi.search(qv, k + TIE_MARGIN, allowed[s])
            title = ids >= seg.m
            logical = self._logical[self._v.seg_start[s] + ids - seg.m * title]
            keep = logical >= 0
            scores.append(sc[keep])
            entries.append(logical[keep] + n * title[keep])
        if not scores:
            return np.zeros(0, dtype=np.int64)
        sc, entry = np.concatenate(scores), np.concatenate(entries)
        best = np.lexsort((entry, -sc))[:k]
        return np.fromiter(dict.fromkeys((entry[best] % n).tolist()), dtype=np.int64) if n else entry[:0]

    def sentence_vectors(self, row: int) -> np.ndarray | None:
        """Vectors of section `row`'s snippet sentences (kb.query.snippets; float16), or None for a row out of range."""
        if not 0 <= row < self._n:
            return None
        seg, local = self._v.locate(np.array([row]))
        return self._v.segments[int(seg[0])].sentences_of(int(local[0]))

    def entry_vectors(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64)
        k = len(rows)
        dim = self.manifest.embedder_dim
        sec, title = np.empty((k, dim), dtype=np.float32), np.empty((k, dim), dtype=np.float32)
        segs, local = self._v.locate(rows)
        for s in np.unique(segs).tolist():
            pick = np.flatnonzero(segs == s)
            seg, lr = self._v.segments[s], local[pick]
            both = seg.entry_vectors(np.concatenate([lr, seg.m + lr]))
            sec[pick], title[pick] = both[:len(lr)], both[len(lr):]
        return sec, title

    def vocabulary(self) -> dict[str, int]:
        """Keyword terms → entries holding them (dead ones too): for typo corrections only (kb.query.typos)."""
        return _vocabulary(self._v.segments)


def open_local(index_dir: Path, model: str | None = None) -> LocalBackend:
    """The live build of an index folder, verified. Raises IndexMissing/Mismatch/Corrupt (one line each).
    Given `model` (a canonical name), refuse an index built with another one."""
    index_dir = Path(index_dir)
    return open_retrying(lambda: store.current_version(index_dir), lambda vdir: _open_version(index_dir, vdir, model))


def _open_version(index_dir: Path, vdir: Path, model: str | None) -> LocalBackend:
    manifest = store.read_manifest(vdir)
    if model:
        store.check_embedder(manifest, model)
    store.verify_files(vdir, manifest)
    return LocalBackend(index_dir, open_version(vdir, manifest))


def _vocabulary(segments: list[Segment]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in (seg.terms.table for seg in segments):
        for term, n in zip(t.all_keys(), np.diff(np.asarray(t.ptr, dtype=np.int64)).tolist(), strict=True):
            out[term] = out.get(term, 0) + n
    return out
