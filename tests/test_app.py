"""The Streamlit app through streamlit.testing.v1.AppTest (the real app script, real index, real model), plus the
library helpers it draws with (kb.app.html's escaping and highlighting, kb.query.browse's views)."""

from __future__ import annotations

import html
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

import kb
from benchmarks.browser import HUGE_POST, huge_post
from kb.app import data as appdata
from kb.app import html as render
from kb.build.local import build_index
from kb.core.config import Settings
from kb.query import browse

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
EVAL_POSTS = ROOT / "tests" / "eval" / "posts"
TIMEOUT = 300   # the first run of a session loads the model and assigns topics

EVIL = """---
title: "Weekly <script>alert('t')</script> News [x](javascript:alert(1)) (5월 1주차)"
date: 2021-05-01
tags: [ML, "<b>bold</b>"]
categories: [news]
---
intro <iframe src="https://evil.example"></iframe> text

### Evil <img src=x onerror=alert(1)> trading bot

[참고링크](javascript:alert(1)), [Qlib](https://github.com/microsoft/qlib), <javascript:alert(5)>

트레이딩 봇 <script>alert("x")</script> 본문 **bold** [click](javascript:alert(2)) $x$ :red[hi] &lt;b&gt;not bold&lt;/b&gt;
<a href="javascript:alert(3)" onclick="alert(4)">a link</a> ![pixel](https://tracker.example/p.gif)

### Plain section

[참고링크](https://example.com/plain)

평범한 섹션이다.
"""

DUP = """---
title: Weekly ML/DL News (5월 2주차)
date: 2021-05-08
tags: [ML]
---
### Qlib again

[참고링크](http://www.github.com/microsoft/qlib/)

퀀트 트레이딩 플랫폼 Qlib 다시 소개.
"""

UNDATED = """### Notes without a date

[참고링크](https://example.com/plain/)

날짜가 없는 메모. 트레이딩 전략 정리.
"""


# ---- helpers --------------------------------------------------------------------------------------------------

