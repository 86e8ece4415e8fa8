"""kb's Streamlit app: search the weekly ML/DL news by keyword, meaning and topic; browse issues, topics and resources.

Run: `streamlit run app.py` (reads KB_INDEX_DIR, KB_CONTENT_DIR, KB_MODEL, KB_BACKEND,
KB_MILVUS_URI and KB_MILVUS_COLLECTION like the CLI). This file draws the page
only: answers come from the kb library (kb.query.index, kb.topics, kb.query.browse, kb.app.data) and every piece of post text
reaches the page through kb.app.html, which escapes it. The URL's query parameters are the app's state
(?q=트레이딩&mode=hybrid), so any page can be shared and reopened; moving between pages is a plain link that makes
one browser-history entry (kb.app.html.SCRIPT), while a change of mode or filter replaces the current one.

Speed: the page frame (navigation row) is drawn before anything is loaded; the index opens once per server and
index version, and the model warms up in the background while the first page is shown; everything derived from the
index (posts, facets, resources, topic assignment) is computed once per index version (kb.app.data), and a page
draw only searches and writes HTML: the result list is one element.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from datetime import date
from urllib.parse import urlencode

import streamlit as st

import kb
from kb import backends
from kb import build as kbbuild
from kb import topics as kbtopics
from kb.app import data as appdata
from kb.app import html as render
from kb.core.config import Settings
from kb.core.errors import IndexMissing, KbError
from kb.query import browse, explain
from kb.query.index import MODES

VIEWS = {"search": "Search", "topics": "Topics", "issues": "Issues", "resources": "Resources", "stats": "Stats"}
MODE_LABELS = {"hybrid": "Hybrid", "keyword": "Keyword", "semantic": "Meaning"}
DEFAULT_K = 10
MAX_K = 100
MAX_QUERY = 500          # characters of a query kept (searched, and in the URL) so every page link stays shareable
PER_PAGE = {"issues": 25, "resources": 50, "topic": 20, "post": 100}
MAX_WEEKS = 300          # weeks offered in the week filter (a selectbox of 20,000 would weigh on every page draw)
EXAMPLES = ["트레이딩", "NLP 강의", "reinforcement learning library", "한국어 말뭉치"]
FILTERS = ("since", "until", "week", "tag", "cat", "topic")
SEARCH_KEYS = ("q", "mode", "k", "since", "until", "week", "tag", "cat")
P = st.query_params
esc = render.label     # anything from a post, the URL or the disk shown through a Markdown-rendering st.* call


# ---- state: the URL's query parameters ---------------------------------------------------------------------------

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


def _typed_query() -> None:
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


# ---- loading (once per server and index version) ----------------------------------------------------------------

def settings() -> Settings:
    return Settings.load()


def _warm_up(index, content_dir: str) -> None:
    """Load the model, run one search and assign topics, off the page's thread, so the first page does not wait."""
    try:
        index.search("트레이딩 trading", k=1)
        topics, _ = appdata.topics(content_dir)
        if topics is not None:
            kbtopics.assign(index, topics)
        appdata.derived(index)
    except Exception:  # noqa: BLE001 - a page that needs the model reports the problem itself
        pass


@st.cache_resource(show_spinner=False, max_entries=2)
def load_index(where: str, version: str, content_dir: str):
    """Open the index (once per server and index version) and start warming up the model behind it."""
    index = kb.open_index(settings=settings())
    warm = threading.Thread(target=_warm_up, args=(index, content_dir), name="kb-warm-up", daemon=True)
    warm.start()
    return index, warm


def get_index():
    s = settings().checked()
    version = backends.current_version(s)     # cheap: CURRENT, or the Milvus alias and last commit; new → reload
    with st.spinner("Opening the index…"):
        return load_index(backends.where(s), version, str(s.content_dir))


def model_ready(warm: threading.Thread) -> None:
    """Wait (behind a spinner) for the background warm-up: the model and topic assignment are needed from here."""
    if warm.is_alive():
        with st.spinner("Loading the search model (once per server, a few seconds)…"):
            warm.join()


