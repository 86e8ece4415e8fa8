"""Safe HTML for the app: post text is untrusted, so every string from a post is escaped here before the query's
terms are wrapped in <mark>, and only http(s) URLs become links (anything else, `javascript:` included, is shown
as text). The app passes only strings built here to `st.markdown(..., unsafe_allow_html=True)`.

Each fragment is one line that starts with a tag, so Markdown treats it as a raw HTML block and never parses the
post's text as Markdown; ASCII punctuation in post text is also written as character references, so not even a
stray `[x](y)`, `$math$` or `:emoji:` can turn into anything but text.
"""

from __future__ import annotations

import html
import re
import string

from kb.ingest.sections import GENERIC_ANCHOR_RE, is_web_url
from kb.query.explain import match_terms, term_pattern

_PUNCT = {c: f"&#{ord(c)};" for c in string.punctuation}
_MD_CHARS_RE = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>:$&=])")


def text(s: str) -> str:
    """Untrusted text → HTML text: escaped, ASCII punctuation as character references, newlines as <br>."""
    out = "".join(_PUNCT.get(c, c) for c in (s or "").replace("\r", ""))
    return out.replace("\n", "<br>")


def attr(s: str) -> str:
    """A value for a double-quoted HTML attribute."""
    return html.escape(s or "", quote=True)


def terms(query: str) -> list[str]:
    """The strings to highlight for a query: its words and their glossary synonyms (kb.query.explain.match_terms)."""
    return match_terms(query)


def _pattern(query: str) -> re.Pattern | None:
    return term_pattern(terms(query))


def highlight(s: str, query: str) -> str:
    """Untrusted text → safe HTML with the query's terms in <mark>. Matching runs on the raw text and each piece is
    escaped on its own, so a query can never produce or break markup."""
    s = s or ""
    rx = _pattern(query)
    if rx is None:
        return text(s)
    out, pos = [], 0
    for m in rx.finditer(s):
        if m.end() == m.start():
            continue
        out.append(text(s[pos:m.start()]))
        out.append(f"<mark>{text(m.group(0))}</mark>")
        pos = m.end()
    out.append(text(s[pos:]))
    return "".join(out)


def link(url: str, label: str | None = None, query: str = "") -> str:
    """A link if the URL is http(s), else the URL (or label) as plain text with the URL shown."""
    label_html = highlight(label, query) if label else text(url)
    if url and is_web_url(url):
        return f'<a href="{attr(url)}" target="_blank" rel="noopener noreferrer nofollow">{label_html}</a>'
    if url and label:
        return f'{label_html} <code class="kb-nolink">{text(url)}</code>'
    return f'<code class="kb-nolink">{text(url)}</code>'


def label(s: str) -> str:
    """Untrusted text for a Streamlit widget label (which renders a little Markdown): every Markdown character
    backslash-escaped, newlines flattened."""
    return _MD_CHARS_RE.sub(r"\\\1", " ".join((s or "").split()))


def short_url(url: str, width: int = 60) -> str:
    """'github.com/fastai/fastbook' from 'https://github.com/fastai/fastbook/' (for generic link texts)."""
    s = re.sub(r"^[a-z][a-z0-9+.-]*://(www\.)?", "", url or "", flags=re.I).rstrip("/")
    return s if len(s) <= width else s[: width - 1] + "…"


def _link_label(lk) -> str:
    t = (lk.text or "").strip()
    if not t or GENERIC_ANCHOR_RE.match(t):
        return short_url(lk.url) if is_web_url(lk.url) else t
    return t


def chips(values: list[str], cls: str = "kb-tag") -> str:
    return "".join(f'<span class="{cls}">{text(v)}</span>' for v in values)


# ---- text as people read it ----------------------------------------------------------------------------------

_LIST_ITEM_RE = re.compile(r"^[ \t]{0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_HEADING_LINE_RE = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]|$)")
_SENTENCE_END_RE = re.compile(r"[.!?。…)\]\"'”’:;~]$|[다요죠음함듯임됨봄옴]$")


def join_wrapped(s: str) -> str:
    """Plain text whose lines were hard-wrapped in the source → one line per paragraph: a line that does not end a
    sentence ('…이 사람과 같은') runs on into the next."""
    out: list[str] = []
    for line in (s or "").replace("\r", "").split("\n"):
        line = line.strip()
        if not line:
            continue
        if out and not _SENTENCE_END_RE.search(out[-1]):
            out[-1] += " " + line
        else:
            out.append(line)
    return "\n".join(out)