def run_app(monkeypatch, index_dir, content_dir, **params) -> AppTest:
    monkeypatch.setenv("KB_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("KB_CONTENT_DIR", str(content_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def page(at: AppTest) -> str:
    """Every piece of HTML the page drew (st.html and Markdown), CSS and the app's script left out."""
    parts = [h.value for h in at.html] + [m.value for m in at.markdown]
    return "".join(p for p in parts if p not in (render.CSS, render.SCRIPT))


def cards(at: AppTest) -> list[str]:
    """Each result card's HTML, in page order."""
    out = []
    for h in at.html:
        starts = [m.start() for m in re.finditer(r'<div class="kb-card[ "]', h.value)]
        out += [h.value[a:b] for a, b in zip(starts, [*starts[1:], len(h.value)], strict=False)]
    return out


def rows(at: AppTest) -> list[int]:
    return [int(re.search(r'data-row="(\d+)"', c).group(1)) for c in cards(at)]


def links(html_text: str, label: str) -> list[dict[str, list[str]]]:
    """The query parameters of every in-app link with this label."""
    found = re.findall(r'<a href="\?([^"]*)" data-kb-go="1" target="_self"[^>]*>' + re.escape(label) + "</a>",
                       html_text)
    return [parse_qs(html.unescape(h)) for h in found]


def follow(monkeypatch, index_dir, content_dir, params: dict[str, list[str]]) -> AppTest:
    """Open the app at a link's parameters, as the browser does when the link is clicked."""
    return run_app(monkeypatch, index_dir, content_dir, **{k: v if len(v) > 1 else v[0] for k, v in params.items()})


def plain(s: str) -> str:
    """Markdown-escaped text (render.label) back to what a reader sees."""
    return re.sub(r"\\(.)", r"\1", s)


def button(at: AppTest, label: str):
    matches = [b for b in at.button if plain(b.label) == label or plain(b.label).startswith(label)]
    assert matches, (label, [b.label for b in at.button])
    return matches[0]


def popover_labels(at: AppTest) -> list[str]:
    out = []

    def walk(node) -> None:
        if getattr(node, "type", None) == "popover":
            out.append(node.proto.popover.label)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


@pytest.fixture(scope="module")
def odd_corpus(tmp_path_factory) -> tuple[Path, Path]:
    """Three small posts: one full of hostile HTML/Markdown/links, one that links the same resource differently, and
    one without any date."""
    tmp = tmp_path_factory.mktemp("odd")
    content = tmp / "content"
    content.mkdir()
    (content / "2021-05-01-evil.md").write_text(EVIL, encoding="utf-8")
    (content / "2021-05-08-dup.md").write_text(DUP, encoding="utf-8")
    (content / "notes.md").write_text(UNDATED, encoding="utf-8")
    build_index(Settings.load(content, tmp / "index"))
    return content, tmp / "index"


@pytest.fixture
def small_site(tmp_path, content_copy) -> tuple[Path, Path]:
    """A writable content folder (the seed post) with its own index."""
    index_dir = tmp_path / "index"
    build_index(Settings.load(content_copy, index_dir))
    return content_copy, index_dir


# ---- search ---------------------------------------------------------------------------------------------------

def test_deep_link_shows_trading_sections_from_several_weeks(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="트레이딩")
    found = rows(at)
    assert len(found) == 10
    secs = [eval_index.sections[r] for r in found]
    assert len({s.post_path for s in secs[:6]}) >= 4
    assert {"FinRL", "Freqtrade", "AI trading"} <= {s.heading for s in secs}
    assert any("<mark>트레이딩</mark>" in c for c in cards(at))
    assert at.text_input(key="w_q").value == "트레이딩" and at.segmented_control(key="w_mode").value == "hybrid"
    assert any(re.match(r"\d+\+? results · showing \d+ · from \d+ weeks", c.value) for c in at.caption)
    assert len(at.html) <= 6                # frame, nav, script, the result list as ONE element, end marker


def test_typing_a_query_updates_the_results_and_the_url(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content)
    assert not cards(at) and links(page(at), "트레이딩") == [{"q": ["트레이딩"]}]   # the landing page offers examples
    at.text_input(key="w_q").input("강화학습 프레임워크").run()
    assert_clean(at)
    assert at.query_params["q"] == "강화학습 프레임워크"
    headings = [eval_index.sections[r].heading for r in rows(at)]
    assert "Acme: 강화학습 프레임워크" in headings[:3]


def test_mode_count_and_why_this_result(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="Freqtrade")
    at.segmented_control(key="w_mode").set_value("keyword").run()
    at.number_input(key="w_k").set_value(3).run()
    assert_clean(at)
    assert at.query_params["mode"] == "keyword" and at.query_params["k"] == "3"
    assert len(cards(at)) <= 3 and "Freqtrade" in cards(at)[0]
    why = re.search(r'<details class="kb-why"><summary>Why this result</summary>(.*?)</details>', cards(at)[0]).group(1)
    assert "<td>keyword</td>" in why and "<td>semantic</td>" not in why


def test_filters_from_the_url(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="딥러닝", since="2020-09-01", until="2020-12-31")
    assert rows(at) and all("2020-09-01" <= eval_index.sections[r].date <= "2020-12-31" for r in rows(at))
    week = "2020-08-22-weekly-ml-dl-news.md"
    at = run_app(monkeypatch, index_dir, content, q="모델", week=week)
    assert rows(at) and {eval_index.sections[r].post_path for r in rows(at)} == {week}
    at = run_app(monkeypatch, index_dir, content, q="모델", tag=["Speech"])
    assert rows(at) and all("Speech" in eval_index.sections[r].tags for r in rows(at))
    at = run_app(monkeypatch, index_dir, content, q="오픈소스 라이브러리", topic="trading")
    from kb import topics

    trading = set(topics.assign(eval_index, topics.load_topics(content)).rows("trading"))
    assert rows(at) and set(rows(at)) <= trading
    assert at.selectbox(key="w_topic").value == "trading"
    assert popover_labels(at) == ["Filters · 1 on"]
    button(at, "Clear the filters").click().run()
    assert "topic" not in at.query_params and at.query_params["q"] == "오픈소스 라이브러리"
    assert popover_labels(at) == ["Filters"]


def test_week_labels_do_not_repeat_the_week(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="모델")
    week = at.selectbox(key="w_week")
    label = week.format_func("2021-03-20-weekly-ml-dl-news.md")
    assert label == "Weekly ML/DL News (3월 3주차) · 2021-03-20"
    assert all(lb.count("주차") <= 1 for lb in map(week.format_func, week.options))


def test_a_filter_without_a_query_lists_sections_newest_first(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, topic="speech", k="50")
    dates = [eval_index.sections[r].date for r in rows(at)]
    assert len(dates) >= 5 and dates == sorted(dates, reverse=True)


def test_no_results_suggests_a_broader_mode(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="zqxwv", mode="keyword")
    assert not cards(at)
    assert "No results for" in plain(at.info[0].value)
    button(at, "Try hybrid mode").click().run()
    assert_clean(at)
    assert "mode" not in at.query_params and cards(at)       # hybrid finds the nearest sections by meaning


def test_bad_url_parameters_are_reported_not_fatal(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="NLP", mode="fuzzy", k="lots", since="yesterday", topic="cooking")
    warnings = " ".join(plain(w.value) for w in at.warning)
    assert "Unknown mode fuzzy" in warnings and "since=yesterday" in warnings and "Unknown topic cooking" in warnings
    assert len(cards(at)) == 10


def test_a_reversed_date_range_is_named_and_can_be_swapped(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="딥러닝", since="2021-01-01", until="2020-09-01")
    assert any("The date range is reversed: From 2021-01-01 is after Until 2020-09-01" in plain(w.value)
               for w in at.warning)
    assert not cards(at) and not at.info                      # not a silent "No results"
    button(at, "Swap the dates").click().run()
    assert_clean(at)
    assert (at.query_params["since"], at.query_params["until"]) == ("2020-09-01", "2021-01-01")
    assert rows(at) and all("2020-09-01" <= eval_index.sections[r].date <= "2021-01-01" for r in rows(at))


def test_a_huge_query_is_cut_so_the_link_stays_shareable(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    words = ("트레이딩 " + "lorem ipsum dolor ") * 12_500               # 50,000 words, typed (or pasted)
    at = run_app(monkeypatch, index_dir, content)
    assert at.text_input(key="w_q").max_chars == 500                 # the box itself takes at most 500 (a browser
    at.text_input(key="w_q").set_value(words).run()                 # cuts a paste); and the server cuts anything else
    assert_clean(at)
    q = at.query_params["q"]
    assert len(q) <= 500 and words.startswith(q) and not q.endswith(" ")
    assert any("Queries are cut at 500 characters" in plain(w.value) for w in at.warning)
    assert cards(at) and at.text_input(key="w_q").value == q     # it still searched, with what the link keeps
    at = run_app(monkeypatch, index_dir, content, q=words[:20_000])  # a long link (Streamlit drops any > 512 KiB)
    assert len(at.query_params["q"]) <= 500 and cards(at)
    assert any("20,000 characters long" in plain(w.value) for w in at.warning)


# ---- result actions -----------------------------------------------------------------------------------------------

def test_open_in_post_starts_at_the_section_and_links_back_to_the_results(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="Stable Baselines3", mode="keyword", tag=["RL"])
    first = eval_index.sections[rows(at)[0]]
    assert first.heading == "Stable Baselines3"
    target = links(cards(at)[0], "Open in post")[0]
    assert target == {"q": ["Stable Baselines3"], "mode": ["keyword"], "tag": ["RL"], "view": ["issues"],
                      "post": [first.post_path], "sec": [str(first.position)]}
    at = follow(monkeypatch, index_dir, content, target)
    html_text = page(at)
    sections = re.findall(r'<div class="kb-section[^"]*" id="kb-sec-(\d+)"', html_text)
    assert len(sections) == len(eval_index.post_sections(first.post_path))
    earlier, opened = html_text.split('<div class="kb-section kb-target"')
    assert earlier.count('<div class="kb-section"') == first.position       # every earlier one…
    assert '<details class="kb-earlier">' in earlier                       # …folded away, so the page starts here
    assert f'id="kb-sec-{first.position}"><div class="kb-here">' in opened and "<mark>Stable</mark>" in opened
    assert f'<div class="kb-title">{render.text(first.post_title)}</div>' in html_text
    back = links(html_text, "← Back to results")
    assert back == [{"q": ["Stable Baselines3"], "mode": ["keyword"], "tag": ["RL"]}]
    at = follow(monkeypatch, index_dir, content, back[0])
    assert eval_index.sections[rows(at)[0]].heading == "Stable Baselines3"


def test_a_post_opened_from_the_issues_list_links_to_all_issues(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, view="issues", post="2021-03-20-weekly-ml-dl-news.md")
    html_text = page(at)
    assert links(html_text, "← All issues") == [{"view": ["issues"]}] and "Back to results" not in html_text
    assert "kb-target" not in html_text and "kb-earlier" not in html_text


def test_post_text_reads_as_sentences(monkeypatch, eval_corpus):
    """Hard-wrapped source lines are joined into sentences; paragraphs stay paragraphs."""
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, view="issues", post="2020-06-27-weekly-ml-dl-news.md", sec="1")
    opened = page(at).split('<div class="kb-section kb-target"')[1].split('<div class="kb-section"')[0]
    assert "이 사람과 같은 고민을 해봤으리라 생각한다.</p><p>다만," in html.unescape(opened)
    assert "<br>" not in opened


def test_more_like_this(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="Glow-TTS")
    row = rows(at)[0]
    target = links(cards(at)[0], "More like this")[0]
    assert target == {"q": ["Glow-TTS"], "more": [f"{eval_index.sections[row].post_path}#{eval_index.sections[row].position}"]}
    at = follow(monkeypatch, index_dir, content, target)
    found = rows(at)
    assert found[0] == row and row not in found[1:] and len(found) > 3
    near = {eval_index.sections[r].heading for r in found[1:6]}
    assert near & {"HiFi-GAN", "KoSpeech", "wav2vec 2.0", "SpeechBrain", "Speechbook"}
    assert links(page(at), "← Back to the results") == [{"q": ["Glow-TTS"]}]


def test_every_page_is_reachable_from_the_navigation_row(monkeypatch, eval_corpus):
    """The page row is in the main column (no sidebar): a link per page, the current one marked."""
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="NLP", view="topics", topic="nlp")
    nav = next(h.value for h in at.html if h.value.startswith('<nav class="kb-nav">'))
    for label in ("Search", "Topics", "Issues", "Resources", "Stats"):
        assert len(links(nav, label)) == 1, label
    assert links(nav, "Search") == [{"q": ["NLP"]}]          # leaving the topic page drops its topic
    assert re.search(r'class="kb-on" aria-current="page"[^>]*>Topics</a>', nav)
    assert 'data-kb-keep="q mode k since until week tag cat">Search</a>' in nav    # the address bar's search wins
    assert not at.sidebar.children or not any(at.sidebar.children.values())


