"""Korean-aware tokens for the keyword index, identical at index and query time.

Hangul runs become character bigrams (a run of one syllable stays a unigram), which matches words across
Korean particles without a morphological analyser ("트레이딩을" and "트레이딩" share 트레/레이/이딩).
Latin/digit words are lower-cased; a mixed-case or alphanumeric word also yields its parts
("KorGPT2" → korgpt2, kor, gpt, 2) so "GPT2" or "KoGPT2" still meet it. Other scripts (CJK ideographs,
kana, Cyrillic …) are kept as lower-cased words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

TOKENIZER_NAME = "hangul-bigram+latin-parts/v1"

_RUN_RE = re.compile(r"[가-힣]+|[A-Za-z0-9]+(?:[.+#][A-Za-z0-9]+)*\+*|[^\W\d_가-힣A-Za-z]+", re.U)
LATIN_PARTS_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")   # "KorGPT2" -> Kor, GPT, 2
MAX_QUERY_CHARS = 2000


def tokenize(text: str, bigrams: bool = True) -> list[str]:
    """Text → tokens for BM25 (same function for posts and queries). `bigrams=False`: all but the Hangul bigrams."""
    if not text:
        return []
    text = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    for m in _RUN_RE.finditer(text):
        run = m.group(0)
        c = run[0]
        if "가" <= c <= "힣":
            if len(run) == 1:
                out.append(run)
            elif bigrams:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif c.isascii():
            low = run.lower()
            out.append(low)
            if any(ch in run for ch in ".+#"):
                out.extend(p.lower() for p in re.split(r"[.+#]+", run) if p)
            else:
                parts = LATIN_PARTS_RE.findall(run)
                if len(parts) > 1:
                    out.extend(p.lower() for p in parts)
        else:
            out.append(run.lower())
    return out


def tokenize_query(text: str) -> list[str]:
    """Query tokens: the same tokenizer on at most MAX_QUERY_CHARS characters, duplicates removed."""
    return list(dict.fromkeys(tokenize(text[:MAX_QUERY_CHARS])))



_HANGUL_RE = re.compile(r"[가-힣]+")


class SharedTokens:
    """How many of a query's tokens a text shares — len(tokens & set(tokenize(text))) — mostly without tokenizing
    the text: a Hangul bigram is among a text's tokens exactly when it is a substring of NFKC(text) (two adjacent
    syllables are always in one run), and a Latin/digit token or a lone syllable can be among them only when it is a
    substring of NFKC(text).lower() (each comes from it character by character). Tokens of other scripts (case
    folding depends on context there) are always checked by tokenizing."""

    def __init__(self, tokens: set[str]):
        self.bigrams = [t for t in tokens if len(t) == 2 and _HANGUL_RE.fullmatch(t)]
        self.rest = [t for t in tokens if t not in self.bigrams]
        self._checkable = all(t.isascii() or _HANGUL_RE.fullmatch(t) for t in self.rest)

    def bound(self, text: str) -> tuple[int, list[str]]:
        """(the bigrams it certainly shares, the other tokens it may share): their sum bounds count(text)."""
        low = unicodedata.normalize("NFKC", text).lower()
        n = sum(1 for t in self.bigrams if t in low)
        return n, ([t for t in self.rest if t in low] if self._checkable else self.rest)

    @staticmethod
    def confirm(maybe: list[str], text: str) -> int:
        """How many of `maybe` (from bound) the text's tokens hold: the text tokenized without its bigrams."""
        return len(set(maybe) & set(tokenize(text, bigrams=False))) if maybe else 0

    def count(self, text: str) -> int:
        n, maybe = self.bound(text)
        return n + self.confirm(maybe, text)


def shared_counter(tokens: set[str]) -> Callable[[str], int]:
    """SharedTokens(tokens).count: len(tokens & set(tokenize(text))), exactly."""
    return SharedTokens(tokens).count
