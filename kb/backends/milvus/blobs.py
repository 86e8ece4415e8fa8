"""Chunked JSON blobs in the meta collection: per generation its manifest, kb's BM25 statistics and one blob per
changed post (its record and sections, and its snippet sentences' vectors); commit entities name the manifest that
is live. A commit whose manifest does not exist at all (an entity someone else inserted) is not a generation."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import zlib
from collections.abc import Iterable

import numpy as np

from kb.backends.milvus.schema import FORMAT, ID_BATCH, QUERY_LIMIT, REBUILD, SCHEMA_VERSION, lit, meta_of
from kb.core.errors import IndexCorrupt, IndexMismatch

log = logging.getLogger(__name__)

BLOB_CHUNK = 60000          # base64 characters per meta entity (ASCII, under the VARCHAR limit)


def _encode(obj) -> list[str]:
    raw = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    text = base64.b64encode(zlib.compress(raw, 6)).decode("ascii")
    return [text[i:i + BLOB_CHUNK] for i in range(0, len(text), BLOB_CHUNK)] or [""]


def _decode(chunks: list[str]):
    return json.loads(zlib.decompress(base64.b64decode("".join(chunks))).decode("utf-8", "surrogatepass"))


def blob_keys(prefix: str, parts: int) -> list[str]:
    return [f"{prefix}/{i}" for i in range(parts)]


def post_prefix(path: str, gen: int) -> str:
    return f"post/{gen}/{hashlib.sha1(path.encode('utf-8', 'surrogatepass')).hexdigest()}"


def sent_prefix(path: str, gen: int) -> str:
    return f"sent/{gen}/{hashlib.sha1(path.encode('utf-8', 'surrogatepass')).hexdigest()}"


def put_blob(client, meta: str, prefix: str, gen: int, kind: str, obj) -> int:
    chunks = _encode(obj)
    rows = [{"key": k, "gen": gen, "kind": kind, "data": c, "v": [0.0, 0.0]}
            for k, c in zip(blob_keys(prefix, len(chunks)), chunks, strict=True)]
    for i in range(0, len(rows), 50):
        client.insert(meta, rows[i:i + 50])
    return len(chunks)


def present_keys(client, meta: str, keys: list[str], fields: list[str]) -> dict[str, dict]:
    """{key: row} of those keys the meta collection holds."""
    out: dict[str, dict] = {}
    for i in range(0, len(keys), ID_BATCH):
        for row in client.query(meta, filter=f"key in {lit(keys[i:i + ID_BATCH])}", output_fields=fields):
            out[row["key"]] = row
    return out


def get_blobs(client, meta: str, prefixes: dict[str, int]) -> dict[str, object]:
    """{prefix: decoded object} for blobs given as {prefix: parts}; IndexCorrupt if a part is missing."""
    keys = [k for p, n in prefixes.items() for k in blob_keys(p, n)]
    data = {k: row["data"] for k, row in present_keys(client, meta, keys, ["key", "data"]).items()}
    out = {}
    for p, n in prefixes.items():
        chunks = [data.get(k) for k in blob_keys(p, n)]
        if any(c is None for c in chunks):
            raise IndexCorrupt(f"Milvus blob {p} is incomplete; rebuild with: {REBUILD} --full")
        out[p] = _decode(chunks)
    return out


# ---- the manifest and its commit ---------------------------------------------------------------------------------
def digest(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
                          ).hexdigest()


def read_head(client, phys: str) -> dict | None:
    """The manifest of the highest committed generation of `phys` (None: nothing committed yet). Commits whose
    manifest does not exist are passed over (and removed by the next sync); a manifest that exists but does not
    match its commit's digest is IndexCorrupt."""
    meta = meta_of(phys)
    commits = client.query(meta, filter='kind == "commit"', output_fields=["gen", "data"], limit=QUERY_LIMIT)
    for head in sorted(commits, key=lambda r: -int(r["gen"])):
        gen = int(head["gen"])
        if not present_keys(client, meta, [f"manifest/{gen}/0"], ["key"]):
            log.warning("Milvus collection %s: commit of generation %d has no manifest; ignored", phys, gen)
            continue
        try:
            info = json.loads(head["data"])
            prefix = f"manifest/{gen}"
            manifest = get_blobs(client, meta, {prefix: int(info["parts"])})[prefix]
        except (ValueError, KeyError, TypeError, zlib.error):
            raise IndexCorrupt(f"the kb manifest in Milvus collection {phys} is unreadable; rebuild with: {REBUILD} "
                               "--full") from None
        if not isinstance(manifest, dict) or digest(manifest) != info.get("digest"):
            raise IndexCorrupt(f"the kb manifest in Milvus collection {phys} is damaged; rebuild with: {REBUILD} "
                               "--full")
        return manifest
    return None