# ---- topics, issues, resources ----------------------------------------------------------------------------------

def test_topics_overview_and_a_topic_page(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, view="topics")
    grid = page(at)
    found = re.findall(r'<a href="\?view=topics&amp;topic=([a-z-]+)"[^>]*>([^<]+)<br><span>(\d+) sections</span>', grid)
    assert len(found) == 8 and ("trading", "Trading &#38; finance", found[4][2]) in found
    assert ("korean", "Korean&#45;language resources", found[7][2]) in found          # whole labels, never cut
    assert "topics.toml" in at.caption[0].value and "/" not in at.caption[0].value     # no file path on the page
    at = follow(monkeypatch, index_dir, content, links(grid, "Trading &#38; finance<br><span>"
                                                                f"{found[4][2]} sections</span>")[0])
    assert at.query_params["topic"] == "trading" and at.query_params["view"] == "topics"
    assert '<div class="kb-title">Trading &#38; finance</div>' in page(at)
    found = [eval_index.sections[r] for r in rows(at)]
    assert len(found) >= 8 and len({s.post_path for s in found}) >= 6
    assert [s.date for s in found] == sorted((s.date for s in found), reverse=True)
    bars = re.findall(r'<span style="height:\d+%" title="(\d{4}-\d\d): (\d+) sections"></span>', page(at))
    months = sorted({s.date[:7] for s in found})                                      # the per-month chart:
    assert bars[0][0] == months[0] and bars[-1][0] == months[-1] and len(bars) >= len(months)   # every month
    assert sum(int(c) for _, c in bars) == len(found)
    assert links(page(at), "← All topics") == [{"view": ["topics"]}]


def test_unknown_topic_page(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, view="topics", topic="cooking")
    assert "Unknown topic cooking" in plain(at.warning[0].value)
    assert "topic=nlp" in page(at)                     # and the topics to pick from


def test_issues_list_newest_first_and_one_post(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, view="issues")
    keys = re.findall(r'<a href="\?view=issues&amp;post=([^"&]+)"', page(at))
    assert len(keys) == 9
    by_path = {p.path: p for p in eval_index.posts}
    dates = [by_path[k].date for k in keys]
    assert dates == sorted(dates, reverse=True)
    assert 'Weekly ML/DL News (3월 3주차)</a><div class="kb-meta">2021-03-20 · 8 sections</div>' in html.unescape(page(at))
    at = run_app(monkeypatch, index_dir, content, view="issues", post=keys[-1])
    sections = re.findall(r'<div class="kb-section[^"]*"', page(at))
    assert len(sections) == 9 and not any("kb-target" in s for s in sections)
    assert "AI trading" in page(at)


def test_resources_are_listed_once_per_url_and_weeks_open_the_issue(monkeypatch, odd_corpus):
    content, index_dir = odd_corpus
    at = run_app(monkeypatch, index_dir, content, view="resources")
    res = re.findall(r'<div class="kb-res">.*?</div></div>', page(at))
    qlib = [r for r in res if "github.com/microsoft/qlib" in r]
    assert len(qlib) == 1 and "5월 1주차" in qlib[0] and "5월 2주차" in qlib[0]
    weeks = re.findall(r'<a href="\?([^"]*)" data-kb-go="1" target="_self">5월 1주차', qlib[0])
    assert parse_qs(html.unescape(weeks[0])) == {"view": ["issues"], "post": ["2021-05-01-evil.md"], "sec": ["0"]}
    assert len(res) == 2          # qlib and example.com/plain: javascript: links and the tracker image are not resources
    at.text_input(key="w_rq").input("plain").run()
    assert len(re.findall(r'<div class="kb-res">', page(at))) == 1


# ---- long lists are paged, charts bounded ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def many_posts(tmp_path_factory) -> tuple[Path, Path]:
    """60 weekly posts, each a trading section and a cooking one (two posts with impossible dates), built with the
    real model."""
    from fixtures.messy import post

    tmp = tmp_path_factory.mktemp("many")
    content = tmp / "content"
    content.mkdir()
    for i in range(60):
        date = {0: "0001-01-01", 1: "9999-12-31"}.get(i, f"20{10 + i // 12:02d}-{i % 12 + 1:02d}-0{i % 7 + 1}")
        content.joinpath(f"post-{i:02d}.md").write_text(post(
            f"Weekly ML/DL News ({i % 12 + 1}월 {i % 4 + 1}주차)", date,
            [(f"Trading bot {i}", f"[참고링크](https://example.com/bot{i})\n\n주식 트레이딩 봇 {i}번. 알고리즘 트레이딩 라이브러리."),
             (f"요리 노트 {i}", "오늘은 된장찌개를 끓였다. 두부와 애호박을 넣었다.")]),
            encoding="utf-8")
    build_index(Settings.load(content, tmp / "index"))
    return content, tmp / "index"


