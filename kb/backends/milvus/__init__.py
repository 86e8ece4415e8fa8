"""Milvus backend (the .[milvus] extra): kb's index entries in a Milvus collection, synced from the content folder
by content hash.

One entity per index entry (entry i: section i, entry n+i: its referenced title): id, post, gen, pos, kind (0 section,
1 title), day (YYYYMMDD, 0 unknown), tags, categories (lower-cased), hash (of the entry text, to reuse vectors), the e5
vector (`vec`, inner product) and kb's own tokens as `text` with a BM25 function into `sparse`. Beside it, a small
`<collection>_meta` collection holds chunked JSON blobs per generation: the manifest (schema version, embedder name and
dimension, tokenizer, per-post content hashes), kb's BM25 statistics, and one blob per post (its record and sections).

URI: a local path ending in `.db` is embedded milvus-lite (one process at a time); `http://host:port` is any Milvus
server (milvus-lite's own `milvus-lite server`, Milvus Standalone or Distributed). The name NAME (default `kb`) is an
alias of the live physical collection `NAME_v<time>_<id>`; a full rebuild (new model or schema) fills a new one and
switches the alias, so readers never see a half-built index.

Generations make incremental syncs safe: an entity id is a hash of (post, generation, position, kind) and a reader
keeps only ids its manifest names, so neither a half-written generation nor undeleted garbage is ever seen. A sync
killed at any point leaves search answering from the last commit; the next sync removes what it left and reuses its
vectors; a sync also writes again what someone else deleted, and `--full` rebuilds from any state.

Ranking parity with the local backend: Milvus's BM25 (its own IDF per segment, never updated by deletes, scores
negated) only proposes keyword candidates; they are scored with kb's BM25 (kb.storage.keyword's arithmetic) from
statistics computed at sync time over all entries and stored with the manifest, on tokens of the reader's own
sections table. Vector candidates come from an exact FLAT index; the query layer re-scores with the vectors returned
by entry_vectors. Small filtered sets are scored without asking Milvus at all.

Modules: client (connections, quiet one-line failures), schema (collections, ids, expressions), keywords (BM25
statistics), blobs (manifest, commits, post blobs), lease (one sync at a time), repair (garbage and damage), sync
(the write path), backend (the read path).
"""

from kb.backends.milvus.backend import MilvusBackend, current_version, open_milvus
from kb.backends.milvus.client import BackendUnavailable, connect

__all__ = ["BackendUnavailable", "MilvusBackend", "connect", "current_version", "drop_collection", "open_milvus",
           "sync_milvus"]


def __getattr__(name: str):
    """sync_milvus and drop_collection (the write path, with kb.build) are imported when first asked for, so a
    Milvus search imports only the read path."""
    if name in ("sync_milvus", "drop_collection"):
        from kb.backends.milvus import sync

        return getattr(sync, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
