"""The Milvus backend recovers from states it can reach, on a real milvus-lite server with a fake embedder: a forged
commit entity, a dropped meta collection, entities and blobs deleted by someone else, a server restart under a
long-lived backend, two syncs at once (the lease), malformed URIs; and every failure is one quiet line."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend needs the .[milvus] extra (pymilvus, milvus-lite)")
pytest.importorskip("milvus_lite", reason="the Milvus backend needs the .[milvus] extra (pymilvus, milvus-lite)")

from fixtures.cli import assert_one_line_error, kb_env, stop  # noqa: E402
from fixtures.milvus import (  # noqa: E402
    FakeEmbedder,
    SlowEmbedder,
    copy_posts,
    fresh_name,
    restart_server,
    start_server,
    sync,
)

from kb.backends import milvus as M  # noqa: E402
from kb.backends.filters import Filters  # noqa: E402
from kb.backends.milvus import schema  # noqa: E402
from kb.backends.milvus.lease import Lease  # noqa: E402
from kb.core.errors import BadQuery, IndexCorrupt, IndexLocked  # noqa: E402
from kb.core.types import KeywordQuery  # noqa: E402
from kb.text.tokenize import tokenize_query  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POSTS = sorted((ROOT / "tests" / "eval" / "posts").glob("*.md"))[:6] + sorted((ROOT / "content").glob("*.md"))
QUERY = "GPT 트레이딩 강화학습"


@pytest.fixture
def content(tmp_path) -> Path:
    return copy_posts(tmp_path, POSTS)


@pytest.fixture
def name() -> str:
    return fresh_name("kbrec")


def answers(uri: str, name: str) -> list[tuple[str, str]]:
    """The keyword leg's top hits (post, heading) of a freshly opened backend: what search answers."""
    b = M.open_milvus(uri, name)
    rows, _ = b.keyword_search(KeywordQuery(tokenize_query(QUERY), []), Filters(), 10)
    assert rows.size
    return [(b.sections[r].post_path, b.sections[r].heading) for r in rows]


def test_a_forged_commit_for_a_missing_generation_is_passed_over_and_removed(content, server, name):
    first = sync(content, server, name)
    want = answers(server, name)
    b = M.open_milvus(server, name)
    meta = f"{b.phys}_meta"
    b.client.insert(meta, [{"key": "commit/000000000999", "gen": 999, "kind": "commit", "v": [0.0, 0.0],
                            "data": json.dumps({"gen": 999, "parts": 1, "digest": "x"})}])
    b.client.flush(meta)
    assert M.current_version(server, name) == first.version and answers(server, name) == want
    assert sync(content, server, name).up_to_date                       # a plain sync removes it
    assert not b.client.query(meta, filter="gen == 999", output_fields=["key"])
    b.client.insert(meta, [{"key": "commit/000000000999", "gen": 999, "kind": "commit", "v": [0.0, 0.0],
                            "data": "not json"}])
    b.client.flush(meta)
    full = sync(content, server, name, full=True)
    assert not full.up_to_date and full.version != first.version and answers(server, name) == want


def test_full_rebuilds_after_the_meta_collection_was_dropped(content, server, name):
    sync(content, server, name)
    want = answers(server, name)
    b = M.open_milvus(server, name)
    b.client.drop_collection(f"{b.phys}_meta")
    with pytest.raises(IndexCorrupt, match="--full"):
        M.open_milvus(server, name)
    with pytest.raises(IndexCorrupt, match="--full"):
        sync(content, server, name)                                     # only --full rebuilds: say so
    report = sync(content, server, name, full=True)
    assert not report.up_to_date and report.embedded == 2 * report.sections
    assert answers(server, name) == want
    assert sync(content, server, name).up_to_date


def test_a_sync_writes_again_what_someone_else_deleted(content, server, name):
    emb = FakeEmbedder()
    first = sync(content, server, name, emb)
    want = answers(server, name)
    b = M.open_milvus(server, name)
    ids = b._ids[0][:20].tolist()
    schema.delete_ids(b.client, b.phys, ids)
    b.client.flush(b.phys)
    assert answers(server, name) != want or b.entry_vectors(np.arange(20))[0].any(axis=1).sum() < 20
    before = emb.embedded
    repaired = sync(content, server, name, emb)
    assert not repaired.up_to_date and repaired.version != first.version
    assert 0 < emb.embedded - before <= 20                 # only the deleted entries were embedded again
    b = M.open_milvus(server, name)
    assert schema.count(b.client, b.phys) == 2 * len(b.sections) == 2 * first.sections
    assert b.entry_vectors(np.arange(len(b.sections)))[0].any(axis=1).all()
    assert answers(server, name) == want
    assert sync(content, server, name, emb).up_to_date
    post = b.sections[0].post_path                         # a post blob deleted: the sync writes it again
    b.client.delete(f"{b.phys}_meta", filter=f'kind == "post" and gen == {b.layout["posts"][post]["gen"]}')
    assert not sync(content, server, name, emb).up_to_date and answers(server, name) == want