@pytest.mark.slow
def test_issues_resources_and_topic_lists_are_paged(monkeypatch, many_posts):
    content, index_dir = many_posts
    at = run_app(monkeypatch, index_dir, content, view="issues")
    assert len(re.findall(r'<div class="kb-issue">', page(at))) == 25
    assert "1–25 of 60 issues" in page(at) and links(page(at), "Older →") == [{"view": ["issues"], "page": ["2"]}]
    at = run_app(monkeypatch, index_dir, content, view="issues", page="3")
    assert len(re.findall(r'<div class="kb-issue">', page(at))) == 10 and "51–60 of 60 issues" in page(at)
    assert links(page(at), "← Newer") == [{"view": ["issues"], "page": ["2"]}]
    at = run_app(monkeypatch, index_dir, content, view="issues", page="999")      # clamped, not empty
    assert "51–60 of 60 issues" in page(at)
    at = run_app(monkeypatch, index_dir, content, view="resources", page="2")
    assert len(re.findall(r'<div class="kb-res">', page(at))) == 10 and "51–60 of 60 resources" in page(at)
    at = run_app(monkeypatch, index_dir, content, view="topics", topic="trading")
    assert len(cards(at)) == 20 and "1–20 of" in page(at)
    chart = re.search(r'<div class="kb-chart".*?</div></div>', page(at)).group(0)
    assert "2 section(s) dated outside 1970" in page(at)                # 0001 and 9999: named, not charted
    assert "9999" not in chart and "0001" not in chart and chart.count("<span style=") <= 120
    total = int(re.search(r"1–20 of (\d+) sections", page(at)).group(1))
    assert total > 20
    at = run_app(monkeypatch, index_dir, content, view="topics", topic="trading", page="2")
    assert len(cards(at)) == min(20, total - 20) and f"21–{min(40, total)} of {total} sections" in page(at)


def test_histogram_is_bounded_to_the_real_date_span():
    from datetime import date

    h = appdata.histogram(["0001-01-01", "2020-06-27", "2020-07-04", "2020-09-19", "9999-12-31", ""],
                          today=date(2026, 1, 1))
    assert h.unit == "month" and h.left_out == 2 and h.span == ("2020-06-27", "2020-09-19")
    assert h.bars == [("2020-06", 1), ("2020-07", 1), ("2020-08", 0), ("2020-09", 1)]
    h = appdata.histogram(["1999-01-01", "2020-06-27", "2025-12-01"], today=date(2026, 1, 1))
    assert h.unit == "year" and len(h.bars) == 27 and h.bars[0] == ("1999", 1)
    assert appdata.histogram([], today=date(2026, 1, 1)).bars == []


def test_page_slice_clamps():
    assert appdata.page_slice(60, "2", 25) == (2, 3, 25, 50)
    assert appdata.page_slice(60, "x", 25) == (1, 3, 0, 25)
    assert appdata.page_slice(60, "-4", 25) == (1, 3, 0, 25)
    assert appdata.page_slice(0, "3", 25) == (1, 1, 0, 0)


# ---- untrusted content --------------------------------------------------------------------------------------------

def _assert_inert(html_text: str) -> None:
    low = html_text.lower()
    assert "<script" not in low and "<iframe" not in low and "<img" not in low and "onerror=" not in low
    assert "onclick=" not in low and "<b>" not in low
    assert not re.search(r'href="(?!https?://|\?)', html_text)     # only http(s) links and the app's own
    for query in re.findall(r'href="\?([^"]*)"', html_text):           # the app's own: parameters only
        assert re.fullmatch(r"[A-Za-z0-9%._~+=&;-]*", query), query


def test_post_text_is_escaped_and_only_web_links_are_clickable(monkeypatch, odd_corpus):
    content, index_dir = odd_corpus
    at = run_app(monkeypatch, index_dir, content, q="트레이딩 봇")
    html_text = "".join(cards(at))
    _assert_inert(html_text)
    assert 'href="https://github.com/microsoft/qlib"' in html_text
    assert "<mark>트레이딩</mark>" in html_text
    evil = next(c for c in cards(at) if "Evil" in c)
    at = follow(monkeypatch, index_dir, content, links(evil, "Open in post")[0])
    text_ = page(at)
    _assert_inert(text_)
    assert 'class="kb-nolink">javascript&#58;alert&#40;1&#41;' in text_      # shown as text
    assert "&#60;b&#62;bold&#60;&#47;b&#62;" in text_                       # the hostile tag, as text
    assert '<div class="kb-title">Weekly News x &#40;5월 1주차&#41;</div>' in text_   # the parser dropped the tags


def test_undated_posts_are_listed_last_and_say_so(monkeypatch, odd_corpus):
    content, index_dir = odd_corpus
    index = kb.open_index(index_dir)
    at = run_app(monkeypatch, index_dir, content, q="트레이딩")
    undated = [c for c in cards(at) if "Notes without a date" in c]
    assert len(undated) == 1 and '<span class="kb-date">no date</span>' in undated[0]
    at = run_app(monkeypatch, index_dir, content, view="issues")
    keys = re.findall(r'<a href="\?view=issues&amp;post=([^"&]+)"', page(at))
    assert keys == ["2021-05-08-dup.md", "2021-05-01-evil.md", "notes.md"]
    at = run_app(monkeypatch, index_dir, content, tag=["ML"], since="2021-05-02")    # the date filter drops undated
    assert [index.sections[r].post_path for r in rows(at)] == ["2021-05-08-dup.md"]
    at = run_app(monkeypatch, index_dir, content, view="stats")
    assert "(1 undated post(s))" in html.unescape(page(at))


def test_a_broken_topics_file_leaves_search_working(monkeypatch, seed_index_dir, content_copy):
    (content_copy / "topics.toml").write_text("[nlp\n", encoding="utf-8")
    at = run_app(monkeypatch, seed_index_dir, content_copy, q="Fastbook", topic="nlp")
    assert cards(at) and "Ignoring the topic filter" in plain(at.warning[0].value)
    monkeypatch.setenv("KB_CONTENT_DIR", str(content_copy))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["view"] = "topics"
    at.run()
    assert not at.exception
    err = plain(at.error[0].value)
    assert "is not valid TOML" in err and "topics.toml" in err and str(content_copy) not in err


# ---- stats, rebuild, empty states -------------------------------------------------------------------------------

def test_content_changes_are_shown_in_the_main_column_and_rebuild(monkeypatch, small_site):
    content, index_dir = small_site
    at = run_app(monkeypatch, index_dir, content, view="stats")
    assert [m.value for m in at.metric][:2] == ["1", "9"]
    assert "up to date" in at.success[0].value
    shutil.copy(EVAL_POSTS / "2020-07-04-weekly-ml-dl-news.md", content)
    at.run()
    assert_clean(at)
    assert any("1 new post file(s)" in plain(w.value) for w in at.warning)
    at = run_app(monkeypatch, index_dir, content, q="Fastbook")          # every page says so, in the main column
    assert any("1 new post file(s)" in plain(w.value) and "Stats page" in plain(w.value) for w in at.main.warning)
    at = run_app(monkeypatch, index_dir, content, view="stats")
    button(at, "Rebuild the index (incremental)").click().run()
    assert_clean(at)
    assert any(s.value.startswith("indexed: 2 posts") for s in at.success)
    assert [m.value for m in at.metric][:2] == ["2", "17"]          # the app reloaded the new index version
    assert not any("changed" in plain(w.value) for w in at.warning)


