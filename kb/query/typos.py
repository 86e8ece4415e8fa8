"""Typo tolerance for a query: the words the index has never seen, corrected to the nearest terms it has.

A Latin word of 4+ letters that no entry holds is corrected to the index term or domain word one edit away (two
from 8 letters; a 4-letter word only to a domain word within one edit), the nearest and then most frequent; a Korean
word (its trailing particle aside) with a character bigram no entry holds, to the spelling a jamo key or two away
(or with a dropped syllable) whose bigrams all occur and which is a word of some section (kb.text.fuzzy; it starts
a word there and ends it, or particles, a verb ending, a noun suffix or a second noun follow: "트랜스포" of "트랜스포머"
is no word), or to a Hangul domain word as near — also the whole word, particle and all ("보코도" → "보코더", not
"보고" + "도"). The domain words are the glossary's and the topics' (labels and keywords of the topics in use): among
corrections as near, a domain word wins (among domain words as near, the one that makes a glossary term with the query's other
words: "컴퓨터 바전" → "컴퓨터 비전"), and it is reached through its glossary synonyms or, for a loanword a topic
lists in both scripts, its other spelling (kb.text.loanword: "보코더" asks for "vocoder") where the posts never write
it. A two-syllable Korean word one far key from a word that is no domain word is left as typed (kb.text.fuzzy.far_key:
"시세" is a word the posts lack, not "시스" misspelled); so are the letters of a name with digits the index holds
("yolov6"). Words the index holds are never touched, so a query without typos is scored exactly as before; nor is a
verb made of a noun the index holds ("분류하는" where the posts write "분류한다"). The
keyword leg adds the corrected words' tokens at FUZZY_WEIGHT, or FAR_WEIGHT for a farther correction (two edits, a
wrong first letter): exact beats fuzzy, near beats far. The corrected query is offered as "Did you mean …" (not
for a change of form: an ending, "detecting" → "detection", or letters appended, "codec" → "code"). The meaning leg
(which then reads the corrected query instead of the typed one) and the relevance floor (which then judges the
corrected query's meaning and words) follow only sure corrections (surely_typos): a "correction" of a real word the
corpus lacks — "stock" → "stack", "drive" → "dive" — would make an off-topic query look on-topic.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from kb import topics as kbtopics
from kb.backends.filters import Filters
from kb.core.errors import BadTopics
from kb.core.types import KeywordQuery
from kb.query import relevance
from kb.query.explain import PARTICLES
from kb.text import glossary
from kb.text.fuzzy import (
    LATIN_OPEN,
    NEIGHBOUR_COST,
    HangulLexicon,
    LatinLexicon,
    allowed_edits,
    far_key,
    hangul_bigrams,
    hangul_distance,
    hangul_limit,
    is_hangul,
)
from kb.text.loanword import same_word
from kb.text.tokenize import tokenize
from kb.text.words import norm
from kb.topics import Topics

FUZZY_WEIGHT = 0.8      # a corrected word's tokens count this much of an exact match
FAR_WEIGHT = 0.6        # ... a correction costing more than one edit (two edits, a wrong first letter)
# "Did you mean" is offered when each corrected word occurs in one of this many best results.
CONFIRM_TOP = 3
_WORD_RE = re.compile(r"[A-Za-z]+|[가-힣]+")
_NAME_RE = re.compile(r"[A-Za-z]+\d[A-Za-z\d]*|\d+[A-Za-z][A-Za-z\d]*")     # letters and digits: "yolov6", "mask2former"
ATTEST_TRIES = 8         # Hangul candidates checked for occurring as a word, nearest first (docs/eval.md)
MAX_WORD = 24           # longer runs (no real word, or a pasted text) are not corrected
NEAR_CACHE = 4096       # stems whose near domain words a vocabulary remembers
MAX_WORDS = 32          # words of a query looked at, at most (a long pasted query costs no more than this)
_VERSION_RE = re.compile(r"[-_.]?\d+(?:[-_.]\d+)*$")        # a name's trailing version: "2", "-3", "3.5"
_TERMS = tuple(dict.fromkeys(norm(t) for group in glossary.GROUPS for t in group))     # the glossary's terms


@dataclass
class Correction:
    """A query with its misspelled words corrected: `fixed` is the whole corrected query, `words` (wrong, right)."""
    query: str
    fixed: str
    words: list[tuple[str, str]] = field(default_factory=list)
    costs: dict[str, float] = field(default_factory=dict)     # wrong word → its correction's cost in edits
    spellings: dict[str, tuple[str, ...]] = field(default_factory=dict)   # right word → its loanword's other spelling

    def weight(self, wrong: str) -> float:
        """How much a corrected word's tokens count: FUZZY_WEIGHT for one edit, FAR_WEIGHT beyond."""
        return FUZZY_WEIGHT if self.costs.get(wrong, 1.0) <= 1.0 else FAR_WEIGHT

    def suggestion(self) -> str | None:
        """The query with the corrections that are not mere inflections applied ("Did you mean"), or None."""
        keep = {w: r for w, r in self.words if not inflection(w, r)}
        return _replace(self.query, keep) if keep else None


