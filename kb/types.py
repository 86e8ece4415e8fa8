"""The dataclasses that travel between stages: Post → Section → (index) → Hit."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date


@dataclass(frozen=True)
class Link:
    url: str
    text: str = ""


@dataclass
class Post:
    path: str                 # relative to the content folder, '/'-separated
    title: str
    date: date | None
    week: str                 # "7월 1주차" from the title, else ISO week "2020-W26", else ""
    categories: list[str]
    tags: list[str]
    intro: str                # post-level text before the first section (markdown stripped)
    toc: list[str]            # the titles listed under "## 목차"
    body: str                 # the original markdown body (front matter removed)
    content_hash: str         # sha256 of the raw file bytes


@dataclass
class Section:
    post_path: str
    position: int             # 0-based order of the section in its post
    heading: str              # plain text
    text: str                 # commentary, markdown stripped
    markdown: str             # the original markdown of the section (heading line included)
    links: list[Link]
    url: str                  # the primary resource link (first 참고링크, else first link), "" if none
    names: list[str]          # referenced resource names: heading, anchors, github owner/repo, arXiv ids, ...
    post_title: str
    date: str                 # YYYY-MM-DD or ""
    week: str
    tags: list[str]
    categories: list[str]

    @property
    def key(self) -> str:
        return f"{self.post_path}#{self.position}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["links"] = [asdict(link) for link in self.links]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Section:
        d = dict(d)
        d["links"] = [Link(**link) for link in d["links"]]
        return cls(**d)


@dataclass
class Hit:
    heading: str
    post_title: str
    date: str
    week: str
    tags: list[str]
    categories: list[str]
    url: str
    links: list[Link]
    path: str
    position: int
    score: float
    scores: dict[str, float] = field(default_factory=dict)   # per leg, e.g. {"keyword": 7.1, "semantic": 0.86}
    ranks: dict[str, int] = field(default_factory=dict)      # 1-based rank per leg (absent: not retrieved by that leg)
    snippet: str = ""
    row: int = -1                                            # row in the index's sections table

    def to_json(self) -> dict:
        return {
            "heading": self.heading,
            "post_title": self.post_title,
            "date": self.date,
            "week": self.week,
            "tags": self.tags,
            "categories": self.categories,
            "url": self.url,
            "links": [link.url for link in self.links],
            "path": self.path,
            "position": self.position,
            "score": round(self.score, 6),
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "ranks": self.ranks,
            "snippet": self.snippet,
        }
