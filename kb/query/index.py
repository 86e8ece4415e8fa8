"""Query → Hits: the query layer over a retrieval backend (kb.backends.protocol) — modes, filters, fusion, exact names.

`Index.search` reads: clean the query → ask the keyword leg and the vector leg for candidates (filters pushed down
to the backend) → score every candidate exactly on both legs → fuse (and lift the topics a short query names,
kb.query.facets) → pin exact names → build hits. The embedding
model loads on the first semantic/hybrid query, once per process (kb.embed.embedder's cache).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.backends import open_backend
from kb.backends.filters import Filters, keep, parse_filters
from kb.backends.local import open_local
from kb.backends.protocol import Backend
from kb.core.config import Settings, canonical_model
from kb.core.errors import BadQuery, ModelUnavailable
from kb.core.types import Hit, KeywordQuery, Manifest, PostRecord, Section
from kb.embed import queryvec
from kb.embed.embedder import get_embedder
from kb.query import explain, facets, fusion, relevance, typos
from kb.query.snippets import snippet
from kb.storage import store
from kb.text.glossary import EXPANSION_WEIGHT, expansion_terms
from kb.text.names import normalise_name
from kb.text.tokenize import tokenize, tokenize_query

MODES = ("hybrid", "keyword", "semantic")
MAX_K = 1000
# A referenced-title vector (short: "Fastbook (fastai/fastbook)") scores high against any short query; it must beat
# its section's own vector by this margin to count. Measured on tests/eval: margin 0 → semantic nDCG 0.84, 0.03 → 0.90.
TITLE_MARGIN = 0.03
# Candidates each leg brings: at 100k sections a pool of 100 gives keyword and meaning the same top 10 as a pool of
# 2,000 on 40 of 40 bench queries (a pool of 30: meaning 39 of 40); hybrid min-max-scales the meaning leg over the
# pool, so there the pool is part of the ranking and stays at the size every eval figure was measured with
# (`python -m benchmarks.pool --index W/index`, BENCHMARKS.md).
MIN_POOL, POOL_PER_RESULT = 100, 5
_CTRL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")   # and lone surrogates (undecodable argv bytes)


def clean_query(q: str) -> str:
    """Control characters (NUL included) and lone surrogates become spaces; whitespace collapses."""
    return re.sub(r"\s+", " ", _CTRL_RE.sub(" ", q or "")).strip()


def keyword_query(query: str, expand: bool = True) -> KeywordQuery:
    """The keyword leg's question: the query's tokens, plus its glossary synonyms' tokens at half weight."""
    tokens = tokenize_query(query)
    extra = [t for t in tokenize_query(" ".join(expansion_terms(query))) if t not in tokens] if expand else []
    return KeywordQuery(tokens, extra, EXPANSION_WEIGHT)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise BadQuery(f"unknown mode '{str(mode)[:20]}'; use one of: {', '.join(MODES)}")
    return mode


def clamp_k(k) -> int:
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise BadQuery("k must be a whole number") from None
    return max(1, min(k, MAX_K))


class Hits(list):
    """A search's hits, best first, and `did_you_mean`: the corrected query when the query had typos and the
    corrected one matched clearly better (kb.query.typos), else None."""
    did_you_mean: str | None = None


