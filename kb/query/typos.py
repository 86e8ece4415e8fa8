"""Typo tolerance for a query: the words the index has never seen, corrected to the nearest terms it has.

A Latin word of 5+ letters that no entry holds is corrected to the index term or glossary word (kb.text.glossary:
the keyword leg reaches the posts through its synonyms) one edit away (two from 9 letters), the nearest and then
most frequent; a Korean word (its trailing particle aside) with a character bigram no entry
holds, to the spelling one jamo away whose bigrams all occur (kb.text.fuzzy). Words the index holds are never
touched, so a query without typos is scored exactly as before. The keyword leg adds the corrected words' tokens
at FUZZY_WEIGHT (exact beats fuzzy); the corrected query is offered as "Did you mean …". The meaning leg keeps
the query as typed (the model reads sub-words and copes with a typo; a "correction" of a real word the corpus
lacks — "stock" → "stack" — would make an off-topic query look on-topic).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from kb.core.types import KeywordQuery
from kb.query.explain import PARTICLES
from kb.text import glossary
from kb.text.fuzzy import LatinLexicon, allowed_edits, hangul_bigrams, hangul_candidates, is_hangul
from kb.text.tokenize import tokenize

FUZZY_WEIGHT = 0.8      # a corrected word's tokens count this much of an exact match
# "Did you mean" is offered when each corrected word occurs in one of this many best results.
CONFIRM_TOP = 3
_WORD_RE = re.compile(r"[A-Za-z]+|[가-힣]+")
MAX_WORD = 24           # longer runs (no real word, or a pasted text) are not corrected
MAX_WORDS = 32          # words of a query looked at, at most (a long pasted query costs no more than this)


@dataclass
class Correction:
    """A query with its misspelled words corrected: `fixed` is the whole corrected query, `words` (wrong, right)."""
    query: str
    fixed: str
    words: list[tuple[str, str]] = field(default_factory=list)

    def suggestion(self) -> str | None:
        """The query with the corrections that are not mere inflections applied ("Did you mean"), or None."""
        keep = {w: r for w, r in self.words if not inflection(w, r)}
        return _replace(self.query, keep) if keep else None


def inflection(wrong: str, right: str) -> bool:
    """Whether a correction only changes a word's inflection, which is no typo: a plural s/es added or dropped
    (tutorials → tutorial), or a Korean word's last syllable losing or gaining the final ㄴ/ㄹ/ㅁ/ㅂ of a verb ending
    (빠른 → 빠르)."""
    a, b = wrong.lower(), right.lower()
    if a.isascii():
        return any(x == y + e for x, y in ((a, b), (b, a)) for e in ("s", "es"))
    if len(a) != len(b) or a[:-1] != b[:-1] or not (is_hangul(a[-1]) and is_hangul(b[-1])):
        return False
    ca, cb = ord(a[-1]) - 0xAC00, ord(b[-1]) - 0xAC00
    finals = {0, 4, 8, 16, 17}                        # none, ㄴ, ㄹ, ㅁ, ㅂ
    return ca // 28 == cb // 28 and {ca % 28, cb % 28} <= finals and 0 in {ca % 28, cb % 28}


def _replace(query: str, words: dict[str, str]) -> str:
    return _WORD_RE.sub(lambda m: words.get(m.group(0), m.group(0)), query)


class Vocabulary:
    """A backend's keyword terms and their document frequencies, for looking up corrections (built on first use)."""

    def __init__(self, terms: dict[str, int]):
        self.df = terms
        self._latin: LatinLexicon | None = None

    @property
    def latin(self) -> LatinLexicon:
        """The index's Latin terms plus the glossary's words (document frequency 0): a glossary word the posts
        never spell in Latin ("tracking", "morphological" in a Korean blog) still reaches them through its
        synonyms ("실험 추적", "형태소 분석기"), so a typo of it is corrected to it."""
        if self._latin is None:
            extra = ((w, 0) for w in glossary.words() if w not in self.df)
            self._latin = LatinLexicon(itertools.chain(self.df.items(), extra))
        return self._latin

    def known(self, term: str) -> int:
        return self.df.get(term, 0)


class Corrector:
    """Corrects queries against one backend's vocabulary, listed on first use (a backend whose `vocabulary()` is empty
    corrects nothing)."""

    def __init__(self, backend, enabled: bool = True):
        self.backend = backend
        self.enabled = enabled
        self._vocabulary: Vocabulary | None = None

    def vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            self._vocabulary = Vocabulary(self.backend.vocabulary())
        return self._vocabulary

    def correct(self, query: str) -> Correction | None:
        """The query with its misspelled words corrected to index terms, or None."""
        return correct(query, self.vocabulary()) if self.enabled else None


