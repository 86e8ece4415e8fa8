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

from kb.explain import match_terms, term_pattern
from kb.sections import GENERIC_ANCHOR_RE, is_web_url

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
    """The strings to highlight for a query: its words and their glossary synonyms (kb.explain.match_terms)."""
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


def meta_line(post_title: str, week: str, date: str) -> str:
    parts = [f'<span class="kb-post">{text(post_title)}</span>']
    if week and week not in (post_title or ""):
        parts.append(f'<span class="kb-week">{text(week)}</span>')
    parts.append(f'<span class="kb-date">{text(date) if date else "no date"}</span>')
    return " · ".join(parts)


def card(hit, query: str = "", topics: list[str] | None = None) -> str:
    """A result card: heading (linked to the resource when it is a web URL), post title · week · date, tags and
    topics, and the snippet with the query's terms highlighted."""
    head = link(hit.url, hit.heading, query) if hit.url else highlight(hit.heading, query)
    others = [lk for lk in hit.links if lk.url != hit.url][:4]
    more = ""
    if others:
        more = '<div class="kb-links">' + " · ".join(link(lk.url, _link_label(lk)) for lk in others) + "</div>"
    snip = f'<div class="kb-snippet">{highlight(hit.snippet, query)}</div>' if hit.snippet else ""
    tags = chips(hit.tags) + chips(topics or [], "kb-topic")
    return (f'<div class="kb-card" data-row="{int(hit.row)}"><div class="kb-heading">{head}</div>'
            f'<div class="kb-meta">{meta_line(hit.post_title, hit.week, hit.date)}</div>'
            f'{snip}{more}<div class="kb-chips">{tags}</div></div>')


def section(s, query: str = "", target: bool = False) -> str:
    """One section of a post, whole: heading, every link (web links clickable) and the commentary."""
    head = highlight(s.heading, query)
    links = " · ".join(link(lk.url, _link_label(lk)) for lk in s.links)
    body = highlight(s.text, query)
    cls = "kb-section kb-target" if target else "kb-section"
    mark = '<div class="kb-here">▶ the section you opened</div>' if target else ""
    return (f'<div class="{cls}" id="kb-sec-{int(s.position)}">{mark}<div class="kb-heading">{head}</div>'
            f'<div class="kb-links">{links}</div><div class="kb-body">{body}</div></div>')


def paragraph(s: str, cls: str = "kb-intro") -> str:
    return f'<div class="{cls}">{text(s)}</div>'


def resource(res) -> str:
    """A resources-view row: the link (only if web), its title, and the weeks that mention it."""
    weeks = ", ".join(text(w) for w in res.weeks)
    where = "; ".join(f"{text(m.heading)}" for m in res.mentions[:3])
    return (f'<div class="kb-res"><div class="kb-heading">{link(res.url, res.title)}</div>'
            f'<div class="kb-url">{text(res.url)}</div>'
            f'<div class="kb-meta">{len(res.mentions)} mention(s): {weeks} — {where}</div></div>')


CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
[data-testid="stSidebarUserContent"] { padding-top: 1rem; }
.kb-card, .kb-section, .kb-res { padding: 0.1rem 0.2rem; line-height: 1.5; }
.kb-heading { font-size: 1.08rem; font-weight: 600; }
.kb-heading a { text-decoration: none; }
.kb-meta { color: #6b7280; font-size: 0.86rem; margin: 0.1rem 0 0.3rem 0; }
.kb-snippet, .kb-body { font-size: 0.95rem; }
.kb-links { font-size: 0.82rem; margin: 0.15rem 0; word-break: break-all; }
.kb-url { font-size: 0.78rem; color: #6b7280; word-break: break-all; }
.kb-chips { margin-top: 0.35rem; }
.kb-tag, .kb-topic { display: inline-block; font-size: 0.74rem; border-radius: 0.6rem; padding: 0 0.5rem;
  margin: 0 0.25rem 0.15rem 0; }
.kb-tag { background: #eef2ff; color: #3730a3; }
.kb-topic { background: #ecfdf5; color: #065f46; }
.kb-section { border-left: 3px solid #e5e7eb; padding-left: 0.8rem; margin: 0.6rem 0 1.0rem 0; }
.kb-target { border-left: 4px solid #f59e0b; background: #fffbeb; padding: 0.5rem 0.8rem; }
.kb-here { font-size: 0.78rem; color: #b45309; font-weight: 600; }
.kb-nolink { font-size: 0.78rem; }
mark { background: #fde68a; padding: 0 0.1rem; border-radius: 0.15rem; }
</style>"""