def guessed(wrong: str) -> bool:
    """Whether correcting this typed word is a guess: a Korean word of two syllables (its particle aside), where one
    jamo away from almost any word is another word ("수리", repair, is one vowel from "소리", sound)."""
    return not wrong.isascii() and len(_stem(wrong)[0]) <= 2


def inflection(wrong: str, right: str) -> bool:
    """Whether a correction only changes a word's form, which is no typo: an English ending swapped, added or dropped
    (tutorials → tutorial, detecting → detection), letters appended to a word that make another ("codec" is not
    "code" misspelled; a doubled last letter, "learningg", is a slip), or a Korean word's last syllable losing or
    gaining the final ㄴ/ㄹ/ㅁ/ㅂ of a verb ending (빠른 → 빠르), or, after a stem of two syllables or more, keeping its
    initial and changing both its vowel and its final, as a verb's tense does (학습시킬 → 학습시켰: a slip of one key
    changes one of them), or after such a stem a connective ending swapped for another ("찾아내서" → "찾아내고"), or a
    name's version added ("ctranslate" → "ctranslate2", "exllama" → "exllamav2"), or a British "-ise" spelling for the
    American "-ize" ("optimisation" → "optimization"; not a name's letters: "dtreevis" is "dtreeviz" misspelled)."""
    a, b = wrong.lower(), right.lower()
    if a.isascii() and b.startswith(a) and _VERSION_RE.fullmatch(b[len(a):].removeprefix("v")):
        return True                                # a name's version left out: "ctranslate" → "ctranslate2"
    if a.isascii():
        appended = len(a) > len(b) and a.startswith(b) and a[len(b)] != b[-1]
        british = _BRITISH.sub("iz", a) == _BRITISH.sub("iz", b)
        return appended or british or bool(_english_stems(a) & _english_stems(b))
    if len(a) != len(b) or a[:-1] != b[:-1] or not (is_hangul(a[-1]) and is_hangul(b[-1])):
        return False
    if len(a) >= 3 and {a[-1], b[-1]} <= _CONNECTIVE:
        return True                                # one connective ending for another: "찾아내서" → "찾아내고"
    ca, cb = ord(a[-1]) - 0xAC00, ord(b[-1]) - 0xAC00
    finals = {0, 4, 8, 16, 17}                        # none, ㄴ, ㄹ, ㅁ, ㅂ
    tense = len(a) >= 3 and ca // 588 == cb // 588 and ca // 28 != cb // 28 and ca % 28 != cb % 28
    return tense or ca // 28 == cb // 28 and {ca % 28, cb % 28} <= finals and 0 in {ca % 28, cb % 28}


# Connective endings: after a stem of two syllables or more, one swapped for another is a change of form
# ("찾아내서" → "찾아내고"), not a slip of a key. (Particles are not: "강이" is "강의" misspelled as often as a word.)
_CONNECTIVE = frozenset("서고며면니다요")
_BRITISH = re.compile(r"is(?=[eai])")         # "optimise", "optimisation", "optimising": British for "iz"
_ENDINGS = ("ations", "ation", "ings", "ions", "ing", "ion", "ers", "er", "ed", "es", "s")


