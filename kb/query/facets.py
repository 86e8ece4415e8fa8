"""Topic facets: a short query that names a topic ("강화학습", "퀀트 트레이딩", "LLM 강의") lifts the sections kb.topics
assigned to that topic, as a search engine lifts a facet the query names.

A topic-like query has many relevant sections, and many never say the topic's word (Stable-Baselines3 under
"강화학습", a Korean LLM under "한국어 언어모델"); the topic assignment already knows them from their meaning, names
and links. A query names a topic when it holds the topic's label or one of its keywords (not a weak one): Latin
ones as whole words, Korean ones anywhere in a word (spaces aside), a one-syllable Korean keyword only as a word.
A query of at most MAX_WORDS words lifts by FACET_BONUS; a longer one is a description whose words say more than its
topics, and lifts by LONG_FACET_BONUS only. A query of nothing but topic names (names_only) also tells the relevance
floor that the sections in its topics are what it asks for (topical).

The assignment comes from kb.topics.assign (the content folder's topics file, else the shipped one), computed
once per index version and kept in memory and on disk (kb.core.diskcache: a bit per section and topic), so only
the first topic-naming query after a build pays for it (6 s at 10,000 sections); above COMPUTE_LIMIT sections a
search uses a stored assignment only (the app and `python -m kb.topics` store it). An index whose
`facets_ready` is set (the app, which sorts sections into topics behind the page) uses only a stored assignment
until it returns True: search never waits for topics. Measured in docs/eval.md ("Issue 17, fourth pass").
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass

import numpy as np

from kb import topics as kbtopics
from kb.backends.protocol import version_key
from kb.core import diskcache
from kb.core.errors import BadTopics
from kb.topics import evidence as topic_evidence
from kb.topics import prior as topic_prior
from kb.topics import score as topic_score

# Added to the fused score of a section in every topic the query names (in part of them: that share of it).
# `python tests/eval/rank_report.py --sweep kb.query.facets.FACET_BONUS=0,0.1,0.2,0.25,0.3,0.4`: fitted on two
# labelled sets and scored on the third, 0.3–0.4 each time; topic queries 0.77–0.87 → 0.91–0.99 nDCG@10, no query
# lower anywhere (docs/eval.md, "Issue 17, fourth pass").
FACET_BONUS = 0.3
MAX_WORDS = 3
# A longer query (a description: "Korean book teaching reinforcement learning from the basics") that names topics
# lifts their sections by this much instead: its words say more than the topics do, so the lift only tips near ties
# between sections the legs already found. Measured in docs/eval.md ("Issue 17, sixth pass").
LONG_FACET_BONUS = 0.05
# Up to this many sections a search that finds no stored assignment computes it (~0.6 ms a section: 6 s at
# 10,000, once per index version); above it, facets wait until the app or `python -m kb.topics` has sorted the
# sections into topics (they store the assignment for every later process).
COMPUTE_LIMIT = 10_000
# A longer query's lift is a tie-breaker, not worth seconds: it computes the assignment only up to this many sections
# (under a second), and above uses a stored one (the app, `python -m kb.topics` or an earlier short topic query).
LONG_COMPUTE_LIMIT = 1_000

_LOCK = threading.Lock()
_MEMBERS: dict[tuple, np.ndarray] = {}     # explicit cache: assignment key → members
_CACHE_SIZE = 4
_LOADED: dict[int, Loaded] = {}           # explicit cache: the Topics last read → its signature and matchers
_WORD_RE = re.compile(r"\S+")


@dataclass(frozen=True)
class Loaded:
    """A topics file as facets use it: the topics, their signature, and per topic what names it (matchers)."""
    topics: kbtopics.Topics
    signature: str
    matchers: tuple


def named_topics(query: str, topics: kbtopics.Topics, matchers: tuple | None = None,
                 max_words: int | None = MAX_WORDS) -> list[str]:
    """The names of the topics a query of at most max_words words (None: any length) names by label or keyword,
    in file order."""
    words = [w.lower() for w in _WORD_RE.findall(query or "")]
    if not words or (max_words is not None and len(words) > max_words):
        return []
    q = " ".join(words)
    bare = q.replace(" ", "")
    return [name for name, latin, korean, single in (matchers or _matchers(topics))
            if (latin is not None and latin.search(q)) or any(t in bare for t in korean) or single & set(words)]


def names_only(query: str, topics: kbtopics.Topics, matchers: tuple | None = None) -> bool:
    """Whether a query of at most MAX_WORDS words is nothing but topic names ("computer vision", "강화학습", "MLOps
    서빙"), perhaps joined by "and" or "or" ("강의와 책", "speech or music": _joined): once every label and keyword it holds
    is taken out, no letter is left. A query that borrows a topic word for something else ("vision insurance plans",
    "요리 강의") keeps its other words."""
    words = [w.lower() for w in _WORD_RE.findall(query or "")]
    if not words or len(words) > MAX_WORDS:
        return False
    words = [_joined(w) for w in words if w not in _AND]
    matchers = matchers or _matchers(topics)
    q = " ".join(w for w in words if not any(w in single for *_, single in matchers))
    for _, latin, _, _ in matchers:
        q = latin.sub(" ", q) if latin is not None else q
    bare = q.replace(" ", "")
    for term in sorted({t for _, _, korean, _ in matchers for t in korean}, key=len, reverse=True):
        bare = bare.replace(term, "")
    return not any(ch.isalnum() for ch in bare)


_AND = frozenset({"and", "or", "및", "또는", "&"})
_JOINING = ("이랑", "하고", "이나", "와", "과", "랑", "나")     # Korean particles that join two nouns: "and", "or"


def _joined(word: str) -> str:
    """A Korean word without the particle that joins it to the next noun ("강의와" → "강의"); other words as they are."""
    return next((word[: -len(p)] for p in _JOINING if word.endswith(p) and len(word) > len(p)), word)


def _matchers(topics: kbtopics.Topics) -> tuple:
    """Per topic, what names it: one pattern of its Latin terms (whole words), its Korean terms without spaces
    (anywhere), its one-syllable Korean terms (as words)."""
    out = []
    for t in topics:
        terms = [x.strip().lower() for x in (t.label, *t.keywords) if x.strip()]
        latin = [x for x in terms if x[0].isascii()]
        rx = re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, latin)) + r")(?![a-z0-9])") if latin else None
        korean = tuple(x.replace(" ", "") for x in terms if not x[0].isascii() and len(x) > 1)
        out.append((t.name, rx, korean, frozenset(x for x in terms if not x[0].isascii() and len(x) == 1)))
    return tuple(out)


def _topics(content_dir) -> Loaded:
    """The topics file in use (kb.topics.current_topics) with its signature and matchers, made once per read."""
    topics = kbtopics.current_topics(content_dir)
    with _LOCK:
        found = _LOADED.get(id(topics))
    if found is None or found.topics is not topics:
        found = Loaded(topics, topics.signature(), _matchers(topics))
        with _LOCK:
            _LOADED.clear()
            _LOADED[id(topics)] = found
    return found


def _key(index, loaded: Loaded) -> tuple:
    return (*version_key(index.backend), index.model_name, loaded.signature,
            tuple(topic_evidence.OPTIONS.items()), tuple(topic_score.WEIGHTS.items()),
            topic_prior.signature(topic_prior.in_use()), repr(topic_score.PLAIN))


def members(index, loaded: Loaded, compute: bool = True) -> np.ndarray | None:
    """(sections, topics) booleans: the topic assignment of the index (memory, then disk, then kb.topics.assign;
    None when it is in neither and `compute` is false)."""
    key, topics = _key(index, loaded), loaded.topics
    with _LOCK:
        found = _MEMBERS.get(key)
    if found is not None:
        return found
    n, m = len(index.sections), len(topics)

    def build() -> bytes:
        return np.packbits(kbtopics.assign(index, topics).member.astype(bool), axis=None).tobytes()

    def parse(payload: bytes) -> np.ndarray:
        bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
        if len(bits) < n * m:
            raise ValueError("short topic membership entry")
        return bits[: n * m].reshape(n, m).astype(bool)

    disk_key = diskcache.key(repr(key), diskcache.source_of(kbtopics, topic_evidence, topic_score, sys.modules[__name__]))
    if compute:
        member = diskcache.get_or_build("topic-members", disk_key, build, parse)
    else:
        member = diskcache.get("topic-members", disk_key, parse)
        if member is None:
            return None
    with _LOCK:
        _MEMBERS[key] = member
        while len(_MEMBERS) > _CACHE_SIZE:
            _MEMBERS.pop(next(iter(_MEMBERS)))
    return member


def boost(index, query: str, rows: np.ndarray, bonus: float | None = None,
          corrected: str | None = None) -> np.ndarray | None:
    """bonus × the share of the topics the query names (as typed, or with its typos `corrected`) that each row's
    section is in; None when it names none (or the topics file cannot be read: search never fails for it)."""
    b, long = FACET_BONUS if bonus is None else bonus, len(_WORD_RE.findall(query or "")) > MAX_WORDS
    if long:
        b = min(b, LONG_FACET_BONUS)
    if b <= 0 or not len(rows):
        return None
    try:
        loaded = _topics(index.manifest.content_dir or None)
    except BadTopics:
        return None
    named = named_topics(query, loaded.topics, loaded.matchers, None)
    if corrected:
        named += [t for t in named_topics(corrected, loaded.topics, loaded.matchers, None) if t not in named]
    if not named:
        return None
    if index.facets_ready is not None:             # the app: computed behind the page; until then only a stored one
        compute = bool(index.facets_ready())
    else:
        compute = len(index.sections) <= (LONG_COMPUTE_LIMIT if long else COMPUTE_LIMIT)
    member = members(index, loaded, compute=compute)
    if member is None:
        return None
    cols = [loaded.topics.names.index(name) for name in named]
    return b * member[np.asarray(rows, dtype=np.int64)][:, cols].mean(axis=1)


def topical(index, query: str, lift: np.ndarray | None, bonus: float | None = None,
            corrected: str | None = None) -> np.ndarray | None:
    """Where a query of nothing but topic names (names_only, as typed or with its typos `corrected`) lifted a
    section by the whole bonus (the section is in every topic it names): the relevance floor's evidence that the
    section is what the query asks for. None otherwise."""
    b = FACET_BONUS if bonus is None else bonus
    if lift is None or b <= 0:
        return None
    try:
        loaded = _topics(index.manifest.content_dir or None)
    except BadTopics:
        return None
    only = any(names_only(x, loaded.topics, loaded.matchers) for x in (query, corrected) if x)
    return lift >= b - 1e-9 if only else None


def warm(index) -> None:
    """Compute and store the assignment facets use (the app's warm-up and `python -m kb.topics` call it), so that
    searches in later processes find it; never raises for an unreadable topics file."""
    try:
        members(index, _topics(index.manifest.content_dir or None))
    except BadTopics:
        pass
