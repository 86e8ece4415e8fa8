"""Exact resource names: the normalised key of a name and the map from keys to the sections that carry them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from kb.types import Section

_NAME_NORM_RE = re.compile(r"[^0-9a-z가-힣\u3040-\u30ff\u4e00-\u9fff]+")


def normalise_name(s: str) -> str:
    """'Fast-Book ' → 'fastbook': the key for exact-name matching."""
    return _NAME_NORM_RE.sub("", unicodedata.normalize("NFKC", s).lower())


def name_map(sections: Sequence[Section]) -> dict[str, list[int]]:
    """{normalised name: section rows carrying it} over every heading and resource name (keys of ≥ 2 chars)."""
    names: dict[str, list[int]] = {}
    for i, s in enumerate(sections):
        for name in s.names:
            key = normalise_name(name)
            if len(key) >= 2:
                rows = names.setdefault(key, [])
                if not rows or rows[-1] != i:
                    rows.append(i)
    return names
