"""What kb keeps in Milvus and how it addresses it: the entries collection and its meta collection, entity ids,
filter expressions, and the batched reads, writes and deletes every other module uses."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable

import numpy as np

from kb.backends.filters import Filters
from kb.backends.milvus.client import BackendUnavailable
from kb.storage.keyword import BM25_B, BM25_K1
from kb.storage.vector import IVF_MIN_ENTRIES, ivf_nlist

FORMAT = "kb-milvus"
SCHEMA_VERSION = 1
DEFAULT_COLLECTION = "kb"
REBUILD = "python -m kb.index --backend milvus --milvus-uri URI"
TEXT_BYTES = 65535          # Milvus VARCHAR limit (bytes): longer token texts are cut for Milvus's BM25 only
PATH_BYTES = 4096
ID_BATCH = 1000             # ids per `id in [...]` expression
INSERT_BATCH = 200
QUERY_LIMIT = 16384         # Milvus's cap on limit (and offset + limit)


def meta_of(phys: str) -> str:
    return f"{phys}_meta"


# ---- ids, literals and filters -----------------------------------------------------------------------------------
def entity_id(path: str, gen: int, position: int, kind: int) -> int:
    """The primary key of an entry entity: a signed 64-bit hash of (post, generation, position, kind)."""
    h = hashlib.blake2b(f"{path}\0{gen}\0{position}\0{kind}".encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(h.digest(), "big", signed=True)


def post_ids(path: str, gen: int, count: int) -> list[int]:
    return [entity_id(path, gen, pos, kind) for kind in (0, 1) for pos in range(count)]


def lit(value) -> str:
    """A Milvus expression literal (strings and lists of strings, JSON-quoted)."""
    return json.dumps(value, ensure_ascii=False)


def day(d: str | None) -> int:
    return int(d.replace("-", "")) if d and len(d) == 10 else 0


def filter_expr(filters: Filters) -> str:
    """A Milvus boolean expression for the filters (section rows are handled by the caller through ids)."""
    parts = []
    if filters.since:
        parts.append(f"day >= {int(filters.since.strftime('%Y%m%d'))}")
    if filters.until:
        parts.append(f"(day > 0 and day <= {int(filters.until.strftime('%Y%m%d'))})")
    if filters.tags:
        parts.append(f"array_contains_any(tags, {lit(sorted({t.lower() for t in filters.tags}))})")
    if filters.categories:
        parts.append(f"array_contains_any(categories, {lit(sorted({c.lower() for c in filters.categories}))})")
    if filters.post:
        parts.append(f"post == {lit(filters.post)}")
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


def token_text(tokens: list[str]) -> str:
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


# ---- collections -------------------------------------------------------------------------------------------------
def create_collections(client, phys: str, dim: int, entries: int) -> str:
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
    create(client, phys, s, ip)
    create_meta(client, meta_of(phys))
    return kind


def create_meta(client, meta: str) -> None:
    """The meta collection: chunked blobs (key, generation, kind, data)."""
    from pymilvus import DataType

    m = client.create_schema(auto_id=False, enable_dynamic_field=False)
    m.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
    m.add_field("gen", DataType.INT64)
    m.add_field("kind", DataType.VARCHAR, max_length=16)
    m.add_field("data", DataType.VARCHAR, max_length=TEXT_BYTES)
    m.add_field("v", DataType.FLOAT_VECTOR, dim=2)          # Milvus requires a vector field
    mp = client.prepare_index_params()
    mp.add_index(field_name="v", index_type="FLAT", metric_type="L2")
    create(client, meta, m, mp)


def create(client, name: str, schema, index_params) -> None:
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


# ---- batched reads, writes, deletes ------------------------------------------------------------------------------
def count(client, collection: str, expr: str = "") -> int:
    return int(client.query(collection, filter=expr, output_fields=["count(*)"])[0]["count(*)"])


def fetch(client, collection: str, ids: Iterable[int], fields: list[str]) -> list[dict]:
    ids = list(ids)
    out: list[dict] = []
    for i in range(0, len(ids), ID_BATCH):
        batch = ids[i:i + ID_BATCH]
        out.extend(client.query(collection, filter=f"id in [{','.join(map(str, batch))}]",
                                output_fields=fields))
    return out


def delete_ids(client, collection: str, ids: list[int]) -> None:
    for i in range(0, len(ids), ID_BATCH):
        client.delete(collection, filter=f"id in [{','.join(map(str, ids[i:i + ID_BATCH]))}]")
