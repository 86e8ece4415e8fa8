"""Writing the topics file safely: where a correction may be written (`topics.toml` directly in the content folder,
never a symlink or a path that leads elsewhere), a bounded wait for the folder's lock, an in-place edit of one
table's lists that keeps the file's comments and layout and is checked by parsing the whole document again, and an
atomic replace that leaves no temporary file behind. kb.topics.correct uses these; it is the API to call."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import time
import tomllib
from pathlib import Path

from kb.core.errors import BadTopics

MAX_REF_CHARS = 500
TOPICS_FILE = "topics.toml"
LOCK_WAIT_SECONDS = 20.0           # a correction waits this long for another one (the app's, a command's) to finish


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
def locked(folder: Path, wait: float = LOCK_WAIT_SECONDS):
    """Hold an exclusive lock on the content folder itself (no lock file is created) while a correction reads,
    edits and replaces the topics file, so two corrections at once cannot lose one another's edit. Waits up to
    `wait` seconds for another correction to finish, then raises BadTopics."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BadTopics(f"another correction has held {folder / TOPICS_FILE} for over {wait:.0f} s; "
                                    "try again") from None
                time.sleep(0.02)
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
# What can hide a line break or a bracket: strings (multi-line first), comments, brackets, line breaks.
_TOKEN_RE = re.compile(r'"""(?:\\.|[^\\])*?"""(?!")|"""(?:\\.|[^\\])*?""""{0,2}|\'\'\'.*?\'\'\'\'{0,2}'
                       r'|"(?:\\.|[^"\\\n])*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}]|\n', re.S)


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(_toml_str(s) for s in items) + "]"


def _line_starts(text: str) -> set[int]:
    """Where the lines begin that start outside every string, comment, array and inline table: the only places a
    table header or a key of the table can be (a `[nlp]` line inside a multi-line string is not a header)."""
    out, depth = {0}, 0
    for m in _TOKEN_RE.finditer(text):
        tok = m.group()
        if tok == "\n":
            if depth == 0:
                out.add(m.end())
        elif tok in "[{":
            depth += 1
        elif tok in "]}":
            depth = max(0, depth - 1)
    return out


def _table_span(text: str, name: str, starts: set[int]) -> tuple[int, int]:
    """(start, end) of the body of table [name]: from the end of its header line to the next table header."""
    headers = [m for m in _HEADER_RE.finditer(text) if m.start() in starts]
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
    starts = _line_starts(text)
    start, end = _table_span(text, table, starts)
    rx = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=[ \t]*", re.M)
    m = next((m for m in rx.finditer(text, start, end) if m.start() in starts), None)
    body = text[start:end]
    line = f"{key} = {toml_list(items)}" if items else ""
    if m:
        m_start, m_end = m.start() - start, m.end() - start
        vend = _value_end(body, m_end)
        after = vend
        nl = body.find("\n", vend)
        tail = body[vend: nl if nl >= 0 else len(body)]
        if tail.strip().startswith("#") or not tail.strip():
            after = vend + len(tail)
        new_body = body[:m_start] + line + body[after:]
        if not line and new_body[m_start:m_start + 1] == "\n":
            new_body = new_body[:m_start] + new_body[m_start + 1:]
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


def set_lists(text: str, table: str, lists: dict[str, list[str]]) -> str:
    """set_list for each key, checked with a real TOML parser: the whole edited document must parse to the
    original one with exactly those lists changed (an empty list: the key removed). BadTopics otherwise, naming
    what to add by hand."""
    want = tomllib.loads(text)
    new = text
    for key, items in lists.items():
        new = set_list(new, table, key, items)
        if items:
            want[table][key] = list(items)
        else:
            want[table].pop(key, None)
    try:
        ok = tomllib.loads(new) == want
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        by_hand = ", ".join(f"{k} = {toml_list(v)}" for k, v in lists.items())
        raise BadTopics(f"could not edit the topics file safely; add to [{table}] by hand: {by_hand}")
    return new


def write_atomic(path: Path, text: str) -> None:
    """Write next to the target, fsync, then os.replace (never a half-written file, no temporary file left)."""
    data = text.encode("utf-8")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".topics-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.is_symlink():                     # appeared since target() checked: do not follow it
            raise BadTopics(f"{path} became a symlink; corrections are not written through links")
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        raise BadTopics(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
