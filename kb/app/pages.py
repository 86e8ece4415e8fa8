"""The browsing pages: topics (the overview and one topic), issues (the list and one post), resources, stats, and
the page shown when there is no index yet."""

from __future__ import annotations

import os

import streamlit as st

from kb import backends
from kb import topics as kbtopics
from kb.app import data as appdata
from kb.app import html as render
from kb.app.corrections import corrections_list, removed_here
from kb.app.loading import assignment, get_topics, rebuild, settings, topics_error
from kb.app.results import card_html, html, issue_meta, pager_html
from kb.app.urlstate import FILTERS, MAX_QUERY, P, bind, current, esc, href, param, post_href, results_state
from kb.backends.filters import newest_first
from kb.core.errors import IndexMissing, KbError
from kb.query import browse
from kb.query.explain import term_pattern

PER_PAGE = {"issues": 25, "resources": 50, "topic": 20, "post": 100}
PAGE_BUDGET = 2_000_000      # characters of sections' HTML on one post page before the rest are named only


def view_topics(index, warm, d) -> str:
    ts = get_topics()
    if ts is None:
        st.error(f"kb: {esc(topics_error())}")
        st.caption("Fix the topics.toml file in the content folder, or delete it to use the shipped topics; search "
                   "works meanwhile.")
        return ""
    a = assignment(index, warm, wait=True)
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
    removed = [r for r in removed_here(index, topic.name) if r not in set(rows)]
    if not rows and not removed:
        html(head + corrections_block(topic))
        st.info("No section is assigned to this topic yet. Add phrases or keywords to the topics file.")
        return ""
    weeks = len({index.sections[r].post_path for r in rows})
    shown = newest_first(rows + removed, a.dates) if removed else rows
    page, pages, start, end = appdata.page_slice(len(shown), param("page"), PER_PAGE["topic"])
    head += (f'<div class="kb-meta">{len(rows)} sections from {weeks} weekly issue{"s" if weeks != 1 else ""}, '
             "newest first.</div>")
    if page == 1:
        hist = appdata.histogram([index.sections[r].date for r in rows])
        head += render.histogram(hist)
        if hist.left_out:
            head += (f'<div class="kb-meta">{hist.left_out} section(s) dated outside {appdata.PLAUSIBLE_FROM.year}–'
                     "next year are not charted (a typo in the post's date?).</div>")
    html(head)
    base = current()
    cards = []
    for r in shown[start:end]:
        why = a.why(r, topic.name)
        hit = browse.hit_for_row(index, r, score=why["z"], scores={})
        cards.append(card_html(index, hit, "", a, base=base, only_topic=topic.name, removed=r in removed,
                               why_html=render.why_topic(topic_reasons(index, topic, r, why, a.rival_topic(r, topic.name)),
                                                         why)))
    pager = pager_html(len(shown), page, pages, start, end, "sections") if pages > 1 else ""
    html('<div class="kb-results">' + "".join(cards) + "</div>" + pager + corrections_block(topic))
    return results_state() + f"p{page}"