def _english_stems(word: str) -> set[str]:
    """The word and the word without each English ending it has, where a stem of 4+ letters is left ("detecting",
    "detection" → "detect"; "evaluation" → "evalu", "evaluat", so that "evaluating" meets it)."""
    return {word} | {word[: -len(e)] for e in _ENDINGS if word.endswith(e) and len(word) - len(e) >= 4}


def _replace(query: str, words: dict[str, str]) -> str:
    return _WORD_RE.sub(lambda m: words.get(m.group(0), m.group(0)), query)


class Vocabulary:
    """A backend's keyword terms and their document frequencies, for looking up corrections (built on first use),
    and the domain's words (`domain`: the glossary's and the topics' words, kb.query.typos.topic_words)."""

    def __init__(self, terms: dict[str, int], attested: Callable[[str], bool] | None = None,
                 domain: frozenset[str] = frozenset(), spellings: dict[str, tuple[str, ...]] | None = None):
        self.df = terms
        self._attested = attested
        self.domain = glossary.words() | domain
        self.spellings = spellings or {}       # a domain word → the same loanword in the other script
        self._latin: LatinLexicon | None = None
        self._hangul: HangulLexicon | None = None
        self._glossary_hangul: dict[int, list[str]] | None = None      # by length
        self._near: dict[tuple[str, bool], list[tuple[float, str]]] = {}     # explicit cache: glossary_hangul
        self._versioned: dict[str, str] | None = None

    @property
    def latin(self) -> LatinLexicon:
        """The index's Latin terms and the domain's words (so that a misspelled ML word the posts never use,
        "pretrainning", still finds its glossary synonyms; such a word has document frequency 0 and loses a tie to
        an index term)."""
        if self._latin is None:
            extra = ((w, 0) for w in self.domain if w.isascii() and w.isalpha() and w not in self.df)
            self._latin = LatinLexicon(itertools.chain(self.df.items(), extra))
        return self._latin

    @property
    def hangul(self) -> HangulLexicon:
        if self._hangul is None:
            self._hangul = HangulLexicon(self.known, self.df)
        return self._hangul

    def known(self, term: str) -> int:
        return self.df.get(term, 0)

    def versioned(self, word: str) -> str | None:
        """The index's name that is the word followed by a version ("ctranslate2" for "ctranslate", "exllamav2" for
        "exllama"; the most frequent of several), or None: a name typed without its version is no typo."""
        if self._versioned is None:
            self._versioned = {}
            for t in sorted((t for t in self.df if t.isascii() and t[-1:].isdigit()), key=self.df.get):
                st = _VERSION_RE.sub("", t)
                for stem in {st, st[:-1] if st.endswith("v") else st}:
                    if len(stem) >= 3:
                        self._versioned[stem] = t
        return self._versioned.get(word)

    def glossary_hangul(self, stem: str, same_length: bool = False) -> list[tuple[float, str]]:
        """(key edits, word) of the domain's Hangul words within the stem's limit (hangul_limit), nearest first (only
        those as long as the stem with `same_length`): reached through their glossary synonyms or the topics where
        the index never writes them ("강확학습" → "강화학습" on posts that only say "reinforcement learning", "보코도" →
        "보코더" on posts that say "vocoder"). Remembered per stem (most queries' words are not typos, and ask again)."""
        key = (stem, same_length)
        if (known := self._near.get(key)) is not None:
            return known
        if self._glossary_hangul is None:
            self._glossary_hangul = {}
            for w in sorted(w for w in self.domain if len(w) >= 2 and all(map(is_hangul, w))):
                self._glossary_hangul.setdefault(len(w), []).append(w)
        limit, have = hangul_limit(stem), set(stem)
        differ = int(limit / NEIGHBOUR_COST)          # syllables of a word within the limit not in the stem, at most
        lengths = [len(stem)] if same_length else range(len(stem) - limit, len(stem) + limit + 1)
        found = [(hangul_distance(stem, w, limit), w) for n in lengths for w in self._glossary_hangul.get(n, ())
                 if w != stem and len(set(w) - have) <= differ]
        near = sorted((d, w) for d, w in found if d <= limit)
        if len(self._near) >= NEAR_CACHE:
            self._near.clear()
        self._near[key] = near
        return near

    def attested(self, spelling: str) -> bool:
        """Whether a Hangul spelling starts a word of a section (its bigrams all being known is not enough:
        "다운다로드" has four known bigrams and occurs nowhere); True when the vocabulary has no sections."""
        return self._attested is None or self._attested(spelling)