def test_a_long_lived_backend_answers_again_after_a_server_restart(content, tmp_path, capfd):
    data = tmp_path / "restart-data"
    proc, uri = start_server(data)
    try:
        sync(content, uri, "kb")
        b = M.open_milvus(uri, "kb")
        q, qv = KeywordQuery(tokenize_query(QUERY), []), FakeEmbedder().embed_query(QUERY)
        kw, vec = b.keyword_search(q, Filters(), 10), b.vector_search(qv, Filters(), 10)
        capfd.readouterr()
        proc.kill()
        proc.wait()
        with pytest.raises(M.BackendUnavailable) as err:                # server down: one line, no log noise
            b.vector_search(qv, Filters(), 10)
        assert "\n" not in str(err.value) and uri in str(err.value)
        out = capfd.readouterr()
        assert out.err == "" and out.out == ""
        proc = restart_server(data, uri)
        again = b.keyword_search(q, Filters(), 10)                       # the released collections are loaded
        np.testing.assert_array_equal(again[0], kw[0])
        np.testing.assert_array_equal(b.vector_search(qv, Filters(), 10), vec)
        b._vectors.clear()
        assert b.entry_vectors(vec)[0].any(axis=1).all()
        assert capfd.readouterr().err == ""
    finally:
        stop(proc)


def test_the_lease_is_held_by_one_claimant_at_a_time(server, name):
    """Three contenders at once: one holds the lease until both others have tried (so a slow thread cannot come
    after the release and win fairly), and those two are refused."""
    M.connect(server)
    holders, most, results = [], [0], []
    tried = threading.Condition()

    def contender(barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            with Lease(M.connect(server), name):
                with tried:
                    holders.append(1)
                    most[0] = max(most[0], len(holders))
                    tried.wait_for(lambda: results.count("locked") >= 2, timeout=30)
                    holders.pop()
            with tried:
                results.append("won")
        except IndexLocked:
            with tried:
                results.append("locked")
                tried.notify_all()
        except Exception as err:  # noqa: BLE001 - any other failure fails the test below
            with tried:
                results.append(repr(err))
                tried.notify_all()

    for _ in range(6):
        results.clear()
        barrier = threading.Barrier(3)
        threads = [threading.Thread(target=contender, args=(barrier,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert most[0] == 1 and results.count("won") == 1 and results.count("locked") == 2, results


def test_two_concurrent_syncs_exactly_one_wins(content, server, name, capfd):
    capfd.readouterr()
    for round_ in range(3):
        collection = f"{name}_{round_}"
        barrier, results = threading.Barrier(2), []

        def one(collection=collection, barrier=barrier, results=results) -> None:
            barrier.wait()
            try:
                results.append(sync(content, server, collection, SlowEmbedder()))
            except Exception as err:  # noqa: BLE001 - IndexLocked is expected once; anything else fails below
                results.append(err)

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(isinstance(r, IndexLocked) for r in results) == 1, results
        assert sum(isinstance(r, Exception) for r in results) == 1 and len(results) == 2, results
        assert answers(server, collection)
    assert capfd.readouterr().err == ""                  # claims racing to create the lock collection: no log


def test_a_sync_that_lost_its_lease_commits_nothing(content, server, name):
    first = sync(content, server, name)
    f = sorted(content.glob("*.md"))[0]
    f.write_text(f.read_text(encoding="utf-8") + "\n\n### Leasemarker\n\nleasemarker 본문.\n", encoding="utf-8")
    client = M.connect(server)

    class Usurped(FakeEmbedder):
        def embed_passages(self, texts):          # someone removes this sync's claim while it writes
            client.delete(f"{name}_lock", filter='key != ""')
            return super().embed_passages(texts)

    with pytest.raises(IndexLocked, match="lost its lease"):
        sync(content, server, name, Usurped())
    assert M.current_version(server, name) == first.version
    assert sync(content, server, name).version != first.version


@pytest.mark.parametrize("uri", ["file:", "file:kb.db", "file:///tmp/kb.db", "http://", "http://:19530",
                                 "http://127.0.0.1:notaport", "kb", "mongodb://x:1"])
def test_a_malformed_uri_creates_nothing(uri, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadQuery, match="Milvus URI"):
        M.connect(uri)
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_uri_on_the_command_line_is_one_line_and_creates_nothing(tmp_path):
    work = tmp_path / "cwd"
    work.mkdir()
    for uri in ("file:", "file:kb.db"):
        for args in (["index", "--content", str(ROOT / "content")], ["search", "NeRF"]):
            r = subprocess.run([sys.executable, "-m", f"kb.{args[0]}", *args[1:], "--milvus-uri", uri],
                               capture_output=True, text=True, cwd=work, env=kb_env(), timeout=300)
            assert_one_line_error(r, "Milvus URI")
            assert list(work.iterdir()) == [], (uri, args)


def test_an_unreachable_server_is_one_quiet_line(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = subprocess.run([sys.executable, "-m", "kb.search", "--milvus-uri", f"http://127.0.0.1:{port}", "NeRF"],
                       capture_output=True, text=True, cwd=tmp_path, env=kb_env(), timeout=300)
    assert_one_line_error(r, f"127.0.0.1:{port}")


def test_a_server_killed_during_a_sync_is_one_quiet_line(content, tmp_path, capfd):
    proc, uri = start_server(tmp_path / "killed-data")
    try:
        client = M.connect(uri)

        class Killer(FakeEmbedder):
            def embed_passages(self, texts):              # the server dies while the sync writes
                if self.embedded > 100 and proc.poll() is None:
                    proc.kill()
                    proc.wait()
                return super().embed_passages(texts)

        capfd.readouterr()
        with pytest.raises(M.BackendUnavailable) as err:
            sync(content, uri, "kb", Killer())
        assert "\n" not in str(err.value) and uri in str(err.value)
        out = capfd.readouterr()
        assert out.err == "" and out.out == "", out.err[-2000:]
        assert client is M.connect(uri)
    finally:
        stop(proc)
