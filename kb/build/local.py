"""Build an index: posts → sections → entries → (reused or new) embeddings + keyword postings → a new version.

Each section gives two index entries that point back to it: the section itself (heading + commentary) and its
referenced title (heading + resource names from anchors and URLs). Entry i is section i, entry n+i is the title of
section i, so per-section scores are max(entry i, entry n+i).

A rebuild does work in proportion to what changed. A post whose file is unchanged keeps its rows where they are:
its parsed sections, keyword postings and vectors stay in the segment (kb.storage.segment) that holds them, which the new
version hard-links. Only changed and new posts are read, split, tokenized and embedded (vectors are reused by
entry-text hash) into a small delta segment; the delta and the rows that went dead in the base are merged into one
segment (compaction) once they exceed DELTA_MAX_FRACTION of the index. An unchanged content folder is detected from
file stats and content hashes alone (a file whose size, times and inode match the last build's record is not read
again) and costs no write.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np

import kb
from kb.backends.local import POSTS, Version, open_version
from kb.build.content import Corpus, embed_with_reuse, load_corpus, text_hash
from kb.build.content import hash_file as _hash_file
from kb.core import safeio
from kb.core.config import Settings, canonical_model
from kb.core.errors import ContentMissing, IndexMissing, KbError
from kb.core.types import Manifest, PostRecord, Section
from kb.embed.embedder import get_embedder
from kb.ingest.entries import EntryTexts
from kb.ingest.posts import PostFile, find_post_files
from kb.query.snippets import snippet_sentences
from kb.storage import store, tables
from kb.storage.codes import quantise
from kb.storage.segment import NewRows, Piece, Segment, write_segment
from kb.storage.tables import json_line, save_array
from kb.storage.vector import IVF_MIN_ENTRIES
from kb.text.tokenize import TOKENIZER_NAME

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# The delta segment plus the base's dead rows may reach this share of the index before a rebuild compacts them into
# one segment (rewriting everything but embeddings: ~10 s at 100k sections); below it an edit writes only the delta.
DELTA_MAX_FRACTION = 0.10
# A file whose recorded stat is this close to when the stats were taken is hashed again (a later write within the
# file system's timestamp granularity could leave size and times unchanged: git's "racily clean" entries).
RACY_NS = 2_000_000_000

_text_hash = text_hash          # the names tests/test_bench.py and tests/test_segments.py use


@dataclass
class Previous:
    """The live build, when a rebuild can reuse it (same embedder; rows need the same tokenizer too)."""
    manifest: Manifest
    version: Version | None = None           # mapped when the content changed
    posts: list[tuple[str, str]] = field(default_factory=list)     # (path, hash) in posts-table order
    post_index: dict[str, int] = field(default_factory=dict)
    salvaged: list[Segment] | None = None    # a damaged build: only the segments that verify, for their vectors

    @property
    def rows_reusable(self) -> bool:
        return self.manifest.tokenizer == TOKENIZER_NAME and self.salvaged is None

    @property
    def segments(self) -> list[Segment]:
        return self.version.segments if self.version is not None else (self.salvaged or [])


@dataclass
class BuildReport:
    posts: int
    sections: int
    embedded: int
    reused: int
    skipped: list[tuple[str, str]]
    seconds: float
    up_to_date: bool
    version: str

    def summary(self) -> str:
        state = "index up to date" if self.up_to_date else "indexed"
        return (f"{state}: {self.posts} posts, {self.sections} sections, {self.embedded} embedded, "
                f"{self.reused} reused, {len(self.skipped)} skipped, {self.seconds:.1f}s")


@contextlib.contextmanager
def _no_gc():
    """Python's cyclic GC off for a block that allocates millions of small objects and frees none of them in cycles
    (BENCHMARKS.md: parsing and tokenizing 100k sections ran ~25% faster)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _previous(index_dir: Path, embedder_name: str) -> Previous | None:
    """The live build if it is sound (kb.storage.store.verify_files) and built by the same model, else None."""
    try:
        vdir = store.current_version(index_dir)
        manifest = store.read_manifest(vdir)
    except KbError as err:
        if not isinstance(err, IndexMissing):
            log.warning("previous index unusable (%s); building from scratch", err)
        return None
    if manifest.embedder_name != embedder_name:
        return None
    try:
        store.verify_files(vdir, manifest)
    except KbError as err:
        return _salvage(vdir, manifest, err)
    return Previous(manifest)


