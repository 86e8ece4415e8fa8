"""One page draw of the app below its frame (kb.app.frame): the index, the content check, a pending
correction, and the current view; every error as one line, never a traceback."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import streamlit as st

from kb.app import data as appdata
from kb.app import html as render
from kb.app.corrections import apply_fix
from kb.app.loading import get_index, get_topics, settings
from kb.app.pages import no_index, view_issues, view_resources, view_stats, view_topics
from kb.app.results import html
from kb.app.searchpage import search_page
from kb.app.urlstate import VIEWS, esc, page_title, param
from kb.core.errors import KbError


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


def main(view: str) -> None:
    """Everything below the frame (kb.app.frame.draw_frame drew it and read `view` from the URL)."""
    if view not in VIEWS:
        st.warning(f"Unknown page {esc(view[:20])}; showing search.")
        view = "search"
    try:
        index, warm = get_index()
    except KbError as err:
        return no_index(err)
    d = appdata.derived(index)
    warned = content_warning(index, view)
    apply_fix()
    if "flash" in st.session_state:
        st.success(st.session_state.pop("flash"))
    if view == "search":
        search_page(index, warm, d)                # draws its own end marker: it can rerun alone
        return warned()
    if view == "topics":
        state = view_topics(index, warm, d)
    elif view == "issues":
        state = view_issues(index, d)
    elif view == "resources":
        state = view_resources(index, d)
    else:
        state = view_stats(index, d, appdata.content_changes(index, settings().content_dir, max_age=0))
    warned()
    html(render.end_marker(uuid.uuid4().hex[:12], state, page_title(view, label_for(view, d))))


def content_warning(index, view: str) -> Callable[[], None]:
    """Say at the top of every page when the content folder has changed since the build. Off the Stats page the
    folder is checked in a thread while the page draws (the first check of an index version lists and hashes every
    post: 0.7 s at 10,000 posts); the returned function waits for it and fills in the warning, at the top."""
    if view == "stats":
        _warn(appdata.content_changes(index, settings().content_dir, max_age=0), st, view)
        return lambda: None
    slot, got = st.empty(), {}

    def check() -> None:
        try:
            got["changes"] = appdata.content_changes(index, settings().content_dir, max_age=60.0)
        except Exception as err:  # noqa: BLE001 - raised on the page's thread by the function returned
            got["error"] = err

    worker = threading.Thread(target=check, name="kb-content-warning", daemon=True)
    worker.start()

    def finish() -> None:
        worker.join()
        if "error" in got:
            raise got["error"]
        _warn(got["changes"], slot, view)

    return finish


def _warn(ch, where, view: str) -> None:
    if ch.changed or ch.missing_folder:
        msg = f"The content folder has changed: {ch.summary()}." if ch.changed else f"{ch.summary().capitalize()}."
        where.warning(msg if view == "stats" else msg + " Rebuild the index on the Stats page to search the new posts.")


def run(view: str) -> None:
    """main(view), with any error shown as one line."""
    try:
        main(view)
    except KbError as err:
        st.error(f"kb: {esc(str(err))}")
    except Exception as err:  # noqa: BLE001 - people see one line, never a traceback
        first = str(err).strip().split("\n")[0][:300]
        st.error(f"kb: unexpected error ({type(err).__name__}: {esc(first)})")
