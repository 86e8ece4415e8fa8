"""Bad posts are named and skipped, odd-but-good posts are indexed, and nothing a post holds can crash, hang or
escape the content folder. Unit tests per kind of bad input, then the real `python -m kb.index` on a content folder
that mixes good posts with every kind of bad one (tests/fixtures/messy.py)."""

from __future__ import annotations

import os
import re
import time
from datetime import date
from pathlib import Path

import pytest
from fixtures.cli import assert_no_traceback, assert_one_line_error, run_kb, stop
from fixtures.limits import time_limit
from fixtures.messy import huge_post, make_messy_content, png_bytes, post

import kb
from kb.build.local import build_index, load_corpus
from kb.core.config import Settings
from kb.core.errors import BadPost
from kb.ingest.posts import PostFile, find_post_files, read_post
from kb.ingest.sections import MAX_SECTIONS_PER_POST, is_web_url, split_sections


def parse(tmp_path: Path, name: str, data: str | bytes):
    """Write one file and read it the way the indexer does: (post, sections)."""
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return split_sections(read_post(PostFile(p, name)))


def bad_reason(tmp_path: Path, name: str, data: bytes) -> str:
    with pytest.raises(BadPost) as err:
        parse(tmp_path, name, data)
    msg = str(err.value)
    assert msg.startswith(f"{name}: ") and "\n" not in msg
    return msg


def hang_guard(seconds: int = 60):
    """Fail instead of hanging: the inputs below take well under a second with linear parsing, and minutes (or,
    before the fix, hours) with a regex that rescans the rest of the text. Not a speed benchmark."""
    return time_limit(seconds, "parser still busy (super-linear on this input)")


# ---- bad posts: named with the reason ------------------------------------------------------------------------

@pytest.mark.parametrize("data,why", [
    (b"---\ntitle: [unclosed\ndate: 2020-01-01\n---\n### A\ntext\n", "broken YAML front matter (line 3)"),
    (b"---\ntitle: a: b: c\n---\n### A\ntext\n", "broken YAML"),
    (b"---\ntitle: \"open quote\n---\n### A\ntext\n", "broken YAML"),
    (b"---\n\ttitle: tab\n---\ntext\n", "broken YAML"),
    (b"---\ntitle: never closed\n### A\ntext\n", "never ends"),
    (b"---\n- a list\n- not a mapping\n---\ntext\n", "not a key: value mapping"),
    (b"---\njust a string\n---\ntext\n", "not a key: value mapping"),
])
def test_broken_front_matter_is_named_with_the_reason(tmp_path, data, why):
    assert why in bad_reason(tmp_path, "p.md", data)


@pytest.mark.parametrize("data", [b"", b"   ", b"\n\n\r\n\t \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf \r\n"])
def test_empty_files_are_named(tmp_path, data):
    assert "empty file" in bad_reason(tmp_path, "e.md", data)


@pytest.mark.parametrize("data", [
    png_bytes(),
    bytes(range(256)) * 16,
    "### 제목\n본문\n".encode("utf-16"),                       # NUL bytes everywhere
    b"\x7fELF\x02\x01\x01" + bytes(200),
    b"PK\x03\x04" + bytes(range(1, 32)) * 20,                  # control characters without NULs
])
def test_binary_files_with_a_markdown_name_are_named(tmp_path, data):
    assert "binary file" in bad_reason(tmp_path, "image.md", data)


def test_a_file_too_large_to_be_a_post_is_named_without_reading_it(tmp_path):
    p = tmp_path / "dump.md"
    with open(p, "wb") as f:
        f.truncate(21 * 1024 * 1024)                 # sparse: costs no disk
    with pytest.raises(BadPost) as err:
        read_post(PostFile(p, "dump.md"))
    assert str(err.value) == "dump.md: too large (21 MB > 20 MB)"


def test_text_in_no_known_encoding_is_named(tmp_path):
    assert "not UTF-8 or CP949/EUC-KR" in bad_reason(tmp_path, "l.md", b"caf\xe9 \xff\xfe\xff text\n")