def _salvage(vdir: Path, manifest: Manifest, err: KbError) -> Previous | None:
    """A damaged previous build: its segments whose files all verify, kept for their vectors (every post is read
    again, only what no good segment holds is embedded again). None when no segment verifies."""
    good = []
    for s in manifest.segments:
        try:
            store.verify_segment(vdir, manifest, s["name"])
            good.append(Segment(vdir / s["name"], search=False))
        except (KbError, OSError, ValueError):
            continue
    log.warning("previous index damaged (%s); reusing the vectors of %d of its %d segments",
                str(err).split("; rebuild with")[0], len(good), len(manifest.segments))
    return Previous(manifest, salvaged=good) if good else None


def _map_previous(index_dir: Path, prev: Previous) -> Previous | None:
    """Map the previous build's files, for reusing its rows and vectors (None if they do not hold together)."""
    try:
        prev.version = open_version(store.current_version(index_dir), prev.manifest, search=False)
    except KbError as err:
        log.warning("previous index unusable (%s); building from scratch", err)
        return None
    prev.posts = list(prev.manifest.posts.items())
    prev.post_index = {path: j for j, (path, _) in enumerate(prev.posts)}
    return prev


CONTENT_STATS = "content.json"


def _stat(path: Path) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _recorded_stats(index_dir: Path) -> dict:
    """The live build's record of its post files' stats ({"taken_ns", "stats": {file: stat}}), or {}."""
    try:
        d = safeio.read_json(store.current_version(index_dir) / CONTENT_STATS, store.MAX_JSON_BYTES)
        return d if isinstance(d, dict) and isinstance(d.get("stats"), dict) else {}
    except (KbError, OSError, ValueError):
        return {}


def _file_state(files: list[PostFile], refused: list[tuple[str, str]], prev: Manifest | None, recorded: dict
                ) -> tuple[dict[str, str], dict[str, list[int]], int] | None:
    """(content hash, stat record) of every candidate post file — a refused name (a FIFO, a link outside) counts
    as 'refused: <reason>', as in kb.ingest.posts.content_state — and when the stats were taken (None if a file cannot be
    read). A file whose stat record (size, mtime, ctime, inode) equals the previous build's, taken well after the
    file last changed, keeps its recorded hash without being read."""
    taken = time.time_ns()
    known = prev.known_files if prev else {}
    stats = recorded.get("stats", {}) if prev else {}
    trusted_before = (recorded.get("taken_ns") or 0) - RACY_NS
    hashes: dict[str, str] = {rel: f"refused: {reason}" for rel, reason in refused}
    now: dict[str, list[int]] = {}
    for pf in files:
        try:
            st = _stat(pf.path)
        except OSError:
            return None
        h = known.get(pf.rel)
        if not (h and stats.get(pf.rel) == st and max(st[1], st[2]) < trusted_before):
            h = _hash_file(pf)
            if h is None:
                return None
        hashes[pf.rel] = h
        now[pf.rel] = st
    return hashes, now, taken


