"""Unit tests: posts and sections parsing (front matter, dates, week labels, TOC, links, names, markdown)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kb.ingest.posts import PostFile, parse_date, read_post, week_label
from kb.ingest.sections import extract_links, split_sections, strip_markdown, url_names

SEED = Path(__file__).resolve().parent.parent / "content" / "2020-06-27-weekly-ml-dl-news.md"


def _post(tmp_path: Path, name: str, text: str | bytes):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return split_sections(read_post(PostFile(p, name)))


def test_seed_post_parses_into_nine_sections_with_links_and_toc():
    post, secs = split_sections(read_post(PostFile(SEED, SEED.name)))
    assert post.title == "Weekly ML/DL News (7월 1주차)"
    assert post.date == date(2020, 6, 27)
    assert post.week == "7월 1주차"
    assert post.tags == ["ML", "DL"] and post.categories == ["news"]
    assert [s.heading for s in secs] == [
        "AI clean code", "AI trading", "Hummingbird", "DL Model implementations", "Fastbook",
        "Text Classification Review paper", "Deepmind UCL NLP course", "Speechbook", "KorGPT2 tutorial"]
    assert post.toc == [s.heading for s in secs]          # the TOC is post-level, not a section
    assert "꾸준히" in post.intro and "목차" not in post.intro
    fast = secs[4]
    assert fast.url == "https://www.amazon.com/dp/1492045527/"
    assert [link.url for link in fast.links] == ["https://www.amazon.com/dp/1492045527/",
                                                 "https://github.com/fastai/fastbook"]
    assert "fastai/fastbook" in fast.names and "fastbook" in fast.names
    assert "참고링크" not in fast.text and "제레미" in fast.text
    assert secs[2].names[:3] == ["Hummingbird", "microsoft/hummingbird", "hummingbird"]
    assert "arXiv 2004.03705" in secs[5].names
    assert all(s.date == "2020-06-27" and s.post_title == post.title for s in secs)
    assert secs[8].markdown.startswith("### KorGPT2 tutorial")


@pytest.mark.parametrize("value,expected", [
    ("2020.06.27 12:00:00", date(2020, 6, 27)),
    ("2020-06-27", date(2020, 6, 27)),
    ("2020/6/7", date(2020, 6, 7)),
    ("2020년 6월 27일", date(2020, 6, 27)),
    ("20200627", date(2020, 6, 27)),
    ("June 27, 2020", date(2020, 6, 27)),
    (date(2021, 1, 2), date(2021, 1, 2)),
    ("2020-13-45", None),
    ("someday", None),
    (None, None),
])
def test_parse_date(value, expected):
    assert parse_date(value) == expected


def test_week_label_from_title_else_iso_week():
    assert week_label("Weekly ML/DL News (7월 1주차)", None) == "7월 1주차"
    assert week_label("Weekly News (12월 3주)", None) == "12월 3주차"
    assert week_label("Weekly News", date(2020, 6, 27)) == "2020-W26"
    assert week_label("Weekly News", None) == ""


def test_missing_date_comes_from_file_name_and_tags_may_be_a_string(tmp_path):
    post, secs = _post(tmp_path, "2021-03-20-news.md", "---\ntitle: Hello\ntags: NLP, Vision\n---\n### A\ntext\n")
    assert post.date == date(2021, 3, 20) and post.tags == ["NLP", "Vision"]
    assert [s.heading for s in secs] == ["A"]


def test_no_front_matter_crlf_and_bom(tmp_path):
    post, secs = _post(tmp_path, "2020-01-04-x.md", b"\xef\xbb\xbf### One\r\nbody one\r\n### Two\r\nbody two\r\n")
    assert post.title == "2020-01-04-x" and post.date == date(2020, 1, 4)
    assert [(s.heading, s.text) for s in secs] == [("One", "body one"), ("Two", "body two")]


def test_cp949_post_is_decoded(tmp_path):
    text = "---\ntitle: 주간 뉴스 (8월 2주차)\ndate: 2020.08.08\n---\n### 트레이딩\n주식 자동매매 이야기\n"
    post, secs = _post(tmp_path, "euckr.md", text.encode("cp949"))
    assert post.week == "8월 2주차" and secs[0].heading == "트레이딩" and "자동매매" in secs[0].text


def test_headings_with_markdown_and_html_become_plain_text(tmp_path):
    _, secs = _post(tmp_path, "h.md", "### **Bold** [Link](https://x.io) <b>tag</b> `code`\ncontent\n")
    assert secs[0].heading == "Bold Link tag code"


def test_code_fences_do_not_split_sections(tmp_path):
    _, secs = _post(tmp_path, "f.md", "### Real\n```\n### not a heading\n```\nafter\n")
    assert [s.heading for s in secs] == ["Real"]


def test_post_without_h3_falls_back_to_h2_then_to_whole_post(tmp_path):
    _, secs = _post(tmp_path, "a.md", "---\ntitle: T\n---\n## 목차\n- x\n## First\none\n## Second\ntwo\n")
    assert [s.heading for s in secs] == ["First", "Second"]
    _, secs = _post(tmp_path, "b.md", "---\ntitle: Only text\n---\nJust a paragraph about GANs.\n")
    assert [s.heading for s in secs] == ["Only text"] and "GANs" in secs[0].text


def test_links_of_every_kind_are_extracted_in_order():
    md = ("[참고링크](https://a.com/x) see <https://b.org/y> and https://c.net/z. "
          "![img](https://img.png) [js](javascript:alert(1))\n[ref]: https://d.io/w")
    urls = [link.url for link in extract_links(md)]
    assert urls == ["https://a.com/x", "https://b.org/y", "https://c.net/z", "javascript:alert(1)", "https://d.io/w"]
    assert "https://img.png" not in urls


def test_primary_url_is_never_a_script_link(tmp_path):
    _, secs = _post(tmp_path, "j.md", "### X\n[click](javascript:alert(1)) [참고링크](https://ok.io)\n")
    assert secs[0].url == "https://ok.io"


def test_strip_markdown_drops_scripts_html_and_generic_anchors():
    text = strip_markdown("**굵게** [참고링크](https://a.b) [KoBERT](https://github.com/x/y)\n<script>alert(1)</script>- item")
    assert text == "굵게 KoBERT\nitem"


@pytest.mark.parametrize("url,names", [
    ("https://github.com/microsoft/hummingbird", ["microsoft/hummingbird", "hummingbird"]),
    ("https://arxiv.org/abs/2005.14165", ["arXiv 2005.14165", "2005.14165"]),
    ("https://ratsgo.github.io/speechbook/", ["ratsgo", "speechbook"]),
    ("https://wandb.ai/site", ["wandb"]),
    ("https://www.youtube.com/watch?v=8zAP2qWAsKg", []),
])
def test_url_names(url, names):
    assert url_names(url) == names
