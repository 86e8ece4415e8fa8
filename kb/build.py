"""Build an index: posts → sections → entries → (reused or new) embeddings + BM25 → a new version in `index/`.

Each section gives two index entries that point back to it: the section itself (heading + commentary) and its
referenced title (heading + resource names from anchors and URLs). Entry i is section i, entry n+i is the title of
section i, so per-section scores are max(entry i, entry n+i). Vectors are reused by content hash, so a rebuild
only embeds what changed; an unchanged content folder is detected from file hashes alone and costs no write.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import kb
from kb import store
from kb.config import Settings, canonical_model
from kb.embed import get_embedder
from kb.entries import entry_texts, entry_tokens
from kb.errors import BadPost, ContentMissing, IndexMissing, KbError
from kb.keyword import KeywordIndex
from kb.posts import PostFile, find_post_files, read_post
from kb.sections import split_sections
from kb.snippets import snippet_sentences
from kb.tokenize import TOKENIZER_NAME
from kb.types import Manifest, Post, PostRecord, Section
from kb.vector import IVF_MIN_ENTRIES, build_ann, save_ann

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
SENTENCE_VECTORS = "sentences.npy"         # float16 vectors of every section's snippet sentences (kb.snippets)
SENTENCE_STARTS = "sentence_starts.npy"    # section i's sentences are rows starts[i]:starts[i+1]
SENTENCE_HASHES = "sentence_hashes.npy"


@dataclass
class Corpus:
    posts: list[Post]
    sections: list[Section]
    skipped: list[tuple[str, str]]           # (file, reason) for every file that was not indexed
    skipped_hashes: dict[str, str] = field(default_factory=dict)


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


def _hash_file(pf: PostFile) -> str | None:
    try:
        return hashlib.sha256(pf.path.read_bytes()).hexdigest()
    except OSError:
        return None


def load_corpus(content_dir: Path) -> Corpus:
    """Read and split every post; bad posts are collected with their reason, never raised."""
    files, refused = find_post_files(content_dir)
    posts: list[Post] = []
    sections: list[Section] = []
    skipped = list(refused)
    skipped_hashes: dict[str, str] = {}
    by_hash: dict[str, str] = {}
    for pf in files:
        try:
            post = read_post(pf)
            if post.content_hash in by_hash:
                raise BadPost(f"{pf.rel}: identical to {by_hash[post.content_hash]}, indexed once")
            post, secs = split_sections(post)
            if not secs:
                raise BadPost(f"{pf.rel}: no text to index")
        except BadPost as err:
            skipped.append((pf.rel, str(err).removeprefix(f"{pf.rel}: ".replace("\n", " "))))
            skipped_hashes[pf.rel] = _hash_file(pf) or ""
            continue
        except (RecursionError, MemoryError, ValueError, TypeError) as err:  # a parser edge case: name it, go on
            skipped.append((pf.rel, f"cannot parse ({type(err).__name__})"))
            skipped_hashes[pf.rel] = _hash_file(pf) or ""
            continue
        by_hash[post.content_hash] = pf.rel
        posts.append(post)
        sections.extend(secs)
    return Corpus(posts, sections, skipped, skipped_hashes)


def _text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


def _previous(index_dir: Path, embedder_name: str):
    """(manifest, hash→vector row map, vectors) of the live index if it is sound and built by the same model."""
    try:
        vdir = store.current_version(index_dir)
        manifest = store.read_manifest(vdir)
        store.verify_files(vdir, manifest)
    except KbError as err:
        if not isinstance(err, IndexMissing):
            log.warning("previous index unusable (%s); building from scratch", err)
        return None, {}, None
    if manifest.embedder_name != embedder_name:
        return manifest, {}, None
    hashes = np.load(vdir / "hashes.npy")
    vectors = np.load(vdir / "vectors.npy", mmap_mode="r")
    if (vdir / SENTENCE_HASHES).is_file():                # sentence vectors reuse the same map, by their own hash
        s_hashes = np.load(vdir / SENTENCE_HASHES)
        hashes = np.concatenate([hashes, s_hashes])
        vectors = _Stacked(vectors, np.load(vdir / SENTENCE_VECTORS, mmap_mode="r"))
    # numpy's S16 drops trailing NUL bytes on read: pad back, or ~1 hash in 256 never matches and is re-embedded
    return manifest, {bytes(h).ljust(16, b"\0"): i for i, h in enumerate(hashes)}, vectors


class _Stacked:
    """Two vector arrays read as one (entry vectors, then sentence vectors), without copying either."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.shape = (len(a) + len(b), a.shape[1])

    def __getitem__(self, j: int):
        return self.a[j] if j < len(self.a) else self.b[j - len(self.a)]


def _content_state(content_dir: Path) -> tuple[dict[str, str], dict[str, str]] | None:
    """Hashes of every candidate post file, for the no-op check (None if a file cannot be read)."""
    files, _ = find_post_files(content_dir)
    out = {}
    for pf in files:
        h = _hash_file(pf)
        if h is None:
            return None
        out[pf.rel] = h
    return out