def build_index(settings: Settings, *, full: bool = False, embedder=None, progress: Progress | None = None) -> BuildReport:
    """Build or update the index in settings.index_dir from settings.content_dir. Atomic; holds the rebuild lock."""
    t0 = time.perf_counter()
    content_dir, index_dir = Path(settings.content_dir), Path(settings.index_dir)
    if not content_dir.is_dir():
        raise ContentMissing(f"content folder {content_dir} does not exist; put posts there or pass --content DIR")
    embedder_name = embedder.name if embedder is not None else canonical_model(settings.model)
    with store.rebuild_lock(index_dir):
        prev = None if full else _previous(index_dir, embedder_name)
        files, refused = find_post_files(content_dir)
        state = _file_state(files, refused, prev.manifest if prev else None, _recorded_stats(index_dir) if prev else {})
        if prev and prev.salvaged is None and state and _unchanged(state[0], prev.manifest):
            store.sweep(index_dir)            # leftovers of a rebuild killed after its swap
            m = prev.manifest
            return BuildReport(len(m.posts), m.section_count, 0, m.section_count * 2,
                               list(m.skipped_reasons.items()), time.perf_counter() - t0, True,
                               store.current_version(index_dir).name)
        if prev and prev.salvaged is None:
            prev = _map_previous(index_dir, prev)
        with _no_gc():
            corpus = load_corpus(content_dir, prev, state[0] if state else None)
        if not corpus.order:
            err = ContentMissing(f"no indexable post in {content_dir} ({len(corpus.skipped)} skipped)")
            err.skipped = corpus.skipped          # so the CLI can still name every bad file
            raise err
        texts = EntryTexts(corpus.sections)                   # made when asked for (hashed once, new ones embedded)
        sentences, starts = _sentences(corpus.sections)
        hashes = [text_hash(t) for t in itertools.chain(texts, sentences)]
        lookup = _vector_lookup(prev, hashes[:len(texts)], hashes[len(texts):]) if prev else {}
        todo = [i for i, h in enumerate(hashes) if h not in lookup]
        if todo or prev is None:
            embedder = embedder or get_embedder(settings.model)
        name, dim = (embedder.name, embedder.dim) if embedder is not None else (
            prev.manifest.embedder_name, prev.manifest.embedder_dim)
        vectors, codes, scales = _embed(embedder, texts, sentences, hashes, partial(_stored, lookup), dim,
                                        len(todo), progress)
        s_hashes = np.array(hashes[len(texts):], dtype="S16").reshape(-1)
        new = NewRows(corpus.sections, vectors, np.array(hashes[:len(texts)], dtype="S16").reshape(-1),
                      codes, starts, s_hashes, scales)
        todo = [i for i in todo if i < len(texts)]                # entries; sentences are counted apart
        del texts, sentences, hashes, lookup, vectors, codes       # the new rows hold what the segment needs
        plan = _plan(prev, corpus, new)
        n = len(plan.phys)
        manifest = Manifest(
            schema_version=store.SCHEMA_VERSION, kb_version=kb.__version__, embedder_name=name, embedder_dim=dim,
            tokenizer=TOKENIZER_NAME, vector_index="flat", post_count=len(corpus.order), section_count=n,
            entry_count=2 * n, posts=dict(_post_items(prev, corpus)), skipped=corpus.skipped_hashes,
            skipped_reasons=dict(corpus.skipped), built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            content_dir=str(content_dir.resolve()), embedded=len(todo), reused=2 * n - len(todo))
        stats = {"taken_ns": state[2], "stats": state[1]} if state else {"taken_ns": 0, "stats": {}}
        final = _write_and_publish(index_dir, prev, corpus, plan, manifest, stats, t0)
    return BuildReport(len(corpus.order), n, len(todo), 2 * n - len(todo), corpus.skipped,
                       time.perf_counter() - t0, False, final.name)


# Snippet sentences embedded (as float16) before they are turned into 8-bit codes: bounds the float copy.
SENTENCE_CHUNK = 32768


