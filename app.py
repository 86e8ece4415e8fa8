"""kb's Streamlit app: search the weekly ML/DL news by keyword, meaning and topic; browse issues, topics and resources.

Run: `streamlit run app.py` (reads KB_INDEX_DIR, KB_CONTENT_DIR, KB_MODEL, KB_BACKEND, KB_MILVUS_URI and
KB_MILVUS_COLLECTION like the CLI). This file draws widgets
only: answers come from the kb library (kb.query, kb.topics, kb.browse) and every piece of post text reaches the page
through kb.render, which escapes it. The URL's query parameters are the app's state (?q=트레이딩&mode=hybrid), so
any page can be shared and reopened.
"""

from __future__ import annotations

import time
from datetime import date

import streamlit as st

import kb
from kb import backends, browse, render
from kb import topics as kbtopics
from kb.config import Settings
from kb.errors import IndexMissing, KbError
from kb.query import MODES

VIEWS = {"search": ":material/search: Search", "topics": ":material/label: Topics",
         "issues": ":material/newspaper: Issues", "resources": ":material/link: Resources",
         "stats": ":material/monitoring: Stats"}
MODE_LABELS = {"hybrid": "Hybrid", "keyword": "Keyword", "semantic": "Meaning"}
DEFAULT_K = 10
EXAMPLES = ["트레이딩", "NLP 강의", "reinforcement learning library", "한국어 말뭉치"]
P = st.query_params
esc = render.label     # anything from a post, the URL or the disk shown through a Markdown-rendering st.* call


# ---- state: the URL's query parameters ---------------------------------------------------------------------------

def param(name: str, default: str = "") -> str:
    return P.get(name, default) or default


def set_params(**values) -> None:
    """Set (or, for empty values, remove) query parameters."""
    for name, value in values.items():
        if value in (None, "", []) or (name == "mode" and value == "hybrid") or (name == "k" and value == DEFAULT_K):
            if name in P:
                del P[name]
        elif isinstance(value, list):
            P[name] = [str(v) for v in value]
        else:
            P[name] = str(value)


def go(**values) -> None:
    """Navigate: leave any sub-page (an open post, a more-like-this list) and set the given parameters. Leaving a
    topic page drops its topic, so it does not silently become a search filter."""
    if param("view") == "topics" and values.get("view", "topics") != "topics":
        values.setdefault("topic", None)
    set_params(post=None, sec=None, more=None)
    set_params(**values)


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
        return max(1, min(int(param("k", str(DEFAULT_K))), 100))
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


# ---- loading (once per server and index version) ----------------------------------------------------------------

def settings() -> Settings:
    return Settings.load()


@st.cache_resource(show_spinner="Loading the index and the model (once per server)…", max_entries=2)
def load_index(where: str, version: str, content_dir: str):
    """Open the index and warm up the model, the query path and the topic assignment, so the first search is fast."""
    index = kb.open_index(settings=settings())
    index.search("트레이딩 trading", k=1)
    try:
        kbtopics.assign(index, kbtopics.load_topics(content_dir))
    except KbError:
        pass  # a broken topics file is reported on the pages that need it
    return index


def get_index():
    s = settings().checked()
    version = backends.current_version(s)     # cheap: CURRENT, or the Milvus alias and last commit; new → reload
    return load_index(backends.where(s), version, str(s.content_dir))


_RUN: dict = {}     # per script run (the script re-executes from the top on every interaction)


def get_topics():
    """The topics file of the content folder (else the shipped one); None if it is broken (see topics_error)."""
    if "topics" not in _RUN:
        try:
            _RUN["topics"], _RUN["topics_error"] = kbtopics.load_topics(settings().content_dir), None
        except KbError as err:
            _RUN["topics"], _RUN["topics_error"] = None, str(err)
    return _RUN["topics"]


def topics_error() -> str:
    get_topics()
    return _RUN["topics_error"] or ""


def changes(index) -> browse.ContentChanges:
    return browse.content_changes(index, settings().content_dir)


