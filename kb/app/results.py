"""Result lists as one HTML element each: cards with their actions, topic labels, weak matches, pagers."""

from __future__ import annotations

import streamlit as st

from kb import topics as kbtopics
from kb.app import html as render
from kb.app.corrections import topic_fixes
from kb.app.loading import get_topics
from kb.app.urlstate import FILTERS, MODE_LABELS, current, esc, href, keep_page_context, post_href, set_params
from kb.query import explain


def html(body: str) -> None:
    st.html(body)


def card_html(index, hit, query: str, labels, why: bool = True, base: dict | None = None,
              fixes: list[tuple[str, str]] | None = None) -> str:
    base = current() if base is None else base
    actions = [(post_href(hit.path, hit.position, base), "Open in post"),
               (href(base, view="search", more=f"{hit.path}#{hit.position}"), "More like this")]
    reasons = explain.why(hit, query, index.sections[hit.row], labels(hit.row)).lines() if why and query else None
    if fixes is None:
        fixes = topic_fixes(hit, base)
    return render.card(hit, query, labels(hit.row), actions, why=why, reasons=reasons, fixes=fixes)


def topic_labeler(index):
    """row → the labels of the section's topics (empty when the topics file is broken)."""
    ts = get_topics()
    if ts is None:
        return lambda row: []
    a = kbtopics.assign(index, ts)
    return lambda row: [t.label for t in a.topics_of(row)]


def results_html(index, hits, query: str, why: bool = True, more_href: str = "") -> str:
    """The result list as one HTML element; weak matches (when the search marks them) under their own line."""
    labels = topic_labeler(index)
    base = current()
    strong = [h for h in hits if not render.is_weak(h)]
    weak = [h for h in hits if render.is_weak(h)]
    parts = [card_html(index, h, query, labels, why, base) for h in strong]
    if weak:
        parts.append('<div class="kb-weakline">Weak matches: these share little with your query</div>')
        parts += [card_html(index, h, query, labels, why, base) for h in weak]
    if more_href:
        parts.append(f'<div class="kb-pager">{render.go_link(more_href, "Show more results")}</div>')
    return '<div class="kb-results">' + "".join(parts) + "</div>"


def pager_html(total: int, page: int, pages: int, start: int, end: int, noun: str) -> str:
    where = f"{start + 1:,}–{end:,} of {total:,} {noun}" if total else f"no {noun}"
    prev_h = href(page=page - 1 if page > 2 else None, **keep_page_context()) if page > 1 else None
    next_h = href(page=page + 1, **keep_page_context()) if page < pages else None
    return render.pager(prev_h, next_h, where)


def no_results(query: str, mode: str, filtered: bool) -> None:
    st.info(f"No results for “{esc(query)}” in {MODE_LABELS[mode].lower()} mode"
            + (" with these filters." if filtered else "."))
    row = st.container(horizontal=True)
    if mode != "hybrid":
        row.button("Try hybrid mode", on_click=set_params, kwargs={"mode": "hybrid"})
    elif mode != "semantic":
        row.button("Search by meaning", on_click=set_params, kwargs={"mode": "semantic"})
    if filtered:
        row.button("Clear the filters", on_click=set_params, kwargs=dict.fromkeys(FILTERS))


def issue_meta(p) -> str:
    """'2021-03-20 · 8 sections' (plus the week when the title does not say it)."""
    n = len(p.rows)
    name = render.issue_name("", p.week if p.week not in p.title else "", p.date)
    return " · ".join(x for x in (name, f"{n} section{'s' if n != 1 else ''}") if x)
