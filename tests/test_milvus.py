"""The Milvus backend with a fake embedder against a real milvus-lite server: sync by content hash, generations,
a crashed sync, alias switching, filters, and kb's own BM25 numbers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend needs the .[milvus] extra (pymilvus, milvus-lite)")
pytest.importorskip("milvus_lite", reason="the Milvus backend needs the .[milvus] extra (pymilvus, milvus-lite)")

from fixtures.milvus import FakeEmbedder, copy_posts, fresh_name, sync  # noqa: E402

from kb.backends import milvus as M  # noqa: E402
from kb.backends.filters import Filters  # noqa: E402
from kb.backends.milvus import schema  # noqa: E402
from kb.backends.milvus import sync as milvus_sync
from kb.backends.milvus.keywords import KeywordStats  # noqa: E402
from kb.build.content import load_corpus  # noqa: E402
from kb.core.errors import IndexMismatch, IndexMissing  # noqa: E402
from kb.core.types import KeywordQuery  # noqa: E402
from kb.ingest.entries import entry_tokens  # noqa: E402
from kb.query.snippets import snippet_sentences  # noqa: E402
from kb.storage.keyword import KeywordLeg, SegmentTerms, new_terms, write_terms  # noqa: E402
from kb.text.tokenize import tokenize_query  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POSTS = sorted((ROOT / "tests" / "eval" / "posts").glob("*.md")) + sorted((ROOT / "content").glob("*.md"))


def Q(tokens, extra=()):  # noqa: N802 - reads like the dataclass it builds
    return KeywordQuery(list(tokens), list(extra))


@pytest.fixture
def content(tmp_path) -> Path:
    return copy_posts(tmp_path, POSTS)


@pytest.fixture
def name() -> str:
    return fresh_name("kbtest")


def local_keyword_leg(docs: list[list[str]], folder: Path) -> KeywordLeg:
    """The local backend's keyword leg over these entries: one segment's stored postings."""
    folder.mkdir()
    part, lengths = new_terms(docs)
    write_terms(folder, [part], lengths)
    return KeywordLeg([SegmentTerms(folder)], [None])


def test_keyword_stats_give_the_local_bm25_numbers(content, tmp_path):
    sections = load_corpus(content).sections
    docs = entry_tokens(sections)
    local = local_keyword_leg(docs, tmp_path / "terms")
    stats = KeywordStats.build(docs)
    counts = [(__import__("collections").Counter(d), max(len(d), 1)) for d in docs]
    for query in ("GPT 트레이딩 강화학습", "NeRF 시점", "SimCLR v2 대조학습", "없는단어 xyzzy"):
        tokens = tokenize_query(query)
        np.testing.assert_array_equal(stats.score(tokens, counts), local.scores(tokens)[0])
        assert stats.attainable(tokens) == pytest.approx(local.attainable(tokens), rel=1e-6)


def test_filter_expressions_quote_values():
    f = Filters(since=date(2020, 7, 1), until=date(2020, 8, 31), tags=['A"b'], categories=["News"], post='x"\\.md')
    expr = schema.filter_expr(f)
    assert "day >= 20200701" in expr and "(day > 0 and day <= 20200831)" in expr
    assert 'array_contains_any(tags, ["a\\"b"])' in expr and 'array_contains_any(categories, ["news"])' in expr
    assert 'post == "x\\"\\\\.md"' in expr


def test_sync_search_and_no_op(content, server, name):
    emb = FakeEmbedder()
    first = sync(content, server, name, emb)
    sentences = sum(len(snippet_sentences(s)) for s in load_corpus(content).sections)
    assert not first.up_to_date and first.embedded == 2 * first.sections and emb.embedded == first.embedded + sentences
    again = sync(content, server, name, emb)
    assert again.up_to_date and again.version == first.version and emb.embedded == first.embedded + sentences
    b = M.open_milvus(server, name)
    assert len(b.sections) == first.sections and len(b.posts) == first.posts and not b.is_stale()
    # keyword leg: exactly the rows and scores of kb's BM25 over every section
    q = Q(tokenize_query("GPT 트레이딩 강화학습"), tokenize_query("reinforcement"))
    rows, scores = b.keyword_search(q, Filters(), 20)
    every = b.keyword_scores(q, np.arange(len(b.sections)))
    best = np.argsort(-every, kind="stable")[:20]
    best = best[every[best] > 0]
    assert set(rows.tolist()) == set(best.tolist())
    np.testing.assert_array_equal(scores, every[rows])
    # vector leg: the exact nearest sections, and their stored vectors
    qv = emb.embed_query("강화학습")
    cand = b.vector_search(qv, Filters(), 10)
    sec, title = b.entry_vectors(np.arange(len(b.sections)))
    exact = np.maximum(sec @ qv, title @ qv)
    assert set(np.argsort(-exact)[:5].tolist()) <= set(cand.tolist())
    stored = emb._vector(f"{b.sections[3].heading}\n{b.sections[3].text}".strip()).astype(np.float16)
    np.testing.assert_array_equal(sec[3], stored.astype(np.float32))      # rounded to float16 like the local index
    # snippet sentences' vectors, for snippets chosen by meaning (float16 like the local index)
    row = next(r for r, s in enumerate(b.sections) if len(snippet_sentences(s)) > 1)
    want = emb.embed_passages(snippet_sentences(b.sections[row]))
    np.testing.assert_allclose(b.sentence_vectors(row), want, atol=2e-3)


def test_filters_are_exact(content, server, name):
    sync(content, server, name)
    b = M.open_milvus(server, name)
    f = Filters(since=date(2020, 8, 1), until=date(2020, 8, 31))
    want = {r for r, s in enumerate(b.sections) if s.date and "2020-08-01" <= s.date <= "2020-08-31"}
    assert want and len(want) < len(b.sections)
    for limit in (3, 1000):               # a small limit asks Milvus with the filter; a large one scores the set
        rows = b.vector_search(FakeEmbedder().embed_query("x"), f, limit)
        assert set(rows.tolist()) <= want and (len(rows) == len(want) if limit >= len(want) else len(rows) >= limit)
    rows, _ = b.keyword_search(Q(tokenize_query("모델 데이터 학습")), f, 1000)
    assert rows.size and set(rows.tolist()) <= want
    post = b.sections[0].post_path
    rows, _ = b.keyword_search(Q(tokenize_query("모델 데이터 학습")), Filters(post=post), 5)
    assert {b.sections[r].post_path for r in rows} == {post}


def test_edit_and_delete_sync_only_changed_posts(content, server, name):
    emb = FakeEmbedder()
    first = sync(content, server, name, emb)
    reader = M.open_milvus(server, name)
    files = sorted(content.glob("*.md"))
    edited, deleted = files[1], files[2]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\n### Zyxwvut 새 소식\n\n완전히 새로운 문단 qqmarker.\n",
                      encoding="utf-8")
    deleted.unlink()
    before = emb.embedded
    second = sync(content, server, name, emb)
    assert second.version != first.version and 0 < second.embedded <= 4     # the new section (+ its neighbour)
    assert emb.embedded - before <= 8                                       # (and its sentences)
    assert reader.is_stale()
    b = M.open_milvus(server, name)
    assert not b.is_stale()
    paths = {s.post_path for s in b.sections}
    assert deleted.name not in paths and edited.name in paths
    rows, _ = b.keyword_search(Q(tokenize_query("qqmarker")), Filters(), 5)
    assert [b.sections[r].heading for r in rows] == ["Zyxwvut 새 소식"]
    assert schema.count(b.client, b.phys) == 2 * len(b.sections)           # replaced entities are gone
    assert b.keyword_search(Q(tokenize_query("qqmarker")), Filters(post=deleted.name), 5)[0].size == 0


def test_a_crashed_sync_leaves_the_last_commit_and_the_next_one_finishes(content, server, name, monkeypatch):
    emb = FakeEmbedder()
    first = sync(content, server, name, emb)
    f = sorted(content.glob("*.md"))[0]
    f.write_text(f.read_text(encoding="utf-8") + "\n\n### Crashmarker 항목\n\ncrashmarker 본문.\n", encoding="utf-8")

    def crash(*a, **kw):
        raise SystemExit("killed before the commit")

    monkeypatch.setattr(milvus_sync, "commit", crash)
    with pytest.raises(SystemExit):
        sync(content, server, name, emb)
    monkeypatch.undo()
    b = M.open_milvus(server, name)
    assert b.version == first.version
    assert b.keyword_search(Q(tokenize_query("crashmarker")), Filters(), 5)[0].size == 0
    hits = b.vector_search(emb.embed_query("x"), Filters(), 50)
    assert len(hits) and hits.max() < len(b.sections)          # the half-written generation is invisible
    before = emb.embedded
    done = sync(content, server, name, emb)
    assert emb.embedded == before and done.embedded == 0       # the killed sync's vectors are reused
    b = M.open_milvus(server, name)
    rows, _ = b.keyword_search(Q(tokenize_query("crashmarker")), Filters(), 5)
    assert [b.sections[r].heading for r in rows] == ["Crashmarker 항목"]
    assert schema.count(b.client, b.phys) == 2 * len(b.sections)


@pytest.mark.slow
def test_full_rebuild_switches_the_alias_and_keeps_old_readers_answering(content, server, name):
    sync(content, server, name, FakeEmbedder("model-a"))
    old = M.open_milvus(server, name)
    new_report = sync(content, server, name, FakeEmbedder("model-b"))
    assert new_report.embedded == 2 * new_report.sections               # another model: everything embedded
    assert old.is_stale()
    assert len(old.vector_search(FakeEmbedder("model-a").embed_query("x"), Filters(), 5))
    new = M.open_milvus(server, name)
    assert new.phys != old.phys and new.manifest.embedder_name == "model-b"
    with pytest.raises(IndexMismatch, match="model-b"):
        M.open_milvus(server, name, "model-a")
    sync(content, server, name, FakeEmbedder("model-c"))
    colls = set(new.client.list_collections())
    assert old.phys not in colls and new.phys in colls                   # live and previous only


def test_missing_and_foreign_collections_are_one_line_errors(server, content):
    with pytest.raises(IndexMissing, match="python -m kb.index --backend milvus"):
        M.open_milvus(server, "nothing_here")
    client = M.connect(server)
    client.create_collection("foreign", dimension=4)
    with pytest.raises(IndexMismatch, match="not made by kb"):
        sync(content, server, "foreign")
    with pytest.raises(Exception, match="letters, digits"):
        M.open_milvus(server, "bad-name")


def test_one_sync_at_a_time(content, server, name):
    import json
    import socket
    import subprocess
    import time

    from kb.core.errors import IndexLocked

    sync(content, server, name)
    client = M.connect(server)
    other = subprocess.Popen(["sleep", "30"])
    try:
        held = {"owner": "x", "host": socket.gethostname(), "pid": other.pid, "at": time.time()}
        client.upsert(f"{name}_lock", [{"key": "lock", "data": json.dumps(held), "v": [0.0, 0.0]}])
        with pytest.raises(IndexLocked, match=f"pid {other.pid}"):
            sync(content, server, name)
    finally:
        other.kill()
        other.wait()
    assert sync(content, server, name).up_to_date            # a dead holder's lease is taken over
    assert not client.query(f"{name}_lock", filter='key == "lock"', output_fields=["data"])   # and released


def test_an_embedded_db_file_serves_one_process(content, tmp_path):
    from tests.fixtures.cli import assert_one_line_error, run_kb

    db = str(tmp_path / "milvus" / "kb.db")
    report = sync(content, db, "kb")
    assert not report.up_to_date
    b = M.open_milvus(db, "kb")
    assert b.keyword_search(Q(tokenize_query("NeRF")), Filters(), 5)[0].size
    r = run_kb("search", "--milvus-uri", db, "--mode", "keyword", "NeRF", timeout=120)   # while this process holds it
    assert_one_line_error(r, "open in another process", "milvus-lite server")
