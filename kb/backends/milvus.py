"""Milvus backend: kb's index entries in a Milvus collection, synced from the content folder by content hash.

One entity per index entry (entry i: section i, entry n+i: its referenced title): id, post, gen, pos, kind (0 section,
1 title), day (YYYYMMDD, 0 unknown), tags, categories (lower-cased), hash (of the entry text, to reuse vectors), the e5
vector (`vec`, inner product) and kb's own tokens as `text` with a BM25 function into `sparse`. Beside it, a small
`<collection>_meta` collection holds chunked JSON blobs per generation: the manifest (schema version, embedder name and
dimension, tokenizer, per-post content hashes), kb's BM25 statistics, and one blob per post (its record and sections).

URI: a local path ending in `.db` is embedded milvus-lite (one process at a time); `http://host:port` is any Milvus
server (milvus-lite's own `milvus-lite server`, Milvus Standalone or Distributed). The name NAME (default `kb`) is an
alias of the live physical collection `NAME_v<time>_<id>`; a full rebuild (new model or schema) fills a new one and
switches the alias, so readers never see a half-built index.

Generations make incremental syncs safe: a sync writes the entities and blobs of changed posts under generation G,
then the manifest of G, then its commit entity — the switch, readers open the highest committed generation — and only
then deletes the replaced entities. An entity id is a hash of (post, generation, position, kind) and a reader keeps
only ids its manifest names, so neither a half-written generation nor undeleted garbage is ever seen. A sync killed at
any point leaves search answering from the last commit; the next sync removes what it left and reuses its vectors.

Ranking parity with the local backend: Milvus's BM25 (its own IDF per segment, never updated by deletes, scores
negated) only proposes keyword candidates; they are scored with kb's BM25 (bm25s's Lucene variant, k1 1.2, b 0.75)
from statistics computed at sync time over all entries and stored with the manifest, on tokens of the reader's own
sections table — the same numbers as kb.storage.keyword. Vector candidates come from an exact FLAT index; the query layer
re-scores with the vectors returned by entry_vectors. Small filtered sets are scored without asking Milvus at all.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import socket
import time
import uuid
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

import kb
from kb.backends.filters import Filters, mask, section_dates
from kb.build.local import BuildReport, _content_state, _text_hash, load_corpus
from kb.core.config import Settings, canonical_model
from kb.core.errors import BadQuery, ContentMissing, IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing, KbError
from kb.core.types import KeywordQuery, Manifest, PostRecord, Section
from kb.ingest.entries import entry_texts, entry_tokens
from kb.query.snippets import snippet_sentences
from kb.storage.keyword import BM25_B, BM25_K1
from kb.storage.vector import IVF_MIN_ENTRIES, IVF_NPROBE, ivf_nlist
from kb.text.names import name_map
from kb.text.tokenize import TOKENIZER_NAME

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

FORMAT = "kb-milvus"
SCHEMA_VERSION = 1
DEFAULT_COLLECTION = "kb"
REBUILD = "python -m kb.index --backend milvus --milvus-uri URI"
TEXT_BYTES = 65535          # Milvus VARCHAR limit (bytes): longer token texts are cut for Milvus's BM25 only
BLOB_CHUNK = 60000          # base64 characters per meta entity (ASCII, under the VARCHAR limit)
PATH_BYTES = 4096
ID_BATCH = 1000             # ids per `id in [...]` expression
INSERT_BATCH = 200
QUERY_LIMIT = 16384         # Milvus's cap on limit (and offset + limit)
BRUTE_ROWS = 2000           # a filter matching at most this many sections is scored here, not searched in Milvus
VECTOR_CACHE = 50_000       # entry vectors a reader keeps (~77 MB at 384-d): re-scoring reads them on every query
KEYWORD_FETCH = 4           # Milvus BM25 candidates fetched per wanted section (two entries each, other IDF)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


class BackendUnavailable(KbError):
    """pymilvus is not installed, or the Milvus server cannot be reached."""


# ---- connection --------------------------------------------------------------------------------------------------
_CLIENTS: dict[str, object] = {}


def connect(uri: str):
    """A MilvusClient for `uri` (a local `.db` path: embedded milvus-lite; http(s)://host:port: a server), one per
    URI and process (clients are thread-safe; an embedded file can be opened once)."""
    uri = str(uri or "").strip()
    if uri not in _CLIENTS:
        _CLIENTS[uri] = _new_client(uri)
    return _CLIENTS[uri]


def _new_client(uri: str):
    if not uri:
        raise BadQuery("no Milvus URI; pass --milvus-uri http://host:port (or a local path ending in .db)")
    remote = uri.startswith(("http://", "https://", "tcp://", "unix:"))
    if not remote and not uri.endswith(".db"):
        raise BadQuery(f"Milvus URI '{uri[:80]}' is neither http://host:port nor a local file ending in .db")
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise BackendUnavailable("the Milvus backend needs pymilvus and milvus-lite: pip install -e '.[milvus]'") \
            from None
    if not remote:
        Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
        if _held_elsewhere(Path(uri).expanduser() / "LOCK"):
            raise BackendUnavailable(f"the embedded Milvus file {uri[:120]} is open in another process; serve it with "
                                     "`milvus-lite server --data-dir DIR --port P` and use --milvus-uri "
                                     "http://127.0.0.1:P")
    try:
        # pymilvus pings every 10 s even when idle; a gRPC server with default settings (milvus-lite's) answers
        # GOAWAY "too_many_pings" during long calls. Ping rarely: a real cluster's load balancer keeps its own.
        return MilvusClient(uri=uri if remote else str(Path(uri).expanduser()), timeout=60,
                            grpc_options={"grpc.keepalive_time_ms": 600_000,
                                          "grpc.keepalive_permit_without_calls": False})
    except Exception as err:  # noqa: BLE001 - pymilvus raises several kinds; the user needs one line
        if not remote:
            raise BackendUnavailable(f"cannot open the embedded Milvus file {uri[:120]} (another process may hold it; "
                                     "serve it with `milvus-lite server --data-dir DIR --port P` and use "
                                     "--milvus-uri http://127.0.0.1:P)") from None
        raise BackendUnavailable(f"cannot reach Milvus at {uri[:120]} ({_one_line(err)})") from None


def _held_elsewhere(lock: Path) -> bool:
    """True when another process holds milvus-lite's lock on an embedded data folder (asked before pymilvus tries,
    which would log a traceback first)."""
    if not lock.is_file():
        return False
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _one_line(err: Exception) -> str:
    msg = getattr(err, "message", None) or str(err)
    return " ".join(str(msg).split())[:200]


def check_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise BadQuery(f"Milvus collection name '{str(name)[:60]}' must be letters, digits and _ (not starting "
                       "with a digit)")
    return name


def live_collection(client, name: str) -> str | None:
    """The physical collection the alias `name` points at (None: no kb collection of that name)."""
    aliases = client.list_aliases().get("aliases", [])
    if name in aliases:
        return client.describe_alias(name)["collection_name"]
    if client.has_collection(name):
        raise IndexMismatch(f"the Milvus collection '{name}' was not made by kb; pick another --milvus-collection")
    return None


def _ensure_loaded(client, collection: str) -> None:
    state = str(client.get_load_state(collection).get("state", ""))
    if "Loaded" not in state or "NotLoad" in state:
        client.load_collection(collection)


# ---- ids, literals and filters -----------------------------------------------------------------------------------
def entity_id(path: str, gen: int, position: int, kind: int) -> int:
    """The primary key of an entry entity: a signed 64-bit hash of (post, generation, position, kind)."""
    h = hashlib.blake2b(f"{path}\0{gen}\0{position}\0{kind}".encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(h.digest(), "big", signed=True)


def _lit(value) -> str:
    """A Milvus expression literal (strings and lists of strings, JSON-quoted)."""
    return json.dumps(value, ensure_ascii=False)


def _day(d: str | None) -> int:
    return int(d.replace("-", "")) if d and len(d) == 10 else 0


def filter_expr(filters: Filters) -> str:
    """A Milvus boolean expression for the filters (section rows are handled by the caller through ids)."""
    parts = []
    if filters.since:
        parts.append(f"day >= {int(filters.since.strftime('%Y%m%d'))}")
    if filters.until:
        parts.append(f"(day > 0 and day <= {int(filters.until.strftime('%Y%m%d'))})")
    if filters.tags:
        parts.append(f"array_contains_any(tags, {_lit(sorted({t.lower() for t in filters.tags}))})")
    if filters.categories:
        parts.append(f"array_contains_any(categories, {_lit(sorted({c.lower() for c in filters.categories}))})")
    if filters.post:
        parts.append(f"post == {_lit(filters.post)}")
    return " and ".join(parts)


def rows_expr(filters: Filters, mask: np.ndarray | None, ids: np.ndarray) -> str:
    """filter_expr, plus the entity ids of the masked rows when the filters name rows (a topic's sections);
    ids[kind][row] is the id of a row's section (0) or title (1) entity."""
    expr = filter_expr(filters)
    if filters.rows is not None:
        rows = np.flatnonzero(mask) if mask is not None else np.zeros(0, dtype=np.int64)
        keep = np.concatenate([ids[0][rows], ids[1][rows]]).tolist()
        expr = " and ".join(x for x in (expr, f"id in [{','.join(map(str, keep))}]") if x)
    return expr


# ---- blobs in the meta collection --------------------------------------------------------------------------------
def _encode(obj) -> list[str]:
    raw = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    text = base64.b64encode(zlib.compress(raw, 6)).decode("ascii")
    return [text[i:i + BLOB_CHUNK] for i in range(0, len(text), BLOB_CHUNK)] or [""]


def _decode(chunks: list[str]):
    return json.loads(zlib.decompress(base64.b64decode("".join(chunks))).decode("utf-8", "surrogatepass"))


def _blob_keys(prefix: str, parts: int) -> list[str]:
    return [f"{prefix}/{i}" for i in range(parts)]


def _post_prefix(path: str, gen: int) -> str:
    return f"post/{gen}/{hashlib.sha1(path.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _sent_prefix(path: str, gen: int) -> str:
    return f"sent/{gen}/{hashlib.sha1(path.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _put_blob(client, meta: str, prefix: str, gen: int, kind: str, obj) -> int:
    chunks = _encode(obj)
    rows = [{"key": k, "gen": gen, "kind": kind, "data": c, "v": [0.0, 0.0]}
            for k, c in zip(_blob_keys(prefix, len(chunks)), chunks, strict=True)]
    for i in range(0, len(rows), 50):
        client.insert(meta, rows[i:i + 50])
    return len(chunks)


def _get_blobs(client, meta: str, prefixes: dict[str, int]) -> dict[str, object]:
    """{prefix: decoded object} for blobs given as {prefix: parts}; IndexCorrupt if a part is missing."""
    keys = [k for p, n in prefixes.items() for k in _blob_keys(p, n)]
    data: dict[str, str] = {}
    for i in range(0, len(keys), ID_BATCH):
        batch = keys[i:i + ID_BATCH]
        for row in client.query(meta, filter=f"key in {_lit(batch)}", output_fields=["key", "data"]):
            data[row["key"]] = row["data"]
    out = {}
    for p, n in prefixes.items():
        chunks = [data.get(k) for k in _blob_keys(p, n)]
        if any(c is None for c in chunks):
            raise IndexCorrupt(f"Milvus blob {p} is incomplete; rebuild with: {REBUILD} --full")
        out[p] = _decode(chunks)
    return out


# ---- kb's BM25 statistics ----------------------------------------------------------------------------------------
@dataclass
class KeywordStats:
    """kb's BM25 (bm25s Lucene variant) over all entries: per token its IDF and best contribution in the collection;
    scores computed here are the same float32 numbers as kb.storage.keyword's."""
    idf: dict[str, float]
    token_max: dict[str, float]
    avgdl: float
    n_docs: int

    @classmethod
    def build(cls, docs_tokens: list[list[str]]) -> KeywordStats:
        docs = [t if t else [""] for t in docs_tokens]
        avgdl = float(np.array([len(d) for d in docs]).mean()) if docs else 1.0
        counts = [Counter(d) for d in docs]
        df = Counter(t for c in counts for t in c)
        n = len(docs)
        idf = {t: float(np.float32(math.log(1 + (n - f + 0.5) / (f + 0.5)))) for t, f in df.items()}
        best: dict[str, float] = {}
        for c, d in zip(counts, docs, strict=True):
            norm = BM25_K1 * ((1 - BM25_B) + BM25_B * len(d) / avgdl)
            for t, tf in c.items():
                v = float(np.float32(idf[t] * (tf / (norm + tf))))
                if v > best.get(t, 0.0):
                    best[t] = v
        return cls(idf, best, avgdl, n)

    def to_json(self) -> dict:
        return {"idf": self.idf, "max": self.token_max, "avgdl": self.avgdl, "n_docs": self.n_docs}

    @classmethod
    def from_json(cls, d: dict) -> KeywordStats:
        return cls(d["idf"], d["max"], float(d["avgdl"]), int(d["n_docs"]))

    def score(self, tokens: list[str], docs: list[tuple[Counter, int]]) -> np.ndarray:
        """BM25 of each document (token counts, length) for the query tokens, float32, summed in token order."""
        out = np.zeros(len(docs), dtype=np.float32)
        for t in tokens:
            idf = self.idf.get(t) if t else None
            if idf is None:
                continue
            col = np.zeros(len(docs), dtype=np.float32)
            for j, (c, dl) in enumerate(docs):
                tf = c.get(t)
                if tf:
                    col[j] = idf * (tf / (BM25_K1 * ((1 - BM25_B) + BM25_B * dl / self.avgdl) + tf))
            out += col
        return out

    def attainable(self, tokens: list[str]) -> float:
        """As kb.storage.keyword.KeywordLeg.attainable: the best score a document can reach for these tokens."""
        best = [float(self.token_max.get(t, 0.0)) if t else 0.0 for t in tokens]
        known = [b for b in best if b > 0]
        if not known:
            return 0.0
        fill = sum(known) / len(known)
        return sum(b if b > 0 else fill for b in best)


# ---- collections -------------------------------------------------------------------------------------------------
def _create_collections(client, phys: str, dim: int, entries: int) -> str:
    """Create the entries collection and its meta collection; returns the vector index kind ("flat" / "ivf")."""
    from pymilvus import DataType, Function, FunctionType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("post", DataType.VARCHAR, max_length=PATH_BYTES)
    for name in ("gen", "pos", "kind", "day"):
        s.add_field(name, DataType.INT64)
    for name in ("tags", "categories"):
        s.add_field(name, DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=100, max_length=512)
    s.add_field("hash", DataType.VARCHAR, max_length=32)
    s.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES, enable_analyzer=True,
                analyzer_params={"type": "standard"})
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                            output_field_names=["sparse"]))
    ip = client.prepare_index_params()
    kind = "ivf" if entries >= IVF_MIN_ENTRIES else "flat"
    if kind == "ivf":
        ip.add_index(field_name="vec", index_type="IVF_FLAT", metric_type="IP",
                     params={"params": {"nlist": ivf_nlist(entries)}})
    else:
        ip.add_index(field_name="vec", index_type="FLAT", metric_type="IP")
    # pymilvus flattens `params`; milvus-lite reads only a nested "params" entry (else silently k1 1.5), Milvus both
    ip.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                 params={"params": {"bm25_k1": BM25_K1, "bm25_b": BM25_B}})
    _create(client, phys, s, ip)
    m = client.create_schema(auto_id=False, enable_dynamic_field=False)
    m.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
    m.add_field("gen", DataType.INT64)
    m.add_field("kind", DataType.VARCHAR, max_length=16)
    m.add_field("data", DataType.VARCHAR, max_length=TEXT_BYTES)
    m.add_field("v", DataType.FLOAT_VECTOR, dim=2)          # Milvus requires a vector field
    mp = client.prepare_index_params()
    mp.add_index(field_name="v", index_type="FLAT", metric_type="L2")
    _create(client, f"{phys}_meta", m, mp)
    return kind


