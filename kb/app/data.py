"""What the app derives from a loaded index, computed once per index version (not on every page draw): the posts
with their section rows, facets, stats and resources; the topics file, re-read only when it changes; whether the
content folder changed since the build, re-hashed only when a file's size or mtime moved; and a per-month (or
per-year) histogram bounded to the real date span of the data."""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kb.backends.protocol import version_key
from kb.core.errors import KbError
from kb.query import browse

PLAUSIBLE_FROM = date(1970, 1, 1)   # a news post dated before this (0001-01-01) is a typo, not history
MAX_MONTH_BARS = 120                # a longer span is charted per year


# ---- per index version ----------------------------------------------------------------------------------------

@dataclass
class Derived:
    posts: list[browse.PostInfo]                      # newest first
    by_path: dict[str, browse.PostInfo]
    tags: list[str]
    categories: list[str]
    stats: browse.Stats
    _resources: list[browse.Resource] | None = field(default=None, repr=False)
    memo: dict = field(default_factory=dict, repr=False)      # the app's own per-version values

    def post(self, path: str) -> browse.PostInfo | None:
        return self.by_path.get(path)

    def row_of(self, index, path: str, position) -> int | None:
        """The row of section `position` of post `path`, or None."""
        p = self.by_path.get(path)
        try:
            position = int(position)
        except (TypeError, ValueError):
            return None
        if p is None:
            return None
        return next((r for r in p.rows if index.sections[r].position == position), None)

    def remember(self, name: str, key, compute, size: int = 64):
        """compute(), kept under `key` among the last `size` values of the named memo (thread-safe)."""
        with _LOCK:
            memo = self.memo.setdefault(name, OrderedDict())
            if key in memo:
                memo.move_to_end(key)
                return memo[key]
        value = compute()
        with _LOCK:
            memo[key] = value
            while len(memo) > size:
                memo.popitem(last=False)
        return value

    def resources(self, index) -> list[browse.Resource]:
        if self._resources is None:
            self._resources = browse.resources(index)
        return self._resources


_DERIVED: OrderedDict[str, Derived] = OrderedDict()
_LOCK = threading.Lock()
_BUILDING = threading.Lock()      # held while a Derived is built


def derived(index) -> Derived:
    """The app's view of an index version, built on first use and kept while the version is among the last two.
    Built once: a second caller (the page and the warm-up thread) waits for the first instead of building it too."""
    key = version_key(index.backend)
    with _BUILDING:
        with _LOCK:
            if key in _DERIVED:
                _DERIVED.move_to_end(key)
                return _DERIVED[key]
        posts = browse.posts(index)
        tags, cats = browse.facets(index)
        d = Derived(posts, {p.path: p for p in posts}, tags, cats, browse.stats(index))
        with _LOCK:
            _DERIVED[key] = d
            while len(_DERIVED) > 2:
                _DERIVED.popitem(last=False)
    return d


# ---- the topics file ------------------------------------------------------------------------------------------

_TOPICS: dict[str, tuple[object, str, float]] = {}      # explicit cache: content folder → (topics, error, when)


def topics(content_dir, max_age: float = 0.0) -> tuple[object | None, str]:
    """(Topics, "") from the content folder's topics file (else the shipped one), or (None, error message) if it is
    broken (kb.topics.current_topics: re-read only when the file changes), looked at at most every `max_age` s."""
    from kb import topics as kbtopics

    hit = _TOPICS.get(str(content_dir))
    now = time.monotonic()
    if hit and now - hit[2] < max_age:
        return hit[0], hit[1]
    try:
        found, err = kbtopics.current_topics(content_dir), ""
    except KbError as e:
        found, err = None, str(e)
    _TOPICS[str(content_dir)] = (found, err, now)
    return found, err


# ---- has the content folder changed since the build? -----------------------------------------------------------

@dataclass
class _Seen:
    signature: tuple                 # (name, size, mtime) of every post file
    folders: tuple                   # (folder, mtime) of the content folder and every folder holding a post
    changes: browse.ContentChanges
    checked: float
    refreshing: bool = False


_SEEN: dict[tuple[str, str], _Seen] = {}


