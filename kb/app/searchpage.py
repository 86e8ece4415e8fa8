"""The search page: the box, the mode and filters row, the results (or the landing page), more like this."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import streamlit as st

from kb.app import data as appdata
from kb.app import html as render
from kb.app.loading import assignment, draw_with_topics, get_topics, model_ready, topics_error, when_topics_ready
from kb.app.results import card_html, html, issue_meta, no_results, results_html
from kb.app.urlstate import (
    DEFAULT_K,
    FILTERS,
    MAX_K,
    MAX_QUERY,
    MODE_LABELS,
    P,
    bind,
    date_param,
    esc,
    href,
    k_param,
    page_title,
    param,
    post_href,
    query_param,
    results_state,
    set_params,
    typed_query,
)
from kb.query import browse, examples
from kb.query.index import MODES

# The total above the results counts the good matches among this many: building 1,000 hits for a count took
# 1.9 s a query at 100k sections, 100 take 0.07 s (benchmarks.browser typed queries, BENCHMARKS.md).
COUNT_K = 100
MAX_WEEKS = 300          # weeks offered in the week filter (a selectbox of 20,000 would weigh on every page draw)


@st.fragment
def search_page(index, warm, d: appdata.Derived) -> None:
    """The search page, which reruns alone when its box, mode or filters change: the page row and the warnings
    above it are not drawn again. Results drawn before the topics were assigned get them once they are."""
    state, redraw = view_search(index, warm, d)
    html(render.end_marker(uuid.uuid4().hex[:12], state, page_title("search")))
    if redraw is not None:
        when_topics_ready(warm, redraw)


Drawn = tuple[str, Callable[[], None] | None]      # the results state (kb.app.urlstate.results_state), the redraw


@dataclass
class Filters:
    """The search page's filters as read (and checked) from the URL."""
    since: date | None
    until: date | None
    week: str
    tags: list[str]
    cats: list[str]
    topic: object | None             # a kb.topics.Topic
    k: int

    @property
    def active(self) -> list:
        return [x for x in (self.since, self.until, self.week, self.tags, self.cats, self.topic) if x]


def read_filters(d: appdata.Derived, ts, labels: dict[str, str]) -> Filters:
    """The filters in the URL; an unknown week or topic is named in a warning and ignored."""
    since, until = date_param("since"), date_param("until")
    week = param("week")
    if week and week not in labels:
        st.warning(f"Unknown week {esc(week[:60])}; showing all weeks.")
        week = ""
    topic_name = param("topic")
    topic = ts.find(topic_name) if topic_name and ts else None
    if topic_name and ts is None:
        st.warning(f"Ignoring the topic filter: {esc(topics_error())}")
    elif topic_name and topic is None:
        st.warning(f"Unknown topic {esc(topic_name[:40])}. Topics: {esc(', '.join(ts.names))}.")
    return Filters(since, until, week, [t for t in P.get_all("tag") if t in d.tags],
                   [c for c in P.get_all("cat") if c in d.categories], topic, k_param())


def view_search(index, warm, d: appdata.Derived) -> Drawn:
    """The search page; returns the results state (for keeping its scroll position, "" when it shows none) and
    the redraw that adds the cards' topics when they were drawn before the topics were assigned."""
    more = param("more")
    if more:
        return view_more_like(index, warm, d, more)
    q = query_param()
    mode = param("mode", "hybrid")
    if mode not in MODES:
        st.warning(f"Unknown mode {esc(mode[:20])}; using hybrid.")
        mode = "hybrid"
    ts = get_topics()
    labels = week_labels(d)
    st.session_state["w_q"] = q
    st.text_input("Search every weekly issue", key="w_q", on_change=typed_query, max_chars=MAX_QUERY,
                  label_visibility="collapsed",
                  placeholder=examples.placeholder())
    f = read_filters(d, ts, labels)
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    with row:
        bind(st.segmented_control, "Mode", "mode", mode, options=list(MODES), format_func=MODE_LABELS.get,
             required=True, label_visibility="collapsed",
             help="Hybrid: words and meaning together. Keyword: the exact words. Meaning: semantic similarity.")
        with st.popover("Filters" + (f" · {len(f.active)} on" if f.active else ""), icon=":material/tune:"):
            filters_form(d, labels, ts, f)
    if f.active:
        html(render.filter_chips(active_chips(f, labels)))
    if f.since and f.until and f.since > f.until:
        st.warning(f"The date range is reversed: From {f.since} is after Until {f.until}, so no section can match.")
        st.button("Swap the dates", on_click=set_params, kwargs={"since": f.until.isoformat(),
                                                                  "until": f.since.isoformat()})
        return "", None
    return show_results(index, warm, d, q, mode, f)


