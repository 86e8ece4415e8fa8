"""Topic evidence from words: where a topic's keywords (and their glossary synonyms) occur in a section — its heading
and resource names, its text, its links — and whether its post is tagged with the topic.

Matching rules (the same for every topic, shipped or user-written):

* A Korean keyword matches inside words ("트레이딩을", "알고리즘트레이딩"; "언어 모델" also meets "언어모델"), except
  a one-syllable keyword ("책"), which must stand as a word, optionally followed by a particle ("책을", "책이";
  not "책임", "정책").
* A Latin keyword matches whole words and the case/digit parts of a word, as kb.text.tokenize splits them, so `GPT`
  meets `KorGPT2` and `BERT` meets `KcBERT`; a plural s/es is ignored ("tokenizers" meets "tokenizer").
* Glossary synonyms of a keyword (the kb.text.glossary groups that contain the keyword) and a topic's weak keywords
  (words that often, not always, mean the topic: "토큰", "투자", "배포") count at GLOSSARY_WEIGHT.
* A link contributes the words of its host and path ("machine-learning-for-trading", "tutorials.pytorch.kr") plus a
  word its kind of site implies: a course platform → "course", a publisher or bookshop → "book", a YouTube
  playlist → "lecture", a Korean site (`.kr`, a `ko` language part) → "korean", a preprint server → "paper".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import numpy as np

from kb.text.glossary import GROUPS
from kb.text.tokenize import tokenize

GLOSSARY_WEIGHT = 0.5
# Switches for measuring what each part is worth (`python -m kb.topics --check --cv --no-glossary / --no-lead`).
OPTIONS = {"glossary": True, "lead": True}
MAX_GRAM = 4                      # Latin keywords of up to this many words
_PARTICLES = ("으로", "에서", "까지", "부터", "처럼", "이다", "이나", "이랑", "을", "를", "이", "가", "은", "는", "의",
              "도", "과", "와", "에", "만", "들", "로")
_HANGUL = re.compile(r"[가-힣]")
_LATIN_WORD = re.compile(r"[a-z0-9]+(?:[.+#][a-z0-9]+)*\+*")
_LATIN_RUN = re.compile(r"[A-Za-z0-9]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")

# Kinds of site (general web knowledge, not tied to any post): host pattern → the word a link there implies.
_HOST_WORDS: list[tuple[re.Pattern, str]] = [(re.compile(p), w) for p, w in [
    (r"(^|\.)(coursera\.org|edx\.org|udemy\.com|udacity\.com|khanacademy\.org|inflearn\.com|fastcampus\.co\.kr"
     r"|boostcourse\.org|kmooc\.kr)$|^courses?\.", "course"),
    (r"(^|\.)(oreilly\.com|manning\.com|packtpub\.com|wiley\.com|springer\.com|leanpub\.com|nostarch\.com"
     r"|hanbit\.co\.kr|yes24\.com|aladin\.co\.kr|kyobobook\.co\.kr|gilbut\.co\.kr|amazon\.[a-z.]+)$", "book"),
    (r"(^|\.)(arxiv\.org|openreview\.net|aclanthology\.org|proceedings\.neurips\.cc)$", "paper"),
    (r"\.kr$", "korean"),
]]


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", s).lower()).strip()


def link_words(url: str) -> str:
    """The words a link contributes: its host, path and fragment split into words, plus what its kind of site
    implies."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = unquote(parts.path or "")
    words = [re.sub(r"[/._\-+=&?#%:]+", " ", f"{host} {path} {unquote(parts.fragment or '')}")]
    words += [w for rx, w in _HOST_WORDS if rx.search(host)]
    if re.search(r"(^|\.)ko\.", host) or re.search(r"(^|/)ko(/|$)", path):
        words.append("korean")
    if ("youtube." in host or host == "youtu.be") and ("playlist" in path or "list=" in (parts.query or "")):
        words.append("lecture")
    return " ".join(words)


def _stem(t: str) -> str:
    if len(t) > 3 and t.endswith("es") and t[-3] in "sxz":
        return t[:-2]
    if len(t) > 2 and t.endswith("s") and not t.endswith(("ss", "us", "is")):
        return t[:-1]
    return t


def _latin_key(term: str) -> tuple[str, ...]:
    return tuple(_stem(x) for x in _LATIN_WORD.findall(_norm(term)))[:MAX_GRAM]


# Multi-word Latin glossary terms: a word inside one of them belongs to that term ("speech" in "hate speech",
# "book" in "order book"), unless the topic knows the term itself (longest match, as an analyzer would).
_MULTI = {k for group in GROUPS for t in group if not _HANGUL.search(t) and len(k := _latin_key(t)) > 1}


