"""Reliability, round three (issue 21), the file side: a derived-file cache that cannot lie or hang, a folder walk
that no single path can sink, posts keyed by their exact on-disk name, memory bounded per section, and topic
corrections that wait, validate and edit through a real TOML parser. Real model, real index, real subprocesses.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from fixtures.cli import ROOT, assert_no_traceback, kb_env, run_kb

from kb.core import diskcache

SEED = ROOT / "content"
EVAL_POSTS = ROOT / "tests" / "eval" / "posts"
LIMIT = 60                                   # seconds any one command may take here (they take 2-10 s)
QUERY = "강화학습 트레이딩"


def run_measured(cmd: list[str], tmp: Path, env: dict | None = None, timeout: float = 300
                 ) -> tuple[SimpleNamespace, int]:
    """Run a command; return what it printed and its own peak resident memory in KB (os.wait4's rusage)."""
    out, err = tmp / "measured.out", tmp / "measured.err"
    with open(out, "w") as fo, open(err, "w") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, cwd=ROOT, env=env or kb_env())
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
    code = os.waitstatus_to_exitcode(status)
    return SimpleNamespace(returncode=code, stdout=out.read_text(), stderr=err.read_text()), usage.ru_maxrss


@contextmanager
def tmpfs(mountpoint: Path, options: str):
    mountpoint.mkdir(parents=True, exist_ok=True)
    ok = shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)], capture_output=True).returncode == 0
    try:
        yield ok
    finally:
        if ok and subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


# ---- the derived-file cache ---------------------------------------------------------------------------------------

def _search(index_dir: Path, cache: Path | str, timeout: float = LIMIT) -> subprocess.CompletedProcess:
    return run_kb("search", "--index-dir", index_dir, "--json", "-k", "5", QUERY, timeout=timeout,
                  env=kb_env(KB_CACHE_DIR=str(cache)))


def _answers(proc: subprocess.CompletedProcess) -> list[tuple[str, float]]:
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    return [(r["heading"], round(r["scores"]["semantic"], 4)) for r in json.loads(proc.stdout)["results"]]


@pytest.fixture(scope="module")
def cached(tmp_path_factory, seed_index_dir) -> tuple[Path, list, dict[str, bytes]]:
    """A filled cache folder (kept pristine), the answers with no cache at all, and each entry's bytes."""
    folder = tmp_path_factory.mktemp("cache")
    truth = _answers(_search(seed_index_dir, "off"))
    assert _answers(_search(seed_index_dir, folder)) == truth
    entries = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(n.split("-")[1] for n in entries) == ["graph", "graph", "vocab"] or \
        sorted(n.split("-")[1] for n in entries) == ["graph", "vocab"]
    return folder, truth, entries


def _fresh_cache(tmp_path: Path, cached) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    for name, data in cached[2].items():
        (folder / name).write_bytes(data)
    return folder


def _entry(folder: Path, kind: str) -> Path:
    return next(p for p in sorted(folder.iterdir()) if p.name.startswith(f"e5-{kind}-"))


def _planted_vocab(data: bytes) -> bytes:
    """A valid vocabulary table whose ids are permuted, behind the genuine header (or none at all)."""
    import io

    import numpy as np

    payload = data[diskcache.HEADER:]
    z = np.load(io.BytesIO(payload))
    ids = z["ids"].copy()
    ids[:-1:2], ids[1::2] = z["ids"][1::2], z["ids"][:-1:2]
    buf = io.BytesIO()
    np.savez(buf, hashes=z["hashes"], ids=ids, max_chars=z["max_chars"])
    return data[:diskcache.HEADER] + buf.getvalue()


DAMAGE = {
    "graph-flipped-bit": ("graph", lambda d: d[:len(d) // 2] + bytes([d[len(d) // 2] ^ 0x10]) + d[len(d) // 2 + 1:]),
    "vocab-flipped-bit": ("vocab", lambda d: d[:-100] + bytes([d[-100] ^ 0x01]) + d[-99:]),
    "vocab-permuted-ids": ("vocab", _planted_vocab),
    "vocab-no-header": ("vocab", lambda d: _planted_vocab(d)[diskcache.HEADER:]),
    "graph-truncated": ("graph", lambda d: d[:1000]),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_cache_entry_never_changes_answers_and_is_rebuilt(tmp_path, seed_index_dir, cached, case):
    kind, damage = DAMAGE[case]
    folder = _fresh_cache(tmp_path, cached)
    entry = _entry(folder, kind)
    entry.write_bytes(damage(entry.read_bytes()))
    proc = _search(seed_index_dir, folder)
    assert _answers(proc) == cached[1]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kb: cached file ") and "rebuilt" in lines[0], proc.stderr
    assert entry.read_bytes() == cached[2][entry.name]                       # stored again, whole
    proc = _search(seed_index_dir, folder)
    assert _answers(proc) == cached[1] and proc.stderr == ""


@pytest.mark.parametrize("kind", ["fifo", "zero-link", "urandom-link", "folder"])
def test_a_cache_entry_that_is_not_a_regular_file_neither_hangs_nor_eats_memory(tmp_path, seed_index_dir, cached,
                                                                                kind):
    folder = _fresh_cache(tmp_path, cached)
    for entry in list(folder.iterdir()):
        entry.unlink()
        if kind == "fifo":
            os.mkfifo(entry)
        elif kind == "folder":
            entry.mkdir()
        else:
            os.symlink(f"/dev/{kind.removesuffix('-link')}", entry)
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "kb.search", "--index-dir", str(seed_index_dir), "--json", "-k", "5", QUERY]
    proc, peak_kb = run_measured(cmd, tmp_path, env=kb_env(KB_CACHE_DIR=str(folder)), timeout=LIMIT)
    assert time.monotonic() - t0 < LIMIT, "killed: the search hung on the cache"
    assert _answers(proc) == cached[1]
    assert peak_kb < 1024 * 1024, f"peak {peak_kb / 1024:.0f} MB"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and all("rebuilt" in ln for ln in lines), proc.stderr      # the vocabulary and a graph
    if kind != "folder":                                                              # replaced by good entries
        assert all(p.is_file() and not p.is_symlink() for p in folder.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("how", ["read-only", "full"])
def test_a_read_only_or_full_cache_folder_still_answers(tmp_path, seed_index_dir, cached, how):
    mnt = tmp_path / "mnt"
    with tmpfs(mnt, "ro,size=1m" if how == "read-only" else "size=64k") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
        proc = _search(seed_index_dir, mnt / "kb")
        assert _answers(proc) == cached[1]
        assert proc.stderr == ""
        assert not [p for p in mnt.rglob("*") if p.is_file()]             # nothing half-written left behind


def test_cache_entries_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    calls = []

    def build() -> bytes:
        calls.append(1)
        return b"payload" * 1000

    assert diskcache.get_or_build("t", "k1", build, bytes) == b"payload" * 1000
    assert diskcache.get_or_build("t", "k1", build, bytes) == b"payload" * 1000
    assert len(calls) == 1
    (entry,) = tmp_path.iterdir()
    assert entry.read_bytes()[diskcache.HEADER:] == b"payload" * 1000
    # the digest covers the key: the same payload under another key is not taken for it
    shutil.copy(entry, tmp_path / "t-k2.kbc")
    assert diskcache.get_or_build("t", "k2", build, bytes) == b"payload" * 1000
    assert len(calls) == 2

    def failing_replace(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    assert diskcache.get_or_build("t", "k3", build, bytes) == b"payload" * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t-k1.kbc", "t-k2.kbc"]       # no temporary file left


def _unused():                                   # keep imports honest for later sections
    return resource
