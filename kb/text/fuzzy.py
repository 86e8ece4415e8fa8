"""Spelling tolerance for words: which vocabulary terms lie within a few edits of a misspelled word.

Latin words: a term within one edit (insert, delete, substitute, swap two neighbours) of a word of 4+ letters, two
edits from 8 letters (Typesense corrects from 4 letters, Meilisearch from 5; two edits: 7 and 9). A wrong first
letter is one edit but costs half an edit more in the ranking (FIRST_LETTER_COST), so a term that keeps the first
letter wins a tie; the query layer weighs such a correction lower. Candidates come from a deletion index (SymSpell:
each term and its one-letter deletions), then the true edit distance decides.
Hangul words: an edit distance over the keys of a jamo keyboard (ㅘ is ㅗ+ㅏ, ㄺ is ㄹ+ㄱ): one key for a word of two
or three syllables, two from four; from three syllables a dropped syllable, or one typed twice, counts as one
(any other extra syllable is not undone: "주문장" is a word, not a typo of "문장"), a neighbouring key on the
two-set keyboard as 0.75 (so "모움" is "모음", ㅜ beside ㅡ, before "도움"). The vocabulary holds character
bigrams, so a candidate spelling must have every bigram in it, and the search walks only through known bigrams.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import lru_cache

LATIN_MIN = 4          # letters a Latin word needs before a one-edit typo is corrected
LATIN_OPEN = 5         # ... to any term (a 4-letter word only to the domain's words: many real words are one edit apart)
LATIN_TWO_EDITS = 8    # ... and before two edits are
FIRST_LETTER_COST = 0.5  # a changed first letter ranks behind other corrections as near
HANGUL_TWO_EDITS = 4   # syllables a Hangul word needs before two keys may be wrong
HANGUL_DROP_MIN = 3    # ... before a syllable may have been dropped (or typed twice)
SYLLABLE_COST = 1      # a dropped syllable, or one typed twice, in keys
NEIGHBOUR_COST = 0.75  # hitting a neighbouring key instead of the right one, in keys
_LATIN_RE = re.compile(r"[a-z]+")
_HANGUL_BASE, _HANGUL_LAST = 0xAC00, 0xD7A3
# the keys of each initial, vowel and final of a Unicode syllable (compound vowels and finals are two keys)
_LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = ["ㅏ", "ㅐ", "ㅑ", "ㅒ", "ㅓ", "ㅔ", "ㅕ", "ㅖ", "ㅗ", "ㅗㅏ", "ㅗㅐ", "ㅗㅣ", "ㅛ", "ㅜ", "ㅜㅓ", "ㅜㅔ", "ㅜㅣ",
           "ㅠ", "ㅡ", "ㅡㅣ", "ㅣ"]
_TAILS = ["", "ㄱ", "ㄲ", "ㄱㅅ", "ㄴ", "ㄴㅈ", "ㄴㅎ", "ㄷ", "ㄹ", "ㄹㄱ", "ㄹㅁ", "ㄹㅂ", "ㄹㅅ", "ㄹㅌ", "ㄹㅍ", "ㄹㅎ",
          "ㅁ", "ㅂ", "ㅂㅅ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ"]


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

    def candidates(self, word: str) -> list[tuple[float, str]]:
        """(cost, term) of the vocabulary terms within the word's allowed edits, cheapest then most frequent first;
        the cost is the edit distance, plus FIRST_LETTER_COST when the first letter differs. Empty for a word the
        vocabulary holds or too short to correct."""
        limit = allowed_edits(word)
        if not limit or word in self.df:
            return []
        near = set(self._by_deletion.get(word, ()))              # word = term minus a letter
        keys = _deletions(word)
        near |= {k for k in keys if k in self.df}                # term = word minus a letter
        for k in keys:                                           # a substitution or a swap
            near.update(self._by_deletion.get(k, ()))
        found = [(edit_distance(word, t, limit), t) for t in near]
        out = [(d + FIRST_LETTER_COST * (word[0] != t[0]), t) for d, t in found if d <= limit]
        return sorted(out, key=lambda x: (x[0], -self.df[x[1]], x[1]))


def is_hangul(ch: str) -> bool:
    return _HANGUL_BASE <= ord(ch) <= _HANGUL_LAST


@lru_cache(maxsize=8192)
def keys(syllable: str) -> str:
    """The jamo keys that type a syllable ("과" → "ㄱㅗㅏ"); any other character is itself."""
    if not is_hangul(syllable):
        return syllable
    code = ord(syllable) - _HANGUL_BASE
    return _LEADS[code // 588] + _VOWELS[(code % 588) // 28] + _TAILS[code % 28]


def _key_positions() -> dict[str, tuple[float, float]]:
    """(x, y) of each jamo on the standard two-set (2-beolsik) keyboard; a shifted jamo sits on its base key."""
    rows = ("ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔ", "ㅁㄴㅇㄹㅎㅗㅓㅏㅣ", "ㅋㅌㅊㅍㅠㅜㅡ")
    pos = {k: (c + (0.0, 0.25, 0.75)[r], float(r)) for r, row in enumerate(rows) for c, k in enumerate(row)}
    for shifted, base in zip("ㅃㅉㄸㄲㅆㅒㅖ", "ㅂㅈㄷㄱㅅㅐㅔ", strict=True):
        pos[shifted] = pos[base]
    return pos


_KEY_AT = _key_positions()


def _key_cost(a: str, b: str) -> float:
    """Substituting jamo key b for a: NEIGHBOUR_COST for a neighbouring key (or the same key shifted), else 1."""
    pa, pb = _KEY_AT.get(a), _KEY_AT.get(b)
    near = pa is not None and pb is not None and (pa[0] - pb[0]) ** 2 + (pa[1] - pb[1]) ** 2 <= 1.6
    return NEIGHBOUR_COST if near else 1.0


@lru_cache(maxsize=65536)
def syllable_distance(a: str, b: str) -> float:
    """Weighted edit distance between two syllables' jamo keys: inserting, deleting or swapping a key costs 1,
    hitting a neighbouring key NEIGHBOUR_COST (a slip of the finger is likelier than a far key)."""
    x, y = keys(a), keys(b)
    prev = [float(j) for j in range(len(y) + 1)]
    for i in range(1, len(x) + 1):
        cur = [float(i)] + [0.0] * len(y)
        for j in range(1, len(y) + 1):
            sub = 0.0 if x[i - 1] == y[j - 1] else _key_cost(x[i - 1], y[j - 1])
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + sub)
        prev = cur
    return prev[-1]


def far_key(a: str, b: str) -> bool:
    """Whether Hangul word b differs from a in one syllable, by one key swapped for a key that is not its neighbour
    (a full key's cost, as many keys): "수천" → "추천", "보코" → "보고". A slip of the finger hits a neighbouring key
    or drops or doubles one; a far key that makes a word is as likely a real word the index lacks, so a two-syllable
    word is not corrected this way (kb.query.typos)."""
    if len(a) != len(b):
        return False
    changed = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return (len(changed) == 1 and len(keys(changed[0][0])) == len(keys(changed[0][1]))
            and syllable_distance(*changed[0]) >= 1.0)


def hangul_distance(a: str, b: str, limit: float) -> float:
    """Weighted edit distance from a typed Hangul word `a` to a word `b`, syllable by syllable, as HangulLexicon
    counts it: syllable_distance for a changed syllable; from HANGUL_DROP_MIN syllables SYLLABLE_COST for a dropped
    syllable or one typed twice (no other extra syllable is undone). Capped at limit + 1."""
    far = limit + 1
    drop = SYLLABLE_COST if len(a) >= HANGUL_DROP_MIN else far
    if abs(len(a) - len(b)) * drop > limit:
        return far
    prev = [j * drop for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        twice = drop if i > 1 and a[i - 1] == a[i - 2] else far
        cur = [prev[0] + twice] + [0.0] * len(b)
        for j in range(1, len(b) + 1):
            sub = 0.0 if a[i - 1] == b[j - 1] else syllable_distance(a[i - 1], b[j - 1])
            cur[j] = min(prev[j] + twice, cur[j - 1] + drop, prev[j - 1] + sub)
        if min(cur) > limit:
            return far
        prev = cur
    return min(prev[-1], far)


def hangul_bigrams(word: str) -> list[str]:
    return [word[i:i + 2] for i in range(len(word) - 1)]


def hangul_limit(word: str) -> int:
    """Keys a Hangul word may be off by: 1 for two or three syllables, 2 from four."""
    return 2 if len(word) >= HANGUL_TWO_EDITS else 1 if len(word) >= 2 else 0


class HangulLexicon:
    """The Hangul character bigrams of a vocabulary, by first and by second syllable, with document frequencies."""

    def __init__(self, known: Callable[[str], int], bigrams: Iterable[str]):
        self.known = known
        self.after: dict[str, list[str]] = defaultdict(list)
        self.before: dict[str, list[str]] = defaultdict(list)
        for b in bigrams:
            if len(b) == 2 and is_hangul(b[0]) and is_hangul(b[1]):
                self.after[b[0]].append(b[1])
                self.before[b[1]].append(b[0])

    def candidates(self, word: str) -> list[tuple[float, str]]:
        """(key edits, spelling) of the spellings within the word's limit (hangul_limit) whose bigrams are all known,
        nearest then most frequent (its rarest bigram) first. Empty when the word's own bigrams are all known."""
        limit = hangul_limit(word)
        if not limit or all(self.known(b) for b in hangul_bigrams(word)):
            return []
        found: dict[str, float] = {}
        self._walk(word, 0, "", 0.0, limit, found)
        out = [(c, s) for s, c in found.items() if len(s) >= 2 and s != word]
        # nearest; then the longer (a dropped syllable put back keeps all that was typed); then the most frequent
        return sorted(out, key=lambda x: (x[0], -len(x[1]), -min(self.known(b) for b in hangul_bigrams(x[1])), x[1]))

    def _walk(self, word: str, i: int, out: str, cost: float, limit: int, found: dict[str, float]) -> None:
        """Extend `out` (a known spelling of word[:i]) by keeping, replacing, dropping or inserting a syllable."""
        if i == len(word):
            if cost < found.get(out, limit + 1):
                found[out] = cost
            if cost + SYLLABLE_COST <= limit and out and len(word) >= HANGUL_DROP_MIN:     # the last one dropped
                for s in self.after.get(out[-1], ()):
                    found.setdefault(out + s, cost + SYLLABLE_COST)
            return
        ch, prev = word[i], out[-1:] if out else ""
        nxt = word[i + 1] if i + 1 < len(word) else ""
        if not prev or self.known(prev + ch):
            self._walk(word, i + 1, out + ch, cost, limit, found)
        options = self.after.get(prev, ()) if prev else self.before.get(nxt, ())
        for s in options:                                       # a wrong syllable
            if s != ch and cost + (d := syllable_distance(ch, s)) <= limit:
                self._walk(word, i + 1, out + s, cost + d, limit, found)
        if cost + SYLLABLE_COST <= limit and len(word) >= HANGUL_DROP_MIN:
            if ch in (prev, nxt):                                                       # a syllable typed twice
                self._walk(word, i + 1, out, cost + SYLLABLE_COST, limit, found)
            for s in (self.after.get(prev, ()) if prev else self.before.get(ch, ())):  # a dropped one
                if self.known(s + ch):
                    self._walk(word, i + 1, out + s + ch, cost + SYLLABLE_COST, limit, found)