class Corrector:
    """Corrects queries against one backend's vocabulary, listed on first use (a backend whose `vocabulary()` is empty
    corrects nothing), and the domain's words: the glossary's and those of the topics in use (`topics()`, listed
    again when it returns other topics)."""

    def __init__(self, backend, enabled: bool = True, topics: Callable[[], Topics | None] | None = None):
        self.backend = backend
        self.enabled = enabled
        self._topics = topics
        self._seen: Topics | None = None
        self._vocabulary: Vocabulary | None = None

    def vocabulary(self) -> Vocabulary:
        topics = self._topics() if self._topics is not None else None
        if self._vocabulary is None or topics is not self._seen:
            self._seen = topics
            self._vocabulary = Vocabulary(self.backend.vocabulary(), lambda w: attested(self.backend, w),
                                          topic_words(topics), topic_loanwords(topics))
        return self._vocabulary

    def correct(self, query: str) -> Correction | None:
        """The query with its misspelled words corrected to index terms, or None."""
        return correct(query, self.vocabulary()) if self.enabled else None


def topics_in_use(content_dir) -> Topics | None:
    """The topics of the content folder (kb.topics.current_topics: its topics file, else the shipped one), or None
    when the file cannot be read (search still works; kb.query.facets says why)."""
    try:
        return kbtopics.current_topics(content_dir)
    except BadTopics:
        return None


def topic_words(topics: Topics | None) -> frozenset[str]:
    """The words of the topics' labels and keywords, lower-cased (Latin ones of letters only, Korean ones of two or
    more syllables): with the glossary's, the domain's vocabulary ("보코더", "vocoder" in speech & audio)."""
    words = (w for t in topics or () for term in (t.label, *t.keywords) for w in term.lower().split())
    return frozenset(w for w in words if (w.isascii() and w.isalpha()) or (len(w) >= 2 and all(map(is_hangul, w))))


def topic_loanwords(topics: Topics | None) -> dict[str, tuple[str, ...]]:
    """Per word of a topic's label and keywords, the words of the same topic that spell it in the other script
    (kb.text.loanword.same_word: "보코더" → ("vocoder",), "vocoder" → ("보코더",)); a topic that lists both is
    where kb learns they are one word."""
    out: dict[str, list[str]] = {}
    for t in topics or ():
        words = sorted({w for term in (t.label, *t.keywords) for w in term.lower().split()})
        for a, b in itertools.product(words, words):
            if not a.isascii() and b.isascii() and same_word(a, b):
                out.setdefault(a, []).append(b)
                out.setdefault(b, []).append(a)
    return {w: tuple(dict.fromkeys(v)) for w, v in out.items()}


def attested(backend, spelling: str) -> bool:
    """Whether the spelling is a word in the heading or text of one of the sections that best match its bigrams: it
    starts a word there and what follows it in that word leaves it one (_word_ends). "려울" is in "어려울" but is no
    word; "트랜스포" starts "트랜스포머" but is no word; "객체" starts "객체탐지" and is one."""
    rows = backend.keyword_search(KeywordQuery(hangul_bigrams(spelling)), Filters(), 20)[0]
    start = re.compile(r"(?<![가-힣])" + re.escape(spelling) + r"([가-힣]*)")
    sections = (backend.sections[int(r)] for r in rows)
    return any(_word_ends(m.group(1)) for s in sections for text in (s.heading, s.text) for m in start.finditer(text))


# One syllable that ends a word made of a noun: a copula and common noun suffixes ("서비스다", "선형대수학", "분류기").
_SUFFIXES = frozenset("다 학 기 성 적 화 형 용 식 법 론 력 률 별".split())