def topic_reasons(index, topic, row: int, why: dict[str, float], rival=None) -> list[str]:
    """Why a section belongs to a topic, in words: a correction, the topic's words it holds, how close it is in
    meaning to the topic's description and to the topic's other sections, what the learned prior says, and the
    subject topic (`rival`) that holds it more clearly, if that lowered its score here."""
    if why.get("corrected", 0) > 0:
        return ["Someone added it to this topic by hand (a correction in the topics file)."]
    if why.get("corrected", 0) < 0:
        return ["Someone removed it from this topic (a correction in the topics file)."]
    s = index.sections[row]
    out = []
    for kw in topic.keywords:
        rx = term_pattern([kw])
        where = [n for n, v in (("heading", s.heading), ("text", s.text[:20_000])) if rx is not None and rx.search(v or "")]
        if where:
            out.append(f"The topic's word “{kw}” is in its {' and '.join(where)}.")
        if len(out) == 3:
            break
    meaning = why.get("meaning", why.get("z", 0.0))
    out.append("Very close in meaning to how the topic is described." if meaning > 1.0 else
               "Related in meaning to how the topic is described." if meaning > 0.0 else
               "Not especially close in meaning to how the topic is described.")
    if why.get("example", 0.0) > 0.0 and why.get("example_weight", 1.0) > 0.0:     # said only where it counts
        out.append("Close in meaning to other sections of this topic.")
    if why.get("prior", 0.0) >= 1.0:
        out.append("Much like the sections people put in this topic by hand (what kb learned from them).")
    lowered = why.get("rival", 0.0)       # ≤ 0; out of the topic yet over its threshold without the cut: the cut decided
    decided = why.get("member", 1.0) == 0.0 and why.get("score", 0.0) - lowered >= why.get("threshold", float("inf"))
    if rival is not None and (lowered <= -0.5 or decided):
        out.append(f"It is more clearly about {rival.label}, so it needed more evidence to be here too.")
    if why.get("member", 1.0) == 0.0:
        out.append("It is not in the topic now.")
    return out


def corrections_block(topic) -> str:
    """The corrections of this topic in the topics file, each undoable."""
    return ('<details class="kb-why kb-corrections"><summary>Corrections of this topic</summary>'
            + corrections_list(get_topics(), only=topic.name) + "</details>")


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
                     f'<div class="kb-meta">{render.text(issue_meta(p))}</div>'
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
             f'<div class="kb-meta">{render.text(issue_meta(p))}</div>{tags}']
    intro = (render.paragraph(render.join_wrapped(p.intro[:render.MAX_SECTION_CHARS]), "kb-body kb-intro")
             if p.intro and page == 1 else "")
    draw = _bounded_sections(index, path, q)
    if target is not None and target in shown:
        i = shown.index(target)
        before = shown[:i]
        if before or intro:
            names = " · ".join(index.sections[r].heading[:120] for r in before[:12]) + (" …" if len(before) > 12
                                                                                          else "")
            label = (f"{len(before)} earlier section{'s' if len(before) != 1 else ''} of this issue"
                     if before else "The issue's introduction")
            parts.append(f'<details class="kb-earlier"><summary>{render.text(label)}'
                         f'{": " + render.text(names) if names else ""}</summary>{intro}'
                         + "".join(draw(r) for r in before) + "</details>")
        parts.append(draw(target, True))
        parts += [draw(r) for r in shown[i + 1:]]
    else:
        parts.append(intro)
        parts += [draw(r) for r in shown]
    if pages > 1:
        parts.append(pager_html(n, page, pages, start, end, "sections"))
    html("".join(parts))
    return ""


def _bounded_sections(index, path: str, q: str):
    """draw(row, target=False) → a section's HTML; once a page holds PAGE_BUDGET characters, the sections after
    it are named only, each a link that opens it (whatever a post holds, a page stays light)."""
    used = [0]

    def draw(r: int, target: bool = False) -> str:
        s = index.sections[r]
        if used[0] > PAGE_BUDGET and not target:
            return render.section_stub(s, post_href(path, s.position))
        out = render.section(s, q, target=target)
        used[0] += len(out)
        return out

    return draw


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
    with st.expander("Topic corrections"):
        html(corrections_list(get_topics()))
    if show_paths():
        with st.expander("Folders (KB_SHOW_PATHS is set)"):
            html(render.paragraph(f"Index: {backends.where(settings())}\nContent folder: {settings().content_dir}",
                                  "kb-meta"))
    return ""


def show_paths() -> bool:
    """Whether Stats names this machine's folders: only when the person who runs kb asks for it with
    KB_SHOW_PATHS=1 (visitors never need them)."""
    return os.environ.get("KB_SHOW_PATHS", "").strip().lower() in ("1", "true", "yes")


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
