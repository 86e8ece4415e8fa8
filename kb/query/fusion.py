"""Combining keyword and vector scores into one ranking (chosen by measurement, see docs/eval.md).

Naive RRF (k=60) ranked worse than the semantic leg alone on our held-out queries; a convex mix of per-query
min-max-normalised scores keeps each leg's margins. Our default goes one step further for the keyword leg: BM25 is
divided by the query's attainable score (kb.storage.keyword), so an English query that meets one incidental English word
in Korean commentary adds little, while a query fully matched adds its whole weight; and a query without Hangul on
posts written mostly in Hangul mixes the keyword leg in at a lower weight (query_keyword_weight); a candidate that holds
at most one unit of a long query brings no keyword evidence in (keyword_part). The three fusions are here so
`python -m kb.eval --fusion ...` can compare them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence

import numpy as np

from kb.core.errors import BadQuery

KEYWORD_WEIGHT = 0.3
# e5 cosines are compressed: over a query's candidates they often span only a few hundredths, and a relevant section
# and one that merely shares a generic word ("Learning" in a book title) differ by < 0.01. Min-max would stretch
# that to the whole [0, 1] and let the semantic leg's noise outvote the keyword leg; a spread under this many cosine
# points is scaled as if it were this wide. Measured (docs/eval.md): 0.09–0.15 is a plateau, generic-word queries
# ("X library", "X 강의") 0.873 → 0.918 nDCG@10, no query kind drops.
SEMANTIC_MIN_RANGE = 0.12
# A section whose heading, resource names or first sentence hold every query word (or its glossary synonym, stem or
# corrected spelling) gets this much on top of the fused score: the keyword leg's evidence is capped at its weight
# (0.3), so a full match the model ranks 20th would otherwise sit under nine sections that merely share the subject.
# Measured per query kind in docs/eval.md ("A full keyword match is never buried").
FULL_MATCH_BONUS = 0.3
# Keyword mode ranks its first candidates by how many of the query's units (words, or glossary terms, with their
# synonyms, stems and corrected spellings: kb.query.explain.units_held) each holds anywhere, then by keyword score
# (Meilisearch's "words" rule before its relevance): BM25 over Hangul bigrams lets one long word (강화학습, three
# bigrams) outweigh two short ones (트레이딩 환경), and one frequent English word outweigh the rest of the query. Only the
# first this many candidates by keyword score are re-ranked (the rule costs a pattern search per candidate).
# Measured in docs/eval.md ("Issue 17, fifteenth pass").
WORDS_RULE_POOL = 30
# A candidate that holds at most one of the units of a query of kb.query.relevance.ONE_WORD_UNITS or more (its
# `lone` flag, kb.query.index._coverage) owes its keyword evidence to one shared word: for a description query
# ("스마트폰에서 돌릴 수 있는 가벼운 이미지 분류 신경망") that word lifted a section that merely mentions "이미지" over the
# one the meaning leg and the other words point to. Its keyword evidence enters the fused score × (1 − this share),
# as the relevance floor already judges it by meaning alone. Chosen by `rank_report.py --sweep` leaving one of 22 sets
# out: nDCG@10 picks 1 for twenty (0.75 for two), the floor's judged-right count 1 for all (docs/eval.md, "Issue 17,
# tenth pass: ranking and the floor").
LONE_KEYWORD_DISCOUNT = 1.0
# An English query on posts written in Korean meets the posts' words only in their English fragments (names, paper
# titles, an incidental "library"), so its keyword leg says less about meaning than a Korean query's: the right
# Korean-commented section of a cross-lingual paraphrase lost to sections that merely hold the query's English words.
# A query without Hangul on posts whose letters are mostly Hangul (share ≥ KOREAN_POSTS, over the first SAMPLE
# sections) is fused with this keyword weight instead of KEYWORD_WEIGHT. Fitted leaving one of six labelled sets out:
# 0.15 every time (docs/eval.md, "Issue 17, sixth pass"). A Korean blog's letters are 0.62–0.79 Hangul.
CROSS_SCRIPT_KEYWORD_WEIGHT = 0.15
KOREAN_POSTS = 0.5
SAMPLE = 500
_HANGUL_RE, _LATIN_RE = re.compile(r"[가-힣]"), re.compile(r"[A-Za-z]")
_SHARE: dict[str, float] = {}       # explicit cache: index version → the Hangul share of its posts' letters
_LOCK = threading.Lock()
METHODS = ("convex", "convex-minmax", "rrf")
RRF_K = 60


def keyword_part(keyword: np.ndarray, lone: np.ndarray | None) -> np.ndarray:
    """The keyword evidence the fusion mixes in: a lone candidate's × (1 − LONE_KEYWORD_DISCOUNT)."""
    if lone is None or LONE_KEYWORD_DISCOUNT <= 0:
        return keyword
    return keyword * (1.0 - LONE_KEYWORD_DISCOUNT * np.asarray(lone, dtype=np.float64))


