"""What every entry point shares: turning kb errors (and any other failure) into one line on stderr."""

from __future__ import annotations

import sys
from collections.abc import Callable

from kb.errors import KbError


def run(main: Callable[[], int]) -> None:
    """Run an entry point: KbError → 'kb: <message>' exit 1; Ctrl-C → exit 130; anything else → one line, exit 2."""
    try:
        code = main()
    except KbError as err:
        print(f"kb: {err}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("kb: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as err:  # noqa: BLE001 - users see one line, never a traceback
        msg = str(err).strip().split("\n")[0][:300]
        print(f"kb: unexpected error ({type(err).__name__}: {msg}); set KB_DEBUG=1 for details", file=sys.stderr)
        import os

        if os.environ.get("KB_DEBUG"):
            raise
        code = 2
    sys.exit(code)
