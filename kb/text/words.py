"""Small text helpers every stage shares: the one sentence splitter, the one cutter, normalised matching text and
the Korean particles that follow a word."""

from __future__ import annotations

import re
import unicodedata

_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n+")
# Korean particles and endings that follow a word ("트레이딩을", "강화학습에서", "책이다"), longest first: stripped to
# find a query word's stem, and allowed after a topic keyword that ends a Korean word
PARTICLES = ("에서는", "으로는", "에서", "으로", "에게", "까지", "부터", "처럼", "이다", "이나", "이랑", "하고", "관련",
             "을", "를", "이", "가", "은", "는", "의", "에", "와", "과", "도", "로", "랑", "만", "들")


def split_sentences(text: str) -> list[str]:
    """Sentences of a commentary: split after . ! ? 。 followed by whitespace, and at line breaks; stripped."""
    return [x.strip() for x in _SENTENCE_END.split(text or "") if x and x.strip()]


def cut(s: str, width: int) -> str:
    """One line of at most `width` characters: cut after a sentence if one ends in the last third, else between
    words, with an ellipsis."""
    s = " ".join((s or "").split())
    if len(s) <= width:
        return s
    head = s[: width - 1]
    ends = [m.end() for m in re.finditer(r"[.!?。](?=\s)", head)]
    if ends and ends[-1] >= width * 2 // 3:
        return head[: ends[-1]]
    space = head.rfind(" ")
    if space > width // 2:
        head = head[:space]
    return head.rstrip(" ,.;:·-") + "…"


def norm(s: str) -> str:
    """Text for matching: NFKC, lower case, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", s).lower()).strip()