def rebuild(full: bool = False) -> None:
    """Build or update the index from the content folder, with a progress bar; then reload."""
    bar = st.progress(0.0, text="Reading posts…")

    def progress(done: int, total: int) -> None:
        if total:
            bar.progress(min(done / total, 1.0), text=f"Embedding changed sections: {done}/{total}")
        else:
            bar.progress(1.0, text="Nothing new to embed")

    report = backends.build(settings(), full=full, progress=progress)
    st.session_state["flash"] = report.summary()
    st.rerun()


# ---- pieces -------------------------------------------------------------------------------------------------------

def topic_labels(index, row: int) -> list[str]:
    ts = get_topics()
    return [t.label for t in kbtopics.assign(index, ts).topics_of(row)] if ts else []


def show_hit(index, hit, query: str, n: int, why: bool = True, actions: bool = True) -> None:
    with st.container(border=True):
        st.markdown(render.card(hit, query, topic_labels(index, hit.row)), unsafe_allow_html=True)
        row = st.container(horizontal=True, vertical_alignment="top")
        if actions:
            row.button("Open in post", key=f"open-{n}-{hit.row}", on_click=go, icon=":material/article:",
                       kwargs={"view": "issues", "post": hit.path, "sec": hit.position}, type="tertiary")
            row.button("More like this", key=f"more-{n}-{hit.row}", on_click=go, icon=":material/travel_explore:",
                       kwargs={"view": "search", "more": f"{hit.path}#{hit.position}"}, type="tertiary")
        if why and hit.scores:
            with row.expander("Why this result"):
                rows = [{"leg": leg, "score": round(v, 4), "rank": hit.ranks.get(leg)}
                        for leg, v in hit.scores.items()]
                st.dataframe(rows, hide_index=True, width="stretch")
                st.caption(f"Final score {hit.score:.4f}. Hybrid mixes the keyword (BM25) and meaning (embedding) "
                           "legs; 'exact_name' pins a section whose resource name is the query.")


def no_results(query: str, mode: str, filtered: bool) -> None:
    st.info(f"No results for “{esc(query)}” in {MODE_LABELS[mode].lower()} mode"
            + (" with these filters." if filtered else "."))
    c1, c2 = st.columns(2)
    if mode != "hybrid":
        c1.button("Try hybrid mode", on_click=set_params, kwargs={"mode": "hybrid"})
    elif mode != "semantic":
        c1.button("Search by meaning", on_click=set_params, kwargs={"mode": "semantic"})
    if filtered:
        c2.button("Clear the filters", on_click=set_params,
                  kwargs={"since": None, "until": None, "week": None, "tag": None, "cat": None, "topic": None})


# ---- views --------------------------------------------------------------------------------------------------------