def test_the_content_check_hashes_only_when_a_file_moved(monkeypatch, small_site):
    import time

    content, index_dir = small_site
    index = kb.open_index(index_dir)
    calls = []
    real = browse.content_changes
    monkeypatch.setattr(browse, "content_changes", lambda *a: calls.append(1) or real(*a))
    for _ in range(3):
        assert not appdata.content_changes(index, content, max_age=0).changed
    assert len(calls) == 1                                              # listed three times, hashed once
    post = next(content.glob("*.md"))
    post.write_text(post.read_text(encoding="utf-8") + "\n추가\n", encoding="utf-8")
    assert appdata.content_changes(index, content).modified == []      # an edit in place: not within max_age…
    assert appdata.content_changes(index, content, max_age=0).modified == [post.name]     # …unless asked now
    assert len(calls) == 2
    shutil.copy(EVAL_POSTS / "2020-07-11-weekly-ml-dl-news.md", content)    # a new file moves the folder's mtime:
    assert appdata.content_changes(index, content).added == ["2020-07-11-weekly-ml-dl-news.md"]   # seen at once
    post.write_text(post.read_text(encoding="utf-8") + "\n또\n", encoding="utf-8")
    appdata._SEEN[(index.backend.name, str(index.backend.index_dir), index.version, str(content))].checked -= 61        # a minute later, an edit in place
    appdata.content_changes(index, content)                                     # is listed in the background
    deadline = time.monotonic() + 30
    while len(calls) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(calls) == 4


def test_no_index_yet_says_what_to_run_and_builds_it(monkeypatch, tmp_path, content_copy):
    at = run_app(monkeypatch, tmp_path / "no-index", content_copy, q="Fastbook")
    assert "No index yet" in plain(at.info[0].value)
    assert "python -m kb.index --content" in at.code[0].value
    button(at, "Build the index now").click().run()
    assert_clean(at)
    assert "Fastbook" in cards(at)[0]                   # the deep link answers once the index exists


def test_seed_content_search(monkeypatch, seed_index_dir, seed_index):
    at = run_app(monkeypatch, seed_index_dir, ROOT / "content", q="speech book", mode="semantic")
    assert "Speechbook" in [seed_index.sections[r].heading for r in rows(at)[:2]]


# ---- library helpers the app draws with ---------------------------------------------------------------------------

def test_highlight_escapes_first_then_marks_korean_and_english():
    assert render.highlight("주식 트레이딩 봇", "트레이딩을") == "주식 <mark>트레이딩</mark> 봇"
    assert render.highlight("Reinforcement Learning", "reinforcement") == "<mark>Reinforcement</mark> Learning"
    assert "<mark>" not in render.highlight("see the URL", "RL")
    out = render.highlight("a <b>x</b> & <script>y</script>", "x")
    assert "<b>" not in out and "<script" not in out and out.count("<mark>") == 1
    assert render.highlight("c++ (beta)", "c++ (") == "<mark>c&#43;&#43;</mark> &#40;beta&#41;"


def test_links_only_for_http_and_https():
    assert render.link("https://a.example/x?q=1&r=2", "A").startswith('<a href="https://a.example/x?q=1&amp;r=2"')
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "vbscript:x", "/relative"):
        html = render.link(bad, "label")
        assert "<a " not in html and "kb-nolink" in html
    assert '"' not in render.link('https://x.example/"onmouseover="x', "t").split('href="')[1].split('"')[0]


def test_url_key_deduplicates_spellings_of_one_url():
    assert browse.url_key("http://www.GitHub.com/microsoft/qlib/") == browse.url_key("https://github.com/microsoft/qlib")
    assert browse.url_key("https://a.example/x#frag") == browse.url_key("https://a.example/x")
    assert browse.url_key("https://a.example/x?p=1") != browse.url_key("https://a.example/x?p=2")


def test_content_changes(small_site):
    content, index_dir = small_site
    index = kb.open_index(index_dir)
    assert not browse.content_changes(index, content).changed
    post = next(content.glob("*.md"))
    post.write_text(post.read_text(encoding="utf-8") + "\n추가\n", encoding="utf-8")
    shutil.copy(EVAL_POSTS / "2020-07-11-weekly-ml-dl-news.md", content)
    ch = browse.content_changes(index, content)
    assert ch.modified == [post.name] and ch.added == ["2020-07-11-weekly-ml-dl-news.md"] and not ch.removed
    post.unlink()
    assert browse.content_changes(index, content).removed == [post.name]
    assert browse.content_changes(index, content / "gone").missing_folder


def test_posts_newest_first_and_stats(eval_index):
    items = browse.posts(eval_index)
    assert [p.date for p in items] == sorted((p.date for p in items), reverse=True)
    s = browse.stats(eval_index)
    assert (s.posts, s.sections, s.first_date, s.last_date) == (9, 74, "2020-06-27", "2021-03-20")
    assert s.model == "multilingual-e5-small" and s.built_at


def test_every_page_renders_on_messy_content(monkeypatch, tmp_path):
    """Held-out posts may be messy: broken files, odd encodings, no dates, huge posts. No page shows an error."""
    from fixtures.messy import make_messy_content

    content = tmp_path / "content"
    content.mkdir()
    messy = make_messy_content(content, huge_sections=5)
    build_index(Settings.load(content, tmp_path / "index"))
    word = next(iter(messy.good.values()))
    for params in ({"q": word}, {"q": word, "mode": "keyword"}, {"view": "topics"}, {"view": "topics", "topic": "nlp"},
                   {"view": "issues"}, {"view": "resources"}, {"view": "stats"}):
        at = run_app(monkeypatch, tmp_path / "index", content, **params)
        if "q" in params:
            assert cards(at), params
    skipped = [e for e in at.expander if "skipped at the last build" in e.label]     # the stats page lists them
    assert skipped and int(skipped[0].label.split()[0]) >= len(messy.bad)


# ---- text that reads well -----------------------------------------------------------------------------------------

def test_hard_wrapped_lines_become_sentences_paragraphs_and_lists_stay():
    md = ("### Heading\n\n[참고링크](https://x.example)\n\n첫 문장은 여기서 끝나지 않고 이 사람과 같은\n고민을 해봤으리라 "
          "생각한다.\n\n둘째 문단.\n\n- 항목 하나가\n  이어진다\n- 항목 둘\n\n```\ncode\n  kept\n```\n#### 작은 제목\n끝.")
    assert render.blocks(md) == [("p", "첫 문장은 여기서 끝나지 않고 이 사람과 같은 고민을 해봤으리라 생각한다."),
                                 ("p", "둘째 문단."), ("li", "항목 하나가 이어진다"), ("li", "항목 둘"),
                                 ("pre", "code\n  kept"), ("h", "작은 제목"), ("p", "끝.")]
    out = render.body(md, "고민")
    assert out.startswith("<p>첫 문장은") and "<mark>고민</mark>" in out and "<ul><li>항목 하나가 이어진다</li>" in out
    assert render.body("### H\n\n<script>alert(1)</script>text <b>x</b>") == "<p>text x</p>"
    assert render.join_wrapped("이렇게 정리를 하기 시작하니\n다시 한 번 보게 된다.\n자 그러면") == \
        "이렇게 정리를 하기 시작하니 다시 한 번 보게 된다.\n자 그러면"


