"""The retrieval-backend protocol: what the query layer (kb.query.index) asks of a store of index entries.

A backend holds the sections table (row i = section i), the posts table and the manifest, and answers the two
search legs over the 2n entries of kb.ingest.entries: keyword candidates with raw BM25 scores, vector candidates, and the
stored vectors of given rows for exact re-scoring; and the rows that carry an exact resource name. Filters are pushed down to both legs. kb keeps fusion,
exact-name pinning, snippets and relevance above this line, so ranking is the same on every backend.
Implementations: kb.backends.local (FAISS + BM25 postings in an index folder, the default) and kb.backends.milvus
(a Milvus collection).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import numpy as np

from kb.backends.filters import Filters
from kb.core.errors import IndexCorrupt
from kb.core.types import KeywordQuery, Manifest, PostRecord, Section

T = TypeVar("T")
B = TypeVar("B")


class Backend(Protocol):
    name: str                       # "local", "milvus", ...
    location: str                   # where the entries live: the index folder, or the Milvus URI and collection
    manifest: Manifest
    sections: Sequence[Section]     # the sections table: row i = section i
    posts: Sequence[PostRecord]     # the posts table

    @property
    def version(self) -> str:
        """Changes whenever a new build is published."""
        ...

    def is_stale(self) -> bool:
        """True when a newer build has been published since this one was opened."""
        ...

    def mask(self, f: Filters) -> np.ndarray | None:
        """kb.backends.filters.mask over the sections table (None: no filter is active)."""
        ...

    def keyword_search(self, q: KeywordQuery, filters: Filters, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, raw scores) of the best `limit` sections with a positive score that pass the filters, best first.
        A section's raw score is the better of its two entries' BM25 for q.tokens, plus q.extra_weight × the same
        for q.extra."""
        ...

    def keyword_scores(self, q: KeywordQuery, rows: np.ndarray) -> np.ndarray:
        """Raw keyword scores (as in keyword_search) of the given rows."""
        ...

    def keyword_bound(self, tokens: list[str]) -> float:
        """The attainable BM25 of one entry for these tokens (kb.storage.keyword.KeywordLeg.attainable)."""
        ...

    def name_rows(self, key: str) -> np.ndarray:
        """The rows carrying a resource name or heading whose kb.text.names.normalise_name key is `key`, ascending
        (kb.text.names.name_map's value for the key; stored at index time)."""
        ...

    def vector_search(self, qv: np.ndarray, filters: Filters, limit: int) -> np.ndarray:
        """Candidate section rows for a query vector (either of a section's entries may bring it), best first,
        passing the filters; roughly `limit` of them or more (the query layer re-scores them exactly)."""
        ...

    def entry_vectors(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(section-entry vectors, title-entry vectors) of the given rows: float32, L2-normalised."""
        ...

    def sentence_vectors(self, row: int) -> np.ndarray | None:
        """The vectors of a section's snippet sentences (kb.query.snippets.snippet_sentences), or None when the
        backend keeps none for it: the query layer then picks a snippet by words only."""
        ...

    def vocabulary(self) -> dict[str, int]:
        """Every keyword-index term with its document frequency (kb.query.typos corrects misspelled words to
        them); empty when the backend cannot list its terms (then there is no typo tolerance)."""
        ...


def version_key(backend: Backend) -> tuple[str, str, str]:
    """(kind, location, version): the same key means the same published build, so caches of what is derived
    from an index (the app's pages, topic assignments) are keyed by it."""
    return backend.name, backend.location, backend.version


def open_retrying(locate: Callable[[], T], open_at: Callable[[T], B], attempts: int = 3) -> B:
    """open_at(locate()), again when it raises IndexCorrupt because a writer published (and cleaned up) while it
    read — locate() then names another build; IndexCorrupt of the same build, or after `attempts`, is raised."""
    for attempt in range(attempts):
        where = locate()
        try:
            return open_at(where)
        except IndexCorrupt:
            if attempt == attempts - 1 or locate() == where:
                raise
    raise AssertionError("unreachable")
