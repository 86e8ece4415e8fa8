"""Text for a terminal: the one helper every string from disk or from the user goes through before it is printed."""

from __future__ import annotations


def line(s, exact: bool = False) -> str:
    """Untrusted text as one terminal line. Every control or formatting character (ESC, C1 controls such as CSI,
    bidi overrides, lone surrogates) is shown escaped (\\x1b, \\u202e), so a post, a file name, a topics file or a
    path cannot recolour, retitle or rewrite the user's terminal. Tabs and line breaks become spaces in text
    (exact=False); for names and paths (exact=True) they are escaped too (\\n), since a space would hide what is
    really on disk."""
    text = "" if s is None else str(s)
    return "".join(ch if ch.isprintable() else " " if not exact and ch in "\t\n\r" else repr(ch)[1:-1]
                   for ch in text)