def _embed(embedder, texts: list[str], sentences: list[str], hashes: list[bytes], known, dim: int, total: int,
           progress: Progress | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float16 entry vectors, int8 codes and scales of the sentence vectors: kb.storage.codes), reusing what `known`
    gives by hash; progress counts every text embedded (`total` expected), entries and sentences together."""
    done = 0

    def report(d: int, t: int) -> None:
        if t and progress:
            progress(done + d, max(total, done + d))

    vectors, got = embed_with_reuse(embedder, texts, hashes[:len(texts)], known, dim, report,
                                    dtype=np.float16)     # what segments store: one rounding, no float32 copy
    done += len(got)
    codes = np.empty((len(sentences), dim), dtype=np.int8)
    scales = np.empty(len(sentences), dtype=np.float32)
    for a in range(0, len(sentences), SENTENCE_CHUNK):
        b = min(a + SENTENCE_CHUNK, len(sentences))
        floats, got = embed_with_reuse(embedder, sentences[a:b], hashes[len(texts) + a:len(texts) + b], known, dim,
                                       report, dtype=np.float16)
        codes[a:b], scales[a:b] = quantise(floats)
        done += len(got)
    if progress and not total:
        progress(0, 0)
    return vectors, codes, scales


def _sentences(sections: list[Section]) -> tuple[list[str], np.ndarray]:
    """Every section's snippet sentences in one list, and where each section's run starts (n + 1 offsets)."""
    out: list[str] = []
    starts = [0]
    for s in sections:
        out.extend(snippet_sentences(s))
        starts.append(len(out))
    return out, np.array(starts, dtype=np.int64)


def _unchanged(state: dict[str, str], prev: Manifest) -> bool:
    """True when the live index was built by this tokenizer from exactly these files."""
    return prev.tokenizer == TOKENIZER_NAME and state == prev.known_files


def _stored(lookup: dict[bytes, tuple[np.ndarray | Segment, int]], h: bytes) -> np.ndarray | None:
    found = lookup.get(h)
    if found is None:
        return None
    src, i = found
    return src.sentences(i, i + 1)[0] if isinstance(src, Segment) else src[i]


def _vector_lookup(prev: Previous, hashes: list[bytes], sentence_hashes: list[bytes]
                   ) -> dict[bytes, tuple[np.ndarray | Segment, int]]:
    """Text hash → (stored vectors, row) for those of `hashes` (entries), (segment, sentence) for those of
    `sentence_hashes` (snippet sentences) the previous build stored, dead rows included."""
    out: dict[bytes, tuple[np.ndarray | Segment, int]] = {}
    if not prev.segments or not (hashes or sentence_hashes):
        return out
    for want, stored_of in ((hashes, Segment.hashes), (sentence_hashes, Segment.sentence_hashes)):
        if not want:
            continue
        want_a = np.array(want, dtype="S16")
        for seg in prev.segments:
            stored = stored_of(seg)
            vectors = seg.vectors if stored_of is Segment.hashes else seg
            for i in np.flatnonzero(np.isin(stored, want_a)).tolist():
                # numpy's S16 drops trailing NUL bytes on read: pad back, or ~1 hash in 256 never matches
                out.setdefault(bytes(stored[i]).ljust(16, b"\0"), (vectors, i))
    return out


@dataclass
class Plan:
    """Where the new version's rows live: a kept base segment (hard-linked) and/or one new segment of `pieces`."""
    keep: Segment | None
    pieces: list[Piece]
    phys: np.ndarray            # sections-table row → row in the concatenated segments [keep, new]
    post_rows: np.ndarray


