"""The snippet of a section shown under a hit: the sentence of its commentary that best matches the query."""

from __future__ import annotations

import re

import numpy as np

from kb.core.types import Section
from kb.text.tokenize import tokenize

_SENT_RE = re.compile(r"(?<=[.!?。])\s+|\n+")


def sentences(text: str) -> list[str]:
    return [x.strip() for x in _SENT_RE.split(text) if x and x.strip()]


MAX_SENTENCES = 8          # sentences per section that get a vector (the snippet candidates)


def snippet_sentences(s: Section) -> list[str]:
    """The sentences a snippet is chosen from (the first MAX_SENTENCES of the commentary); the index stores a
    vector for each when a section has two or more, so a snippet can be chosen by meaning."""
    parts = sentences(s.text.strip())
    return parts[:MAX_SENTENCES] if len(parts) > 1 else []


def snippet(s: Section, tokens: set[str], width: int = 220, closeness: np.ndarray | None = None) -> str:
    """The sentence of the commentary that shares most tokens with the query; when no word matches, the one
    closest in meaning (`closeness`: the query's cosine with each of snippet_sentences(s)); else the opening.
    Cut at a word boundary to ≤ width characters."""
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
        elif closeness is not None and len(closeness):
            best = parts[int(np.argmax(closeness))]
    return cut(best, width)


def cut(text: str, width: int) -> str:
    """At most `width` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= width:
        return text
    head = text[: width - 1]
    space = head.rfind(" ")
    return (head[:space] if space > width // 2 else head).rstrip(" ,.;:") + "…"
