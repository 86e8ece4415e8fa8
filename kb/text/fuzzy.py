"""Spelling tolerance for words: which vocabulary terms lie within one edit of a misspelled word.

Latin words: a term within one edit (insert, delete, substitute, swap two neighbours) of a word of 5+ letters, two
edits from 9 letters (the lengths Meilisearch and Typesense use); a wrong first letter counts as two edits, as in
Meilisearch (people rarely mistype it, and "corpora" is not a typo of "korpora"). Candidates come from a deletion index (SymSpell:
each term and its one-letter deletions), then the true edit distance decides.
Hangul words: a syllable with one jamo changed (its initial, vowel or final; adding or dropping a final counts as
one), since a Korean typo is one key of a jamo keyboard ("분서기" for "분석기").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

LATIN_MIN = 5          # letters a Latin word needs before a one-edit typo is corrected
LATIN_TWO_EDITS = 9    # ... and before two edits are
_LATIN_RE = re.compile(r"[a-z]+")
_HANGUL_BASE, _HANGUL_LAST = 0xAC00, 0xD7A3


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (Levenshtein plus swapping two neighbours), capped at limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[-1], limit + 1)


def allowed_edits(word: str) -> int:
    """How many edits a Latin word may be away from a vocabulary term (0: too short to correct)."""
    n = len(word)
    return 2 if n >= LATIN_TWO_EDITS else 1 if n >= LATIN_MIN else 0


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class LatinLexicon:
    """The Latin terms of a vocabulary, indexed by their one-letter deletions, each with its document frequency."""

    def __init__(self, terms: Iterable[tuple[str, int]]):
        self.df: dict[str, int] = {}
        self._by_deletion: dict[str, list[str]] = defaultdict(list)
        for term, df in terms:
            if len(term) >= LATIN_MIN - 1 and _LATIN_RE.fullmatch(term):
                self.df[term] = df
                for d in _deletions(term):
                    self._by_deletion[d].append(term)

    def candidates(self, word: str) -> list[tuple[int, str]]:
        """(distance, term) of the vocabulary terms within the word's allowed edits, nearest then most frequent
        first. Empty for a word the vocabulary holds or too short to correct."""
        limit = allowed_edits(word)
        if not limit or word in self.df:
            return []
        near = set(self._by_deletion.get(word, ()))              # word = term minus a letter
        keys = _deletions(word)
        near |= {k for k in keys if k in self.df}                # term = word minus a letter
        for k in keys:                                           # a substitution or a swap
            near.update(self._by_deletion.get(k, ()))
        found = [(edit_distance(word, t, limit) + (word[0] != t[0]), t) for t in near]   # a first letter: 2 edits
        return sorted(((d, t) for d, t in found if d <= limit), key=lambda x: (x[0], -self.df[x[1]], x[1]))


def is_hangul(ch: str) -> bool:
    return _HANGUL_BASE <= ord(ch) <= _HANGUL_LAST


def jamo_variants(syllable: str) -> Iterator[str]:
    """Every syllable one jamo away: another initial (19), vowel (21) or final (28, none included)."""
    code = ord(syllable) - _HANGUL_BASE
    lead, vowel, tail = code // 588, (code % 588) // 28, code % 28
    for x in range(19):
        if x != lead:
            yield chr(_HANGUL_BASE + (x * 21 + vowel) * 28 + tail)
    for x in range(21):
        if x != vowel:
            yield chr(_HANGUL_BASE + (lead * 21 + x) * 28 + tail)
    for x in range(28):
        if x != tail:
            yield chr(_HANGUL_BASE + (lead * 21 + vowel) * 28 + x)


def hangul_bigrams(word: str) -> list[str]:
    return [word[i:i + 2] for i in range(len(word) - 1)]


def hangul_candidates(word: str, known: Callable[[str], int]) -> list[tuple[int, str]]:
    """(−smallest document frequency of its bigrams, spelling) of each spelling one jamo away from a Hangul word of
    2+ syllables whose character bigrams are all in the vocabulary (`known(bigram)` → document frequency, 0 if
    absent), most frequent first. Empty when the word's own bigrams are all known."""
    grams = hangul_bigrams(word)
    own = [known(b) for b in grams]
    if len(word) < 2 or all(own):
        return []
    missing = [j for j, c in enumerate(own) if not c]
    out = []
    for i, ch in enumerate(word):
        # a change at i touches bigrams i-1 and i only: a spelling that keeps an unknown bigram is never a candidate
        if not is_hangul(ch) or any(j not in (i - 1, i) for j in missing):
            continue
        for v in jamo_variants(ch):
            spelled = word[:i] + v + word[i + 1:]
            counts = [known(spelled[j:j + 2]) if j in (i - 1, i) else own[j] for j in range(len(grams))]
            if all(counts):
                out.append((-min(counts), spelled))
    return sorted(out)
