"""Milvus connections: URIs checked before anything is created, one client per URI and process, pymilvus kept
quiet during kb's calls, every pymilvus failure turned into one line, and collections loaded again after a server
restart released them."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from kb.core.errors import BadQuery, IndexMismatch, KbError

REMOTE = ("http://", "https://", "tcp://", "unix:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
_CLIENTS: dict[str, object] = {}


class BackendUnavailable(KbError):
    """pymilvus is not installed, the Milvus server cannot be reached, or it refused a call."""


def check_uri(uri: str) -> tuple[str, bool]:
    """(the URI, whether it names a server): http(s)://host:port, tcp://host:port, unix:path, or a local path ending
    in .db (embedded milvus-lite). Anything else — `file:`, another scheme, a bare name — is refused here, before
    pymilvus or kb creates a file for it."""
    uri = str(uri or "").strip()
    if not uri:
        raise BadQuery("no Milvus URI; pass --milvus-uri http://host:port (or a local path ending in .db)")
    shown = uri[:80]
    if uri.startswith(REMOTE):
        if uri.startswith("unix:"):
            if len(uri) > len("unix:"):
                return uri, True
        else:
            try:
                parts = urlsplit(uri)
                if parts.hostname and (parts.port or 0) >= 0:       # .port raises ValueError for a bad port
                    return uri, True
            except ValueError:
                pass
        raise BadQuery(f"Milvus URI '{shown}' is malformed; use http://host:port")
    if _SCHEME.match(uri) or not uri.endswith(".db") or Path(uri).name == ".db":
        raise BadQuery(f"Milvus URI '{shown}' is neither http://host:port nor a local file ending in .db")
    return uri, False


def connect(uri: str):
    """A MilvusClient for `uri` (a local `.db` path: embedded milvus-lite; http(s)://host:port: a server), one per
    URI and process (clients are thread-safe and reconnect by themselves; an embedded file can be opened once)."""
    uri, remote = check_uri(uri)
    if uri not in _CLIENTS:
        with milvus_calls(uri):
            _CLIENTS[uri] = _new_client(uri, remote)
    return _CLIENTS[uri]


def _new_client(uri: str, remote: bool):
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise BackendUnavailable("the Milvus backend needs pymilvus and milvus-lite: pip install -e '.[milvus]'") \
            from None
    if not remote:
        Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
        if _held_elsewhere(Path(uri).expanduser() / "LOCK"):
            raise BackendUnavailable(f"the embedded Milvus file {uri[:120]} is open in another process; serve it with "
                                     "`milvus-lite server --data-dir DIR --port P` and use --milvus-uri "
                                     "http://127.0.0.1:P")
    try:
        # pymilvus pings every 10 s even when idle; a gRPC server with default settings (milvus-lite's) answers
        # GOAWAY "too_many_pings" during long calls. Ping rarely: a real cluster's load balancer keeps its own.
        return MilvusClient(uri=uri if remote else str(Path(uri).expanduser()), timeout=60,
                            grpc_options={"grpc.keepalive_time_ms": 600_000,
                                          "grpc.keepalive_permit_without_calls": False})
    except Exception as err:  # noqa: BLE001 - pymilvus raises several kinds; the user needs one line
        if not remote:
            raise BackendUnavailable(f"cannot open the embedded Milvus file {uri[:120]} (another process may hold it; "
                                     "serve it with `milvus-lite server --data-dir DIR --port P` and use "
                                     "--milvus-uri http://127.0.0.1:P)") from None
        raise BackendUnavailable(f"cannot reach Milvus at {uri[:120]} ({one_line(err)})") from None


def _held_elsewhere(lock: Path) -> bool:
    """True when another process holds milvus-lite's lock on an embedded data folder (asked before pymilvus tries,
    which would log a traceback first)."""
    if not lock.is_file():
        return False
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def one_line(err: Exception) -> str:
    msg = getattr(err, "message", None) or str(err)
    return " ".join(str(msg).split())[:200]


# ---- quiet, one-line failures ------------------------------------------------------------------------------------
_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: dict[str, bool] = {}


def _pymilvus_loggers() -> dict[str, logging.Logger]:
    """pymilvus's loggers: its own `pymilvus` and `pymilvus.milvus_client` handlers, and every module's logger."""
    return {name: lg for name, lg in list(logging.root.manager.loggerDict.items())
            if (name == "pymilvus" or name.startswith("pymilvus.")) and isinstance(lg, logging.Logger)}


@contextlib.contextmanager
def quiet():
    """pymilvus's loggers (its own console handlers: failures logged with a traceback, then raised) disabled while
    kb calls it; kb raises one line instead."""
    global _quiet_depth
    with contextlib.suppress(ImportError):
        import pymilvus  # noqa: F401 - its loggers exist from its import on; disable them before any call
    with _quiet_lock:
        for name, lg in _pymilvus_loggers().items():      # (also those imported since an outer quiet began)
            if name not in _quiet_saved:
                _quiet_saved[name] = lg.disabled
                lg.disabled = True
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for name, lg in _pymilvus_loggers().items():
                    lg.disabled = _quiet_saved.pop(name, lg.disabled)


def is_milvus_error(err: BaseException) -> bool:
    return type(err).__module__.split(".")[0] in ("pymilvus", "grpc")


@contextlib.contextmanager
def milvus_calls(uri: str):
    """Quiet pymilvus; a pymilvus or gRPC failure becomes BackendUnavailable naming the server, in one line."""
    with quiet():
        try:
            yield
        except Exception as err:
            if not is_milvus_error(err):
                raise
            raise BackendUnavailable(f"Milvus at {str(uri)[:120]} failed: {one_line(err)}") from None


# Pauses before trying a call again while the server does not answer (a restarted milvus-lite server took ~1 s to
# accept calls after its port opened, tests/test_milvus_recovery.py); a server that stays down fails after 3.5 s.
RETRY_WAITS = (0.5, 1.0, 2.0)


def call_retrying(client, uri: str, collections: list[str], op):
    """op(client) inside milvus_calls. A failed call is tried again after loading `collections` (a restarted server
    holds them released) and, while the server does not answer, after each of RETRY_WAITS; what still fails is
    one line (BackendUnavailable)."""
    with milvus_calls(uri):
        for wait in (*RETRY_WAITS, None):
            try:
                return op(client)
            except Exception as err:
                if not is_milvus_error(err) or wait is None:
                    raise
                if not is_released(err):
                    time.sleep(wait)
                with contextlib.suppress(Exception):       # the next try says what is wrong
                    for c in collections:
                        ensure_loaded(client, c)
    raise AssertionError("unreachable")


def is_released(err: BaseException) -> bool:
    """A call refused because the collection is not loaded (a restarted server loads nothing by itself)."""
    text = one_line(err).lower()
    return is_milvus_error(err) and ("released" in text or "not loaded" in text or "load()" in text)


# ---- names and collections ---------------------------------------------------------------------------------------
def check_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise BadQuery(f"Milvus collection name '{str(name)[:60]}' must be letters, digits and _ (not starting "
                       "with a digit)")
    return name


def live_collection(client, name: str) -> str | None:
    """The physical collection the alias `name` points at (None: no kb collection of that name)."""
    aliases = client.list_aliases().get("aliases", [])
    if name in aliases:
        return client.describe_alias(name)["collection_name"]
    if client.has_collection(name):
        raise IndexMismatch(f"the Milvus collection '{name}' was not made by kb; pick another --milvus-collection")
    return None


def ensure_loaded(client, collection: str) -> None:
    state = str(client.get_load_state(collection).get("state", ""))
    if "Loaded" not in state or "NotLoad" in state:
        client.load_collection(collection)
