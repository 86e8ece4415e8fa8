"""The page frame, drawn before anything heavy is imported or loaded: the page's settings (title, favicon,
layout), the styles, the app's script and the navigation row. It imports only the URL state and the HTML
helpers, so a fresh server shows it while the rest of the app (the index, numpy, the topics) is still loading."""

from __future__ import annotations

import streamlit as st

from kb.app import html as render
from kb.app.urlstate import SEARCH_KEYS, VIEWS, href, page_title, param


def nav_items(view: str) -> list[tuple[str, str, bool]]:
    return [(href(view=v, topic=None) if v == "topics" else href(view=v), label, v == view)
            for v, label in VIEWS.items()]


def nav_keep(view: str) -> str:
    """What the page links carry over from the address bar: the search (query, mode, count, filters); the topic
    filter only from the search page (leaving a topic page drops its topic)."""
    return " ".join(SEARCH_KEYS + (("topic",) if view == "search" else ()))


def draw_frame() -> str:
    """Draw the frame; returns the view asked for in the URL (which may be unknown). The title names the view
    (and the query); the page's end marker gives the full one (a topic's label, a post's title) once drawn."""
    view = param("view", "search")
    shown = view if view in VIEWS else "search"
    st.set_page_config(page_title=page_title(shown), page_icon=render.FAVICON, layout="wide",
                       initial_sidebar_state="collapsed")
    st.html(render.CSS)
    st.html(render.SCRIPT, unsafe_allow_javascript=True)
    st.html(render.nav(nav_items(shown), keep=nav_keep(shown)))
    return view