def test_display_text_is_cut_at_a_sentence_or_a_word():
    s = "첫 문장이다. 둘째 문장은 조금 더 길게 이어지는 문장이다. 셋째 문장은 잘릴 것이다."
    assert render.cut(s, 40) == "첫 문장이다. 둘째 문장은 조금 더 길게 이어지는 문장이다."
    assert render.cut("word " * 20, 22) == "word word word word…"
    assert render.cut("짧다", 10) == "짧다"
    assert render.snippet("사실 데이터사이언티스트 중 코딩 자체에 대해 깊은 지식을 가지지 못한 분들도 많기에 이런 자료는 도움이 될 수 있다고 생각한다. 그렇지만 사실 데이터사이언…") \
        .endswith("그렇지만 사실…")
    assert render.snippet("a\nb  c") == "a b c"


def test_labels_name_the_week_once():
    assert render.issue_name("Weekly ML/DL News (3월 3주차)", "3월 3주차", "2021-03-20") == \
        "Weekly ML/DL News (3월 3주차) · 2021-03-20"
    assert render.issue_name("Notes", "2020-W26", "") == "Notes · 2020-W26"


def test_weak_hits_are_marked_for_their_own_line():
    from kb.core.types import Hit

    hit = Hit(heading="h", post_title="t", date="", week="", tags=[], categories=[], url="", links=[], path="p.md",
              position=0, score=0.1, scores={"semantic": 0.8, "weak": 1.0}, row=3)
    assert render.is_weak(hit) and 'class="kb-card kb-weak"' in render.card(hit)
    hit.scores = {"semantic": 0.8}
    assert not render.is_weak(hit) and 'class="kb-card"' in render.card(hit)


# ---- relevance and topic corrections in the app (issue 9) -----------------------------------------------------------

def test_an_off_topic_query_says_no_good_match_and_marks_weak_cards(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="hotel deals in rome")
    assert any("No good match" in i.value for i in at.info)
    assert cards(at) and all('class="kb-card kb-weak"' in c for c in cards(at))
    at = run_app(monkeypatch, index_dir, content, q="음성 인식")
    assert not any("No good match" in i.value for i in at.info)
    assert 'class="kb-card kb-weak"' not in cards(at)[0]
    assert "Why this result" in cards(at)[0] and "is in its" in cards(at)[0]      # the reasons, in words


def same_session(at: AppTest, params: dict[str, list[str]]) -> AppTest:
    """Follow an in-app link in the same browser session (as a click does)."""
    for k in list(at.query_params):
        del at.query_params[k]
    for k, v in params.items():
        at.query_params[k] = v if len(v) > 1 else v[0]
    at.run()
    assert_clean(at)
    return at


def test_a_correction_keeps_the_card_with_its_undo_and_undo_restores_the_topics_file(monkeypatch, eval_corpus,
                                                                                     tmp_path):
    content, index_dir = eval_corpus
    mine = tmp_path / "content"
    shutil.copytree(content, mine)                  # the corrections file goes to this copy's topics.toml
    assert not (mine / "topics.toml").exists()
    at = run_app(monkeypatch, index_dir, mine, view="topics", topic="trading")
    n = len(cards(at))
    first = cards(at)[0]
    fix = links(first, render.text("Not in Trading & finance"))[0]          # named with the topic's label
    assert fix["fix"] == ["exclude"] and fix["fixtopic"] == ["trading"] and len(fix["tok"][0]) >= 20
    ref = fix["ref"][0]
    version = (index_dir / "CURRENT").read_text()
    at = same_session(at, fix)
    assert "fix" not in at.query_params and "tok" not in at.query_params
    written = (mine / "topics.toml").read_text(encoding="utf-8")
    assert ref in written and "exclude" in written
    assert (index_dir / "CURRENT").read_text() == version, "no rebuild"
    kept = [c for c in cards(at) if 'class="kb-card kb-removed"' in c]
    assert len(kept) == 1 and len(cards(at)) == n, "the card stays in place, marked"
    assert "Removed from <b>Trading &#38; finance</b>." in kept[0] and 'data-kb-focus="1"' in kept[0]
    undo = links(kept[0], "Undo")[0]
    assert undo["fix"] == ["undo"]
    at = same_session(at, undo)
    assert not (mine / "topics.toml").exists(), "Undo puts the topics file back as it was (here: none)"
    assert "Undone" in page(at) and not any("kb-removed" in c for c in cards(at))
    at = same_session(at, links(page(at), "Dismiss")[0])
    assert "Undone" not in page(at)
    monkeypatch.setenv("KB_READ_ONLY", "1")
    at = run_app(monkeypatch, index_dir, mine, view="topics", topic="trading")
    assert not links(cards(at)[0], render.text("Not in Trading & finance"))


def test_a_correction_link_from_another_session_or_site_changes_nothing(monkeypatch, eval_corpus, tmp_path):
    content, index_dir = eval_corpus
    mine = tmp_path / "content"
    shutil.copytree(content, mine)
    at = run_app(monkeypatch, index_dir, mine, view="topics", topic="trading")
    fix = links(cards(at)[0], render.text("Not in Trading & finance"))[0]
    other = follow(monkeypatch, index_dir, mine, fix)                  # a new session: another tab, another site
    assert any("did not change the topics" in w.value for w in other.warning)
    forged = {k: v for k, v in fix.items() if k != "tok"}
    follow(monkeypatch, index_dir, mine, forged)
    assert not (mine / "topics.toml").exists()
    assert "fix" not in other.query_params


def test_search_cards_offer_corrections_and_stats_lists_them_undoable(monkeypatch, eval_corpus, tmp_path):
    content, index_dir = eval_corpus
    mine = tmp_path / "content"
    shutil.copytree(content, mine)
    at = run_app(monkeypatch, index_dir, mine, q="트레이딩")
    card = cards(at)[0]
    nots = re.findall(r'class="kb-act kb-fix"[^>]*>Not in ([^<]*)</a>', card)
    assert nots and render.text("Trading & finance") in nots                 # visible, one per topic of the card
    assert '<details class="kb-add"><summary>Add to a topic…</summary>' in card
    add = links(card, render.text("Add to MLOps & tools"))[0]
    at = same_session(at, add)
    assert "Added to <b>MLOps &#38; tools</b>" in cards(at)[0]
    ref = add["ref"][0]
    at = same_session(at, {"view": ["stats"]})
    listed = page(at)
    assert "Added to <b>MLOps &#38; tools</b>" in listed and render.text(ref[:200]) in listed
    forget = [lk for lk in links(listed, "Undo") if lk.get("fix") == ["forget"]][0]
    at = same_session(at, forget)
    from kb import topics

    assert ref not in topics.load_topics(mine).get("mlops").include


