"""What every entry point shares: stream set-up, one argument parser whose errors are one line, the `-k` type,
and turning kb errors (and any other failure) into one line on stderr."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from kb.cli.term import line
from kb.core.config import BACKENDS, Settings
from kb.core.errors import KbError


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error ('kb: argument -k: k must be at least 1 (see … --help)'), exit 2."""

    def error(self, message: str):
        print(f"kb: {line(message, exact=True)} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def k_value(text: str) -> int:
    """The argparse type of every `-k`: a whole number of at least 1."""
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"k must be a whole number, not '{text[:20]}'") from None
    if k < 1:
        raise argparse.ArgumentTypeError("k must be at least 1")
    return k


def add_backend_args(p: argparse.ArgumentParser) -> None:
    """--backend, --milvus-uri and --milvus-collection (environment: KB_BACKEND, KB_MILVUS_URI, KB_MILVUS_COLLECTION)."""
    p.add_argument("--backend", choices=BACKENDS, help="where the index lives: local (the index folder; default: "
                   "$KB_BACKEND or local) or milvus (a collection at --milvus-uri)")
    p.add_argument("--milvus-uri", metavar="URI", help="Milvus server http://host:port, or a local file ending in .db "
                   "for embedded milvus-lite (default: $KB_MILVUS_URI); implies --backend milvus")
    p.add_argument("--milvus-collection", metavar="NAME", help="Milvus collection (alias) name (default: "
                   "$KB_MILVUS_COLLECTION or kb)")


def backend_settings(args: argparse.Namespace, content_dir=None, index_dir=None, model=None) -> Settings:
    """Settings from the flags of add_backend_args (and the given paths), checked: BadQuery names what is wrong."""
    backend = args.backend or ("milvus" if args.milvus_uri else None)
    return Settings.load(content_dir, index_dir, model, backend, args.milvus_uri, args.milvus_collection).checked()


def setup_streams() -> None:
    """Make stdin/stdout/stderr safe to use whatever the caller left us. A closed descriptor (`>&-`) is pointed at
    /dev/null first — else the next file kb opens would take fd 1 and anything printed would land in the index —
    and Python's missing sys.stdout/sys.stderr get a /dev/null stream. Text that cannot be encoded is written with
    backslash escapes rather than raising."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:                      # a lower descriptor was free after all: put it where it belongs
                os.dup2(null, fd)
                os.close(null)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process
        else:
            try:
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, ValueError, OSError):
                pass


class _TerminalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return line(super().format(record), exact=True)


def setup_logging() -> None:
    """Warnings from the library (e.g. 'previous index unusable (…path…)') reach stderr as one escaped line each,
    as Python's last-resort handler would print them, but through kb.cli.term.line. Does nothing if the caller
    configured logging."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(_TerminalFormatter("%(message)s"))
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)


def run(main: Callable[[], int]) -> None:
    """Run an entry point: KbError → 'kb: <message>' exit 1; Ctrl-C → exit 130; anything else → one line, exit 2.
    Every message is passed through kb.cli.term.line (paths and names in it may come from disk)."""
    setup_streams()
    setup_logging()
    try:
        code = main()
    except KbError as err:
        print(f"kb: {line(err, exact=True)}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("kb: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as err:  # noqa: BLE001 - users see one line, never a traceback
        msg = str(err).strip().split("\n")[0][:300]
        print(f"kb: unexpected error ({type(err).__name__}: {line(msg, exact=True)}); set KB_DEBUG=1 for details",
              file=sys.stderr)
        if os.environ.get("KB_DEBUG"):
            raise
        code = 2
    _flush_quietly()
    sys.exit(code)


def _flush_quietly() -> None:
    """Flush stdout now, so a reader that went away (`| head`) costs no 'Exception ignored' message at exit."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
