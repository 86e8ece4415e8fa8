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
from dataclasses import dataclass, field
from pathlib import Path

from kb.ingest.sections import GENERIC_ANCHOR_RE, is_web_url
from kb.query.explain import match_terms, term_pattern
from kb.text.words import cut  # noqa: F401 - the app's pages cut text with render.cut

MAX_SECTION_LINKS = 40        # links drawn per section; the rest are counted ("and 199,960 more links")
MAX_SECTION_CHARS = 8_000     # characters of a section's commentary drawn; the rest are counted
MAX_URL_CHARS = 2_000         # a longer URL is shown cut, as text (no browser needs a longer link)
MAX_HEADING_CHARS = 300
MAX_MENTIONS = 30             # weeks listed per resource; the rest are counted

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
    if len(url or "") > MAX_URL_CHARS:             # no browser needs it; a post could make pages heavy with it
        return f'{highlight((label or "")[:MAX_HEADING_CHARS], query)} <code class="kb-nolink">{text(url[:120])}… ({len(url):,} characters)</code>'
    label = (label or "")[:MAX_HEADING_CHARS * 4]
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

def go_link(href: str, label_html: str, cls: str = "", current: bool = False, keep: str = "", stay: bool = False,
            focus: bool = False, aria: str = "") -> str:
    """A link to another state of the app (`?view=…`). With the app's script it navigates without a reload and
    makes exactly one browser-history entry, first copying the parameters named in `keep` (space-separated) from
    the address bar, which a part of the page that reran alone may have changed; `stay` keeps the reader's scroll
    position (Show more, a correction); `focus` gives it the keyboard focus once drawn. Without the script it is
    an ordinary link. `label_html` must be safe HTML."""
    c = f' class="{attr(cls)}"' if cls else ""
    cur = ' aria-current="page"' if current else ""
    kp = f' data-kb-keep="{attr(keep)}"' if keep else ""
    extra = (' data-kb-stay="1"' if stay else "") + (' data-kb-focus="1"' if focus else "")
    extra += f' aria-label="{attr(aria)}"' if aria else ""
    return f'<a href="{attr(href)}" data-kb-go="1" target="_self"{c}{cur}{kp}{extra}>{label_html}</a>'


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


def end_marker(run: str, state: str = "", title: str = "") -> str:
    """The last element of every page draw: tells the app's script that the page is complete, the page's title
    (a part of the page that reran alone cannot set it otherwise) and, on a results page, which results are
    shown, so their scroll position can be kept and restored."""
    t = f' data-title="{attr(title)}"' if title else ""
    return f'<div class="kb-end" data-run="{attr(run)}" data-state="{attr(state)}"{t}></div>'


# ---- cards, sections, resources -------------------------------------------------------------------------------

def is_weak(hit) -> bool:
    """A hit the search marked as a weak match (the search's `weak` flag, when it provides one)."""
    return bool(getattr(hit, "weak", False) or (hit.scores or {}).get("weak"))


def _numbers(hit) -> str:
    """Each leg's raw score and rank, and the final score: the numbers behind "Why this result"."""
    rows = "".join(f"<tr><td>{text(leg)}</td><td>{int(v) if leg == 'searched' else f'{v:.4f}'}</td>"
                   f"<td>{hit.ranks.get(leg, '')}</td></tr>"
                   for leg, v in hit.scores.items() if isinstance(v, int | float))
    return (f'<details class="kb-nums"><summary>The numbers</summary><table><tr><th>leg</th><th>score</th>'
            f'<th>rank</th></tr>{rows}</table><div class="kb-meta">Final score {hit.score:.4f}. Hybrid mixes the '
            "keyword (BM25) and meaning (embedding) legs; exact_name pins a section whose resource name is the "
            "query.</div></details>")


