"""The read path: open the live generation of a kb collection in Milvus and answer the query layer's keyword and
vector legs (kb.backends.protocol). A backend kept open across a server restart loads its collections again and
answers; every Milvus failure reaches the user as one line."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from kb.backends.filters import Filters, MaskCache, mask, section_dates
from kb.backends.milvus.blobs import check_manifest, get_blobs, post_prefix, post_sentences, read_head
from kb.backends.milvus.client import call_retrying, check_name, connect, ensure_loaded, live_collection, milvus_calls
from kb.backends.milvus.keywords import KeywordStats
from kb.backends.milvus.schema import DEFAULT_COLLECTION, QUERY_LIMIT, REBUILD, entity_id, fetch, meta_of, rows_expr
from kb.backends.protocol import open_retrying
from kb.core.errors import IndexCorrupt, IndexMismatch, IndexMissing
from kb.core.types import KeywordQuery, Manifest, PostRecord, Section
from kb.ingest.entries import entry_tokens
from kb.storage.vector import IVF_NPROBE
from kb.text.names import name_map

# A keyword search whose filter keeps at most this many sections scores them all here (exact) instead of asking
# Milvus for candidates: at 2,000 sections that costs about one Milvus keyword search once their tokens are cached
# (30-70 ms vs 64-106 ms; 0.5-0.7 s the first time, 5k sections), `python -m benchmarks.milvus_filters` (docs/scaling.md).
BRUTE_ROWS = 2000
VECTOR_CACHE = 50_000       # entry vectors a reader keeps (~77 MB at 384-d): re-scoring reads them on every query
KEYWORD_FETCH = 4           # Milvus BM25 candidates fetched per wanted section (two entries each, other IDF)


def current_version(uri: str, collection: str = DEFAULT_COLLECTION) -> str:
    """The version a fresh open_milvus would get ("<physical collection>/g<generation>")."""
    client = connect(uri)
    with milvus_calls(uri):
        version = _head_version(client, check_name(collection))
    if version is None:
        raise IndexMissing(f"no kb collection '{collection}' at {uri}; build it with: {REBUILD}")
    return version


def _head_version(client, name: str) -> str | None:
    phys = live_collection(client, name)
    if phys is None or not client.has_collection(meta_of(phys)):
        return None
    ensure_loaded(client, meta_of(phys))
    manifest = read_head(client, phys)
    return None if manifest is None else f"{phys}/g{int(manifest['gen'])}"


def open_milvus(uri: str, collection: str = DEFAULT_COLLECTION, model: str | None = None) -> MilvusBackend:
    """Open the live generation of the kb collection `collection` at `uri` for search (only the URI is needed)."""
    client = connect(uri)
    name = check_name(collection)
    with milvus_calls(uri):
        phys = live_collection(client, name)
        if phys is None:
            hint = "" if name == DEFAULT_COLLECTION else f" --milvus-collection {name}"
            raise IndexMissing(f"no kb collection '{name}' at {uri}; build it with: python -m kb.index --backend "
                               f"milvus --milvus-uri {uri}{hint}")
        # a sync may replace what we read (blobs of the generation before): read the new one
        return open_retrying(lambda: _head_version(client, name), lambda _: _open(client, uri, name, model))


def _open(client, uri: str, name: str, model: str | None) -> MilvusBackend:
    where = f"the Milvus collection '{name}' at {uri}"
    phys = live_collection(client, name)
    if phys is None or not client.has_collection(meta_of(phys)):
        raise IndexCorrupt(f"{where} is incomplete; rebuild with: {REBUILD} --full")
    ensure_loaded(client, phys)
    ensure_loaded(client, meta_of(phys))
    manifest = read_head(client, phys)
    if manifest is None:
        raise IndexMissing(f"{where} has no finished build yet; build it with: {REBUILD}")
    check_manifest(manifest, where)
    built = manifest["embedder"]["name"]
    if model and model != built:
        raise IndexMismatch(f"{where} was built with model '{built}' but '{model}' was asked for; rebuild with: "
                            f"{REBUILD} --full --model {model} (or use --model {built})")
    gen, posts = int(manifest["gen"]), manifest["posts"]
    want = {f"stats/{gen}": int(manifest["stats_parts"])}
    want.update({post_prefix(p, int(v["gen"])): int(v["parts"]) for p, v in posts.items()})
    blobs = get_blobs(client, meta_of(phys), want)
    stats = KeywordStats.from_json(blobs.pop(f"stats/{gen}"))
    sections, records = [], []
    for p, v in posts.items():
        blob = blobs[post_prefix(p, int(v["gen"]))]
        records.append(PostRecord.from_dict(blob["record"]))
        sections.extend(Section.from_dict(d) for d in blob["sections"])
    if len(sections) != manifest["section_count"]:
        raise IndexCorrupt(f"{where} is inconsistent; rebuild with: {REBUILD} --full")
    return MilvusBackend(uri, client, name, phys, manifest, stats, sections, records)


class MilvusBackend:
    """The live generation of a kb collection in Milvus, answering the query layer's keyword and vector legs."""

    name = "milvus"

    def __init__(self, uri: str, client, alias: str, phys: str, layout: dict, stats: KeywordStats,
                 sections: list[Section], posts: list[PostRecord]):
        self.uri, self.client, self.alias, self.phys = uri, client, alias, phys
        self.location = f"{uri} {alias}"
        self.layout = layout                # the manifest as stored in Milvus (generations, blob parts, garbage)
        self.manifest = Manifest.from_dict({**layout, "posts": {p: v["hash"] for p, v in layout["posts"].items()}})
        self.stats, self.sections, self.posts = stats, sections, posts
        dates = section_dates(sections)
        self._masks = MaskCache(lambda f: mask(f, self.sections, dates))
        gens = {p: int(v["gen"]) for p, v in layout["posts"].items()}
        self._ids = np.array([[entity_id(s.post_path, gens[s.post_path], s.position, kind) for s in sections]
                              for kind in (0, 1)], dtype=np.int64).reshape(2, len(sections))
        self._row_of = {int(i): r for kind in (0, 1) for r, i in enumerate(self._ids[kind])}
        ivf = layout.get("vector_index") == "ivf"
        self._vector_params = {"metric_type": "IP", "params": {"nprobe": IVF_NPROBE}} if ivf else {"metric_type": "IP"}
        self._counts = lru_cache(maxsize=16384)(self._entry_counts)
        self._post_sentences = lru_cache(maxsize=256)(
            lambda path: self._call(lambda c: post_sentences(c, phys, path, layout["posts"][path])))
        self._vectors: OrderedDict[int, np.ndarray] = OrderedDict()      # explicit cache: recently used vectors
        self._names: dict[str, list[int]] | None = None                   # explicit cache: exact-name map

    @property
    def version(self) -> str:
        return f"{self.phys}/g{self.layout['gen']}"

    def __len__(self) -> int:
        return len(self.sections)

    def _call(self, op):
        """op(client): quiet, loading the collections again after a server restart, failures in one line."""
        return call_retrying(self.client, self.uri, [self.phys, meta_of(self.phys)], op)

    def mask(self, f: Filters) -> np.ndarray | None:
        """kb.backends.filters.mask over the sections table (the last few filters cached)."""
        return self._masks.get(f)

    def is_stale(self) -> bool:
        """True when a newer generation was committed, or the alias moved to a rebuilt collection, since opening."""
        try:
            with milvus_calls(self.uri):
                if live_collection(self.client, self.alias) != self.phys:
                    return True
                return bool(self.client.query(meta_of(self.phys), filter=f'kind == "commit" and gen > '
                                              f'{int(self.layout["gen"])}', output_fields=["gen"], limit=1))
        except Exception:  # noqa: BLE001 - a server hiccup is not staleness; the next search will say what is wrong
            return False

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
        pairs = [self._counts(int(r)) for r in np.asarray(rows, dtype=np.int64)]
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
        m = self.mask(filters)
        if m is not None and m.sum() <= BRUTE_ROWS:
            rows = np.flatnonzero(m)
        else:
            rows = _distinct_rows(self._row_of, self._known_hits(" ".join(known), "sparse", KEYWORD_FETCH * limit,
                                               rows_expr(filters, m, self._ids), {"metric_type": "BM25"}))
        if len(rows) == 0:
            return empty
        scores = self.keyword_scores(q, rows)
        keep = np.flatnonzero(scores > 0)
        order = keep[np.lexsort((rows[keep], -scores[keep]))][:limit]
        return rows[order], scores[order]

    # ---- vector leg --------------------------------------------------------------------------------------------
    def vector_search(self, qv: np.ndarray, filters: Filters, limit: int) -> np.ndarray:
        """Candidate rows by inner product (best entries, either entry of a section) passing the filters."""
        m = self.mask(filters)
        if m is not None and m.sum() <= limit:
            return np.flatnonzero(m)
        return _distinct_rows(self._row_of, self._known_hits(np.asarray(qv, dtype=np.float32).tolist(), "vec", 2 * limit,
                                           rows_expr(filters, m, self._ids), self._vector_params))

    def entry_vectors(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(section-entry vectors, title-entry vectors) of the rows; an entity gone since opening gives zeros.
        Fetched vectors are kept (an entity id never changes its vector) up to VECTOR_CACHE entities."""
        rows = np.asarray(rows, dtype=np.int64)
        ids = np.concatenate([self._ids[0][rows], self._ids[1][rows]]).tolist()
        missing = [i for i in dict.fromkeys(ids) if i not in self._vectors]
        for r in self._call(lambda c: fetch(c, self.phys, missing, ["vec"])) if missing else []:
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

    def vocabulary(self) -> dict[str, int]:
        """Every term with its document frequency, read back from the generation's BM25 statistics."""
        return self.stats.vocabulary()

    def sentence_vectors(self, row: int) -> np.ndarray | None:
        """Vectors of section `row`'s snippet sentences (kb.query.snippets), fetched per post on first use."""
        s = self.sections[row]
        v, starts = self._post_sentences(s.post_path)
        return None if v is None or s.position + 1 >= len(starts) else v[starts[s.position]:starts[s.position + 1]]

    def _known_hits(self, data, field: str, limit: int, expr: str, params: dict) -> list[int]:
        """The best `limit` entities of this generation for one search. Entities of another generation (a sync
        running or killed, replaced entities not yet deleted) are skipped and the search asked again for more, so
        they never take a candidate's place."""
        want = min(QUERY_LIMIT, limit)
        while True:
            hits = self._call(lambda c, n=want: c.search(self.phys, data=[data], anns_field=field, limit=n,
                                                          filter=expr, search_params=params)[0])
            ids = [int(h["id"]) for h in hits]
            known = [i for i in ids if i in self._row_of]
            if len(known) >= limit or len(ids) < want or want >= QUERY_LIMIT:
                return known[:limit]
            want = min(QUERY_LIMIT, want + 2 * (len(ids) - len(known)))


def _distinct_rows(row_of: dict[int, int], ids: Iterable[int]) -> np.ndarray:
    """Entity ids (best first) → distinct section rows of this generation, in order; unknown ids are dropped."""
    rows = [row_of.get(int(i)) for i in ids]
    return np.array(list(dict.fromkeys(r for r in rows if r is not None)), dtype=np.int64)
