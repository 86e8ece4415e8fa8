"""Filters on the sections table: parsing what users type (dates, lists) and the boolean row mask.

Every search leg and every listing applies the same filters; a backend may push them down in its own terms (the
local backend uses `mask`, a server backend an expression), but they mean exactly what `mask` computes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from kb.core.errors import BadQuery
from kb.core.types import Section
from kb.ingest.posts import parse_date


@dataclass
class Filters:
    since: date | None = None
    until: date | None = None
    tags: list[str] = field(default_factory=list)          # any of, case-insensitive
    categories: list[str] = field(default_factory=list)    # any of, case-insensitive
    post: str | None = None                                # one post path
    rows: set[int] | None = None       # restrict to these section rows (e.g. a topic's sections)

    def active(self) -> bool:
        return bool(self.since or self.until or self.tags or self.categories or self.post or self.rows is not None)


def as_date(value, name: str) -> date | None:
    """A date from a date, 'YYYY-MM-DD' or any common form; BadQuery naming the option otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    d = parse_date(value)
    if d is None:
        raise BadQuery(f"--{name} '{str(value)[:40]}' is not a date; use YYYY-MM-DD")
    return d


def as_list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v]


def parse_filters(since=None, until=None, tags=None, categories=None, post: str | None = None,
                  rows: Iterable[int] | None = None) -> Filters:
    """Filters from loosely typed values (CLI flags, URL parameters, API keywords)."""
    return Filters(as_date(since, "since"), as_date(until, "until"), as_list(tags), as_list(categories), post or None,
                   set(rows) if rows is not None else None)


def section_dates(sections: Sequence[Section]) -> np.ndarray:
    """The sections' dates as an array of 'YYYY-MM-DD' strings ('' when undated), for `mask`."""
    return np.array([s.date or "" for s in sections])


def mask(f: Filters, sections: Sequence[Section], dates: np.ndarray | None = None) -> np.ndarray | None:
    """Boolean mask over the sections table (None when no filter is active)."""
    if not f.active():
        return None
    return rows_mask(f, content_mask(f, sections, dates))


def content_mask(f: Filters, records: Sequence, dates: np.ndarray | None = None,
                 path: Callable = lambda r: r.post_path) -> np.ndarray:
    """The date, tag, category and post filters over records that carry `date`, `tags`, `categories` and a post path
    (sections; or posts, with path=lambda p: p.path)."""
    m = np.ones(len(records), dtype=bool)
    if f.since or f.until:
        dates = np.array([r.date or "" for r in records]) if dates is None else dates
    if f.since:
        m &= (dates != "") & (dates >= f.since.isoformat())
    if f.until:
        m &= (dates != "") & (dates <= f.until.isoformat())
    if f.tags:
        want = {t.lower() for t in f.tags}
        m &= np.array([bool(want & {t.lower() for t in r.tags}) for r in records], dtype=bool)
    if f.categories:
        want = {c.lower() for c in f.categories}
        m &= np.array([bool(want & {c.lower() for c in r.categories}) for r in records], dtype=bool)
    if f.post:
        m &= np.array([path(r) == f.post for r in records], dtype=bool)
    return m


def rows_mask(f: Filters, m: np.ndarray) -> np.ndarray:
    """m narrowed to the rows filter, if there is one."""
    if f.rows is not None:
        rows = np.zeros(len(m), dtype=bool)
        rows[[r for r in f.rows if 0 <= r < len(m)]] = True
        m &= rows
    return m


def newest_first(rows: Iterable[int], dates: Sequence[str]) -> list[int]:
    """Rows ordered by date, newest first; undated rows last; rows of one date in reading (row) order."""
    rows = sorted(rows)
    dated = sorted((r for r in rows if dates[r]), key=lambda r: dates[r], reverse=True)  # stable: keeps row order
    return dated + [r for r in rows if not dates[r]]


def keep(f: Filters, sections: Sequence[Section], rows: Iterable[int]) -> list[int]:
    """The given rows that pass the filters (for a handful of rows: no full-table mask)."""
    rows = [r for r in rows if 0 <= r < len(sections)]
    if f.rows is not None:
        rows = [r for r in rows if r in f.rows]
    rest = replace(f, rows=None)
    if not rest.active() or not rows:
        return rows
    m = mask(rest, [sections[r] for r in rows])
    return [r for r, ok in zip(rows, m, strict=True) if ok]


class MaskCache:
    """The masks of the last few filters a backend was asked for (an explicit cache: a page of results, its next
    page and the app's counts ask for the same filters again)."""

    SIZE = 8

    def __init__(self, compute: Callable[[Filters], np.ndarray | None]):
        self._compute = compute
        self._masks: OrderedDict[str, np.ndarray | None] = OrderedDict()

    def get(self, f: Filters) -> np.ndarray | None:
        key = repr((f.since, f.until, sorted(f.tags), sorted(f.categories), f.post,
                    None if f.rows is None else sorted(f.rows)))
        if key not in self._masks:
            self._masks[key] = self._compute(f)
            while len(self._masks) > self.SIZE:
                self._masks.popitem(last=False)
        return self._masks[key]