def _word_ends(rest: str) -> bool:
    """Whether what follows a spelling inside a word leaves it a word: nothing, particles, a verb ending (and what
    follows it), a noun suffix, or two or more syllables once trailing particles are taken off ("를", "한", "학",
    "탐지를"; not "머" of "트랜스포머", nor "머를"; not "대" of "초거대")."""
    if rest.startswith(_VERB_ENDINGS):
        return True
    for _ in range(2):
        particle = next((p for p in PARTICLES if rest.endswith(p)), "")
        rest = rest[: len(rest) - len(particle)]
    return not rest or len(rest) >= 2 or rest in _SUFFIXES


def _stem(word: str) -> tuple[str, str]:
    """(stem, particle) of a Korean word; the particle is '' when none ends it or the stem would be one syllable."""
    for p in PARTICLES:
        if word.endswith(p) and len(word) - len(p) >= 2:
            return word[: -len(p)], p
    return word, ""


def correct_word(word: str, vocab: Vocabulary, context: Callable[[str], int] | None = None) -> tuple[str, float] | None:
    """(the word's correction, its cost in edits), or None when the index holds it (or nothing is near enough).
    `context(spelling)` ranks domain words as near by what they make of the rest of the query (_terms_made)."""
    if word.isascii():
        low = word.lower()
        if not allowed_edits(low) or vocab.known(low):
            return None
        if (name := vocab.versioned(low)) is not None:
            return name, 0.0                       # the name as the index spells it (a change of form: inflection)
        found = vocab.latin.candidates(low)
        if len(low) < LATIN_OPEN:
            found = [(c, t) for c, t in found if t in vocab.domain and c <= 1.0]     # "long" is not "song"
        return _best([(c, t, t in vocab.domain) for c, t in found], context) if found else None
    stem, particle = _stem(word)
    if len(stem) < 2 or {stem, word} & vocab.domain:
        return None                                # a domain word is a word ("객체" is not "개체" misspelled)
    odd_stem = not all(vocab.known(b) for b in hangul_bigrams(stem))
    odd_word = bool(particle) and not all(vocab.known(b) for b in hangul_bigrams(word))
    if not (odd_stem or odd_word) or _verb_of_known_noun(word, vocab):
        return None                                # "분류하는" is 분류 + 하는, not "분류한는" misspelled
    found = []
    if odd_stem:
        near = _attested(vocab.hangul.candidates(stem)[:ATTEST_TRIES], vocab) + vocab.glossary_hangul(stem)
        found = [(c, t + particle, t in vocab.domain) for c, t in near
                 if t in vocab.domain or not (len(stem) == 2 and far_key(stem, t))]
    if odd_word:
        # what looked like a particle may end a domain word ("보코도" is "보코더", not "보코" + "도")
        found += [(c, t, True) for c, t in vocab.glossary_hangul(word, same_length=True)]
    return _best(sorted(found, key=lambda x: x[0]), context) if found else None


# Endings that make a verb or adjective of a noun (X하다, X되다, X시키다): "분류하는", "학습한", "최적화된".
_VERB_ENDINGS = tuple(sorted("""하는 하고 하기 하다 하며 하면 하여 하지 하게 하던 하니 하려 해서 해야 해도 했다 했던 했고 한다 한
합니다 할 함 해 했 된 되는 되고 되어 되지 되면 돼 됐 시키는 시킨 시켜 시킬""".split(), key=len, reverse=True))


def _verb_of_known_noun(word: str, vocab: Vocabulary) -> bool:
    """Whether a Korean word is a noun of two or more syllables the index holds (all its bigrams, and as the start of
    a word) followed by a verb ending (_VERB_ENDINGS): such a word is spelled right even when the index never writes
    that form ("분류하는" where the posts say "분류한다"), and its nearest written spelling is no correction."""
    for end in _VERB_ENDINGS:
        noun = word[: -len(end)]
        if word.endswith(end) and len(noun) >= 2:
            return all(vocab.known(b) for b in hangul_bigrams(noun)) and vocab.attested(noun)
    return False


def _attested(candidates: list[tuple[float, str]], vocab: Vocabulary) -> list[tuple[float, str]]:
    """The candidates (cheapest first) that occur as words, checked in order until none left could still win
    (_best: as near as the first found, or nearer only by a neighbouring key)."""
    out: list[tuple[float, str]] = []
    for c, t in candidates:
        if out and c > out[0][0] + 1 - NEIGHBOUR_COST:
            break
        if vocab.attested(t):
            out.append((c, t))
    return out