def blocks(markdown: str) -> list[tuple[str, str]]:
    """A section's markdown → what a reader sees, as (kind, plain text) blocks: "p" paragraphs with hard-wrapped
    lines joined into sentences, "li" list items, "h" sub-headings, "pre" code. The section's own heading line and
    link-only lines (the 참고링크 line) are left out; markdown is stripped the way the index strips it."""
    from kb.ingest.sections import _FENCE_RE, _drop_html_noise, strip_markdown

    lines = _drop_html_noise(markdown or "").replace("\r", "").split("\n")
    if lines and _HEADING_LINE_RE.match(lines[0]):
        lines = lines[1:]
    units: list[list] = []
    cur: list | None = None
    fence = False
    for ln in lines:
        if _FENCE_RE.match(ln):
            fence = not fence
            cur = ["pre", []] if fence else None
            if fence:
                units.append(cur)
            continue
        if fence:
            cur[1].append(ln)
        elif not ln.strip():
            cur = None
        elif _HEADING_LINE_RE.match(ln):
            units.append(["h", [ln]])
            cur = None
        elif _LIST_ITEM_RE.match(ln):
            cur = ["li", [ln]]
            units.append(cur)
        elif ln.lstrip().startswith("|"):
            units.append(["p", [ln]])
            cur = None
        elif cur is None:
            cur = ["p", [ln]]
            units.append(cur)
        else:
            cur[1].append(ln)
    out = []
    for kind, body in units:
        if kind == "pre":
            txt = "\n".join(body).strip("\n")
        else:
            txt = " ".join(strip_markdown("\n".join(body)).split("\n")).strip()
        if txt:
            out.append((kind, txt))
    return out


def body(markdown: str, query: str = "") -> str:
    """A section's commentary as HTML paragraphs and lists, escaped, the query's terms marked."""
    html_parts, items = [], []
    for kind, txt in blocks(markdown):
        if kind == "li":
            items.append(f"<li>{highlight(txt, query)}</li>")
            continue
        if items:
            html_parts.append("<ul>" + "".join(items) + "</ul>")
            items = []
        if kind == "pre":
            html_parts.append(f"<pre>{text(txt)}</pre>")
        elif kind == "h":
            html_parts.append(f'<p class="kb-sub">{highlight(txt, query)}</p>')
        else:
            html_parts.append(f"<p>{highlight(txt, query)}</p>")
    if items:
        html_parts.append("<ul>" + "".join(items) + "</ul>")
    return "".join(html_parts)


def cut(s: str, width: int) -> str:
    """At most `width` characters, cut after a sentence if one ends in the last third, else between words."""
    s = " ".join((s or "").split())
    if len(s) <= width:
        return s
    head = s[: width - 1]
    ends = [m.end() for m in re.finditer(r"[.!?。](?=\s)", head)]
    if ends and ends[-1] >= width * 2 // 3:
        return head[: ends[-1]]
    space = head.rfind(" ")
    if space >= width // 2:
        head = head[:space]
    return head.rstrip(" ,;:·-") + "…"


def snippet(s: str) -> str:
    """A snippet for display: one line; one that the search cut mid-word ('…데이터사이언…') ends at a word."""
    s = " ".join((s or "").split())
    if s.endswith("…"):
        head = s[:-1].rstrip()
        space = head.rfind(" ")
        if space >= len(head) - 25 and space > 0:
            head = head[:space]
        s = head.rstrip(" ,;:·-") + "…"
    return s


def issue_name(title: str, week: str, date: str) -> str:
    """'Weekly ML/DL News (3월 3주차) · 2021-03-20': the week only when the title does not already say it."""
    parts = [title or ""]
    if week and week not in (title or ""):
        parts.append(week)
    if date:
        parts.append(date)
    return " · ".join(p for p in parts if p)


def meta_line(post_title: str, week: str, date: str) -> str:
    parts = [f'<span class="kb-post">{text(post_title)}</span>']
    if week and week not in (post_title or ""):
        parts.append(f'<span class="kb-week">{text(week)}</span>')
    parts.append(f'<span class="kb-date">{text(date) if date else "no date"}</span>')
    return " · ".join(parts)


