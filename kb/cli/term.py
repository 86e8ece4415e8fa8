"""Text for a terminal: untrusted strings made visible on one line, and ranked hits as a compact list."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kb.core.types import Hit


def line(s, exact: bool = False) -> str:
    """Untrusted text as one terminal line. Every control or formatting character (ESC, C1 controls such as CSI,
    bidi overrides, lone surrogates) is shown escaped (\\x1b, \\u202e), so a post, a file name, a topics file or a
    path cannot recolour, retitle or rewrite the user's terminal. Tabs and line breaks become spaces in text
    (exact=False); for names and paths (exact=True) they are escaped too (\\n), since a space would hide what is
    really on disk."""
    text = "" if s is None else str(s)
    return "".join(ch if ch.isprintable() else " " if not exact and ch in "\t\n\r" else repr(ch)[1:-1]
                   for ch in text)


def visible(s) -> str:
    """Text (a heading, a snippet, a label) for a terminal: `line(s)`."""
    return line(s)


def visible_name(s) -> str:
    """A file name or path for a terminal: `line(s, exact=True)`."""
    return line(s, exact=True)


def _when(h: Hit) -> str:
    week = visible(h.week)
    date = visible(h.date)
    if week and week in visible(h.post_title):
        week = ""
    return " · ".join(x for x in (week, date) if x) or "no date"


def explain_line(h: Hit) -> str:
    """Each leg's score (and rank), for --explain."""
    parts = []
    for leg, value in h.scores.items():
        rank = h.ranks.get(leg)
        shown = f"{int(value)}" if leg == "searched" else f"{value:.3f}"     # a count of sections
        parts.append(f"{leg} {shown}" + (f" (#{rank})" if rank else ""))
    return "  ".join(parts)


def _block(i: int, h: Hit, explain: bool, why: Callable[[Hit], list[str]] | None) -> list[str]:
    lines = [f"{i:2d}. {visible(h.heading)}  ·  {visible(h.post_title)} ({_when(h)})"]
    if h.url:
        lines.append(f"    {visible(h.url)}")
    if h.snippet:
        lines.append(f"    {visible(h.snippet)}")
    if explain:
        lines.extend(f"    why: {visible(x)}" for x in (why(h) if why else []))
        lines.append(f"    [{visible(h.path)}#{h.position}]  confidence {h.confidence:.2f}  {explain_line(h)}")
    return lines


def format_hits(title: str, hits: Sequence[Hit], explain: bool = False, empty_hint: str = "",
                why: Callable[[Hit], list[str]] | None = None, did_you_mean: str | None = None) -> str:
    """'# title — N results' (then 'Did you mean: …?' when the query had typos) then one numbered block per hit
    (heading, post and week, link, snippet); weak hits come last under a 'weak matches' line, and a query with no
    confident hit says 'no good match'."""
    strong = [h for h in hits if not h.weak]
    lines = [f"# {visible(title)} — {len(strong)} result{'s' if len(strong) != 1 else ''}"]
    if did_you_mean:
        lines.append(f"    Did you mean: {visible(did_you_mean)}?")
    for i, h in enumerate(strong, 1):
        lines += _block(i, h, explain, why)
    weak = [h for h in hits if h.weak]
    if not hits:
        lines.append(f"    no results{f' ({empty_hint})' if empty_hint else ''}")
    elif not strong:
        lines.append(f"    no good match{f' ({empty_hint})' if empty_hint else ''}")
    if weak:
        lines.append(f"-- weak matches: {len(weak)} (probably not what you are looking for) --")
        for i, h in enumerate(weak, len(strong) + 1):
            lines += _block(i, h, explain, why)
    return "\n".join(lines)
