"""The Streamlit app through streamlit.testing.v1.AppTest (the real app script, real index, real model), plus the
library helpers it draws with (kb.render's escaping and highlighting, kb.browse's views)."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import kb
from kb import browse, render
from kb.build import build_index
from kb.config import Settings

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


def cards(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith('<div class="kb-card"')]


def rows(at: AppTest) -> list[int]:
    return [int(re.search(r'data-row="(\d+)"', c).group(1)) for c in cards(at)]


def plain(s: str) -> str:
    """Markdown-escaped text (render.label) back to what a reader sees."""
    return re.sub(r"\\(.)", r"\1", s)


def button(at: AppTest, label: str):
    matches = [b for b in at.button if plain(b.label) == label or plain(b.label).startswith(label)]
    assert matches, (label, [b.label for b in at.button])
    return matches[0]


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
    assert at.text_input(key="w_q").value == "트레이딩" and at.radio(key="w_mode").value == "hybrid"
    assert any(c.value.startswith("10 result(s) from") for c in at.caption)


def test_typing_a_query_updates_the_results_and_the_url(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content)
    assert not cards(at) and button(at, "트레이딩")           # the landing page offers examples
    at.text_input(key="w_q").input("강화학습 프레임워크").run()
    assert_clean(at)
    assert at.query_params["q"] == "강화학습 프레임워크"
    headings = [eval_index.sections[r].heading for r in rows(at)]
    assert "Acme: 강화학습 프레임워크" in headings[:3]


def test_mode_count_and_why_this_result(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="Freqtrade")
    at.radio(key="w_mode").set_value("keyword").run()
    at.number_input(key="w_k").set_value(3).run()
    assert_clean(at)
    assert at.query_params["mode"] == "keyword" and at.query_params["k"] == "3"
    assert len(cards(at)) <= 3 and "Freqtrade" in cards(at)[0]
    why = at.expander[1]       # [0] is Filters
    assert why.label == "Why this result"
    legs = list(why.dataframe[0].value["leg"])
    assert "keyword" in legs and "semantic" not in legs


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
    assert "1 active" in at.expander[0].label


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


# ---- result actions -----------------------------------------------------------------------------------------------

def test_open_in_post_shows_the_section_in_context(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="Stable Baselines3")
    first = eval_index.sections[rows(at)[0]]
    assert first.heading == "Stable Baselines3"
    at.button(key=f"open-0-{rows(at)[0]}").click().run()
    assert_clean(at)
    assert at.query_params["view"] == "issues" and at.query_params["post"] == first.post_path
    assert at.query_params["sec"] == str(first.position) and at.query_params["q"] == "Stable Baselines3"
    sections = [m.value for m in at.markdown if m.value.startswith('<div class="kb-section')]
    assert len(sections) == len(eval_index.post_sections(first.post_path))
    targets = [s for s in sections if "kb-target" in s]
    assert len(targets) == 1 and f'id="kb-sec-{first.position}"' in targets[0] and "<mark>Stable</mark>" in targets[0]
    assert plain(at.header[0].value) == first.post_title


def test_more_like_this(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, q="Glow-TTS")
    row = rows(at)[0]
    at.button(key=f"more-0-{row}").click().run()
    assert_clean(at)
    assert at.query_params["more"] == f"{eval_index.sections[row].post_path}#{eval_index.sections[row].position}"
    found = rows(at)
    assert found[0] == row and row not in found[1:] and len(found) > 3
    near = {eval_index.sections[r].heading for r in found[1:6]}
    assert near & {"HiFi-GAN", "KoSpeech", "wav2vec 2.0", "SpeechBrain", "Speechbook"}
    button(at, "← Back to the results").click().run()
    assert "more" not in at.query_params and at.query_params["q"] == "Glow-TTS"


# ---- topics, issues, resources ----------------------------------------------------------------------------------

def test_topics_overview_and_a_topic_page(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, view="topics")
    labels = [plain(b.label) for b in at.button if b.key and b.key.startswith("topic-")]
    assert len(labels) == 8 and any(lb.startswith("Trading & finance (") for lb in labels)
    at.button(key="topic-trading").click().run()
    assert_clean(at)
    assert at.query_params["topic"] == "trading" and at.query_params["view"] == "topics"
    assert plain(at.header[0].value) == "Trading & finance"
    found = [eval_index.sections[r] for r in rows(at)]
    assert len(found) >= 8 and len({s.post_path for s in found}) >= 6
    assert [s.date for s in found] == sorted((s.date for s in found), reverse=True)
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")     # the per-month chart
    at.sidebar.radio(key="w_view").set_value("search").run()                # leaving drops the topic
    assert_clean(at)
    assert "topic" not in at.query_params and at.selectbox(key="w_topic").value == ""


def test_unknown_topic_page(monkeypatch, eval_corpus):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, view="topics", topic="cooking")
    assert "Unknown topic cooking" in plain(at.warning[0].value)
    assert [b for b in at.button if b.key == "topic-nlp"]          # and the topics to pick from


def test_issues_list_newest_first_and_one_post(monkeypatch, eval_corpus, eval_index):
    content, index_dir = eval_corpus
    at = run_app(monkeypatch, index_dir, content, view="issues")
    keys = [b.key.removeprefix("post-") for b in at.button if b.key and b.key.startswith("post-")]
    assert len(keys) == 9
    dates = [browse.post(eval_index, k).date for k in keys]
    assert dates == sorted(dates, reverse=True)
    at.button(key=f"post-{keys[-1]}").click().run()
    assert_clean(at)
    assert at.query_params["post"] == keys[-1]
    sections = [m.value for m in at.markdown if m.value.startswith('<div class="kb-section')]
    assert len(sections) == 9 and not any("kb-target" in s for s in sections)
    assert "AI trading" in "".join(sections)


def test_resources_are_listed_once_per_url(monkeypatch, odd_corpus):
    content, index_dir = odd_corpus
    at = run_app(monkeypatch, index_dir, content, view="resources")
    res = [m.value for m in at.markdown if m.value.startswith('<div class="kb-res"')]
    qlib = [r for r in res if "github.com/microsoft/qlib" in r]
    assert len(qlib) == 1 and "5월 1주차" in qlib[0] and "5월 2주차" in qlib[0]
    assert len(res) == 2          # qlib and example.com/plain: javascript: links and the tracker image are not resources
    at.text_input(key="w_rq").input("plain").run()
    assert len([m for m in at.markdown if m.value.startswith('<div class="kb-res"')]) == 1


# ---- untrusted content --------------------------------------------------------------------------------------------

def _assert_inert(html: str) -> None:
    low = html.lower()
    assert "<script" not in low and "<iframe" not in low and "<img" not in low and "onerror=" not in low
    assert "onclick=" not in low and "<b>" not in low
    assert not re.search(r'href="(?!https?://|#kb-sec-\d+")', html)     # only http(s) links (and the in-page jump)


def test_post_text_is_escaped_and_only_web_links_are_clickable(monkeypatch, odd_corpus):
    content, index_dir = odd_corpus
    at = run_app(monkeypatch, index_dir, content, q="트레이딩 봇")
    html = "".join(cards(at))
    _assert_inert(html)
    assert 'href="https://github.com/microsoft/qlib"' in html
    assert "<mark>트레이딩</mark>" in html
    evil_row = next(r for r in rows(at) if "Evil" in cards(at)[rows(at).index(r)])
    at.button(key=f"open-{rows(at).index(evil_row)}-{evil_row}").click().run()
    assert_clean(at)
    page = "".join(m.value for m in at.markdown)
    _assert_inert(page.replace(render.CSS, ""))
    assert 'class="kb-nolink">javascript&#58;alert&#40;1&#41;' in page      # shown as text
    assert "&#60;b&#62;bold&#60;&#47;b&#62;" in page                        # the hostile tag, as text
    title = at.header[0].value                         # the parser already dropped the tags and the link
    assert title == "Weekly News x \\(5월 1주차\\)"           # and what is left is Markdown-escaped


def test_undated_posts_are_listed_last_and_say_so(monkeypatch, odd_corpus):
    content, index_dir = odd_corpus
    index = kb.open_index(index_dir)
    at = run_app(monkeypatch, index_dir, content, q="트레이딩")
    undated = [c for c in cards(at) if "Notes without a date" in c]
    assert len(undated) == 1 and '<span class="kb-date">no date</span>' in undated[0]
    at = run_app(monkeypatch, index_dir, content, view="issues")
    keys = [b.key.removeprefix("post-") for b in at.button if b.key and b.key.startswith("post-")]
    assert keys == ["2021-05-08-dup.md", "2021-05-01-evil.md", "notes.md"]
    at = run_app(monkeypatch, index_dir, content, tag=["ML"], since="2021-05-02")    # the date filter drops undated
    assert [index.sections[r].post_path for r in rows(at)] == ["2021-05-08-dup.md"]
    at = run_app(monkeypatch, index_dir, content, view="stats")
    assert "(1 undated post(s))" in html.unescape("".join(m.value for m in at.markdown))


def test_a_broken_topics_file_leaves_search_working(monkeypatch, seed_index_dir, content_copy):
    (content_copy / "topics.toml").write_text("[nlp\n", encoding="utf-8")
    at = run_app(monkeypatch, seed_index_dir, content_copy, q="Fastbook", topic="nlp")
    assert cards(at) and "Ignoring the topic filter" in plain(at.warning[0].value)
    monkeypatch.setenv("KB_CONTENT_DIR", str(content_copy))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["view"] = "topics"
    at.run()
    assert not at.exception
    assert "is not valid TOML" in plain(at.error[0].value) and "topics.toml" in plain(at.error[0].value)


# ---- stats, rebuild, empty states -------------------------------------------------------------------------------

def test_stats_warns_when_content_changes_and_rebuilds(monkeypatch, small_site):
    content, index_dir = small_site
    at = run_app(monkeypatch, index_dir, content, view="stats")
    assert [m.value for m in at.metric][:2] == ["1", "9"]
    assert "up to date" in at.success[0].value
    shutil.copy(EVAL_POSTS / "2020-07-04-weekly-ml-dl-news.md", content)
    at.run()
    assert_clean(at)
    assert any("1 new post file(s)" in plain(w.value) for w in at.warning)
    button(at, "Rebuild the index (incremental)").click().run()
    assert_clean(at)
    assert any(s.value.startswith("indexed: 2 posts") for s in at.success)
    assert [m.value for m in at.metric][:2] == ["2", "17"]          # the app reloaded the new index version
    assert not any("changed" in plain(w.value) for w in at.warning)


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
