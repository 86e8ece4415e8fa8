"""Files on disk → Post: find post files, decode them (UTF-8, BOM, CP949/EUC-KR), read front matter, dates, week."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from kb.core import safeio
from kb.core.errors import BadPost
from kb.core.types import Post
from kb.ingest.sections import plain_inline

POST_SUFFIXES = (".md", ".markdown")
MAX_POST_BYTES = 20 * 1024 * 1024

_WEEK_RE = re.compile(r"(\d{1,2})\s*월\s*(\d)\s*(?:번째\s*)?주(?:차)?")
_NUM_DATE_RE = re.compile(r"(?<!\d)(\d{4})\s*[-./년]\s*(\d{1,2})\s*[-./월]\s*(\d{1,2})(?!\d)")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_BINARY_CHAR_RE = re.compile(r"[\x00-\x08\x0b-\x1f]")       # control characters but \n and \t
_COMPACT_DATE_RE = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")


@dataclass(frozen=True)
class PostFile:
    path: Path     # absolute path on disk
    rel: str       # path relative to the content folder, '/'-separated


def find_post_files(content_dir: Path) -> tuple[list[PostFile], list[tuple[str, str]]]:
    """Markdown files under content_dir, sorted; hidden files/folders and other suffixes are ignored.

    Symlinks are followed only when they resolve inside the content folder, and each real file is
    read once (so a symlink loop or a link to an outside file cannot escape or repeat). A post name that is
    not a regular file (a FIFO, socket or device named *.md) is refused, never opened. Returns the files and
    a list of (name, reason) for what was refused.
    """
    if not content_dir.is_dir():
        return [], []
    w = _Walk(content_dir, content_dir.resolve())
    # depth first in name order, with an explicit stack: a post 1,500 folders deep cannot exhaust Python's stack
    stack = [x for x in [w.listing(content_dir, "")] if x is not None]
    while stack:
        real, folder_rel, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        sub = w.visit(entry, real, folder_rel)
        if sub is not None and (x := w.listing(*sub)) is not None:
            stack.append(x)
    return w.found, w.refused


@dataclass
class _Walk:
    content_dir: Path
    root: Path                                    # content_dir resolved
    found: list[PostFile] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    seen_real: set[str] = field(default_factory=set)
    seen_dirs: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)    # the names given so far (posts and refused files)

    def name(self, rel: str, raw: str) -> str:
        """A post's name: its display name (kb.ingest.posts.text_name), unless a file seen before has it already (a
        UTF-8 `가.md` next to a CP949-named `가.md`): then the display name with the exact on-disk name, so each
        file on disk keeps its own key and neither hides the other."""
        if rel in self.names:
            exact = os.fsencode(raw).decode("utf-8", "backslashreplace")
            rel = candidate = f"{rel} [on disk: {exact}]"
            n = 2
            while rel in self.names:
                rel, n = f"{candidate} ({n})", n + 1
        self.names.add(rel)
        return rel

    def listing(self, folder: Path, folder_rel: str):
        """(real path, '/'-ended relative name, its entries in name order), or None (seen already, unreadable)."""
        real = os.path.realpath(folder)
        if real in self.seen_dirs:
            return None
        self.seen_dirs.add(real)
        try:
            with os.scandir(folder) as it:
                return real, folder_rel, iter(sorted(it, key=lambda e: e.name))
        except OSError as err:
            self.refused.append((_rel(folder, self.content_dir), f"cannot list folder: {err.strerror or err}"))
            return None

    def visit(self, entry: os.DirEntry, real: str, folder_rel: str) -> tuple[Path, str] | None:
        """Record one entry; a folder to descend into is returned."""
        if entry.name.startswith((".", "_", "~")) and entry.name != "_posts":
            return None
        rel = self.name(text_name(folder_rel + entry.name), folder_rel + entry.name)
        link = entry.is_symlink()
        # a plain entry of a resolved folder is its own real path: no per-file realpath (4 lstat calls each)
        real_p = os.path.realpath(entry.path) if link else os.path.join(real, entry.name)
        if link and not _inside(real_p, self.root):
            self.refused.append((rel, "symlink points outside the content folder"))
            return None
        try:
            is_dir = entry.is_dir()
            is_file = entry.is_file()
        except OSError:
            self.refused.append((rel, "unreadable (broken or looping symlink)"))
            return None
        suffix = os.path.splitext(entry.name)[1].lower()
        if is_dir:
            return Path(entry.path), folder_rel + entry.name + "/"
        if is_file and suffix in POST_SUFFIXES:
            if real_p not in self.seen_real:
                self.seen_real.add(real_p)
                self.found.append(PostFile(path=Path(entry.path), rel=rel))
        elif suffix in POST_SUFFIXES:
            self.refused.append((rel, _not_a_post_file(entry.path, link)))
        return None


def _not_a_post_file(path: str, link: bool) -> str:
    if link and not os.path.exists(path):
        return "broken or looping symlink"
    try:
        kind = safeio.kind_of(os.stat(path).st_mode)
    except OSError:
        kind = "unreadable"
    return f"{kind}, not a regular file"


def _rel(p: Path, base: Path) -> str:
    try:
        rel = p.relative_to(base).as_posix()
    except ValueError:
        rel = p.name
    return text_name(rel)


def text_name(name: str) -> str:
    """A file name as real text. Names that are not UTF-8 on disk (Python holds them with surrogates, which cannot
    be written to JSON or printed) are read as CP949 (old Korean Windows archives), else shown with \\x escapes."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        raw = os.fsencode(name)
    try:
        return raw.decode("cp949")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def _inside(real: str, root: Path) -> bool:
    r = str(root)
    return real == r or real.startswith(r.rstrip(os.sep) + os.sep)