@dataclass
class Candidates:
    """Every candidate section of one query with its evidence from each leg (None: the leg did not run)."""
    rows: np.ndarray
    keyword: np.ndarray | None = None      # attainable-scaled keyword score in [0, 1]
    bm25: np.ndarray | None = None         # raw BM25 (+ synonyms at half weight)
    semantic: np.ndarray | None = None     # exact cosine
    pinned: np.ndarray | None = None       # the query names this section exactly
    background: float | None = None        # the query's best cosine against everyday sentences (kb.query.relevance)
    query_vector: np.ndarray | None = None
    fix: typos.Correction | None = None    # the query with its typos corrected (kb.query.typos)
    coverage: np.ndarray | None = None     # share of the query's words in the heading / first sentence (explain)
    facet: np.ndarray | None = None        # the lift of the topics the query names (kb.query.facets), hybrid only
    topical: np.ndarray | None = None      # in every topic a query of topic names alone names (facets.topical)
    lone: np.ndarray | None = None         # holds one word of a longer query (relevance.ONE_WORD_UNITS)
    everyday: np.ndarray | None = None     # > 0: held weak by the everyday bar, its section's closeness to everyday text
    searched: int = 0                      # how many sections the search runs over (the floor rises with it)
    held: np.ndarray | None = None         # keyword mode: the query units each of the first candidates holds