def _best(found: list[tuple[float, str, bool]], context: Callable[[str], int] | None = None) -> tuple[str, float]:
    """(spelling, cost) of the first of the candidates (cost, spelling, a domain word?; cheapest first), except that
    a domain word as near wins (the domain's vocabulary is the likelier intended word), also over one nearer only by
    a neighbouring key ("강이" → "강의", not "같이"); among domain words as near, the one that makes the longest
    glossary term with the query's other words (`context`: "컴퓨터 바전" → "컴퓨터 비전", not "컴퓨터 버전")."""
    best = found[0][0]
    near = [(t, d) for d, t, domain in found if domain and d <= best + 1 - NEIGHBOUR_COST]
    if len(near) > 1 and context is not None:
        near.sort(key=lambda x: -context(x[0]))         # stable: cheapest first among as long
    return near[0] if near else (found[0][1], best)


def _terms_made(query: str, word: str, spelling: str) -> int:
    """The words of the longest glossary term of two or more words the query holds once `word` is spelled `spelling`
    and did not hold before (0: none): "비전" makes "컴퓨터 비전" of "컴퓨터 바전" (2), "버전" makes none. A term of one
    word says nothing about the rest of the query ("tracing" stays "tracking", the nearer by order, not "trading")."""
    before, after = norm(query), norm(_replace(query, {word: spelling}))
    return max((n for t in _TERMS if (n := len(t.split())) > 1 and _holds(after, t) and not _holds(before, t)), default=0)


def _holds(text: str, term: str) -> bool:
    """Whether a normalised text holds a normalised glossary term (a Korean one inside words, spaces optional; a
    Latin one as whole words)."""
    if re.search(r"[가-힣]", term):
        return term in text or term.replace(" ", "") in text.replace(" ", "")
    return re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", text) is not None


def correct(query: str, vocab: Vocabulary) -> Correction | None:
    """The query with every misspelled word corrected, or None when nothing was. The letters of a name with digits
    the index holds whole are not a word to correct ("yolov" of "yolov6" is not "yolo")."""
    named = {w for m in _NAME_RE.findall(query) if vocab.known(m.lower()) for w in _WORD_RE.findall(m)}
    words = [w for w in dict.fromkeys(_WORD_RE.findall(query)) if len(w) <= MAX_WORD and w not in named][:MAX_WORDS]
    found = {w: r for w in words if (r := correct_word(w, vocab, lambda t, w=w: _terms_made(query, w, t))) is not None}
    fixed = {w: r for w, (r, _) in found.items()}
    other = {r: o for r in fixed.values() if (o := vocab.spellings.get(r.lower()) or vocab.spellings.get(_stem(r)[0]))}
    return Correction(query, _replace(query, fixed), list(fixed.items()),
                      {w: c for w, (_, c) in found.items()}, other) if fixed else None


@dataclass
class Fuzzy:
    """The keyword leg's extra questions for a corrected query: (the tokens and glossary synonyms a group of
    corrections brings, their weight)."""
    parts: list[tuple[KeywordQuery, float]]
    wrong: frozenset[str] = frozenset()        # the typed tokens of the corrected words

    def search(self, backend, f, pool: int) -> np.ndarray:
        """The rows each part finds (keyword leg candidates)."""
        return np.concatenate([backend.keyword_search(q, f, pool)[0] for q, _ in self.parts])

    def scores(self, backend, rows: np.ndarray) -> np.ndarray:
        """The weighted BM25 the corrections add to each row."""
        raw = np.zeros(len(rows), dtype=np.float32)
        for q, w in self.parts:
            raw += np.float32(w) * backend.keyword_scores(q, rows)
        return raw


