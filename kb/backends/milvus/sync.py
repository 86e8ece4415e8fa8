"""The write path: build or update a kb collection in Milvus from the content folder, by content hash, under the
lease (kb.backends.milvus.lease), repairing what someone else removed.

A sync writes the entities and blobs of changed posts under generation G, then the manifest of G, then its commit
entity — the switch, readers open the highest committed generation — and only then deletes the replaced entities.
A full rebuild (`--full`, another model, schema or tokenizer, or a live collection that cannot be read at all)
fills a new physical collection and moves the alias, whatever state the old one is in.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import kb
from kb.backends.milvus.blobs import (
    commit,
    post_prefix,
    put_blob,
    read_head,
    reuse_sentences,
    sent_prefix,
    sentence_blob,
)
from kb.backends.milvus.client import (
    check_name,
    connect,
    ensure_loaded,
    is_milvus_error,
    live_collection,
    milvus_calls,
    one_line,
)
from kb.backends.milvus.keywords import KeywordStats
from kb.backends.milvus.lease import Lease
from kb.backends.milvus.repair import Damage, collect_garbage, drop_orphans, find_damage, has_garbage
from kb.backends.milvus.schema import (
    DEFAULT_COLLECTION,
    FORMAT,
    INSERT_BATCH,
    QUERY_LIMIT,
    REBUILD,
    SCHEMA_VERSION,
    create_collections,
    day,
    entity_id,
    fetch,
    meta_of,
    post_ids,
    token_text,
)
from kb.build.content import embed_with_reuse, load_corpus, readable_content_state, text_hash
from kb.build.local import BuildReport
from kb.core.config import Settings, canonical_model
from kb.core.errors import ContentMissing, IndexCorrupt, KbError
from kb.core.types import Section
from kb.ingest.entries import entry_texts, entry_tokens
from kb.query.snippets import snippet_sentences
from kb.text.tokenize import TOKENIZER_NAME

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


def sync_milvus(settings: Settings, uri: str, collection: str = DEFAULT_COLLECTION, *, full: bool = False,
                embedder=None, progress: Progress | None = None) -> BuildReport:
    """Build or update the kb collection `collection` at `uri` from settings.content_dir.

    Unchanged content and nothing missing: no write. Changed posts (or posts whose entities or blobs someone
    deleted): their entities are replaced under a new generation (only changed texts embedded). No collection yet,
    `full`, or another model/schema/tokenizer: a new physical collection is built and the alias switched. One sync
    at a time per collection: a lease in Milvus refuses a second one."""
    t0 = time.perf_counter()
    content_dir = Path(settings.content_dir)
    if not content_dir.is_dir():
        raise ContentMissing(f"content folder {content_dir} does not exist; put posts there or pass --content DIR")
    client = connect(uri)
    name = check_name(collection)
    with milvus_calls(uri), Lease(client, name) as lease:
        def tick(done: int, total: int) -> None:
            lease.renew()
            if progress and total >= 0:          # (-1, -1): a heartbeat from a write, not embedding progress
                progress(done, total)

        return _sync(_Job(client, name, settings, content_dir, full, lease, tick), embedder, t0)


@dataclass
class _Job:
    client: object
    name: str
    settings: Settings
    content_dir: Path
    full: bool
    lease: Lease
    progress: Progress


def _live_state(job: _Job) -> tuple[str | None, dict | None]:
    """(the live physical collection, its manifest). With --full, a live collection that cannot be read (a dropped
    meta collection, a damaged manifest) is (phys, None): the rebuild does not need it."""
    client = job.client
    phys = live_collection(client, job.name)
    if phys is None:
        return None, None
    try:
        if not client.has_collection(meta_of(phys)):
            raise IndexCorrupt(f"the Milvus collection '{job.name}' has lost its meta collection; rebuild with: "
                               f"{REBUILD} --full")
        ensure_loaded(client, phys)
        ensure_loaded(client, meta_of(phys))
        return phys, read_head(client, phys)
    except Exception as err:
        if not (isinstance(err, KbError) or is_milvus_error(err)):
            raise
        if not job.full:
            if isinstance(err, KbError):
                raise
            raise IndexCorrupt(f"the Milvus collection '{job.name}' cannot be read ({one_line(err)}); rebuild "
                               f"with: {REBUILD} --full") from None
        log.warning("the live Milvus collection %s is unreadable (%s); rebuilding", phys, one_line(err))
        return phys, None


def _sync(job: _Job, embedder, t0: float) -> BuildReport:
    client = job.client
    embedder_name = embedder.name if embedder is not None else canonical_model(job.settings.model)
    phys, manifest = _live_state(job)
    drop_orphans(client, job.name, {phys, (manifest or {}).get("previous")})
    fresh = job.full or not _compatible(manifest, embedder_name)
    damage = Damage()
    if not fresh:
        state = readable_content_state(job.content_dir)
        known = {**{p: v["hash"] for p, v in manifest["posts"].items()}, **manifest.get("skipped", {})}
        unchanged = state is not None and state == known
        if unchanged and has_garbage(client, phys, manifest):     # (a changed folder reuses a killed sync's work)
            collect_garbage(client, phys, manifest)
        damage = find_damage(client, phys, manifest)
        if damage:
            log.warning("Milvus collection %s: %d posts lost entities or blobs; writing them again", phys,
                        len(damage.posts))
        if unchanged and not damage:
            return BuildReport(manifest["post_count"], manifest["section_count"], 0, manifest["entry_count"],
                               list(manifest.get("skipped_reasons", {}).items()), time.perf_counter() - t0, True,
                               f"{phys}/g{manifest['gen']}")
    corpus = load_corpus(job.content_dir)
    if not corpus.posts:
        err = ContentMissing(f"no indexable post in {job.content_dir} ({len(corpus.skipped)} skipped)")
        err.skipped = corpus.skipped
        raise err
    if embedder is None:
        from kb.embed.embedder import get_embedder

        embedder = get_embedder(job.settings.model)
    if fresh:
        # --full embeds everything again; a new schema or tokenizer with the same model reuses the vectors
        new = _full_build(job, phys, None if job.full else manifest, corpus, embedder)
    else:
        new = _incremental(job, phys, manifest, corpus, embedder, damage)
    return BuildReport(new["post_count"], new["section_count"], new["embedded"], new["reused"], corpus.skipped,
                       time.perf_counter() - t0, False, f"{new['collection']}/g{new['gen']}")


def _compatible(manifest: dict | None, embedder_name: str) -> bool:
    return bool(manifest) and manifest.get("format") == FORMAT and manifest.get("schema_version") == SCHEMA_VERSION \
        and manifest.get("tokenizer") == TOKENIZER_NAME and manifest.get("embedder", {}).get("name") == embedder_name


def _incremental(job: _Job, phys: str, manifest: dict, corpus, embedder, damage: Damage) -> dict:
    client = job.client
    live, gen = manifest["posts"], int(manifest["gen"])
    changed = {p.path for p in corpus.posts if live.get(p.path, {}).get("hash") != p.content_hash} | damage.posts
    removed = [path for path in live if path not in {p.path for p in corpus.posts}]
    reuse = _leftovers(client, phys, gen)
    reuse.update(_reuse_from(client, phys, manifest, [*changed, *removed], embedder.dim))
    reuse.update(reuse_sentences(client, phys, manifest, [*changed, *removed]))
    collect_garbage(client, phys, manifest)          # what a killed sync left, before writing gen + 1
    w = _Write(job, phys, gen + 1, corpus, changed, manifest.get("previous"))
    new = _write_generation(w, reuse, embedder, manifest)
    commit(client, phys, new, job.lease.confirm)
    collect_garbage(client, phys, new)
    return new


def _full_build(job: _Job, old: str | None, manifest: dict | None, corpus, embedder) -> dict:
    """Fill a new physical collection (generation 1), commit it, then point the alias at it."""
    client = job.client
    phys = f"{job.name}_v{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:6]}"
    reuse = {}
    if old and manifest and manifest.get("embedder", {}).get("name") == embedder.name:
        reuse = _reuse_from(client, old, manifest, manifest.get("posts", {}), embedder.dim)
        reuse.update(reuse_sentences(client, old, manifest, manifest.get("posts", {})))
    kind = create_collections(client, phys, embedder.dim, 2 * len(corpus.sections))
    w = _Write(job, phys, 1, corpus, {p.path for p in corpus.posts}, old)
    new = _write_generation(w, reuse, embedder, None)
    new["vector_index"] = kind
    commit(client, phys, new, job.lease.confirm)
    job.lease.confirm()
    if old:
        client.alter_alias(phys, job.name)
    else:
        client.create_alias(phys, job.name)
    drop_orphans(client, job.name, {phys, old})
    return new


def drop_collection(uri: str, collection: str) -> None:
    """Drop everything kb made under the name `collection`: the alias, its physical collections and the lease."""
    client = connect(uri)
    name = check_name(collection)
    with milvus_calls(uri):
        if name in client.list_aliases().get("aliases", []):
            client.drop_alias(name)
        drop_orphans(client, name, set())
        if client.has_collection(f"{name}_lock"):
            client.drop_collection(f"{name}_lock")


# ---- writing a generation ----------------------------------------------------------------------------------------
@dataclass
class _Write:
    """What one sync writes: the posts of the corpus whose entities are (re)written under generation `gen`."""
    job: _Job
    phys: str
    gen: int
    corpus: object
    changed: set[str]
    previous: str | None         # the physical collection before this one (kept for readers still on it)

    def beat(self) -> None:
        self.job.progress(-1, -1)          # renews the lease during long writes


def _record(post) -> dict:
    return {"path": post.path, "title": post.title, "date": post.date.isoformat() if post.date else "",
            "week": post.week, "categories": post.categories, "tags": post.tags, "intro": post.intro,
            "toc": post.toc, "hash": post.content_hash}


def _labels(values: list[str]) -> list[str]:
    out = list(dict.fromkeys(v.lower() for v in values if v))[:100]
    return [v if len(v.encode("utf-8", "surrogatepass")) <= 512 else v[:128] for v in out]


def _entities(sections: list[Section], vectors: np.ndarray, hashes: list[bytes], tokens: list[list[str]], gen: int):
    n = len(sections)
    for kind in (0, 1):
        for i, s in enumerate(sections):
            j = kind * n + i
            yield {"id": entity_id(s.post_path, gen, s.position, kind), "post": s.post_path, "gen": gen,
                   "pos": s.position, "kind": kind, "day": day(s.date), "tags": _labels(s.tags),
                   "categories": _labels(s.categories), "hash": hashes[j].hex(), "text": token_text(tokens[j]),
                   "vec": vectors[j].tolist()}


def _write_generation(w: _Write, reuse: dict[bytes, np.ndarray], embedder, previous: dict | None) -> dict:
    """Insert the entities and post blobs of changed posts and the keyword statistics under w.gen; returns the
    (uncommitted) manifest of the generation."""
    client, corpus = w.job.client, w.corpus
    by_post: dict[str, list[Section]] = {}
    for s in corpus.sections:
        by_post.setdefault(s.post_path, []).append(s)
    todo = [s for p in corpus.posts if p.path in w.changed for s in by_post[p.path]]
    texts = entry_texts(todo)
    sentences = [x for s in todo for x in snippet_sentences(s)]
    hashes = [text_hash(t) for t in texts + sentences]
    # rounded to float16 as the local index stores them, so both backends score from the same values
    vectors, embedded = embed_with_reuse(embedder, texts + sentences, hashes, reuse.get, embedder.dim,
                                         w.job.progress, dtype=np.float16)
    vectors = vectors.astype(np.float32)
    entries_embedded = sum(1 for i in embedded if i < len(texts))        # sentences are counted apart
    all_tokens = entry_tokens(corpus.sections)
    n, index = len(corpus.sections), {id(s): i for i, s in enumerate(corpus.sections)}
    rows_of = [index[id(s)] for s in todo]
    tokens = [all_tokens[i] for i in rows_of] + [all_tokens[n + i] for i in rows_of]
    rows = list(_entities(todo, vectors, hashes, tokens, w.gen))
    for i in range(0, len(rows), INSERT_BATCH):
        client.insert(w.phys, rows[i:i + INSERT_BATCH])
        w.beat()
    sent = dict(zip(hashes[len(texts):], vectors[len(texts):], strict=True))
    old = (previous or {}).get("posts", {})
    posts = {p.path: _post_blobs(w, p, by_post[p.path], sent) if p.path in w.changed else old[p.path]
             for p in corpus.posts}
    stats_parts = put_blob(client, meta_of(w.phys), f"stats/{w.gen}", w.gen, "stats",
                           KeywordStats.build(all_tokens).to_json())
    garbage = [[path, v["gen"], v["parts"], v.get("sent_parts", 0)] for path, v in old.items()
               if path not in posts or posts[path]["gen"] != v["gen"]]
    return _manifest(w, embedder, previous, posts, stats_parts, garbage) | {
        "embedded": entries_embedded, "reused": len(texts) - entries_embedded}


def _manifest(w: _Write, embedder, previous: dict | None, posts: dict, stats_parts: int, garbage: list) -> dict:
    corpus = w.corpus
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "kb_version": kb.__version__,
            "embedder": {"name": embedder.name, "dim": embedder.dim}, "tokenizer": TOKENIZER_NAME,
            "collection": w.phys, "gen": w.gen, "previous_gen": int((previous or {}).get("gen", w.gen)),
            "previous": w.previous, "vector_index": (previous or {}).get("vector_index", "flat"),
            "post_count": len(corpus.posts), "section_count": len(corpus.sections),
            "entry_count": 2 * len(corpus.sections), "posts": posts, "stats_parts": stats_parts,
            "garbage": garbage, "skipped": corpus.skipped_hashes,
            "skipped_reasons": {name: reason for name, reason in corpus.skipped},
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "content_dir": str(w.job.content_dir.resolve())}


def _post_blobs(w: _Write, post, sections: list[Section], sent: dict[bytes, np.ndarray]) -> dict:
    """Write a changed post's blobs (its record and sections; its snippet sentences' vectors) under w.gen; returns
    its manifest entry."""
    meta, gen = meta_of(w.phys), w.gen
    parts = put_blob(w.job.client, meta, post_prefix(post.path, gen), gen, "post",
                     {"record": _record(post), "sections": [s.to_dict() for s in sections]})
    runs = [snippet_sentences(s) for s in sections]
    keys = [text_hash(x) for run in runs for x in run]
    entry = {"hash": post.content_hash, "gen": gen, "sections": len(sections), "parts": parts, "sent_parts": 0}
    if keys:
        v = np.stack([sent[k] for k in keys])
        starts = np.cumsum([0] + [len(r) for r in runs]).tolist()
        entry["sent_parts"] = put_blob(w.job.client, meta, sent_prefix(post.path, gen), gen, "sentences",
                                       sentence_blob(starts, keys, v))
    return entry


def _reusable(rows: list[dict]) -> dict[bytes, np.ndarray]:
    return {bytes.fromhex(r["hash"]): np.asarray(r["vec"], dtype=np.float32) for r in rows}


def _reuse_from(client, phys: str, manifest: dict | None, paths, dim: int) -> dict[bytes, np.ndarray]:
    """Vectors (by text hash) of the live entities of the given posts, when built by the same model."""
    if not manifest:
        return {}
    ids = [i for p in paths if p in manifest["posts"]
           for i in post_ids(p, int(manifest["posts"][p]["gen"]), int(manifest["posts"][p]["sections"]))]
    return {h: v for h, v in _reusable(fetch(client, phys, ids, ["hash", "vec"])).items() if v.shape == (dim,)}


def _leftovers(client, phys: str, gen: int) -> dict[bytes, np.ndarray]:
    """Vectors written by a killed sync (generation above the live one), to reuse instead of embedding again."""
    return _reusable(client.query(phys, filter=f"gen > {gen}", output_fields=["hash", "vec"], limit=QUERY_LIMIT))