def view_search(index) -> None:
    more = param("more")
    if more:
        return view_more_like(index, more)
    q = param("q")
    mode = param("mode", "hybrid")
    if mode not in MODES:
        st.warning(f"Unknown mode {esc(mode[:20])}; using hybrid.")
        mode = "hybrid"
    ts = get_topics()
    tags, cats = browse.facets(index)
    all_posts = browse.posts(index)
    labels = {p.path: f"{p.label} — {p.title}" for p in all_posts}

    bind(st.text_input, "Search every weekly issue", "q", q,
         placeholder="e.g. 트레이딩 · NLP 강의 · that trading library from last summer")
    c1, c2 = st.columns([3, 1])
    with c1:
        bind(st.radio, "Mode", "mode", mode, options=list(MODES), format_func=MODE_LABELS.get, horizontal=True,
             help="Hybrid: words and meaning together. Keyword: the exact words. Meaning: semantic similarity.")
    with c2:
        k = k_param()
        bind(st.number_input, "Results", "k", k, min_value=1, max_value=100, step=5)

    since, until = date_param("since"), date_param("until")
    week = param("week")
    if week and week not in labels:
        st.warning(f"Unknown week {esc(week[:60])}; showing all weeks.")
        week = ""
    want_tags = [t for t in P.get_all("tag") if t in tags]
    want_cats = [c for c in P.get_all("cat") if c in cats]
    topic_name = param("topic")
    topic = ts.find(topic_name) if topic_name and ts else None
    if topic_name and ts is None:
        st.warning(f"Ignoring the topic filter: {esc(topics_error())}")
    elif topic_name and topic is None:
        st.warning(f"Unknown topic {esc(topic_name[:40])}. Topics: {esc(', '.join(ts.names))}.")
    active = [x for x in (since, until, week, want_tags, want_cats, topic) if x]
    with st.expander("Filters" + (f" ({len(active)} active)" if active else ""), expanded=bool(active)):
        stats = browse.stats(index)
        f1, f2 = st.columns(2)
        if stats.first_date:
            lo, hi = date.fromisoformat(stats.first_date), date.fromisoformat(stats.last_date)
            with f1:
                bind(st.date_input, "From", "since", since, min_value=min(lo, since or lo),
                     max_value=max(hi, since or hi), out=lambda d: d.isoformat() if d else None)
            with f2:
                bind(st.date_input, "Until", "until", until, min_value=min(lo, until or lo),
                     max_value=max(hi, until or hi), out=lambda d: d.isoformat() if d else None)
        else:
            st.caption("The indexed posts have no dates, so there is no date filter.")
        bind(st.selectbox, "Week", "week", week, options=["", *labels], format_func=lambda p: labels.get(p, "All weeks"))
        f3, f4, f5 = st.columns(3)
        with f3:
            bind(st.multiselect, "Tags", "tag", want_tags, options=tags)
        with f4:
            bind(st.multiselect, "Categories", "cat", want_cats, options=cats)
        with f5:
            names = {t.name: t.label for t in ts or []}
            bind(st.selectbox, "Topic", "topic", topic.name if topic else "", options=["", *names],
                 format_func=lambda n: names.get(n, "All topics"))

    rows = kbtopics.assign(index, ts).rows(topic.name) if topic else None
    filters = {"since": since, "until": until, "tags": want_tags, "categories": want_cats, "post": week or None,
               "rows": rows}
    if not q.strip():
        if active:
            picked = browse.filtered_rows(index, since, until, want_tags, want_cats, week or None, rows)
            st.caption(f"{len(picked)} section(s) match the filters, newest first. Type a query to rank them.")
            for n, r in enumerate(picked[:k]):
                show_hit(index, browse.hit_for_row(index, r), "", n, why=False)
            return
        return landing(index)
    t0 = time.perf_counter()
    hits = index.search(q, mode=mode, k=k, **filters)
    ms = (time.perf_counter() - t0) * 1000
    if not hits:
        return no_results(q, mode, bool(active))
    weeks = len({h.path for h in hits})
    st.caption(f"{len(hits)} result(s) from {weeks} week(s) · {MODE_LABELS[mode].lower()} · {ms:.0f} ms")
    for n, hit in enumerate(hits):
        show_hit(index, hit, q, n)


def landing(index) -> None:
    s = browse.stats(index)
    span = f", {s.first_date} – {s.last_date}" if s.first_date else ""
    st.markdown(f"Search **{s.posts}** weekly issues ({s.sections} sections{span}) by keyword, by meaning, or both.")
    st.caption("Try one of these:")
    cols = st.columns(len(EXAMPLES))
    for c, ex in zip(cols, EXAMPLES, strict=True):
        c.button(ex, key=f"ex-{ex}", on_click=go, kwargs={"q": ex})
    st.subheader("Latest issues")
    for p in browse.posts(index)[:3]:
        st.button(render.label(f"{p.title} · {p.label} · {len(p.rows)} sections"), key=f"latest-{p.path}", on_click=go,
                  kwargs={"view": "issues", "post": p.path})


def view_more_like(index, more: str) -> None:
    path, _, pos = more.rpartition("#")
    row = browse.row_of(index, path, pos)
    st.button("← Back to the results", on_click=go, kwargs={"view": "search"})
    if row is None:
        st.warning("That section is not in the index any more (the index was rebuilt?). Search again.")
        return
    st.subheader("More like this")
    show_hit(index, browse.hit_for_row(index, row), param("q"), -1, why=False)
    st.caption("Nearest sections by meaning (embedding similarity):")
    for n, hit in enumerate(index.more_like(row, k=k_param())):
        show_hit(index, hit, "", n)