def _plan(prev: Previous | None, corpus: Corpus, new: NewRows) -> Plan:
    """Keep the previous base segment and put every other row into a new delta segment while the delta and the
    base's dead rows stay under DELTA_MAX_FRACTION of the index; else write all rows into one new segment."""
    v = prev.version if prev else None
    sources: list[tuple] = []          # per post, in content order: (segment index, local rows) or ("new", lo, hi)
    counts = []
    for kind, i in corpus.order:
        if kind == "old":
            a, b = int(v.post_rows[i]), int(v.post_rows[i + 1])
            segs, local = v.locate(np.arange(a, b))
            sources.append((int(segs[0]) if len(segs) else 0, local))
            counts.append(b - a)
        else:
            lo, hi = corpus.ranges[i]
            sources.append(("new", lo, hi))
            counts.append(hi - lo)
    post_rows = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = int(post_rows[-1])
    base = v.segments[0] if v is not None else None
    in_base = sum(len(src[1]) for src in sources if src[0] == 0)
    keep = base is not None and in_base > 0 and (n - in_base) + (base.m - in_base) <= DELTA_MAX_FRACTION * n
    pieces: list[Piece] = []
    phys = np.empty(n, dtype=np.int64)
    nxt = base.m if keep else 0
    for src, a in zip(sources, post_rows[:-1].tolist(), strict=True):
        if keep and src[0] == 0:
            phys[a:a + len(src[1])] = src[1]
            continue
        if src[0] == "new":
            if pieces and pieces[-1][0] is new and pieces[-1][2] == src[1]:     # consecutive new rows: one piece
                pieces[-1] = (new, pieces[-1][1], src[2])
            else:
                pieces.append((new, src[1], src[2]))
            k = src[2] - src[1]
        else:
            seg = v.segments[src[0]]
            if pieces and pieces[-1][0] is seg:                    # consecutive rows of one old segment: one piece
                pieces[-1] = (seg, np.concatenate([pieces[-1][1], src[1]]))
            else:
                pieces.append((seg, src[1]))
            k = len(src[1])
        phys[a:a + k] = np.arange(nxt, nxt + k)
        nxt += k
    return Plan(base if keep else None, pieces, phys, post_rows)


def _post_items(prev: Previous | None, corpus: Corpus):
    for kind, i in corpus.order:
        yield prev.posts[i] if kind == "old" else (corpus.posts[i].path, corpus.posts[i].content_hash)


def _write_and_publish(index_dir: Path, prev: Previous | None, corpus: Corpus, plan: Plan, manifest: Manifest,
                       stats: dict, t0: float) -> Path:
    """Write the build aside and publish it; on a write error remove the partial build and say why in one line."""
    build_dir = None
    try:
        build_dir = store.new_build_dir(index_dir)
        known = _write_build(build_dir, prev, corpus, plan, manifest)
        with safeio.create_new(build_dir / CONTENT_STATS) as f:     # (store.write_json is the manifest's alone)
            f.write(json.dumps(stats, separators=(",", ":")).encode("utf-8"))
        manifest.build_seconds = round(time.perf_counter() - t0, 3)
        return store.publish(index_dir, build_dir, manifest, known)
    except OSError as err:
        if build_dir is not None:
            shutil.rmtree(build_dir, ignore_errors=True)
        raise store.describe_write_error(err, index_dir) from None


def _write_build(build_dir: Path, prev: Previous | None, corpus: Corpus, plan: Plan, manifest: Manifest
                 ) -> dict[str, dict]:
    """Write the new segment, link the kept one, write the version's tables; returns the linked files' checksums."""
    segments, known = [], {}
    if plan.pieces:
        name = f"seg-{uuid.uuid4().hex[:12]}"
        with _no_gc():
            rows = write_segment(build_dir / name, plan.pieces, manifest.embedder_dim)
        segments.append({"name": name, "rows": rows})
    if plan.keep is not None:
        for rel in store.link_tree(plan.keep.folder, build_dir / plan.keep.name):
            if rel in prev.manifest.files:
                known[rel] = prev.manifest.files[rel]
        segments.insert(0, {"name": plan.keep.name, "rows": plan.keep.m})
    manifest.segments = segments
    manifest.vector_index = "ivf" if max(2 * s["rows"] for s in segments) >= IVF_MIN_ENTRIES else "flat"
    pieces: list = []
    for kind, i in corpus.order:
        if kind == "old":
            if pieces and isinstance(pieces[-1], tuple):
                pieces[-1][1].append(i)
            else:
                pieces.append((prev.version.posts, [i]))
        else:
            line = json_line(PostRecord.from_post(corpus.posts[i]).to_dict())
            if pieces and isinstance(pieces[-1], list):
                pieces[-1].append(line)
            else:
                pieces.append([line])
    tables.write_rows(build_dir / POSTS, [(p[0], np.array(p[1], dtype=np.int64)) if isinstance(p, tuple) else p
                                          for p in pieces])
    save_array(build_dir / "rows.npy", plan.phys)
    save_array(build_dir / "post_rows.npy", plan.post_rows)
    return known