def show_results(index, warm, d: appdata.Derived, q: str, mode: str, f: Filters) -> Drawn:
    """The results of the query (or, with no query, the sections the filters pick, or the landing page)."""
    rows = None
    if f.topic:
        a = assignment(index, warm, wait=True)
        rows = a.rows(f.topic.name) if a is not None else []
    filters = {"since": f.since, "until": f.until, "tags": f.tags, "categories": f.cats, "post": f.week or None,
               "rows": rows}
    k = f.k
    if not q.strip():
        if f.active:
            model_ready(warm)
            picked = browse.filtered_rows(index, f.since, f.until, f.tags, f.cats, f.week or None, rows)
            st.caption(f"{len(picked)} section(s) match the filters, newest first. Type a query to rank them.")
            hits = [browse.hit_for_row(index, r) for r in picked[:k]]
            more_h = href(view="search", k=min(MAX_K, k + DEFAULT_K)) if len(picked) > k and k < MAX_K else ""
            return results_state(), draw_with_topics(
                index, warm, lambda a: html(results_html(index, hits, "", a, why=False, more_href=more_h)))
        landing(d)
        return "", None
    model_ready(warm)
    hits, ms = search(index, d, q, mode, k, filters)
    if not hits:
        no_results(q, mode, bool(f.active))
        return "", None
    if hits.did_you_mean:
        html(did_you_mean(hits.did_you_mean, mode))
    if all(render.is_weak(h) for h in hits):
        st.info(f"No good match for “{esc(q)}”. The nearest sections are below; try other words, another mode or "
                "fewer filters.")
    count = st.empty()
    strong = sum(1 for h in hits if not render.is_weak(h))
    total = strong if strong < k else sum(1 for h in search(index, d, q, mode, max(k, COUNT_K), filters)[0]
                                          if not render.is_weak(h))
    more_h = href(view="search", k=min(MAX_K, k + DEFAULT_K)) if total > strong and k < MAX_K else ""
    redraw = draw_with_topics(index, warm, lambda a: html(results_html(index, hits, q, a, more_href=more_h)))
    count.caption(totals(hits, total, mode, ms))
    return results_state(), redraw


def did_you_mean(suggestion: str, mode: str) -> str:
    """'Did you mean <corrected query>?', a link that searches for it (the search found the corrected words)."""
    link = render.go_link(href(view="search", q=suggestion, mode=mode), render.text(suggestion))
    return f'<p class="kb-dym">Did you mean {link}?</p>'


def totals(hits, total: int, mode: str, ms: float | None) -> str:
    """'37 results · showing 10 · from 6 weeks · hybrid · 24 ms' (results: the good matches among the first
    COUNT_K, '100+' beyond; weak matches are counted apart)."""
    strong = [h for h in hits if not render.is_weak(h)]
    weak = len(hits) - len(strong)
    if strong:
        head = f"{total}{'+' if total >= COUNT_K else ''} result{'s' if total != 1 else ''} · showing {len(strong)}"
    else:
        head = f"No good match · showing the {weak} nearest"
    weeks = len({h.path for h in (strong or hits)})
    return (f"{head} · from {weeks} week{'s' if weeks != 1 else ''} · {MODE_LABELS[mode].lower()}"
            + (f" · {ms:.0f} ms" if ms is not None else ""))


def active_chips(f: Filters, labels: dict[str, str]) -> list[tuple[str, str, str]]:
    """(href without it, what, value) for each active filter."""
    out = []
    if f.since:
        out.append((href(view="search", since=None), "From", f.since.isoformat()))
    if f.until:
        out.append((href(view="search", until=None), "Until", f.until.isoformat()))
    if f.week:
        out.append((href(view="search", week=None), "Week", labels.get(f.week, f.week)))
    for name, what, values in (("tag", "Tag", f.tags), ("cat", "Category", f.cats)):
        out += [(href(view="search", **{name: [x for x in values if x != v]}), what, v) for v in values]
    if f.topic:
        out.append((href(view="search", topic=None), "Topic", f.topic.label))
    return out