def get_topics():
    """The topics file of the content folder (else the shipped one); None if it is broken (see topics_error)."""
    return appdata.topics(settings().content_dir)[0]


def topics_error() -> str:
    """The topics file's problem, in words that name no folder of this machine."""
    err = appdata.topics(settings().content_dir)[1]
    return err.replace(str(settings().content_dir), "the content folder").replace(
        str(kbtopics.DEFAULT_FILE), "the shipped topics file")


def rebuild(full: bool = False) -> None:
    """Build or update the index from the content folder, with a progress bar; then reload."""
    bar = st.progress(0.0, text="Reading posts…")

    def progress(done: int, total: int) -> None:
        if total:
            bar.progress(min(done / total, 1.0), text=f"Embedding changed sections: {done}/{total}")
        else:
            bar.progress(1.0, text="Nothing new to embed")

    report = kbbuild.build(settings(), full=full, progress=progress)
    st.session_state["flash"] = report.summary()
    st.rerun()


# ---- pieces -------------------------------------------------------------------------------------------------------

def html(body: str) -> None:
    st.html(body)


def post_href(path: str, position: int | None = None, base: dict | None = None, **extra) -> str:
    return href(base, view="issues", post=path, sec=position, **extra)


def card_html(index, hit, query: str, labels, why: bool = True, base: dict | None = None,
              fixes: list[tuple[str, str]] | None = None) -> str:
    base = current() if base is None else base
    actions = [(post_href(hit.path, hit.position, base), "Open in post"),
               (href(base, view="search", more=f"{hit.path}#{hit.position}"), "More like this")]
    reasons = explain.why(hit, query, index.sections[hit.row], labels(hit.row)).lines() if why and query else None
    if fixes is None:
        fixes = topic_fixes(hit, base)
    return render.card(hit, query, labels(hit.row), actions, why=why, reasons=reasons, fixes=fixes)


# ---- topic corrections: links carry ?fix=include|exclude|forget&fixtopic=NAME&ref=URL-or-heading --------------------

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
    prev_h = href(page=page - 1 if page > 2 else None, **_keep_page_context()) if page > 1 else None
    next_h = href(page=page + 1, **_keep_page_context()) if page < pages else None
    return render.pager(prev_h, next_h, where)


def _keep_page_context() -> dict:
    """Paging stays on the same page and sub-page (an open topic, a post, a resources filter)."""
    return {k: param(k) or None for k in ("view", "post", "topic", "rq")}


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


# ---- views --------------------------------------------------------------------------------------------------------

@st.fragment
def search_page(index, warm, d: appdata.Derived) -> None:
    """The search page, which reruns alone when its box, mode or filters change: the page row and the warnings
    above it are not drawn again."""
    state = view_search(index, warm, d)
    html(render.end_marker(uuid.uuid4().hex[:12], state))