def fuzzy_query(kq: KeywordQuery, fix: Correction, keyword_query: Callable[[str], KeywordQuery]) -> Fuzzy:
    """What the corrected query asks beyond the original (`kq`), one part per correction weight
    (`keyword_query(text)` is the KeywordQuery of a text): the corrected words' tokens, and as synonyms their glossary
    synonyms' and their other spelling's (Correction.spellings: "보코더" asks for "vocoder" too)."""
    have = set(kq.tokens) | set(kq.extra)
    parts = []
    for w in sorted({fix.weight(x) for x, _ in fix.words}, reverse=True):
        fixed = keyword_query(_replace(fix.query, {x: r for x, r in fix.words if fix.weight(x) == w}))
        other = keyword_query(" ".join(o for x, r in fix.words if fix.weight(x) == w for o in fix.spellings.get(r, ())))
        tokens = [t for t in fixed.tokens if t not in have]
        extra = [t for t in dict.fromkeys([*fixed.extra, *other.tokens]) if t not in have and t not in tokens]
        have |= set(tokens) | set(extra)
        parts.append((KeywordQuery(tokens, extra, fixed.extra_weight), w))
    return Fuzzy(parts, frozenset(t for x, _ in fix.words for t in keyword_query(x).tokens))


def surely_typos(fix: Correction, embedder) -> dict[str, str]:
    """The corrections sure enough to stand for what the user meant: no inflection, one edit at most (not a wrong
    first letter, not two edits), a Latin word of LATIN_OPEN+ letters, and a word the embedding model does not
    read as one whole word of its vocabulary ("drive", "cook", "부산" are words, and "dive", "book", "분산" are
    not what their user meant). Empty when the model cannot tell (no `whole_word`)."""
    whole = getattr(embedder, "whole_word", None)
    if whole is None:
        return {}
    return {w: r for w, r in fix.words if not inflection(w, r) and fix.costs.get(w, 2.0) <= 1.0
            and (len(w) >= LATIN_OPEN or not w.isascii()) and not reads_whole(whole, w)}


def reads_whole(whole: Callable[[str], bool], word: str) -> bool:
    """Whether the model reads the word, or a Korean word without its trailing particle, as one whole word of its
    vocabulary: "거리를" is "거리" (distance) and a particle, a word, not "처리를" misspelled."""
    return whole(word) or (not word.isascii() and (stem := _stem(word)[0]) != word and whole(stem))


def attainable(backend, kq: KeywordQuery, fix: Fuzzy | None = None) -> float:
    """The query's attainable BM25, what the keyword leg divides by: its tokens' (all of them, as the raw score
    counts them: also the tokens of a misspelled word the index holds, "러닝" of "깁러닝"), plus with a correction
    each group of corrected tokens' at its weight; for each part whose tokens the index holds none of, its
    glossary synonyms' (a Korean blog that never writes "cryptocurrency" or "exchange" writes "암호화폐 거래소")."""
    def bound(q: KeywordQuery, tokens: list[str]) -> float:
        return backend.keyword_bound(tokens) or backend.keyword_bound(q.extra)

    typed = bound(kq, kq.tokens)
    fixed = sum(w * bound(q, q.tokens) for q, w in fix.parts) if fix is not None else 0.0
    if typed == 0 and fixed > 0:
        # none of the typed words is in the index, but a correction is ("NBA playoff bracket predictions" →
        # "prediction"): the words nothing explains count as much as a corrected token, as an absent token counts
        # as much as a present one in the index's own bound (kb.storage.keyword.KeywordLeg.attainable)
        unexplained = sum(t not in fix.wrong for t in kq.tokens)
        fixed += unexplained * fixed / max(1, sum(len(q.tokens) for q, _ in fix.parts))
    return typed + fixed


def meant_text(fix: Correction | None, embedder) -> str | None:
    """The query with its sure corrections applied (surely_typos), or None without one."""
    sure = surely_typos(fix, embedder) if fix is not None else {}
    return _replace(fix.query, sure) if sure else None


def _meant_vector(index, fix: Correction | None, expand: bool) -> np.ndarray | None:
    """The embedding of the query with its sure corrections applied (surely_typos), or None."""
    text = meant_text(fix, index.embedder)
    return index.query_vector(text, expand) if text is not None else None


