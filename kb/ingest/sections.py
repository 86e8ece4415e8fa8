"""Post → Sections: split the markdown at `###` headings, pull out links and referenced resource names,
keep the intro and the `## 목차` list as post-level text, and strip markdown to plain text for indexing."""

from __future__ import annotations

import html
import logging
import re
from urllib.parse import unquote, urlsplit

from kb.core.types import Link, Post, Section

log = logging.getLogger(__name__)

MAX_SECTIONS_PER_POST = 2000

# Every pattern here must stay linear on hostile input (a post is untrusted): line-anchored patterns use [ \t], not
# \s (which would run across blank lines), and nothing scans past the next '<' or '[' looking for its closer.
_FENCE_RE = re.compile(r"^[ \t]*(```|~~~)")
_H3_RE = re.compile(r"^###(?!#)(.*)$")
_H2_RE = re.compile(r"^##(?!#)(.*)$")
_MD_LINK_RE = re.compile(
    r"(!?)\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?((?:[^()\s<>]|\([^()\s<>]*\))*)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")
_AUTOLINK_RE = re.compile(r"<((?:https?|ftp|mailto|javascript|data):[^<>\s]+)>", re.I)
_BARE_URL_RE = re.compile(r"(?<![\w(/\"'=])(https?://[^\s<>()\[\]\"']+)", re.I)
_REF_DEF_RE = re.compile(r"^[ \t]*\[([^\]\n]+)\]:[ \t]*<?(\S+?)>?(?:[ \t]+.*)?$", re.M)
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>")
_EMPH_RE = re.compile(r"(\*\*|__|~~|`+)")
_LIST_RE = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])(?:[ \t]+|$)", re.M)
_QUOTE_RE = re.compile(r"^[ \t]*>[ \t]?", re.M)
_HEADING_MARK_RE = re.compile(r"^[ \t]*#{1,6}[ \t]*", re.M)
MAX_INLINE_CHARS = 4000
GENERIC_ANCHOR_RE = re.compile(r"^(참고\s*링크\s*\d*|링크\s*\d*|link\s*\d*|here|여기|source|출처|url|바로가기)$", re.I)
_TOC_TITLES = ("목차", "table of contents", "contents", "toc")
_ARXIV_RE = re.compile(r"(\d{4}\.\d{4,5})")
_GENERIC_SEGMENTS = {"index", "site", "home", "main", "default", "latest", "docs", "doc", "blog", "about", "readme",
                     "posts", "post", "tutorials", "tutorial", "articles", "article", "watch", "view", "page", "pdf"}
# Hosts whose name says nothing about the resource (platforms, publishers, link shorteners).
_GENERIC_HOSTS = {"github", "gitlab", "huggingface", "arxiv", "youtube", "youtu", "medium", "amazon", "facebook",
                  "twitter", "google", "naver", "tistory", "blogspot", "wordpress", "slideshare", "reddit",
                  "kaggle", "paperswithcode", "openreview", "notion", "velog", "brunch", "linkedin", "bit",
                  "co", "com", "org", "net", "io", "ai", "kr", "www", "blog", "news", "docs", "t"}


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _drop_between(s: str, opener: str, closer: str, tag: bool = False) -> str:
    """Remove every `opener … closer>` span (case-insensitive) in one linear pass; an unclosed opener is left as it
    is. (A regex like `<!--.*?-->` rescans the whole tail for every unclosed opener: quadratic on hostile posts.)"""
    low = s.translate(_ASCII_LOWER)                  # same length as s (str.lower() may not be)
    out, pos, at = [], 0, 0
    while (i := low.find(opener, at)) >= 0:
        after = low[i + len(opener): i + len(opener) + 1]
        if tag and (after.isalnum() or after == "_"):     # '<scripts', not '<script'
            at = i + len(opener)
            continue
        j = low.find(closer, i + len(opener))
        if j < 0:
            break                                    # no closer after this opener, so none after any later one
        k = low.find(">", j + len(closer) - 1)
        out.append(s[pos:i])
        out.append(" ")
        pos = at = (k + 1) if k >= 0 else len(s)
    out.append(s[pos:])
    return "".join(out)


def _drop_html_noise(s: str) -> str:
    """HTML comments, <script> and <style> elements removed (contents included)."""
    if "<" not in s:                                 # most text: nothing to look for (3 lower-cased copies saved)
        return s
    s = _drop_between(s, "<!--", "-->")
    s = _drop_between(s, "<script", "</script", tag=True)
    return _drop_between(s, "<style", "</style", tag=True)


