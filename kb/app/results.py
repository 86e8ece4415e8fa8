"""Result lists as one HTML element each: cards with their actions, topic labels, weak matches, pagers."""

from __future__ import annotations

import streamlit as st

from kb.app import html as render
from kb.app.corrections import note_for, topic_fixes
from kb.app.urlstate import FILTERS, MODE_LABELS, current, esc, href, keep_page_context, post_href, set_params
from kb.query import explain


def html(body: str) -> None:
    st.html(body)


_NEAR = {"very close in meaning": "Very close in meaning to your search",
         "close in meaning": "Related in meaning to your search",
         "related in meaning": "Related in meaning to your search",
         "only loosely related in meaning": "Only loosely related in meaning to your search",
         "not close in meaning": "Not close in meaning to your search"}


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def plain_reasons(w: explain.Why) -> list[str]:
    """Why a hit matched, in plain words: which of your words occur where, how close in meaning, its topics."""
    out = ["Its resource is named exactly what you searched for."] if w.exact else []
    if w.words:
        out += [f"Your word “{word}” is in its {_and(where)}." for word, where in w.words]
    out += [f"“{syn}”, a word that means the same, is in its {_and(where)}." for syn, where in w.via]
    out += [f"“{word}”, the word we took a misspelled one for, is in its {_and(where)}." for word, where in w.corrected]
    if w.spelling_only():
        out.append("None of your words is in it as you typed them: it holds one spelled almost the same.")
    elif not (w.words or w.via or w.exact or w.corrected):
        out.append("None of your words is in it: it was found by meaning alone.")
    elif w.one_word and not w.exact:
        out.append("Only one of your words is in it, so it was judged by meaning alone.")
    if w.meaning:
        out.append(_NEAR.get(w.meaning.split(" (")[0], w.meaning.split(" (")[0].capitalize()) + ".")
    if w.weak and w.everyday is not None:
        out.append("A weak match: its text is general enough to seem close to many searches, so closeness in meaning "
                   "alone does not settle it.")
    elif w.weak and w.crowd:
        out.append(f"A weak match here: among {w.crowd:,} sections some come close to any search by chance, so the bar "
                   "is higher than over a few posts (a narrower date or tag filter lowers it).")
    elif w.weak:
        out.append("A weak match: it shares little with your search.")
    if w.topics:
        out.append(f"Its topics: {', '.join(w.topics)}.")
    return out


def card_html(index, hit, query: str, a, why: bool = True, base: dict | None = None,
              only_topic: str | None = None, why_html: str | None = None, removed: bool = False,
              meant: str | None = None) -> str:
    """A card with its actions: open in post, more like this, topic corrections (only `only_topic`'s on its page),
    the note about a correction just made, and why it is here (`why_html`, else the search's reasons). `a` is the
    topic assignment; None (still being computed) draws the card without its topics and their corrections; `meant`:
    the query as corrected ("Did you mean"), for the reasons."""
    base = current() if base is None else base
    links = [(post_href(hit.path, hit.position, base), "Open in post"),
             (href(base, view="search", more=f"{hit.path}#{hit.position}"), "More like this")]
    labels = topic_labels(a, hit.row)
    if why_html is None:
        why_html = ""
        if why and query:
            w = explain.why(hit, query, index.sections[hit.row], labels, meant)
            why_html = render.why_table(hit, plain_reasons(w))
    shown, folded = ([], []) if removed or a is None else topic_fixes(hit, base, a, only=only_topic)
    acts = render.Actions(links, shown, folded, note_for(hit, base), why_html)
    return render.card(hit, query, labels, acts, removed=removed)


def topic_labels(a, row: int) -> list[str]:
    """The labels of a section's topics ([] without an assignment)."""
    return [] if a is None else [t.label for t in a.topics_of(row)]


def results_html(index, hits, query: str, a, why: bool = True, more_href: str = "") -> str:
    """The result list as one HTML element; weak matches (when the search marks them and there are good ones)
    folded behind "Show N weak matches"; "Show more" keeps the reader's place. `a`: as in card_html."""
    base, meant = current(), getattr(hits, "did_you_mean", None)
    strong = [h for h in hits if not render.is_weak(h)]
    weak = [h for h in hits if render.is_weak(h)]
    parts = [card_html(index, h, query, a, why, base, meant=meant) for h in (strong or weak)]
    if strong and weak:
        n = len(weak)
        parts.append(f'<details class="kb-weakfold"><summary>Show {n} weak match{"es" if n != 1 else ""}'
                     '</summary><div class="kb-weakline">These share little with your search.</div>'
                     + "".join(card_html(index, h, query, a, why, base, meant=meant) for h in weak) + "</details>")
    if more_href:
        parts.append(f'<div class="kb-pager">{render.go_link(more_href, "Show more results", stay=True)}</div>')
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
