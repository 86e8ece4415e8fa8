"""The snippet of a section shown under a hit: the sentence of its commentary that best matches the query."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kb.core.types import Section
from kb.text.tokenize import SharedTokens
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
        top = best_sentence(parts, tokens)
        if top is not None:
            best = parts[top]
        elif closeness is not None:
            closeness = closeness() if callable(closeness) else closeness
            if closeness is not None and len(closeness):
                best = parts[int(np.argmax(closeness))]
    return cut(best, width)


def best_sentence(parts: list[str], tokens: set[str]) -> int | None:
    """The index of the sentence sharing most of the query's tokens (the earliest of equals), None when none shares
    one. Sentences are checked best bound first (kb.text.tokenize.SharedTokens), so only those that could still win
    are tokenized."""
    shared = SharedTokens(tokens)
    bounds = [shared.bound(x) for x in parts]
    best, best_i = 0, None
    for i in sorted(range(len(parts)), key=lambda j: (-bounds[j][0] - len(bounds[j][1]), j)):
        n, maybe = bounds[i]
        if n + len(maybe) < best:
            break                                       # no later sentence can share more
        if n + len(maybe) == best and (best == 0 or i > best_i):
            continue
        exact = n + shared.confirm(maybe, parts[i])
        if exact > best or (exact == best and exact > 0 and i < best_i):
            best, best_i = exact, i
    return best_i