def why_table(hit, reasons: list[str] | None = None) -> str:
    """'Why this result': the reasons in plain words first, the numbers behind a toggle."""
    if not hit.scores and not reasons:
        return ""
    said = "".join(f"<li>{text(r)}</li>" for r in reasons or [])
    return ('<details class="kb-why"><summary>Why this result</summary>'
            + (f'<ul class="kb-reasons">{said}</ul>' if said else "") + _numbers(hit) + "</details>")


def why_topic(reasons: list[str], numbers: dict[str, float]) -> str:
    """'Why this topic' on a topic page: why the section belongs, in words, then the topic score's numbers."""
    said = "".join(f"<li>{text(r)}</li>" for r in reasons)
    rows = "".join(f"<tr><td>{text(k)}</td><td>{v:.3f}</td></tr>" for k, v in numbers.items())
    return (f'<details class="kb-why"><summary>Why this topic</summary><ul class="kb-reasons">{said}</ul>'
            f'<details class="kb-nums"><summary>The numbers</summary><table><tr><th>part</th><th>value</th></tr>'
            f"{rows}</table></details></details>")


@dataclass
class Actions:
    """What a card offers besides its text: in-app links (href, label), topic corrections shown as they are
    ("Not in NLP"), more corrections folded ("Add to a topic…"), a note about a correction just made (safe
    HTML: the Undo), and the reasons in words (safe HTML from why_table / why_topic)."""
    links: list[tuple[str, str]] = field(default_factory=list)
    fixes: list[tuple[str, str]] = field(default_factory=list)
    more_fixes: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""
    why: str = ""


def card(hit, query: str = "", topics: list[str] | None = None, acts: Actions | None = None,
         removed: bool = False) -> str:
    """A result card: heading (linked to the resource when it is a web URL), post title · date, the snippet with
    the query's terms marked, other links, the section's topics, its actions and a correction's Undo."""
    acts = acts or Actions()
    heading = hit.heading[:MAX_HEADING_CHARS]
    head = link(hit.url, heading, query) if hit.url else highlight(heading, query)
    others = [lk for lk in hit.links if lk.url != hit.url][:4]
    more = ""
    if others:
        more = '<div class="kb-links">' + " · ".join(link(lk.url, _link_label(lk)) for lk in others) + "</div>"
    snip = f'<div class="kb-snippet">{highlight(snippet(hit.snippet), query)}</div>' if hit.snippet else ""
    tops = f'<div class="kb-chips" title="topics of this section">{chips(topics, "kb-topic")}</div>' if topics else ""
    links = "".join(go_link(h, text(lbl), "kb-act") for h, lbl in acts.links)
    fix = "".join(go_link(h, text(lbl), "kb-act kb-fix", stay=True) for h, lbl in acts.fixes)
    if acts.more_fixes:
        fix += ('<details class="kb-add"><summary>Add to a topic…</summary><div class="kb-fixes">'
                + "".join(go_link(h, text(lbl), "kb-act kb-fix", stay=True) for h, lbl in acts.more_fixes)
                + "</div></details>")
    foot = f'{tops}<div class="kb-foot">{links}{fix}{acts.why}</div>'
    cls = "kb-card" + (" kb-weak" if is_weak(hit) else "") + (" kb-removed" if removed else "")
    return (f'<div class="{cls}" data-row="{int(hit.row)}"><div class="kb-heading">{head}</div>'
            f'<div class="kb-meta">{meta_line(hit.post_title, hit.week, hit.date)}</div>'
            f'{snip}{more}{acts.note}{foot}</div>')


def _bounded_link(lk) -> str:
    return link(lk.url, _link_label(lk)[:MAX_HEADING_CHARS])


def section_links(s) -> str:
    """A section's links, at most MAX_SECTION_LINKS of them, then how many more there are and the section's main
    link (its source): a post cannot make a page heavy."""
    shown = s.links[:MAX_SECTION_LINKS]
    out = " · ".join(_bounded_link(lk) for lk in shown)
    rest = len(s.links) - len(shown)
    if rest > 0:
        src = f" The section's source: {_bounded_link(s.links[0])}." if s.links else ""
        out += f'<div class="kb-meta kb-capped">and {rest:,} more link{"s" if rest != 1 else ""}, not shown.{src}</div>'
    return out