def check_manifest(manifest: dict, where: str) -> None:
    if manifest.get("format") != FORMAT:
        raise IndexCorrupt(f"{where} is not a kb index; rebuild with: {REBUILD} --full")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise IndexMismatch(f"{where} was built with schema {str(manifest.get('schema_version'))[:20]}, this kb reads "
                            f"schema {SCHEMA_VERSION}; rebuild with: {REBUILD} --full")


def commit(client, phys: str, manifest: dict, confirm=lambda: None) -> None:
    """Write the manifest of its generation, then — once `confirm` (the lease's ownership check) passes — the
    commit entity that makes it the live one."""
    meta, gen = meta_of(phys), int(manifest["gen"])
    parts = put_blob(client, meta, f"manifest/{gen}", gen, "manifest", manifest)
    client.flush(phys)
    client.flush(meta)
    confirm()
    client.insert(meta, [{"key": f"commit/{gen:012d}", "gen": gen, "kind": "commit", "v": [0.0, 0.0],
                          "data": json.dumps({"gen": gen, "parts": parts, "digest": digest(manifest)})}])
    client.flush(meta)


# ---- snippet sentences' vectors ----------------------------------------------------------------------------------
def sentence_blob(starts: list[int], keys: list[bytes], v: np.ndarray) -> dict:
    return {"starts": starts, "hashes": [k.hex() for k in keys], "dim": int(v.shape[1]),
            "v": base64.b64encode(v.astype(np.float16).tobytes()).decode("ascii")}


def _sentence_vectors(blob: dict) -> tuple[np.ndarray, list[int], list[str]]:
    v = np.frombuffer(base64.b64decode(blob["v"]), dtype=np.float16).reshape(-1, int(blob["dim"]))
    return v, list(blob["starts"]), list(blob["hashes"])


def post_sentences(client, phys: str, path: str, entry: dict) -> tuple[np.ndarray | None, list[int]]:
    """A post's snippet-sentence vectors and where each section's run starts (None: the post has none)."""
    if not entry.get("sent_parts"):
        return None, []
    prefix = sent_prefix(path, int(entry["gen"]))
    v, starts, _ = _sentence_vectors(get_blobs(client, meta_of(phys), {prefix: int(entry["sent_parts"])})[prefix])
    return v, starts


def reuse_sentences(client, phys: str, manifest: dict | None, paths: Iterable[str]) -> dict[bytes, np.ndarray]:
    """Snippet-sentence vectors (by text hash) of the given posts' live blobs (a post whose blob is missing gives
    none)."""
    live = (manifest or {}).get("posts", {})
    want = {sent_prefix(p, int(live[p]["gen"])): int(live[p].get("sent_parts", 0)) for p in paths
            if p in live and live[p].get("sent_parts")}
    try:
        blobs = list(get_blobs(client, meta_of(phys), want).values()) if want else []
    except IndexCorrupt:
        blobs = []
        for prefix, parts in want.items():
            with contextlib.suppress(IndexCorrupt):
                blobs.append(get_blobs(client, meta_of(phys), {prefix: parts})[prefix])
    out = {}
    for blob in blobs:
        v, _, keys = _sentence_vectors(blob)
        out.update({bytes.fromhex(k): v[i].astype(np.float32) for i, k in enumerate(keys)})
    return out