def view_topics(index) -> None:
    ts = get_topics()
    if ts is None:
        st.error(f"kb: {esc(topics_error())}")
        st.caption("Fix the file, or delete it to use the shipped topics; search works meanwhile.")
        return
    a = kbtopics.assign(index, ts)
    name = param("topic")
    st.caption(f"Topics from {esc(str(ts.source))} — copy it to topics.toml in your content folder to edit them.")
    if name:
        topic = ts.find(name)
        if topic is None:
            st.warning(f"Unknown topic {esc(name[:40])}. Pick one of the topics below, or add it to {esc(str(ts.source))}.")
        else:
            return topic_page(index, a, topic)
    cols = st.columns(4)
    for i, t in enumerate(ts):
        with cols[i % 4]:
            st.button(f"{render.label(t.label)} ({a.count(t.name)})", key=f"topic-{t.name}", on_click=go,
                      kwargs={"view": "topics", "topic": t.name}, width="stretch")


def topic_page(index, a, topic) -> None:
    st.button("← All topics", on_click=go, kwargs={"view": "topics", "topic": None})
    rows = a.rows(topic.name)
    st.header(esc(topic.label))
    st.caption("Described as: " + esc(" · ".join(topic.phrases)))
    if not rows:
        st.info("No section is assigned to this topic yet. Add phrases or keywords to the topics file.")
        return
    weeks = len({index.sections[r].post_path for r in rows})
    st.markdown(f"**{len(rows)}** sections from **{weeks}** weekly issues, newest first.")
    counts = kbtopics.monthly_counts(index, rows)
    if counts:
        st.bar_chart({"month": [m for m, _ in counts], "sections": [c for _, c in counts]}, x="month", y="sections",
                     height=180)
    shown = rows if st.session_state.get(f"all-{topic.name}") else rows[:30]
    for n, r in enumerate(shown):
        why = a.why(r, topic.name)
        hit = browse.hit_for_row(index, r, score=why["z"], scores={
            "meaning (z)": why["z"], "similarity": why["similarity"], "keyword": why["keyword"]})
        show_hit(index, hit, "", n)
    if len(shown) < len(rows):
        st.button(f"Show all {len(rows)}", on_click=st.session_state.__setitem__, args=(f"all-{topic.name}", True))


def view_issues(index) -> None:
    path = param("post")
    if path:
        return view_post(index, path)
    items = browse.posts(index)
    st.caption(f"{len(items)} weekly issues, newest first.")
    for p in items:
        with st.container(border=True):
            st.button(f"**{render.label(p.title)}**", key=f"post-{p.path}", on_click=go,
                      kwargs={"view": "issues", "post": p.path}, type="tertiary")
            st.markdown(render.paragraph(f"{p.label} · {len(p.rows)} sections · " + ", ".join(
                index.sections[r].heading for r in p.rows), "kb-meta"), unsafe_allow_html=True)


def view_post(index, path: str) -> None:
    p = browse.post(index, path)
    st.button("← All issues", on_click=go, kwargs={"view": "issues"})
    if p is None:
        st.warning(f"No post {esc(path[:80])} in the index. Pick one from the list of issues.")
        return
    sec = param("sec")
    target = browse.row_of(index, path, sec) if sec else None
    q = param("q")
    st.header(esc(p.title))
    st.markdown(f'<div class="kb-meta">{render.text(p.label)}</div><div class="kb-chips">{render.chips(p.tags)}'
                f'{render.chips(p.categories, "kb-topic")}</div>', unsafe_allow_html=True)
    if target is not None:
        st.markdown(f'<div class="kb-meta">Opened at section {index.sections[target].position + 1} of {len(p.rows)}: '
                    f'<a href="#kb-sec-{index.sections[target].position}">'
                    f'{render.text(index.sections[target].heading)}</a></div>', unsafe_allow_html=True)
    if p.intro:
        st.markdown(render.paragraph(p.intro), unsafe_allow_html=True)
    for r in p.rows:
        st.markdown(render.section(index.sections[r], q, target=(r == target)), unsafe_allow_html=True)