def _create(client, name: str, schema, index_params) -> None:
    """Create and load a collection (Strong consistency: a commit is visible to every reader at once). The indexes
    are created without pymilvus's wait, which asks the server for a timestamp milvus-lite does not implement (and
    logs a traceback for); kb waits by polling the index state instead."""
    client.create_collection(name, schema=schema, consistency_level="Strong")
    client.create_index(name, index_params, sync=False)
    for field in [p.field_name for p in index_params]:
        deadline = time.monotonic() + 600
        while str(client.describe_index(name, field).get("state", "Finished")) not in ("Finished", "3"):
            if time.monotonic() > deadline:
                raise BackendUnavailable(f"Milvus did not build the index of {name}.{field} in 10 minutes")
            time.sleep(0.2)
    client.load_collection(name)


def _count(client, collection: str, expr: str = "") -> int:
    return int(client.query(collection, filter=expr, output_fields=["count(*)"])[0]["count(*)"])


def _fetch(client, collection: str, ids: Iterable[int], fields: list[str]) -> list[dict]:
    ids = list(ids)
    out: list[dict] = []
    for i in range(0, len(ids), ID_BATCH):
        batch = ids[i:i + ID_BATCH]
        out.extend(client.query(collection, filter=f"id in [{','.join(map(str, batch))}]",
                                output_fields=fields))
    return out