def heading_text(raw: str) -> str:
    """The text of an ATX heading line after its '#'s: trimmed, closing '#' sequence removed ('### C#' keeps C#)."""
    s = raw.strip()
    t = s.rstrip("#")
    if t != s and (not t or t[-1] in " \t"):
        s = t.strip()
    return s


def plain_inline(s: str) -> str:
    """Markdown/HTML inline text → plain text (links keep their anchor, tags and scripts go)."""
    s = _drop_html_noise(s[:MAX_INLINE_CHARS])
    s = _MD_LINK_RE.sub(lambda m: "" if m.group(1) else m.group(2), s)
    s = _AUTOLINK_RE.sub(r"\1", s)
    s = _TAG_RE.sub(" ", s)
    s = html.unescape(s)
    s = _EMPH_RE.sub("", s)
    s = re.sub(r"(?<!\w)[*_](\S(?:.*?\S)?)[*_](?!\w)", r"\1", s)
    return re.sub(r"[\s\x00-\x1f\x7f-\x9f]+", " ", s).strip()


def strip_markdown(md: str) -> str:
    """A block of markdown → plain text for indexing: link anchors kept (generic '참고링크' anchors and bare
    URLs dropped), HTML and scripts removed, list/quote/heading markers removed, whitespace collapsed per line."""
    s = _drop_html_noise(md)
    s = _REF_DEF_RE.sub("", s)
    s = _MD_LINK_RE.sub(lambda m: "" if m.group(1) or GENERIC_ANCHOR_RE.match(m.group(2).strip()) else m.group(2), s)
    s = _AUTOLINK_RE.sub("", s)
    s = _BARE_URL_RE.sub("", s)
    s = _TAG_RE.sub(" ", s)
    s = html.unescape(s)
    s = re.sub(r"^[ \t]*(```|~~~).*$", "", s, flags=re.M)
    s = _HEADING_MARK_RE.sub("", s)
    s = _LIST_RE.sub("", s)
    s = _QUOTE_RE.sub("", s)
    s = _EMPH_RE.sub("", s)
    s = re.sub(r"^[ \t]*[-*_]{3,}[ \t]*$", "", s, flags=re.M)
    s = re.sub(r"^[ \t,.]*$", "", s, flags=re.M)   # lines left with only separators (", " between links)
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in s.split("\n")]
    text = "\n".join(ln for ln in lines if ln)
    return text


def extract_links(md: str) -> list[Link]:
    """Every link in a markdown block, in order, deduplicated by URL: [text](url), <url>, [ref]: url, bare URLs.
    Images are not links. URLs are kept as written (the UI decides which schemes are clickable)."""
    found: list[tuple[int, Link]] = []

    def mask(m: re.Match) -> str:                    # blank out what was found, in one pass per pattern
        return " " * (m.end() - m.start())

    for m in _MD_LINK_RE.finditer(md):
        if not m.group(1) and m.group(3):
            found.append((m.start(), Link(url=m.group(3), text=plain_inline(m.group(2)))))
    masked = _MD_LINK_RE.sub(mask, md)
    for m in _AUTOLINK_RE.finditer(masked):
        found.append((m.start(), Link(url=m.group(1), text="")))
    masked = _AUTOLINK_RE.sub(mask, masked)
    for m in _REF_DEF_RE.finditer(masked):
        found.append((m.start(), Link(url=m.group(2), text=m.group(1).strip())))
    masked = _REF_DEF_RE.sub(mask, masked)
    for m in _BARE_URL_RE.finditer(masked):
        found.append((m.start(), Link(url=m.group(1).rstrip(".,;:!?'\"”’"), text="")))
    seen: set[str] = set()
    out: list[Link] = []
    for _, link in sorted(found, key=lambda t: t[0]):
        if link.url and link.url not in seen:
            seen.add(link.url)
            out.append(link)
    return out


def is_web_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def primary_url(links: list[Link]) -> str:
    """The resource a section is about: its first http(s) '참고링크' link, else its first http(s) link."""
    web = [link for link in links if is_web_url(link.url)]
    for link in web:
        if link.text.replace(" ", "").startswith("참고링크"):
            return link.url
    return web[0].url if web else ""