def view_search(index, warm, d: appdata.Derived) -> str:
    """The search page; returns the results state (for keeping its scroll position), or "" when it shows none."""
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
    st.text_input("Search every weekly issue", key="w_q", on_change=_typed_query, max_chars=MAX_QUERY,
                  label_visibility="collapsed",
                  placeholder="Search every weekly issue: 트레이딩 · NLP 강의 · that trading library from last summer")
    since, until = date_param("since"), date_param("until")
    week = param("week")
    if week and week not in labels:
        st.warning(f"Unknown week {esc(week[:60])}; showing all weeks.")
        week = ""
    want_tags = [t for t in P.get_all("tag") if t in d.tags]
    want_cats = [c for c in P.get_all("cat") if c in d.categories]
    topic_name = param("topic")
    topic = ts.find(topic_name) if topic_name and ts else None
    if topic_name and ts is None:
        st.warning(f"Ignoring the topic filter: {esc(topics_error())}")
    elif topic_name and topic is None:
        st.warning(f"Unknown topic {esc(topic_name[:40])}. Topics: {esc(', '.join(ts.names))}.")
    active = [x for x in (since, until, week, want_tags, want_cats, topic) if x]
    k = k_param()

    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    with row:
        bind(st.segmented_control, "Mode", "mode", mode, options=list(MODES), format_func=MODE_LABELS.get,
             required=True, label_visibility="collapsed",
             help="Hybrid: words and meaning together. Keyword: the exact words. Meaning: semantic similarity.")
        with st.popover("Filters" + (f" · {len(active)} on" if active else ""), icon=":material/tune:"):
            filters_form(d, labels, ts, since, until, week, want_tags, want_cats, topic, k)

    if since and until and since > until:
        st.warning(f"The date range is reversed: From {since} is after Until {until}, so no section can match.")
        st.button("Swap the dates", on_click=set_params, kwargs={"since": until.isoformat(),
                                                                  "until": since.isoformat()})
        return ""
    rows = None
    if topic:
        model_ready(warm)
        rows = kbtopics.assign(index, ts).rows(topic.name)
    filters = {"since": since, "until": until, "tags": want_tags, "categories": want_cats, "post": week or None,
               "rows": rows}
    if not q.strip():
        if active:
            model_ready(warm)
            picked = browse.filtered_rows(index, since, until, want_tags, want_cats, week or None, rows)
            st.caption(f"{len(picked)} section(s) match the filters, newest first. Type a query to rank them.")
            hits = [browse.hit_for_row(index, r) for r in picked[:k]]
            more_h = href(view="search", k=min(MAX_K, k + DEFAULT_K)) if len(picked) > k and k < MAX_K else ""
            html(results_html(index, hits, "", why=False, more_href=more_h))
            return results_state()
        landing(d)
        return ""
    model_ready(warm)
    hits, ms = search(index, d, q, mode, k, filters)
    if not hits:
        no_results(q, mode, bool(active))
        return ""
    if all(render.is_weak(h) for h in hits):
        st.info(f"No good match for “{esc(q)}”. The nearest sections are below; try other words, another mode or "
                "fewer filters.")
    weeks = len({h.path for h in hits})
    st.caption(f"{len(hits)} result{'s' if len(hits) != 1 else ''} from {weeks} week{'s' if weeks != 1 else ''} · "
               f"{MODE_LABELS[mode].lower()}" + (f" · {ms:.0f} ms" if ms is not None else ""))
    more_h = href(view="search", k=min(MAX_K, k + DEFAULT_K)) if len(hits) == k and k < MAX_K else ""
    html(results_html(index, hits, q, more_href=more_h))
    return results_state()


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


def filters_form(d, labels, ts, since, until, week, want_tags, want_cats, topic, k) -> None:
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
    examples = "".join(render.go_link(href(view="search", q=ex), render.text(ex)) for ex in EXAMPLES)
    latest = "".join(
        f'<div class="kb-issue">{render.go_link(post_href(p.path), render.text(p.title))}'
        f'<div class="kb-meta">{render.text(_issue_meta(p))}</div></div>' for p in d.posts[:3])
    html(f'<div class="kb-landing"><p>Search <b>{s.posts:,}</b> weekly issues ({s.sections:,} sections{span}) by '
         f'keyword, by meaning, or both.</p><div class="kb-meta">Try one of these:</div>'
         f'<div class="kb-examples">{examples}</div><h3>Latest issues</h3>{latest}</div>')


def _issue_meta(p) -> str:
    """'2021-03-20 · 8 sections' (plus the week when the title does not say it)."""
    n = len(p.rows)
    name = render.issue_name("", p.week if p.week not in p.title else "", p.date)
    return " · ".join(x for x in (name, f"{n} section{'s' if n != 1 else ''}") if x)


def view_more_like(index, warm, d, more: str) -> str:
    path, _, pos = more.rpartition("#")
    row = d.row_of(index, path, pos)
    html(render.go_link(href(view="search", more=None), "← Back to the results", "kb-back"))
    if row is None:
        st.warning("That section is not in the index any more (the index was rebuilt?). Search again.")
        return ""
    model_ready(warm)
    st.subheader("More like this")
    labels = topic_labeler(index)
    html(card_html(index, browse.hit_for_row(index, row), param("q"), labels, why=False))
    st.caption("Nearest sections by meaning (embedding similarity):")
    html(results_html(index, index.more_like(row, k=k_param()), ""))
    return results_state()