def view_resources(index) -> None:
    items = browse.resources(index)
    rq = param("rq")
    bind(st.text_input, "Filter resources", "rq", rq, placeholder="a word in the title or URL")
    if rq:
        low = rq.lower()
        items = [r for r in items if low in r.title.lower() or low in r.url.lower()
                 or any(low in m.heading.lower() for m in r.mentions)]
    st.caption(f"{len(items)} resource(s), each once (deduplicated by URL), most recently mentioned first.")
    limit = st.session_state.get("res-limit", 100)
    for r in items[:limit]:
        st.markdown(render.resource(r), unsafe_allow_html=True)
    if len(items) > limit:
        st.button(f"Show {min(100, len(items) - limit)} more", on_click=st.session_state.__setitem__,
                  args=("res-limit", limit + 100))


def view_stats(index) -> None:
    s = browse.stats(index)
    c1, c2, c3 = st.columns(3)
    c1.metric("Posts", s.posts)
    c2.metric("Sections", s.sections)
    c3.metric("Resources", len(browse.resources(index)))
    st.markdown(render.paragraph(
        f"Dates: {s.first_date or '—'} to {s.last_date or '—'}"
        + (f" ({s.undated_posts} undated post(s))" if s.undated_posts else "") + "\n"
        f"Model: {s.model}\nBuilt: {s.built_at}"
        + (f" in {s.build_seconds:.1f} s" if s.build_seconds is not None else "") + f"\nIndex version: {s.version}\n"
        f"Index: {backends.where(settings())}\nContent folder: {settings().content_dir}", "kb-body"),
        unsafe_allow_html=True)
    ch = changes(index)
    if ch.changed or ch.missing_folder:
        st.warning(f"The content folder has changed: {ch.summary()}.")
        for label, names in (("new", ch.added), ("changed", ch.modified), ("removed", ch.removed)):
            if names:
                st.caption(f"{label}: " + esc(", ".join(names[:20])) + (" …" if len(names) > 20 else ""))
    else:
        st.success("The index is up to date with the content folder.")
    if not ch.missing_folder and st.button("Rebuild the index (incremental)", type="primary" if ch.changed else "secondary"):
        rebuild()
    if s.skipped:
        with st.expander(f"{len(s.skipped)} file(s) skipped at the last build"):
            for name, reason in s.skipped.items():
                st.markdown(render.paragraph(f"{name}: {reason}", "kb-meta"), unsafe_allow_html=True)


def no_index(err: KbError) -> None:
    s = settings()
    st.title("kb — Weekly ML/DL News search")
    if isinstance(err, IndexMissing):
        st.info(f"No index yet in the {esc(backends.where(s))}. Build it from the posts in {esc(str(s.content_dir))} "
                "with:")
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
        st.warning(f"The content folder {esc(str(s.content_dir))} does not exist: set KB_CONTENT_DIR to your posts folder.")


# ---- page ---------------------------------------------------------------------------------------------------------

def main() -> None:
    st.set_page_config(page_title="kb — Weekly ML/DL News search", page_icon=":material/search:", layout="wide")
    st.markdown(render.CSS, unsafe_allow_html=True)
    try:
        index = get_index()
    except KbError as err:
        return no_index(err)
    view = param("view", "search")
    if view not in VIEWS:
        st.warning(f"Unknown page {esc(view[:20])}; showing search.")
        view = "search"
    with st.sidebar:
        st.title("kb")
        st.caption("Weekly ML/DL News — keyword, meaning and topic search")
        st.session_state["w_view"] = view
        st.radio("Page", options=list(VIEWS), format_func=VIEWS.get, label_visibility="collapsed", key="w_view",
                 on_change=lambda: go(view=st.session_state["w_view"]))
        s = browse.stats(index)
        st.caption(f"{s.posts} posts · {s.sections} sections · {esc(s.model)}")
        ch = changes(index)
        if ch.changed:
            st.warning(f"Content changed since the last build ({ch.summary()}).")
            st.button("Rebuild…", on_click=go, kwargs={"view": "stats"})
    if "flash" in st.session_state:
        st.success(st.session_state.pop("flash"))
    {"search": view_search, "topics": view_topics, "issues": view_issues, "resources": view_resources,
     "stats": view_stats}[view](index)


try:
    main()
except KbError as err:
    st.error(f"kb: {esc(str(err))}")
except Exception as err:  # noqa: BLE001 - people see one line, never a traceback
    first = str(err).strip().split("\n")[0][:300]
    st.error(f"kb: unexpected error ({type(err).__name__}: {esc(first)})")
