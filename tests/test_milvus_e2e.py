"""kb on Milvus end to end, as a user runs it: a real milvus-lite server on 127.0.0.1, the real model, and only the
command line — `python -m kb.index --backend milvus --milvus-uri URI`, then `python -m kb.search … --json` with no
index folder. Checks ranking parity with the local backend, exact date filters, a one-post edit, a deleted post, and
a sync killed with SIGKILL."""

from __future__ import annotations

import html
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend needs the .[milvus] extra (pymilvus, milvus-lite)")
pytest.importorskip("milvus_lite", reason="the Milvus backend needs the .[milvus] extra (pymilvus, milvus-lite)")

from fixtures.cli import ROOT, assert_no_traceback, assert_one_line_error, kb_env, run_kb, start_kb  # noqa: E402,E501

from kb import topics  # noqa: E402
from kb.query import facets  # noqa: E402

pytestmark = pytest.mark.slow

QUERIES = ["주문장 데이터로 가격 등락 예측하는 신경망 논문", "대조학습 이미지 분류", "NeRF", "GPT-3 few-shot",
           "강화학습 트레이딩", "graph neural network", "Kaggle 대회 솔루션", "한국어 언어모델", "pytorch lightning",
           "transformer 어텐션 설명"]


def index(content: Path, uri: str, name: str, *extra: str):
    r = run_kb("index", "--content", content, "--backend", "milvus", "--milvus-uri", uri, "--milvus-collection",
               name, "-q", *extra, timeout=900)
    assert_no_traceback(r)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def search(uri: str, name: str, *args: str) -> list[dict]:
    """Every query's hits through the CLI, with only the URI (no index folder: KB_INDEX_DIR points nowhere)."""
    env = kb_env(KB_INDEX_DIR="/nonexistent/kb-index")
    r = run_kb("search", "--milvus-uri", uri, "--milvus-collection", name, "--json", *args, env=env, timeout=600)
    assert_no_traceback(r)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def local_search(index_dir: Path, *args: str) -> list[dict]:
    r = run_kb("search", "--index-dir", index_dir, "--json", *args, timeout=600)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def keys(result: dict) -> list[tuple[str, str]]:
    return [(h["path"], h["heading"]) for h in result["results"]]


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_same_ranking_as_local_with_only_the_uri(eval_corpus, server):
    content, index_dir = eval_corpus
    assert index(content, server, "parity").startswith("indexed:")
    for mode in ("hybrid", "keyword", "semantic"):
        mine = search(server, "parity", "--mode", mode, *QUERIES)
        theirs = local_search(index_dir, "--mode", mode, *QUERIES)
        assert [keys(r) for r in mine] == [keys(r) for r in theirs], mode
        for a, b in zip(mine, theirs, strict=True):
            assert [h["score"] for h in a["results"]] == pytest.approx([h["score"] for h in b["results"]], abs=1e-4)
            assert [h["snippet"] for h in a["results"]] == [h["snippet"] for h in b["results"]]


def test_date_filters_are_exact(eval_corpus, server):
    content, index_dir = eval_corpus
    index(content, server, "dates")
    args = ("--since", "2020-08-01", "--until", "2020-08-31", "-k", "50")
    for mode in ("hybrid", "keyword"):
        mine = search(server, "dates", "--mode", mode, *args, *QUERIES[:4])
        theirs = local_search(index_dir, "--mode", mode, *args, *QUERIES[:4])
        for a, b in zip(mine, theirs, strict=True):
            assert all("2020-08-01" <= h["date"] <= "2020-08-31" for h in a["results"])
            assert keys(a) == keys(b)
    assert search(server, "dates", "--since", "2030-01-01", "NeRF")[0]["results"] == []


