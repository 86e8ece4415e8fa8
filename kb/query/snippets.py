"""The snippet of a section shown under a hit: the sentence of its commentary that best matches the query."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.core.types import Section
from kb.text.tokenize import shared_counter
from kb.text.words import cut, split_sentences

MAX_SENTENCES = 8          # sentences per section that get a vector (the snippet candidates)


def snippet_sentences(s: Section) -> list[str]:
    """The sentences a snippet is chosen from (the first MAX_SENTENCES of the commentary); the index stores a
    vector for each when a section has two or more, so a snippet can be chosen by meaning."""
    parts = split_sentences(s.text)
    return parts[:MAX_SENTENCES] if len(parts) > 1 else []


def snippet(s: Section, tokens: set[str], width: int = 220,
            closeness: np.ndarray | Callable[[], np.ndarray | None] | None = None) -> str:
    """The sentence of the commentary that shares most tokens with the query; when no word matches, the one
    closest in meaning (`closeness`: the query's cosine with each of snippet_sentences(s), or a function giving it,
    called only then); else the opening. Cut at a word boundary to ≤ width characters."""
    text = s.text.strip()
    if not text:
        return ""
    parts = split_sentences(text)
    best = parts[0] if parts else text
    if tokens and len(parts) > 1:
        shared = shared_counter(tokens)                 # len(tokens & set(tokenize(x))), mostly without tokenizing
        scored = [(shared(x), -i, x) for i, x in enumerate(parts)]
        top = max(scored)
        if top[0] > 0:
            best = top[2]
        elif closeness is not None:
            closeness = closeness() if callable(closeness) else closeness
            if closeness is not None and len(closeness):
                best = parts[int(np.argmax(closeness))]
    return cut(best, width)
