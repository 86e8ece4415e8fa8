"""Text for a terminal: untrusted strings made visible on one line, and ranked hits as a compact list."""

from __future__ import annotations

from collections.abc import Sequence

from kb.types import Hit


def visible(s) -> str:
    """Untrusted text for a terminal: one line, and no control or formatting character (an escape sequence in a
    post, a topics file or a path could otherwise recolour, retitle or rewrite the user's terminal) — those are
    shown as \\x1b etc."""
    return "".join(ch if ch.isprintable() else " " if ch in "\t\n\r" else repr(ch)[1:-1] for ch in str(s or ""))


def visible_name(s) -> str:
    """A file name or path for a terminal: like `visible`, but a line break is shown as \\n too (it is part of
    the name)."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(s or ""))


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
        parts.append(f"{leg} {value:.3f}" + (f" (#{rank})" if rank else ""))
    return "  ".join(parts)


def format_hits(title: str, hits: Sequence[Hit], explain: bool = False, empty_hint: str = "") -> str:
    """'# title — N results' then one numbered block per hit: heading, post and week, link, snippet."""
    lines = [f"# {visible(title)} — {len(hits)} result{'s' if len(hits) != 1 else ''}"]
    for i, h in enumerate(hits, 1):
        lines.append(f"{i:2d}. {visible(h.heading)}  ·  {visible(h.post_title)} ({_when(h)})")
        if h.url:
            lines.append(f"    {visible(h.url)}")
        if h.snippet:
            lines.append(f"    {visible(h.snippet)}")
        if explain:
            lines.append(f"    [{visible(h.path)}#{h.position}]  {explain_line(h)}")
    if not hits:
        lines.append(f"    no results{f' ({empty_hint})' if empty_hint else ''}")
    return "\n".join(lines)