def search(index, d: appdata.Derived, q: str, mode: str, k: int, filters: dict) -> tuple[list, float | None]:
    """(hits, ms): index.search and how long it took, remembered for the last 64 searches of this index version
    (ms None then), so coming back to a result list (one Back, "← Back to results") does not search again."""
    key = (q, mode, k, repr(sorted((n, sorted(v) if isinstance(v, list | set) else v) for n, v in filters.items())))
    took = []

    def run() -> list:
        t0 = time.perf_counter()
        hits = index.search(q, mode=mode, k=k, **filters)
        took.append((time.perf_counter() - t0) * 1000)
        return hits

    hits = d.remember("searches", key, run, size=64)
    return hits, (took[0] if took else None)


def week_labels(d: appdata.Derived) -> dict[str, str]:
    """Post path → 'Weekly ML/DL News (3월 3주차) · 2021-03-20', newest first (once per index version)."""
    if "week_labels" not in d.memo:
        d.memo["week_labels"] = {p.path: render.issue_name(p.title, p.week, p.date) for p in d.posts}
    return d.memo["week_labels"]


def filters_form(d, labels, ts, f: Filters) -> None:
    since, until, week, want_tags, want_cats, topic, k = f.since, f.until, f.week, f.tags, f.cats, f.topic, f.k
    s = d.stats
    if s.first_date:
        lo, hi = date.fromisoformat(s.first_date), date.fromisoformat(s.last_date)
        f1, f2 = st.columns(2)
        with f1:
            bind(st.date_input, "From", "since", since, min_value=min(lo, since or lo), max_value=max(hi, since or hi),
                 out=lambda v: v.isoformat() if v else None)
        with f2:
            bind(st.date_input, "Until", "until", until, min_value=min(lo, until or lo), max_value=max(hi, until or hi),
                 out=lambda v: v.isoformat() if v else None)
    else:
        st.caption("The indexed posts have no dates, so there is no date filter.")
    options = list(labels)[:MAX_WEEKS]
    if week and week not in options:
        options.append(week)
    bind(st.selectbox, "Week" if len(labels) <= MAX_WEEKS else f"Week (the latest {MAX_WEEKS}; dates reach older ones)",
         "week", week, options=["", *options], format_func=lambda p: labels.get(p, "All weeks"))
    bind(st.multiselect, "Tags", "tag", want_tags, options=d.tags)
    bind(st.multiselect, "Categories", "cat", want_cats, options=d.categories)
    names = {t.name: t.label for t in ts or []}
    bind(st.selectbox, "Topic", "topic", topic.name if topic else "", options=["", *names],
         format_func=lambda n: names.get(n, "All topics"))
    bind(st.number_input, "Results", "k", k, min_value=1, max_value=MAX_K, step=5)
    if any((since, until, week, want_tags, want_cats, topic)):
        st.button("Clear the filters", key="clear-filters", on_click=set_params, kwargs=dict.fromkeys(FILTERS))


def landing(d: appdata.Derived) -> None:
    s = d.stats
    span = f", {s.first_date} – {s.last_date}" if s.first_date else ""
    tried = "".join(render.go_link(href(view="search", q=ex), render.text(ex)) for ex in examples.example_queries())
    latest = "".join(
        f'<div class="kb-issue">{render.go_link(post_href(p.path), render.text(p.title))}'
        f'<div class="kb-meta">{render.text(issue_meta(p))}</div></div>' for p in d.posts[:3])
    html(f'<div class="kb-landing"><p>Search <b>{s.posts:,}</b> weekly issues ({s.sections:,} sections{span}) by '
         f'keyword, by meaning, or both.</p><div class="kb-meta">Try one of these:</div>'
         f'<div class="kb-examples">{tried}</div><h3>Latest issues</h3>{latest}</div>')


def view_more_like(index, warm, d, more: str) -> Drawn:
    path, _, pos = more.rpartition("#")
    row = d.row_of(index, path, pos)
    html(render.go_link(href(view="search", more=None), "← Back to the results", "kb-back"))
    if row is None:
        st.warning("That section is not in the index any more (the index was rebuilt?). Search again.")
        return "", None
    model_ready(warm)
    st.subheader("More like this")
    hit, similar = browse.hit_for_row(index, row), index.more_like(row, k=k_param())

    def draw(a) -> None:
        html(card_html(index, hit, param("q"), a, why=False))
        st.caption("Nearest sections by meaning (embedding similarity):")
        html(results_html(index, similar, "", a))

    return results_state(), draw_with_topics(index, warm, draw)
