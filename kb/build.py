"""Build an index: posts → sections → entries → (reused or new) embeddings + BM25 → a new version in `index/`.

Each section gives two index entries that point back to it: the section itself (heading + commentary) and its
referenced title (heading + resource names from anchors and URLs). Entry i is section i, entry n+i is the title of
section i, so per-section scores are max(entry i, entry n+i). Vectors are reused by content hash, so a rebuild
only embeds what changed; an unchanged content folder is detected from file hashes alone and costs no write.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import kb
from kb import safeio, store
from kb.config import Settings, canonical_model
from kb.errors import BadPost, ContentMissing, IndexMissing, KbError
from kb.posts import PostFile, content_state, find_post_files, post_file_hash, read_post
from kb.sections import split_sections
from kb.tokenize import TOKENIZER_NAME, tokenize
from kb.types import Post, Section
from kb.vector import IVF_MIN_ENTRIES

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


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
        return post_file_hash(pf.path)          # streamed; an oversized file is fingerprinted, not read
    except OSError:
        return None


def load_corpus(content_dir: Path) -> Corpus:
    """Read and split every post; bad posts are collected with their reason, never raised."""
    files, refused = find_post_files(content_dir)
    posts: list[Post] = []
    sections: list[Section] = []
    skipped = list(refused)
    skipped_hashes: dict[str, str] = {rel: f"refused: {reason}" for rel, reason in refused}  # as content_state
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


def passage_text(s: Section) -> str:
    return f"{s.heading}\n{s.text}".strip()


def title_text(s: Section) -> str:
    extra = [n for n in s.names if n.lower() != s.heading.lower()]
    return f"{s.heading} ({', '.join(extra)})" if extra else s.heading


def entry_texts(sections: list[Section]) -> list[str]:
    """Entries 0..n-1 are the sections, n..2n-1 their referenced titles."""
    return [passage_text(s) for s in sections] + [title_text(s) for s in sections]


def entry_tokens(sections: list[Section]) -> list[list[str]]:
    sec = [tokenize(s.heading) + tokenize(passage_text(s)) for s in sections]
    return sec + [tokenize(title_text(s)) for s in sections]


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
    if manifest.get("embedder", {}).get("name") != embedder_name:
        return manifest, {}, None
    try:
        hashes = safeio.load_npy(vdir / "hashes.npy")
        vectors = safeio.load_npy(vdir / "vectors.npy", mmap=True)
    except (OSError, ValueError) as err:         # swapped or forged after the checksums: start afresh
        log.warning("previous index unusable (%s); building from scratch", err)
        return None, {}, None
    # numpy's S16 drops trailing NUL bytes on read: pad back, or ~1 hash in 256 never matches and is re-embedded
    return manifest, {bytes(h).ljust(16, b"\0"): i for i, h in enumerate(hashes)}, vectors


def _content_state(content_dir: Path) -> dict[str, str] | None:
    """kb.posts.content_state, for the no-op check (None if a file cannot be read: that forces a real build)."""
    state = content_state(content_dir)
    return None if "" in state.values() else state


def build_index(settings: Settings, *, full: bool = False, embedder=None, progress: Progress | None = None) -> BuildReport:
    """Build or update the index in settings.index_dir from settings.content_dir. Atomic; holds the rebuild lock."""
    t0 = time.perf_counter()
    content_dir, index_dir = Path(settings.content_dir), Path(settings.index_dir)
    if not content_dir.is_dir():
        raise ContentMissing(f"content folder {content_dir} does not exist; put posts there or pass --content DIR")
    from kb.embed import get_embedder

    embedder_name = embedder.name if embedder is not None else canonical_model(settings.model)
    with store.rebuild_lock(index_dir):
        prev_manifest, prev_rows, prev_vectors = (None, {}, None) if full else _previous(index_dir, embedder_name)
        if prev_manifest and prev_vectors is not None and prev_manifest.get("tokenizer") == TOKENIZER_NAME:
            state = _content_state(content_dir)
            known = {**prev_manifest.get("posts", {}), **prev_manifest.get("skipped", {})}
            if state is not None and state == known:
                store.sweep(index_dir)            # leftovers of a rebuild killed after its swap
                return BuildReport(len(prev_manifest["posts"]), prev_manifest["section_count"], 0,
                                   prev_manifest["section_count"] * 2,
                                   [(k, v) for k, v in prev_manifest.get("skipped_reasons", {}).items()],
                                   time.perf_counter() - t0, True, store.current_version(index_dir).name)
        corpus = load_corpus(content_dir)
        if not corpus.posts:
            err = ContentMissing(f"no indexable post in {content_dir} ({len(corpus.skipped)} skipped)")
            err.skipped = corpus.skipped          # so the CLI can still name every bad file
            raise err
        sections = corpus.sections
        texts = entry_texts(sections)
        hashes = [_text_hash(t) for t in texts]
        embedder = embedder or get_embedder(settings.model)
        dim = embedder.dim
        vectors = np.zeros((len(texts), dim), dtype=np.float32)
        todo: list[int] = []
        for i, h in enumerate(hashes):
            j = prev_rows.get(h)
            if j is not None and prev_vectors is not None and prev_vectors.shape[1] == dim:
                vectors[i] = prev_vectors[j]
            else:
                todo.append(i)
        reused = len(texts) - len(todo)
        batch = 16
        for start in range(0, len(todo), batch):
            ids = todo[start:start + batch]
            vectors[ids] = embedder.embed_passages([texts[i] for i in ids])
            if progress:
                progress(min(start + batch, len(todo)), len(todo))
        if progress and not todo:
            progress(0, 0)
        build_dir = None
        try:
            build_dir = store.new_build_dir(index_dir)
            _write_build(build_dir, corpus, vectors, np.array(hashes, dtype="S16"))
            manifest = {
                "format": "kb-index",
                "schema_version": store.SCHEMA_VERSION,
                "kb_version": kb.__version__,
                "embedder": {"name": embedder.name, "dim": dim},
                "tokenizer": TOKENIZER_NAME,
                "vector_index": "ivf" if len(vectors) >= IVF_MIN_ENTRIES else "flat",
                "post_count": len(corpus.posts),
                "section_count": len(sections),
                "entry_count": len(texts),
                "posts": {p.path: p.content_hash for p in corpus.posts},
                "skipped": corpus.skipped_hashes,
                "skipped_reasons": {name: reason for name, reason in corpus.skipped},
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "content_dir": str(content_dir.resolve()),
                "embedded": len(todo),
                "reused": reused,
            }
            manifest["build_seconds"] = round(time.perf_counter() - t0, 3)
            final = store.publish(index_dir, build_dir, manifest)
        except OSError as err:                    # FAISS write failures arrive here too (kb.vector.save_ann)
            if build_dir is not None:
                import shutil

                shutil.rmtree(build_dir, ignore_errors=True)
            raise store.describe_write_error(err, index_dir) from None
    return BuildReport(len(corpus.posts), len(sections), len(todo), reused, corpus.skipped,
                       time.perf_counter() - t0, False, final.name)


def _write_build(build_dir: Path, corpus: Corpus, vectors: np.ndarray, hashes: np.ndarray) -> None:
    from kb.keyword import KeywordIndex
    from kb.vector import build_ann, save_ann

    sections = corpus.sections
    store.write_json(build_dir / "sections.json", [s.to_dict() for s in sections])
    store.write_json(build_dir / "posts.json", [
        {"path": p.path, "title": p.title, "date": p.date.isoformat() if p.date else "", "week": p.week,
         "categories": p.categories, "tags": p.tags, "intro": p.intro, "toc": p.toc, "hash": p.content_hash}
        for p in corpus.posts
    ])
    for name, array in (("vectors.npy", vectors), ("hashes.npy", hashes)):
        with safeio.create_new(build_dir / name) as f:
            np.save(f, array)
    (build_dir / "bm25").mkdir()
    KeywordIndex.build(entry_tokens(sections)).save(build_dir / "bm25")
    save_ann(build_ann(vectors), build_dir / "ann.faiss")