def _token_text(tokens: list[str]) -> str:
    """kb's tokens for Milvus's BM25 function, cut at a token boundary to fit the VARCHAR limit."""
    text = " ".join(tokens)
    if len(text.encode("utf-8", "surrogatepass")) <= TEXT_BYTES:
        return text
    out, size = [], 0
    for t in tokens:
        size += len(t.encode("utf-8", "surrogatepass")) + 1
        if size > TEXT_BYTES:
            break
        out.append(t)
    return " ".join(out)


def _delete_ids(client, collection: str, ids: list[int]) -> None:
    for i in range(0, len(ids), ID_BATCH):
        client.delete(collection, filter=f"id in [{','.join(map(str, ids[i:i + ID_BATCH]))}]")


def _post_ids(path: str, gen: int, count: int) -> list[int]:
    return [entity_id(path, gen, pos, kind) for kind in (0, 1) for pos in range(count)]


# ---- the manifest and its commit ---------------------------------------------------------------------------------
def _digest(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
                          ).hexdigest()


def read_head(client, phys: str) -> dict | None:
    """The manifest of the highest committed generation of `phys` (None: nothing committed yet)."""
    meta = f"{phys}_meta"
    commits = client.query(meta, filter='kind == "commit"', output_fields=["gen", "data"], limit=QUERY_LIMIT)
    if not commits:
        return None
    head = max(commits, key=lambda r: int(r["gen"]))
    try:
        info = json.loads(head["data"])
        prefix = f"manifest/{int(head['gen'])}"
        manifest = _get_blobs(client, meta, {prefix: int(info["parts"])})[prefix]
    except (ValueError, KeyError, TypeError, zlib.error):
        raise IndexCorrupt(f"the kb manifest in Milvus collection {phys} is unreadable; rebuild with: {REBUILD} "
                           "--full") from None
    if not isinstance(manifest, dict) or _digest(manifest) != info.get("digest"):
        raise IndexCorrupt(f"the kb manifest in Milvus collection {phys} is damaged; rebuild with: {REBUILD} --full")
    return manifest