def build_index(settings: Settings, *, full: bool = False, embedder=None, progress: Progress | None = None) -> BuildReport:
    """Build or update the index in settings.index_dir from settings.content_dir. Atomic; holds the rebuild lock."""
    t0 = time.perf_counter()
    content_dir, index_dir = Path(settings.content_dir), Path(settings.index_dir)
    if not content_dir.is_dir():
        raise ContentMissing(f"content folder {content_dir} does not exist; put posts there or pass --content DIR")
    embedder_name = embedder.name if embedder is not None else canonical_model(settings.model)
    with store.rebuild_lock(index_dir):
        prev_manifest, prev_rows, prev_vectors = (None, {}, None) if full else _previous(index_dir, embedder_name)
        if _unchanged(content_dir, prev_manifest, prev_vectors):
            store.sweep(index_dir)            # leftovers of a rebuild killed after its swap
            return BuildReport(len(prev_manifest.posts), prev_manifest.section_count, 0,
                               prev_manifest.section_count * 2, list(prev_manifest.skipped_reasons.items()),
                               time.perf_counter() - t0, True, store.current_version(index_dir).name)
        corpus = load_corpus(content_dir)
        if not corpus.posts:
            err = ContentMissing(f"no indexable post in {content_dir} ({len(corpus.skipped)} skipped)")
            err.skipped = corpus.skipped          # so the CLI can still name every bad file
            raise err
        embedder = embedder or get_embedder(settings.model)
        texts = entry_texts(corpus.sections)
        sentences, starts = _sentences(corpus.sections)
        hashes = [_text_hash(t) for t in texts + sentences]
        all_vectors, todo = embed_entries(embedder, texts + sentences, hashes, prev_rows, prev_vectors, progress)
        vectors, s_vectors = all_vectors[:len(texts)], all_vectors[len(texts):]
        embedded = sum(1 for i in todo if i < len(texts))          # entries; sentences are counted apart
        manifest = Manifest(
            schema_version=store.SCHEMA_VERSION, kb_version=kb.__version__, embedder_name=embedder.name,
            embedder_dim=embedder.dim, tokenizer=TOKENIZER_NAME,
            vector_index="ivf" if len(vectors) >= IVF_MIN_ENTRIES else "flat", post_count=len(corpus.posts),
            section_count=len(corpus.sections), entry_count=len(texts),
            posts={p.path: p.content_hash for p in corpus.posts}, skipped=corpus.skipped_hashes,
            skipped_reasons=dict(corpus.skipped), built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            content_dir=str(content_dir.resolve()), embedded=embedded, reused=len(texts) - embedded)
        sentence_files = {SENTENCE_VECTORS: s_vectors.astype(np.float16), SENTENCE_STARTS: starts,
                          SENTENCE_HASHES: np.array(hashes[len(texts):], dtype="S16")}
        final = _write_and_publish(index_dir, corpus, vectors, np.array(hashes[:len(texts)], dtype="S16"),
                                   sentence_files, manifest, t0)
    return BuildReport(len(corpus.posts), len(corpus.sections), embedded, len(texts) - embedded, corpus.skipped,
                       time.perf_counter() - t0, False, final.name)


def _sentences(sections: list[Section]) -> tuple[list[str], np.ndarray]:
    """Every section's snippet sentences in one list, and where each section's run starts (n + 1 offsets)."""
    out: list[str] = []
    starts = [0]
    for s in sections:
        out.extend(snippet_sentences(s))
        starts.append(len(out))
    return out, np.array(starts, dtype=np.int64)


def _unchanged(content_dir: Path, prev_manifest: Manifest | None, prev_vectors) -> bool:
    """True when the live index was built by this model and tokenizer from exactly these files."""
    if not prev_manifest or prev_vectors is None or prev_manifest.tokenizer != TOKENIZER_NAME:
        return False
    state = _content_state(content_dir)
    return state is not None and state == prev_manifest.known_files


def embed_entries(embedder, texts: list[str], hashes: list[bytes], prev_rows: dict, prev_vectors,
                  progress: Progress | None) -> tuple[np.ndarray, list[int]]:
    """Vectors for every entry: reused by text hash from the previous build, the rest embedded in batches.
    Returns (vectors, the entry ids that were embedded)."""
    dim = embedder.dim
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    todo: list[int] = []
    for i, h in enumerate(hashes):
        j = prev_rows.get(h)
        if j is not None and prev_vectors is not None and prev_vectors.shape[1] == dim:
            vectors[i] = prev_vectors[j]
        else:
            todo.append(i)
    batch = 16
    for start in range(0, len(todo), batch):
        ids = todo[start:start + batch]
        vectors[ids] = embedder.embed_passages([texts[i] for i in ids])
        if progress:
            progress(min(start + batch, len(todo)), len(todo))
    if progress and not todo:
        progress(0, 0)
    return vectors, todo


def _write_and_publish(index_dir: Path, corpus: Corpus, vectors: np.ndarray, hashes: np.ndarray, extra: dict,
                       manifest: Manifest, t0: float) -> Path:
    """Write the build aside and publish it; on a write error remove the partial build and say why in one line."""
    build_dir = None
    try:
        build_dir = store.new_build_dir(index_dir)
        _write_build(build_dir, corpus, vectors, hashes)
        for name, array in extra.items():
            np.save(build_dir / name, array)
        manifest.build_seconds = round(time.perf_counter() - t0, 3)
        return store.publish(index_dir, build_dir, manifest)
    except OSError as err:
        if build_dir is not None:
            shutil.rmtree(build_dir, ignore_errors=True)
        raise store.describe_write_error(err, index_dir) from None


def _write_build(build_dir: Path, corpus: Corpus, vectors: np.ndarray, hashes: np.ndarray) -> None:
    sections = corpus.sections
    store.write_json(build_dir / "sections.json", [s.to_dict() for s in sections])
    store.write_json(build_dir / "posts.json", [PostRecord.from_post(p).to_dict() for p in corpus.posts])
    np.save(build_dir / "vectors.npy", vectors)
    np.save(build_dir / "hashes.npy", hashes)
    (build_dir / "bm25").mkdir()
    KeywordIndex.build(entry_tokens(sections)).save(build_dir / "bm25")
    save_ann(build_ann(vectors), build_dir / "ann.faiss")