def vector_rows(index, qv: np.ndarray, fix: Correction | None, f, pool: int, expand: bool = True) -> np.ndarray:
    """The meaning leg's candidates: the typed query's nearest sections and, with a sure correction, the
    corrected query's."""
    rows = index.backend.vector_search(qv, f, pool)
    meant = _meant_vector(index, fix, expand)
    return rows if meant is None else np.concatenate([rows, index.backend.vector_search(meant, f, pool)])


def cosines(index, qv: np.ndarray, fix: Correction | None, rows: np.ndarray, expand: bool = True) -> np.ndarray:
    """The meaning leg's cosine per row: the typed query's, or with a sure correction (surely_typos) the corrected
    query's — the model reads "objetc detection libary" as noise, and "ransformer" nearer some sections than
    "transformer" is, so the better of the two would keep the typo's reading where it happens to be closer."""
    meant = _meant_vector(index, fix, expand)
    return index.semantic_scores(qv if meant is None else meant, rows)


def meaning_as_meant(index, fix: Correction | None, rows: np.ndarray, expand: bool = True):
    """(cosine per row, best background cosine) of the query with its sure corrections (surely_typos) applied, for
    the relevance floor: a misspelled query is as sure as the query it meant. None without a sure correction."""
    qv = _meant_vector(index, fix, expand)
    return None if qv is None else (index.semantic_scores(qv, rows), relevance.background_best(index.embedder, qv))


def confirmed(backend, fix: Correction | None, rows: Sequence[int], confident: bool,
              covered: bool = False) -> list[tuple[str, str]]:
    """The corrections the results confirm, when the best hit is confident: a correction is confirmed when all the
    tokens of the corrected word, or of one of its glossary synonyms, occur in one of the best CONFIRM_TOP rows
    (what the user meant is what the results are about; "libary" → "library" in a blog that writes "라이브러리"),
    and every correction is when one of those rows is `covered`, saying all the corrected query says in its heading
    or first sentence ("컴퓨토 비전" → "컴퓨터 비전" on a post that says "computer vision"). A correction the results
    do not bear out (a real word the index lacks, "이해" → "비해") is left out; so is an inflection."""
    if fix is None or not len(rows) or not confident:
        return []
    top = np.asarray(rows[: CONFIRM_TOP], dtype=np.int64)
    return [(w, r) for w, r in fix.words if not inflection(w, r)
            and (covered or any(_in_rows(backend, t, top)
                                for t in [r, *glossary.expansion_terms(r), *fix.spellings.get(r, ())]))]


def did_you_mean(fix: Correction | None, words: list[tuple[str, str]],
                 whole: Callable[[str], bool] | None = None) -> str | None:
    """"Did you mean": the query with the corrections the results confirm (`confirmed`) applied, or None. A word
    the model reads whole (`whole`, E5Embedder.whole_word) is left as typed: it is a word, likely what the user
    meant, even where a best hit holds its neighbour ("validate table columns" is not "stable" misspelled)."""
    words = [(w, r) for w, r in words if whole is None or not reads_whole(whole, w)]
    return Correction(fix.query, fix.fixed, words).suggestion() if fix is not None and words else None


def as_confirmed(index, c, words: list[tuple[str, str]], expand: bool = True) -> np.ndarray | None:
    """The meaning leg's cosine per candidate (`c.rows`) of the query with the confirmed corrections (`words`)
    applied, when some are not sure by themselves (a wrong first letter, two edits, a 4-letter word: "ransformer",
    "txet"); None when there are none. A word the model reads whole is never followed ("racing" is not "tracing");
    the floor keeps judging by the typed and the surely corrected query."""
    whole = getattr(index.embedder, "whole_word", None)
    sure = surely_typos(c.fix, index.embedder) if c.fix is not None else {}
    more = {w: r for w, r in words if w not in sure and whole is not None and not reads_whole(whole, w)}
    if not more:
        return None
    return index.semantic_scores(index.query_vector(_replace(c.fix.query, {**sure, **more}), expand), c.rows)


def _in_rows(backend, text: str, rows: np.ndarray) -> bool:
    """Whether one of the rows holds every token of the text."""
    have = np.ones(len(rows), dtype=bool)
    for t in tokenize(text):
        have &= backend.keyword_scores(KeywordQuery([t]), rows) > 0
    return bool(have.any())
