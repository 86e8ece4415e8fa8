"""What every build reads from the content folder, whatever the backend: the corpus of posts and sections, the
content state for a no-op check, entry-text hashes, and embedding that reuses vectors by text hash.

The local build (kb.build.local) and the Milvus sync (kb.backends.milvus.sync) both start here, so a post is read,
split, skipped and hashed the same way for both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kb.core.errors import BadPost
from kb.core.types import Post, Section
from kb.ingest.posts import PostFile, content_state, find_post_files, post_file_hash, read_post
from kb.ingest.sections import split_sections

Progress = Callable[[int, int], None]

# Texts per embed_passages call, and so how often progress is reported (the batch the builds have always used).
EMBED_BATCH = 16


@dataclass
class Corpus:
    posts: list[Post]                        # the posts this build read (all of them without a previous build)
    sections: list[Section]                  # their sections, post after post
    skipped: list[tuple[str, str]]           # (file, reason) for every file that was not indexed
    skipped_hashes: dict[str, str] = field(default_factory=dict)
    # every indexed post in content order: ("new", i: posts[i], sections ranges[i]) or ("old", j: the previous
    # build's post j, unchanged)
    order: list[tuple[str, int]] = field(default_factory=list)
    ranges: list[tuple[int, int]] = field(default_factory=list)


def text_hash(text: str) -> bytes:
    """An entry's (or snippet sentence's) text hash: vectors are reused between builds by it."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


def readable_content_state(content_dir: Path) -> dict[str, str] | None:
    """kb.ingest.posts.content_state, for a no-op check without a stat record (None if a file cannot be read: that
    forces a real build)."""
    state = content_state(content_dir)
    return None if "" in state.values() else state


def hash_file(pf: PostFile) -> str | None:
    """A post file's content hash (None if it cannot be read)."""
    try:
        return post_file_hash(pf.path)          # streamed; an oversized file is fingerprinted, not read
    except OSError:
        return None


def load_corpus(content_dir: Path, previous=None, hashes: dict[str, str] | None = None) -> Corpus:
    """Read and split every post; bad posts are collected with their reason, never raised. Given the previous
    build (a kb.build.local.Previous) and the files' content hashes, a post whose file is unchanged is not read:
    it is listed as ("old", j)."""
    files, refused = find_post_files(content_dir)
    corpus = Corpus([], [], list(refused))
    corpus.skipped_hashes.update({rel: f"refused: {reason}" for rel, reason in refused})  # as content_state
    by_hash: dict[str, str] = {}
    reuse = previous is not None and previous.version is not None and previous.rows_reusable and hashes is not None
    for pf in files:
        h = hashes.get(pf.rel) if reuse else None
        if h is not None and _known_file(corpus, previous, pf, h, by_hash):
            continue
        try:
            post = read_post(pf)
            if post.content_hash in by_hash:
                raise BadPost(f"{pf.rel}: identical to {by_hash[post.content_hash]}, indexed once")
            post, secs = split_sections(post)
            if not secs:
                raise BadPost(f"{pf.rel}: no text to index")
        except BadPost as err:
            corpus.skipped.append((pf.rel, str(err).removeprefix(f"{pf.rel}: ".replace("\n", " "))))
            corpus.skipped_hashes[pf.rel] = hash_file(pf) or ""
            continue
        except (RecursionError, MemoryError, ValueError, TypeError) as err:  # a parser edge case: name it, go on
            corpus.skipped.append((pf.rel, f"cannot parse ({type(err).__name__})"))
            corpus.skipped_hashes[pf.rel] = hash_file(pf) or ""
            continue
        by_hash[post.content_hash] = pf.rel
        corpus.order.append(("new", len(corpus.posts)))
        corpus.ranges.append((len(corpus.sections), len(corpus.sections) + len(secs)))
        corpus.posts.append(post)
        corpus.sections.extend(secs)
    return corpus


def _known_file(corpus: Corpus, previous, pf: PostFile, h: str, by_hash: dict[str, str]) -> bool:
    """True when a file with content hash `h` needs no reading: a duplicate, the previous build's unchanged post
    (listed as ("old", j)), or a file the previous build skipped for a reason that still holds."""
    if h in by_hash:
        corpus.skipped.append((pf.rel, f"identical to {by_hash[h]}, indexed once"))
        corpus.skipped_hashes[pf.rel] = h
        return True
    j = previous.post_index.get(pf.rel)
    if j is not None and previous.posts[j][1] == h:
        by_hash[h] = pf.rel
        corpus.order.append(("old", j))
        return True
    reason = previous.manifest.skipped_reasons.get(pf.rel)
    if previous.manifest.skipped.get(pf.rel) == h and reason and not reason.startswith("identical to "):
        corpus.skipped.append((pf.rel, reason))
        corpus.skipped_hashes[pf.rel] = h
        return True
    return False


def embed_with_reuse(embedder, texts: list[str], hashes: list[bytes], known: Callable[[bytes], np.ndarray | None],
                     dim: int, progress: Progress | None = None, dtype=np.float32) -> tuple[np.ndarray, list[int]]:
    """(vectors of every text as `dtype`, the indexes embedded): a text whose hash `known` gives a vector of this
    dimension reuses it, the rest are embedded in batches of EMBED_BATCH (progress(done, total) after each; (0, 0)
    when nothing was embedded)."""
    vectors = np.zeros((len(texts), dim), dtype=dtype)
    todo = []
    for i, h in enumerate(hashes):
        v = known(h)
        if v is not None and v.shape == (dim,):
            vectors[i] = v
        else:
            todo.append(i)
    for start in range(0, len(todo), EMBED_BATCH):
        ids = todo[start:start + EMBED_BATCH]
        vectors[ids] = embedder.embed_passages([texts[i] for i in ids])
        if progress:
            progress(min(start + EMBED_BATCH, len(todo)), len(todo))
    if progress and not todo:
        progress(0, 0)
    return vectors, todo
