"""Why a hit matched, in words: which query words (and which glossary synonyms) occur where in the section, how
close its meaning is in plain terms, whether the query names it, and its topics. The same term list drives the
app's highlighting (kb.app.html), so what is explained is what is marked.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from kb.core.types import Hit, Section
from kb.query.relevance import SCALE, size_margin
from kb.text.glossary import GROUPS, expansion_terms, matched_groups
from kb.text.tokenize import LATIN_PARTS_RE
from kb.text.words import PARTICLES

_WORD_RE = re.compile(r"[가-힣]+|[A-Za-z0-9][A-Za-z0-9.+#_-]*[A-Za-z0-9+#]|[A-Za-z0-9]|[^\W\d_가-힣A-Za-z]+", re.U)
# Words too common to mark or explain: English function words (a highlighted "in" or "the" says nothing)
STOP_WORDS = frozenset("""a an the in on of for to and or with by at from as is are was were be been it its this that
these those into onto about over under than then via vs not no do does did how what which who whom why when where
can could should would will i me my we our you your he she they them their his her""".split())
# A Latin term matches from a word start, or from an inner case/digit boundary: "GPT" in "KorGPT2", "2" in "GPT2",
# never "RL" inside "URL".
_BOUNDARY = r"(?-i:(?<=[a-z])(?=[A-Z]))|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])"
_LATIN_START = rf"(?:(?<![A-Za-z0-9])|{_BOUNDARY})"
# A short Latin term (a word of at most SHORT_TERM letters) must also end where a word or word part ends, an English
# ending allowed ("HO" is not in "How", "art" not in "artificial", "hum" not in "Hummingbird"; "GPT" is in "GPTs" and
# "GPT2", "RL" in "RL로"); a longer one may start a longer word ("deep" in "deeplearningzerotoall", "detect" in
# "detection": at 4 letters the first of these was lost, keyword mode's cross-lingual queries 0.943 → 0.905 on
# `python -m kb.eval`). Issue 17's twenty-seventh pass (docs/eval.md); 0 turns the end check off.
SHORT_TERM = 3
_LATIN_END = rf"(?:s|es|ed|d|ing|er|ers|'s)?(?:(?![A-Za-z0-9])|{_BOUNDARY})"
# How close in meaning, from the cosine's lead over the query's best everyday (background) sentence
_CLOSENESS = ((0.08, "very close in meaning"), (0.05, "close in meaning"), (0.03, "related in meaning"),
              (0.0, "only loosely related in meaning"))


def _split_words(query: str | None) -> list[str]:
    """The query's words; a Korean particle written onto a Latin word or number ("tracking이랑", "CNN으로", "GPU로") is
    that word's ending, not a word of its own."""
    q = query or ""
    return [m.group(0) for m in _WORD_RE.finditer(q)
            if not (m.group(0) in PARTICLES and m.start() > 0 and q[m.start() - 1].isascii() and q[m.start() - 1].isalnum())]


def query_words(query: str) -> list[str]:
    """The query's own words to look for (Korean words also without a trailing particle; Latin words also as
    their case/digit parts), longest first. One-character words count only when they are the whole query; English
    stop-words ("in", "the", "a") never count."""
    words = _split_words(query)
    out: list[str] = []
    for w in words:
        out.append(w)
        if "가" <= w[0] <= "힣":
            stem = next((w[: -len(p)] for p in PARTICLES if w.endswith(p) and len(w) - len(p) >= 2), None)
            if stem:
                out.append(stem)
        else:
            parts = LATIN_PARTS_RE.findall(w)
            if len(parts) > 1:
                out.extend(p for p in parts if len(p) >= 2)
    keep = [t for t in dict.fromkeys(out) if (len(t) >= 2 or len(words) == 1) and t.lower() not in STOP_WORDS]
    return sorted(keep, key=len, reverse=True)


def synonyms(query: str) -> list[str]:
    """Glossary synonyms of the query's terms (what the keyword leg also looked for), longest first."""
    return sorted((t for t in expansion_terms(query or "") if len(t) >= 2), key=len, reverse=True)


def match_terms(query: str) -> list[str]:
    """Everything to highlight for a query: its words, then its glossary synonyms, longest first."""
    return sorted(dict.fromkeys(query_words(query) + synonyms(query)), key=len, reverse=True)


def term_pattern(terms: list[str]) -> re.Pattern | None:
    parts = []
    for t in sorted(terms, key=len, reverse=True):
        body = r"\s*".join(re.escape(x) for x in t.split())    # "음성 인식" also meets "음성인식"
        if t[0].isascii() and t[0].isalnum():
            short = len(t) <= SHORT_TERM and t.isascii() and t.isalnum()
            body = _LATIN_START + body + (_LATIN_END if short else "")
        parts.append(body)
    return re.compile("|".join(parts), re.I) if parts else None