def test_front_matter_only_or_toc_only_has_no_text_to_index(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    (c / "fm.md").write_text("---\ntitle: Nothing else\n---\n", encoding="utf-8")
    (c / "toc.md").write_text("## 목차\n\n- [a](#a)\n- [b](#b)\n", encoding="utf-8")
    (c / "html.md").write_text("<script>alert(1)</script><!-- only a comment -->\n", encoding="utf-8")
    (c / "ok.md").write_text("### A\ntext\n", encoding="utf-8")
    corpus = load_corpus(c)
    assert [p.path for p in corpus.posts] == ["ok.md"]
    assert dict(corpus.skipped) == {n: "no text to index" for n in ("fm.md", "html.md", "toc.md")}


# ---- odd but good posts: indexed --------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["cp949", "euc-kr"])
def test_korean_legacy_encodings_are_decoded(tmp_path, encoding):
    text = post("주간 소식 (8월 2주차)", "2020.08.08", [("트레이딩", "주식 자동매매 이야기. 똠방각하")])
    if encoding == "euc-kr":
        text = text.replace(" 똠방각하", "")                  # 똠 is in CP949 only
    p, secs = parse(tmp_path, "k.md", text.encode(encoding))
    assert p.title == "주간 소식 (8월 2주차)" and p.week == "8월 2주차" and p.date == date(2020, 8, 8)
    assert secs[0].heading == "트레이딩" and "자동매매" in secs[0].text


@pytest.mark.parametrize("eol", ["\r\n", "\r", "\n"])
@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b""])
def test_bom_and_any_line_ends(tmp_path, eol, bom):
    text = post("Windows", "2020-01-04", [("One", "body one"), ("Two", "body two")])
    p, secs = parse(tmp_path, "w.md", bom + text.replace("\n", eol).encode("utf-8"))
    assert p.title == "Windows" and p.date == date(2020, 1, 4) and p.tags == ["ML"]
    assert [(s.heading, s.text) for s in secs] == [("One", "body one"), ("Two", "body two")]


def test_no_front_matter_title_from_heading_or_file_and_date_from_file_name(tmp_path):
    p, secs = parse(tmp_path, "2020-07-05-memo.md", "# **앞머리** 없는 글\n\n### 섹션\n\n본문\n")
    assert (p.title, p.date, p.tags) == ("앞머리 없는 글", date(2020, 7, 5), [])
    assert [s.heading for s in secs] == ["섹션"]
    p, secs = parse(tmp_path, "notes/그냥 메모.md", "날짜도 제목도 없는 메모\n")
    assert (p.title, p.date, p.week) == ("그냥 메모", None, "")
    assert [s.heading for s in secs] == ["그냥 메모"] and secs[0].date == ""
    p, _ = parse(tmp_path, "20210320_news.md", "### A\ntext\n")
    assert p.date == date(2021, 3, 20)


@pytest.mark.parametrize("value,expected", [
    ("2020-06-27", date(2020, 6, 27)),
    ("2020-06-27 12:00:00", date(2020, 6, 27)),
    ("2020-06-27T12:00:00+09:00", date(2020, 6, 27)),
    ("2020.06.27 12:00:00", date(2020, 6, 27)),
    ("2020/6/27", date(2020, 6, 27)),
    ("2020년 6월 27일", date(2020, 6, 27)),
    ("20200627", date(2020, 6, 27)),
    ("June 27, 2020", date(2020, 6, 27)),
    ("27 Jun 2020", date(2020, 6, 27)),
    ("Sat, 27 Jun 2020 12:00:00 +0900", date(2020, 6, 27)),
    ("'2020-06-27'", date(2020, 6, 27)),
    ("2020-13-45", None),          # YAML would build a date from this and raise: the post must survive
    ("2020-02-30", None),
    ("0000-00-00", None),
    ("someday", None),
    ("", None),
    ("[2020, 6, 27]", None),
    ("{y: 2020}", None),
    ("99999999999999999999999", None),
])
def test_dates_in_any_common_form_or_missing(tmp_path, value, expected):
    p, secs = parse(tmp_path, "undated.md", f"---\ntitle: T\ndate: {value}\n---\n### A\ntext\n")
    assert p.date == expected
    assert secs[0].date == (expected.isoformat() if expected else "")