# ---- in-app links --------------------------------------------------------------------------------------------

def go_link(href: str, label_html: str, cls: str = "", current: bool = False, keep: str = "") -> str:
    """A link to another state of the app (`?view=…`). With the app's script it navigates without a reload and
    makes exactly one browser-history entry, first copying the parameters named in `keep` (space-separated) from
    the address bar, which a part of the page that reran alone may have changed; without the script it is an
    ordinary link. `label_html` must be safe HTML."""
    c = f' class="{attr(cls)}"' if cls else ""
    cur = ' aria-current="page"' if current else ""
    kp = f' data-kb-keep="{attr(keep)}"' if keep else ""
    return f'<a href="{attr(href)}" data-kb-go="1" target="_self"{c}{cur}{kp}>{label_html}</a>'


def nav(items: list[tuple[str, str, bool]], keep: str = "") -> str:
    """The page row: (href, label, current) per page."""
    links = "".join(go_link(h, text(lbl), "kb-on" if on else "", current=on, keep=keep) for h, lbl, on in items)
    return f'<nav class="kb-nav"><span class="kb-brand">kb</span>{links}</nav>'


def pager(prev_href: str | None, next_href: str | None, where: str, prev_label: str = "← Newer",
          next_label: str = "Older →") -> str:
    """'← Newer · 26–50 of 1,000 · Older →' (a side without a page is shown disabled)."""
    left = go_link(prev_href, text(prev_label)) if prev_href else f'<span class="kb-off">{text(prev_label)}</span>'
    right = go_link(next_href, text(next_label)) if next_href else f'<span class="kb-off">{text(next_label)}</span>'
    return f'<div class="kb-pager">{left}<span class="kb-where">{text(where)}</span>{right}</div>'


def end_marker(run: str, state: str = "") -> str:
    """The last element of every page draw: tells the app's script that the page is complete (and, on a results
    page, which results are shown, so their scroll position can be kept and restored)."""
    return f'<div class="kb-end" data-run="{attr(run)}" data-state="{attr(state)}"></div>'


# ---- cards, sections, resources -------------------------------------------------------------------------------

def is_weak(hit) -> bool:
    """A hit the search marked as a weak match (the search's `weak` flag, when it provides one)."""
    return bool(getattr(hit, "weak", False) or (hit.scores or {}).get("weak"))


def why_table(hit, reasons: list[str] | None = None) -> str:
    """'Why this result': the reasons in words (kb.query.explain), then each leg's raw score and rank."""
    if not hit.scores and not reasons:
        return ""
    said = "".join(f"<li>{text(r)}</li>" for r in reasons or [])
    rows = "".join(f"<tr><td>{text(leg)}</td><td>{v:.4f}</td><td>{hit.ranks.get(leg, '')}</td></tr>"
                   for leg, v in hit.scores.items() if isinstance(v, int | float))
    return ('<details class="kb-why"><summary>Why this result</summary>'
            + (f'<ul class="kb-reasons">{said}</ul>' if said else "")
            + f'<table><tr><th>leg</th><th>score</th><th>rank</th></tr>{rows}</table><div class="kb-meta">Final '
            f"score {hit.score:.4f}. Hybrid mixes the keyword (BM25) and meaning (embedding) legs; exact_name pins "
            "a section whose resource name is the query.</div></details>")


def card(hit, query: str = "", topics: list[str] | None = None, actions: list[tuple[str, str]] | None = None,
         why: bool = True, reasons: list[str] | None = None, fixes: list[tuple[str, str]] | None = None) -> str:
    """A result card: heading (linked to the resource when it is a web URL), post title · date, the snippet with
    the query's terms marked, other links, the section's topics, and in-app actions (href, label)."""
    head = link(hit.url, hit.heading, query) if hit.url else highlight(hit.heading, query)
    others = [lk for lk in hit.links if lk.url != hit.url][:4]
    more = ""
    if others:
        more = '<div class="kb-links">' + " · ".join(link(lk.url, _link_label(lk)) for lk in others) + "</div>"
    snip = f'<div class="kb-snippet">{highlight(snippet(hit.snippet), query)}</div>' if hit.snippet else ""
    tops = f'<div class="kb-chips" title="topics of this section">{chips(topics, "kb-topic")}</div>' if topics else ""
    acts = "".join(go_link(h, text(lbl), "kb-act") for h, lbl in (actions or []))
    fix = ""
    if fixes:                   # topic corrections: (href, label) links, e.g. "Not NLP", "Add to Vision"
        fix = ('<details class="kb-why"><summary>Topics…</summary><div class="kb-fixes">'
               + " ".join(go_link(h, text(lbl), "kb-act") for h, lbl in fixes) + "</div></details>")
    foot = f'{tops}<div class="kb-foot">{acts}{fix}{why_table(hit, reasons) if why else ""}</div>'
    weak = " kb-weak" if is_weak(hit) else ""
    return (f'<div class="kb-card{weak}" data-row="{int(hit.row)}"><div class="kb-heading">{head}</div>'
            f'<div class="kb-meta">{meta_line(hit.post_title, hit.week, hit.date)}</div>'
            f'{snip}{more}{foot}</div>')


