"""Topic corrections made in the app: the links that ask for one, carrying one out, its Undo beside the card, and
the list of the corrections in the topics file.

A correction is a link (?fix=include|exclude|forget|undo&fixtopic=NAME&ref=URL-or-heading&tok=TOKEN). It is
carried out only when `tok` is this browser session's own token, which only pages this session drew contain: a
link, a frame or a form on another site opens a new session whose token it cannot know, so it changes nothing
(docs/security.md). KB_READ_ONLY=1 turns corrections off altogether.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

import streamlit as st

from kb import topics as kbtopics
from kb.app import html as render
from kb.app.loading import get_topics, settings
from kb.app.urlstate import current, href, param, set_params
from kb.core.errors import KbError, ReadOnly
from kb.topics import edit as topic_edit

FIX_KEYS = ("fix", "fixtopic", "ref", "tok", "fixid", "fixdone")
DONE = {"include": "Added to", "exclude": "Removed from", "forget": "Forgot the correction of"}


@dataclass
class Made:
    """A correction made in this session, with the topics file as it was before and after it (for its Undo)."""
    id: int
    kind: str                    # include | exclude | forget
    topic: str                   # the topic's name
    label: str                   # the topic's label, what people read
    ref: str
    before: bytes | None         # None: there was no topics file in the content folder
    after: bytes
    undone: bool = False
    dismissed: bool = False


def token() -> str:
    """This browser session's token for state-changing links."""
    if "kb_token" not in st.session_state:
        st.session_state["kb_token"] = secrets.token_urlsafe(18)
    return st.session_state["kb_token"]


def made() -> list[Made]:
    return st.session_state.setdefault("kb_made", [])


def fix_href(base: dict, kind: str, topic: str, ref: str = "", fixid: int | None = None) -> str:
    return href(base, fix=kind, fixtopic=topic, ref=ref or None, fixid=fixid, tok=token())


def can_correct() -> bool:
    return not settings().read_only and get_topics() is not None


def topic_fixes(hit, base: dict, a, only: str | None = None) -> tuple[list, list]:
    """(shown, folded) correction links for a card, by the topic assignment `a`: "Not in <label>" for each of its
    topics, shown; "Add to <label>" for the others, folded. On a topic page (`only`) just "Not in <that topic>".
    Neither when the app is read-only or the topics file is broken."""
    ts = get_topics()
    if not can_correct():
        return [], []
    ref = hit.url or hit.heading
    if only is not None:
        return [(fix_href(base, "exclude", only, ref), f"Not in {ts.get(only).label}")], []
    mine = {t.name for t in a.topics_of(hit.row)}
    return ([(fix_href(base, "exclude", t.name, ref), f"Not in {t.label}") for t in ts if t.name in mine],
            [(fix_href(base, "include", t.name, ref), f"Add to {t.label}") for t in ts if t.name not in mine])


def _file_bytes() -> bytes | None:
    path = topic_edit.target(settings().content_dir)
    return path.read_bytes() if path.is_file() else None


def _correct(kind: str, name: str, ref: str) -> Made:
    before = _file_bytes()
    kbtopics.correct(settings().content_dir, name, **{kind: [ref]}, read_only=settings().read_only)
    ts = get_topics()
    label = ts.get(name).label if ts is not None and ts.find(name) else name
    m = Made(len(made()) + 1, kind, name, label, ref, before, _file_bytes() or b"")
    made().append(m)
    return m


def _undo(m: Made) -> None:
    """Put the topics file back as it was before `m` if nobody changed it since; else forget what `m` said."""
    if settings().read_only:
        raise ReadOnly("topic corrections are off: kb runs read-only (KB_READ_ONLY is set)")
    path = topic_edit.target(settings().content_dir)
    with topic_edit.locked(path.parent):
        now = path.read_bytes() if path.is_file() else None
        if now == m.after:
            if m.before is None:
                path.unlink()
            else:
                topic_edit.write_atomic(path, m.before.decode("utf-8"))
            m.undone = True
            return
    kbtopics.correct(settings().content_dir, m.topic, forget=[m.ref], read_only=settings().read_only)
    m.undone = True


def apply_fix() -> None:
    """Carry out a correction link of this session once (or dismiss a note), then drop it from the URL."""
    st.session_state.pop("kb_focus_fix", None)
    kind, name, ref, tok, fixid, done = (param(k) for k in FIX_KEYS)
    if not (kind or done):
        return
    set_params(**dict.fromkeys(FIX_KEYS))
    for m in made():
        if done and str(m.id) == done:
            m.dismissed = True
    if not kind:
        return
    if not hmac.compare_digest(tok.encode(), token().encode()):
        st.warning("kb did not change the topics: that correction link was not made on this page (it came from "
                   "another site, or an old tab). Use the correction links on the page.")
        return
    try:
        if kind == "undo":
            m = next((m for m in made() if str(m.id) == fixid and not m.undone), None)
            if m is not None:
                _undo(m)
                st.session_state["kb_focus_fix"] = m.id
        elif kind in DONE and name and ref:
            st.session_state["kb_focus_fix"] = _correct(kind, name, ref).id
    except KbError as err:
        st.warning(str(err))


def note_for(hit, base: dict) -> str:
    """The note beside a card about the latest correction of it made in this session, with its Undo (or, once
    undone, that it was), which stays until dismissed."""
    ref = hit.url or hit.heading
    m = next((m for m in reversed(made()) if m.ref == ref and not m.dismissed), None)
    if m is None:
        return ""
    focus = st.session_state.get("kb_focus_fix") == m.id
    dismiss = render.go_link(href(base, fixdone=m.id), "Dismiss", "kb-act", stay=True, focus=focus and m.undone)
    if m.undone:
        said = f"<span>Undone: {DONE[m.kind].lower()} <b>{render.text(m.label)}</b> is taken back.</span>"
        return f'<div class="kb-undo" role="status">{said} {dismiss}</div>'
    undo = render.go_link(fix_href(base, "undo", m.topic, fixid=m.id), "Undo", "kb-act kb-undo-act", stay=True,
                          focus=focus, aria=f"Undo: {DONE[m.kind].lower()} {m.label}")
    return (f'<div class="kb-undo" role="status"><span>{DONE[m.kind]} <b>{render.text(m.label)}</b>.</span> {undo} '
            f"{dismiss}</div>")


def removed_here(index, topic: str) -> list[int]:
    """Rows taken out of `topic` in this session and not undone: its page keeps them in place, with their Undo."""
    rows: set[int] = set()
    for m in made():
        if m.topic == topic and m.kind == "exclude" and not m.undone and not m.dismissed:
            rows.update(kbtopics.matching_rows(index, m.ref))
    return sorted(rows)


def corrections_list(ts, only: str | None = None) -> str:
    """The corrections in the topics file (of one topic, or all), each with an Undo that forgets it."""
    if ts is None:
        return ""
    base = current()
    items = []
    for t in ts:
        if only is not None and t.name != only:
            continue
        for kind, refs in (("Added to", t.include), ("Removed from", t.exclude)):
            for ref in refs:
                undo = (render.go_link(fix_href(base, "forget", t.name, ref), "Undo", "kb-act", stay=True)
                        if can_correct() else "")
                items.append(f"<li>{kind} <b>{render.text(t.label)}</b>: {render.text(ref[:200])} {undo}</li>")
    if not items:
        return '<div class="kb-meta">No corrections yet.</div>'
    return f'<ul class="kb-made">{"".join(items)}</ul>'