class Index:
    """A searchable index: the query layer over one backend. Thread-safe for concurrent searches."""

    def __init__(self, backend: Backend, embedder=None):
        self.backend = backend
        self.manifest: Manifest = backend.manifest
        self.sections: Sequence[Section] = backend.sections     # row i = section i
        self.posts: Sequence[PostRecord] = backend.posts
        self._embedder = embedder
        self.title_margin, self.semantic_min_range = TITLE_MARGIN, fusion.SEMANTIC_MIN_RANGE
        self.full_match_bonus = fusion.FULL_MATCH_BONUS        # kb.query.fusion
        self.facet_bonus: float | None = None                  # None: kb.query.facets.FACET_BONUS; 0 turns facets off
        self.facets_ready = None        # given (the app: topics warm up behind it), facets wait for nothing until True
        self.typos = typos.Corrector(          # typo tolerance; .enabled = False turns it off
            backend, topics=lambda: typos.topics_in_use(self.manifest.content_dir or None))

    @property
    def version(self) -> str:
        return self.backend.version

    @property
    def model_name(self) -> str:
        return self.manifest.embedder_name

    def is_stale(self) -> bool:
        return self.backend.is_stale()

    def __len__(self) -> int:
        return len(self.sections)

    @property
    def embedder(self):
        if self._embedder is None:
            try:
                self._embedder = get_embedder(self.model_name)
            except ModelUnavailable as err:
                raise ModelUnavailable(f"this index was built with model '{str(self.model_name)[:80]}', which cannot "
                                       f"be loaded here ({err}); install it, or rebuild with: {store.REBUILD} --full "
                                       "(keyword mode still works)") from None
        return self._embedder

    # ---- legs ---------------------------------------------------------------------------------------------------
    def keyword_evidence(self, kq: KeywordQuery, rows: np.ndarray,
                         fix: typos.Fuzzy | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scaled, raw) keyword evidence of the rows: raw BM25 (synonyms at half weight; corrected typos' tokens
        at typos.FUZZY_WEIGHT or FAR_WEIGHT), and raw divided by the query's attainable BM25, clipped to [0, 1]."""
        raw = self.backend.keyword_scores(kq, rows).astype(np.float32)
        bound = typos.attainable(self.backend, kq, fix)
        if fix is not None:
            raw = raw + fix.scores(self.backend, rows)
        scaled = np.clip(raw / bound, 0.0, 1.0) if bound > 0 else np.zeros_like(raw)
        return scaled, raw

    query_vector_mode = queryvec.DEFAULT        # how the glossary shapes the query embedding (kb.embed.queryvec)

    def query_vector(self, query: str, expand: bool = True) -> np.ndarray:
        """The query embedding; a one- or two-word query also carries its glossary groups (kb.embed.queryvec)."""
        return queryvec.query_vector(self.embedder, query, self.query_vector_mode if expand else "plain")

    def semantic_scores(self, qv: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact cosine per section for the given rows: the section's vector, or its referenced-title vector
        when that is better by more than title_margin."""
        sec, title = self.backend.entry_vectors(np.asarray(rows, dtype=np.int64))
        return np.maximum(sec @ qv, title @ qv - self.title_margin).astype(np.float32)

    def pinned(self, query: str, f: Filters) -> np.ndarray:
        """The sections the query names exactly (a heading or resource name), passing the filters."""
        rows = self.backend.name_rows(normalise_name(query)).tolist()
        return np.array(keep(f, self.sections, rows), dtype=np.int64)

    def candidates(self, q: str, mode: str, f: Filters, pool: int, expand: bool) -> Candidates:
        """Ask each leg for candidates (typos corrected), then score every candidate on every leg that runs."""
        empty = np.zeros(0, dtype=np.int64)
        fix = self.typos.correct(q)
        kq = keyword_query(q, expand) if mode != "semantic" else None
        fuzzy = typos.fuzzy_query(kq, fix, lambda t: keyword_query(t, expand)) if kq is not None and fix else None
        kw_rows = self.backend.keyword_search(kq, f, pool)[0] if kq is not None else empty
        if fuzzy is not None:
            kw_rows = np.concatenate([kw_rows, fuzzy.search(self.backend, f, pool)])
        qv = self.query_vector(q, expand) if mode != "keyword" else None
        sem_rows = typos.vector_rows(self, qv, fix, f, pool, expand) if qv is not None else empty
        pinned = self.pinned(q, f)
        c = Candidates(np.unique(np.concatenate([kw_rows, sem_rows, pinned])).astype(np.int64), fix=fix, query_vector=qv)
        if kq is not None:
            c.keyword, c.bm25 = self.keyword_evidence(kq, c.rows, fuzzy)
        if qv is not None:
            c.background, c.semantic = relevance.background_best(self.embedder, qv), typos.cosines(self, qv, fix, c.rows, expand)
            if mode == "semantic" and len(c.rows) > pool:
                top = np.argpartition(-c.semantic, pool - 1)[:pool]
                c.rows, c.semantic = c.rows[top], c.semantic[top]
        c.pinned = np.isin(c.rows, pinned)
        return c

    # ---- search -------------------------------------------------------------------------------------------------
    def search(self, query: str, mode: str = "hybrid", k: int = 10, since=None, until=None, tags=None,
               categories=None, post: str | None = None, rows=None, keyword_weight: float | None = None,
               fusion_method: str = "convex", expand: bool = True) -> Hits:
        """Ranked sections (one hit each) for a query in mode hybrid, keyword or semantic, and `did_you_mean` (see Hits).
        `expand=False` turns the glossary query expansion off (for evaluation)."""
        mode, k, q = check_mode(mode), clamp_k(k), clean_query(query)
        if mode == "hybrid" and keyword_weight is None and fusion_method == "convex":    # English query, Korean posts
            keyword_weight = fusion.query_keyword_weight(q, self.version, self.sections)
        fuse = fusion.method(fusion_method, keyword_weight, self.semantic_min_range) if mode == "hybrid" else None
        f = parse_filters(since, until, tags, categories, post, rows)
        if not q or len(self) == 0:
            return Hits()
        c = self.candidates(q, mode, f, min(len(self), max(MIN_POOL, POOL_PER_RESULT * k)), expand)
        if not len(c.rows):
            return Hits()
        c.searched = searched(self, f)
        top = _keyword_top(self, q, c, k) if mode == "keyword" else None    # needs no coverage
        if mode != "semantic":
            c.coverage, c.lone = _coverage(self, q, c, top)
        c.facet = facets.boost(self, q, c.rows, self.facet_bonus, c.fix and c.fix.fixed) if mode == "hybrid" else None
        c.topical = facets.topical(self, q, c.facet, self.facet_bonus, c.fix and c.fix.fixed)
        final = _final(c, mode, fuse, self.full_match_bonus)
        conf = confidence(self, q, c, expand, top)
        order = _order(_rank_key(c, final), c.pinned, conf, k)
        confirmed = _confirmed(self, c, conf, _confirming_order(c, mode, fuse, self.full_match_bonus, conf, k, order))
        if c.semantic is not None and (sem := typos.as_confirmed(self, c, confirmed, expand)) is not None:
            c.semantic = sem                # the meaning leg follows the corrections the results confirm
            final = _final(c, mode, fuse, self.full_match_bonus)
            order = _order(_rank_key(c, final), c.pinned, conf, k)
        hits = _hits(self, q, c, order, final, conf, mode)
        hits.did_you_mean = typos.did_you_mean(c.fix, confirmed, _whole_word(self))
        return hits

    def hit(self, row: int, score: float = 0.0, scores: dict | None = None, ranks: dict | None = None,
            snippet: str | None = None) -> Hit:
        """The Hit for a section row (outside a search: score 0 and the opening sentence as snippet)."""
        s = self.sections[row]
        return Hit(heading=s.heading, post_title=s.post_title, date=s.date, week=s.week, tags=s.tags,
                   categories=s.categories, url=s.url, links=s.links, path=s.post_path, position=s.position,
                   score=score, scores=dict(scores or {}), ranks=dict(ranks or {}),
                   snippet=_opening(s) if snippet is None else snippet, row=row)

    def more_like(self, row: int, k: int = 5) -> list[Hit]:
        """Nearest sections to a section by vector (the section itself excluded)."""
        if not 0 <= row < len(self):
            return []
        qv = self.backend.entry_vectors(np.array([row]))[0][0]
        rows = [int(r) for r in self.backend.vector_search(qv, Filters(), 2 * (k + 1)) if r != row][:k]
        if not rows:
            return []
        sims = self.semantic_scores(qv, np.array(rows))
        return [self.hit(r, float(v), {"semantic": float(v)}) for r, v in
                sorted(zip(rows, sims, strict=True), key=lambda t: -t[1])]

    def post_sections(self, path: str) -> list[int]:
        return [i for i, s in enumerate(self.sections) if s.post_path == path]


def searched(index: Index, f: Filters) -> int:
    """How many sections a search with these filters runs over (the backend's filter mask, cached there)."""
    m = index.backend.mask(f) if f.active() else None
    return len(index) if m is None else int(np.count_nonzero(m))


def _hits(index: Index, q: str, c: Candidates, order: np.ndarray, final: np.ndarray, conf: np.ndarray,
          mode: str) -> Hits:
    """The ordered candidates as Hits, each with its evidence, snippet and confidence."""
    hits = Hits()
    tokens = set(tokenize(q)) | (set(tokenize(c.fix.fixed)) if c.fix else set())
    for j in order:
        row = int(c.rows[j])
        h = index.hit(row, float(final[j]), *_evidence(c, j, mode, final),
                      snippet=_snippet(index.backend, index.sections[row], row, tokens, c.query_vector))
        h.confidence, h.weak = float(conf[j]), bool(conf[j] < relevance.WEAK_BELOW)
        hits.append(h)
    return hits


def _confirming_order(c: Candidates, mode: str, fuse, full_match_bonus: float, conf: np.ndarray, k: int,
                      order: np.ndarray) -> np.ndarray:
    """The order typo corrections are confirmed on: the fused order before the one-word discount. Fused a second
    time only when it can differ and matters: a corrected query, a lone candidate, hybrid mode."""
    if c.fix is None or c.lone is None or not np.any(c.lone) or fusion.LONE_KEYWORD_DISCOUNT <= 0 or mode != "hybrid":
        return order
    return _order(_final(c, mode, fuse, full_match_bonus, False), c.pinned, conf, k)


def _confirmed(index: Index, c: Candidates, conf: np.ndarray, order: np.ndarray):
    """The corrections the results confirm (kb.query.typos.confirmed): a confident first hit, or one of the first
    CONFIRM_TOP covering the whole corrected query. `order` is the fused order before the one-word discount
    (fusion.LONE_KEYWORD_DISCOUNT): a section that holds the corrected word bears it out however little else of
    the query it holds."""
    covered = c.coverage is not None and bool((c.coverage[order[: typos.CONFIRM_TOP]] >= 1.0).any())
    return typos.confirmed(index.backend, c.fix, c.rows[order], conf[order[0]] >= relevance.WEAK_BELOW, covered)


def _words_held(index: Index, q: str, c: Candidates) -> np.ndarray:
    """Keyword mode: how many of the query's units (kb.query.explain.coverage_units; a corrected query's, its typed
    spellings included) each of the first fusion.WORDS_RULE_POOL candidates by keyword score holds anywhere in its
    heading, names or text; 0 for the others."""
    held = np.zeros(len(c.rows), dtype=np.float64)
    first = np.argsort(-c.keyword, kind="stable")[: int(fusion.WORDS_RULE_POOL)]
    first = first[c.keyword[first] > 0]
    if len(first):
        units = _units(q, c.fix)
        held[first] = [explain.units_held(units, index.sections[int(r)]) for r in c.rows[first]]
    return held


def _keyword_top(index: Index, q: str, c: Candidates, k: int) -> np.ndarray:
    """Keyword mode: the k first candidates (exact names, then the query units held, then the keyword score),
    recording the units held in `c.held`."""
    c.held = _words_held(index, q, c)
    return np.lexsort((-_rank_key(c, c.keyword), ~c.pinned))[:k]


def _rank_key(c: Candidates, final: np.ndarray) -> np.ndarray:
    """What the order sorts on: the final score, in keyword mode after the query units held (`c.held`, whole
    numbers, while the keyword score is in [0, 1])."""
    return final if c.held is None else c.held + final


def _whole_word(index: Index):
    """The embedder's whole_word (kb.query.typos.surely_typos), or None when it has none or cannot load."""
    try:
        return getattr(index.embedder, "whole_word", None)
    except ModelUnavailable:
        return None


def _order(final: np.ndarray, pinned: np.ndarray, conf: np.ndarray, k: int) -> np.ndarray:
    """The k best candidates: exact names first, then by score; confident ones before weak ones."""
    order = np.lexsort((-final, ~pinned))[:k]
    return np.concatenate([order[conf[order] >= relevance.WEAK_BELOW], order[conf[order] < relevance.WEAK_BELOW]])


def _final(c: Candidates, mode: str, fuse, full_match_bonus: float, discount: bool = True) -> np.ndarray:
    """Each candidate's score in the mode: scaled keyword, cosine, or fused (+ the bonus when its opening says all,
    + the lift of the topics the query names); `discount`: a lone candidate's keyword evidence counts × (1 −
    fusion.LONE_KEYWORD_DISCOUNT)."""
    if mode == "keyword":
        return c.keyword
    if mode == "semantic":
        return c.semantic.astype(np.float64)
    keyword = fusion.keyword_part(c.keyword, c.lone) if discount else c.keyword
    fused = fuse(keyword, c.bm25, c.semantic) + full_match_bonus * (c.coverage >= 1.0)
    return fused if c.facet is None else fused + c.facet          # the query names a topic (kb.query.facets)


def _units(q: str, fix: typos.Correction | None, plain: bool = False) -> list:
    """The query's units (kb.query.explain.coverage_units); a corrected query's are the corrected query's, each met
    by its typed spelling too. `plain`: a correction that is a guess (typos.guessed: a two-syllable Korean word read
    as another) is met by its two spellings only, not by its glossary synonyms (for the one-word test: a guess and
    then a synonym of the guess is two hops — "수리" (repair), which the posts lack, read as "소리" (sound), would have
    "오디오" in a section about audio hold a second word of "배관 파이프라인 누수 수리 방법")."""
    if not fix:
        return explain.coverage_units(q)
    guesses = frozenset(r for w, r in fix.words if plain and typos.guessed(w))
    return explain.coverage_units(fix.fixed, {r: w for w, r in fix.words}, guesses)


def _coverage(index: Index, q: str, c: Candidates, only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's share of the query's content words (or their synonyms, stems, typed or corrected spellings)
    in its heading, resource names or first sentence (kb.query.explain.coverage), and whether it shares words with
    the query but holds at most one of them anywhere while the query has ONE_WORD_UNITS or more (kb.query.relevance);
    a corrected query's units are the corrected query's (its glossary terms of several words, "객체 탐지" met by
    "object detection", are units the typed words do not name). Given `only` (candidate positions), just theirs,
    the others 0 and False."""
    units = _units(q, c.fix)
    patterns = [rx for rx, _ in units]
    at = np.arange(len(c.rows)) if only is None else only
    out = np.zeros(len(c.rows), dtype=np.float64)
    out[at] = [explain.coverage(patterns, index.sections[int(r)]) for r in c.rows[at]]
    lone = np.zeros(len(c.rows), dtype=bool)
    if len(patterns) >= relevance.ONE_WORD_UNITS and c.keyword is not None:
        ask = at[(c.keyword[at] > 0) & (out[at] * len(patterns) < 2)]     # two units in the opening: not lone
        guessed = c.fix is not None and any(typos.guessed(w) for w, _ in c.fix.words)
        held = _units(q, c.fix, plain=True) if guessed else units
        lone[ask] = [explain.units_held(held, index.sections[int(r)], 2) <= 1 for r in c.rows[ask]]
    return out, lone


def confidence(index: Index, q: str, c: Candidates, expand: bool = True, only: np.ndarray | None = None) -> np.ndarray:
    """Each candidate's confidence (kb.query.relevance). Keyword mode judges meaning too when the model loads.
    Given `only` (candidate positions), just theirs (confidence is per candidate), the others 0."""
    at = np.arange(len(c.rows)) if only is None else only
    semantic, background, margin = c.semantic, c.background, None
    if semantic is None:                # keyword mode: the words alone chose the hits
        margin = relevance.KEYWORD_MODE_MARGIN
        try:
            qv = index.query_vector(q, expand)
        except ModelUnavailable:
            qv = None
        if qv is not None:
            background, semantic = relevance.background_best(index.embedder, qv), index.semantic_scores(qv, c.rows[at])
    else:
        semantic = semantic[at]
    agree = relevance.first_in_both(c.semantic, c.keyword)         # both legs ran over every candidate: hybrid
    part = [None if x is None else x[at] for x in (c.keyword, c.pinned, c.coverage, agree, c.topical, c.lone)]
    near = _everyday(index, c.rows[at], part[0], part[5]) if semantic is not None else None
    meant = typos.meaning_as_meant(index, c.fix, c.rows[at], expand) if semantic is not None else None
    as_meant = list(part)
    if meant is not None and part[0] is not None:   # a misspelled query: the meant query's keyword evidence, at full weight
        text = typos.meant_text(c.fix, index.embedder)
        as_meant[0] = np.maximum(part[0], index.keyword_evidence(keyword_query(text, expand), c.rows[at])[0])

    def judged(closeness: np.ndarray | None) -> np.ndarray:
        conf = relevance.confidence(semantic, background, *part, closeness=closeness, margin=margin, searched=c.searched)
        if meant is not None:       # a misspelled query is as sure as the query it meant (kb.query.typos)
            conf = np.maximum(conf, relevance.confidence(*meant, *as_meant, closeness=closeness, margin=margin,
                                                         searched=c.searched))
        return conf

    out = np.zeros(len(c.rows), dtype=np.float64)
    out[at] = judged(near)
    if near is not None:            # where the everyday bar alone made a hit weak, its section's closeness (explain)
        c.everyday = np.zeros(len(c.rows), dtype=np.float64)
        held = (judged(None) >= relevance.WEAK_BELOW) & (out[at] < relevance.WEAK_BELOW)
        c.everyday[at[held]] = near[held]
    return out


def _everyday(index: Index, rows: np.ndarray, keyword: np.ndarray | None, lone: np.ndarray | None) -> np.ndarray:
    """Each row's closeness to everyday sentences (kb.query.relevance.everyday), for the rows the floor may judge by
    meaning alone (no keyword evidence, or one word of a longer query; every row in semantic mode); the others 0
    (unused)."""
    ask = np.ones(len(rows), dtype=bool) if keyword is None else (keyword <= 0) if lone is None else (keyword <= 0) | lone
    out = np.zeros(len(rows), dtype=np.float64)
    if ask.any():
        sec, title = index.backend.entry_vectors(np.asarray(rows[ask], dtype=np.int64))
        out[ask] = relevance.everyday(index.embedder, sec, title, index.title_margin)
    return out


def _snippet(backend: Backend, s: Section, row: int, tokens: set[str], qv: np.ndarray | None) -> str:
    """The hit's snippet: by shared words, else by meaning when the backend stores sentence vectors (read only then)."""
    def closeness() -> np.ndarray | None:
        found = backend.sentence_vectors(row)
        return np.asarray(found, dtype=np.float32) @ qv if found is not None and len(found) else None

    return snippet(s, tokens, closeness=closeness if qv is not None else None)


def _opening(s: Section) -> str:
    return snippet(s, set())


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(-np.asarray(x), kind="stable")
    r = np.empty(len(x), dtype=np.int64)
    r[order] = np.arange(1, len(x) + 1)
    return r


def _evidence(c: Candidates, j: int, mode: str, final: np.ndarray) -> tuple[dict, dict]:
    """(scores, ranks) of candidate j: each leg's score and rank, the hybrid score, exact_name when pinned,
    one_word when it holds one word of a longer query (kb.query.relevance.ONE_WORD_UNITS)."""
    scores, ranks = {}, {}
    if c.keyword is not None:
        scores["keyword"] = float(max(c.keyword[j], 0.0))
        scores["bm25"] = float(c.bm25[j])
        if c.keyword[j] > 0:
            ranks["keyword"] = int(_ranks(c.keyword)[j])
    if c.semantic is not None:
        scores["semantic"] = float(c.semantic[j])
        ranks["semantic"] = int(_ranks(c.semantic)[j])
    if c.background is not None:
        scores["background"] = c.background
    if mode == "hybrid":
        scores["hybrid"] = float(final[j])
    if c.facet is not None and c.facet[j] > 0:
        scores["topic_facet"] = float(c.facet[j])
    if c.lone is not None and c.lone[j] and not (c.topical is not None and c.topical[j]):
        scores["one_word"] = 1.0             # holds one word of a longer query: judged as meaning alone
    if c.held is not None:
        scores["words"] = float(c.held[j])   # keyword mode: query units held (ranked on first, fusion.WORDS_RULE_POOL)
    if c.pinned[j]:
        scores["exact_name"] = 1.0
    if c.everyday is not None and c.everyday[j] > 0:
        scores["everyday"] = float(c.everyday[j])     # held weak: its section reads like everyday text
    if relevance.size_margin(c.searched) > 0:
        scores["searched"] = float(c.searched)        # sections searched: the floor stands higher over many
    return scores, ranks


def open_index(path=None, *, embedder=None, model: str | None = None, settings: Settings | None = None) -> Index:
    """Load and verify an index: the local index folder `path`, else the backend the settings name (default: from
    the environment — KB_BACKEND, KB_INDEX_DIR or KB_MILVUS_URI …). Raises IndexMissing/Mismatch/Corrupt.
    Given `model` (or an embedder), refuse an index built with another model."""
    want = canonical_model(model) if model else (embedder.name if embedder is not None else None)
    if path is not None:
        return Index(open_local(Path(path), want), embedder)
    return Index(open_backend(settings or Settings.load(), want), embedder)