def minmax(x: np.ndarray, min_range: float = 0.0) -> np.ndarray:
    """Scale to [0, 1] over the candidate set (a spread under min_range is scaled as if it were min_range wide);
    a flat leg contributes nothing."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if max(hi - lo, min_range) < 1e-12:
        return np.zeros_like(x)
    return (x - lo) / max(hi - lo, min_range)


def convex(keyword: np.ndarray, semantic: np.ndarray, keyword_weight: float = KEYWORD_WEIGHT,
           min_range: float = SEMANTIC_MIN_RANGE) -> np.ndarray:
    """keyword_weight·keyword + (1-keyword_weight)·minmax(semantic, min_range); keyword already in [0, 1]
    (attainable-scaled)."""
    return keyword_weight * np.clip(keyword, 0.0, 1.0) + (1.0 - keyword_weight) * minmax(semantic, min_range)


def convex_minmax(keyword: np.ndarray, semantic: np.ndarray, keyword_weight: float = 0.2) -> np.ndarray:
    """The textbook mix: keyword_weight·minmax(keyword) + (1-keyword_weight)·minmax(semantic)."""
    return keyword_weight * minmax(keyword) + (1.0 - keyword_weight) * minmax(semantic)


def rrf(keyword: np.ndarray, semantic: np.ndarray, k: int = RRF_K) -> np.ndarray:
    """Reciprocal rank fusion over the same candidates (higher is better)."""
    def ranks(x):
        order = np.argsort(-np.asarray(x), kind="stable")
        r = np.empty(len(x), dtype=np.float64)
        r[order] = np.arange(1, len(x) + 1)
        return r

    return 1.0 / (k + ranks(keyword)) + 1.0 / (k + ranks(semantic))


def hangul_share(sections: Sequence) -> float:
    """The share of Hangul among the letters (Hangul syllables and Latin letters) of the first SAMPLE sections'
    headings and text; 0 for none."""
    hangul = latin = 0
    for i in range(min(SAMPLE, len(sections))):
        text = sections[i].heading + " " + sections[i].text
        hangul, latin = hangul + len(_HANGUL_RE.findall(text)), latin + len(_LATIN_RE.findall(text))
    return hangul / (hangul + latin) if hangul + latin else 0.0


def query_keyword_weight(query: str, version: str, sections: Sequence) -> float:
    """The convex mix's keyword weight for this query on these posts: CROSS_SCRIPT_KEYWORD_WEIGHT for a query without
    Hangul on posts mostly in Hangul, else KEYWORD_WEIGHT."""
    if _HANGUL_RE.search(query):
        return KEYWORD_WEIGHT
    with _LOCK:
        share = _SHARE.get(version)
    if share is None:
        share = hangul_share(sections)
        with _LOCK:
            if len(_SHARE) >= 8:
                _SHARE.clear()
            _SHARE[version] = share
    return CROSS_SCRIPT_KEYWORD_WEIGHT if share >= KOREAN_POSTS else KEYWORD_WEIGHT


Fuse = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def method(name: str = "convex", keyword_weight: float | None = None,
           min_range: float = SEMANTIC_MIN_RANGE) -> Fuse:
    """The fusion to use, chosen once per search: fuse(keyword scaled to [0, 1], raw BM25, cosine) → scores."""
    if name == "convex":
        w = KEYWORD_WEIGHT if keyword_weight is None else keyword_weight
        return lambda kw, bm25, sem: convex(np.maximum(kw, 0), sem, w, min_range)
    if name == "convex-minmax":
        w = 0.2 if keyword_weight is None else keyword_weight
        return lambda kw, bm25, sem: convex_minmax(bm25, sem, w)
    if name == "rrf":
        return lambda kw, bm25, sem: rrf(kw, sem)
    raise BadQuery(f"unknown fusion '{str(name)[:20]}'; use one of: {', '.join(METHODS)}")
