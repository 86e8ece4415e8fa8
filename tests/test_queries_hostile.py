"""Hostile and odd queries: every mode answers (possibly with nothing) or says clearly why not, in the library and
in `python -m kb.search`; nothing a query holds reaches the terminal as a control sequence."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fixtures.cli import ROOT, assert_no_traceback, assert_one_line_error, kb_env, run_kb

from kb.core.errors import BadQuery
from kb.query.index import MODES

LONG_KO = "강화학습으로 주식 트레이딩 " * 1500                    # ~20,000 characters
HOSTILE = [
    "", " ", "\t\n\r ", "\u3000\u00a0",
    LONG_KO[:20000], "a" * 20000, "트" * 20000, " " * 20000, ("fastbook " * 3000)[:20000],
    "!!!???...", "~!@#$%^&*()_+-=[]{}|;':\",./<>?`", "…—·•※〈〉「」", "🔥🚀💯🤖", "👨‍👩‍👧‍👦" * 50,
    '"unbalanced quote', "'", '"', '""', "((( [[[ {{{", ")))",
    "AND OR NOT", "트레이딩 AND NOT 주식", "NOT", "title:fastbook", "tag:ML -DL +NLP", "fast* book~2 ^3",
    "'; DROP TABLE sections; --", "1 OR 1=1", "$(rm -rf /)", "`reboot`", "| cat /etc/passwd && echo", "%s%s%n%x",
    "{{7*7}}", "${jndi:ldap://x}", "<script>alert(1)</script>", "../../../../etc/passwd", "\\", "\\x00",
    "\x00", "a\x00b트레이딩", "\x1b[31mred\x1b[0m", "\x07\x08\x7f", "\u202eevil\u202c", "\u200b\u200d\ufeff",
    "\ud800", "트레이딩\udcff",                                  # lone surrogates (undecodable argv bytes)
    "Ω≈ç√ 中文 日本語 한국어 русский العربية हिन्दी ไทย", "ＦＡＳＴＢＯＯＫ", "ｆａｓｔ．ａｉ", "ㅌㄹㅇㄷ", "트레이딩" + "\u0301" * 50,
    "NaN", "inf", "-1", "0", "1e308", "None", "null", "true",
]


@pytest.mark.parametrize("mode", MODES)
def test_every_hostile_query_answers_in_every_mode(seed_index, mode):
    n = len(seed_index.sections)
    for q in HOSTILE:
        hits = seed_index.search(q, mode=mode, k=5)
        assert isinstance(hits, list) and len(hits) <= 5, repr(q[:40])
        for h in hits:
            assert 0 <= h.row < n and len(h.snippet) <= 220 and h.heading
    assert seed_index.search("", mode=mode) == [] and seed_index.search(" \t\x00 ", mode=mode) == []


def test_control_characters_are_ignored_not_fatal(seed_index):
    for mode in MODES:
        plain = [h.row for h in seed_index.search("트레이딩 블로그", mode=mode)]
        assert plain
        assert [h.row for h in seed_index.search("트레이딩\x00블로그\x1b", mode=mode)] == plain
        assert [h.row for h in seed_index.search("\x00트레이딩\t블로그\x7f", mode=mode)] == plain


def test_long_queries_are_truncated_for_the_model_not_rejected(seed_index):
    hits = seed_index.search(LONG_KO[:20000], k=3)
    assert hits and hits[0].heading == "AI trading"
    long_sem = [h.row for h in seed_index.search(LONG_KO[:20000], mode="semantic", k=5)]
    # the model sees at most its 512 tokens: anything beyond ~2,000 characters changes nothing
    assert long_sem == [h.row for h in seed_index.search(LONG_KO[:2500], mode="semantic", k=5)]


def test_operators_and_quotes_are_just_words(seed_index):
    a = [h.row for h in seed_index.search("fastbook", mode="keyword")]
    assert a and [h.row for h in seed_index.search('"fastbook', mode="keyword")] == a
    assert [h.row for h in seed_index.search("fastbook AND", mode="keyword")][:1] == a[:1]


@pytest.mark.parametrize("kwargs,message", [
    ({"mode": "sql"}, "unknown mode"),
    ({"mode": None}, "unknown mode"),
    ({"k": "ten"}, "k must be a whole number"),
    ({"k": None}, "k must be a whole number"),
    ({"since": "yesterday-ish"}, "is not a date"),
    ({"until": "2020-13-45"}, "is not a date"),
    ({"since": "'; DROP TABLE x; --"}, "is not a date"),
])
def test_bad_parameters_say_why(seed_index, kwargs, message):
    with pytest.raises(BadQuery) as err:
        seed_index.search("트레이딩", **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("kwargs", [
    {"k": 0}, {"k": -5}, {"k": 10**12}, {"k": "3"}, {"k": 2.7},
    {"since": "2030-01-01"}, {"until": "1990-01-01"}, {"since": "2021-01-01", "until": "2020-01-01"},
    {"tags": ["<script>"]}, {"tags": "ML"}, {"tags": [None, "", "ml"]}, {"categories": ["../../etc"]},
    {"post": "../../../../etc/passwd"}, {"post": "\x00"}, {"rows": [-1, 10**9]}, {"rows": []},
])
def test_odd_parameters_answer(seed_index, kwargs):
    for mode in MODES:
        hits = seed_index.search("트레이딩", mode=mode, **kwargs)
        assert isinstance(hits, list) and all(0 <= h.row < len(seed_index.sections) for h in hits)


def test_more_like_with_odd_rows(seed_index):
    for row in (-1, len(seed_index.sections), 10**9):
        assert seed_index.more_like(row) == []


def test_the_cli_answers_hostile_queries_in_one_process(seed_index_dir):
    queries = ["", "   ", "AND OR NOT", "'; DROP TABLE sections; --", "$(rm -rf /)", '"unbalanced', "🔥🚀",
               "\x1b]0;pwned\x07\x1b[2J", "\u202eevil", "트레이딩\n가짜 결과 줄", LONG_KO[:20000]]
    proc = run_kb("search", "--index-dir", seed_index_dir, "-k", "2", *queries, timeout=120)
    assert_no_traceback(proc)
    assert proc.returncode == 0 and proc.stderr == ""
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\u202e" not in proc.stdout
    headers = [ln for ln in proc.stdout.splitlines() if ln.startswith("# ")]
    assert len(headers) == len(queries)
    assert "# \\x1b]0;pwned\\x07\\x1b[2J  (" in proc.stdout and "# 트레이딩 가짜 결과 줄  (" in proc.stdout
    proc = run_kb("search", "--index-dir", seed_index_dir, "--json", "--mode", "keyword", *queries, timeout=60)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["query"] for r in rows] == queries


def test_the_cli_takes_undecodable_bytes_and_odd_flags(seed_index_dir):
    cmd = [sys.executable.encode(), b"-m", b"kb.search", b"--index-dir", os.fsencode(seed_index_dir),
           b"\xff\xfe \xed\xa0\x80 \xc3(", "트레이딩".encode("cp949")]
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, env=kb_env(), timeout=60)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr and proc.stderr == b"", proc.stderr
    for args, words in [(["--since", "yesterday", "x"], ["not a date", "YYYY-MM-DD"]),
                        (["--until", "2020-02-30", "x"], ["not a date"]),
                        (["--tag", "\x1b[31m", "--category", "'; --", "x"], None),
                        (["-k", "0", "x"], ["k must be at least 1"]), (["-k", "-3", "x"], ["k must be at least 1"])]:
        proc = run_kb("search", "--index-dir", seed_index_dir, "--mode", "keyword", *args, timeout=60)
        if words:
            assert_one_line_error(proc, *words)
        else:
            assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = run_kb("search", "--index-dir", seed_index_dir, "-k", "many", "x", timeout=60)
    assert_one_line_error(proc, "k must be a whole number", "--help")            # a usage error: exit 2, one line
    assert proc.returncode == 2