def section(s, query: str = "", target: bool = False, topics: list[str] | None = None) -> str:
    """One section of a post: heading, its links (web links clickable; at most MAX_SECTION_LINKS), the commentary
    as paragraphs and lists (at most MAX_SECTION_CHARS), and its topics."""
    head = highlight(s.heading[:MAX_HEADING_CHARS], query)
    md = s.markdown or ""
    cut_note = ""
    if len(md) > MAX_SECTION_CHARS:
        cut_note = (f'<div class="kb-meta kb-capped">The rest of this section ({len(md) - MAX_SECTION_CHARS:,} '
                    "characters) is not shown; read it in the post's source.</div>")
        md = md[:MAX_SECTION_CHARS]
    cls = "kb-section kb-target" if target else "kb-section"
    mark = '<div class="kb-here">▶ The section you opened</div>' if target else ""
    tops = f'<div class="kb-chips">{chips(topics, "kb-topic")}</div>' if topics else ""
    return (f'<div class="{cls}" id="kb-sec-{int(s.position)}">{mark}<div class="kb-heading">{head}</div>'
            f'<div class="kb-links">{section_links(s)}</div><div class="kb-body">{body(md, query)}{cut_note}</div>'
            f"{tops}</div>")


def section_stub(s, href: str) -> str:
    """A section named only, with a link to open it: what a page shows once it holds as much as it should."""
    return (f'<div class="kb-section kb-stub"><div class="kb-heading">{go_link(href, text(s.heading[:MAX_HEADING_CHARS]))}'
            "</div></div>")


def filter_chips(chips_: list[tuple[str, str, str]]) -> str:
    """Active filters as chips, each a link that removes it: (href, what, value)."""
    if not chips_:
        return ""
    out = "".join(go_link(h, f"{text(what)}: {text(value)} <span aria-hidden=\"true\">✕</span>", "kb-chip",
                          aria=f"Remove the filter {what}: {value}") for h, what, value in chips_)
    return f'<div class="kb-active" aria-label="Active filters">{out}</div>'


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
        if len(weeks) < MAX_MENTIONS:
            label = text((" · ".join(x for x in (m.week, m.date) if x) or m.path)[:MAX_HEADING_CHARS])
            weeks.append(go_link(week_href(m), label) if week_href else label)
    if len(seen) > len(weeks):
        weeks.append(f"and {len(seen) - len(weeks):,} more weeks")
    where = "; ".join(text(m.heading[:MAX_HEADING_CHARS]) for m in res.mentions[:3])
    n = len(res.mentions)
    return (f'<div class="kb-res"><div class="kb-heading">{link(res.url, res.title[:MAX_HEADING_CHARS])}</div>'
            f'<div class="kb-url">{text(res.url[:MAX_URL_CHARS])}</div>'
            f'<div class="kb-meta">{n} mention{"" if n == 1 else "s"}: {", ".join(weeks)} — {where}</div></div>')


_STATIC = Path(__file__).resolve().parent / "static"
FAVICON = str(_STATIC / "favicon.png")     # served by the app itself: no request to another host
CSS = "<style>\n" + (_STATIC / "app.css").read_text(encoding="utf-8") + "</style>"
# The app's one script (our own text, never post text), kb/app/static/app.js: in-app links (data-kb-go) navigate
# through the browser history without reloading the page, so one Back returns; a results page's scroll position is
# kept per results state and restored when you come back to it; a change of mode, result count or filter replaces
# the current history entry instead of adding one.
SCRIPT = '<div class="kb-js"><script>\n' + (_STATIC / "app.js").read_text(encoding="utf-8") + "</script></div>"