def _stem(word: str) -> tuple[str, str]:
    """(stem, particle) of a Korean word; the particle is '' when none ends it or the stem would be one syllable."""
    for p in PARTICLES:
        if word.endswith(p) and len(word) - len(p) >= 2:
            return word[: -len(p)], p
    return word, ""


def correct_word(word: str, vocab: Vocabulary) -> str | None:
    """The word's correction, or None when the index holds it (or nothing is near enough)."""
    if word.isascii():
        low = word.lower()
        if not allowed_edits(low) or vocab.known(low):
            return None
        found = vocab.latin.candidates(low)
        return _best(found, 1) if found else None
    stem, particle = _stem(word)
    if len(stem) < 2 or all(vocab.known(b) for b in hangul_bigrams(stem)):
        return None
    found = hangul_candidates(stem, vocab.known)
    return _best(found, 0) + particle if found else None


def _best(found: list[tuple[int, str]], ties: int) -> str:
    """The first of the candidates (best first), except that a glossary word among those as near (Latin: the same
    edit distance; Korean, ties=0: any) wins: the domain's vocabulary is the likelier intended word."""
    near = [t for d, t in found if not ties or d == found[0][0]]
    return next((t for t in near if t in glossary.words()), found[0][1])


def correct(query: str, vocab: Vocabulary) -> Correction | None:
    """The query with every misspelled word corrected, or None when nothing was."""
    words = [w for w in dict.fromkeys(_WORD_RE.findall(query)) if len(w) <= MAX_WORD][:MAX_WORDS]
    fixed = {w: r for w in words if (r := correct_word(w, vocab)) is not None}
    return Correction(query, _replace(query, fixed), list(fixed.items())) if fixed else None


@dataclass
class Fuzzy:
    """The keyword leg's extra question for a corrected query: the tokens (and glossary synonyms) the correction
    brings, and `kept`, the original tokens that still count towards the attainable score."""
    query: KeywordQuery
    kept: list[str]


def fuzzy_query(kq: KeywordQuery, fix: Correction, fixed: KeywordQuery) -> Fuzzy:
    """What the corrected query asks beyond the original (`kq`; `fixed` is the corrected query's KeywordQuery)."""
    have = set(kq.tokens) | set(kq.extra)
    tokens = [t for t in fixed.tokens if t not in have]
    extra = [t for t in fixed.extra if t not in have and t not in tokens]
    wrong = {t for w, _ in fix.words for t in tokenize(w)}
    return Fuzzy(KeywordQuery(tokens, extra, fixed.extra_weight), [t for t in kq.tokens if t not in wrong])


def attainable(backend, kq: KeywordQuery, fix: Fuzzy | None = None) -> float:
    """The query's attainable BM25, what the keyword leg divides by: its tokens' (with a correction: the tokens
    kept plus the corrected ones at FUZZY_WEIGHT); when the index holds none of them, its glossary synonyms'
    (a Korean blog that never writes "cryptocurrency" or "exchange" writes "암호화폐 거래소")."""
    if fix is None:
        return backend.keyword_bound(kq.tokens) or backend.keyword_bound(kq.extra)
    return (backend.keyword_bound(fix.kept) + FUZZY_WEIGHT * backend.keyword_bound(fix.query.tokens)
            or backend.keyword_bound(kq.extra) + FUZZY_WEIGHT * backend.keyword_bound(fix.query.extra))


def did_you_mean(backend, fix: Correction | None, rows: Sequence[int], confident: bool) -> str | None:
    """The corrected query (Correction.suggestion) when the best hit is confident and every corrected
    word (all of its tokens) occurs in one of the best CONFIRM_TOP rows: what the user meant is what the
    results are about. None otherwise."""
    suggestion = fix.suggestion() if fix is not None else None
    if suggestion is None or not len(rows) or not confident:
        return None
    top = np.asarray(rows[: CONFIRM_TOP], dtype=np.int64)
    for wrong, right in fix.words:
        if inflection(wrong, right):
            continue
        have = np.ones(len(top), dtype=bool)
        for t in tokenize(right):
            have &= backend.keyword_scores(KeywordQuery([t]), top) > 0
        if not have.any():
            return None
    return suggestion
