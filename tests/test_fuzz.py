"""Property-based fuzzing (hypothesis): any bytes in content/ and any text in a search box give a result or a
named error (BadPost, BadQuery), never another exception; what comes out stays safe to store and to show. Any
file kind where a post, an index file or the topics file should be gives a named refusal within seconds; any
page parameter and any set of dates give a bounded page and a bounded chart."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb import topics
from kb.app import html as render
from kb.cli import term
from kb.core.errors import BadPost, BadQuery, BadTopics, IndexCorrupt
from kb.ingest.posts import PostFile, decode_post, parse_date, read_post, split_front_matter
from kb.ingest.sections import (
    MAX_SECTIONS_PER_POST,
    extract_links,
    is_web_url,
    plain_inline,
    split_sections,
    strip_markdown,
)
from kb.query.index import MODES
from kb.text.tokenize import tokenize

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Pieces of the markdown kb meets (and of what breaks parsers), mixed with arbitrary text.
PIECES = ["---\n", "\n", "\r\n", "\r", "### ", "## ", "# ", "## 목차\n", "- ", "1. ", "> ", "```\n", "~~~", "**", "__",
          "*", "_", "`", "[", "]", "(", ")", "<", ">", "![", "](", "[참고링크](https://github.com/a/b)",
          "<https://x.io>", "https://arxiv.org/abs/2005.14165", "[r]: https://r.io", "javascript:alert(1)",
          "data:text/html,x", "<script>", "</script>", "<!--", "-->", "<b>", "&lt;", "&amp;", "&#0;", "title: ",
          "date: 2020-13-45\n", "tags: [", "&a ", "*a", "\ufeff", "\x00", "\x1b[31m", "\u202e", "트레이딩 ",
          "강화학습", "Ω", "🔥", "\t", "    ", "#", "|", "\\", "'", '"', "{%", "%}", "$$",
          '---\ntitle: "\\ud800 \\x1b[2J"\ntags: ["\\udcff"]\n---\n']
markdownish = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=20)), max_size=60).map("".join)
raw_bytes = st.one_of(
    st.binary(max_size=2000),
    markdownish.map(lambda s: s.encode("utf-8", "surrogatepass")),
    markdownish.map(lambda s: s.encode("cp949", "ignore")),
    st.tuples(st.sampled_from([b"", b"\xef\xbb\xbf", b"---\n", b"\xef\xbb\xbf---\r\n"]), markdownish).map(
        lambda t: t[0] + t[1].encode("utf-8", "surrogatepass")),
)


def assert_storable(obj) -> None:
    """Writable as the index's JSON and printable as UTF-8 (no lone surrogates)."""
    json.dumps(obj, ensure_ascii=False).encode("utf-8")


@FUZZ
@given(data=raw_bytes)
def test_any_file_gives_a_post_or_a_named_bad_post(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fuzz") / "2020-06-27-fuzz.md"
    p.write_bytes(data)
    try:
        post, secs = split_sections(read_post(PostFile(p, p.name)))
    except BadPost as err:
        msg = str(err)
        assert msg.startswith("2020-06-27-fuzz.md: ") and "\n" not in msg
        return
    assert len(secs) <= MAX_SECTIONS_PER_POST
    assert post.date is None or isinstance(post.date, date)
    assert post.title and all(isinstance(t, str) and t for t in post.tags)
    assert_storable([s.to_dict() for s in secs] + [post.title, post.tags, post.categories, post.intro, post.toc])
    for s in secs:
        assert s.heading and not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", s.heading + s.text)
        assert s.url == "" or is_web_url(s.url)


@FUZZ
@given(data=st.binary(max_size=500))
def test_decode_and_front_matter_never_raise_anything_else(data):
    try:
        text = decode_post(data, "x.md")
        meta, body = split_front_matter(text, "x.md")
    except BadPost:
        return
    assert isinstance(meta, dict) and isinstance(body, str) and "\r" not in body


@FUZZ
@given(text=markdownish)
def test_markdown_helpers_take_any_text(text):
    links = extract_links(text)
    assert all(link.url for link in links)
    assert len({link.url for link in links}) == len(links)
    strip_markdown(text)
    assert "\n" not in plain_inline(text)
    tokenize(text)


@FUZZ
@given(value=st.one_of(st.text(max_size=60), st.integers(), st.floats(allow_nan=True), st.none(),
                       st.dates(), st.lists(st.integers(), max_size=3)))
def test_parse_date_takes_anything(value):
    d = parse_date(value)
    assert d is None or isinstance(d, date)


@FUZZ
@given(s=markdownish, query=markdownish)
def test_highlights_are_escaped_whatever_the_text_and_query(s, query):
    out = render.highlight(s, query)
    rest = re.sub(r"</?mark>|<br>", "", out)
    assert "<" not in rest and ">" not in rest and '"' not in rest


ODD_CHARS = ["\ud800", "\udcff", "\x00", "\x1b", "\x7f", "\u202e", "\u200b", "\ufeff", "\u3000", "트", "a", " ", '"',
             "(", "*", "-", ":", "🔥"]
queries = st.one_of(st.text(max_size=300), markdownish,
                    st.text(alphabet=st.sampled_from(ODD_CHARS), max_size=30),
                    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "So", "Po", "Lo"]), max_size=50))