def section(s, query: str = "", target: bool = False, topics: list[str] | None = None) -> str:
    """One section of a post, whole: heading, every link (web links clickable), the commentary as paragraphs and
    lists, and its topics."""
    head = highlight(s.heading, query)
    links = " · ".join(link(lk.url, _link_label(lk)) for lk in s.links)
    cls = "kb-section kb-target" if target else "kb-section"
    mark = '<div class="kb-here">▶ The section you opened</div>' if target else ""
    tops = f'<div class="kb-chips">{chips(topics, "kb-topic")}</div>' if topics else ""
    return (f'<div class="{cls}" id="kb-sec-{int(s.position)}">{mark}<div class="kb-heading">{head}</div>'
            f'<div class="kb-links">{links}</div><div class="kb-body">{body(s.markdown, query)}</div>{tops}</div>')


def histogram(hist, noun: str = "sections") -> str:
    """An appdata.Histogram as a small CSS bar chart (no chart library to load): one bar per month or year, the
    first and last labelled, each bar's count in its tooltip."""
    if not hist.bars:
        return ""
    top = max(c for _, c in hist.bars) or 1
    bars = "".join(f'<span style="height:{round(100 * c / top)}%" title="{attr(k)}: {c} {attr(noun)}"></span>'
                   for k, c in hist.bars)
    first, last = hist.bars[0][0], hist.bars[-1][0]
    label = f"{noun.capitalize()} per {hist.unit}, {first} to {last}"
    return (f'<div class="kb-chart" role="img" aria-label="{attr(label)}"><div class="kb-bars">{bars}</div>'
            f'<div class="kb-axis"><span>{text(first)}</span><span>{text(label)}</span><span>{text(last)}</span>'
            "</div></div>")


def paragraph(s: str, cls: str = "kb-intro") -> str:
    return f'<div class="{cls}">{text(s)}</div>'


def resource(res, week_href=None) -> str:
    """A resources-view row: the link (only if web), its title, and the weeks that mention it, each a link to the
    section in its issue when `week_href(mention)` gives one."""
    seen, weeks = set(), []
    for m in res.mentions:
        key = (m.path, m.week, m.date)
        if key in seen:
            continue
        seen.add(key)
        label = text(" · ".join(x for x in (m.week, m.date) if x) or m.path)
        weeks.append(go_link(week_href(m), label) if week_href else label)
    where = "; ".join(text(m.heading) for m in res.mentions[:3])
    n = len(res.mentions)
    return (f'<div class="kb-res"><div class="kb-heading">{link(res.url, res.title)}</div>'
            f'<div class="kb-url">{text(res.url)}</div>'
            f'<div class="kb-meta">{n} mention{"" if n == 1 else "s"}: {", ".join(weeks)} — {where}</div></div>')