def _check_manifest(manifest: dict, where: str) -> None:
    if manifest.get("format") != FORMAT:
        raise IndexCorrupt(f"{where} is not a kb index; rebuild with: {REBUILD} --full")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise IndexMismatch(f"{where} was built with schema {str(manifest.get('schema_version'))[:20]}, this kb reads "
                            f"schema {SCHEMA_VERSION}; rebuild with: {REBUILD} --full")


def _commit(client, phys: str, manifest: dict) -> None:
    """Write the manifest of its generation, then the commit entity that makes it the live one."""
    meta, gen = f"{phys}_meta", int(manifest["gen"])
    parts = _put_blob(client, meta, f"manifest/{gen}", gen, "manifest", manifest)
    client.flush(phys)
    client.flush(meta)
    client.insert(meta, [{"key": f"commit/{gen:012d}", "gen": gen, "kind": "commit", "v": [0.0, 0.0],
                          "data": json.dumps({"gen": gen, "parts": parts, "digest": _digest(manifest)})}])
    client.flush(meta)


def _collect_garbage(client, phys: str, manifest: dict) -> None:
    """Remove what is not part of the live generation: entities and blobs of a killed sync (gen > live), the
    replaced entities and post blobs named in the manifest's `garbage`, and manifests older than the previous one."""
    gen, meta = int(manifest["gen"]), f"{phys}_meta"
    client.delete(phys, filter=f"gen > {gen}")
    client.delete(meta, filter=f"gen > {gen}")
    by_gen: dict[int, list[str]] = {}
    blob_keys: list[str] = []
    for path, old_gen, parts, *sent in manifest.get("garbage", []):
        by_gen.setdefault(int(old_gen), []).append(path)
        blob_keys.extend(_blob_keys(_post_prefix(path, int(old_gen)), int(parts)))
        blob_keys.extend(_blob_keys(_sent_prefix(path, int(old_gen)), int(sent[0]) if sent else 0))
    for g, paths in by_gen.items():
        for i in range(0, len(paths), 200):
            client.delete(phys, filter=f"gen == {g} and post in {_lit(paths[i:i + 200])}")
    for i in range(0, len(blob_keys), ID_BATCH):
        client.delete(meta, filter=f"key in {_lit(blob_keys[i:i + ID_BATCH])}")
    client.delete(meta, filter=f'gen < {int(manifest.get("previous_gen", gen))} and kind in ["commit", "manifest", '
                               '"stats"]')


def _has_garbage(client, phys: str, manifest: dict) -> bool:
    gen = int(manifest["gen"])
    if _count(client, phys) != 2 * int(manifest["section_count"]):
        return True
    return bool(client.query(f"{phys}_meta", filter=f"gen > {gen}", output_fields=["key"], limit=1))


def _drop_orphans(client, name: str, keep: set[str | None]) -> None:
    """Drop physical collections of `name` left by killed full rebuilds (all but the live and the previous one)."""
    pattern = re.compile(rf"^{re.escape(name)}_v\d{{14}}_[0-9a-f]{{6}}(_meta)?$")
    for coll in client.list_collections():
        if pattern.match(coll) and coll.removesuffix("_meta") not in keep:
            client.drop_collection(coll)


# ---- sync --------------------------------------------------------------------------------------------------------
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
                   "pos": s.position, "kind": kind, "day": _day(s.date), "tags": _labels(s.tags),
                   "categories": _labels(s.categories), "hash": hashes[j].hex(), "text": _token_text(tokens[j]),
                   "vec": vectors[j].tolist()}


def _reusable(rows: list[dict]) -> dict[bytes, np.ndarray]:
    return {bytes.fromhex(r["hash"]): np.asarray(r["vec"], dtype=np.float32) for r in rows}


def _embed(texts: list[str], reuse: dict[bytes, np.ndarray], embedder, progress: Progress | None):
    """(vectors, hashes, embedded count): vectors of texts whose hash is known are reused, the rest embedded."""
    hashes = [_text_hash(t) for t in texts]
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    todo = []
    for i, h in enumerate(hashes):
        v = reuse.get(h)
        if v is not None and v.shape == (embedder.dim,):
            vectors[i] = v
        else:
            todo.append(i)
    for start in range(0, len(todo), 16):
        ids = todo[start:start + 16]
        vectors[ids] = embedder.embed_passages([texts[i] for i in ids])
        if progress:
            progress(min(start + 16, len(todo)), len(todo))
    if progress and not todo:
        progress(0, 0)
    return vectors, hashes, len(todo)


@dataclass
class _Write:
    """What one sync writes: the posts of the corpus whose entities are (re)written under generation `gen`."""
    client: object
    phys: str
    gen: int
    corpus: object
    changed: set[str]
    previous: str | None         # the physical collection before this one (kept for readers still on it)
    content_dir: str
    beat: Callable[[], None] = lambda: None      # renews the sync's lease during long writes