def _where(term: str, fields: dict[str, str]) -> list[str]:
    rx = term_pattern([term])
    return [name for name, value in fields.items() if rx is not None and rx.search(value or "")]


@dataclass
class Why:
    words: list[tuple[str, list[str]]] = field(default_factory=list)       # (query word, where it occurs)
    via: list[tuple[str, list[str]]] = field(default_factory=list)         # (synonym, where it occurs)
    meaning: str = ""
    exact: bool = False
    facet: bool = False                     # the query names a topic the section is in (kb.query.facets)
    confidence: float = 1.0
    weak: bool = False
    topics: list[str] = field(default_factory=list)
    one_word: bool = False                  # it holds one word of a longer query (relevance.ONE_WORD_UNITS)
    everyday: float | None = None           # held weak by the everyday bar: its section's closeness to everyday text
    corrected: list[tuple[str, list[str]]] = field(default_factory=list)   # (a corrected query word, where it occurs)
    by_meaning: bool = True                 # the search compared meanings (not keyword mode)
    crowd: int | None = None                # weak only because the bar stands higher over this many sections

    def spelling_only(self) -> bool:
        """It holds none of the query's words or synonyms as typed, and no meaning was compared: typo tolerance
        found it (a word one or two letters from a query word)."""
        return not (self.words or self.via or self.exact or self.corrected or self.by_meaning)

    def lines(self) -> list[str]:
        out = []
        if self.exact:
            out.append("The query is this resource's name.")
        for word, where in self.words:
            out.append(f"“{word}” is in the {_and(where)}.")
        for syn, where in self.via:
            out.append(f"Synonym “{syn}” is in the {_and(where)}.")
        for word, where in self.corrected:
            out.append(f"“{word}” (a query word as corrected) is in the {_and(where)}.")
        if self.spelling_only():
            out.append("No query word occurs in it as typed: it holds a spelling within an edit or two of one.")
        elif not self.words and not self.via and not self.exact and not self.corrected:
            out.append("No query word occurs in it: found by meaning alone.")
        elif self.one_word and not self.exact:
            out.append("Only one of the query's words is in it, so it was judged by meaning, as if none were.")
        if self.meaning:
            out.append(self.meaning[0].upper() + self.meaning[1:] + ".")
        if self.facet:
            out.append("The query names a topic this section is in.")
        if self.everyday is not None:
            out.append(f"Its text is close to everyday writing (cosine {self.everyday:.2f}), as it is to many queries, "
                       "so meaning alone must go further to count.")
        if self.crowd:
            out.append(f"Among {self.crowd:,} sections some come close to any query by chance, so the bar for a "
                       "confident match is higher; over fewer sections it would count.")
        out.append(("A weak match" if self.weak else "A confident match") + f" (confidence {self.confidence:.2f}).")
        if self.topics:
            out.append(f"Topics: {', '.join(self.topics)}.")
        return out


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def closeness(semantic: float, background: float) -> str:
    lead = semantic - background
    for floor, words in _CLOSENESS:
        if lead >= floor:
            return f"{words} (cosine {semantic:.2f}, {lead:+.2f} over everyday text)"
    return f"not close in meaning (cosine {semantic:.2f}, {lead:+.2f} over everyday text)"


def why(hit: Hit, query: str, section: Section, topics: list[str] | None = None, meant: str | None = None) -> Why:
    """Explain one hit of `query` (its section gives the text to look in); `meant`: the query as corrected ("Did you
    mean"), whose corrected words count too."""
    fields = {"heading": section.heading, "text": section.text, "resource names": " ".join(section.names)}
    found: set[str] = set()
    words = []
    for w in query_words(query):
        where = _where(w, fields)
        if where and not any(w.lower() in f.lower() for f in found):
            words.append((w, where))
            found.add(w)
    via = []
    meant_synonyms = synonyms(meant) if meant else []
    for syn in sorted(dict.fromkeys(synonyms(query) + meant_synonyms), key=len, reverse=True):
        # longest first; skip one inside a listed one ("음성" in "음성 인식")
        key = syn.replace(" ", "").lower()
        if (where := _where(syn, fields)) and not any(key in v.replace(" ", "").lower() for v, _ in via):
            via.append((syn, where))
    via = via[:3]
    typed = {w.lower() for w in query_words(query)}
    corrected = [(w, where) for w in (query_words(meant) if meant else []) if w.lower() not in typed
                 and not any(w.lower() in f.lower() for f in found) and (where := _where(w, fields))]
    meaning = ""
    if "semantic" in hit.scores and "background" in hit.scores:
        meaning = closeness(hit.scores["semantic"], hit.scores["background"])
    return Why(words, via, meaning, "exact_name" in hit.scores, "topic_facet" in hit.scores, hit.confidence, hit.weak,
               list(topics or []), "one_word" in hit.scores, hit.scores.get("everyday"), corrected,
               "semantic" in hit.scores, held_by_size(hit))