def test_duplicate_titles_are_both_indexed_identical_posts_once(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    (c / "a.md").write_text(post("같은 제목", "2020-08-01", [("A", "첫 번째")]), encoding="utf-8")
    (c / "b.md").write_text(post("같은 제목", "2020-08-02", [("B", "두 번째")]), encoding="utf-8")
    (c / "c.md").write_text(post("Twin", "2020-08-03", [("T", "same")]), encoding="utf-8")
    (c / "d.md").write_text(post("Twin", "2020-08-03", [("T", "same")]), encoding="utf-8")
    corpus = load_corpus(c)
    assert [p.path for p in corpus.posts] == ["a.md", "b.md", "c.md"]
    assert corpus.skipped == [("d.md", "identical to c.md, indexed once")]


def test_a_post_without_h3_sections(tmp_path):
    _, secs = parse(tmp_path, "h2.md", "---\ntitle: T\n---\nintro\n## 목차\n- x\n## First\none\n## Second\ntwo\n")
    assert [s.heading for s in secs] == ["First", "Second"]
    p, secs = parse(tmp_path, "plain.md", "---\ntitle: Only text\n---\nJust a paragraph about GANs.\n\nAnother.\n")
    assert [s.heading for s in secs] == ["Only text"] and secs[0].text == "Just a paragraph about GANs.\nAnother."
    assert p.intro == ""


@pytest.mark.parametrize("line,heading", [
    ("### **Bold** [Link](https://x.io) <b>tag</b> `code`", "Bold Link tag code"),
    ("### <script>alert(1)</script>Safe <img src=x onerror=alert(1)>", "Safe"),
    ("### <img src=x onerror=alert(1)>", "(untitled section 1)"),
    ("### C# and F# ###", "C# and F#"),
    ("###   spaced   out   ", "spaced out"),
    ("### &lt;b&gt; &amp; 한글", "<b> & 한글"),     # entities become the text they stand for (the app escapes it)
    ("###", "(untitled section 1)"),
    ("### ![logo](https://x.io/l.png) Logo", "Logo"),
    ("### <!-- hidden --> visible", "visible"),
])
def test_headings_with_markdown_or_html_become_plain_text(tmp_path, line, heading):
    _, secs = parse(tmp_path, "h.md", f"{line}\ncontent\n")
    assert secs[0].heading == heading


def test_a_huge_post_with_hundreds_of_long_sections(tmp_path):
    with hang_guard():
        p, secs = parse(tmp_path, "huge.md", huge_post(n_sections=600, words=400))
    assert len(secs) == 600 and secs[599].heading == "Huge topic 599" and len(secs[0].text) > 2000
    with hang_guard():
        _, secs = parse(tmp_path, "huger.md", "\n".join(f"### S{i}\ntext {i}" for i in range(5000)))
    assert len(secs) == MAX_SECTIONS_PER_POST          # bounded, so one post cannot swamp the index


@pytest.mark.parametrize("body", [
    "\n" * 300_000,
    " \n" * 200_000,
    "[a\n" * 100_000,
    "<!--" * 100_000,
    "<script>" * 100_000,
    "<https:" * 100_000,
    "![" * 100_000,
    "*a " * 100_000,
    "### " + " " * 300_000 + "x",
    "<a " * 100_000,
])
def test_pathological_markdown_is_parsed_in_linear_time(tmp_path, body):
    with hang_guard(30):
        parse(tmp_path, "p.md", "### A\n" + body + "\nend")


def test_hostile_front_matter_values_are_bounded(tmp_path):
    bomb = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] +
                     [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                      f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                      f"*{chr(97 + i)}]" for i in range(8)])
    text = f"---\n{bomb}\ntitle: *i\ntags: *i\ncategories: {{a: 1}}\ndate: [1, 2]\n---\n### A\ntext\n"
    with hang_guard(30):
        p, secs = parse(tmp_path, "2020-01-01-bomb.md", text)
    assert p.title == "2020-01-01-bomb" and p.date == date(2020, 1, 1) and len(p.tags) <= 100
    p, _ = parse(tmp_path, "n.md", "---\ntitle: 12345\ntags: [1, 2.5, null, [a, [b]]]\n---\n### A\nt\n")
    assert p.title == "12345" and p.tags == ["1", "2.5", "a", "b"]


# ---- the folder: what is read, what is ignored, what is refused ---------------------------------------------------

def test_hidden_drafts_and_non_markdown_files_are_ignored(tmp_path):
    c = tmp_path / "c"
    for name in ("a.md", "b.markdown", "sub/c.MD", "_posts/d.md", "notes.txt", "img.png", ".hidden.md",
                 ".git/x.md", "_drafts/e.md", "f.md~", "~g.md", "h.md.bak"):
        (c / name).parent.mkdir(parents=True, exist_ok=True)
        (c / name).write_text("### A\nx\n", encoding="utf-8")
    files, refused = find_post_files(c)
    assert [f.rel for f in files] == ["_posts/d.md", "a.md", "b.markdown", "sub/c.MD"] and refused == []


