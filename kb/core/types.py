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
    confidence: float = 1.0                                  # how sure kb is that it matches the query (kb.query.relevance)
    weak: bool = False                                       # below the relevance floor: shown as a weak match

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
            "confidence": round(self.confidence, 4),
            "weak": self.weak,
        }


@dataclass
class PostRecord:
    """A post as the index keeps it (posts table): everything the app shows about a post besides its sections."""
    path: str
    title: str
    date: str                 # YYYY-MM-DD or ""
    week: str
    categories: list[str]
    tags: list[str]
    intro: str
    toc: list[str]
    hash: str

    @classmethod
    def from_post(cls, p: Post) -> PostRecord:
        return cls(path=p.path, title=p.title, date=p.date.isoformat() if p.date else "", week=p.week,
                   categories=p.categories, tags=p.tags, intro=p.intro, toc=p.toc, hash=p.content_hash)

    @classmethod
    def from_dict(cls, d: dict) -> PostRecord:
        return cls(path=d["path"], title=d.get("title") or d["path"], date=d.get("date") or "",
                   week=d.get("week") or "", categories=list(d.get("categories") or []),
                   tags=list(d.get("tags") or []), intro=d.get("intro") or "", toc=list(d.get("toc") or []),
                   hash=d.get("hash") or "")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Manifest:
    """What an index says about itself: schema, embedder, tokenizer, counts, the content it was built from."""
    schema_version: int
    kb_version: str
    embedder_name: str
    embedder_dim: int
    tokenizer: str
    vector_index: str                        # "flat" | "ivf"
    post_count: int
    section_count: int
    entry_count: int
    posts: dict[str, str]                    # post path → content hash
    skipped: dict[str, str]                  # skipped file → content hash
    skipped_reasons: dict[str, str]          # skipped file → why
    built_at: str
    content_dir: str
    embedded: int
    reused: int
    build_seconds: float | None = None
    files: dict[str, dict] = field(default_factory=dict)    # relative path → {sha256, bytes}
    segments: list[dict] = field(default_factory=list)      # [{name, rows}]: the version's segments, in row order

    FORMAT = "kb-index"

    @classmethod
    def from_dict(cls, d: dict) -> Manifest:
        emb = d.get("embedder") or {}
        return cls(schema_version=d.get("schema_version"), kb_version=str(d.get("kb_version", "")),
                   embedder_name=emb.get("name"), embedder_dim=emb.get("dim"), tokenizer=d.get("tokenizer"),
                   vector_index=d.get("vector_index", "flat"), post_count=d.get("post_count"),
                   section_count=d.get("section_count"), entry_count=d.get("entry_count"),
                   posts=dict(d.get("posts") or {}), skipped=dict(d.get("skipped") or {}),
                   skipped_reasons=dict(d.get("skipped_reasons") or {}), built_at=d.get("built_at", ""),
                   content_dir=d.get("content_dir", ""), embedded=d.get("embedded", 0), reused=d.get("reused", 0),
                   build_seconds=d.get("build_seconds"), files=dict(d.get("files") or {}),
                   segments=list(d.get("segments") or []))

    def to_dict(self) -> dict:
        """The JSON form (key order as written since schema 1; segments since schema 2)."""
        d = {"format": self.FORMAT, "schema_version": self.schema_version, "kb_version": self.kb_version,
             "embedder": {"name": self.embedder_name, "dim": self.embedder_dim}, "tokenizer": self.tokenizer,
             "vector_index": self.vector_index, "post_count": self.post_count, "section_count": self.section_count,
             "entry_count": self.entry_count, "posts": self.posts, "skipped": self.skipped,
             "skipped_reasons": self.skipped_reasons, "built_at": self.built_at, "content_dir": self.content_dir,
             "embedded": self.embedded, "reused": self.reused, "build_seconds": self.build_seconds,
             "segments": self.segments}
        if self.files:
            d["files"] = self.files
        return d

    @property
    def known_files(self) -> dict[str, str]:
        """Every post file the build saw (indexed and skipped) → its content hash: the no-op rebuild check."""
        return {**self.posts, **self.skipped}


@dataclass
class KeywordQuery:
    """What the keyword leg is asked: the query's own tokens, and glossary synonyms' tokens at a lower weight."""
    tokens: list[str]
    extra: list[str] = field(default_factory=list)
    extra_weight: float = 0.5