def decode_post(raw: bytes, name: str) -> str:
    """Bytes → text: UTF-8 (BOM stripped), else CP949 (a superset of EUC-KR); CRLF/CR → LF. Raises BadPost."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        raise BadPost(f"{name}: empty file")
    if b"\x00" in raw[:8192]:
        raise BadPost(f"{name}: binary file, not a markdown post")
    for encoding in ("utf-8", "cp949"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise BadPost(f"{name}: not UTF-8 or CP949/EUC-KR text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(_BINARY_CHAR_RE.findall(text, 0, 4096)) > 8:
        raise BadPost(f"{name}: binary file, not a markdown post")
    return _CONTROL_RE.sub(" ", text)       # a stray ESC or NUL must not reach a terminal or the index


def split_front_matter(text: str, name: str) -> tuple[dict, str]:
    """Return (metadata, body). A post without front matter has {}; broken YAML raises BadPost."""
    if not text.lstrip("\ufeff").startswith("---"):
        return {}, text
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        raise BadPost(f"{name}: front matter starts with '---' but never ends")
    import yaml

    try:
        meta = _load_yaml(yaml, "\n".join(lines[1:end])) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise BadPost(f"{name}: broken YAML front matter{where}: {problem}") from None
    except RecursionError:
        raise BadPost(f"{name}: front matter is nested too deeply") from None
    if not isinstance(meta, dict):
        raise BadPost(f"{name}: front matter is not a key: value mapping")
    return meta, "\n".join(lines[end + 1:])


_LOADERS: tuple = ()


def _load_yaml(yaml, text: str):
    """Front matter through libyaml's parser when PyYAML has it (the Python parser took 13 of 54 s reading 100k
    sections); what libyaml refuses (surrogate escapes, its own nesting limit) is read by the Python parser, so a post
    parses, or fails with the message, it always did."""
    fast, exact = _front_matter_loaders()
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.load(text, Loader=exact)


def _front_matter_loaders() -> tuple:
    """(libyaml's, Python's) SafeLoader without implicit timestamps: `date: 2020-13-45` stays a string for parse_date
    to judge, instead of an exception out of the YAML constructor that would lose the whole post. The first is None
    without libyaml."""
    global _LOADERS
    if not _LOADERS:
        import yaml

        resolvers = {ch: [(tag, rx) for tag, rx in found if tag != "tag:yaml.org,2002:timestamp"]
                     for ch, found in yaml.SafeLoader.yaml_implicit_resolvers.items()}
        loaders = []
        for base in (getattr(yaml, "CSafeLoader", None), yaml.SafeLoader):
            loader = None if base is None else type("FrontMatterLoader", (base,), {})
            if loader is not None:
                loader.yaml_implicit_resolvers = resolvers
            loaders.append(loader)
        _LOADERS = tuple(loaders)
    return _LOADERS


def parse_date(value) -> date | None:
    """Any common date form → date: datetime/date objects, 2020.06.27 12:00:00, 2020-06-27, 2020/6/27,
    2020년 6월 27일, 20200627, 'June 27, 2020'. Returns None when nothing sensible is found."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        value = str(int(value))
    s = str(value).strip()[:200]
    for rx in (_NUM_DATE_RE, _COMPACT_DATE_RE):
        m = rx.search(s)
        if m:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                continue
    try:
        from dateutil import parser as du

        d = du.parse(s, fuzzy=False, default=datetime(1900, 1, 1)).date()
        return d if d.year > 1900 else None
    except (ValueError, OverflowError, TypeError):
        return None