def held_by_size(hit: Hit) -> int | None:
    """The number of sections searched, when that alone made the hit weak: without the floor's rise over them
    (kb.query.relevance.size_margin) its confidence would reach the bar."""
    n = int(hit.scores.get("searched", 0))
    if not hit.weak or not n or not 0 < hit.confidence < 1:
        return None
    lead = SCALE * math.log(hit.confidence / (1 - hit.confidence))      # the evidence the confidence came from
    return n if lead + size_margin(n) >= 0 else None


def _alternatives(word: str) -> list[str]:
    """A query word and what stands for it: its stem without a particle, its Latin parts, its glossary synonyms."""
    return sorted(dict.fromkeys([*query_words(word), *synonyms(word)]), key=len, reverse=True)


def content_words(query: str) -> list[str]:
    """The query's words that carry meaning (stop-words and one-character words aside, unless alone)."""
    words = _split_words(query)
    return [w for w in dict.fromkeys(words) if (len(w) >= 2 or len(words) == 1) and w.lower() not in STOP_WORDS]


def lead_sentence(section: Section) -> str:
    text = (section.text or "").strip()
    return re.split(r"(?<=[.!?。])\s+|\n+", text, maxsplit=1)[0] if text else ""


def coverage_patterns(query: str, corrected: dict[str, str] | None = None) -> list[re.Pattern]:
    """One pattern per unit of the query: each glossary term it names (a multi-word one — "자연어 처리",
    "reinforcement learning" — is one unit, met by any term of its group), then each remaining content word, met by
    itself, its stem, parts or glossary synonyms (and its spelling in `corrected`, {typo: correction}, with that
    spelling's own stem and synonyms)."""
    return [rx for rx, _ in coverage_units(query, corrected)]


def coverage_units(query: str, corrected: dict[str, str] | None = None,
                   plain: frozenset[str] = frozenset()) -> list[tuple[re.Pattern, tuple[str, ...]]]:
    """coverage_patterns with, per unit, the first word of each of its terms, lower-cased: one of them is in any text
    the pattern matches (a cheap test before the pattern's, units_held). A corrected word in `plain` (a key of
    `corrected`, correction → typed spelling) is met by its two spellings and stems only, and a glossary term only
    such a correction names is no unit of its own."""
    out, taken = [], set()
    named = _groups_as_typed(query, corrected, plain) if plain else None
    for group in matched_groups(query):
        if named is not None and group not in named:
            continue
        term = _named_term(query, GROUPS[group])
        if term is not None and (rx := term_pattern(list(GROUPS[group]))) is not None:
            out.append((rx, _needles(GROUPS[group])))
            taken.update(w.lower() for w in term.split())
            taken.add(term.replace(" ", "").lower())
    for w in content_words(query):
        if w.lower() in taken or _strip_particle(w).lower() in taken:
            continue
        if corrected and w in corrected:
            alts = ([*query_words(w), *query_words(corrected[w])] if w in plain
                    else _alternatives(w) + _alternatives(corrected[w]))
        else:
            alts = _alternatives(w)
        if (rx := term_pattern(alts)) is not None:
            out.append((rx, _needles(alts)))
    return out


def _groups_as_typed(query: str, corrected: dict[str, str], plain: frozenset[str]) -> set[int]:
    """The glossary groups the query names with the words in `plain` spelled as typed."""
    typed = query
    for right in plain:
        typed = re.sub(rf"(?<![\w]){re.escape(right)}", corrected[right], typed)
    return set(matched_groups(typed))


def _needles(terms) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.split()[0].lower() for t in terms if t.split()))


def _named_term(query: str, group: tuple[str, ...]) -> str | None:
    """The longest term of a glossary group the query contains (spaces optional for Korean terms)."""
    q = query.lower()
    for t in sorted(group, key=len, reverse=True):
        if t.lower() in q or ("가" <= t[0] <= "힣" and t.replace(" ", "") in q.replace(" ", "")):
            return t
    return None


def _strip_particle(word: str) -> str:
    return next((word[: -len(p)] for p in PARTICLES if word.endswith(p) and len(word) - len(p) >= 2), word)


def coverage(patterns: list[re.Pattern], section: Section) -> float:
    """The share of the query's content words (coverage_patterns) found in the section's heading, resource names or
    first sentence: 1.0 when the section's opening says everything the query asks."""
    if not patterns:
        return 0.0
    where = "\n".join([section.heading, *section.names, lead_sentence(section)])
    return sum(1 for rx in patterns if rx.search(where)) / len(patterns)


def units_held(units: list[tuple[re.Pattern, tuple[str, ...]]], section: Section, enough: int | None = None) -> int:
    """How many of the query's units (coverage_units) occur anywhere in the section: heading, resource names or text
    (counting stops at `enough`)."""
    where, held = "\n".join([section.heading, *section.names, section.text]), 0
    low = where.lower()
    for rx, needles in units:
        held += any(n in low for n in needles) and rx.search(where) is not None
        if held == enough:
            break
    return held
