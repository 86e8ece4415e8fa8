"""One page draw of the app: the page frame (navigation row) first, then the index, the content check, a pending
correction, and the current view; every error as one line, never a traceback."""

from __future__ import annotations

import uuid

import streamlit as st

from kb.app import data as appdata
from kb.app import html as render
from kb.app.corrections import apply_fix
from kb.app.loading import get_index, get_topics, settings
from kb.app.pages import no_index, view_issues, view_resources, view_stats, view_topics
from kb.app.results import html
from kb.app.searchpage import search_page
from kb.app.urlstate import SEARCH_KEYS, VIEWS, esc, href, page_title, param
from kb.core.errors import KbError


def nav_items(view: str) -> list[tuple[str, str, bool]]:
    return [(href(view=v, topic=None) if v == "topics" else href(view=v), label, v == view)
            for v, label in VIEWS.items()]


def nav_keep(view: str) -> str:
    """What the page links carry over from the address bar: the search (query, mode, count, filters); the topic
    filter only from the search page (leaving a topic page drops its topic)."""
    return " ".join(SEARCH_KEYS + (("topic",) if view == "search" else ()))


def label_for(view: str, d=None) -> str:
    """What the page shows, for its title: the topic's label, the post's title."""
    if view == "topics" and param("topic"):
        ts = get_topics()
        t = ts.find(param("topic")) if ts is not None else None
        return t.label if t else ""
    if view == "issues" and param("post") and d is not None:
        p = d.post(param("post"))
        return p.title if p else ""
    return ""


def main() -> None:
    view = param("view", "search")
    known = view in VIEWS
    view_shown = view if known else "search"
    st.set_page_config(page_title=page_title(view_shown, label_for(view_shown)), page_icon=render.FAVICON,
                       layout="wide", initial_sidebar_state="collapsed")
    st.html(render.CSS)
    st.html(render.SCRIPT, unsafe_allow_javascript=True)
    html(render.nav(nav_items(view_shown), keep=nav_keep(view_shown)))
    if not known:
        st.warning(f"Unknown page {esc(view[:20])}; showing search.")
        view = "search"
    try:
        index, warm = get_index()
    except KbError as err:
        return no_index(err)
    d = appdata.derived(index)
    content_warning(index, view)
    apply_fix()
    if "flash" in st.session_state:
        st.success(st.session_state.pop("flash"))
    if view == "search":
        return search_page(index, warm, d)         # draws its own end marker: it can rerun alone
    if view == "topics":
        state = view_topics(index, warm, d)
    elif view == "issues":
        state = view_issues(index, d)
    elif view == "resources":
        state = view_resources(index, d)
    else:
        state = view_stats(index, d, appdata.content_changes(index, settings().content_dir, max_age=0))
    html(render.end_marker(uuid.uuid4().hex[:12], state, page_title(view, label_for(view, d))))


def content_warning(index, view: str) -> None:
    """Say at the top of every page when the content folder has changed since the build."""
    ch = appdata.content_changes(index, settings().content_dir, max_age=0 if view == "stats" else 60.0)
    if ch.changed or ch.missing_folder:
        msg = f"The content folder has changed: {ch.summary()}." if ch.changed else f"{ch.summary().capitalize()}."
        if view == "stats":
            st.warning(msg)
        else:
            st.warning(msg + " Rebuild the index on the Stats page to search the new posts.")


def run() -> None:
    """main(), with any error shown as one line."""
    try:
        main()
    except KbError as err:
        st.error(f"kb: {esc(str(err))}")
    except Exception as err:  # noqa: BLE001 - people see one line, never a traceback
        first = str(err).strip().split("\n")[0][:300]
        st.error(f"kb: unexpected error ({type(err).__name__}: {esc(first)})")