def _write_generation(w: _Write, reuse: dict[bytes, np.ndarray], embedder, previous: dict | None,
                      progress: Progress | None) -> tuple[dict, int]:
    """Insert the entities and post blobs of changed posts and the keyword statistics under w.gen; returns the
    (uncommitted) manifest of the generation and how many entries were embedded."""
    client, phys, gen, corpus = w.client, w.phys, w.gen, w.corpus
    by_post: dict[str, list[Section]] = {}
    for s in corpus.sections:
        by_post.setdefault(s.post_path, []).append(s)
    todo = [s for p in corpus.posts if p.path in w.changed for s in by_post[p.path]]
    texts = entry_texts(todo)
    sentences = [x for s in todo for x in snippet_sentences(s)]
    vectors, hashes, embedded = _embed(texts + sentences, reuse, embedder, progress)
    embedded -= sum(1 for h in hashes[len(texts):] if h not in reuse)      # entries; sentences are counted apart
    all_tokens = entry_tokens(corpus.sections)
    n, index = len(corpus.sections), {id(s): i for i, s in enumerate(corpus.sections)}
    rows_of = [index[id(s)] for s in todo]
    tokens = [all_tokens[i] for i in rows_of] + [all_tokens[n + i] for i in rows_of]
    rows = list(_entities(todo, vectors, hashes, tokens, gen))
    for i in range(0, len(rows), INSERT_BATCH):
        client.insert(phys, rows[i:i + INSERT_BATCH])
        w.beat()
    sent = dict(zip(hashes[len(texts):], vectors[len(texts):], strict=True))
    old = (previous or {}).get("posts", {})
    posts = {p.path: _post_blobs(w, p, by_post[p.path], sent) if p.path in w.changed else old[p.path]
             for p in corpus.posts}
    stats = KeywordStats.build(all_tokens)
    stats_parts = _put_blob(client, f"{phys}_meta", f"stats/{gen}", gen, "stats", stats.to_json())
    garbage = [[path, v["gen"], v["parts"], v.get("sent_parts", 0)] for path, v in old.items()
               if path not in posts or posts[path]["gen"] != v["gen"]]
    manifest = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "kb_version": kb.__version__,
                "embedder": {"name": embedder.name, "dim": embedder.dim}, "tokenizer": TOKENIZER_NAME,
                "collection": phys, "gen": gen, "previous_gen": int((previous or {}).get("gen", gen)),
                "previous": w.previous, "vector_index": (previous or {}).get("vector_index", "flat"),
                "post_count": len(corpus.posts), "section_count": len(corpus.sections),
                "entry_count": 2 * len(corpus.sections), "posts": posts, "stats_parts": stats_parts,
                "garbage": garbage, "skipped": corpus.skipped_hashes,
                "skipped_reasons": {name: reason for name, reason in corpus.skipped},
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"), "content_dir": w.content_dir,
                "embedded": embedded, "reused": len(texts) - embedded}
    return manifest, embedded


def _post_blobs(w: _Write, post, sections: list[Section], sent: dict[bytes, np.ndarray]) -> dict:
    """Write a changed post's blobs (its record and sections; its snippet sentences' vectors) under w.gen; returns
    its manifest entry."""
    meta, gen = f"{w.phys}_meta", w.gen
    parts = _put_blob(w.client, meta, _post_prefix(post.path, gen), gen, "post",
                      {"record": _record(post), "sections": [s.to_dict() for s in sections]})
    runs = [snippet_sentences(s) for s in sections]
    keys = [_text_hash(x) for run in runs for x in run]
    entry = {"hash": post.content_hash, "gen": gen, "sections": len(sections), "parts": parts, "sent_parts": 0}
    if keys:
        v = np.stack([sent[k] for k in keys]).astype(np.float16)
        entry["sent_parts"] = _put_blob(w.client, meta, _sent_prefix(post.path, gen), gen, "sentences", {
            "starts": np.cumsum([0] + [len(r) for r in runs]).tolist(), "hashes": [k.hex() for k in keys],
            "dim": int(v.shape[1]), "v": base64.b64encode(v.tobytes()).decode("ascii")})
    return entry


def _sentence_vectors(blob: dict) -> tuple[np.ndarray, list[int], list[str]]:
    v = np.frombuffer(base64.b64decode(blob["v"]), dtype=np.float16).reshape(-1, int(blob["dim"]))
    return v, list(blob["starts"]), list(blob["hashes"])


def _post_sentences(client, phys: str, path: str, entry: dict) -> tuple[np.ndarray | None, list[int]]:
    """A post's snippet-sentence vectors and where each section's run starts (None: the post has none)."""
    if not entry.get("sent_parts"):
        return None, []
    prefix = _sent_prefix(path, int(entry["gen"]))
    v, starts, _ = _sentence_vectors(_get_blobs(client, f"{phys}_meta", {prefix: int(entry["sent_parts"])})[prefix])
    return v, starts


def _reuse_sentences(client, phys: str, manifest: dict | None, paths: Iterable[str]) -> dict[bytes, np.ndarray]:
    """Snippet-sentence vectors (by text hash) of the given posts' live blobs."""
    live = (manifest or {}).get("posts", {})
    want = {_sent_prefix(p, int(live[p]["gen"])): int(live[p].get("sent_parts", 0)) for p in paths
            if p in live and live[p].get("sent_parts")}
    out = {}
    for blob in _get_blobs(client, f"{phys}_meta", want).values() if want else []:
        v, _, keys = _sentence_vectors(blob)
        out.update({bytes.fromhex(k): v[i].astype(np.float32) for i, k in enumerate(keys)})
    return out


def _reuse_from(client, phys: str, manifest: dict | None, paths: Iterable[str], dim: int) -> dict[bytes, np.ndarray]:
    """Vectors (by text hash) of the live entities of the given posts, when built by the same model."""
    if not manifest:
        return {}
    ids = [i for p in paths if p in manifest["posts"]
           for i in _post_ids(p, int(manifest["posts"][p]["gen"]), int(manifest["posts"][p]["sections"]))]
    return {h: v for h, v in _reusable(_fetch(client, phys, ids, ["hash", "vec"])).items() if v.shape == (dim,)}


def _leftovers(client, phys: str, gen: int) -> dict[bytes, np.ndarray]:
    """Vectors written by a killed sync (generation above the live one), to reuse instead of embedding again."""
    return _reusable(client.query(phys, filter=f"gen > {gen}", output_fields=["hash", "vec"], limit=QUERY_LIMIT))


def _compatible(manifest: dict | None, embedder_name: str) -> bool:
    return bool(manifest) and manifest.get("format") == FORMAT and manifest.get("schema_version") == SCHEMA_VERSION \
        and manifest.get("tokenizer") == TOKENIZER_NAME and manifest.get("embedder", {}).get("name") == embedder_name