CSS = """<style>
.stApp { word-break: keep-all; overflow-wrap: break-word; }
.stApp a { color: #1d4ed8; }
[data-testid="stMainBlockContainer"] { padding-top: 0.9rem; padding-bottom: 3rem; max-width: 60rem; }
[data-testid="stHeader"] { height: 2.6rem; min-height: 2.6rem; background: transparent; }
[data-testid="stElementContainer"]:has(.kb-end), [data-testid="stElementContainer"]:has(.kb-js) { display: none; }
.kb-nav { display: flex; gap: 0.2rem 0.9rem; align-items: baseline; flex-wrap: wrap; padding-right: 2.6rem;
  font-size: 0.95rem; }
.kb-nav a { text-decoration: none; color: inherit; padding: 0.15rem 0; border-bottom: 2px solid transparent; }
.kb-nav a.kb-on { border-bottom-color: #f59e0b; font-weight: 600; }
.kb-brand { font-weight: 700; font-size: 1.15rem; margin-right: 0.3rem; }
.kb-card, .kb-res { line-height: 1.5; padding: 0.7rem 0.9rem; margin: 0 0 0.6rem 0; border: 1px solid #e5e7eb;
  border-radius: 0.5rem; }
.kb-res { padding: 0.45rem 0.7rem; }
.kb-weak { opacity: 0.8; }
.kb-weakline { color: #6b7280; font-size: 0.86rem; margin: 0.8rem 0 0.4rem 0; border-top: 1px dashed #d1d5db;
  padding-top: 0.4rem; }
.kb-heading { font-size: 1.06rem; font-weight: 600; line-height: 1.35; }
.kb-heading a { text-decoration: none; }
.kb-meta { color: #6b7280; font-size: 0.85rem; margin: 0.1rem 0 0.3rem 0; }
.kb-snippet { font-size: 0.95rem; }
.kb-body { font-size: 0.97rem; line-height: 1.65; }
.kb-body p { margin: 0 0 0.55rem 0; }
.kb-body ul { margin: 0 0 0.55rem 1.1rem; padding: 0; }
.kb-body pre { white-space: pre-wrap; font-size: 0.85rem; background: #f9fafb; padding: 0.4rem; }
.kb-sub { font-weight: 600; }
.kb-links { font-size: 0.82rem; margin: 0.15rem 0; overflow-wrap: anywhere; }
.kb-url { font-size: 0.78rem; color: #6b7280; overflow-wrap: anywhere; }
.kb-foot { display: flex; flex-wrap: wrap; gap: 0.2rem 0.9rem; align-items: baseline; margin-top: 0.35rem;
  font-size: 0.86rem; }
.kb-act { text-decoration: none; white-space: nowrap; }
.kb-why summary { cursor: pointer; color: #6b7280; }
.kb-why table { font-size: 0.8rem; margin: 0.3rem 0; }
.kb-why td, .kb-why th { padding: 0.1rem 0.6rem 0.1rem 0; text-align: left; }
.kb-tag, .kb-topic { display: inline-block; font-size: 0.74rem; border-radius: 0.6rem; padding: 0 0.5rem;
  margin: 0 0.25rem 0.15rem 0; white-space: nowrap; }
.kb-tag { background: #eef2ff; color: #3730a3; }
.kb-topic { background: #ecfdf5; color: #065f46; }
.kb-section { border-left: 3px solid #e5e7eb; padding-left: 0.8rem; margin: 0.6rem 0 1.2rem 0; }
.kb-target { border-left: 4px solid #f59e0b; background: #fffbeb; padding: 0.5rem 0.8rem; }
.kb-here { font-size: 0.78rem; color: #b45309; font-weight: 600; }
.kb-earlier > summary { cursor: pointer; color: #4b5563; font-size: 0.9rem; margin: 0.3rem 0; }
.kb-back { display: inline-block; margin: 0.2rem 0 0.4rem 0; text-decoration: none; }
.kb-title { font-size: 1.5rem; font-weight: 700; line-height: 1.3; margin: 0.2rem 0; }
.kb-pager { display: flex; gap: 1rem; align-items: baseline; justify-content: center; margin: 0.8rem 0;
  font-size: 0.9rem; }
.kb-off { color: #9ca3af; }
.kb-where { color: #6b7280; }
.kb-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 0.6rem; }
.kb-grid a { display: block; padding: 0.6rem 0.8rem; border: 1px solid #e5e7eb; border-radius: 0.5rem;
  text-decoration: none; color: inherit; }
.kb-grid a span { color: #6b7280; font-size: 0.85rem; }
.kb-examples a { display: inline-block; margin: 0 0.4rem 0.4rem 0; padding: 0.15rem 0.7rem; border: 1px solid #e5e7eb;
  border-radius: 1rem; text-decoration: none; color: inherit; }
.kb-issue { padding: 0.5rem 0; border-bottom: 1px solid #f3f4f6; }
.kb-issue a { font-weight: 600; text-decoration: none; }
.kb-nolink { font-size: 0.78rem; }
.kb-chart { margin: 0.4rem 0 0.8rem 0; }
.kb-bars { display: flex; align-items: flex-end; gap: 2px; height: 64px; border-bottom: 1px solid #d1d5db; }
.kb-bars span { flex: 1 1 0; background: #93c5fd; min-width: 1px; }
.kb-axis { display: flex; justify-content: space-between; gap: 0.5rem; font-size: 0.75rem; color: #6b7280; }
.kb-described { font-size: 0.85rem; color: #6b7280; margin-bottom: 0.3rem; }
.kb-intro { margin: 0.3rem 0 0.8rem 0; }
.kb-chips { font-size: 0.85rem; color: #6b7280; margin-top: 0.3rem; }
mark { background: #fde68a; padding: 0 0.1rem; border-radius: 0.15rem; }
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-left: 0.8rem; padding-right: 0.8rem; padding-top: 0.6rem; }
  .kb-nav { font-size: 0.9rem; gap: 0.2rem 0.7rem; }
  .kb-card { padding: 0.55rem 0.7rem; margin-bottom: 0.5rem; }
  .kb-snippet { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; }
  .kb-card .kb-links { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .kb-title { font-size: 1.25rem; }
  [data-testid="stButtonGroup"] button { padding-left: 0.6rem; padding-right: 0.6rem; }
  [data-testid="stPopoverButton"] { padding-left: 0.6rem; padding-right: 0.6rem; }
}
</style>"""