def test_an_edit_and_a_deletion_are_synced(eval_corpus, server, tmp_path):
    content = copy(eval_corpus[0], tmp_path / "content")
    index(content, server, "edits")
    post = sorted(content.glob("2020-*.md"))[0]
    post.write_text(post.read_text(encoding="utf-8") + "\n\n### Quokkaformer 발표\n\n쿼카포머라는 새로운 모델이 "
                    "quokkaformer 라는 이름으로 공개되었다.\n", encoding="utf-8")
    gone = sorted(content.glob("2020-*.md"))[1]
    heading = next(line[4:].strip() for line in gone.read_text(encoding="utf-8").splitlines() if line.startswith("### "))
    assert gone.name in {h["path"] for h in search(server, "edits", heading)[0]["results"]}
    gone.unlink()
    summary = index(content, server, "edits")
    assert summary.startswith("indexed:") and int(summary.split(" embedded")[0].rsplit(" ", 1)[1]) <= 4
    hits = search(server, "edits", "quokkaformer")[0]["results"]
    assert hits[0]["heading"] == "Quokkaformer 발표" and hits[0]["path"] == post.name
    assert gone.name not in {h["path"] for h in search(server, "edits", "-k", "50", heading)[0]["results"]}
    assert index(content, server, "edits").startswith("index up to date")


def _committed(uri: str, name: str) -> str:
    from kb.backends.milvus import current_version

    return current_version(uri, name)


def test_a_sync_killed_with_sigkill_leaves_search_answering(eval_corpus, server, tmp_path):
    from kb.backends.milvus.client import connect, live_collection
    from kb.backends.milvus.schema import count as _count

    content = copy(eval_corpus[0], tmp_path / "content")
    index(content, server, "killed")
    before = search(server, "killed", *QUERIES[:3])
    version = _committed(server, "killed")
    client = connect(server)
    phys = live_collection(client, "killed")
    live = _count(client, phys)
    for i, post in enumerate(sorted(content.glob("*.md"))):       # every post changes: a long write
        post.write_text(post.read_text(encoding="utf-8") + f"\n\n### Killmarker {i}\n\nkillmarker{i} 항목.\n",
                        encoding="utf-8")
    proc = start_kb("index", "--content", content, "--milvus-uri", server, "--milvus-collection", "killed", "-q",
                    env=kb_env())
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline and _count(client, phys) <= live:
        time.sleep(0.02)                                     # wait until the new generation's entities appear
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if _committed(server, "killed") != version:
        pytest.skip("the sync committed before it could be killed (machine too fast for this check)")
    assert _count(client, phys) > live                       # killed mid-write: half a generation is in Milvus
    after = search(server, "killed", *QUERIES[:3])            # … and invisible: search answers as before
    assert [keys(r) for r in after] == [keys(r) for r in before]
    for a, b in zip(after, before, strict=True):
        assert [h["score"] for h in a["results"]] == pytest.approx([h["score"] for h in b["results"]], abs=1e-4)
    assert all("Killmarker" not in h["heading"] for h in search(server, "killed", "killmarker3")[0]["results"])
    summary = index(content, server, "killed")               # the next run finishes the job
    assert summary.startswith("indexed:")
    hits = search(server, "killed", "killmarker3")[0]["results"]
    assert hits[0]["heading"] == "Killmarker 3"
    assert _count(client, live_collection(client, "killed")) == 2 * int(summary.split(" sections")[0].rsplit(" ", 1)[1])


