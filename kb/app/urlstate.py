"""The app's state is the URL's query parameters: reading them, links to other states, widgets bound to them.

Every page can be shared and reopened (?q=트레이딩&mode=hybrid). Moving between pages is a plain link that makes
one browser-history entry (kb.app.html.SCRIPT), while a change of mode or filter replaces the current one.
"""

from __future__ import annotations

import hashlib
from datetime import date
from urllib.parse import urlencode

import streamlit as st

from kb.app import html as render

VIEWS = {"search": "Search", "topics": "Topics", "issues": "Issues", "resources": "Resources", "stats": "Stats"}
MODE_LABELS = {"hybrid": "Hybrid", "keyword": "Keyword", "semantic": "Meaning"}
DEFAULT_K = 10
MAX_K = 100
MAX_QUERY = 500          # characters of a query kept (searched, and in the URL) so every page link stays shareable
FILTERS = ("since", "until", "week", "tag", "cat", "topic")
SEARCH_KEYS = ("q", "mode", "k", "since", "until", "week", "tag", "cat")
P = st.query_params
esc = render.label     # anything from a post, the URL or the disk shown through a Markdown-rendering st.* call


def param(name: str, default: str = "") -> str:
    return P.get(name, default) or default


def current() -> dict[str, list[str]]:
    """The page's parameters now, every value as a list."""
    return {k: P.get_all(k) for k in P}


def _state(values: dict, base: dict | None = None) -> dict[str, list[str]]:
    """The parameters after applying `values` to `base` (default: the current ones). Empty values and defaults
    (mode=hybrid, k=10, view=search) are dropped."""
    out = current() if base is None else dict(base)
    for name, value in values.items():
        if isinstance(value, list | tuple):
            value = [str(v) for v in value if v not in (None, "")]
        elif value is not None:
            value = [str(value)]
        if not value or (name, value) in (("mode", ["hybrid"]), ("k", [str(DEFAULT_K)]), ("view", ["search"])):
            out.pop(name, None)
        else:
            out[name] = value
    return out


def _moved(values: dict, base: dict) -> dict:
    """Navigation: leave any sub-page (an open post, a more-like-this list, a page number, a resources filter)
    unless given; leaving the topics page drops its topic, so it does not silently become a search filter."""
    values = dict(values)
    for name in ("post", "sec", "more", "page", "rq"):
        values.setdefault(name, None)
    view_now = (base.get("view") or ["search"])[0]
    if view_now == "topics" and values.get("view", "topics") != "topics":
        values.setdefault("topic", None)
    return values


def href(base: dict | None = None, **values) -> str:
    """A link to the app in another state (navigation semantics, see _moved); `base` saves reading the current
    parameters again when drawing many links."""
    base = current() if base is None else base
    return "?" + urlencode(_state(_moved(values, base), base), doseq=True)


def set_params(**values) -> None:
    """Change parameters in place (a widget's value): one URL change."""
    P.from_dict(_state(values))


def _sync(name: str, key: str, out=None) -> None:
    value = st.session_state[key]
    set_params(**{name: out(value) if out else value})


def bind(widget, label: str, name: str, value, out=None, **kw):
    """A widget whose value lives in the URL: set from the parameter before drawing, written back on change."""
    key = f"w_{name}"
    st.session_state[key] = value
    return widget(label, key=key, on_change=_sync, args=(name, key, out), **kw)


def k_param() -> int:
    try:
        return max(1, min(int(param("k", str(DEFAULT_K))), MAX_K))
    except ValueError:
        return DEFAULT_K


def date_param(name: str) -> date | None:
    raw = param(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        st.warning(f"Ignoring {name}={esc(raw[:20])}: use YYYY-MM-DD.")
        return None


def cut_query(q: str) -> str:
    """At most MAX_QUERY characters, cut between words (a query that fills the box was probably cut mid-word by it)."""
    return q if len(q) < MAX_QUERY else render.cut(q, MAX_QUERY).rstrip("…").rstrip()


def typed_query() -> None:
    q = st.session_state["w_q"] or ""
    if len(q) >= MAX_QUERY:
        st.session_state["q_was"] = len(q)
    set_params(q=cut_query(q))


def query_param() -> str:
    """The query, at most MAX_QUERY characters: a longer one (in a link, or one that filled the search box) is cut
    between words and replaced in the URL, and the page says so."""
    q = param("q")
    was = st.session_state.pop("q_was", 0)
    if len(q) > MAX_QUERY:
        was, q = len(q), cut_query(q)
        P["q"] = q
    if was:
        said = f"Your query was {was:,} characters long; " if was > MAX_QUERY else ""
        st.warning(f"{said}kb searched its first {len(q)} characters. Queries are cut at {MAX_QUERY} characters so "
                   "that the link to this page stays short enough to share.")
    return q


def results_state() -> str:
    """A short key for what a results page shows (query, mode, count, filters): its scroll position is kept under it."""
    keep = {k: P.get_all(k) for k in sorted(P) if k in ("q", "mode", "k", "more", *FILTERS)}
    return "r" + hashlib.sha1(urlencode(keep, doseq=True).encode()).hexdigest()[:12]


def post_href(path: str, position: int | None = None, base: dict | None = None, **extra) -> str:
    return href(base, view="issues", post=path, sec=position, **extra)


def keep_page_context() -> dict:
    """Paging stays on the same page and sub-page (an open topic, a post, a resources filter)."""
    return {k: param(k) or None for k in ("view", "post", "topic", "rq")}


def page_title(view: str, label: str = "") -> str:
    """The browser tab's title: '트레이딩 — kb' for a search, 'NLP — Topics — kb' for a topic, 'Issues — kb'."""
    if view == "search":
        q = " ".join(param("q").split())
        if param("more"):
            return "More like this — kb"
        return f"{q[:80]} — kb" if q else "Search — kb"
    name = VIEWS.get(view, "Search")
    return f"{' '.join(label.split())[:80]} — {name} — kb" if label else f"{name} — kb"