def week_label(title: str, d: date | None) -> str:
    """'7월 1주차' from the title when present, else the ISO week of the date ('2020-W26'), else ''."""
    m = _WEEK_RE.search(title or "")
    if m:
        return f"{int(m.group(1))}월 {int(m.group(2))}주차"
    if d is not None:
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    return ""


MAX_LIST_ITEMS = 100


def _scalar(value) -> str:
    """A front-matter value as clean text if it is a scalar; a mapping or list (or a YAML alias bomb) gives ''.
    YAML escapes can smuggle in control characters and lone surrogates ("\\ud800"), which would break the JSON
    writer and the model's tokenizer: they become spaces."""
    if isinstance(value, str | int | float | date):
        return _CONTROL_RE.sub(" ", str(value)[:1000])
    return ""


def _as_list(value, depth: int = 0) -> list[str]:
    """Tags/categories as a flat list of short strings: 'a, b', [a, [b, c]], ... (bounded, so a hostile YAML alias
    nest cannot blow up)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = _scalar(value)
        parts = re.split(r"[,\n]", value) if "," in value or "\n" in value else [value]
        return [p.strip()[:100] for p in parts if p.strip()][:MAX_LIST_ITEMS]
    if isinstance(value, list | tuple | set):
        out: list[str] = []
        for v in list(value)[:MAX_LIST_ITEMS]:
            if isinstance(v, list | tuple):
                out.extend(_as_list(v, depth + 1) if depth < 2 else [])
            elif _scalar(v).strip():
                out.append(_scalar(v).strip()[:100])
            if len(out) >= MAX_LIST_ITEMS:
                break
        return [v for v in dict.fromkeys(out) if v][:MAX_LIST_ITEMS]
    return [_scalar(value).strip()[:100]] if _scalar(value).strip() else []


def _title_from_body(body: str) -> str:
    for line in body.split("\n"):
        m = re.match(r"^#{1,2}\s+(.+)$", line.strip())
        if m and "목차" not in m.group(1):
            title = plain_inline(m.group(1))
            if title:
                return title
    return ""


def post_file_hash(path: Path) -> str:
    """The content hash kb records for a post file: sha256 of its bytes (= Post.content_hash), or for a file over
    MAX_POST_BYTES, which is never indexed, a fingerprint of size, mtime and first MB (kb.core.safeio.fingerprint).
    Raises OSError (NotRegularFile for a FIFO or device)."""
    return safeio.fingerprint(path, MAX_POST_BYTES)


def content_state(content_dir: Path) -> dict[str, str]:
    """{post file: post_file_hash} for every candidate post file ('' when unreadable), and for every refused name
    (a FIFO, a link outside) 'refused: <reason>' — what a build records, so `kb.index` and the app's freshness check
    notice any change, a new FIFO included, by hashing each file once in bounded memory."""
    files, refused = find_post_files(content_dir)
    out = {rel: f"refused: {reason}" for rel, reason in refused}
    for pf in files:
        try:
            out[pf.rel] = post_file_hash(pf.path)
        except OSError:
            out[pf.rel] = ""
    return out


def read_post(pf: PostFile) -> Post:
    """Read and decode one post file into a Post (body still markdown). Raises BadPost with the reason."""
    name = pf.rel
    try:
        raw = safeio.read_bytes(pf.path, MAX_POST_BYTES)
    except safeio.FileTooLarge as err:
        raise BadPost(f"{name}: too large ({err.size // (1024 * 1024)} MB > {MAX_POST_BYTES // (1024 * 1024)} MB)") \
            from None
    except OSError as err:
        raise BadPost(f"{name}: cannot read ({err.strerror or err})") from None
    text = decode_post(raw, name)
    meta, body = split_front_matter(text, name)
    stem = " ".join(Path(name).stem.split())
    title = plain_inline(_scalar(meta.get("title")).strip()) or _title_from_body(body) or stem
    d = parse_date(_scalar(meta.get("date"))) or parse_date(stem) or parse_date(title)
    return Post(
        path=name,
        title=title,
        date=d,
        week=week_label(title, d),
        categories=_as_list(meta.get("categories") or meta.get("category")),
        tags=_as_list(meta.get("tags") or meta.get("tag")),
        intro="",
        toc=[],
        body=body,
        content_hash=hashlib.sha256(raw).hexdigest(),
    )
