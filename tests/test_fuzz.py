"""Property-based fuzzing (hypothesis): any bytes in content/ and any text in a search box give a result or a
named error (BadPost, BadQuery), never another exception; what comes out stays safe to store and to show."""

from __future__ import annotations

import json
import re
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb import render
from kb.errors import BadPost, BadQuery
from kb.posts import PostFile, decode_post, parse_date, read_post, split_front_matter
from kb.query import MODES
from kb.sections import MAX_SECTIONS_PER_POST, extract_links, is_web_url, plain_inline, split_sections, strip_markdown
from kb.tokenize import tokenize

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