def sync_milvus(settings: Settings, uri: str, collection: str = DEFAULT_COLLECTION, *, full: bool = False,
                embedder=None, progress: Progress | None = None) -> BuildReport:
    """Build or update the kb collection `collection` at `uri` from settings.content_dir.

    Unchanged content: no write. Changed posts: their entities are replaced under a new generation (only changed
    texts embedded). No collection yet, `full`, or another model/schema/tokenizer: a new physical collection is
    built and the alias switched. One sync at a time per collection: a lease in Milvus refuses a second one."""
    t0 = time.perf_counter()
    content_dir = Path(settings.content_dir)
    if not content_dir.is_dir():
        raise ContentMissing(f"content folder {content_dir} does not exist; put posts there or pass --content DIR")
    client = connect(uri)
    name = check_name(collection)
    with Lease(client, name) as lease:
        def tick(done: int, total: int) -> None:
            lease.renew()
            if progress and total >= 0:          # (-1, -1): a heartbeat from a write, not embedding progress
                progress(done, total)

        return _sync(client, name, settings, content_dir, full, embedder, tick, t0)


def _sync(client, name: str, settings: Settings, content_dir: Path, full: bool, embedder, progress, t0: float
          ) -> BuildReport:
    embedder_name = embedder.name if embedder is not None else canonical_model(settings.model)
    phys = live_collection(client, name)
    manifest = None
    if phys:
        _ensure_loaded(client, phys)
        _ensure_loaded(client, f"{phys}_meta")
        manifest = read_head(client, phys)
    _drop_orphans(client, name, {phys, (manifest or {}).get("previous")})
    fresh = full or not _compatible(manifest, embedder_name)
    if not fresh:
        state = _content_state(content_dir)
        known = {**{p: v["hash"] for p, v in manifest["posts"].items()}, **manifest.get("skipped", {})}
        if state is not None and state == known:
            if _has_garbage(client, phys, manifest):
                _collect_garbage(client, phys, manifest)
            return BuildReport(manifest["post_count"], manifest["section_count"], 0, manifest["entry_count"],
                               list(manifest.get("skipped_reasons", {}).items()), time.perf_counter() - t0, True,
                               f"{phys}/g{manifest['gen']}")
    corpus = load_corpus(content_dir)
    if not corpus.posts:
        err = ContentMissing(f"no indexable post in {content_dir} ({len(corpus.skipped)} skipped)")
        err.skipped = corpus.skipped
        raise err
    if embedder is None:
        from kb.embed.embedder import get_embedder

        embedder = get_embedder(settings.model)
    if fresh:
        # --full embeds everything again; a new schema or tokenizer with the same model reuses the vectors
        new = _full_build(client, name, phys, None if full else manifest, corpus, str(content_dir.resolve()),
                          embedder, progress)
    else:
        new = _incremental(client, phys, manifest, corpus, str(content_dir.resolve()), embedder, progress)
    return BuildReport(new["post_count"], new["section_count"], new["embedded"], new["reused"], corpus.skipped,
                       time.perf_counter() - t0, False, f"{new['collection']}/g{new['gen']}")


class Lease:
    """One sync at a time per collection name: a lease entity in `<name>_lock`, renewed while the sync writes.
    A lease not renewed for LEASE_SECONDS, or held by a dead process on this host, is taken over."""

    SECONDS = 120

    def __init__(self, client, name: str):
        self.client, self.coll = client, f"{name}_lock"
        self.me = {"owner": uuid.uuid4().hex, "host": socket.gethostname(), "pid": os.getpid()}
        self._last = 0.0

    def __enter__(self) -> Lease:
        from pymilvus import DataType

        if not self.client.has_collection(self.coll):
            s = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
            s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=16)
            s.add_field("data", DataType.VARCHAR, max_length=1024)
            s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
            ip = self.client.prepare_index_params()
            ip.add_index(field_name="v", index_type="FLAT", metric_type="L2")
            _create(self.client, self.coll, s, ip)
        _ensure_loaded(self.client, self.coll)
        held = self._holder()
        if held and held["owner"] != self.me["owner"] and self._alive(held):
            raise IndexLocked(f"another sync (pid {held.get('pid')} on {str(held.get('host'))[:60]}) is writing the "
                              f"Milvus collection '{self.coll.removesuffix('_lock')}'; wait for it to finish, then run "
                              "the command again")
        self.renew(force=True)
        if (self._holder() or {}).get("owner") != self.me["owner"]:
            raise IndexLocked(f"another sync took the Milvus collection '{self.coll.removesuffix('_lock')}' just now; "
                              "wait for it to finish, then run the command again")
        return self

    def _holder(self) -> dict | None:
        rows = self.client.query(self.coll, filter='key == "lock"', output_fields=["data"])
        return json.loads(rows[0]["data"]) if rows else None

    def _alive(self, held: dict) -> bool:
        if time.time() - float(held.get("at", 0)) > self.SECONDS:
            return False
        if held.get("host") == self.me["host"]:
            try:
                os.kill(int(held.get("pid", 0)), 0)
            except (ProcessLookupError, ValueError):
                return False
            except PermissionError:
                return True
        return True

    def renew(self, force: bool = False) -> None:
        if force or time.monotonic() - self._last > 10:
            self.client.upsert(self.coll, [{"key": "lock", "data": json.dumps({**self.me, "at": time.time()}),
                                            "v": [0.0, 0.0]}])
            self._last = time.monotonic()

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):      # the lease expires by itself if this fails
            if (self._holder() or {}).get("owner") == self.me["owner"]:
                self.client.delete(self.coll, filter='key == "lock"')


def _incremental(client, phys: str, manifest: dict, corpus, content_dir: str, embedder, progress) -> dict:
    live, gen = manifest["posts"], int(manifest["gen"])
    changed = {p.path for p in corpus.posts if live.get(p.path, {}).get("hash") != p.content_hash}
    removed = [path for path in live if path not in {p.path for p in corpus.posts}]
    reuse = _leftovers(client, phys, gen)
    reuse.update(_reuse_from(client, phys, manifest, [*changed, *removed], embedder.dim))
    reuse.update(_reuse_sentences(client, phys, manifest, [*changed, *removed]))
    _collect_garbage(client, phys, manifest)          # what a killed sync left, before writing gen + 1
    w = _Write(client, phys, gen + 1, corpus, changed, manifest.get("previous"), content_dir, lambda: progress(-1, -1))
    new, _ = _write_generation(w, reuse, embedder, manifest, progress)
    _commit(client, phys, new)
    _collect_garbage(client, phys, new)
    return new