@dataclass(frozen=True)
class Text:
    """One field of a section, prepared once for every topic: its normalised text, its Latin word n-grams, and
    the words that occur only inside multi-word glossary terms (word → those terms)."""
    text: str
    grams: frozenset
    inside: dict

    @classmethod
    def of(cls, text: str) -> Text:
        # kb.text.tokenize on each stretch of ASCII text (Korean words break a phrase: no n-gram spans them)
        segments = [tokenize(seg) for seg in _NON_ASCII.split(text) if _LATIN_RUN.search(seg)]
        toks: list[str] = []
        grams: set = set()
        covered: dict[int, set] = {}
        for seg in segments:
            seg = [_stem(t) for t in seg]
            base = len(toks)
            toks += seg
            grams.update((t,) for t in seg)
            for n in range(2, MAX_GRAM + 1):
                for i in range(len(seg) - n + 1):
                    g = tuple(seg[i:i + n])
                    grams.add(g)
                    if g in _MULTI:
                        for p in range(base + i, base + i + n):
                            covered.setdefault(p, set()).add(g)
        inside: dict[str, set] = {}
        for t in {toks[p] for p in covered}:
            spots = [p for p, x in enumerate(toks) if x == t]
            if all(p in covered for p in spots):
                inside[t] = set().union(*(covered[p] for p in spots))
        return cls(_norm(text), frozenset(grams), inside)


@dataclass(frozen=True)
class Matcher:
    """A topic's keywords (weight 1) and their glossary synonyms (GLOSSARY_WEIGHT), ready to look for in a Text."""
    latin: dict                                   # word tuple → weight
    korean: tuple[tuple[re.Pattern, float], ...]  # one pattern per weight, best weight first

    def score(self, field: Text) -> float:
        """The best weight among the terms found in the field (0 when none is)."""
        best = 0.0
        for pattern, w in self.korean:
            if w > best and pattern.search(field.text):
                best = w
                break
        if len(self.latin) < len(field.grams):
            found = ((term, w) for term, w in self.latin.items() if w > best and term in field.grams)
        else:
            found = ((g, self.latin[g]) for g in field.grams if self.latin.get(g, 0.0) > best)
        for term, w in found:
            if w > best and not (len(term) == 1 and term[0] in field.inside
                                 and field.inside[term[0]].isdisjoint(self.latin)):
                best = w
        return best


def _korean_part(term: str) -> str:
    t = _norm(term).replace(" ", "")
    body = r"\s*".join(re.escape(c) for c in t)     # "언어 모델" also meets "언어모델"
    if len(t) == 1:
        return rf"(?<![가-힣]){body}(?=$|[^가-힣]|(?:{'|'.join(_PARTICLES)})(?![가-힣]))"
    return body


def synonyms(keyword: str) -> list[str]:
    """Glossary terms in the groups that contain the keyword (the keyword itself excluded)."""
    k = _norm(keyword)
    out: list[str] = []
    for group in GROUPS:
        if k in {_norm(t) for t in group}:
            out += [t for t in group if _norm(t) != k and t not in out]
    return out


def matcher(keywords, weak=(), glossary: bool = True) -> Matcher:
    """The Matcher for a topic's keywords (weight 1), weak keywords and the keywords' glossary synonyms (unless
    glossary=False) (weight GLOSSARY_WEIGHT)."""
    weighted = [(k, 1.0) for k in keywords] + [(k, GLOSSARY_WEIGHT) for k in weak]
    if glossary and OPTIONS["glossary"]:
        weighted += [(s, GLOSSARY_WEIGHT) for k in keywords for s in synonyms(k)]
    latin: dict = {}
    korean: dict[float, list[str]] = {}
    for term, w in weighted:
        if not term.strip():
            continue
        if _HANGUL.search(term):
            korean.setdefault(w, []).append(_korean_part(term))
        else:
            key = _latin_key(term)
            if key and latin.get(key, 0.0) < w:
                latin[key] = w
    pats = tuple((re.compile("|".join(sorted(set(parts), key=len, reverse=True))), w)
                 for w, parts in sorted(korean.items(), reverse=True))
    return Matcher(latin, pats)


@dataclass(frozen=True)
class Fields:
    """The words of one section, by where they occur."""
    head: Text            # heading and referenced resource names
    lead: Text            # the commentary's first sentence (which usually says what the resource is)
    body: Text            # the rest of the commentary (where passing mentions are)
    links: Text           # link words
    tags: frozenset       # the post's tags, normalised


_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n+")


def fields(section) -> Fields:
    links = " ".join(link_words(link.url) for link in section.links)
    parts = [p for p in _SENTENCE_END.split(section.text or "") if p.strip()]
    lead, rest = (parts[0], " ".join(parts[1:])) if parts else ("", "")
    if not OPTIONS["lead"]:
        lead, rest = "", section.text or ""
    return Fields(Text.of("\n".join([section.heading, *section.names])), Text.of(lead), Text.of(rest),
                  Text.of(links), frozenset(_norm(t) for t in section.tags))


FIELDS = ("heading", "lead", "text", "link", "tag")


def keyword_evidence(sections_fields: list[Fields], keywords, names=(), weak=()) -> np.ndarray:
    """(sections, 5): the best keyword weight found in the heading/names, the first sentence, the rest of the text
    and the links, and 1 when the post is tagged with one of the keywords or the topic's name/label."""
    m = matcher(keywords, weak)
    tag_words = {_norm(k) for k in (*keywords, *names)}
    out = np.zeros((len(sections_fields), len(FIELDS)), dtype=np.float32)
    for i, f in enumerate(sections_fields):
        out[i, 0] = m.score(f.head)
        out[i, 1] = m.score(f.lead)
        out[i, 2] = m.score(f.body)
        out[i, 3] = m.score(f.links)
        out[i, 4] = float(not tag_words.isdisjoint(f.tags))
    return out
