"""What every entry point shares: argument types, and turning kb errors (and any other failure) into one line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from kb.config import BACKENDS, Settings
from kb.errors import KbError
from kb.term import visible


class Parser(argparse.ArgumentParser):
    """argparse with kb's error style: a usage mistake is one line on stderr ('kb: …'), exit 2."""

    def error(self, message: str):
        _say(f"kb: {visible(message)} (see {self.prog} --help)")
        sys.exit(2)


def k_value(text: str) -> int:
    """argparse type for -k: a whole number of at least 1 (kb caps it at 1000)."""
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"k must be a whole number, not '{text[:20]}'") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"k must be at least 1 (got {k})")
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


def _streams() -> None:
    """Never fail on output encoding (a terminal or pipe that is not UTF-8 gets escapes)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):   # a closed or replaced stream
            pass


def run(main: Callable[[], int]) -> None:
    """Run an entry point: KbError → 'kb: <message>' exit 1; Ctrl-C → exit 130; anything else → one line, exit 2."""
    _streams()
    try:
        code = main()
    except KbError as err:
        _say(f"kb: {err}")
        code = 1
    except KeyboardInterrupt:
        _say("kb: interrupted")
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as err:  # noqa: BLE001 - users see one line, never a traceback
        if os.environ.get("KB_DEBUG"):
            raise
        msg = str(err).strip().split("\n")[0][:300]
        _say(f"kb: unexpected error ({type(err).__name__}: {msg}); set KB_DEBUG=1 for details")
        code = 2
    sys.exit(code)


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr)
    except (OSError, ValueError, AttributeError):      # stderr closed too: the exit code must do
        pass