def _full_build(client, name: str, old: str | None, manifest: dict | None, corpus, content_dir: str, embedder,
                progress) -> dict:
    """Fill a new physical collection (generation 1), commit it, then point the alias at it."""
    phys = f"{name}_v{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:6]}"
    reuse = {}
    if old and manifest and manifest.get("embedder", {}).get("name") == embedder.name:
        reuse = _reuse_from(client, old, manifest, manifest.get("posts", {}), embedder.dim)
        reuse.update(_reuse_sentences(client, old, manifest, manifest.get("posts", {})))
    kind = _create_collections(client, phys, embedder.dim, 2 * len(corpus.sections))
    w = _Write(client, phys, 1, corpus, {p.path for p in corpus.posts}, old, content_dir, lambda: progress(-1, -1))
    new, _ = _write_generation(w, reuse, embedder, None, progress)
    new["vector_index"] = kind
    _commit(client, phys, new)
    if old:
        client.alter_alias(phys, name)
    else:
        client.create_alias(phys, name)
    _drop_orphans(client, name, {phys, old})
    return new


def drop_collection(uri: str, collection: str) -> None:
    """Drop everything kb made under the name `collection`: the alias, its physical collections and the lease."""
    client = connect(uri)
    name = check_name(collection)
    if name in client.list_aliases().get("aliases", []):
        client.drop_alias(name)
    _drop_orphans(client, name, set())
    if client.has_collection(f"{name}_lock"):
        client.drop_collection(f"{name}_lock")


# ---- search ------------------------------------------------------------------------------------------------------
def current_version(uri: str, collection: str = DEFAULT_COLLECTION) -> str:
    """The version a fresh open_milvus would get ("<physical collection>/g<generation>"), cheaply."""
    client = connect(uri)
    phys = live_collection(client, check_name(collection))
    commits = client.query(f"{phys}_meta", filter='kind == "commit"', output_fields=["gen"], limit=QUERY_LIMIT) \
        if phys else []
    if not commits:
        raise IndexMissing(f"no kb collection '{collection}' at {uri}; build it with: {REBUILD}")
    return f"{phys}/g{max(int(r['gen']) for r in commits)}"


def open_milvus(uri: str, collection: str = DEFAULT_COLLECTION, model: str | None = None) -> MilvusBackend:
    """Open the live generation of the kb collection `collection` at `uri` for search (only the URI is needed)."""
    client = connect(uri)
    name = check_name(collection)
    for attempt in range(3):
        phys = live_collection(client, name)
        if phys is None:
            hint = "" if name == DEFAULT_COLLECTION else f" --milvus-collection {name}"
            raise IndexMissing(f"no kb collection '{name}' at {uri}; build it with: python -m kb.index --backend "
                               f"milvus --milvus-uri {uri}{hint}")
        try:
            return _open(client, uri, name, phys, model)
        except IndexCorrupt:
            # a sync may have replaced what we were reading (blobs of the generation before): read the new one
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _open(client, uri: str, name: str, phys: str, model: str | None) -> MilvusBackend:
    _ensure_loaded(client, phys)
    _ensure_loaded(client, f"{phys}_meta")
    manifest = read_head(client, phys)
    where = f"the Milvus collection '{name}' at {uri}"
    if manifest is None:
        raise IndexMissing(f"{where} has no finished build yet; build it with: {REBUILD}")
    _check_manifest(manifest, where)
    built = manifest["embedder"]["name"]
    if model and model != built:
        asked = model
        raise IndexMismatch(f"{where} was built with model '{built}' but '{asked}' was asked for; rebuild with: "
                            f"{REBUILD} --full --model {asked} (or use --model {built})")
    gen, meta = int(manifest["gen"]), f"{phys}_meta"
    posts = manifest["posts"]
    want = {f"stats/{gen}": int(manifest["stats_parts"])}
    want.update({_post_prefix(p, int(v["gen"])): int(v["parts"]) for p, v in posts.items()})
    blobs = _get_blobs(client, meta, want)
    stats = KeywordStats.from_json(blobs.pop(f"stats/{gen}"))
    sections, records = [], []
    for p, v in posts.items():
        blob = blobs[_post_prefix(p, int(v["gen"]))]
        records.append(blob["record"])
        sections.extend(Section.from_dict(d) for d in blob["sections"])
    if len(sections) != manifest["section_count"]:
        raise IndexCorrupt(f"{where} is inconsistent; rebuild with: {REBUILD} --full")
    return MilvusBackend(client, name, phys, manifest, stats, sections, [PostRecord.from_dict(r) for r in records])