# ---- bounded pages (issue 21) ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def huge_corpus(tmp_path_factory):
    """The seed post plus one whose first section holds 200,000 links and whose second holds 60,000 characters."""
    root = tmp_path_factory.mktemp("huge")
    content = root / "content"
    shutil.copytree(ROOT / "content", content)
    huge_post(content)
    build_index(Settings.load(content, root / "index"))
    return content, root / "index"


def test_a_post_with_200000_links_draws_a_light_page(monkeypatch, huge_corpus):
    import time

    content, index_dir = huge_corpus
    run_app(monkeypatch, index_dir, content)                        # the server's first page (the index opens)
    t0 = time.perf_counter()
    at = run_app(monkeypatch, index_dir, content, view="issues", post=HUGE_POST, sec="0")
    took = time.perf_counter() - t0
    drawn = page(at)
    assert took < 20 and len(drawn.encode()) < 5_000_000, (took, len(drawn))
    assert drawn.count('href="https://example.com/r/') == render.MAX_SECTION_LINKS - 1   # after its 참고링크
    assert f"and {200_001 - render.MAX_SECTION_LINKS:,} more links, not shown" in drawn
    assert "The section's source: " in drawn and 'href="https://example.com/many"' in drawn
    rest = re.search(r"The rest of this section \(([\d,]+) characters\) is not shown", drawn)
    assert rest and int(rest.group(1).replace(",", "")) > 50_000


# ---- plain words, totals, chips, titles, operator-only paths (issue 19) -------------------------------------------

def end_title(at: AppTest) -> str:
    return html.unescape(re.search(r'data-title="([^"]*)"', page(at)).group(1))


def test_why_this_result_speaks_plain_words_first_and_folds_the_numbers(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="음성 인식")
    why = cards(at)[0].split('<details class="kb-why">', 1)[1]
    words, numbers = why.split('<details class="kb-nums"><summary>The numbers</summary>', 1)
    plain_words = html.unescape(re.sub(r"<[^>]+>", " ", words))
    assert "Your word “" in plain_words and "is in its" in plain_words
    assert re.search(r"(Very close|Related|Only loosely related|Not close) in meaning to your search", plain_words)
    assert "cosine" not in plain_words and "<table>" not in words and "<td>semantic</td>" in numbers
    at = run_app(monkeypatch, index_dir, content, view="topics", topic="trading")
    why = cards(at)[0].split('<summary>Why this topic</summary>', 1)[1]
    words = html.unescape(re.sub(r"<[^>]+>", " ", why.split('<details class="kb-nums">')[0]))
    assert "The topic's word “" in words or "in meaning to how the topic is described" in words
    assert "what kb learned from them" in words              # the learned prior (kb.topics.prior), in words
    assert "hybrid" not in why.lower()                       # no footer about search legs on a topic page


def test_totals_count_all_good_matches_and_weak_ones_are_folded(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="트레이딩", k="3")
    said = next(c.value for c in at.caption if "results · showing" in c.value)
    total, shown = map(int, re.match(r"(\d+)\+? results · showing (\d+)", said).groups())
    strong_all = [h for h in eval_index.search("트레이딩", k=100) if not h.weak]
    assert shown == 3 and total == len(strong_all) > 3
    more = links(page(at), "Show more results")
    assert more and more[0]["k"] == ["13"] and 'data-kb-stay="1"' in page(at)
    at = run_app(monkeypatch, index_dir, content, q="트레이딩")
    weak = [h for h in eval_index.search("트레이딩", k=10) if h.weak]
    if weak:
        assert f"<summary>Show {len(weak)} weak match" in page(at)


def test_active_filters_are_chips_that_remove_themselves(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="모델", tag=["NLP", "Speech"], since="2020-07-01")
    chips_html = page(at).split('<div class="kb-active"', 1)[1].split("</div>", 1)[0]
    assert chips_html.count('class="kb-chip"') == 3
    drop_nlp = links(chips_html, 'Tag: NLP <span aria-hidden="true">✕</span>')
    assert drop_nlp == [{"q": ["모델"], "tag": ["Speech"], "since": ["2020-07-01"]}]


