"""Query → Hits: open a built index and answer keyword, semantic and hybrid searches with filters and explain.

`open_index(path)` verifies the manifest and checksums, loads the sections table, the BM25 index and the vectors.
The embedding model loads on the first semantic/hybrid query, once per process (kb.embed's cache).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from kb import fusion, safeio, store
from kb.config import Settings
from kb.errors import BadQuery, IndexCorrupt, KbError
from kb.glossary import EXPANSION_WEIGHT, expansion_terms, spell_out
from kb.keyword import KeywordIndex
from kb.posts import parse_date
from kb.tokenize import tokenize, tokenize_query
from kb.types import Hit, Section
from kb.vector import VectorIndex

MODES = ("hybrid", "keyword", "semantic")
MAX_K = 1000
# A referenced-title vector (short: "Fastbook (fastai/fastbook)") scores high against any short query; it must beat
# its section's own vector by this margin to count. Measured on tests/eval: margin 0 → semantic nDCG 0.84, 0.03 → 0.90.
TITLE_MARGIN = 0.03
_CTRL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")   # and lone surrogates (undecodable argv bytes)
_NAME_NORM_RE = re.compile(r"[^0-9a-z가-힣\u3040-\u30ff\u4e00-\u9fff]+")
_SENT_RE = re.compile(r"(?<=[.!?。])\s+|\n+")


def normalise_name(s: str) -> str:
    """'Fast-Book ' → 'fastbook': the key for exact-name matching."""
    return _NAME_NORM_RE.sub("", unicodedata.normalize("NFKC", s).lower())


def clean_query(q: str) -> str:
    """Control characters (NUL included) and lone surrogates become spaces; whitespace collapses."""
    return re.sub(r"\s+", " ", _CTRL_RE.sub(" ", q or "")).strip()


@dataclass
class Filters:
    since: date | None = None
    until: date | None = None
    tags: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    post: str | None = None
    rows: set[int] | None = None       # restrict to these section rows (e.g. a topic's sections)

    def active(self) -> bool:
        return bool(self.since or self.until or self.tags or self.categories or self.post or self.rows is not None)


def _as_date(value, name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    d = parse_date(value)
    if d is None:
        raise BadQuery(f"--{name} '{str(value)[:40]}' is not a date; use YYYY-MM-DD")
    return d


def _as_list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


class Index:
    """A loaded index. Thread-safe for concurrent searches (read-only after load)."""

    def __init__(self, index_dir: Path, version_dir: Path, manifest: dict, sections: list[Section], posts: list[dict],
                 keyword: KeywordIndex, vectors: VectorIndex, embedder=None):
        self.index_dir = index_dir
        self.version_dir = version_dir
        self.manifest = manifest
        self.sections = sections
        self.posts = posts
        self.keyword = keyword
        self.vectors = vectors
        self._embedder = embedder
        self.title_margin = TITLE_MARGIN
        n = len(sections)
        self._dates = np.array([s.date or "" for s in sections])
        self._names: dict[str, list[int]] = {}
        for i, s in enumerate(sections):
            for name in s.names:
                key = normalise_name(name)
                if len(key) >= 2:
                    rows = self._names.setdefault(key, [])
                    if not rows or rows[-1] != i:
                        rows.append(i)
        self._n = n

    # ---- metadata -------------------------------------------------------------------------------------------
    @property
    def version(self) -> str:
        return self.version_dir.name

    @property
    def model_name(self) -> str:
        return self.manifest["embedder"]["name"]

    @property
    def embedder(self):
        if self._embedder is None:
            from kb.embed import get_embedder
            from kb.errors import ModelUnavailable

            try:
                self._embedder = get_embedder(self.model_name)
            except ModelUnavailable as err:
                raise ModelUnavailable(f"this index was built with model '{str(self.model_name)[:80]}', which cannot "
                                       f"be loaded here ({err}); install it, or rebuild with: {store.REBUILD} --full "
                                       "(keyword mode still works)") from None
        return self._embedder

    def is_stale(self) -> bool:
        """True when a newer build has been published in the index folder since this one was loaded."""
        try:
            return store.current_version(self.index_dir).name != self.version
        except KbError:
            return False

    def __len__(self) -> int:
        return self._n

    # ---- filters --------------------------------------------------------------------------------------------
    def _mask(self, f: Filters) -> np.ndarray | None:
        if not f.active():
            return None
        m = np.ones(self._n, dtype=bool)
        if f.since:
            m &= (self._dates != "") & (self._dates >= f.since.isoformat())
        if f.until:
            m &= (self._dates != "") & (self._dates <= f.until.isoformat())
        if f.tags:
            want = {t.lower() for t in f.tags}
            m &= np.array([bool(want & {t.lower() for t in s.tags}) for s in self.sections], dtype=bool)
        if f.categories:
            want = {c.lower() for c in f.categories}
            m &= np.array([bool(want & {c.lower() for c in s.categories}) for s in self.sections], dtype=bool)
        if f.post:
            m &= np.array([s.post_path == f.post for s in self.sections], dtype=bool)
        if f.rows is not None:
            rows = np.zeros(self._n, dtype=bool)
            idx = [r for r in f.rows if 0 <= r < self._n]
            rows[idx] = True
            m &= rows
        return m

    # ---- legs -----------------------------------------------------------------------------------------------
    def _per_section(self, entry_scores: np.ndarray) -> np.ndarray:
        n = self._n
        return np.maximum(entry_scores[:n], entry_scores[n:2 * n])

    def keyword_scores(self, query: str, expand: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(scaled, raw) keyword evidence per section. Raw: BM25 of the query plus glossary synonyms at half weight,
        the better of the section entry and its referenced-title entry. Scaled: raw / the query's attainable
        BM25, clipped to [0, 1]."""
        tokens = tokenize_query(query)
        raw = self._per_section(self.keyword.scores(tokens))
        extra = [t for t in tokenize_query(" ".join(expansion_terms(query))) if t not in tokens] if expand else []
        if extra:
            raw = raw + EXPANSION_WEIGHT * self._per_section(self.keyword.scores(extra))
        bound = self.keyword.attainable(tokens) or self.keyword.attainable(extra)
        scaled = np.clip(raw / bound, 0.0, 1.0) if bound > 0 else np.zeros_like(raw)
        return scaled, raw

    def query_vector(self, query: str, expand: bool = True) -> np.ndarray:
        """The query embedding; a one- or two-word query is spelled out with its glossary synonyms first."""
        return self.embedder.embed_query(spell_out(query) if expand else query)

    def semantic_scores(self, qv: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact cosine per section for the given rows: the section's vector, or its referenced-title vector
        when that is better by more than TITLE_MARGIN."""
        n = self._n
        both = self.vectors.score(qv, np.concatenate([rows, rows + n]))
        return np.maximum(both[: len(rows)], both[len(rows):] - self.title_margin)

    def _semantic_candidates(self, qv: np.ndarray, pool: int, mask: np.ndarray | None) -> np.ndarray:
        n = self._n
        if mask is not None and mask.sum() <= max(20000, pool):
            return np.flatnonzero(mask)
        _, ids = self.vectors.search(qv, pool * 2 if mask is None else pool * 8)
        rows = np.unique(ids % n)
        if mask is not None:
            rows = rows[mask[rows]]
            if len(rows) < pool:
                return np.flatnonzero(mask)
        return rows

    # ---- search ---------------------------------------------------------------------------------------------
    def search(self, query: str, mode: str = "hybrid", k: int = 10, since=None, until=None, tags=None,
               categories=None, post: str | None = None, rows=None, keyword_weight: float | None = None,
               fusion_method: str = "convex", expand: bool = True) -> list[Hit]:
        """Ranked sections for a query. Modes: hybrid (default), keyword, semantic. One hit per section.
        `expand=False` turns the glossary query expansion off (for evaluation)."""
        if mode not in MODES:
            raise BadQuery(f"unknown mode '{str(mode)[:20]}'; use one of: {', '.join(MODES)}")
        try:
            k = int(k)
        except (TypeError, ValueError):
            raise BadQuery("k must be a whole number") from None
        k = max(1, min(k, MAX_K))
        f = Filters(_as_date(since, "since"), _as_date(until, "until"), _as_list(tags), _as_list(categories), post,
                    set(rows) if rows is not None else None)
        q = clean_query(query)
        if not q or self._n == 0:
            return []
        mask = self._mask(f)
        if mask is not None and not mask.any():
            return []
        n = self._n
        pool = min(n, max(100, 5 * k))

        kw_all = bm25_all = None
        if mode in ("keyword", "hybrid"):
            kw_all, bm25_all = self.keyword_scores(q, expand)
            if mask is not None:
                kw_all = np.where(mask, kw_all, -np.inf)
        kw_rows = np.zeros(0, dtype=np.int64)
        if kw_all is not None:
            positive = np.flatnonzero(kw_all > 0)
            if len(positive) > pool:
                positive = positive[np.argpartition(-kw_all[positive], pool - 1)[:pool]]
            kw_rows = positive

        qv = None
        sem_rows = np.zeros(0, dtype=np.int64)
        if mode in ("semantic", "hybrid"):
            qv = self.query_vector(q, expand)
            sem_rows = self._semantic_candidates(qv, pool, mask)

        pinned = [r for r in self._names.get(normalise_name(q), []) if mask is None or mask[r]]
        cand = np.unique(np.concatenate([kw_rows, sem_rows, np.array(pinned, dtype=np.int64)])).astype(np.int64)
        if len(cand) == 0:
            return []
        kw = kw_all[cand] if kw_all is not None else None
        sem = self.semantic_scores(qv, cand) if qv is not None else None
        if mode == "semantic" and len(cand) > pool:
            top = np.argpartition(-sem, pool - 1)[:pool]
            cand, sem = cand[top], sem[top]
        if mode == "keyword":
            final = kw
        elif mode == "semantic":
            final = sem.astype(np.float64)
        elif fusion_method == "rrf":
            final = fusion.rrf(kw, sem)
        elif fusion_method == "convex-minmax":
            final = fusion.convex_minmax(bm25_all[cand], sem, 0.2 if keyword_weight is None else keyword_weight)
        elif fusion_method == "convex":
            w = fusion.KEYWORD_WEIGHT if keyword_weight is None else keyword_weight
            final = fusion.convex(np.maximum(kw, 0), sem, w)
        else:
            raise BadQuery(f"unknown fusion '{str(fusion_method)[:20]}'; use one of: {', '.join(fusion.METHODS)}")
        pin = np.isin(cand, pinned)
        order = np.lexsort((-final, ~pin))[:k]
        kw_rank = _ranks(kw) if kw is not None else None
        sem_rank = _ranks(sem) if sem is not None else None
        tokens = set(tokenize(q))
        hits = []
        for j in order:
            row = int(cand[j])
            s = self.sections[row]
            scores, ranks = {}, {}
            if kw is not None:
                scores["keyword"] = float(max(kw[j], 0.0))
                scores["bm25"] = float(bm25_all[row])
                if kw[j] > 0:
                    ranks["keyword"] = int(kw_rank[j])
            if sem is not None:
                scores["semantic"] = float(sem[j])
                ranks["semantic"] = int(sem_rank[j])
            if mode == "hybrid":
                scores["hybrid"] = float(final[j])
            if pin[j]:
                scores["exact_name"] = 1.0
            hits.append(self._hit(row, float(final[j]), scores, ranks, snippet(s, tokens)))
        return hits

    def _hit(self, row: int, score: float, scores: dict, ranks: dict, snip: str) -> Hit:
        s = self.sections[row]
        return Hit(heading=s.heading, post_title=s.post_title, date=s.date, week=s.week, tags=s.tags,
                   categories=s.categories, url=s.url, links=s.links, path=s.post_path, position=s.position,
                   score=score, scores=scores, ranks=ranks, snippet=snip, row=row)

    def more_like(self, row: int, k: int = 5) -> list[Hit]:
        """Nearest sections to a section by vector (the section itself excluded)."""
        n = self._n
        if not 0 <= row < n:
            return []
        qv = np.asarray(self.vectors.vectors[row], dtype=np.float32)
        _, ids = self.vectors.search(qv, min(2 * n, (k + 1) * 4))
        rows = [int(r) for r in dict.fromkeys(int(i) % n for i in ids) if r != row][:k]
        if not rows:
            return []
        sims = self.semantic_scores(qv, np.array(rows))
        return [self._hit(r, float(v), {"semantic": float(v)}, {}, snippet(self.sections[r], set()))
                for r, v in sorted(zip(rows, sims, strict=True), key=lambda t: -t[1])]

    def post_sections(self, path: str) -> list[int]:
        return [i for i, s in enumerate(self.sections) if s.post_path == path]


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(-np.asarray(x), kind="stable")
    r = np.empty(len(x), dtype=np.int64)
    r[order] = np.arange(1, len(x) + 1)
    return r


def snippet(s: Section, tokens: set[str], width: int = 220) -> str:
    """The sentence of the commentary that shares most tokens with the query (else the opening), ≤ width chars."""
    text = s.text.strip()
    if not text:
        return ""
    sentences = [x.strip() for x in _SENT_RE.split(text) if x and x.strip()]
    best = sentences[0] if sentences else text
    if tokens and len(sentences) > 1:
        scored = [(len(tokens & set(tokenize(x))), -i, x) for i, x in enumerate(sentences)]
        top = max(scored)
        if top[0] > 0:
            best = top[2]
    if len(best) > width:
        best = best[: width - 1].rstrip() + "…"
    return best


def open_index(path=None, *, embedder=None, model: str | None = None) -> Index:
    """Load and verify the index in `path` (default: KB_INDEX_DIR or index/). Raises IndexMissing/Mismatch/Corrupt."""
    index_dir = Path(path) if path is not None else Settings.load().index_dir
    for attempt in range(3):
        vdir = store.current_version(index_dir)
        try:
            return _open_version(index_dir, vdir, embedder, model)
        except IndexCorrupt:
            # a rebuild may have published twice while we read, removing this version: read the new one
            if attempt == 2 or store.current_version(index_dir) == vdir:
                raise
    raise AssertionError("unreachable")


def _open_version(index_dir: Path, vdir: Path, embedder, model: str | None) -> Index:
    manifest = store.read_manifest(vdir)
    if model:
        from kb.config import canonical_model

        store.check_embedder(manifest, canonical_model(model))
    if embedder is not None:
        store.check_embedder(manifest, embedder.name)
    store.verify_files(vdir, manifest)
    try:
        sections = [Section.from_dict(d) for d in safeio.read_json(vdir / "sections.json", store.MAX_JSON_BYTES)]
        posts = safeio.read_json(vdir / "posts.json", store.MAX_JSON_BYTES)
        keyword = KeywordIndex.load(vdir / "bm25")
        ann = vdir / "ann.faiss"
        vectors = VectorIndex.load(vdir / "vectors.npy", ann if ann.exists() else None)
        consistent = len(sections) == manifest.get("section_count") and vectors.vectors.shape[0] == 2 * len(sections)
    except (safeio.NotRegularFile, safeio.FileTooLarge) as err:   # swapped after the checksums were verified
        raise store.unreadable(Path(err.filename or vdir), err) from None
    except Exception as err:  # noqa: BLE001 - checksums passed, so this is a forged or foreign build: one line
        raise IndexCorrupt(f"the index in {index_dir} cannot be read ({type(err).__name__}); "
                           f"rebuild with: {store.REBUILD} --full") from None
    if not consistent:
        raise IndexCorrupt(f"the index in {index_dir} is inconsistent; rebuild with: {store.REBUILD} --full")
    return Index(index_dir, vdir, manifest, sections, posts, keyword, vectors, embedder)