def test_the_app_searches_milvus(eval_corpus, server, monkeypatch):
    from streamlit.testing.v1 import AppTest

    content, index_dir = eval_corpus
    index(content, server, "app")
    monkeypatch.setenv("KB_BACKEND", "milvus")
    monkeypatch.setenv("KB_MILVUS_URI", server)
    monkeypatch.setenv("KB_MILVUS_COLLECTION", "app")
    monkeypatch.setenv("KB_INDEX_DIR", "/nonexistent/kb-index")
    monkeypatch.setenv("KB_CONTENT_DIR", str(content))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=300)
    # A query naming no topic: a topic facet waits in the app until its topics are ready (kb.query.facets), and
    # the backends are compared here, not the moment the app's warm-up ends.
    query = "백테스팅 라이브러리"
    assert facets.named_topics(query, topics.load_topics(path=topics.DEFAULT_FILE)) == []
    at.query_params["q"] = query
    at.run()
    assert not at.exception and not at.error, ([e.value for e in at.exception], [e.value for e in at.error])
    page = "".join(h.value for h in at.html)
    starts = [m.start() for m in re.finditer(r'<div class="kb-card[ "]', page)]
    cards = [page[a:b] for a, b in zip(starts, [*starts[1:], len(page)], strict=False)]
    expected = local_search(index_dir, query)[0]["results"]
    assert len(cards) == len(expected) == 10
    assert all(h["heading"].split()[0] in c for h, c in zip(expected, cards, strict=True))
    monkeypatch.setenv("KB_SHOW_PATHS", "1")              # the Stats page names the index for the operator only
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=300)
    at.query_params["view"] = "stats"
    at.run()
    assert not at.exception and not at.error
    shown = [html.unescape(e.value) for e in [*at.html, *at.markdown]]
    assert any(f"Index: Milvus collection 'app' at {server}" in v for v in shown)


def test_the_side_by_side_bench_runs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "benchmarks.backends", "--sections", "60", "--rounds", "1", "--json"],
                       capture_output=True, text=True, cwd=ROOT, env=kb_env(), timeout=1200)
    assert_no_traceback(r)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    same, total = map(int, result["queries"]["identical_top10"].split("/"))
    assert total == 120 and same == total
    assert result["process"]["milvus"]["process_peak_rss_mb"] > 0 and result["milvus_server_mb"]["rss"] > 0


def test_full_rebuilds_from_any_state_and_a_sync_repairs(server, tmp_path):
    """The acceptance check of issue 21 on the command line: a forged commit entity, a dropped meta collection and
    deleted entities; `kb.index --full` (or a plain sync, for deleted entities) recovers and search answers."""
    from kb.backends.milvus.client import connect, live_collection
    from kb.backends.milvus.schema import count, delete_ids, entity_id

    content = copy(ROOT / "content", tmp_path / "content")
    heading = next(line.lstrip("#").strip() for p in sorted(content.glob("*.md"))
                   for line in p.read_text(encoding="utf-8").splitlines() if line.startswith("### "))
    index(content, server, "recover")
    want = keys(search(server, "recover", heading)[0])
    assert want
    client = connect(server)
    meta = f"{live_collection(client, 'recover')}_meta"
    client.insert(meta, [{"key": "commit/000000000999", "gen": 999, "kind": "commit", "v": [0.0, 0.0],
                          "data": json.dumps({"gen": 999, "parts": 1, "digest": "forged"})}])
    client.flush(meta)
    assert keys(search(server, "recover", heading)[0]) == want
    assert index(content, server, "recover", "--full").startswith("indexed:")
    assert keys(search(server, "recover", heading)[0]) == want
    client.drop_collection(f"{live_collection(client, 'recover')}_meta")
    env = kb_env(KB_INDEX_DIR="/nonexistent/kb-index")
    r = run_kb("search", "--milvus-uri", server, "--milvus-collection", "recover", heading, env=env, timeout=600)
    assert_one_line_error(r, "--full")
    r = run_kb("index", "--content", content, "--milvus-uri", server, "--milvus-collection", "recover", "-q",
               timeout=600)
    assert_one_line_error(r, "--full")
    assert index(content, server, "recover", "--full").startswith("indexed:")
    assert keys(search(server, "recover", heading)[0]) == want
    phys = live_collection(client, "recover")
    gone = [entity_id(p.name, 1, pos, kind) for p in content.glob("*.md") for pos in range(5) for kind in (0, 1)]
    delete_ids(client, phys, gone)
    client.flush(phys)
    summary = index(content, server, "recover")
    assert summary.startswith("indexed:")                                     # not "index up to date"
    sections = int(summary.split(" sections")[0].rsplit(" ", 1)[1])
    assert count(client, live_collection(client, "recover")) == 2 * sections
    assert keys(search(server, "recover", heading)[0]) == want
    assert index(content, server, "recover").startswith("index up to date")
