"""Read-only views over a loaded index, for the app and the CLIs: the posts newest first, one post with its
sections, sections by filter, every referenced resource once (deduplicated by URL) with the weeks that mention it,
index stats, and whether the content folder has changed since the index was built."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from kb.backends.filters import mask, parse_filters
from kb.backends.filters import newest_first as order_newest_first
from kb.core.types import Hit, PostRecord
from kb.ingest.posts import content_state
from kb.ingest.sections import GENERIC_ANCHOR_RE, is_web_url


def hit_for_row(index, row: int, score: float = 0.0, scores: dict | None = None, snippet: str | None = None) -> Hit:
    """A Hit for a section row outside a search (topic lists, post views); the snippet is the opening sentence."""
    return index.hit(row, score, scores, snippet=snippet)


def newest_first(index, rows) -> list[int]:
    """Rows by date, newest first; undated last; within a date in reading order."""
    return order_newest_first(rows, [s.date or "" for s in index.sections])


def filtered_rows(index, since=None, until=None, tags=None, categories=None, post=None, rows=None) -> list[int]:
    """Every section matching the filters (the same filters as Index.search), newest first."""
    m = mask(parse_filters(since, until, tags, categories, post, rows), index.sections)
    picked = range(len(index.sections)) if m is None else [int(r) for r in m.nonzero()[0]]
    return newest_first(index, picked)


# ---- posts ----------------------------------------------------------------------------------------------------

@dataclass
class PostInfo:
    path: str
    title: str
    date: str            # YYYY-MM-DD or ""
    week: str
    tags: list[str]
    categories: list[str]
    intro: str
    toc: list[str]
    rows: list[int]      # its sections, in reading order

    @property
    def label(self) -> str:
        """'7월 1주차 · 2020-06-27' (whatever of week and date is known)."""
        return " · ".join(x for x in (self.week, self.date) if x) or self.path


def _post_info(p: PostRecord, rows: list[int]) -> PostInfo:
    return PostInfo(path=p.path, title=p.title or p.path, date=p.date, week=p.week, tags=list(p.tags),
                    categories=list(p.categories), intro=p.intro, toc=list(p.toc), rows=rows)


def rows_by_post(index) -> dict[str, list[int]]:
    """Post path → its section rows, in reading order. A backend that maps rows to posts (post_of_row: the local
    one) answers without decoding a single section (at 100k sections decoding them all took 6.8 s); another is
    read from its sections table."""
    post_of_row = getattr(index.backend, "post_of_row", None)
    if post_of_row is None:
        by_post: dict[str, list[int]] = {}
        for i, s in enumerate(index.sections):
            by_post.setdefault(s.post_path, []).append(i)
        return by_post
    owner = np.asarray(post_of_row())                         # row → its post's position in the posts table
    order = np.argsort(owner, kind="stable").tolist()         # rows grouped by post, each in reading order
    counts = np.bincount(owner, minlength=len(index.posts)).tolist()
    out, start = {}, 0
    for p, n in zip(index.posts, counts, strict=True):
        if n:
            out[p.path] = order[start:start + n]
        start += n
    return out


def posts(index) -> list[PostInfo]:
    """All indexed posts, newest first (undated last, then by path)."""
    by_post = rows_by_post(index)
    out = [_post_info(p, by_post.get(p.path, [])) for p in index.posts]
    out.sort(key=lambda p: p.path)
    out.sort(key=lambda p: p.date, reverse=True)
    return [p for p in out if p.date] + [p for p in out if not p.date]


def facets(index) -> tuple[list[str], list[str]]:
    """(tags, categories) used by the indexed posts, most used first."""
    def ranked(key: str) -> list[str]:
        counts: dict[str, int] = {}
        for p in index.posts:
            for v in getattr(p, key):
                counts[v] = counts.get(v, 0) + 1
        return sorted(counts, key=lambda v: (-counts[v], v.lower()))

    return ranked("tags"), ranked("categories")


# ---- resources ------------------------------------------------------------------------------------------------

@dataclass
class Mention:
    row: int
    path: str
    post_title: str
    week: str
    date: str
    heading: str


@dataclass
class Resource:
    url: str                               # as first written (newest mention)
    title: str                             # the best name: the link text, else the section heading
    mentions: list[Mention] = field(default_factory=list)   # newest first

    @property
    def weeks(self) -> list[str]:
        """Distinct 'week · date' labels of the posts that mention it, newest first."""
        seen = dict.fromkeys(" · ".join(x for x in (m.week, m.date) if x) or m.path for m in self.mentions)
        return list(seen)


def url_key(url: str) -> str:
    """The deduplication key of a URL: scheme http/https alike, host lower-cased without 'www.', no fragment,
    no trailing slash."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port:
        host += f":{parts.port}"
    path = parts.path.rstrip("/")
    return urlunsplit(("https" if parts.scheme.lower() in ("http", "https") else parts.scheme.lower(), host, path,
                       parts.query, ""))