class MilvusBackend:
    """The live generation of a kb collection in Milvus, answering the query layer's keyword and vector legs."""

    name = "milvus"

    def __init__(self, client, alias: str, phys: str, layout: dict, stats: KeywordStats, sections: list[Section],
                 posts: list[PostRecord]):
        self.client, self.alias, self.phys = client, alias, phys
        self.layout = layout                # the manifest as stored in Milvus (generations, blob parts, garbage)
        self.manifest = Manifest.from_dict({**layout, "posts": {p: v["hash"] for p, v in layout["posts"].items()}})
        self.stats, self.sections, self.posts = stats, sections, posts
        self._dates = section_dates(sections)
        self._masks: OrderedDict[str, np.ndarray | None] = OrderedDict()     # explicit cache: last few filters
        gens = {p: int(v["gen"]) for p, v in layout["posts"].items()}
        self._ids = np.array([[entity_id(s.post_path, gens[s.post_path], s.position, kind) for s in sections]
                              for kind in (0, 1)], dtype=np.int64).reshape(2, len(sections))
        self._row_of = {int(i): r for kind in (0, 1) for r, i in enumerate(self._ids[kind])}
        ivf = layout.get("vector_index") == "ivf"
        self._vector_params = {"metric_type": "IP", "params": {"nprobe": IVF_NPROBE}} if ivf else {"metric_type": "IP"}
        self._counts = lru_cache(maxsize=16384)(self._entry_counts)
        self._post_sentences = lru_cache(maxsize=256)(
            lambda path: _post_sentences(client, phys, path, layout["posts"][path]))
        self._vectors: OrderedDict[int, np.ndarray] = OrderedDict()      # explicit cache: recently used vectors
        self._names: dict[str, list[int]] | None = None                   # explicit cache: exact-name map

    @property
    def version(self) -> str:
        return f"{self.phys}/g{self.layout['gen']}"

    def __len__(self) -> int:
        return len(self.sections)

    def mask(self, f: Filters) -> np.ndarray | None:
        """kb.backends.filters.mask over the sections table (the last few filters cached)."""
        key = repr((f.since, f.until, sorted(f.tags), sorted(f.categories), f.post,
                    None if f.rows is None else sorted(f.rows)))
        if key not in self._masks:
            self._masks[key] = mask(f, self.sections, self._dates)
            while len(self._masks) > 8:
                self._masks.popitem(last=False)
        return self._masks[key]

    def is_stale(self) -> bool:
        """True when a newer generation was committed, or the alias moved to a rebuilt collection, since opening."""
        try:
            if live_collection(self.client, self.alias) != self.phys:
                return True
            commits = self.client.query(f"{self.phys}_meta", filter=f'kind == "commit" and gen > '
                                        f'{int(self.layout["gen"])}', output_fields=["gen"], limit=1)
            return bool(commits)
        except Exception:  # noqa: BLE001 - a server hiccup is not staleness; the next search will say what is wrong
            return False

    # ---- exact names -------------------------------------------------------------------------------------------
    def name_rows(self, key: str) -> np.ndarray:
        """The rows carrying a normalised resource name; the map is built from the sections table on first use."""
        if self._names is None:
            self._names = name_map(self.sections)
        return np.asarray(self._names.get(key, []), dtype=np.int64)

    # ---- keyword leg -------------------------------------------------------------------------------------------
    def _entry_counts(self, row: int) -> tuple[tuple[Counter, int], tuple[Counter, int]]:
        sec, title = entry_tokens([self.sections[row]])
        return (Counter(sec), max(len(sec), 1)), (Counter(title), max(len(title), 1))

    def keyword_scores(self, q: KeywordQuery, rows: np.ndarray) -> np.ndarray:
        """Raw BM25 per section (best of its two entries) for q.tokens + q.extra_weight · q.extra."""
        rows = np.asarray(rows, dtype=np.int64)
        pairs = [self._counts(int(r)) for r in rows]
        sec, title = [p[0] for p in pairs], [p[1] for p in pairs]
        raw = np.maximum(self.stats.score(q.tokens, sec), self.stats.score(q.tokens, title))
        if q.extra:
            raw = raw + q.extra_weight * np.maximum(self.stats.score(q.extra, sec), self.stats.score(q.extra, title))
        return raw

    def keyword_bound(self, tokens: list[str]) -> float:
        return self.stats.attainable(tokens)

    def keyword_search(self, q: KeywordQuery, filters: Filters, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows with a positive score passing the filters, best first (at most `limit`), and their raw scores."""
        known = [t for t in dict.fromkeys([*q.tokens, *q.extra]) if t in self.stats.idf]
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        if not known or limit <= 0:
            return empty
        mask = self.mask(filters)
        if mask is not None and mask.sum() <= BRUTE_ROWS:
            rows = np.flatnonzero(mask)
        else:
            rows = self._rows(self._known_hits(" ".join(known), "sparse", KEYWORD_FETCH * limit,
                                               rows_expr(filters, mask, self._ids), {"metric_type": "BM25"}))
        if len(rows) == 0:
            return empty
        scores = self.keyword_scores(q, rows)
        keep = np.flatnonzero(scores > 0)
        order = keep[np.lexsort((rows[keep], -scores[keep]))][:limit]
        return rows[order], scores[order]

    # ---- vector leg --------------------------------------------------------------------------------------------
    def vector_search(self, qv: np.ndarray, filters: Filters, limit: int) -> np.ndarray:
        """Candidate rows by inner product (best entries, either entry of a section) passing the filters."""
        mask = self.mask(filters)
        if mask is not None and mask.sum() <= limit:
            return np.flatnonzero(mask)
        return self._rows(self._known_hits(np.asarray(qv, dtype=np.float32).tolist(), "vec", 2 * limit,
                                           rows_expr(filters, mask, self._ids), self._vector_params))

    def entry_vectors(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(section-entry vectors, title-entry vectors) of the rows; an entity gone since opening gives zeros.
        Fetched vectors are kept (an entity id never changes its vector) up to VECTOR_CACHE entities."""
        rows = np.asarray(rows, dtype=np.int64)
        ids = np.concatenate([self._ids[0][rows], self._ids[1][rows]]).tolist()
        missing = [i for i in dict.fromkeys(ids) if i not in self._vectors]
        for r in _fetch(self.client, self.phys, missing, ["vec"]) if missing else []:
            self._vectors[int(r["id"])] = np.asarray(r["vec"], dtype=np.float32)
        out = np.zeros((len(ids), int(self.manifest.embedder_dim)), dtype=np.float32)
        for j, i in enumerate(ids):
            v = self._vectors.get(i)
            if v is not None:
                out[j] = v
                self._vectors.move_to_end(i)
        while len(self._vectors) > VECTOR_CACHE:
            self._vectors.popitem(last=False)
        return out[: len(rows)], out[len(rows):]

    def sentence_vectors(self, row: int) -> np.ndarray | None:
        """Vectors of section `row`'s snippet sentences (kb.query.snippets), fetched per post on first use."""
        s = self.sections[row]
        v, starts = self._post_sentences(s.post_path)
        return None if v is None or s.position + 1 >= len(starts) else v[starts[s.position]:starts[s.position + 1]]

    # ---- helpers -----------------------------------------------------------------------------------------------
    def _known_hits(self, data, field: str, limit: int, expr: str, params: dict) -> list[int]:
        """The best `limit` entities of this generation for one search. Entities of another generation (a sync
        running or killed, replaced entities not yet deleted) are skipped and the search asked again for more, so
        they never take a candidate's place."""
        want = min(QUERY_LIMIT, limit)
        while True:
            hits = self.client.search(self.phys, data=[data], anns_field=field, limit=want, filter=expr,
                                      search_params=params)[0]
            ids = [int(h["id"]) for h in hits]
            known = [i for i in ids if i in self._row_of]
            if len(known) >= limit or len(ids) < want or want >= QUERY_LIMIT:
                return known[:limit]
            want = min(QUERY_LIMIT, want + 2 * (len(ids) - len(known)))
    def _rows(self, ids: Iterable[int]) -> np.ndarray:
        """Entity ids (best first) → distinct section rows of this generation, in order; unknown ids are dropped."""
        rows = [self._row_of.get(int(i)) for i in ids]
        return np.array(list(dict.fromkeys(r for r in rows if r is not None)), dtype=np.int64)