def view_topics(index, warm, d) -> str:
    ts = get_topics()
    if ts is None:
        st.error(f"kb: {esc(topics_error())}")
        st.caption("Fix the topics.toml file in the content folder, or delete it to use the shipped topics; search "
                   "works meanwhile.")
        return ""
    model_ready(warm)
    a = kbtopics.assign(index, ts)
    name = param("topic")
    if name:
        topic = ts.find(name)
        if topic is None:
            st.warning(f"Unknown topic {esc(name[:40])}. Pick one of the topics below.")
        else:
            return topic_page(index, d, a, topic)
    where = ("your content folder's topics.toml" if ts.source != kbtopics.DEFAULT_FILE
             else "kb's shipped topics; copy them to topics.toml in your content folder to edit them (see the README)")
    st.caption(f"Topics from {where}.")
    cells = "".join(render.go_link(href(view="topics", topic=t.name),
                                   f"{render.text(t.label)}<br><span>{a.count(t.name)} sections</span>")
                    for t in ts)
    html(f'<div class="kb-grid">{cells}</div>')
    return ""


def topic_page(index, d, a, topic) -> str:
    rows = a.rows(topic.name)
    head = (render.go_link(href(view="topics", topic=None), "← All topics", "kb-back")
            + f'<div class="kb-title">{render.text(topic.label)}</div>'
            + f'<div class="kb-described">Described as: {render.text(" · ".join(topic.phrases))}</div>')
    if not rows:
        html(head)
        st.info("No section is assigned to this topic yet. Add phrases or keywords to the topics file.")
        return ""
    weeks = len({index.sections[r].post_path for r in rows})
    page, pages, start, end = appdata.page_slice(len(rows), param("page"), PER_PAGE["topic"])
    head += (f'<div class="kb-meta">{len(rows)} sections from {weeks} weekly issue{"s" if weeks != 1 else ""}, '
             "newest first.</div>")
    if page == 1:
        hist = appdata.histogram([index.sections[r].date for r in rows])
        head += render.histogram(hist)
        if hist.left_out:
            head += (f'<div class="kb-meta">{hist.left_out} section(s) dated outside {appdata.PLAUSIBLE_FROM.year}–'
                     "next year are not charted (a typo in the post's date?).</div>")
    html(head)
    labels = topic_labeler(index)
    cards = []
    for r in rows[start:end]:
        why = a.why(r, topic.name)
        hit = browse.hit_for_row(index, r, score=why["z"], scores={"meaning (z)": why["z"], "similarity": why["similarity"],
                                                             "keyword": why["keyword"]})
        cards.append(card_html(index, hit, "", labels, fixes=topic_fixes(hit, current(), only=topic.name)))
    pager = pager_html(len(rows), page, pages, start, end, "sections") if pages > 1 else ""
    html('<div class="kb-results">' + "".join(cards) + "</div>" + pager)
    return results_state() + f"p{page}"


def view_issues(index, d) -> str:
    path = param("post")
    if path:
        return view_post(index, d, path)
    page, pages, start, end = appdata.page_slice(len(d.posts), param("page"), PER_PAGE["issues"])
    items = []
    for p in d.posts[start:end]:
        heads = [index.sections[r].heading for r in p.rows[:8]]
        rest = f" … and {len(p.rows) - 8} more" if len(p.rows) > 8 else ""
        items.append(f'<div class="kb-issue">{render.go_link(post_href(p.path), render.text(p.title))}'
                     f'<div class="kb-meta">{render.text(_issue_meta(p))}</div>'
                     f'<div class="kb-links">{render.text(", ".join(heads) + rest)}</div></div>')
    head = f'<div class="kb-meta">{len(d.posts):,} weekly issues, newest first.</div>'
    pager = pager_html(len(d.posts), page, pages, start, end, "issues") if pages > 1 else ""
    html(head + "".join(items) + pager)
    return f"issues-p{page}"


