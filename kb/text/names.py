"""Exact resource names: the normalised key of a name and the map from keys to the sections that carry them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from kb.core.types import Section

_NAME_NORM_RE = re.compile(r"[^0-9a-z가-힣\u3040-\u30ff\u4e00-\u9fff]+")


def normalise_name(s: str) -> str:
    """'Fast-Book ' → 'fastbook': the key for exact-name matching."""
    return _NAME_NORM_RE.sub("", unicodedata.normalize("NFKC", s).lower())


def name_keys(s: Section) -> list[str]:
    """The section's exact-name keys: its heading and resource names normalised, ≥ 2 chars, each once."""
    return list(dict.fromkeys(k for k in (normalise_name(name) for name in s.names) if len(k) >= 2))


def name_map(sections: Sequence[Section]) -> dict[str, list[int]]:
    """{normalised name: section rows carrying it} over every heading and resource name (keys of ≥ 2 chars).
    An index stores this map (kb.storage.segment writes it with name_keys); this builds it from sections in memory."""
    names: dict[str, list[int]] = {}
    for i, s in enumerate(sections):
        for key in name_keys(s):
            names.setdefault(key, []).append(i)
    return names
