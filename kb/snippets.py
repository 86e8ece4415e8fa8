"""The snippet of a section shown under a hit: the sentence of its commentary that best matches the query."""

from __future__ import annotations

import re

from kb.tokenize import tokenize
from kb.types import Section

_SENT_RE = re.compile(r"(?<=[.!?。])\s+|\n+")


def sentences(text: str) -> list[str]:
    return [x.strip() for x in _SENT_RE.split(text) if x and x.strip()]


def snippet(s: Section, tokens: set[str], width: int = 220) -> str:
    """The sentence of the commentary that shares most tokens with the query (else the opening), ≤ width chars."""
    text = s.text.strip()
    if not text:
        return ""
    parts = sentences(text)
    best = parts[0] if parts else text
    if tokens and len(parts) > 1:
        scored = [(len(tokens & set(tokenize(x))), -i, x) for i, x in enumerate(parts)]
        top = max(scored)
        if top[0] > 0:
            best = top[2]
    if len(best) > width:
        best = best[: width - 1].rstrip() + "…"
    return best