def url_names(url: str) -> list[str]:
    """Readable names inside a resource URL: GitHub 'owner/repo' and 'repo', arXiv ids, a meaningful last path part."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    host = (parts.hostname or "").lower().removeprefix("www.")
    segs = [unquote(s) for s in parts.path.split("/") if s]
    names: list[str] = []
    if host in ("github.com", "gitlab.com", "huggingface.co") and len(segs) >= 2:
        names += [f"{segs[0]}/{segs[1]}", segs[1]]
    elif host.endswith("github.io"):
        names.append(host.split(".")[0])
        if segs:
            names.append(segs[0])
    elif "arxiv.org" in host:
        m = _ARXIV_RE.search(parts.path)
        if m:
            names += [f"arXiv {m.group(1)}", m.group(1)]
    elif host and not any(h in host for h in ("youtube.", "youtu.be", "amazon.", "facebook.", "twitter.", "t.co")):
        labels = [x for x in host.split(".") if x not in _GENERIC_HOSTS]
        if labels and re.fullmatch(r"[a-z][a-z0-9-]{2,}", labels[-1]):
            names.append(labels[-1])
        last = segs[-1] if segs else ""
        last = re.sub(r"\.(html?|pdf|php|aspx?)$", "", last, flags=re.I)
        if (re.search(r"[A-Za-z가-힣]{3,}", last) and not re.fullmatch(r"[0-9a-f-]{16,}", last)
                and last.lower() not in _GENERIC_SEGMENTS):
            names.append(last)
    return [n for n in dict.fromkeys(names) if n]


def _split_blocks(body: str) -> tuple[list[str], list[tuple[str, list[str]]], str]:
    """Split body lines into (pre-section lines, [(heading, lines)], level used: '###' or '##' or '')."""
    lines = body.split("\n")
    for level_re, level in ((_H3_RE, "###"), (_H2_RE, "##")):
        pre: list[str] = []
        blocks: list[tuple[str, list[str]]] = []
        in_fence = False
        for ln in lines:
            if _FENCE_RE.match(ln):
                in_fence = not in_fence
            m = None if in_fence else level_re.match(ln)
            if m and not (level == "##" and _is_toc_title(heading_text(m.group(1)))):
                blocks.append((heading_text(m.group(1)), [ln]))
            elif blocks:
                blocks[-1][1].append(ln)
            else:
                pre.append(ln)
        if blocks:
            return pre, blocks, level
    return lines, [], ""


def _is_toc_title(heading: str) -> bool:
    return plain_inline(heading).strip().lower() in _TOC_TITLES


def _split_pre(pre: list[str]) -> tuple[str, list[str]]:
    """Pre-section lines → (intro text, toc titles). The TOC is the list under '## 목차'."""
    intro_lines: list[str] = []
    toc: list[str] = []
    in_toc = False
    for ln in pre:
        m = _H2_RE.match(ln)
        if m:
            in_toc = _is_toc_title(heading_text(m.group(1)))
            if not in_toc:
                intro_lines.append(ln)
            continue
        if in_toc and _LIST_RE.match(ln):
            item = plain_inline(_LIST_RE.sub("", ln))
            if item:
                toc.append(item)
        elif not in_toc or ln.strip():
            if in_toc and ln.strip():
                in_toc = False
            intro_lines.append(ln)
    return strip_markdown("\n".join(intro_lines)), toc


def split_sections(post: Post) -> tuple[Post, list[Section]]:
    """Cut a post into sections. `###` headings are sections; a post without them falls back to `##` headings,
    then to one section holding the whole post (titled by the post). Returns the post with intro/toc filled."""
    pre, blocks, _level = _split_blocks(post.body)
    intro, toc = _split_pre(pre)
    post.intro, post.toc = intro, toc
    date_s = post.date.isoformat() if post.date else ""
    sections: list[Section] = []
    if not blocks and intro.strip():
        blocks = [(post.title, pre)]
        post.intro = ""
    if len(blocks) > MAX_SECTIONS_PER_POST:
        log.warning("%s: only the first %d of its %d sections are indexed", post.path, MAX_SECTIONS_PER_POST,
                    len(blocks))
    for pos, (raw_heading, lines) in enumerate(blocks[:MAX_SECTIONS_PER_POST]):
        md = "\n".join(lines).strip("\n")
        heading = plain_inline(raw_heading) or f"(untitled section {pos + 1})"
        body_md = "\n".join(lines[1:]) if lines and lines[0].lstrip().startswith("#") else "\n".join(lines)
        links = extract_links(md)
        names = [heading]
        for link in links:
            if link.text and not GENERIC_ANCHOR_RE.match(link.text.strip()):
                names.append(link.text)
            if is_web_url(link.url):
                names.extend(url_names(link.url))
        sections.append(
            Section(
                post_path=post.path,
                position=pos,
                heading=heading[:300],
                text=strip_markdown(body_md),
                markdown=md,
                links=links,
                url=primary_url(links),
                names=[n[:200] for n in dict.fromkeys(n.strip() for n in names) if n],
                post_title=post.title,
                date=date_s,
                week=post.week,
                tags=list(post.tags),
                categories=list(post.categories),
            )
        )
    return post, sections
