"""Writing the topics file safely: where a correction may be written (`topics.toml` directly in the content folder,
never a symlink or a path that leads elsewhere), an in-place edit of one key of one table that keeps the file's
comments and layout, and an atomic replace. kb.topics.correct uses these; it is the API to call."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from pathlib import Path

from kb.core.errors import BadTopics

MAX_REF_CHARS = 500
TOPICS_FILE = "topics.toml"


def target(content_dir) -> Path:
    """The topics file to write: `topics.toml` directly in the content folder. Refuses a content folder that does
    not exist, a topics file that is a symlink or not a regular file, and any path that resolves outside it."""
    if content_dir is None or str(content_dir) == "":
        raise BadTopics("corrections need a content folder (set KB_CONTENT_DIR or pass --content)")
    folder = Path(content_dir)
    if not folder.is_dir():
        raise BadTopics(f"the content folder {folder} does not exist; corrections are written to topics.toml there")
    root = folder.resolve()
    path = folder / TOPICS_FILE
    if path.is_symlink():
        raise BadTopics(f"{path} is a symlink; kb writes corrections only to a regular file inside the content "
                        "folder (replace the link with a copy)")
    if path.exists() and not path.is_file():
        raise BadTopics(f"{path} is not a regular file; remove it or rename it")
    if path.resolve().parent != root:
        raise BadTopics(f"{path} resolves outside the content folder {root}; corrections are not written there")
    return path


@contextlib.contextmanager
def locked(folder: Path):
    """Hold an exclusive lock on the content folder itself (no lock file is created) while a correction reads,
    edits and replaces the topics file, so two corrections at once cannot lose one another's edit."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def clean_refs(refs, what: str) -> list[str]:
    if refs is None:
        return []
    if isinstance(refs, str):
        refs = [refs]
    out: list[str] = []
    for r in refs:
        if not isinstance(r, str):
            raise BadTopics(f"{what}: a section is named by its heading or URL (a string), not {type(r).__name__}")
        r = re.sub(r"[\x00-\x1f\x7f]+", " ", r).strip()
        if not r:
            raise BadTopics(f"{what}: an empty heading or URL names no section")
        if len(r) > MAX_REF_CHARS:
            raise BadTopics(f"{what}: a heading or URL longer than {MAX_REF_CHARS} characters")
        if r not in out:
            out.append(r)
    return out


# ---- editing the TOML text in place (comments and layout are kept) --------------------------------------------

_HEADER_RE = re.compile(r"^[ \t]*\[([^\[\]\n]+)\][ \t]*(?:#.*)?$", re.M)


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(_toml_str(s) for s in items) + "]"


def _table_span(text: str, name: str) -> tuple[int, int]:
    """(start, end) of the body of table [name]: from the end of its header line to the next table header."""
    headers = list(_HEADER_RE.finditer(text))
    for i, m in enumerate(headers):
        if m.group(1).strip().strip('"\'') == name:
            end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
            return m.end(), end
    raise BadTopics(f"topic [{name}] not found in the topics file")


def _value_end(text: str, i: int) -> int:
    """Index just past the TOML value starting at text[i] (a string, an array, or a bare value up to the line end)."""
    depth, quote = 0, ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        elif c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == "\n" and depth == 0:
            return i
        i += 1
    return i


def set_list(text: str, table: str, key: str, items: list[str]) -> str:
    """The TOML text with `key = [items]` in [table] (replacing an existing assignment; removed when items is
    empty); everything else is left as it was."""
    start, end = _table_span(text, table)
    body = text[start:end]
    m = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=[ \t]*", body, re.M)
    line = f"{key} = {toml_list(items)}" if items else ""
    if m:
        vend = _value_end(body, m.end())
        after = vend
        nl = body.find("\n", vend)
        tail = body[vend: nl if nl >= 0 else len(body)]
        if tail.strip().startswith("#") or not tail.strip():
            after = vend + len(tail)
        new_body = body[:m.start()] + line + body[after:]
        if not line and new_body[m.start():m.start() + 1] == "\n":
            new_body = new_body[:m.start()] + new_body[m.start() + 1:]
    else:
        if not items:
            return text
        stripped = body.rstrip("\n")
        new_body = stripped + "\n" + line + "\n" + body[len(stripped):].lstrip("\n")
        if not body[len(stripped):]:
            new_body = stripped + "\n" + line + "\n"
        elif not new_body.endswith("\n\n") and end < len(text):
            new_body = new_body.rstrip("\n") + "\n\n"
    return text[:start] + new_body + text[end:]


def write_atomic(path: Path, text: str) -> None:
    """Write next to the target, fsync, then os.replace (never a half-written file)."""
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".topics-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.is_symlink():                     # appeared since target() checked: do not follow it
            raise BadTopics(f"{path} became a symlink; corrections are not written through links")
        os.replace(tmp, path)
    except OSError as err:
        raise BadTopics(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