def resources(index) -> list[Resource]:
    """Every http(s) resource the sections link to, once per URL, the most recently mentioned first.
    A resource's title is the anchor text of a link to it that is not a generic '참고링크', else the heading."""
    found: dict[str, Resource] = {}
    for row in newest_first(index, range(len(index.sections))):
        s = index.sections[row]
        for link in s.links:
            if not is_web_url(link.url):
                continue
            key = url_key(link.url)
            res = found.get(key)
            text = link.text.strip()
            named = bool(text) and not GENERIC_ANCHOR_RE.match(text)
            if res is None:
                res = found[key] = Resource(url=link.url, title=text if named else s.heading)
            elif named and res.title != text and res.title in {m.heading for m in res.mentions}:
                res.title = text
            if not any(m.row == row for m in res.mentions):
                res.mentions.append(Mention(row, s.post_path, s.post_title, s.week, s.date, s.heading))
    return list(found.values())


# ---- stats and freshness -------------------------------------------------------------------------------------

@dataclass
class Stats:
    posts: int
    sections: int
    first_date: str
    last_date: str
    undated_posts: int
    model: str
    built_at: str
    build_seconds: float | None
    version: str
    content_dir: str
    skipped: dict[str, str]


def stats(index) -> Stats:
    m = index.manifest
    dates = sorted(p.date for p in index.posts if p.date)
    return Stats(posts=len(index.posts), sections=len(index.sections), first_date=dates[0] if dates else "",
                 last_date=dates[-1] if dates else "", undated_posts=sum(1 for p in index.posts if not p.date),
                 model=index.model_name, built_at=m.built_at, build_seconds=m.build_seconds,
                 version=index.version, content_dir=m.content_dir, skipped=dict(m.skipped_reasons))


@dataclass
class ContentChanges:
    added: list[str]
    removed: list[str]
    modified: list[str]
    missing_folder: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.modified)

    def summary(self) -> str:
        if self.missing_folder:
            return "the content folder does not exist"
        parts = [f"{len(v)} {k}" for k, v in (("new", self.added), ("changed", self.modified),
                                               ("removed", self.removed)) if v]
        return ", ".join(parts) + " post file(s) since the last build" if parts else "up to date"


def content_changes(index, content_dir) -> ContentChanges:
    """Compare the post files in content_dir with the hashes the index was built from (skipped files included).
    Hashing goes through kb.ingest.posts.content_state: streamed, an oversized file fingerprinted, a FIFO never opened."""
    content_dir = Path(content_dir)
    if not content_dir.is_dir():
        return ContentChanges([], [], [], missing_folder=True)
    known = index.manifest.known_files
    now = content_state(content_dir)
    return ContentChanges(added=sorted(set(now) - set(known)), removed=sorted(set(known) - set(now)),
                          modified=sorted(k for k in set(now) & set(known) if now[k] != known[k]))
