"""The index-entry layout, owned here: each section row i gives entry i (the section) and entry n+i (its title).

The section entry is the heading plus the commentary; the referenced-title entry is the heading plus the resource
names (link anchors, GitHub owner/repo, arXiv ids, site names). Every backend stores 2n entries in this order and
every per-section score is the better of a section's two entries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from kb.core.types import Section
from kb.text.tokenize import tokenize


def passage_text(s: Section) -> str:
    return f"{s.heading}\n{s.text}".strip()


def title_text(s: Section) -> str:
    extra = [name for name in s.names if name.lower() != s.heading.lower()]
    return f"{s.heading} ({', '.join(extra)})" if extra else s.heading


def entry_texts(sections: list[Section]) -> list[str]:
    """Texts of the 2n entries, in entry order (what the embedder sees)."""
    return [passage_text(s) for s in sections] + [title_text(s) for s in sections]


class EntryTexts(Sequence[str]):
    """entry_texts made one at a time when asked for: a build hashes each text once and embeds only the new ones,
    without holding every text (at 100k sections they are ~200 MB of strings)."""

    def __init__(self, sections: list[Section]):
        self.sections = sections

    def __len__(self) -> int:
        return 2 * len(self.sections)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self.sections)
        if not -2 * n <= i < 2 * n:
            raise IndexError(i)
        i %= 2 * n
        return passage_text(self.sections[i]) if i < n else title_text(self.sections[i - n])


def entry_tokens(sections: list[Section]) -> list[list[str]]:
    """Keyword tokens of the 2n entries, in entry order (the heading counts twice in the section entry)."""
    return list(iter_entry_tokens(sections))


def iter_entry_tokens(sections: list[Section]) -> Iterator[list[str]]:
    """entry_tokens one entry at a time (a build indexes them without holding every token list)."""
    for s in sections:
        yield tokenize(s.heading) + tokenize(passage_text(s))
    for s in sections:
        yield tokenize(title_text(s))
