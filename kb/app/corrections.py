"""Topic corrections made in the app: the links that carry them (?fix=include|exclude|forget&fixtopic=NAME&ref=…)
and carrying one out."""

from __future__ import annotations

import streamlit as st

from kb import topics as kbtopics
from kb.app import html as render
from kb.app.loading import get_index, get_topics, settings
from kb.app.urlstate import current, href, param, set_params
from kb.core.errors import KbError


def topic_fixes(hit, base: dict, only: str | None = None) -> list[tuple[str, str]]:
    """Correction links for a card: "Not <topic>" for its topics, "Add to <topic>" for the others (only `only`'s
    "Not this topic" on a topic page). None when the app is read-only or the topics file is broken."""
    ts = get_topics()
    if settings().read_only or ts is None:
        return []
    ref = hit.url or hit.heading
    a = kbtopics.assign(get_index()[0], ts)
    mine = {t.name for t in a.topics_of(hit.row)}
    if only is not None:
        return [(href(base, fix="exclude", fixtopic=only, ref=ref), "Not this topic")]
    return ([(href(base, fix="exclude", fixtopic=t.name, ref=ref), f"Not {t.label}") for t in ts if t.name in mine]
            + [(href(base, fix="include", fixtopic=t.name, ref=ref), f"Add to {t.label}") for t in ts
               if t.name not in mine])


def apply_fix() -> None:
    """Carry out a correction link once, then drop it from the URL; say what changed, with an undo link."""
    kind, name, ref = param("fix"), param("fixtopic"), param("ref")
    if not kind:
        return
    set_params(fix=None, fixtopic=None, ref=None)
    if kind not in ("include", "exclude", "forget") or not name or not ref:
        return
    try:
        kbtopics.correct(settings().content_dir, name, **{kind: [ref]}, read_only=settings().read_only)
    except KbError as err:
        st.warning(str(err))
        return
    done = {"include": "Added to", "exclude": "Removed from", "forget": "Undid the correction of"}[kind]
    undo = "" if kind == "forget" else render.go_link(href(current(), fix="forget", fixtopic=name, ref=ref), "Undo")
    st.session_state["flash_html"] = (f'<div class="kb-meta">{done} topic <b>{render.text(name)}</b>: '
                                      f"{render.text(ref[:120])}. {undo}</div>")
