"""Reliability, round three (issue 21), the file side: a derived-file cache that cannot lie or hang, a folder walk
that no single path can sink, posts keyed by their exact on-disk name, memory bounded per section, and topic
corrections that wait, validate and edit through a real TOML parser. Real model, real index, real subprocesses.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest
from fixtures.cli import ROOT, assert_no_traceback, kb_env, run_kb, run_measured
from fixtures.limits import tmpfs

import kb
from kb import topics
from kb.build.local import build_index
from kb.core import diskcache, safeio
from kb.core.config import Settings
from kb.core.errors import BadTopics, IndexWriteError
from kb.ingest.posts import find_post_files
from kb.storage import store
from kb.topics import edit as topic_edit

SEED = ROOT / "content"
EVAL_POSTS = ROOT / "tests" / "eval" / "posts"
LIMIT = 60                                   # seconds any one command may take here (they take 2-10 s)
QUERY = "강화학습 트레이딩"


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
    # the model's vocabulary and graph, and the topic assignment the query's facets use (it names two topics)
    assert sorted(n.split("-")[1] for n in entries) in (["graph", "graph", "members", "vocab"],
                                                         ["graph", "members", "vocab"])
    return folder, truth, entries


def _fresh_cache(tmp_path: Path, cached) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    for name, data in cached[2].items():
        (folder / name).write_bytes(data)
    return folder


def _entry(folder: Path, kind: str) -> Path:
    return next(p for p in sorted(folder.iterdir()) if p.name.split("-")[1] == kind)


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
    "members-flipped-bit": ("members", lambda d: d[:-3] + bytes([d[-3] ^ 0x04]) + d[-2:]),
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
    assert len(lines) == 3 and all("rebuilt" in ln for ln in lines), proc.stderr      # vocabulary, graph, topics
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
        left = [p for p in mnt.rglob("*") if p.is_file()]
        assert all(p.name.endswith(diskcache.SUFFIX) for p in left)        # nothing half-written left behind:
        again = _search(seed_index_dir, mnt / "kb")                          # only whole entries (the small topic
        assert _answers(again) == cached[1] and again.stderr == ""         # assignment fits in 64k), read back


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



# ---- the folder walk ----------------------------------------------------------------------------------------------

DEEP_POST = "---\ntitle: deep\ndate: 2020-09-01\n---\n\n### 깊은 곳의 포스트\n\n심층 폴더 zebrafish 테스트\n"


def _deep(folder: Path, depth: int) -> Path:
    """A post `depth` folders below `folder` (made with relative paths: each mkdir stays short)."""
    cwd = os.getcwd()
    try:
        os.chdir(folder)
        for _ in range(depth):
            os.mkdir("d")
            os.chdir("d")
        Path("2020-09-01-deep.md").write_text(DEEP_POST, encoding="utf-8")
    finally:
        os.chdir(cwd)
    return folder


@pytest.fixture
def deep_tmp(tmp_path):
    """tmp_path, emptied with rm (iterative) afterwards: pytest's own cleanup (shutil.rmtree) recurses and would
    fail on 1,500 nested folders, in this and every later session."""
    yield tmp_path
    subprocess.run(["rm", "-rf", str(tmp_path)], check=False)


def test_the_walk_reaches_a_post_1500_folders_deep_in_name_order(deep_tmp):
    tmp_path = deep_tmp
    c = tmp_path / "c"
    c.mkdir()
    for name in ("b.md", "a/z.md", "a/b/y.md", "c.md"):
        (c / name).parent.mkdir(parents=True, exist_ok=True)
        (c / name).write_text("# x\n", encoding="utf-8")
    _deep(c, 1500)
    files, refused = find_post_files(c)
    assert refused == []
    rels = [f.rel for f in files]
    assert rels == ["a/b/y.md", "a/z.md", "b.md", "c.md", "d/" * 1500 + "2020-09-01-deep.md"]  # depth first


@pytest.mark.slow
def test_a_post_1500_folders_deep_does_not_stop_the_others(deep_tmp):
    tmp_path = deep_tmp
    c = tmp_path / "c"
    shutil.copytree(SEED, c)
    _deep(c, 1500)
    proc = run_kb("index", "--content", c, "--index-dir", tmp_path / "i", "-q", timeout=300)
    assert_no_traceback(proc)
    assert proc.returncode == 0 and "unexpected error" not in proc.stderr, proc.stderr
    assert proc.stdout.startswith("indexed: 2 posts,")
    index = kb.open_index(tmp_path / "i")
    assert [h.heading for h in index.search("zebrafish", mode="keyword", k=1)] == ["깊은 곳의 포스트"]
    assert index.search("트레이딩", mode="keyword", k=1)
    proc = run_kb("index", "--content", c, "--index-dir", tmp_path / "i", "--verify", timeout=LIMIT)
    assert proc.returncode == 0, proc.stderr
    proc = run_kb("search", "--index-dir", tmp_path / "i", "--content", c, "zebrafish", timeout=LIMIT)
    assert proc.returncode == 0 and "깊은 곳의 포스트" in proc.stdout and "unexpected" not in proc.stderr


# ---- memory per section -------------------------------------------------------------------------------------------

def _one_section_post(folder: Path, body: str) -> Path:
    folder.mkdir()
    (folder / "2020-08-01-big.md").write_text(
        f"---\ntitle: big\ndate: 2020-08-01\n---\n\n### Big section\n\n{body}\n\n### Small\n\n트레이딩 라이브러리 "
        "소개 [code](https://github.com/a/freqtrade)\n", encoding="utf-8")
    return folder


def _words(chars: int) -> str:
    import random

    rnd = random.Random(7)
    words = ["트레이딩", "모델", "학습", "데이터", "transformer", "attention", "강화학습.", "논문", "library", "알고리즘"]
    out, n = [], 0
    while n < chars:
        w = rnd.choice(words)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:chars]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["3MB-section", "gt-run", "bracket-run", "open-comment"])
def test_one_huge_section_is_indexed_in_bounded_memory(tmp_path, case):
    """A single 3 MB section (5.8 GB peak before the text was cut by characters before tokenizing), and 0.5 MB
    runs of '>', '[' or an unclosed '<!--' (1-1.4 GB each): each build peaks under 1 GB and the post is searchable."""
    body = {"3MB-section": _words(3_000_000), "gt-run": ">" * 500_000, "bracket-run": "[" * 500_000,
            "open-comment": "<!-- " + _words(500_000)}[case]
    c = _one_section_post(tmp_path / "c", body)
    cmd = [sys.executable, "-m", "kb.index", "--content", str(c), "--index-dir", str(tmp_path / "i"), "-q"]
    proc, peak_kb = run_measured(cmd, tmp_path)
    assert_no_traceback(proc)
    assert proc.returncode == 0 and proc.stdout.startswith("indexed: 1 posts, 2 sections"), proc.stderr
    assert peak_kb < 1024 * 1024, f"peak {peak_kb / 1024:.0f} MB"
    index = kb.open_index(tmp_path / "i")
    assert index.search("freqtrade 트레이딩 라이브러리", mode="hybrid", k=2)[0].heading == "Small"


def test_the_embedder_cuts_by_characters_before_tokenizing():
    from kb.embed.embedder import E5_MAX_TOKENS, MAX_CHARS_PER_TOKEN, E5Embedder

    seen = []

    class Counting:
        dim = 4

        def token_count(self, text, is_query=False):
            seen.append(len(text))
            return len(text) // 3 + 2

    e = E5Embedder(model=Counting())
    out = e.truncate("가" * 3_000_000)
    assert max(seen) <= E5_MAX_TOKENS * MAX_CHARS_PER_TOKEN
    assert (len(out) // 3 + 2) <= E5_MAX_TOKENS


# ---- corrections --------------------------------------------------------------------------------------------------

def _doc(folder: Path) -> dict:
    return tomllib.loads((folder / "topics.toml").read_text(encoding="utf-8"))


TRAP = '''[aaa]
label = "Notes"
phrases = ["""a phrase that quotes a topics file:
[nlp]
exclude = ["Vision Transformer (ViT)"]
include = ["x"]
""", \'\'\'and a literal one
[nlp]
exclude = []
\'\'\']
keywords = [
  ["nested"],
]

'''


def test_a_table_header_inside_another_topics_string_is_never_edited(tmp_path):
    """`[nlp]` lines inside a multi-line string of another topic: --exclude and --forget edit the real [nlp] and
    the whole document parses to the old one with exactly that list changed."""
    default = topics.DEFAULT_FILE.read_text(encoding="utf-8")
    (tmp_path / "topics.toml").write_text(TRAP.replace('["nested"]', '"nested"') + default, encoding="utf-8")
    before = _doc(tmp_path)
    topics.correct(tmp_path, "nlp", exclude=["Vision Transformer (ViT)"])
    after = _doc(tmp_path)
    assert after["aaa"] == before["aaa"]
    assert after["nlp"].pop("exclude") == ["Vision Transformer (ViT)"]
    assert after == before
    topics.correct(tmp_path, "nlp", forget=["Vision Transformer (ViT)"])
    assert _doc(tmp_path) == before


def test_an_edit_that_would_change_anything_else_is_refused(tmp_path):
    """set_lists compares the whole parsed document: an edit it cannot make safely is refused, file untouched."""
    quoted_key = '[nlp]\nphrases = ["p"]\n"exclude" = ["a"]  # the key spelled as a quoted key\n'
    with pytest.raises(BadTopics, match="by hand"):
        topic_edit.set_lists(quoted_key, "nlp", {"exclude": ["b"]})
    ml = '[nlp]\nphrases = ["p"]\nexclude = """\nnot a list\n"""\n'
    assert tomllib.loads(topic_edit.set_lists(ml, "nlp", {"exclude": ["b"]})) == {"nlp": {"phrases": ["p"],
                                                                                          "exclude": ["b"]}}


def test_corrections_are_deduplicated_and_refused_before_the_read_cap(tmp_path):
    topics.correct(tmp_path, "rl", exclude=["https://example.com/a/"])
    topics.correct(tmp_path, "rl", exclude=["HTTPS://www.example.com/a"])       # the same section, spelled anew
    assert topics.load_topics(tmp_path).get("rl").exclude == ("HTTPS://www.example.com/a",)
    long = [f"{i:05d} " + "x" * 490 for i in range(2200)]
    text = (tmp_path / "topics.toml").read_text(encoding="utf-8")
    fill = long[: (topics.MAX_TOPICS_BYTES - len(text.encode()) - 5000) // 500]     # each entry writes 500 bytes
    topics.correct(tmp_path, "rl", exclude=fill)
    size = (tmp_path / "topics.toml").stat().st_size
    assert size <= topics.MAX_TOPICS_BYTES
    with pytest.raises(BadTopics, match="past kb's 1,048,576-byte limit") as err:
        topics.correct(tmp_path, "rl", exclude=long[len(fill): len(fill) + 20])
    assert "--forget" in str(err.value) and "\n" not in str(err.value)
    assert (tmp_path / "topics.toml").stat().st_size == size
    assert len(topics.load_topics(tmp_path).get("rl").exclude) == len(fill) + 1        # still readable
    assert [p.name for p in tmp_path.iterdir()] == ["topics.toml"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    topics.correct(tmp_path, "rl", exclude=["kept"])
    before = (tmp_path / "topics.toml").read_bytes()

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(BadTopics, match="No space left"):
        topics.correct(tmp_path, "rl", exclude=["lost"])
    assert [p.name for p in tmp_path.iterdir()] == ["topics.toml"]
    assert (tmp_path / "topics.toml").read_bytes() == before


def test_a_correction_waits_for_the_lock_and_gives_up_in_one_line(tmp_path):
    topics.correct(tmp_path, "rl", exclude=["first"])
    release = threading.Event()

    def hold():
        with topic_edit.locked(tmp_path):
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    # another process (the CLI) waits for the lock, then writes
    proc = subprocess.Popen([sys.executable, "-c", "from kb import topics; import sys; "
                             "topics.correct(sys.argv[1], 'rl', exclude=['second'])", str(tmp_path)],
                            cwd=ROOT, env=kb_env(), stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert proc.poll() is None                                 # still waiting, not failed
    release.set()
    holder.join()
    assert proc.wait(30) == 0, proc.stderr.read()
    assert topics.load_topics(tmp_path).get("rl").exclude == ("first", "second")
    with topic_edit.locked(tmp_path):
        t0 = time.monotonic()
        with pytest.raises(BadTopics, match="another correction has held"):
            with topic_edit.locked(tmp_path, wait=0.5):
                pass
        assert time.monotonic() - t0 < 5


def test_the_cli_checks_the_topic_and_the_index_before_writing(tmp_path, seed_index_dir):
    c = tmp_path / "c"
    c.mkdir()
    proc = run_kb("topics", "Computer vision", "--exclude", "x", "--content", c, "--index-dir", tmp_path / "none",
                  timeout=LIMIT)
    assert_no_traceback(proc)
    assert proc.returncode != 0 and "no index" in proc.stderr.lower() and proc.stderr.count("\n") == 1
    proc = run_kb("topics", "cooking", "--exclude", "x", "--content", c, "--index-dir", seed_index_dir, timeout=LIMIT)
    assert proc.returncode != 0 and "unknown topic 'cooking'" in proc.stderr
    assert not list(c.iterdir())                                # nothing written
    proc = run_kb("topics", "Computer vision", "--exclude", "x", "--content", c, "--index-dir", seed_index_dir,
                  timeout=LIMIT)
    assert proc.returncode == 0, proc.stderr
    assert _doc(c)["vision"]["exclude"] == ["x"]


def test_a_disk_full_while_the_pointer_is_written_leaves_nothing_behind(tmp_path, seed_index_dir, monkeypatch):
    index_dir = tmp_path / "i"
    shutil.copytree(seed_index_dir, index_dir, symlinks=True)
    content = tmp_path / "c"
    shutil.copytree(SEED, content)
    shutil.copy(EVAL_POSTS / "2020-07-04-weekly-ml-dl-news.md", content)
    before = sorted(p.name for p in index_dir.iterdir())
    real = safeio.create_new

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def create_new(path, mode=0o644):
        f = real(path, mode)
        return Full(f) if Path(path).name.startswith(f".tmp-{store.CURRENT}") else f

    monkeypatch.setattr(safeio, "create_new", create_new)
    with pytest.raises(IndexWriteError, match="the disk is full"):
        build_index(Settings.load(content, index_dir))
    assert sorted(p.name for p in index_dir.iterdir()) == before            # no .tmp-CURRENT-*, no orphan version
    monkeypatch.undo()
    assert kb.open_index(index_dir).search("트레이딩", mode="keyword")


# ---- one key per file on disk, reuse from every segment that verifies --------------------------------------------

def _post(title: str, heading: str, word: str) -> str:
    return f"---\ntitle: {title}\ndate: 2020-09-01\n---\n\n### {heading} {word}\n\n{word} 설명 문장입니다.\n"


def test_two_files_with_one_display_name_are_both_kept_after_an_unrelated_edit(tmp_path):
    """A UTF-8 `가.md` next to a CP949-named `가.md`, and two names that differ only in undecodable bytes: every
    file keeps its own key (the second is named with its exact on-disk name), both are searchable after an
    unrelated edit, and --verify passes."""
    c = tmp_path / "c"
    shutil.copytree(SEED, c)
    raw = os.fsencode(c)
    files = {"가.md".encode(): ("utf8", "aardvark"), "가.md".encode("cp949"): ("cp949", "okapi"),
             b"x\xff.md": ("ff", "quokka"), b"x\xfe.md": ("fe", "wombat")}
    for name, (title, word) in files.items():
        with open(raw + b"/" + name, "w", encoding="utf-8") as f:
            f.write(_post(title, "포스트", word))
    names = [f.rel for f in find_post_files(c)[0]]
    assert len(set(names)) == len(names) == 5
    assert "가.md" in names and any(n.startswith("가.md [on disk: ") for n in names)
    settings = Settings.load(c, tmp_path / "i")
    assert build_index(settings).posts == 5
    with open(c / "2020-06-27-weekly-ml-dl-news.md", "a", encoding="utf-8") as f:
        f.write("\nan unrelated edit\n")
    report = build_index(settings)
    assert report.posts == 5 and not report.skipped, report.skipped
    index = kb.open_index(tmp_path / "i")
    for title, word in files.values():
        hits = index.search(word, mode="keyword", k=1)
        assert hits and hits[0].post_title == title, word
    proc = run_kb("index", "--index-dir", tmp_path / "i", "--verify", timeout=LIMIT)
    assert proc.returncode == 0, proc.stderr


def _rewrite_manifest(index_dir: Path, change) -> None:
    vdir = store.current_version(index_dir)
    body = json.loads((vdir / store.MANIFEST).read_text(encoding="utf-8"))
    change(body)
    body[store.MANIFEST_DIGEST] = store.manifest_digest(body)
    (vdir / store.MANIFEST).write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize("loss", ["one-name-for-two-posts", "identical-to-itself"])
def test_verify_notices_a_lost_post(tmp_path, seed_index_dir, loss):
    """What the display-name keys did: two posts under one name (the posts table holds more rows than the
    manifest names), or a post skipped as "identical to" itself. --verify fails in one line; a build repairs."""
    index_dir = tmp_path / "i"
    shutil.copytree(seed_index_dir, index_dir, symlinks=True)

    def lose(body):
        name, h = next(iter(body["posts"].items()))
        if loss == "one-name-for-two-posts":
            body["post_count"] += 1
        else:
            body["skipped"][name] = h
            body["skipped_reasons"][name] = f"identical to {name}, indexed once"

    _rewrite_manifest(index_dir, lose)
    proc = run_kb("index", "--index-dir", index_dir, "--verify", timeout=LIMIT)
    assert_no_traceback(proc)
    assert proc.returncode != 0 and "a post was lost" in proc.stderr and proc.stderr.count("\n") == 1


def test_one_flipped_byte_in_the_posts_table_reembeds_nothing(tmp_path, eval_corpus):
    content, built = eval_corpus
    index_dir = tmp_path / "i"
    shutil.copytree(built, index_dir, symlinks=True)
    before = [(h.heading, round(h.score, 5)) for h in kb.open_index(index_dir).search(QUERY, k=10)]
    vdir = store.current_version(index_dir)
    posts = vdir / "posts.jsonl"
    data = bytearray(posts.read_bytes())
    data[len(data) // 2] ^= 0x01
    posts.unlink()                                           # (hard-linked with the fixture's copy)
    posts.write_bytes(bytes(data))
    proc = run_kb("index", "--index-dir", index_dir, "--verify", timeout=LIMIT)
    assert proc.returncode != 0 and "posts.jsonl is damaged" in proc.stderr
    settings = Settings.load(content, index_dir)
    report = build_index(settings)
    assert report.embedded == 0 and report.reused == 2 * report.sections
    assert [(h.heading, round(h.score, 5)) for h in kb.open_index(index_dir).search(QUERY, k=10)] == before
    assert run_kb("index", "--index-dir", index_dir, "--verify", timeout=LIMIT).returncode == 0
    seg = next(p for p in store.current_version(index_dir).iterdir() if p.name.startswith("seg-"))
    vec = seg / "vectors.npy"
    data = bytearray(vec.read_bytes())
    data[-5] ^= 0x01
    vec.unlink()
    vec.write_bytes(bytes(data))
    report = build_index(settings)                           # the only segment fails: everything is embedded
    assert report.embedded == 2 * report.sections
    assert [(h.heading, round(h.score, 5)) for h in kb.open_index(index_dir).search(QUERY, k=10)] == before