# The app's one script (our own text, never post text): in-app links (data-kb-go) navigate through the browser
# history without reloading the page, so one Back returns; a results page's scroll position is kept per results
# state and restored when you come back to it; a page reached by a link starts at its top; and a change of mode,
# result count or filter replaces the current history entry instead of adding one.
SCRIPT = """<div class="kb-js"><script>
(() => {
  if (window.__kbNav) return;
  window.__kbNav = true;
  const KEY = 'kb-scroll:';
  const NAV = ['view', 'post', 'sec', 'more', 'q', 'topic', 'page'];
  const push = history.pushState.bind(history);
  const scroller = () => document.querySelector('[data-testid="stMain"]') || document.scrollingElement;
  const end = () => document.querySelector('.kb-end');
  let pending = null;
  const save = () => {
    const e = end();
    if (pending === null && e && e.dataset.state) {
      try { sessionStorage.setItem(KEY + e.dataset.state, String(scroller().scrollTop)); } catch (err) {}
    }
  };
  const leaving = () => { save(); const e = end(); pending = e ? e.dataset.run : ''; };
  const arrive = () => {
    const e = end();
    if (pending === null || !e || e.dataset.run === pending) return;
    pending = null;
    let y = 0;
    if (e.dataset.state) { try { y = Number(sessionStorage.getItem(KEY + e.dataset.state) || 0); } catch (err) {} }
    const go = () => { scroller().scrollTop = y; };
    go(); requestAnimationFrame(go); setTimeout(go, 120);
  };
  history.pushState = function (state, title, url) {
    try {
      const a = new URL(url, location.href), b = new URL(location.href);
      if (a.pathname === b.pathname &&
          (NAV.every(k => a.searchParams.getAll(k).join('\\u0000') === b.searchParams.getAll(k).join('\\u0000'))
           || (b.searchParams.get('q') || '').length > 500)) {   // the app cut an over-long query: no way back to it
        return history.replaceState(state, title, url);
      }
    } catch (err) {}
    return push(state, title, url);
  };
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[data-kb-go]');
    if (!a || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    const url = new URL(a.getAttribute('href'), location.href), now = new URLSearchParams(location.search);
    for (const k of (a.dataset.kbKeep || '').split(' ').filter(Boolean)) {
      url.searchParams.delete(k);
      for (const v of now.getAll(k)) url.searchParams.append(k, v);
    }
    leaving();
    push({}, '', url.pathname + url.search);
    window.dispatchEvent(new PopStateEvent('popstate', {state: {}}));
  }, true);
  window.addEventListener('popstate', () => { if (pending === null) leaving(); }, true);
  let ticking = false;
  document.addEventListener('scroll', () => {
    if (ticking) return;
    ticking = true;
    requestAnimationFrame(() => { ticking = false; save(); });
  }, true);
  new MutationObserver(() => { if (pending !== null) arrive(); })
    .observe(document.body, {childList: true, subtree: true});
})();
</script></div>"""
