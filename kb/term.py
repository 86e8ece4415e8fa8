"""Text for a terminal: the one helper every string from disk or from the user goes through before it is printed."""

from __future__ import annotations


def line(s) -> str:
    """Untrusted text as one terminal line: tabs and line breaks become spaces; every other control or formatting
    character (ESC, C1 controls such as CSI, bidi overrides, lone surrogates) is shown escaped (\\x1b, \\u202e), so a
    post, a file name, a topics file or a path cannot recolour, retitle or rewrite the user's terminal."""
    return "".join(ch if ch.isprintable() else " " if ch in "\t\n\r" else repr(ch)[1:-1] for ch in ("" if s is None else str(s)))
