"""Topics: the topics file (shipped default, a user's copy in the content folder, broken files), the assignment of
sections to topics on the real eval index (real model), and the CLIs that expose it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb import topics
from kb.errors import BadQuery, BadTopics
from kb.topics import __main__ as topics_cli

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "tests" / "eval" / "queries.jsonl"
REQUIRED = {"nlp", "vision", "speech", "rl", "trading", "mlops", "courses-books", "korean"}


def _has_korean(s: str) -> bool:
    return any("가" <= c <= "힣" for c in s)


def test_shipped_default_covers_the_required_topics_in_korean_and_english():
    ts = topics.load_topics(content_dir=None)
    assert ts.source == topics.DEFAULT_FILE
    assert REQUIRED <= set(ts.names)
    for t in ts:
        assert any(_has_korean(p) for p in t.phrases), t.name
        assert any(p.isascii() for p in t.phrases), t.name


def test_topics_file_in_the_content_folder_replaces_the_default(tmp_path):
    (tmp_path / "topics.toml").write_text('[bitcoin]\nlabel = "Bitcoin"\nphrases = ["비트코인 자동매매", "crypto bots"]\n',
                                          encoding="utf-8")
    ts = topics.load_topics(tmp_path)
    assert ts.names == ["bitcoin"] and ts.source == tmp_path / "topics.toml"
    assert ts.get("BITCOIN").label == "Bitcoin"
    assert topics.load_topics(tmp_path / "elsewhere").source == topics.DEFAULT_FILE


@pytest.mark.parametrize("text, message", [
    ("[nlp\nlabel = 1", "not valid TOML"),
    ("[nlp]\nlabel = \"NLP\"\n", "needs at least one phrase"),
    ("[nlp]\nphrases = \"x\"\ncolour = \"red\"\n", "unknown field(s) colour"),
    ("[nlp]\nphrases = [1, 2]\n", "phrases must be a list of strings"),
    ("[\"NLP Topic\"]\nphrases = [\"x\"]\n", "a topic name is lower-case"),
    ("[nlp]\nphrases = [\"x\"]\nthreshold = \"high\"\n", "threshold must be a number"),
    ("title = \"x\"\n", "must be a table"),
    ("", "defines no topic"),
])
def test_a_broken_topics_file_is_one_line_naming_the_file(tmp_path, text, message):
    p = tmp_path / "topics.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(BadTopics) as err:
        topics.load_topics(tmp_path)
    assert message in str(err.value) and str(p) in str(err.value) and "\n" not in str(err.value)


def test_unknown_topic_lists_the_known_ones():
    ts = topics.load_topics()
    with pytest.raises(BadQuery, match="unknown topic 'cooking'; known topics: nlp, vision"):
        ts.get("cooking")
    assert ts.find("Trading & finance").name == "trading"        # by label too
    assert ts.find("courses_books").name == "courses-books"      # spacing/underscores ignored


def test_assignment_agrees_with_the_labelled_topic_queries(eval_index):
    """Sanity check on the eval posts: the labels are per query and incomplete, so this is a floor, not a score."""
    r = topics.check(eval_index, QUERIES, topics.EVAL_MAPPING, topics.load_topics())
    assert r["precision"] >= 0.75 and r["recall"] >= 0.75, r
    for name, t in r["topics"].items():
        assert t["tp"] >= 0.5 * t["labelled"], (name, t)


def test_trading_topic_spans_many_weeks_newest_first(eval_index):
    a = topics.assign(eval_index, topics.load_topics())
    rows = a.rows("trading")
    secs = [eval_index.sections[r] for r in rows]
    headings = {s.heading for s in secs}
    assert {"AI trading", "FinRL", "Backtrader", "Freqtrade", "파이썬 비트코인 자동매매"} <= headings
    assert len({s.post_path for s in secs}) >= 6
    dates = [s.date for s in secs]
    assert dates == sorted(dates, reverse=True)
    assert all(a.why(r, "trading")["member"] == 1.0 for r in rows)
    assert "Trading & finance" in [t.label for t in a.topics_of(rows[0])]


def test_keywords_match_latin_whole_words_and_korean_inside_words():
    rx = topics._keyword_pattern(("RL", "트레이딩"))
    assert rx.search("RL을 활용한") and rx.search("알고리즘트레이딩을")
    assert not rx.search("see the URL") and not rx.search("CURL")


def test_editing_the_topics_changes_the_assignment_without_a_rebuild(eval_index, tmp_path):
    (tmp_path / "topics.toml").write_text(
        '[speech]\nphrases = ["음성 인식과 음성 합성", "speech recognition"]\n'
        '[bitcoin]\nphrases = ["비트코인과 암호화폐 자동매매 봇", "cryptocurrency trading bot"]\nkeywords = ["비트코인", "암호화폐"]\n'
        '[vision]\nphrases = ["이미지 인식", "computer vision"]\n', encoding="utf-8")
    a = topics.assign(eval_index, topics.load_topics(tmp_path))
    headings = {eval_index.sections[r].heading for r in a.rows("bitcoin")}
    assert {"Freqtrade", "파이썬 비트코인 자동매매"} <= headings
    assert "KoBERT" not in headings


def test_monthly_counts_cover_every_month_between_first_and_last(eval_index):
    a = topics.assign(eval_index, topics.load_topics())
    rows = a.rows("trading")
    counts = topics.monthly_counts(eval_index, rows)
    months = [m for m, _ in counts]
    assert months[0] == "2020-06" and months[-1] == "2021-01"
    assert len(months) == 8 and ("2020-11", 0) in counts
    assert sum(c for _, c in counts) == len(rows)


def test_cli_lists_topics_and_a_topic_newest_first(eval_corpus, capsys):
    content, index_dir = eval_corpus
    assert topics_cli.main(["--index-dir", str(index_dir), "--content", str(content), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert REQUIRED <= {t["name"] for t in listed["topics"]}
    assert all(t["sections"] > 0 for t in listed["topics"])
    assert topics_cli.main(["trading", "--index-dir", str(index_dir), "--content", str(content), "--json", "-k", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    dates = [h["date"] for h in out["results"]]
    assert len(dates) == 4 and dates == sorted(dates, reverse=True)


def test_search_cli_restricts_to_a_topic(eval_corpus, eval_index, capsys):
    from kb import search

    content, index_dir = eval_corpus
    assert search.main(["--index-dir", str(index_dir), "--content", str(content), "--topic", "speech", "--json",
                        "라이브러리"]) == 0
    out = json.loads(capsys.readouterr().out)
    speech = {(eval_index.sections[r].post_path, eval_index.sections[r].position)
              for r in topics.assign(eval_index, topics.load_topics(content)).rows("speech")}
    assert out["results"] and {(h["path"], h["position"]) for h in out["results"]} <= speech
    assert search.main(["--index-dir", str(index_dir), "--content", str(content), "--topic", "trading", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["topic"] == "trading" and len(listed["results"]) == 10


def test_cli_unknown_topic_is_one_line_and_exit_1(eval_corpus, capsys):
    from kb.cli import run

    content, index_dir = eval_corpus
    with pytest.raises(SystemExit) as e:
        run(lambda: topics_cli.main(["cooking", "--index-dir", str(index_dir), "--content", str(content)]))
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("kb: unknown topic 'cooking'") and err.count("\n") == 1