@settings(FUZZ, max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(q=queries, k=st.integers(-5, 50))
def test_any_query_in_keyword_mode(seed_index, q, k):
    hits = seed_index.search(q, mode="keyword", k=k)
    assert len(hits) <= max(1, k)
    assert_storable([h.to_json() for h in hits])


@settings(FUZZ, max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(q=queries, mode=st.sampled_from(MODES), since=st.one_of(st.none(), st.text(max_size=12)))
def test_any_query_and_filter_in_every_mode(seed_index, q, mode, since):
    try:
        hits = seed_index.search(q, mode=mode, k=5, since=since, tags=[q[:10]] if q[:1] == "#" else None)
    except BadQuery as err:
        assert since and "is not a date" in str(err)
        return
    assert all(0 <= h.row < len(seed_index.sections) for h in hits)


# ---- round two: file kinds, terminal text, pages, charts ----------------------------------------------------------

def _special(path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero-link":
        os.symlink("/dev/zero", path)
    elif kind == "null-link":
        os.symlink("/dev/null", path)
    elif kind == "dir":
        os.mkdir(path)
    elif kind == "empty":
        open(path, "wb").close()
    else:                                       # a regular file with arbitrary bytes
        with open(path, "wb") as f:
            f.write(kind.encode("utf-8", "surrogatepass"))


def _alarm(*_):
    raise TimeoutError("blocked")


file_kinds = st.one_of(st.sampled_from(["fifo", "zero-link", "null-link", "dir", "empty"]), st.text(max_size=40))


@settings(FUZZ, max_examples=60)
@given(kind=file_kinds, which=st.integers(0, 100))
def test_any_file_kind_in_a_post_the_topics_file_or_the_index_is_a_named_refusal(tmp_path_factory, seed_index_dir,
                                                                                  kind, which):
    import kb

    d = tmp_path_factory.mktemp("kinds")
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(20)
    try:
        post = d / "2020-06-27-x.md"
        _special(post, kind)
        try:
            read_post(PostFile(post, post.name))
        except BadPost as err:
            assert "\n" not in str(err)
        topics_path = d / "topics.toml"
        _special(topics_path, kind)
        try:
            topics.load_topics(path=topics_path)
        except BadTopics as err:
            assert "\n" not in str(err)
        index_dir = d / "index"
        shutil.copytree(seed_index_dir, index_dir, symlinks=True)
        files = sorted(p for p in index_dir.rglob("*") if p.is_file() and p.name != ".lock")
        target = files[which % len(files)]
        target.unlink()
        _special(target, kind)
        try:
            kb.open_index(index_dir)
        except IndexCorrupt as err:
            assert "--full" in str(err) and "\n" not in str(err)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@FUZZ
@given(text=st.text(), exact=st.booleans())
def test_terminal_text_is_one_line_without_control_characters(text, exact):
    out = term.line(text, exact)
    assert out.isprintable()                        # no control, format or line-break character at all
    assert term.line(out, exact) == out


@FUZZ
@given(n=st.integers(0, 5000), page=st.one_of(st.none(), st.integers(-10 ** 12, 10 ** 12), st.text(max_size=30)),
       size=st.integers(1, 10 ** 6))
def test_any_page_parameter_gives_a_real_bounded_page(n, page, size):
    from kb.app import data as appdata

    number, pages, start, end = appdata.page_slice(n, page, size)
    assert 1 <= number <= pages and 0 <= start <= end <= n and end - start <= size
    assert (end == start) == (n == 0)


@FUZZ
@given(days=st.lists(st.one_of(st.dates(), st.just(None)), max_size=200))
def test_any_dates_give_a_bounded_chart_over_their_span(days):
    from datetime import date

    from kb.app import data as appdata

    h = appdata.histogram([d.isoformat() if d else "" for d in days], today=date(2026, 1, 1))
    dated = [d for d in days if d]
    assert sum(c for _, c in h.bars) + h.left_out == len(dated)
    assert len(h.bars) <= max(appdata.MAX_MONTH_BARS, 2027 - 1970 + 1)
    assert [label for label, _ in h.bars] == sorted(label for label, _ in h.bars)