def view_post(index, d, path: str) -> str:
    p = d.post(path)
    searching = any(P.get_all(k) for k in ("q", "more", *FILTERS))
    back = (render.go_link(href(view="search"), "← Back to results", "kb-back") if searching
            else render.go_link(href(view="issues"), "← All issues", "kb-back"))
    if p is None:
        html(back)
        st.warning(f"No post {esc(path[:80])} in the index. Pick one from the list of issues.")
        return ""
    sec = param("sec")
    target = d.row_of(index, path, sec) if sec else None
    q = param("q")[:MAX_QUERY]
    rows = p.rows
    per = PER_PAGE["post"]
    page_arg = param("page") or (rows.index(target) // per + 1 if target is not None else 1)
    page, pages, start, end = appdata.page_slice(len(rows), page_arg, per)
    shown = rows[start:end]
    tags = f'<div class="kb-chips">Tags {render.chips(p.tags)}</div>' if p.tags else ""
    n = len(rows)
    parts = [back, f'<div class="kb-title">{render.text(p.title)}</div>',
             f'<div class="kb-meta">{render.text(_issue_meta(p))}</div>{tags}']
    intro = render.paragraph(render.join_wrapped(p.intro), "kb-body kb-intro") if p.intro and page == 1 else ""
    if target is not None and target in shown:
        i = shown.index(target)
        before = shown[:i]
        if before or intro:
            names = " · ".join(index.sections[r].heading for r in before[:12]) + (" …" if len(before) > 12 else "")
            label = (f"{len(before)} earlier section{'s' if len(before) != 1 else ''} of this issue"
                     if before else "The issue's introduction")
            parts.append(f'<details class="kb-earlier"><summary>{render.text(label)}'
                         f'{": " + render.text(names) if names else ""}</summary>{intro}'
                         + "".join(render.section(index.sections[r], q) for r in before) + "</details>")
        parts.append(render.section(index.sections[target], q, target=True))
        parts += [render.section(index.sections[r], q) for r in shown[i + 1:]]
    else:
        parts.append(intro)
        parts += [render.section(index.sections[r], q) for r in shown]
    if pages > 1:
        parts.append(pager_html(n, page, pages, start, end, "sections"))
    html("".join(parts))
    return ""


def view_resources(index, d) -> str:
    items = d.resources(index)
    rq = param("rq")[:200]
    bind(st.text_input, "Filter resources", "rq", rq, max_chars=200, placeholder="a word in the title or URL")
    if rq:
        low = rq.lower()
        items = [r for r in items if low in r.title.lower() or low in r.url.lower()
                 or any(low in m.heading.lower() for m in r.mentions)]
    page, pages, start, end = appdata.page_slice(len(items), param("page"), PER_PAGE["resources"])
    head = (f'<div class="kb-meta">{len(items):,} resource{"s" if len(items) != 1 else ""}, each once (deduplicated '
            "by URL), most recently mentioned first. A week opens the issue at the section that mentions it.</div>")
    base = current()
    rows = "".join(render.resource(r, lambda m: post_href(m.path, index.sections[m.row].position, base))
                   for r in items[start:end])
    pager = pager_html(len(items), page, pages, start, end, "resources") if pages > 1 else ""
    html(head + rows + pager)
    return f"res-p{page}"


def view_stats(index, d, ch) -> str:
    s = d.stats
    c1, c2, c3 = st.columns(3)
    c1.metric("Posts", s.posts)
    c2.metric("Sections", s.sections)
    c3.metric("Resources", len(d.resources(index)))
    html(render.paragraph(
        f"Dates: {s.first_date or '—'} to {s.last_date or '—'}"
        + (f" ({s.undated_posts} undated post(s))" if s.undated_posts else "") + "\n"
        f"Model: {s.model}\nBuilt: {s.built_at}"
        + (f" in {s.build_seconds:.1f} s" if s.build_seconds is not None else "") + f"\nIndex version: {s.version}",
        "kb-body"))
    if ch.changed or ch.missing_folder:
        for label, names in (("new", ch.added), ("changed", ch.modified), ("removed", ch.removed)):
            if names:
                st.caption(f"{label}: " + esc(", ".join(names[:20])) + (" …" if len(names) > 20 else ""))
    else:
        st.success("The index is up to date with the content folder.")
    if not ch.missing_folder and st.button("Rebuild the index (incremental)", type="primary" if ch.changed else "secondary"):
        rebuild()
    if s.skipped:
        with st.expander(f"{len(s.skipped)} file(s) skipped at the last build"):
            html("".join(render.paragraph(f"{name}: {reason}", "kb-meta") for name, reason in s.skipped.items()))
    with st.expander("Folders (for the person who runs kb)"):
        html(render.paragraph(f"Index: {backends.where(settings())}\nContent folder: {settings().content_dir}",
                              "kb-meta"))
    return ""


def no_index(err: KbError) -> None:
    s = settings()
    st.title("kb — Weekly ML/DL News search")
    if isinstance(err, IndexMissing):
        st.info("No index yet. Build it from the posts in the content folder with:")
    else:
        st.error(f"kb: {esc(str(err))}")
        st.info("Rebuild it from scratch with:")
    target = (f"--milvus-uri {s.milvus_uri} --milvus-collection {s.milvus_collection}" if s.backend == "milvus"
              else f"--index-dir {s.index_dir}")
    st.code(f"python -m kb.index --content {s.content_dir} {target}"
            + ("" if isinstance(err, IndexMissing) else " --full"), language="bash")
    if s.content_dir.is_dir():
        if st.button("Build the index now", type="primary"):
            rebuild(full=not isinstance(err, IndexMissing))
    else:
        st.warning("The content folder does not exist: set KB_CONTENT_DIR to your posts folder (the command above "
                   "shows where kb looks).")


# ---- page ---------------------------------------------------------------------------------------------------------

def nav_items(view: str) -> list[tuple[str, str, bool]]:
    return [(href(view=v, topic=None) if v == "topics" else href(view=v), label, v == view)
            for v, label in VIEWS.items()]


def nav_keep(view: str) -> str:
    """What the page links carry over from the address bar: the search (query, mode, count, filters); the topic
    filter only from the search page (leaving a topic page drops its topic)."""
    return " ".join(SEARCH_KEYS + (("topic",) if view == "search" else ()))


def main() -> None:
    st.set_page_config(page_title="kb — Weekly ML/DL News search", page_icon=":material/search:", layout="wide",
                       initial_sidebar_state="collapsed")
    st.html(render.CSS)
    st.html(render.SCRIPT, unsafe_allow_javascript=True)
    view = param("view", "search")
    known = view in VIEWS
    html(render.nav(nav_items(view if known else "search"), keep=nav_keep(view if known else "search")))
    if not known:
        st.warning(f"Unknown page {esc(view[:20])}; showing search.")
        view = "search"
    try:
        index, warm = get_index()
    except KbError as err:
        return no_index(err)
    d = appdata.derived(index)
    ch = appdata.content_changes(index, settings().content_dir, max_age=0 if view == "stats" else 60.0)
    if ch.changed or ch.missing_folder:
        msg = f"The content folder has changed: {ch.summary()}." if ch.changed else f"{ch.summary().capitalize()}."
        if view == "stats":
            st.warning(msg)
        else:
            st.warning(msg + " Rebuild the index on the Stats page to search the new posts.")
    apply_fix()
    if "flash" in st.session_state:
        st.success(st.session_state.pop("flash"))
    if "flash_html" in st.session_state:
        html(st.session_state.pop("flash_html"))
    if view == "search":
        return search_page(index, warm, d)         # draws its own end marker: it can rerun alone
    if view == "topics":
        state = view_topics(index, warm, d)
    elif view == "issues":
        state = view_issues(index, d)
    elif view == "resources":
        state = view_resources(index, d)
    else:
        state = view_stats(index, d, ch)
    html(render.end_marker(uuid.uuid4().hex[:12], state))


try:
    main()
except KbError as err:
    st.error(f"kb: {esc(str(err))}")
except Exception as err:  # noqa: BLE001 - people see one line, never a traceback
    first = str(err).strip().split("\n")[0][:300]
    st.error(f"kb: unexpected error ({type(err).__name__}: {esc(first)})")