def test_symlinks_that_loop_or_escape_are_named_and_links_inside_read_once(tmp_path):
    c = tmp_path / "c"
    (c / "sub").mkdir(parents=True)
    (c / "real.md").write_text("### A\nx\n", encoding="utf-8")
    os.symlink("loop-b.md", c / "loop-a.md")
    os.symlink("loop-a.md", c / "loop-b.md")
    os.symlink("missing.md", c / "dangling.md")
    os.symlink("..", c / "sub" / "up")                       # a folder that contains itself
    os.symlink("real.md", c / "alias.md")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("### Secret\nkbsecretword\n", encoding="utf-8")
    os.symlink(outside / "secret.md", c / "secret.md")
    os.symlink(outside, c / "outdir")
    with hang_guard(30):
        files, refused = find_post_files(c)
    assert len(files) == 1 and files[0].path.resolve() == (c / "real.md").resolve()     # one file, read once
    assert dict(refused) == {
        "dangling.md": "broken or looping symlink", "loop-a.md": "unreadable (broken or looping symlink)",
        "loop-b.md": "unreadable (broken or looping symlink)", "outdir": "symlink points outside the content folder",
        "secret.md": "symlink points outside the content folder"}


def test_file_paths_in_a_post_cannot_read_outside_the_content_folder(tmp_path):
    _, secs = parse(tmp_path, "c/p.md", "### A\n![x](../../../../etc/passwd) [y](file:///etc/passwd) "
                                        "[z](/etc/passwd) <file:///etc/shadow> {% include_relative ../x %}\n")
    s = secs[0]
    assert s.url == "" and not any(is_web_url(link.url) for link in s.links)
    assert "root:" not in s.text and "root:" not in s.markdown