def test_each_view_has_its_own_title(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    seen = {}
    for name, params in (("search", {"q": "트레이딩"}), ("landing", {}), ("topics", {"view": "topics"}),
                         ("topic", {"view": "topics", "topic": "nlp"}), ("issues", {"view": "issues"}),
                         ("resources", {"view": "resources"}), ("stats", {"view": "stats"})):
        seen[name] = end_title(run_app(monkeypatch, index_dir, content, **params))
    assert seen["search"] == "트레이딩 — kb" and seen["topic"] == "NLP — Topics — kb"
    assert len(set(seen.values())) == len(seen), seen


def test_stats_names_folders_only_for_the_operator(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    monkeypatch.delenv("KB_SHOW_PATHS", raising=False)
    at = run_app(monkeypatch, index_dir, content, view="stats")
    assert str(content) not in page(at) and str(index_dir) not in page(at)
    assert not [e for e in at.expander if "Folders" in e.label]
    monkeypatch.setenv("KB_SHOW_PATHS", "1")
    at = run_app(monkeypatch, index_dir, content, view="stats")
    assert render.text(str(index_dir)) in page(at)


def test_a_huge_url_title_or_mention_list_cannot_make_a_row_heavy():
    url = "https://example.com/" + "a" * 1_000_000
    assert len(render.link(url, "x" * 1_000_000)) < 5_000
    mentions = [browse.Mention(i, f"p{i}.md", "T", f"{i}주차", "2021-01-01", "h" * 100_000) for i in range(5_000)]
    row = render.resource(browse.Resource("https://example.com/r", "t" * 1_000_000, mentions), lambda m: "?x=1")
    assert len(row) < 20_000 and f"and {5_000 - render.MAX_MENTIONS:,} more weeks" in row


def test_the_landing_page_and_placeholder_show_the_confident_examples(monkeypatch, seed_index_dir, seed_index):
    """The examples the app offers are kb.query.examples' (each confident on the bundled posts; test_relevance)."""
    from kb.query.examples import example_queries, placeholder

    at = run_app(monkeypatch, seed_index_dir, ROOT / "content")
    for q in example_queries():
        assert links(page(at), q) == [{"q": [q]}], q
    assert at.text_input(key="w_q").placeholder == placeholder()
    at = run_app(monkeypatch, seed_index_dir, ROOT / "content", q=example_queries()[0])
    assert cards(at) and "No good match" not in "".join(i.value for i in at.info)


def test_a_misspelled_query_says_did_you_mean_with_a_link(monkeypatch, seed_index_dir, seed_index):
    at = run_app(monkeypatch, seed_index_dir, ROOT / "content", q="Humminngbird")
    assert "Hummingbird" in cards(at)[0]
    assert links(page(at), "hummingbird") == [{"q": ["hummingbird"]}], page(at)[:3000]   # hybrid: the default
    assert "Did you mean" in page(at)
    at = run_app(monkeypatch, seed_index_dir, ROOT / "content", q="Hummingbird")
    assert "Did you mean" not in page(at)


def test_a_hangul_typo_says_did_you_mean_with_a_link_and_a_confident_first_card(monkeypatch, seed_index_dir,
                                                                                 seed_index):
    """"트레이딘": a final consonant slip of "트레이딩"; the first card is the trading section, not folded as weak."""
    at = run_app(monkeypatch, seed_index_dir, ROOT / "content", q="트레이딘")
    assert "AI trading" in cards(at)[0] and "No good match" not in "".join(i.value for i in at.info)
    assert links(page(at), "트레이딩") == [{"q": ["트레이딩"]}] and "Did you mean" in page(at)


# ---- cold start: nothing waits for what it does not draw (issue 19) ------------------------------------------

@pytest.fixture
def slow_topics(monkeypatch):
    """kb.topics.assign held back until the test opens the gate (as the 50 s of 100k sections would hold it), and
    the warm-up of every index the app opens: (gate, warm-ups)."""
    from kb import topics
    from kb.app import loading

    gate = threading.Event()
    real_assign, real_warm_up = topics.assign, loading._warm_up
    warms: list = []

    def slow_assign(index, ts=None):
        assert gate.wait(120), "the test never opened the gate"
        return real_assign(index, ts)

    def warm_up(index, content_dir, warm):
        warms.append(warm)
        real_warm_up(index, content_dir, warm)

    monkeypatch.setattr(topics, "assign", slow_assign)
    monkeypatch.setattr(loading, "_warm_up", warm_up)
    yield gate, warms
    gate.set()


def topic_chips(card: str) -> list[str]:
    return re.findall(r'<span class="kb-topic">([^<]*)</span>', card)


def test_results_are_drawn_while_topics_are_assigned_and_get_their_topics_after(monkeypatch, eval_corpus,
                                                                                eval_index, tmp_path, slow_topics):
    gate, warms = slow_topics
    content, index_dir = eval_corpus
    mine = tmp_path / "content"
    shutil.copytree(content, mine)                     # a content folder the app has not opened: a fresh warm-up
    at = run_app(monkeypatch, index_dir, mine, q="트레이딩")
    assert len(warms) == 1 and warms[0].model.is_set() and not warms[0].topics.is_set()
    assert rows(at) == [h.row for h in eval_index.search("트레이딩", k=10)]
    assert not any(topic_chips(c) or "kb-fix" in c for c in cards(at)), "no topics before they are assigned"
    gate.set()
    assert warms[0].topics.wait(120)
    at.run()
    assert_clean(at)
    trading = render.text("Trading & finance")
    assert trading in topic_chips(cards(at)[0]) and "kb-fix" in cards(at)[0]


def test_topics_assigned_within_the_follow_are_added_to_the_cards_in_place(monkeypatch, eval_corpus, tmp_path,
                                                                           slow_topics):
    from kb.app import loading

    gate, warms = slow_topics
    content, index_dir = eval_corpus
    mine = tmp_path / "content"
    shutil.copytree(content, mine)
    monkeypatch.setattr(loading, "TOPICS_FOLLOW_S", 30.0)
    threading.Timer(3.0, gate.set).start()
    at = run_app(monkeypatch, index_dir, mine, q="트레이딩")        # draws, waits for the topics, draws again
    assert warms[0].topics.is_set()
    assert render.text("Trading & finance") in topic_chips(cards(at)[0])
    assert sum(1 for h in at.html if h.value.startswith('<div class="kb-results">')) == 1, "replaced, not drawn twice"


def test_the_topic_filter_and_the_topics_page_wait_for_the_assignment(monkeypatch, eval_corpus, eval_index,
                                                                      tmp_path, slow_topics):
    from kb import topics

    gate, warms = slow_topics
    content, index_dir = eval_corpus
    mine = tmp_path / "content"
    shutil.copytree(content, mine)
    threading.Timer(2.0, gate.set).start()
    at = run_app(monkeypatch, index_dir, mine, q="모델", topic="trading")
    members = set(topics.assign(eval_index).rows("trading"))
    assert rows(at) and set(rows(at)) <= members
    at = run_app(monkeypatch, index_dir, mine, view="topics")
    assert re.search(r"\d+ sections", page(at))


def test_rows_by_post_from_the_row_map_match_the_sections_table(monkeypatch, tmp_path, content_copy):
    """The posts' rows come from the backend's row → post map; after an incremental build (a changed post, new
    posts: a base segment with dead rows and a delta) they are still the rows the sections table names."""
    from kb.build import local as kbuild

    monkeypatch.setattr(kbuild, "DELTA_MAX_FRACTION", 100.0)               # keep the base segment
    content, index_dir = content_copy, tmp_path / "index"
    posts = sorted(EVAL_POSTS.glob("*.md"))
    for p in posts[:3]:
        shutil.copy(p, content / p.name)
    build_index(Settings.load(content, index_dir))
    for p in posts[3:5]:
        shutil.copy(p, content / p.name)
    changed = content / posts[1].name
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n### 새 섹션\n\n새로 추가된 섹션이다.\n",
                       encoding="utf-8")
    build_index(Settings.load(content, index_dir))
    index = kb.open_index(index_dir)
    assert len(index.backend.segments) == 2
    by_table: dict[str, list[int]] = {}
    for i, s in enumerate(index.sections):
        by_table.setdefault(s.post_path, []).append(i)
    assert browse.rows_by_post(index) == by_table and len(by_table) == 6


def test_the_bundled_model_starts_loading_once_and_no_other_model_is_loaded_ahead(monkeypatch):
    from kb.app import warmstart
    from kb.core.config import DEFAULT_MODEL
    from kb.embed import embedder

    monkeypatch.setattr(warmstart, "_STARTED", {})
    monkeypatch.setattr(embedder, "_CACHE", {})                           # no model loaded in this process yet
    monkeypatch.setenv("KB_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
    warmstart.start()
    assert warmstart._STARTED == {}, "a sentence-transformers model may not be the index's: not loaded ahead"
    monkeypatch.delenv("KB_MODEL")
    warmstart.start()
    warmstart.start()
    assert list(warmstart._STARTED) == [DEFAULT_MODEL]
    warmstart.wait()
    assert not warmstart._STARTED[DEFAULT_MODEL].is_alive()
    assert list(embedder._CACHE) == [DEFAULT_MODEL]                        # loaded by the thread, and only it