def _signature(content_dir: Path) -> tuple[tuple, tuple]:
    """(files, folders): (name, size, mtime) of every post file, and (folder, mtime) of the folders holding them.
    Cheap to read, and they move whenever a post is added, removed or written."""
    from kb.ingest.posts import find_post_files

    files, _ = find_post_files(content_dir)
    out, folders = [], {str(content_dir)}
    for pf in files:
        folders.add(str(pf.path.parent))
        try:
            st = pf.path.stat()
            out.append((pf.rel, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((pf.rel, -1, -1))
    return tuple(out), _folder_times(folders)


def _folder_times(folders) -> tuple:
    out = []
    for f in sorted(folders):
        try:
            out.append((f, os.stat(f).st_mtime_ns))
        except OSError:
            out.append((f, -1))
    return tuple(out)


def _check(index, content_dir: Path, key, seen: _Seen | None) -> _Seen:
    """List the content folder; hash it (browse.content_changes) only if a file's name, size or mtime moved."""
    now = time.monotonic()
    if not content_dir.is_dir():
        fresh = _Seen((), (), browse.ContentChanges([], [], [], missing_folder=True), now)
    else:
        sig, folders = _signature(content_dir)
        changes = seen.changes if seen is not None and seen.signature == sig else browse.content_changes(index, content_dir)
        fresh = _Seen(sig, folders, changes, now)
    _SEEN[key] = fresh
    return fresh


def _refresh(index, content_dir: Path, key, seen: _Seen) -> None:
    try:
        _check(index, content_dir, key, seen)
    except Exception:  # noqa: BLE001 - the next page draw checks again
        seen.refreshing = False


def content_changes(index, content_dir, max_age: float = 60.0) -> browse.ContentChanges:
    """browse.content_changes without its cost on every page draw. Each call reads only the mtimes of the folders
    that hold posts (a post added, removed or saved by rename moves them): if one moved, the folder is listed again
    now. The files' sizes and mtimes are listed at most every `max_age` seconds, in the background (an edit in place
    shows within that time); 0 lists them now. The content is hashed only when a file's name, size or mtime moved
    (and once per index version, at its first check)."""
    content_dir = Path(content_dir)
    key = (*version_key(index.backend), str(content_dir))
    seen = _SEEN.get(key)
    if max_age <= 0 or seen is None or _folder_times(f for f, _ in seen.folders) != seen.folders:
        return _check(index, content_dir, key, seen).changes
    if time.monotonic() - seen.checked >= max_age and not seen.refreshing:
        seen.refreshing = True
        threading.Thread(target=_refresh, args=(index, content_dir, key, seen), name="kb-content-check",
                         daemon=True).start()
    return seen.changes


# ---- charts ---------------------------------------------------------------------------------------------------

@dataclass
class Histogram:
    unit: str                        # "month" or "year"
    bars: list[tuple[str, int]]      # ("2020-07", 3) or ("2020", 12), every step from the first to the last
    left_out: int = 0                # dated rows outside the plausible span (0001-01-01, 9999-12-31, …)
    span: tuple[str, str] = ("", "")


def histogram(dates, today: date | None = None) -> Histogram:
    """Sections per month from the first to the last plausible date (1970 … next year); per year when that is more
    than MAX_MONTH_BARS months. Implausible dates are counted in `left_out`, so a typo cannot stretch the chart to
    120,000 bars."""
    today = today or date.today()
    hi = f"{today.year + 1:04d}-12-31"
    lo = PLAUSIBLE_FROM.isoformat()
    dated = [d for d in dates if d]
    good = sorted(d for d in dated if lo <= d <= hi)
    left_out = len(dated) - len(good)
    if not good:
        return Histogram("month", [], left_out)
    first, last = (int(good[0][:4]), int(good[0][5:7])), (int(good[-1][:4]), int(good[-1][5:7]))
    months = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    counts: dict[str, int] = {}
    if months <= MAX_MONTH_BARS:
        for d in good:
            counts[d[:7]] = counts.get(d[:7], 0) + 1
        bars, (y, m) = [], first
        while (y, m) <= last:
            k = f"{y:04d}-{m:02d}"
            bars.append((k, counts.get(k, 0)))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return Histogram("month", bars, left_out, (good[0], good[-1]))
    for d in good:
        counts[d[:4]] = counts.get(d[:4], 0) + 1
    bars = [(f"{y:04d}", counts.get(f"{y:04d}", 0)) for y in range(first[0], last[0] + 1)]
    return Histogram("year", bars, left_out, (good[0], good[-1]))


# ---- pages ----------------------------------------------------------------------------------------------------

def page_number(value) -> int:
    """A page number from anything a URL can hold ('3', '', 'x', '-1', a 10,000-digit string): 1 unless it is a
    plain positive number of at most 9 digits (page_slice clamps it to the last page)."""
    s = str(value if value is not None else "").strip()
    return int(s) if s.isascii() and s.isdigit() and 0 < len(s) <= 9 and int(s) > 0 else 1


def page_slice(total: int, page, per_page: int) -> tuple[int, int, int, int]:
    """(page, pages, start, end) for 1-based `page` (clamped; anything unparsable is page 1)."""
    pages = max(1, -(-total // per_page))
    page = min(page_number(page), pages)
    start = (page - 1) * per_page
    return page, pages, start, min(total, start + per_page)