def test_a_file_name_that_is_not_utf8_is_indexed_under_a_printable_name(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    (c / os.fsdecode("뉴스".encode("cp949") + b".md")).write_bytes(b"### A\ncp949 name\n")
    (c / os.fsdecode(b"caf\xe9.md")).write_bytes(b"### B\nlatin-1 name\n")
    corpus = load_corpus(c)
    names = sorted(p.path for p in corpus.posts)
    assert names == ["caf\\xe9.md", "뉴스.md"] and corpus.skipped == []
    for name in names:
        name.encode("utf-8")                                    # storable in the index, printable in a terminal


def test_one_unexpected_parser_failure_skips_only_that_post(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    (c / "ok.md").write_text("### A\nfine\n", encoding="utf-8")
    (c / "deep.md").write_text("---\ntags: " + "[" * 5000 + "]" * 5000 + "\n---\n### B\ntext\n", encoding="utf-8")
    corpus = load_corpus(c)
    assert [p.path for p in corpus.posts] == ["ok.md"]
    assert corpus.skipped == [("deep.md", "front matter is nested too deeply")]


# ---- the real indexer on the messy folder ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("messy")
    m = make_messy_content(tmp / "content", huge_sections=20)
    proc = run_kb("index", "--content", tmp / "content", "--index-dir", tmp / "index", "-q")
    return m, tmp, proc


def skipped_lines(stderr: str) -> dict[str, str]:
    out = {}
    for line in stderr.splitlines():
        m = re.match(r"skipped (.+?): (.+)$", line)
        assert m, f"unexpected stderr line: {line!r}"
        assert m.group(1) not in out, f"named twice: {line}"
        out[m.group(1)] = m.group(2)
    return out


def test_indexer_names_every_bad_file_once_and_indexes_every_good_one(messy):
    m, tmp, proc = messy
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    named = skipped_lines(proc.stderr)
    assert set(named) == set(m.bad), (sorted(named), sorted(m.bad))
    for name, why in m.bad.items():
        assert why in named[name], (name, named[name])
    out = proc.stdout + proc.stderr
    for name in m.ignored:
        assert name not in out
    summary = proc.stdout.strip().splitlines()
    assert len(summary) == 1
    assert summary[0].startswith(f"indexed: {len(m.good)} posts,") and f"{len(m.bad)} skipped" in summary[0]


def test_every_good_post_is_searchable_with_its_date_and_title(messy):
    m, tmp, _ = messy
    index = kb.open_index(tmp / "index")
    posts = {p.path: p for p in index.posts}
    assert set(posts) == set(m.good)
    for name, word in m.good.items():
        hits = index.search(word, mode="keyword", k=3)
        assert hits and hits[0].path == name, (name, word, [h.path for h in hits])
        assert posts[name].date == m.dates[name], name
        if name in m.titles:
            assert posts[name].title == m.titles[name]
    for word in ("kbmarkhidden", "kbmarktxt", "kbmarkgit", "kbmarkdraft", "kbmarkbackup"):
        assert index.search(word, mode="keyword") == []
    assert not any("root:" in s.text or "root:" in s.markdown for s in index.sections)     # /etc/passwd stayed out
    hits = index.search("완성형 한글 본문 인코딩", k=3)          # the CP949 post, by meaning (hybrid)
    assert hits[0].path == "2020-07-02-cp949.md"


def test_a_second_run_is_a_no_op_that_still_names_the_bad_files(messy):
    m, tmp, _ = messy
    proc = run_kb("index", "--content", tmp / "content", "--index-dir", tmp / "index", "-q")
    assert_no_traceback(proc)
    assert proc.returncode == 0 and proc.stdout.startswith("index up to date:")
    assert set(skipped_lines(proc.stderr)) == set(m.bad)


def test_strict_makes_any_bad_post_an_error(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    (c / "good.md").write_text("### A\ntext\n", encoding="utf-8")
    (c / "empty.md").write_bytes(b"")
    proc = run_kb("index", "--content", c, "--index-dir", tmp_path / "i", "-q", "--strict")
    assert_no_traceback(proc)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["skipped empty.md: empty file", "kb: 1 post(s) skipped and --strict is set"]


def test_nothing_indexable_is_an_error_that_still_names_each_file(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    (c / "empty.md").write_bytes(b"")
    (c / "img.md").write_bytes(png_bytes())
    (c / "notes.txt").write_text("not a post", encoding="utf-8")
    proc = run_kb("index", "--content", c, "--index-dir", tmp_path / "i", "-q")
    assert_no_traceback(proc)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["skipped empty.md: empty file", "skipped img.md: binary file, not a markdown post",
                                        f"kb: no indexable post in {c} (2 skipped)"]
    assert not (tmp_path / "i" / "CURRENT").exists()


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_a_missing_or_wrong_content_folder_is_one_line(tmp_path, make):
    c = tmp_path / "c"
    if make == "file":
        c.write_text("x", encoding="utf-8")
    elif make == "empty":
        c.mkdir()
    proc = run_kb("index", "--content", c, "--index-dir", tmp_path / "i", "-q")
    assert_one_line_error(proc, str(c))


def test_messy_names_in_output_stay_one_line(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    (c / "ok.md").write_text("### A\ntext\n", encoding="utf-8")
    (c / "new\nline.md").write_bytes(b"")
    (c / os.fsdecode(b"bad\xff\x01.md")).write_bytes(b"")
    proc = run_kb("index", "--content", c, "--index-dir", tmp_path / "i", "-q")
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stderr.splitlines()) == ["skipped bad\\xff\\x01.md: empty file",
                                                "skipped new\\nline.md: empty file"]


# ---- the app: a hostile post renders inert, the server listens on this machine only -------------------------------

HOSTILE_POST = """---
title: "<script>alert('title')</script>Evil weekly <img src=x onerror=alert(0)>"
date: 2021-06-05
tags: ["<img src=x onerror=alert(12)>", ML]
---
<meta http-equiv="refresh" content="0;url=https://evil.example"> 인트로 <style>body{display:none}</style>

### Evil <SCRIPT SRC=//evil.example/x.js></SCRIPT> kbhostile 트레이딩 <svg/onload=alert(1)>

[a](JaVaScRiPt:alert(1)) [b]( javascript:alert(2)) [c](&#106;avascript:alert(3)) [e](data:text/html;base64,PHNjcmlwdD4=)
[f](vbscript:msgbox) <a href="javascript:alert(5)" onclick="alert(5)">x</a> <javascript:alert(9)> [h][r]
[g](https://ok.example/"onmouseover="alert(6)) <iframe srcdoc="<script>alert(7)</script>"></iframe>
<img src=x onerror=alert(8)> <form action=https://evil.example><input name=p></form> :red[x]
$\\href{javascript:alert(11)}{math}$ 트레이딩 kbhostile 본문 [참고링크](https://github.com/microsoft/qlib)

[r]: javascript:alert(10)
"""


def _inert(value: str) -> None:
    low = value.lower()
    for tag in ("<script", "<iframe", "<img", "<svg", "<meta", "<form", "<input", "<style", "<a href=\"javascript"):
        assert tag not in low, (tag, value[:300])
    assert not re.search(r"<[^>]*\son\w+\s*=", value), value[:300]              # no event handler in any tag
    hrefs = re.findall(r'href="([^"]*)"', value)
    assert all(re.match(r"(https?://|#kb-sec-\d+$)", h) or re.fullmatch(r"\?[A-Za-z0-9%._~+=&;-]*", h)
               for h in hrefs), hrefs                                    # web links, or the app's own parameters
    assert "\\href{" not in value


def test_the_app_renders_a_hostile_post_inert(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from kb.app.html import CSS, SCRIPT

    content = tmp_path / "content"
    content.mkdir()
    (content / "2021-06-05-hostile.md").write_text(HOSTILE_POST, encoding="utf-8")
    build_index(Settings.load(content, tmp_path / "index"))
    monkeypatch.setenv("KB_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("KB_CONTENT_DIR", str(content))
    pages = [{"q": "kbhostile 트레이딩"}, {"q": "<script>alert(1)</script> kbhostile", "mode": "keyword"},
             {"view": "issues", "post": "2021-06-05-hostile.md", "sec": "0"},
             {"view": "issues", "post": "../../../../etc/passwd"}, {"view": "resources"}]
    for params in pages:
        at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=300)
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        html_values = [m.value for m in [*at.markdown, *at.html] if m.value not in (CSS, SCRIPT)]
        for value in html_values:
            _inert(value)
        md_values = [e.value for kind in ("header", "subheader", "caption", "info", "warning", "error")
                     for e in getattr(at, kind)] + [b.label for b in at.button] + [x.label for x in at.expander]
        for value in md_values:                    # Markdown-rendered text: no live link or tag from the post
            assert not re.search(r"(?<!\\)\]\((?!\\)", value) and "<script" not in value.lower(), value
        everything = "".join(html_values + md_values)
        assert "root:x:0" not in everything
        if "q" in params:
            assert any('<div class="kb-card"' in v for v in html_values), params
        if params.get("post", "").startswith(".."):                    # a path from the URL reads no file
            assert not any("kb-section" in v for v in html_values) and (at.warning or at.info or at.error)
        if params.get("post") == "2021-06-05-hostile.md":
            assert 'href="https://github.com/microsoft/qlib"' in everything
            assert "javascript&#58;alert&#40;1&#41;" in everything.replace("JaVaScRiPt", "javascript")


def test_the_app_listens_on_localhost_only_and_refuses_foreign_hosts(tmp_path):
    """`streamlit run app.py` with the repository's .streamlit/config.toml and no flags: bound to 127.0.0.1, and
    a WebSocket from another Host or Origin (DNS rebinding, a hostile page) is refused."""
    import http.client
    import socket
    import subprocess
    import sys

    from fixtures.cli import ROOT, kb_env

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = kb_env(KB_INDEX_DIR=str(tmp_path / "none"), KB_CONTENT_DIR=str(tmp_path / "none"))
    p = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                          "--server.port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert p.poll() is None and time.time() < deadline, "streamlit did not start"
                time.sleep(0.2)
        listening = [ln.split() for name in ("/proc/net/tcp", "/proc/net/tcp6") if Path(name).exists()
                     for ln in Path(name).read_text().splitlines()[1:]]
        local = {f[1] for f in listening if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port}
        assert local == {f"0100007F:{port:04X}"}, local                  # 127.0.0.1 only, not 0.0.0.0 or ::

        def upgrade(host: str, origin: str | None = None) -> int:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            headers = {"Host": host, "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                       "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
            if origin:
                headers["Origin"] = origin
            c.request("GET", "/_stcore/stream", headers=headers)
            status = c.getresponse().status
            c.close()
            return status

        assert upgrade(f"localhost:{port}") == 101
        assert upgrade("evil.example") == 403
        assert upgrade(f"localhost:{port}", origin="https://evil.example") == 403
    finally:
        stop(p, timeout=10)
